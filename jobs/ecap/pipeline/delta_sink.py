"""Exactly-once Delta writes with delta-rs: one application transaction per table and micro-batch.

Every commit carries ``Transaction(app_id, batch_id)``. delta-rs records it but does not enforce it,
so before writing we read ``transaction_version(app_id)`` and skip a batch the table already holds.
A micro-batch writes several tables; each table's own check makes the replay of a half-written batch
(after a crash between two commits) write exactly the tables that are missing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake
from deltalake.exceptions import DeltaError, TableNotFoundError

from ecap.lake import table_path

from .errors import SinkError

log = logging.getLogger(__name__)


def conform(data: pa.Table, schema: pa.Schema) -> pa.Table:
    """The table's exact schema: column order, types and nullability (extra columns dropped)."""
    missing = [name for name in schema.names if name not in data.column_names]
    if missing:
        raise SinkError(f"rows lack table columns {missing}")
    return data.select(schema.names).cast(schema)


@dataclass
class DeltaSink:
    """Writes the tables of one lake for one query identity (``app_id``)."""

    lake: str
    app_id: str
    storage_options: dict[str, str] | None = None
    written: dict[str, int] = field(default_factory=dict)
    """Rows committed per table by this sink (skipped replays not counted)."""

    def path(self, table: str) -> str:
        return table_path(self.lake, table)

    def open(self, table: str) -> DeltaTable | None:
        try:
            return DeltaTable(self.path(table), storage_options=self.storage_options)
        except TableNotFoundError:
            return None

    def committed(self, table: str, batch_id: int) -> bool:
        """Whether this query already committed ``batch_id`` (or a later one) to ``table``."""
        existing = self.open(table)
        if existing is None:
            return False
        version = existing.transaction_version(self.app_id)
        return version is not None and version >= batch_id

    def _commit(self, batch_id: int) -> CommitProperties:
        return CommitProperties(
            app_transactions=[Transaction(self.app_id, batch_id)],
            custom_metadata={"ecap.app_id": self.app_id, "ecap.batch_id": str(batch_id)},
        )

    def ensure(self, table: str, schema: pa.Schema, partition_by: Sequence[str] = ()) -> DeltaTable:
        """Open the table, creating it empty with ``schema`` when it does not exist yet."""
        existing = self.open(table)
        if existing is not None:
            return existing
        try:
            return DeltaTable.create(
                self.path(table),
                schema,
                mode="ignore",
                partition_by=list(partition_by) or None,
                storage_options=self.storage_options,
            )
        except DeltaError as err:
            raise SinkError(f"cannot create Delta table {self.path(table)}: {err}") from err

    def append(
        self,
        table: str,
        rows: pa.Table,
        schema: pa.Schema,
        batch_id: int,
        partition_by: Sequence[str] = (),
    ) -> bool:
        """Append ``rows`` as batch ``batch_id``; False when the table already has that batch."""
        if rows.num_rows == 0:
            return False
        if self.committed(table, batch_id):
            log.info("%s: batch %d already committed by %s, skipped", table, batch_id, self.app_id)
            return False
        self.ensure(table, schema, partition_by)
        try:
            write_deltalake(
                self.path(table),
                conform(rows, schema),
                mode="append",
                partition_by=list(partition_by) or None,
                schema_mode="merge",
                storage_options=self.storage_options,
                commit_properties=self._commit(batch_id),
            )
        except DeltaError as err:
            raise SinkError(f"append to {self.path(table)} failed: {err}") from err
        self.written[table] = self.written.get(table, 0) + rows.num_rows
        return True

    def merge(
        self,
        table: str,
        rows: pa.Table,
        schema: pa.Schema,
        keys: Sequence[str],
        batch_id: int,
        partition_by: Sequence[str] = (),
    ) -> bool:
        """Upsert ``rows`` on ``keys`` (update all columns / insert) as batch ``batch_id``."""
        if rows.num_rows == 0:
            return False
        if self.committed(table, batch_id):
            log.info("%s: batch %d already merged by %s, skipped", table, batch_id, self.app_id)
            return False
        target = self.ensure(table, schema, partition_by)
        predicate = " AND ".join(f"t.{k} = s.{k}" for k in keys)
        try:
            (
                target.merge(
                    conform(rows, schema),
                    predicate,
                    source_alias="s",
                    target_alias="t",
                    commit_properties=self._commit(batch_id),
                )
                .when_matched_update_all()
                .when_not_matched_insert_all()
                .execute()
            )
        except DeltaError as err:
            raise SinkError(f"merge into {self.path(table)} failed: {err}") from err
        self.written[table] = self.written.get(table, 0) + rows.num_rows
        return True

    def read(
        self, table: str, columns: Sequence[str] | None = None, dates: Sequence[object] | None = None
    ) -> pa.Table | None:
        """The table's current rows (optionally some columns, some ``event_date`` partitions)."""
        existing = self.open(table)
        if existing is None:
            return None
        partitions = existing.metadata().partition_columns
        filters = None
        if dates is not None and "event_date" in partitions:
            if not dates:
                return existing.to_pyarrow_table(columns=list(columns) if columns else None).slice(0, 0)
            filters = [("event_date", "in", [str(d) for d in dates])]
        data = existing.to_pyarrow_table(columns=list(columns) if columns else None, partitions=filters)
        if dates is not None and "event_date" not in partitions and "event_date" in data.column_names:
            data = data.filter(pc.is_in(data["event_date"], pa.array(list(dates), pa.date32())))
        return data
