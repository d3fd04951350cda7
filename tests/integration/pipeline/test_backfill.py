"""``ecap backfill``: generated history through the same batch engine, idempotent on re-runs."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from deltalake import DeltaTable
from pyspark.sql import SparkSession

from ecap.pipeline.backfill import plan_backfill, run_backfill
from ecap_operator.api import DataProducerSpec, StreamingPipelineSpec


def test_backfill_fills_the_tables_once_even_when_run_twice(spark: SparkSession, tmp_path: Path) -> None:
    producer = DataProducerSpec.model_validate(
        {"topics": {"transactions": "t"}, "seed": 3, "customers": 60, "products": 40}
    )
    pipeline = StreamingPipelineSpec.model_validate({"sources": {"transactions": "t"}})
    plan = plan_backfill(
        producer, pipeline, str(tmp_path), days=1, end=date(2026, 11, 2), events_per_day=1500
    )

    first = run_backfill(plan, spark=spark, rows_per_batch=1000)
    assert first.batches >= 2
    for topic, counts in first.topics.items():
        assert counts.records == counts.clean + counts.quarantined + counts.duplicates, topic
        assert counts.records > 0
    orders = DeltaTable(str(tmp_path / "transactions")).to_pyarrow_table()
    assert orders.num_rows == first.topics["backfill:transactions"].clean
    assert {d.isoformat() for d in orders["event_date"].to_pylist()} <= {"2026-11-02", "2026-11-03"}
    assert DeltaTable(str(tmp_path / "products")).to_pyarrow_table().num_rows == 40

    # Same seed, period and volume: same batches, already committed, so nothing is written again.
    second = run_backfill(plan, spark=spark, rows_per_batch=1000)
    assert second.rows_written.get("transactions", 0) == 0
    assert DeltaTable(str(tmp_path / "transactions")).to_pyarrow_table().num_rows == orders.num_rows
