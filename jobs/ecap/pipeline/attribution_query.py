"""Sessions -> purchases attribution as its own streaming query: a stream-stream interval join.

The main query hands its clean rows over: after validating, deduplicating and applying the
referential rule, each micro-batch writes the few columns the join needs (purchases, and the first
event of each session) as one Parquet file per stream and batch under
``<pipeline checkpoint>/attribution-input/<stream>/``. This query reads those folders with Spark's
file source (which records the files it has processed in its own checkpoint and deletes them once
committed) and joins them with
:func:`ecap.pipeline.analytics.attribution.attribute_purchases` (watermarks on both sides, so the
join state is bounded). Reading Kafka a second time and validating every record again cost as much
as the main query's own read and parse; the hand-over costs one small file write per batch.

A hand-over file appears atomically (written under a hidden name, then renamed) before the batch
commits any table, and a replayed batch (same offsets, same clean rows) finds it in place and
skips it. Each micro-batch of the join is MERGEd into ``attribution`` on ``transaction_id`` with
the query's own application transaction: replays collapse onto one row per purchase. Its checkpoint
is ``<pipeline checkpoint>/attribution-join``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming.query import StreamingQuery

from ecap.schemas import TABLE_ATTRIBUTION, TS

from .analytics.attribution import ATTRIBUTION_SCHEMA, FIRST_SEQUENCE, attribute_purchases
from .analytics.spark_types import spark_schema
from .delta_sink import DeltaSink
from .errors import PipelineError

ATTRIBUTION_INPUT_SCHEMAS: Final[dict[str, pa.Schema]] = {
    "transactions": pa.schema(
        [
            pa.field("transaction_id", pa.string()),
            pa.field("session_id", pa.string()),
            pa.field("customer_id", pa.string()),
            pa.field("event_time", TS),
        ]
    ),
    "user-events": pa.schema(
        [
            pa.field("session_id", pa.string()),
            pa.field("customer_id", pa.string()),
            pa.field("channel", pa.string()),
            pa.field("event_time", TS),
            pa.field("sequence", pa.int32()),
        ]
    ),
}
"""What the join reads of each stream's clean rows (user events: session starts only)."""


def first_per_transaction(rows: pa.Table) -> pa.Table:
    """One row per transaction_id (duplicate Kafka records or session starts join more than once)."""
    if rows.num_rows == 0:
        return rows
    indexed = rows.append_column("_row", pa.array(range(rows.num_rows), pa.int64()))
    firsts = indexed.group_by("transaction_id", use_threads=False).aggregate([("_row", "min")])
    keep = pc.take(firsts["_row_min"], pc.sort_indices(firsts["_row_min"]))
    return rows.take(keep)


def attribution_input_rows(stream: str, clean: pa.Table) -> pa.Table:
    """The columns (and, for user events, the session starts) the join needs from clean rows."""
    schema = ATTRIBUTION_INPUT_SCHEMAS[stream]
    rows = clean.select(schema.names).cast(schema)
    if stream == "user-events":
        rows = rows.filter(pc.fill_null(pc.equal(rows["sequence"], FIRST_SEQUENCE), False))
    return rows


def _filesystem(root: str) -> tuple[pafs.FileSystem, str]:
    """Arrow's filesystem for a Spark path (``s3a://`` is Arrow's ``s3://``; a bare path is local)."""
    if "://" not in root:
        return pafs.LocalFileSystem(), str(Path(root).resolve())
    scheme, rest = root.split("://", 1)
    uri = f"s3://{rest}" if scheme == "s3a" else root
    filesystem, path = pafs.FileSystem.from_uri(uri)
    return filesystem, str(path)


class AttributionInput:
    """The folders through which the main query hands clean rows to the attribution join."""

    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/")
        self._fs, self._base = _filesystem(self.root)

    def folder(self, stream: str) -> str:
        """Where Spark reads ``stream`` (the root's own scheme)."""
        return f"{self.root}/{stream}"

    def prepare(self) -> None:
        """Create the folders (Spark's file source needs them to exist when the query starts)."""
        for stream in ATTRIBUTION_INPUT_SCHEMAS:
            self._fs.create_dir(f"{self._base}/{stream}", recursive=True)

    def write(self, batch_id: int, clean: Mapping[str, pa.Table]) -> dict[str, int]:
        """Hand a batch's clean rows over, once: a file already there (a replay) is kept as it is."""
        written: dict[str, int] = {}
        for stream in ATTRIBUTION_INPUT_SCHEMAS:
            rows = clean.get(stream)
            if rows is None:
                continue
            selected = attribution_input_rows(stream, rows)
            if selected.num_rows == 0:
                continue
            final = f"{self._base}/{stream}/batch-{batch_id:012d}.parquet"
            if self._fs.get_file_info(final).type != pafs.FileType.NotFound:
                continue
            hidden = f"{self._base}/{stream}/.batch-{batch_id:012d}.parquet.tmp"
            pq.write_table(selected, hidden, filesystem=self._fs)
            self._fs.move(hidden, final)
            written[stream] = selected.num_rows
        return written


def start_attribution_query(
    spark: SparkSession,
    handover: AttributionInput,
    attribution_window_minutes: int,
    watermark_seconds: int,
    checkpoint: str,
    sink: DeltaSink,
    app_id_prefix: str,
    trigger_seconds: float,
    query_name: str,
) -> StreamingQuery:
    """Start the join over the hand-over folders; ``handover.prepare()`` must have run."""

    def read(stream: str) -> DataFrame:
        return (
            spark.readStream.schema(spark_schema(ATTRIBUTION_INPUT_SCHEMAS[stream]))
            .option("cleanSource", "delete")
            .parquet(handover.folder(stream))
        )

    joined = attribute_purchases(
        read("user-events"), read("transactions"), attribution_window_minutes, watermark_seconds
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
