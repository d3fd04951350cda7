"""Driver-side quality steps in Arrow: referential rule, dedup (in batch, against the table, replays)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa

from ecap.pipeline.kafka_source import KafkaRangeGroup, group_ranges, plan_limit, split_ranges
from ecap.pipeline.quality import amount_outliers, dedupe, late_count, unknown_product_mask

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
TS = pa.timestamp("us", tz="UTC")


def _rows(
    ids: list[str], offsets: list[int], topic: str = "tx", minutes: list[int] | None = None
) -> pa.Table:
    times = [T0 + timedelta(minutes=m) for m in (minutes or [0] * len(ids))]
    return pa.table(
        {
            "transaction_id": ids,
            "event_time": pa.array(times, TS),
            "source_topic": [topic] * len(ids),
            "source_partition": pa.array([0] * len(ids), pa.int32()),
            "source_offset": pa.array(offsets, pa.int64()),
        }
    )


def test_in_batch_duplicates_keep_the_first_copy() -> None:
    out = dedupe(_rows(["a", "b", "a", "c", "b"], [10, 11, 12, 13, 14]), "transaction_id", None, 600)
    assert sorted(
        zip(out.kept["transaction_id"].to_pylist(), out.kept["source_offset"].to_pylist(), strict=True)
    ) == [
        ("a", 10),
        ("b", 11),
        ("c", 13),
    ]
    assert (out.in_batch, out.against_table) == (2, 0)


def test_ids_already_in_the_table_are_duplicates_but_not_the_batch_own_rows() -> None:
    batch = _rows(["a", "b", "c"], [20, 21, 22])
    committed = pa.concat_tables(
        [
            _rows(["a"], [3]),  # an earlier copy from another offset: a duplicate
            _rows(["b"], [21]),  # this batch's own earlier attempt (a replay): not a duplicate
            _rows(["c"], [5], minutes=[60 * 24]),  # same id, a day away: outside the watermark
        ]
    )
    out = dedupe(batch, "transaction_id", committed, 600)
    assert sorted(out.kept["transaction_id"].to_pylist()) == ["b", "c"]
    assert out.against_table == 1 and out.duplicates == 1


def test_unknown_products_only_once_the_dimension_is_loaded() -> None:
    rows = pa.table({"_product_ids": pa.array([["prod_1"], ["prod_1", "prod_9"], []], pa.list_(pa.string()))})
    assert unknown_product_mask(rows, None).to_pylist() == [False, False, False]
    known = pa.array(["prod_1", "prod_2"])
    assert unknown_product_mask(rows, known).to_pylist() == [False, True, False]


def test_outliers_by_z_score_and_iqr() -> None:
    amounts = np.array([10.0] * 20 + [11.0] * 20 + [500.0])
    stats = amount_outliers(amounts, z_threshold=3.0, iqr_factor=1.5)
    assert (stats.zscore_outliers, stats.iqr_outliers) == (1, 1)
    assert amount_outliers(np.array([]), 3.0, 1.5).mean is None


def test_late_rows_are_counted_against_the_newest_event() -> None:
    rows = _rows(["a", "b", "c"], [1, 2, 3], minutes=[0, 30, 25])
    assert late_count(rows, watermark_seconds=600) == 1


def test_batch_limit_reads_the_catalogue_first_and_shares_the_rest() -> None:
    start = {"pu": {"0": 0}, "tx": {"0": 0, "1": 0}}
    end = {"pu": {"0": 30}, "tx": {"0": 1000, "1": 3000}}
    cut = plan_limit(start, end, 130, priority=["pu"])
    assert cut == {"pu": {"0": 30}, "tx": {"0": 25, "1": 75}}
    assert plan_limit(start, end, 10_000) == end
    ranges = split_ranges({"tx": {"0": 5}}, {"tx": {"0": 250_005}}, max_rows_per_split=100_000)
    assert [(r.start, r.end) for r in ranges] == [(5, 100_005), (100_005, 200_005), (200_005, 250_005)]


def test_ranges_are_grouped_into_few_balanced_tasks_keeping_every_record() -> None:
    start = {"pu": {"0": 0}, "tx": {"0": 0, "1": 0, "2": 0}}
    end = {"pu": {"0": 30}, "tx": {"0": 1000, "1": 900, "2": 50}}
    ranges = split_ranges(start, end)
    groups = group_ranges(ranges, 2)
    assert len(groups) == 2
    assert sorted((r.topic, r.partition) for g in groups for r in g.ranges) == [
        (r.topic, r.partition) for r in ranges
    ]
    assert sorted(g.rows for g in groups) == [980, 1000]
    assert group_ranges(ranges[:1], 4) == [KafkaRangeGroup((ranges[0],))]
