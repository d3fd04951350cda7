"""Driver-side quality steps on one micro-batch, in Arrow: referential rule, split, dedup, statistics.

Referential integrity (``unknown_product``): a product id is known when it is in the ``products``
dimension committed before this batch, or arrives in a valid product update of this same batch. On
a cold start (no product known yet: empty dimension, no update in the batch) the rule is NOT
applied, since every product would be unknown: such transactions and user events are accepted
unchecked, and ``BatchResult.referential_checked`` is false for that batch. From the first batch
that knows a product on, the rule applies. Consequence: the catalogue must be loaded (the
product-updates topic replayed from earliest; it is compacted, so one record per product survives)
before the rule is meaningful; a live stream whose catalogue arrives later than its orders would
quarantine orders of products not yet seen, with the reason ``unknown_product``.

Deduplication: on the stream's id (``transaction_id`` for transactions, ``event_id`` otherwise).
Inside the batch the copy with the lowest (topic, partition, offset) is kept; across batches a row
is a duplicate when the table already holds its id with an event time within the watermark of the
batch's event times. A committed row that came from one of this batch's own Kafka offsets is the
batch's own earlier (half-finished) attempt, not a duplicate, so replays count the same.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .parsing import describe_rule
from .tables import DATA_QUALITY_SCHEMA, QUARANTINE_SCHEMA

PROVENANCE: Final = ["source_topic", "source_partition", "source_offset"]
UNKNOWN_PRODUCT: Final = "unknown_product"


def unknown_product_mask(validated: pa.Table, known_products: pa.Array | None) -> pa.Array:
    """True for rows naming a product id outside ``known_products`` (all false when it is None)."""
    rows = validated.num_rows
    if known_products is None or rows == 0:
        return pa.array(np.zeros(rows, dtype=bool))
    ids = validated["_product_ids"].combine_chunks()
    flat = pc.list_flatten(ids)
    parents = pc.list_parent_indices(ids)
    unknown = pc.invert(pc.fill_null(pc.is_in(flat, value_set=known_products), False))
    mask = np.zeros(rows, dtype=bool)
    mask[np.asarray(parents.filter(unknown))] = True
    return pa.array(mask)


def invalid_mask(validated: pa.Table, unknown: pa.Array) -> pa.Array:
    failed = pc.greater(pc.list_value_length(validated["_failed_rules"]), 0)
    return pc.or_(pc.fill_null(failed, True), unknown)


@dataclass(frozen=True)
class Deduped:
    kept: pa.Table
    in_batch: int
    against_table: int

    @property
    def duplicates(self) -> int:
        return self.in_batch + self.against_table


def event_dates(valid: pa.Table, watermark_seconds: int) -> list[date]:
    """The ``event_date`` partitions a duplicate of these rows may live in (watermark both ways)."""
    if valid.num_rows == 0:
        return []
    lo, hi = pc.min(valid["event_time"]).as_py(), pc.max(valid["event_time"]).as_py()
    wm = timedelta(seconds=watermark_seconds)
    first, last = (lo - wm).date(), (hi + wm).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def dedupe(valid: pa.Table, id_column: str, committed: pa.Table | None, watermark_seconds: int) -> Deduped:
    """Keep one row per id: the first copy in the batch, and none whose id the table already holds.

    ``committed`` holds ``id_column``, ``event_time`` and provenance columns of the table's rows in
    the candidate partitions (see :func:`event_dates`).
    """
    if valid.num_rows == 0:
        return Deduped(valid, 0, 0)
    ordered = valid.sort_by([(c, "ascending") for c in PROVENANCE])
    ordered = ordered.append_column("_row", pa.array(np.arange(ordered.num_rows)))
    firsts = ordered.group_by(id_column, use_threads=False).aggregate([("_row", "min")])
    keep_rows = pc.sort_indices(firsts["_row_min"])
    unique = ordered.take(pc.take(firsts["_row_min"], keep_rows))
    in_batch = ordered.num_rows - unique.num_rows
    against = 0
    if committed is not None and committed.num_rows:
        wm = timedelta(seconds=watermark_seconds)
        lo = pc.min(unique["event_time"]).as_py() - wm
        hi = pc.max(unique["event_time"]).as_py() + wm
        horizon = pc.and_(
            pc.greater_equal(
                committed["event_time"], pa.scalar(lo, committed.schema.field("event_time").type)
            ),
            pc.less_equal(committed["event_time"], pa.scalar(hi, committed.schema.field("event_time").type)),
        )
        others = committed.filter(horizon).join(
            ordered.select(PROVENANCE), keys=PROVENANCE, join_type="left anti"
        )
        seen = pc.unique(others[id_column])
        duplicate = pc.fill_null(pc.is_in(unique[id_column], value_set=seen), False)
        against = int(pc.sum(duplicate).as_py() or 0)
        unique = unique.filter(pc.invert(duplicate))
    return Deduped(unique.drop_columns(["_row"]), in_batch, against)


def quarantine_rows(
    invalid: pa.Table, unknown: pa.Array, pipeline: str, batch_id: int, now: datetime
) -> pa.Table:
    """Rows of the ``quarantine`` table for the records that failed (``unknown`` aligned with them)."""
    rules: list[list[str]] = []
    for failed, is_unknown in zip(invalid["_failed_rules"].to_pylist(), unknown.to_pylist(), strict=True):
        names = list(failed or [])
        if is_unknown and UNKNOWN_PRODUCT not in names:
            names.append(UNKNOWN_PRODUCT)
        rules.append(names)
    n = invalid.num_rows
    errors = ["; ".join(describe_rule(r) for r in names) for names in rules]
    ts_type = QUARANTINE_SCHEMA.field("quarantined_at").type
    return pa.table(
        {
            "source_topic": invalid["source_topic"],
            "source_partition": invalid["source_partition"],
            "source_offset": invalid["source_offset"],
            "kafka_timestamp": invalid["_kafka_timestamp"],
            "key": invalid["_key_text"],
            "raw_value": invalid["_raw_value"],
            "raw_value_base64": invalid["_raw_value_base64"],
            "failed_rules": pa.array(rules, pa.list_(pa.string())),
            "error": pa.array(errors, pa.string()),
            "pipeline": pa.array([pipeline] * n, pa.string()),
            "batch_id": pa.array([batch_id] * n, pa.int64()),
            "quarantined_at": pa.array([now] * n, ts_type),
            "quarantine_date": pa.array([now.date()] * n, pa.date32()),
        },
        schema=QUARANTINE_SCHEMA,
    )


@dataclass(frozen=True)
class AmountStats:
    mean: float | None
    stddev: float | None
    q1: float | None
    q3: float | None
    zscore_outliers: int
    iqr_outliers: int


def amount_outliers(amounts: np.ndarray, z_threshold: float, iqr_factor: float) -> AmountStats:
    """Outliers among the batch's amounts by z-score (|x - mean| / sd) and by the IQR fence."""
    values = amounts[~np.isnan(amounts)]
    if values.size == 0:
        return AmountStats(None, None, None, None, 0, 0)
    mean, sd = float(values.mean()), float(values.std())
    z_out = int(np.sum(np.abs(values - mean) > z_threshold * sd)) if sd > 0 else 0
    q1, q3 = (float(v) for v in np.quantile(values, [0.25, 0.75]))
    fence = iqr_factor * (q3 - q1)
    iqr_out = int(np.sum((values < q1 - fence) | (values > q3 + fence)))
    return AmountStats(mean, sd, q1, q3, z_out, iqr_out)


def late_count(clean: pa.Table, watermark_seconds: int) -> int:
    """Rows more than the watermark older than the newest event of the batch (kept, only counted)."""
    if clean.num_rows == 0:
        return 0
    newest = pc.max(clean["event_time"]).as_py()
    limit = pa.scalar(newest - timedelta(seconds=watermark_seconds), clean.schema.field("event_time").type)
    return int(pc.sum(pc.less(clean["event_time"], limit)).as_py() or 0)


def rule_counts(quarantine: pa.Table) -> Counter[str]:
    counts: Counter[str] = Counter()
    for names in quarantine["failed_rules"].to_pylist():
        counts.update(names or [])
    return counts


def quality_row(
    *,
    pipeline: str,
    batch_id: int,
    topic: str,
    records: int,
    quarantined: int,
    duplicates: int,
    clean: pa.Table,
    completeness: float | None,
    failures: Counter[str],
    amounts: AmountStats,
    z_threshold: float,
    iqr_factor: float,
    late: int,
    now: datetime,
) -> dict[str, Any]:
    valid = records - quarantined
    has_rows = clean.num_rows > 0
    return {
        "pipeline": pipeline,
        "batch_id": batch_id,
        "topic": topic,
        "records": records,
        "valid": valid,
        "quarantined": quarantined,
        "duplicates": duplicates,
        "clean": clean.num_rows,
        "late": late,
        "validity_rate": valid / records if records else None,
        "completeness": completeness,
        "rule_failures": sorted(failures.items()),
        "amount_mean": amounts.mean,
        "amount_stddev": amounts.stddev,
        "amount_q1": amounts.q1,
        "amount_q3": amounts.q3,
        "zscore_threshold": z_threshold,
        "zscore_outliers": amounts.zscore_outliers,
        "iqr_factor": iqr_factor,
        "iqr_outliers": amounts.iqr_outliers,
        "min_event_time": pc.min(clean["event_time"]).as_py() if has_rows else None,
        "max_event_time": pc.max(clean["event_time"]).as_py() if has_rows else None,
        "computed_at": now,
    }


def quality_table(rows: Sequence[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(list(rows), schema=DATA_QUALITY_SCHEMA)
