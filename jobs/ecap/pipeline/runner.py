"""Run a ``StreamingPipeline`` resource: Kafka source -> ``process_batch`` in ``foreachBatch``.

The query's identity is its checkpoint (``spec.checkpointLocation`` or
``<lake>/_checkpoints/<namespace>/<name>``, never a pid or a date). Delta commits carry the
application id ``ecap-pipeline/<namespace>/<name>/<query id>``: the query id lives in the
checkpoint, so a restart continues the same transaction sequence, while a deleted checkpoint starts a
new one (its batch ids restart at 0 and must not be mistaken for replays; the records it re-reads
are then counted as duplicates, not written twice).
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

from pydantic import BaseModel
from pyspark.errors import StreamingQueryException
from pyspark.sql import DataFrame, SparkSession

from ecap.kafka import client_config, resolve_bootstrap
from ecap.spark import get_spark
from ecap_operator.api import Resource, StreamingPipelineSpec, topic_name

from .attribution_query import AttributionInput, start_attribution_query
from .batch import BatchContext, BatchResult, TopicCounts, process_batch
from .delta_sink import DeltaSink
from .errors import PipelineConfigError, PipelineError
from .kafka_sink import KafkaOutputs
from .kafka_source import SOURCE_NAME, EndOffsetProbe, KafkaSource
from .metrics import PipelineMetrics, default_metrics

log = logging.getLogger(__name__)

LAG_PROBE_INTERVAL_S: Final = 5.0
MICRO_BATCH_SQL_CONF: Final = {
    # Adaptive execution turns every shuffle of a query into its own Spark job, each paying
    # scheduling and planning again: a micro-batch of ~30 small jobs went to ~18 without it. Micro-
    # batches are small and their shuffles cheap, so AQE's re-optimisation buys nothing here.
    "spark.sql.adaptive.enabled": "false",
    "spark.sql.shuffle.partitions": "2",
    # Broadcast joins stay on: each collects its small side in a job of its own (a 100-record batch
    # runs 15 jobs with them, 10 without), yet shuffle joins made such batches ~20% slower
    # (8.0-8.8 s against 9.6-11.3 s measured side by side on a busy machine).
}
STOP_GRACE_S: Final = 300.0


@dataclass
class PipelineReport:
    """What a run did, per source topic and table; ``ecap up`` prints it."""

    pipeline: str
    checkpoint: str
    batches: int = 0
    topics: dict[str, TopicCounts] = field(default_factory=dict)
    rows_written: dict[str, int] = field(default_factory=dict)
    replayed_batches: int = 0
    stopped_because: str = ""
    duration_seconds: float = 0.0

    def add(self, result: BatchResult) -> None:
        self.batches += 1
        for topic, counts in result.topics.items():
            self.topics.setdefault(topic, TopicCounts()).add(counts)
        for table, rows in result.rows_written.items():
            self.rows_written[table] = self.rows_written.get(table, 0) + rows
        if result.skipped_tables:
            self.replayed_batches += 1


@dataclass(frozen=True)
class PipelinePlan:
    """Everything resolved from the resource before Spark starts."""

    name: str
    namespace: str
    spec: StreamingPipelineSpec
    lake: str
    checkpoint: str
    topic_streams: dict[str, str]
    kafka_config: dict[str, str]
    sink_topics: dict[str, str]


def plan_pipeline(
    resource: Resource[BaseModel],
    resources: list[Resource[BaseModel]],
    bootstrap: str | None = None,
    lake: str | None = None,
    checkpoint: str | None = None,
) -> PipelinePlan:
    """Resolve topics, lake, checkpoint and Kafka settings of a StreamingPipeline resource."""
    spec = resource.spec
    if not isinstance(spec, StreamingPipelineSpec):
        raise PipelineConfigError(f"{resource.ref} is not a StreamingPipeline")
    ns = resource.namespace
    refs = {
        "transactions": spec.sources.transactions,
        "user-events": spec.sources.user_events,
        "product-updates": spec.sources.product_updates,
    }
    topic_streams: dict[str, str] = {}
    for stream, ref in refs.items():
        if ref:
            name = topic_name(resources, ns, ref)
            if name in topic_streams:
                raise PipelineConfigError(f"{resource.ref}: topic {name!r} is named by two sources")
            topic_streams[name] = stream
    sinks = {
        "fraud-alerts": spec.sinks.fraud_alerts,
        "analytics-results": spec.sinks.analytics_results,
    }
    sink_topics = {role: topic_name(resources, ns, ref) for role, ref in sinks.items() if ref}
    root = (lake or spec.lake).rstrip("/")
    ckpt = checkpoint or spec.checkpoint_location or f"{root}/_checkpoints/{ns}/{resource.name}"
    config = client_config(resolve_bootstrap(bootstrap, spec.kafka), spec.kafka)
    return PipelinePlan(resource.name, ns, spec, root, ckpt, topic_streams, config, sink_topics)


def source_options(plan: PipelinePlan) -> dict[str, str]:
    options = {
        "topics": ",".join(plan.topic_streams),
        "bootstrap": plan.kafka_config["bootstrap.servers"],
        "startingOffsets": plan.spec.starting_offsets,
        "max_rows": str(plan.spec.max_records_per_batch),
        "priority_topics": ",".join(t for t, s in plan.topic_streams.items() if s == "product-updates"),
    }
    options |= {f"kafka.{k}": v for k, v in plan.kafka_config.items() if k != "bootstrap.servers"}
    return options


class _BatchGate:
    """Tracks whether a batch is running and when input was last seen (for idle and graceful stop)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = False
        self.last_activity = time.monotonic()
        self.query_id: str | None = None
        self.query_id_ready = threading.Event()
        self.processed: dict[str, dict[int, int]] = {}

    def begin(self) -> None:
        with self.lock:
            self.running = True
            self.last_activity = time.monotonic()

    def end(self, result: BatchResult | None) -> None:
        with self.lock:
            self.running = False
            self.last_activity = time.monotonic()
            if result is not None:
                for topic, parts in result.end_offsets.items():
                    self.processed.setdefault(topic, {}).update(parts)


@contextmanager
def _signals_stop(stop_event: threading.Event) -> Iterator[None]:
    """SIGTERM/SIGINT ask for a graceful stop (after the current batch); main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: Any) -> None:
        log.info("signal %d: stopping after the current batch", signum)
        stop_event.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _progress_offsets(progress: Mapping[str, Any] | None) -> dict[str, dict[int, int]]:
    """The source end offsets of the query's last progress report (also after a restart)."""
    out: dict[str, dict[int, int]] = {}
    for source in (progress or {}).get("sources", []):
        end = source.get("endOffset")
        if isinstance(end, str):
            end = json.loads(end)
        if isinstance(end, dict):
            for topic, parts in end.items():
                if isinstance(parts, dict):
                    out.setdefault(topic, {}).update({int(p): int(o) for p, o in parts.items()})
    return out


def _lag(probe: EndOffsetProbe, processed: Mapping[str, Mapping[int, int]]) -> dict[tuple[str, int], int]:
    ends = probe.end_offsets()
    return {
        (topic, int(p)): max(0, end - processed.get(topic, {}).get(int(p), 0))
        for topic, parts in ends.items()
        for p, end in parts.items()
    }


def run_pipeline(
    resource: Resource[BaseModel],
    resources: list[Resource[BaseModel]],
    bootstrap: str | None = None,
    lake: str | None = None,
    until_idle: float | None = None,
    stop_event: threading.Event | None = None,
    progress_callback: Callable[[BatchResult], None] | None = None,
    checkpoint: str | None = None,
    metrics: PipelineMetrics | None = None,
    spark: SparkSession | None = None,
) -> PipelineReport:
    """Run the pipeline until ``stop_event`` is set, a signal arrives, or ``until_idle`` seconds pass
    without new input (and no lag). Blocks; returns what was processed by this run."""
    plan = plan_pipeline(resource, resources, bootstrap, lake, checkpoint)
    stop = stop_event or threading.Event()
    metrics = metrics or default_metrics()
    report = PipelineReport(pipeline=f"{plan.namespace}/{plan.name}", checkpoint=plan.checkpoint)
    gate = _BatchGate()
    started = time.monotonic()
    # A session of its own (same SparkContext): micro-batch settings stay out of other jobs.
    spark = (spark or get_spark(f"ecap-pipeline-{plan.name}")).newSession()
    for setting, setting_value in MICRO_BATCH_SQL_CONF.items():
        spark.conf.set(setting, setting_value)
    spark.dataSource.register(KafkaSource)
    sink = DeltaSink(plan.lake, app_id="")
    attribution_sink = DeltaSink(plan.lake, app_id="")
    kafka_out = KafkaOutputs(plan.kafka_config, plan.sink_topics) if plan.sink_topics else None
    streams = set(plan.topic_streams.values())
    handover = None
    if {"transactions", "user-events"} <= streams:
        handover = AttributionInput(f"{plan.checkpoint}/attribution-input")
        handover.prepare()
    context = BatchContext(
        pipeline_id="",
        spec=plan.spec,
        topic_streams=plan.topic_streams,
        sink=sink,
        metrics=metrics,
        kafka_out=kafka_out,
        attribution_input=handover,
    )

    def on_batch(df: DataFrame, batch_id: int) -> None:
        gate.begin()
        result: BatchResult | None = None
        try:
            if not gate.query_id_ready.wait(60):
                raise PipelineError("the streaming query did not report its id within 60s")
            result = process_batch(df, batch_id, context)
            report.add(result)
            if progress_callback is not None:
                progress_callback(result)
        finally:
            gate.end(result)

    stream = spark.readStream.format(SOURCE_NAME).options(**source_options(plan)).load()
    query = (
        stream.writeStream.foreachBatch(on_batch)
        .option("checkpointLocation", plan.checkpoint)
        .queryName(f"ecap_pipeline_{plan.namespace}_{plan.name}".replace("-", "_"))
        .trigger(processingTime=f"{plan.spec.trigger_seconds} seconds")
        .start()
    )
    attribution = None
    if handover is not None:
        attribution = start_attribution_query(
            spark,
            handover,
            plan.spec.attribution_window_minutes,
            plan.spec.watermark_seconds,
            # Not ``attribution``: that checkpoint (of the join over Kafka it replaced) names other
            # sources, and Spark refuses to restart a query whose sources changed.
            f"{plan.checkpoint}/attribution-join",
            attribution_sink,
            f"ecap-attribution/{plan.namespace}/{plan.name}",
            plan.spec.trigger_seconds,
            f"ecap_attribution_{plan.namespace}_{plan.name}".replace("-", "_"),
        )
    app_id = f"ecap-pipeline/{plan.namespace}/{plan.name}/{query.id}"
    sink.app_id = app_id
    context.pipeline_id = app_id
    gate.query_id = str(query.id)
    gate.query_id_ready.set()
    log.info(
        "pipeline %s: query %s, checkpoint %s, topics %s",
        report.pipeline,
        query.id,
        plan.checkpoint,
        plan.topic_streams,
    )
    probe = EndOffsetProbe(plan.kafka_config, list(plan.topic_streams))
    last_probe = 0.0
    lag: dict[tuple[str, int], int] | None = None
    try:
        with _signals_stop(stop):
            while True:
                if attribution is not None and attribution.exception() is not None:
                    raise PipelineError(
                        f"attribution join of {report.pipeline} failed: {attribution.exception()}"
                    )
                try:
                    if query.awaitTermination(1):
                        report.stopped_because = "query ended"
                        break
                except StreamingQueryException as err:
                    raise PipelineError(f"pipeline {report.pipeline} failed: {err}") from err
                now = time.monotonic()
                if now - last_probe >= LAG_PROBE_INTERVAL_S or (until_idle is not None and lag is None):
                    processed = _progress_offsets(query.lastProgress)
                    with gate.lock:
                        for topic, parts in gate.processed.items():
                            for part, offset in parts.items():
                                mine = processed.setdefault(topic, {})
                                mine[part] = max(mine.get(part, 0), offset)
                    lag = _lag(probe, processed)
                    last_probe = now
                    for (topic, part), value in lag.items():
                        metrics.consumer_lag.labels(topic=topic, partition=str(part)).set(value)
                if stop.is_set():
                    report.stopped_because = "stop requested"
                    break
                with gate.lock:
                    idle_for = now - gate.last_activity
                    running = gate.running
                if (
                    until_idle is not None
                    and not running
                    and idle_for >= until_idle
                    and lag is not None
                    and not any(lag.values())
                ):
                    report.stopped_because = f"idle for {until_idle:g}s"
                    break
                if until_idle is not None and not running and idle_for >= until_idle:
                    last_probe = 0.0  # idle but lag unknown or stale: probe again now
    finally:
        deadline = time.monotonic() + STOP_GRACE_S
        while gate.running and time.monotonic() < deadline and query.isActive:
            time.sleep(0.1)
        query.stop()
        if attribution is not None:
            attribution.stop()
        probe.close()
        if kafka_out is not None:
            kafka_out.close()
        report.duration_seconds = time.monotonic() - started
    log.info(
        "pipeline %s stopped (%s) after %d batches", report.pipeline, report.stopped_because, report.batches
    )
    return report
