"""Delta Lake access shared by every job: delta-rs for writes and metadata, Spark for reads.

Spark here has no Delta jar, so it reads a table's current snapshot from the live file list that
delta-rs reports (never the raw folder, which still holds removed files).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.pandas.types import from_arrow_schema


class LakeError(RuntimeError):
    """A Delta table that is missing, unreadable or incompatible."""


def table_path(lake: str | Path, table: str) -> str:
    """Location of a table under the lake root (a local folder or an object-store URI)."""
    root = str(lake)
    return f"{root.rstrip('/')}/{table}"


def open_table(path: str, version: int | None = None) -> DeltaTable:
    try:
        table = DeltaTable(path)
    except TableNotFoundError:
        raise LakeError(f"no Delta table at {path}") from None
    if version is not None:
        table.load_as_version(version)
    return table


def table_exists(path: str) -> bool:
    return bool(DeltaTable.is_deltatable(path))


def arrow_schema(table: DeltaTable) -> pa.Schema:
    return pa.schema(table.schema().to_arrow())


def read_delta(spark: SparkSession, path: str, version: int | None = None) -> DataFrame:
    """The table's snapshot (optionally at a version) as a Spark DataFrame with its Delta schema."""
    table = open_table(path, version)
    schema = arrow_schema(table)
    files = table.file_uris()
    spark_schema = from_arrow_schema(schema)
    if not files:
        return spark.createDataFrame([], spark_schema)
    partition_cols = table.metadata().partition_columns
    reader = spark.read.schema(spark_schema)
    if partition_cols:
        reader = reader.option("basePath", path)
    # Columns come back in the parquet's order plus partition columns last: restore the table's.
    return reader.parquet(*files).select(*schema.names)
