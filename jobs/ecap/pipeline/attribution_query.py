"""Sessions -> purchases attribution as its own streaming query: a stream-stream interval join.

It reads the same Kafka topics through the same source, keeps the rows that pass the same row rules
(:func:`ecap.pipeline.parsing.parse_and_validate`; the driver-side referential rule and dedup of
the main query do not apply here), and joins them with
:func:`ecap.pipeline.analytics.attribution.attribute_purchases` (watermarks on both sides, so the
join state is bounded). Each micro-batch is MERGEd into ``attribution`` on ``transaction_id``
with the query's own application transaction: replays and duplicate Kafka records collapse onto one
row per purchase. Its checkpoint is ``<pipeline checkpoint>/attribution``.
"""

from __future__ import annotations

import threading

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming.query import StreamingQuery

from ecap.schemas import TABLE_ATTRIBUTION
from ecap_operator.api.streaming_pipeline import QualitySettings

from .analytics.attribution import ATTRIBUTION_SCHEMA, attribute_purchases
from .delta_sink import DeltaSink
from .errors import PipelineError
from .kafka_source import SOURCE_NAME
from .parsing import parse_and_validate


def first_per_transaction(rows: pa.Table) -> pa.Table:
    """One row per transaction_id (duplicate Kafka records or session starts join more than once)."""
    if rows.num_rows == 0:
        return rows
    indexed = rows.append_column("_row", pa.array(range(rows.num_rows), pa.int64()))
    firsts = indexed.group_by("transaction_id", use_threads=False).aggregate([("_row", "min")])
    keep = pc.take(firsts["_row_min"], pc.sort_indices(firsts["_row_min"]))
    return rows.take(keep)


def start_attribution_query(
    spark: SparkSession,
    options: dict[str, str],
    topic_streams: dict[str, str],
    quality: QualitySettings,
    attribution_window_minutes: int,
    watermark_seconds: int,
    checkpoint: str,
    sink: DeltaSink,
    app_id_prefix: str,
    trigger_seconds: float,
    query_name: str,
) -> StreamingQuery | None:
    """Start the join when the pipeline reads both transactions and user events; else None."""
    tx_topics = [t for t, s in topic_streams.items() if s == "transactions"]
    ue_topics = [t for t, s in topic_streams.items() if s == "user-events"]
    if not tx_topics or not ue_topics:
        return None
    raw = (
        spark.readStream.format(SOURCE_NAME)
        .options(**{**options, "topics": ",".join(tx_topics + ue_topics), "priority_topics": ""})
        .load()
    )

    def clean(topics: list[str], stream: str) -> DataFrame:
        parsed = parse_and_validate(raw.where(F.col("topic").isin(topics)), stream, quality)
        return parsed.where(F.size("_failed_rules") == 0)

    joined = attribute_purchases(
        clean(ue_topics, "user-events"),
        clean(tx_topics, "transactions"),
        attribution_window_minutes,
        watermark_seconds,
    )

    ready = threading.Event()

    def write(batch: DataFrame, batch_id: int) -> None:
        if not ready.wait(60):
            raise PipelineError("the attribution query did not report its id within 60s")
        rows = first_per_transaction(batch.toArrow())
        sink.merge(TABLE_ATTRIBUTION, rows, ATTRIBUTION_SCHEMA, ["transaction_id"], batch_id)

    query = (
        joined.writeStream.foreachBatch(write)
        .option("checkpointLocation", checkpoint)
        .queryName(query_name)
        .trigger(processingTime=f"{trigger_seconds} seconds")
        .start()
    )
    # The id lives in the checkpoint: a restart continues the sequence, a new checkpoint starts one.
    sink.app_id = f"{app_id_prefix}/{query.id}"
    ready.set()
    return query
