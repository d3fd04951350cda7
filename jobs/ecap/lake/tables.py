"""Managed Delta tables: create and evolve from a ``DeltaTable`` spec, describe, maintain, time travel.

Everything goes through delta-rs, so table management needs no JVM and runs in a small Job pod.
Evolution is additive only: a change that would rewrite or lose data is refused with the reason.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
from deltalake import DeltaTable
from deltalake.exceptions import DeltaError
from deltalake.schema import ArrayType, DataType, Field, MapType, PrimitiveType, Schema, StructType

from ecap_operator.api import DeltaTableSpec

from . import LakeError, open_table, table_exists, table_path

PRIMITIVES = frozenset(
    {
        "string",
        "long",
        "integer",
        "short",
        "byte",
        "double",
        "float",
        "boolean",
        "timestamp",
        "timestamp_ntz",
        "date",
        "binary",
    }
)
_DECIMAL = re.compile(r"^decimal\((\d+),(\d+)\)$")


class SchemaChangeRefused(LakeError):
    """The declared schema differs from the table's in a way that cannot be applied in place."""


class RetentionTooShort(LakeError):
    """A VACUUM retention below the table's declared minimum (time travel would break)."""


# ---------------------------------------------------------------- declared schema


def _split_top_level(text: str) -> list[str]:
    """Split ``a,b<c,d>,e`` on the commas that are not inside angle brackets or parentheses."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "<(":
            depth += 1
        elif ch in ">)":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


def parse_type(text: str) -> DataType:
    """A Delta type from the spec's type string: primitives, ``decimal(p,s)``, array/map/struct."""
    text = text.strip()
    if text in PRIMITIVES:
        return PrimitiveType(text)
    match = _DECIMAL.match(text)
    if match:
        precision, scale = int(match[1]), int(match[2])
        if scale > precision:
            raise LakeError(f"type {text!r}: scale {scale} is larger than precision {precision}")
        return PrimitiveType(text)
    if text.startswith("array<") and text.endswith(">"):
        return ArrayType(parse_type(text[6:-1]), contains_null=True)
    if text.startswith("map<") and text.endswith(">"):
        parts = _split_top_level(text[4:-1])
        if len(parts) != 2:
            raise LakeError(f"type {text!r}: a map needs exactly a key and a value type")
        return MapType(parse_type(parts[0]), parse_type(parts[1]), value_contains_null=True)
    if text.startswith("struct<") and text.endswith(">"):
        fields = []
        for part in _split_top_level(text[7:-1]):
            name, sep, inner = part.partition(":")
            if not sep or not name.strip():
                raise LakeError(f"type {text!r}: struct fields are written name:type, got {part!r}")
            fields.append(Field(name.strip(), parse_type(inner), nullable=True))
        return StructType(fields)
    raise LakeError(f"unknown column type {text!r}")


def declared_schema(spec: DeltaTableSpec) -> Schema:
    fields = []
    for column in spec.columns:
        metadata = {"comment": column.comment} if column.comment else {}
        fields.append(
            Field(column.name, parse_type(column.type), nullable=column.nullable, metadata=metadata)
        )
    return Schema(fields)


def spec_location(spec: DeltaTableSpec, resource_name: str, lake: str | None = None) -> str:
    """Where the table lives: ``<lake>/<tableName>``; ``lake`` overrides the spec's (local runs)."""
    return table_path(lake or spec.lake, spec.table_name or resource_name.replace("-", "_"))


# ---------------------------------------------------------------- apply


@dataclass
class ApplyResult:
    location: str
    action: str  # created | evolved | unchanged
    version: int
    added_columns: list[str] = field(default_factory=list)
    relaxed_not_null: list[str] = field(default_factory=list)
    properties_set: dict[str, str] = field(default_factory=dict)
    undeclared_columns: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _type_json(data_type: DataType) -> str:
    """The Delta protocol's JSON for a type: the exact thing two schemas are compared by."""
    if isinstance(data_type, PrimitiveType):
        return str(data_type.type)
    return str(data_type.to_json())


def plan_evolution(
    current: Schema, current_partitions: list[str], spec: DeltaTableSpec
) -> tuple[list[Field], list[str], list[str]]:
    """Columns to add, columns whose NOT NULL to drop, and undeclared columns kept as they are.

    Raises SchemaChangeRefused, naming every breaking difference, before anything is written.
    """
    wanted = declared_schema(spec)
    existing = {f.name: f for f in current.fields}
    problems: list[str] = []
    if list(spec.partition_by) != list(current_partitions):
        problems.append(
            f"partitionBy {list(spec.partition_by)} differs from the table's {current_partitions}: "
            "repartitioning rewrites every file; create a new table and copy the data"
        )
    to_add: list[Field] = []
    relax: list[str] = []
    for column in wanted.fields:
        have = existing.get(column.name)
        if have is None:
            if not column.nullable:
                problems.append(
                    f"new column {column.name!r} is declared nullable: false, but existing rows have no "
                    "value for it; add it as nullable"
                )
            to_add.append(column)
            continue
        if _type_json(have.type) != _type_json(column.type):
            problems.append(
                f"column {column.name!r} changes type from {_type_json(have.type)} to "
                f"{_type_json(column.type)}: Delta cannot change a type in place; add a new column instead"
            )
        if have.nullable and not column.nullable:
            problems.append(
                f"column {column.name!r} becomes nullable: false, but the table may already hold nulls"
            )
        elif not have.nullable and column.nullable:
            relax.append(column.name)
    if problems:
        raise SchemaChangeRefused("breaking schema change refused:\n  - " + "\n  - ".join(problems))
    declared = {c.name for c in spec.columns}
    undeclared = [name for name in existing if name not in declared]
    return to_add, relax, undeclared


def apply_table(spec: DeltaTableSpec, location: str, name: str | None = None) -> ApplyResult:
    """Create the table, or evolve it additively towards the spec. Idempotent."""
    properties = dict(spec.properties)
    if not table_exists(location):
        table = DeltaTable.create(
            location,
            declared_schema(spec),
            mode="error",
            partition_by=list(spec.partition_by) or None,
            name=name,
            description=spec.description,
            configuration=properties or None,
        )
        return ApplyResult(location, "created", table.version(), properties_set=properties)
    table = open_table(location)
    meta = table.metadata()
    to_add, relax, undeclared = plan_evolution(table.schema(), list(meta.partition_columns), spec)
    if to_add:
        table.alter.add_columns(to_add)
    for column in relax:
        table.alter.drop_column_not_null(column)
    changed = {k: v for k, v in properties.items() if meta.configuration.get(k) != v}
    if changed:
        table.alter.set_table_properties(changed)
    if spec.description and spec.description != meta.description:
        table.alter.set_table_description(spec.description)
    table = open_table(location)
    evolved = bool(to_add or relax or changed)
    return ApplyResult(
        location,
        "evolved" if evolved else "unchanged",
        table.version(),
        added_columns=[f.name for f in to_add],
        relaxed_not_null=relax,
        properties_set=changed,
        undeclared_columns=undeclared,
    )


# ---------------------------------------------------------------- describe and history


@dataclass
class TableDescription:
    location: str
    version: int
    num_files: int
    size_bytes: int
    num_rows: int
    partition_columns: list[str]
    partitions: int
    columns: list[dict[str, Any]]
    last_optimize: str | None
    last_vacuum: str | None
    created: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def describe_table(location: str) -> TableDescription:
    table = open_table(location)
    actions = pa.table(table.get_add_actions(flatten=True))
    meta = table.metadata()
    partition_cols = list(meta.partition_columns)
    partitions = 0
    if partition_cols and actions.num_rows:
        keys = [f"partition.{c}" for c in partition_cols if f"partition.{c}" in actions.column_names]
        partitions = len(actions.select(keys).group_by(keys).aggregate([])) if keys else 0
    history = table.history()
    last: dict[str, int] = {}
    for entry in history:  # newest first
        op = str(entry.get("operation", ""))
        kind = "optimize" if op == "OPTIMIZE" else "vacuum" if op.startswith("VACUUM") else None
        if kind and kind not in last:
            last[kind] = int(entry["timestamp"])
    created = min((int(e["timestamp"]) for e in history if e.get("timestamp")), default=None)
    columns = [
        {"name": f.name, "type": _type_json(f.type), "nullable": f.nullable} for f in table.schema().fields
    ]
    return TableDescription(
        location=location,
        version=table.version(),
        num_files=actions.num_rows,
        size_bytes=int(pc.sum(actions["size_bytes"]).as_py() or 0) if actions.num_rows else 0,
        num_rows=int(pc.sum(actions["num_records"]).as_py() or 0) if actions.num_rows else 0,
        partition_columns=partition_cols,
        partitions=partitions,
        columns=columns,
        last_optimize=_iso(last.get("optimize")),
        last_vacuum=_iso(last.get("vacuum")),
        created=_iso(created),
    )


def table_history(location: str, limit: int | None = None) -> list[dict[str, Any]]:
    """Commits newest first: version, time, operation and its metrics."""
    out = []
    for entry in open_table(location).history(limit):
        out.append(
            {
                "version": entry.get("version"),
                "timestamp": _iso(entry.get("timestamp")),
                "operation": entry.get("operation"),
                "parameters": entry.get("operationParameters", {}),
                "metrics": entry.get("operationMetrics", {}),
            }
        )
    return out


# ---------------------------------------------------------------- maintenance


def optimize_table(location: str, z_order_by: list[str] | None = None) -> dict[str, Any]:
    """Compact small files, clustering rows by ``z_order_by`` when given. Rows never change."""
    table = open_table(location)
    if z_order_by:
        metrics = table.optimize.z_order(z_order_by)
    else:
        metrics = table.optimize.compact()
    return dict(metrics)


def vacuum_table(
    location: str, retention_hours: int, min_retention_hours: int, dry_run: bool = True
) -> list[str]:
    """Files no longer in the table and older than the retention; removed unless ``dry_run``.

    The floor is ours, not delta-rs's: the table declares how far back time travel must work.
    """
    if retention_hours < min_retention_hours:
        raise RetentionTooShort(
            f"retention {retention_hours} h is below this table's minRetentionHours {min_retention_hours} h; "
            "time travel inside that window must keep working"
        )
    table = open_table(location)
    return list(
        table.vacuum(retention_hours=retention_hours, dry_run=dry_run, enforce_retention_duration=False)
    )


# ---------------------------------------------------------------- drop


@dataclass
class DropResult:
    location: str
    dropped: bool
    """False when there was nothing at the location (dropping twice is not an error)."""
    version: int | None
    files: int
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _filesystem(location: str) -> tuple[pafs.FileSystem, str]:
    """Arrow's filesystem and path for a table location (``s3a://`` is Arrow's ``s3://``)."""
    scheme, sep, rest = location.partition("://")
    uri = f"s3://{rest}" if sep and scheme == "s3a" else location
    if not sep:
        return pafs.LocalFileSystem(), location
    filesystem, path = pafs.FileSystem.from_uri(uri)
    return filesystem, path


DROP_MARKER = "_ecap_dropping"
"""Written into a table's folder before anything is deleted: a drop cut short (a killed pod) leaves a
folder that may no longer look like a Delta table, and the marker lets the next attempt finish it."""


def drop_table(location: str) -> DropResult:
    """Delete a Delta table: its data files, its log and its folder (deletionPolicy Delete).

    Only a folder that is a Delta table (or one a cut-short drop left marked) is deleted, so a
    mistyped location never removes other data; a location with nothing there reports
    ``dropped=False``. The log goes last, so until the data files are gone it still reads as a table.
    """
    filesystem, path = _filesystem(location)
    info = filesystem.get_file_info(path)
    if info.type == pafs.FileType.NotFound:
        return DropResult(location, dropped=False, version=None, files=0, bytes=0)
    marker = f"{path.rstrip('/')}/{DROP_MARKER}"
    resuming = filesystem.get_file_info(marker).type == pafs.FileType.File
    version: int | None = None
    if table_exists(location):
        version = open_table(location).version()
    elif not resuming:
        raise LakeError(f"{location} exists but is not a Delta table (no _delta_log): refusing to delete it")
    contents = filesystem.get_file_info(pafs.FileSelector(path, recursive=True))
    files = [e for e in contents if e.type == pafs.FileType.File and e.path != marker]
    if not resuming:
        with filesystem.open_output_stream(marker) as out:
            out.write(b"this table is being dropped (deletionPolicy Delete)\n")
    root = path.rstrip("/")
    log_dir = f"{root}/_delta_log"
    for entry in filesystem.get_file_info(pafs.FileSelector(root)):  # top level: data files, partitions
        if entry.path in {log_dir, marker}:
            continue
        if entry.type == pafs.FileType.Directory:
            filesystem.delete_dir(entry.path)
        else:
            filesystem.delete_file(entry.path)
    if filesystem.get_file_info(log_dir).type == pafs.FileType.Directory:
        filesystem.delete_dir(log_dir)
    filesystem.delete_dir(path)
    return DropResult(
        location, dropped=True, version=version, files=len(files), bytes=sum(f.size or 0 for f in files)
    )


# ---------------------------------------------------------------- time travel


def _target(version: int | None, timestamp: str | None) -> int | datetime:
    if (version is None) == (timestamp is None):
        raise LakeError("give exactly one of a version or a timestamp")
    if version is not None:
        return version
    assert timestamp is not None  # noqa: S101 - checked above
    moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def read_table_at(location: str, version: int | None = None, timestamp: str | None = None) -> pa.Table:
    """The table's rows as they were at a version or a point in time."""
    table = open_table(location)
    try:
        table.load_as_version(_target(version, timestamp))
    except DeltaError as err:
        raise LakeError(
            f"{location}: cannot travel to {version if version is not None else timestamp}: {err}"
        ) from err
    return pa.table(table.to_pyarrow_table())


def restore_table(location: str, version: int | None = None, timestamp: str | None = None) -> dict[str, Any]:
    """Make an earlier version current again, as a new commit (history is kept)."""
    table = open_table(location)
    return dict(table.restore(_target(version, timestamp)))


def spec_type(arrow_type: pa.DataType) -> str:
    """The ``DeltaTable`` column type string for an Arrow type (the inverse of ``parse_type``)."""
    simple = {
        pa.string(): "string",
        pa.large_string(): "string",
        pa.int64(): "long",
        pa.int32(): "integer",
        pa.int16(): "short",
        pa.int8(): "byte",
        pa.float64(): "double",
        pa.float32(): "float",
        pa.bool_(): "boolean",
        pa.date32(): "date",
        pa.binary(): "binary",
        pa.large_binary(): "binary",
    }
    if arrow_type in simple:
        return simple[arrow_type]
    if pa.types.is_timestamp(arrow_type):
        return "timestamp" if arrow_type.tz else "timestamp_ntz"
    if pa.types.is_decimal(arrow_type):
        return f"decimal({arrow_type.precision},{arrow_type.scale})"
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return f"array<{spec_type(arrow_type.value_type)}>"
    if pa.types.is_map(arrow_type):
        return f"map<{spec_type(arrow_type.key_type)},{spec_type(arrow_type.item_type)}>"
    if pa.types.is_struct(arrow_type):
        inner = ",".join(f"{f.name}:{spec_type(f.type)}" for f in arrow_type)
        return f"struct<{inner}>"
    raise LakeError(f"no Delta column type for Arrow type {arrow_type}")


def run_maintenance(spec: DeltaTableSpec, location: str) -> dict[str, Any]:
    """One maintenance pass as declared: optimize (with Z-order), then vacuum; returns what it did."""
    done: dict[str, Any] = {"location": location}
    plan = spec.maintenance
    if plan is None or not plan.enabled:
        return done | {"skipped": "maintenance is switched off in the spec"}
    if plan.optimize:
        done["optimize"] = optimize_table(location, list(plan.z_order_by))
    if plan.vacuum:
        removed = vacuum_table(location, plan.retention_hours, spec.min_retention_hours, dry_run=False)
        done["vacuum"] = {"files_deleted": len(removed), "retention_hours": plan.retention_hours}
    return done
