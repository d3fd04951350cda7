"""The one micro-batch engine: the streaming ``foreachBatch`` and ``ecap backfill`` both call it.

Per batch: parse and validate each stream in Spark, then on the driver in Arrow apply the
referential rule, fill local time, split valid from quarantined, deduplicate, hand clean purchases
and session starts to the attribution join (see :mod:`.attribution_query`), and commit every table
exactly once (see :mod:`.delta_sink`). Order of commits: event tables, then products and the analytics outputs
(side by side: separate tables, each with its own exactly-once check), quarantine, and
``data_quality`` last, so a ``data_quality`` row means the whole batch is in.

Every input record ends in exactly one place: a clean table (once), the quarantine table (with its
reasons) or the duplicate count of its topic.

Cost model (2 cores, local mode): a micro-batch pays a fixed cost per Spark job (planning of the
large validation expressions, scheduling, Python worker round trips), so every step collects what
it needs in as few jobs as it can; ``BatchResult.spark_jobs`` and ``timings`` show where time goes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark import inheritable_thread_target
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from ecap_operator.api import StreamingPipelineSpec
from ecap_operator.api.streaming_pipeline import QualitySettings

from .analytics.fraud import (
    ALERT_SCHEMA,
    fraud_alert_message_columns,
    fraud_alerts,
    score_transactions,
)
from .analytics.kpis import KEY as KPI_KEY
from .analytics.kpis import (
    KPI_SCHEMA,
    analytics_result_message_array,
    kpi_partials,
    merge_kpis,
)
from .analytics.products import fold_product_updates
from .analytics.profiles import PROFILE_SCHEMA, update_customer_profiles
from .attribution_query import AttributionInput
from .delta_sink import DeltaSink
from .kafka_sink import KafkaOutputs
from .metrics import PipelineMetrics
from .parsing import fill_local_time, parse_and_validate
from .quality import (
    PROVENANCE,
    amount_outliers,
    dedupe,
    event_dates,
    invalid_mask,
    late_count,
    quality_row,
    quality_table,
    quarantine_rows,
    rule_counts,
    unknown_product_mask,
)
from .tables import (
    CUSTOMER_PROFILES_TABLE,
    DATA_QUALITY_SCHEMA,
    DATA_QUALITY_TABLE,
    EVENT_TABLES,
    FRAUD_ALERTS_TABLE,
    KPIS_TABLE,
    PARTITION_COLUMN,
    PRODUCTS_TABLE,
    PRODUCTS_TABLE_SCHEMA,
    QUARANTINE_SCHEMA,
    QUARANTINE_TABLE,
)

log = logging.getLogger(__name__)

INGESTED_AT_TYPE = pa.timestamp("us", tz="UTC")
_T = TypeVar("_T")

# Streams in processing order: product updates first, so the batch's own new products are known.
STREAM_ORDER = ("product-updates", "transactions", "user-events")


@dataclass
class TopicCounts:
    """Where the records of one source topic went in a batch (or a whole run)."""

    records: int = 0
    clean: int = 0
    quarantined: int = 0
    duplicates: int = 0

    def add(self, other: TopicCounts) -> None:
        self.records += other.records
        self.clean += other.clean
        self.quarantined += other.quarantined
        self.duplicates += other.duplicates


@dataclass
class BatchResult:
    batch_id: int
    topics: dict[str, TopicCounts]
    rows_written: dict[str, int]
    skipped_tables: list[str]
    end_offsets: dict[str, dict[int, int]]
    """Next offset to read per topic and partition after this batch (for lag)."""
    freshness_seconds: np.ndarray
    duration_seconds: float
    referential_checked: bool
    committed_at: datetime
    alerts_by_severity: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds per step (read, parse, dedup, write, products, analytics)."""
    spark_jobs: int | None = None
    """Spark jobs the batch ran (each pays planning and scheduling); None outside a job group."""


@contextmanager
def _timed(timings: dict[str, float], step: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        timings[step] = timings.get(step, 0.0) + time.monotonic() - started


def _group_jobs(spark: SparkSession) -> tuple[str, set[int]] | None:
    """The job group of this thread (a streaming query's run id) and the jobs it has run so far.

    Worker threads of a batch inherit the group (``inheritable_thread_target``), so the difference
    before and after a batch is the batch's own job count, without the other queries' jobs.
    """
    group = spark.sparkContext.getLocalProperty("spark.jobGroup.id")
    if not group:
        return None
    return group, set(spark.sparkContext.statusTracker().getJobIdsForGroup(group))


def _timed_call(timings: dict[str, float], step: str, func: Callable[..., _T], *args: object) -> _T:
    with _timed(timings, step):
        return func(*args)


@dataclass
class BatchContext:
    """What a batch needs besides its rows: the pipeline settings and where to write."""

    pipeline_id: str
    """Query identity: the Delta application-transaction id and the ``pipeline`` column."""
    spec: StreamingPipelineSpec
    topic_streams: Mapping[str, str]
    """Broker topic name -> stream (``transactions``, ``user-events``, ``product-updates``)."""
    sink: DeltaSink
    metrics: PipelineMetrics | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    observe_freshness: bool = True
    """Off for backfills, whose event times are days old by design."""
    kafka_out: KafkaOutputs | None = None
    """Where alerts and KPI rows go back to Kafka (roles ``fraud-alerts``, ``analytics-results``)."""
    analytics: bool = True
    attribution_input: AttributionInput | None = None
    """Where clean purchases and session starts are handed to the attribution join, if it runs."""


def _known_products(sink: DeltaSink, updates: pa.Table | None) -> pa.Array | None:
    """Product ids of the committed dimension plus this batch's valid updates; None while both are empty."""
    committed = sink.read(PRODUCTS_TABLE, columns=["product_id"])
    ids = [committed["product_id"].combine_chunks()] if committed is not None else []
    if updates is not None:
        ids.append(updates["product_id"].combine_chunks())
    known = pc.unique(pa.concat_arrays(ids)) if ids else pa.array([], pa.string())
    return known if len(known) else None


def _end_offsets(raw_offsets: pa.Table) -> dict[str, dict[int, int]]:
    if raw_offsets.num_rows == 0:
        return {}
    grouped = raw_offsets.group_by(["topic", "partition"], use_threads=False).aggregate([("offset", "max")])
    out: dict[str, dict[int, int]] = {}
    for row in grouped.to_pylist():
        out.setdefault(row["topic"], {})[int(row["partition"])] = int(row["offset_max"]) + 1
    return out


def _update_products(ctx: BatchContext, clean_updates: pa.Table, batch_id: int, spark_df: DataFrame) -> int:
    """MERGE the batch's product updates into the current ``products`` dimension (analytics fold)."""
    if clean_updates.num_rows == 0:
        return 0
    spark = spark_df.sparkSession
    current = ctx.sink.read(PRODUCTS_TABLE)
    current_df = spark.createDataFrame(current) if current is not None and current.num_rows else None
    updates_df = spark.createDataFrame(
        clean_updates.select(
            [
                "event_id",
                "product_id",
                "update_type",
                "event_time",
                "name",
                "category",
                "price",
                "stock",
                "status",
                "description",
            ]
        )
    )
    changed = fold_product_updates(current_df, updates_df).toArrow()
    if changed.num_rows == 0:
        return 0
    ctx.sink.merge(PRODUCTS_TABLE, changed, PRODUCTS_TABLE_SCHEMA, ["product_id"], batch_id)
    return int(changed.num_rows)


def _as_spark(spark: SparkSession, rows: pa.Table | None, schema: pa.Schema) -> DataFrame | None:
    if rows is None or rows.num_rows == 0:
        return None
    return spark.createDataFrame(rows.select(schema.names).cast(schema))


def kpi_candidates(
    existing: pa.Table | None, first: datetime, last: datetime, window_seconds: Sequence[int]
) -> pa.Table | None:
    """The ``kpis`` rows a batch with event times in [first, last] may update: windows starting
    from one longest window before ``first`` up to ``last`` (a superset; the merge keeps the keys
    the batch really has). Known before any Spark job, so the merge runs in the same job as the
    batch's own aggregation."""
    if existing is None or existing.num_rows == 0:
        return None
    start_type = existing.schema.field("window_start").type
    lower = pa.scalar(first - timedelta(seconds=max(window_seconds)), start_type)
    upper = pa.scalar(last, start_type)
    starts = existing["window_start"]
    return existing.filter(pc.and_(pc.greater_equal(starts, lower), pc.less_equal(starts, upper)))


def _event_span(tables: Sequence[pa.Table | None]) -> tuple[datetime, datetime] | None:
    times = [t["event_time"] for t in tables if t is not None and t.num_rows]
    if not times:
        return None
    both = pa.chunked_array([c for column in times for c in column.chunks], times[0].type)
    span = pc.min_max(both)
    return span["min"].as_py(), span["max"].as_py()


def _kpis(
    ctx: BatchContext,
    spark: SparkSession,
    tx: DataFrame | None,
    ue: DataFrame | None,
    span: tuple[datetime, datetime],
    batch_id: int,
) -> int:
    """Windowed KPIs of the batch MERGEd into ``kpis``; the merged rows also go to analytics-results.

    One Spark job: the batch's partials, their merge with the stored windows and the Kafka
    messages of the merged rows are collected together.
    """
    if ctx.sink.committed(KPIS_TABLE, batch_id):
        return 0
    windows = ctx.spec.kpi_window_seconds
    existing = kpi_candidates(ctx.sink.read(KPIS_TABLE), *span, windows)
    merged_df = merge_kpis(_as_spark(spark, existing, KPI_SCHEMA), kpi_partials(tx, ue, windows))
    collected = merged_df.select(
        *KPI_SCHEMA.names, analytics_result_message_array().alias("_messages")
    ).toArrow()
    if collected.num_rows == 0:
        return 0
    merged = collected.select(KPI_SCHEMA.names)
    if ctx.kafka_out is not None:
        messages = pc.list_flatten(collected["_messages"])
        ctx.kafka_out.send(
            "analytics-results",
            pa.table({"key": pc.struct_field(messages, "key"), "value": pc.struct_field(messages, "value")}),
        )
    ctx.sink.merge(KPIS_TABLE, merged, KPI_SCHEMA, list(KPI_KEY), batch_id)
    return int(merged.num_rows)


def _fraud(
    ctx: BatchContext, spark: SparkSession, tx: DataFrame, customers: pa.Array, batch_id: int
) -> tuple[dict[str, int], dict[str, int]]:
    """Score the batch against the profiles before it; alerts (Delta + Kafka), then profiles.

    Profiles are committed last: if they already hold this batch, the alerts were handled too and
    scoring again (against profiles that include the batch) would be wrong, so the step is skipped.
    """
    if ctx.sink.committed(CUSTOMER_PROFILES_TABLE, batch_id):
        return {}, {}
    profiles = ctx.sink.read(CUSTOMER_PROFILES_TABLE)
    if profiles is not None:
        profiles = profiles.filter(pc.is_in(profiles["customer_id"], value_set=customers))
    profiles_df = _as_spark(spark, profiles, PROFILE_SCHEMA)
    scored = score_transactions(tx, profiles_df, ctx.spec.fraud).persist()
    written: dict[str, int] = {}
    severities: dict[str, int] = {}
    try:
        # Alerts and their Kafka messages in one job: the messages ride along as two columns.
        key, value = fraud_alert_message_columns()
        collected = (
            fraud_alerts(scored)
            .select(*ALERT_SCHEMA.names, key.alias("_message_key"), value.alias("_message_value"))
            .toArrow()
        )
        alerts = collected.select(ALERT_SCHEMA.names)
        if alerts.num_rows and not ctx.sink.committed(FRAUD_ALERTS_TABLE, batch_id):
            if ctx.kafka_out is not None:
                messages = collected.select(["_message_key", "_message_value"])
                ctx.kafka_out.send("fraud-alerts", messages.rename_columns(["key", "value"]))
            ctx.sink.merge(
                FRAUD_ALERTS_TABLE, alerts, ALERT_SCHEMA, ["alert_id"], batch_id, [PARTITION_COLUMN]
            )
            written[FRAUD_ALERTS_TABLE] = alerts.num_rows
            for severity in alerts["severity"].to_pylist():
                severities[str(severity)] = severities.get(str(severity), 0) + 1
        changed = update_customer_profiles(profiles_df, scored).toArrow()
        if ctx.sink.merge(CUSTOMER_PROFILES_TABLE, changed, PROFILE_SCHEMA, ["customer_id"], batch_id):
            written[CUSTOMER_PROFILES_TABLE] = changed.num_rows
    finally:
        scored.unpersist()
    return written, severities


def _analytics(
    ctx: BatchContext, spark: SparkSession, clean: Mapping[str, pa.Table], batch_id: int
) -> tuple[dict[str, int], dict[str, int]]:
    tx_rows = clean.get("transactions")
    tx = _as_spark(spark, tx_rows, EVENT_TABLES["transactions"].schema)
    ue = _as_spark(spark, clean.get("user-events"), EVENT_TABLES["user-events"].schema)
    written: dict[str, int] = {}
    severities: dict[str, int] = {}
    if tx is None and ue is None:
        return written, severities
    # KPIs and fraud write different tables (each with its own exactly-once check): run their Spark
    # jobs side by side so their fixed per-job costs overlap.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="ecap-analytics") as pool:
        span = _event_span([tx_rows, clean.get("user-events")])
        kpi_future = None
        if span is not None:
            kpi_future = pool.submit(
                inheritable_thread_target(spark)(_kpis), ctx, spark, tx, ue, span, batch_id
            )
        fraud_future = None
        if tx is not None and tx_rows is not None and ctx.spec.fraud.enabled:
            customers = pc.unique(tx_rows["customer_id"].combine_chunks())
            fraud_future = pool.submit(
                inheritable_thread_target(spark)(_fraud), ctx, spark, tx, customers, batch_id
            )
        kpi_rows = kpi_future.result() if kpi_future is not None else 0
        if fraud_future is not None:
            fraud_written, severities = fraud_future.result()
            written |= fraud_written
    if kpi_rows:
        written[KPIS_TABLE] = kpi_rows
    return written, severities


def _with_raw_values(raw: DataFrame, invalid: pa.Table) -> pa.Table:
    """Fill the raw value of rows that failed only on the driver (unknown products).

    Spark keeps raw bytes only for rows that failed a row rule (to keep the collected batch small),
    so the few rows quarantined for the referential rule fetch theirs back from the cached batch.
    """
    missing = pc.and_(pc.is_null(invalid["_raw_value"]), pc.is_null(invalid["_raw_value_base64"]))
    if not pc.any(missing).as_py():
        return invalid
    wanted = invalid.filter(missing).select(PROVENANCE)
    spark = raw.sparkSession
    coords = spark.createDataFrame(wanted.rename_columns(["topic", "partition", "offset"]))
    fetched = (
        raw.join(F.broadcast(coords), ["topic", "partition", "offset"], "left_semi")
        .select(
            F.col("topic").alias("source_topic"),
            F.col("partition").alias("source_partition"),
            F.col("offset").alias("source_offset"),
            F.when(F.is_valid_utf8(F.col("value").cast("string")), F.col("value").cast("string")).alias("_v"),
            F.when(~F.is_valid_utf8(F.col("value").cast("string")), F.base64("value")).alias("_b"),
        )
        .toArrow()
    )
    found = {
        (r["source_topic"], r["source_partition"], r["source_offset"]): (r["_v"], r["_b"])
        for r in fetched.to_pylist()
    }
    coords_of_invalid = zip(*(invalid[c].to_pylist() for c in PROVENANCE), strict=True)
    texts, blobs = invalid["_raw_value"].to_pylist(), invalid["_raw_value_base64"].to_pylist()
    for i, coord in enumerate(coords_of_invalid):
        if texts[i] is None and blobs[i] is None and coord in found:
            texts[i], blobs[i] = found[coord]
    out = invalid.set_column(
        invalid.schema.get_field_index("_raw_value"), "_raw_value", pa.array(texts, pa.string())
    )
    return out.set_column(
        out.schema.get_field_index("_raw_value_base64"), "_raw_value_base64", pa.array(blobs, pa.string())
    )


def _parse_streams(
    raw: DataFrame, by_stream: Mapping[str, list[str]], quality: QualitySettings
) -> dict[str, pa.Table]:
    """Every stream's parsed and validated rows, as concurrent Spark jobs over the cached batch.

    Each stream is a small job whose fixed cost (planning, scheduling, collecting) dominates at
    micro-batch sizes; running them side by side overlaps those costs on the two cores.
    """
    streams = [s for s in STREAM_ORDER if by_stream.get(s)]

    def parse(stream: str) -> pa.Table:
        in_stream = raw.where(F.col("topic").isin(by_stream[stream]))
        return fill_local_time(parse_and_validate(in_stream, stream, quality).toArrow())

    if len(streams) <= 1:
        return {s: parse(s) for s in streams}
    with ThreadPoolExecutor(max_workers=len(streams), thread_name_prefix="ecap-parse") as pool:
        return dict(
            zip(streams, pool.map(inheritable_thread_target(raw.sparkSession)(parse), streams), strict=True)
        )


def process_batch(raw: DataFrame, batch_id: int, ctx: BatchContext) -> BatchResult:
    """Validate, deduplicate and commit one batch of Kafka records (columns of the Kafka source)."""
    started = time.monotonic()
    now = ctx.clock()
    quality = ctx.spec.quality
    watermark = ctx.spec.watermark_seconds
    timings: dict[str, float] = {}
    jobs_before = _group_jobs(raw.sparkSession)
    raw = raw.persist()
    try:
        by_stream: dict[str, list[str]] = {}
        for topic, stream in ctx.topic_streams.items():
            by_stream.setdefault(stream, []).append(topic)
        end_offsets: dict[str, dict[int, int]] = {}

        counts: dict[str, TopicCounts] = {}
        clean_tables: dict[str, pa.Table] = {}
        quarantines: list[pa.Table] = []
        quality_rows = []
        known: pa.Array | None = None
        referential_checked = False
        with _timed(timings, "read"):
            raw.count()  # fills the cache once, so the per-stream parses below never re-read Kafka
        with _timed(timings, "parse"):
            parsed = _parse_streams(raw, by_stream, quality)
        for stream in STREAM_ORDER:
            topics = by_stream.get(stream)
            if not topics:
                continue
            table = EVENT_TABLES[stream]
            validated = parsed[stream]
            end_offsets |= _end_offsets(
                validated.select(PROVENANCE).rename_columns(["topic", "partition", "offset"])
            )
            validated = validated.set_column(
                validated.schema.get_field_index("ingested_at"),
                "ingested_at",
                pa.array([now] * validated.num_rows, INGESTED_AT_TYPE),
            )
            if stream == "transactions" or stream == "user-events":
                if known is None:
                    known = _known_products(ctx.sink, clean_tables.get("product-updates"))
                referential_checked = known is not None
                unknown = unknown_product_mask(validated, known)
            else:
                unknown = unknown_product_mask(validated, None)
            bad = invalid_mask(validated, unknown)
            invalid = validated.filter(bad)
            unknown_invalid = unknown.filter(bad)
            if pc.any(unknown_invalid).as_py():
                invalid = _with_raw_values(raw, invalid)
            quarantine = quarantine_rows(invalid, unknown_invalid, ctx.pipeline_id, batch_id, now)
            quarantines.append(quarantine)
            valid = validated.filter(pc.invert(bad))
            dates = event_dates(valid, watermark)
            with _timed(timings, "dedup"):
                committed = ctx.sink.read(
                    table.table, columns=[table.id_column, "event_time", *PROVENANCE], dates=dates
                )
                deduped = dedupe(valid, table.id_column, committed, watermark)
            clean = deduped.kept
            clean_tables[stream] = clean
            # Counts and quality per source topic (a stream may read several topics).
            for topic in topics:
                if topic not in end_offsets:
                    continue
                in_topic = pc.equal(validated["source_topic"], topic)
                records = int(pc.sum(in_topic).as_py() or 0)
                q_topic = quarantine.filter(pc.equal(quarantine["source_topic"], topic))
                clean_topic = clean.filter(pc.equal(clean["source_topic"], topic))
                valid_topic = int(pc.sum(pc.equal(valid["source_topic"], topic)).as_py() or 0)
                dups = valid_topic - clean_topic.num_rows
                counts[topic] = TopicCounts(records, clean_topic.num_rows, q_topic.num_rows, dups)
                amounts = clean_topic["_amount"].to_numpy(zero_copy_only=False).astype(float)
                completeness = pc.mean(validated.filter(in_topic)["_completeness"]).as_py()
                quality_rows.append(
                    quality_row(
                        pipeline=ctx.pipeline_id,
                        batch_id=batch_id,
                        topic=topic,
                        records=records,
                        quarantined=q_topic.num_rows,
                        duplicates=dups,
                        clean=clean_topic,
                        completeness=completeness,
                        failures=rule_counts(q_topic),
                        amounts=amount_outliers(amounts, quality.z_score_threshold, quality.iqr_factor),
                        z_threshold=quality.z_score_threshold,
                        iqr_factor=quality.iqr_factor,
                        late=late_count(clean_topic, watermark),
                        now=now,
                    )
                )

        if ctx.attribution_input is not None:
            # Before any commit: a replay of this batch then always finds the hand-over in place.
            with _timed(timings, "handover"):
                ctx.attribution_input.write(batch_id, clean_tables)
        written: dict[str, int] = {}
        skipped: list[str] = []

        def record(table_name: str, rows: int, did_write: bool) -> None:
            if did_write:
                written[table_name] = written.get(table_name, 0) + rows
            elif rows:
                skipped.append(table_name)

        freshness: list[np.ndarray] = []
        for stream, clean in clean_tables.items():
            table = EVENT_TABLES[stream]
            with _timed(timings, "write"):
                did = ctx.sink.append(table.table, clean, table.schema, batch_id, [PARTITION_COLUMN])
            record(table.table, clean.num_rows, did)
            if did and clean.num_rows:
                committed_at = datetime.now(UTC).timestamp()
                event_s = pc.cast(clean["event_time"], pa.int64()).to_numpy() / 1e6
                freshness.append(committed_at - event_s)
        updates = clean_tables.get("product-updates")
        severities: dict[str, int] = {}
        # The products MERGE and the analytics write different tables: their Spark jobs overlap.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ecap-products") as pool:
            products_future = None
            if updates is not None and updates.num_rows:
                products_future = pool.submit(
                    inheritable_thread_target(raw.sparkSession)(_timed_call),
                    timings,
                    "products",
                    _update_products,
                    ctx,
                    updates,
                    batch_id,
                    raw,
                )
            if ctx.analytics:
                with _timed(timings, "analytics"):
                    analytics_written, severities = _analytics(ctx, raw.sparkSession, clean_tables, batch_id)
                written |= analytics_written
            if products_future is not None:
                merged = products_future.result()
                if merged:
                    written[PRODUCTS_TABLE] = merged
        all_quarantine = pa.concat_tables(quarantines) if quarantines else QUARANTINE_SCHEMA.empty_table()
        record(
            QUARANTINE_TABLE,
            all_quarantine.num_rows,
            ctx.sink.append(
                QUARANTINE_TABLE, all_quarantine, QUARANTINE_SCHEMA, batch_id, ["quarantine_date"]
            ),
        )
        dq = quality_table(quality_rows)
        record(
            DATA_QUALITY_TABLE,
            dq.num_rows,
            ctx.sink.append(DATA_QUALITY_TABLE, dq, DATA_QUALITY_SCHEMA, batch_id),
        )
    finally:
        raw.unpersist()

    fresh = np.concatenate(freshness) if freshness else np.empty(0)
    jobs_after = _group_jobs(raw.sparkSession)
    spark_jobs = None
    if jobs_before is not None and jobs_after is not None and jobs_before[0] == jobs_after[0]:
        spark_jobs = len(jobs_after[1] - jobs_before[1])
    result = BatchResult(
        batch_id=batch_id,
        topics=counts,
        rows_written=written,
        skipped_tables=skipped,
        end_offsets=end_offsets,
        freshness_seconds=fresh,
        duration_seconds=time.monotonic() - started,
        referential_checked=referential_checked,
        committed_at=datetime.now(UTC),
        alerts_by_severity=severities,
        timings=timings,
        spark_jobs=spark_jobs,
    )
    if ctx.metrics is not None:
        _observe(ctx.metrics, result, ctx.observe_freshness)
    log.info(
        "batch %d: %s in %.2fs (%s; %s Spark jobs)%s",
        batch_id,
        ", ".join(
            f"{t}: {c.records} in / {c.clean} clean / {c.quarantined} quarantined / {c.duplicates} dup"
            for t, c in counts.items()
        ),
        result.duration_seconds,
        ", ".join(f"{k} {v:.2f}s" for k, v in timings.items()),
        "?" if spark_jobs is None else spark_jobs,
        f" (replay: skipped {', '.join(skipped)})" if skipped else "",
    )
    return result


def _observe(metrics: PipelineMetrics, result: BatchResult, freshness: bool) -> None:
    metrics.batches.inc()
    metrics.batch_duration.observe(result.duration_seconds)
    for topic, c in result.topics.items():
        metrics.records_in.labels(topic=topic).inc(c.records)
        metrics.quarantined.labels(topic=topic).inc(c.quarantined)
        metrics.duplicates.labels(topic=topic).inc(c.duplicates)
    for table, rows in result.rows_written.items():
        metrics.records_out.labels(table=table).inc(rows)
    for severity, n in result.alerts_by_severity.items():
        metrics.fraud_alerts.labels(severity=severity).inc(n)
    if freshness:
        metrics.observe_freshness(result.freshness_seconds)
