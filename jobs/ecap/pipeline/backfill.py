"""``ecap backfill``: a historical period from the generator, through the SAME batch engine.

Generated records become a static DataFrame with the Kafka source's columns and synthetic
provenance (topic ``backfill:<stream>``, partition 0, offsets numbered in generation order), then
go through :func:`ecap.pipeline.batch.process_batch` exactly like a streaming micro-batch: the same
parsing, rules, quarantine, dedup and exactly-once commits. The generator is deterministic (same
seed, period and volume -> same bytes and batch boundaries), and the Delta application id names
that identity, so re-running an interrupted backfill skips the batches that are already committed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final

import pyarrow as pa
from pyspark.sql import SparkSession

from ecap.generator import EventBatch, ShopGenerator
from ecap.spark import get_spark
from ecap_operator.api import DataProducerSpec, StreamingPipelineSpec

from .batch import BatchContext, BatchResult, process_batch
from .delta_sink import DeltaSink
from .errors import PipelineConfigError
from .kafka_source import ARROW_SCHEMA
from .metrics import PipelineMetrics
from .runner import PipelineReport

log = logging.getLogger(__name__)

BACKFILL_TOPIC_PREFIX: Final = "backfill:"
ROWS_PER_BATCH: Final = 200_000


@dataclass(frozen=True)
class BackfillPlan:
    producer: DataProducerSpec
    pipeline: StreamingPipelineSpec
    start: date
    end: date
    """Last day of the period (inclusive)."""
    events_per_day: int
    lake: str

    @property
    def app_id(self) -> str:
        p = self.producer
        return (
            f"ecap-backfill/seed={p.seed}/customers={p.customers}/products={p.products}/"
            f"{self.start.isoformat()}..{self.end.isoformat()}/epd={self.events_per_day}"
        )


def period(days: int, end: date | None = None, today: date | None = None) -> tuple[date, date]:
    """The ``days`` whole UTC days ending with ``end`` (default: yesterday)."""
    if days < 1:
        raise PipelineConfigError(f"--days must be at least 1, got {days}")
    last = end or ((today or datetime.now(UTC).date()) - timedelta(days=1))
    return last - timedelta(days=days - 1), last


def plan_backfill(
    producer: DataProducerSpec,
    pipeline: StreamingPipelineSpec,
    lake: str,
    days: int | None = None,
    end: date | None = None,
    events_per_day: int | None = None,
) -> BackfillPlan:
    """A plan from a DataProducer (its ``backfill`` settings are the defaults) and a pipeline's rules.

    The shop always emits all three streams here: a backfill fills every table, whatever topics
    the producer targets live.
    """
    settings = producer.backfill
    day_count = days if days is not None else (settings.days if settings else 90)
    last = end or (date.fromisoformat(settings.end) if settings and settings.end else None)
    start, stop = period(day_count, last)
    shop = producer.model_copy(
        update={
            "topics": producer.topics.model_validate(
                {"transactions": "t", "userEvents": "u", "productUpdates": "p"}
            )
        }
    )
    volume = events_per_day if events_per_day is not None else (settings.events_per_day if settings else 2000)
    return BackfillPlan(shop, pipeline, start, stop, volume, lake.rstrip("/"))


def topic_streams() -> dict[str, str]:
    return {f"{BACKFILL_TOPIC_PREFIX}{s}": s for s in ("transactions", "user-events", "product-updates")}


class _Numbering:
    """Gives every generated record a stable synthetic offset per stream."""

    def __init__(self) -> None:
        self.next: dict[str, int] = {}

    def to_arrow(self, batches: list[EventBatch]) -> pa.Table:
        parts = []
        for batch in batches:
            n = len(batch.values)
            first = self.next.get(batch.stream, 0)
            self.next[batch.stream] = first + n
            parts.append(
                pa.table(
                    {
                        "topic": pa.array([f"{BACKFILL_TOPIC_PREFIX}{batch.stream}"] * n, pa.string()),
                        "partition": pa.array([0] * n, pa.int32()),
                        "offset": pa.array(range(first, first + n), pa.int64()),
                        "timestamp": pa.array(batch.timestamps_ms, pa.int64())
                        .cast(pa.timestamp("ms", tz="UTC"))
                        .cast(pa.timestamp("us", tz="UTC")),
                        "key": pa.array(batch.keys, pa.binary()),
                        "value": pa.array(batch.values, pa.binary()),
                    },
                    schema=ARROW_SCHEMA,
                )
            )
        return pa.concat_tables(parts) if parts else ARROW_SCHEMA.empty_table()


def generated_batches(plan: BackfillPlan, rows_per_batch: int = ROWS_PER_BATCH) -> Iterator[pa.Table]:
    """The period's records in batches of about ``rows_per_batch`` (whole generator chunks)."""
    generator = ShopGenerator(plan.producer)
    start = datetime.combine(plan.start, datetime.min.time(), UTC)
    end = datetime.combine(plan.end + timedelta(days=1), datetime.min.time(), UTC)
    numbering = _Numbering()
    pending: list[pa.Table] = []
    rows = 0
    for chunk in generator.replay(start, end, plan.events_per_day):
        table = numbering.to_arrow(chunk)
        pending.append(table)
        rows += table.num_rows
        if rows >= rows_per_batch:
            yield pa.concat_tables(pending)
            pending, rows = [], 0
    if pending:
        yield pa.concat_tables(pending)


def run_backfill(
    plan: BackfillPlan,
    spark: SparkSession | None = None,
    metrics: PipelineMetrics | None = None,
    progress_callback: Callable[[BatchResult], None] | None = None,
    stop_event: threading.Event | None = None,
    rows_per_batch: int = ROWS_PER_BATCH,
) -> PipelineReport:
    """Generate the period and commit it batch by batch; returns per-topic counts like a stream run."""
    spark = spark or get_spark("ecap-backfill")
    sink = DeltaSink(plan.lake, plan.app_id)
    context = BatchContext(
        pipeline_id=plan.app_id,
        spec=plan.pipeline,
        topic_streams=topic_streams(),
        sink=sink,
        metrics=metrics,
        observe_freshness=False,
    )
    report = PipelineReport(pipeline=plan.app_id, checkpoint="(generator-determined batches)")
    for batch_id, table in enumerate(generated_batches(plan, rows_per_batch)):
        if stop_event is not None and stop_event.is_set():
            report.stopped_because = "stop requested"
            break
        result = process_batch(spark.createDataFrame(table), batch_id, context)
        report.add(result)
        if progress_callback is not None:
            progress_callback(result)
    else:
        report.stopped_because = "period complete"
    return report
