"""Table management against real Delta tables on disk (delta-rs)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from ecap.cli import main
from ecap.lake import LakeError
from ecap.lake.tables import (
    DROP_MARKER,
    RetentionTooShort,
    SchemaChangeRefused,
    apply_table,
    describe_table,
    drop_table,
    optimize_table,
    parse_type,
    read_table_at,
    restore_table,
    run_maintenance,
    vacuum_table,
)
from ecap_operator.api import DeltaTableSpec

BASE: dict[str, Any] = {
    "tableName": "orders",
    "columns": [
        {"name": "order_id", "type": "string", "nullable": False},
        {"name": "customer_id", "type": "string"},
        {"name": "amount", "type": "decimal(12,2)"},
        {"name": "day", "type": "date", "nullable": False},
    ],
    "partitionBy": ["day"],
    "properties": {"delta.appendOnly": "false"},
    "maintenance": {"zOrderBy": ["customer_id"], "retentionHours": 168},
}


def spec(**changes: Any) -> DeltaTableSpec:
    return DeltaTableSpec.model_validate(BASE | changes)


def rows(n: int, start: int = 0, day: dt.date = dt.date(2026, 11, 1)) -> pa.Table:
    return pa.table(
        {
            "order_id": pa.array([f"o{i}" for i in range(start, start + n)], pa.string()),
            "customer_id": pa.array([f"c{i % 7}" for i in range(start, start + n)], pa.string()),
            "amount": pa.array([f"{i}.50" for i in range(start, start + n)]).cast(pa.decimal128(12, 2)),
            "day": pa.array([day] * n, pa.date32()),
        },
        schema=pa.schema(
            [
                pa.field("order_id", pa.string(), nullable=False),
                pa.field("customer_id", pa.string()),
                pa.field("amount", pa.decimal128(12, 2)),
                pa.field("day", pa.date32(), nullable=False),
            ]
        ),
    )


def write_manifest(folder: Path) -> Path:
    """A file holding the ``orders`` DeltaTable resource, as a user passes it to ``ecap table -f``."""
    manifest = folder / "tables.yaml"
    resource = {
        "apiVersion": "ecap.io/v1alpha1",
        "kind": "DeltaTable",
        "metadata": {"name": "orders"},
        "spec": BASE,
    }
    manifest.write_text(json.dumps(resource))
    return manifest


def test_parse_type_handles_nested_and_decimal() -> None:
    assert (
        json.loads(parse_type("array<struct<a:decimal(12,2),b:map<string,long>>>").to_json())["type"]
        == "array"
    )
    with pytest.raises(LakeError, match="unknown column type"):
        parse_type("varchar")
    with pytest.raises(LakeError, match="scale 5 is larger than precision 3"):
        parse_type("decimal(3,5)")


def test_apply_creates_then_is_idempotent(tmp_path: Path) -> None:
    where = str(tmp_path / "orders")
    first = apply_table(spec(), where)
    assert first.action == "created"
    table = DeltaTable(where)
    assert table.metadata().partition_columns == ["day"]
    assert [f.name for f in table.schema().fields] == ["order_id", "customer_id", "amount", "day"]
    assert apply_table(spec(), where).action == "unchanged"
    assert DeltaTable(where).version() == first.version


def test_additive_evolution_keeps_rows(tmp_path: Path) -> None:
    where = str(tmp_path / "orders")
    apply_table(spec(), where)
    write_deltalake(where, rows(5), mode="append")
    columns = [*BASE["columns"], {"name": "channel", "type": "string", "comment": "web or app"}]
    result = apply_table(spec(columns=columns), where)
    assert result.action == "evolved" and result.added_columns == ["channel"]
    data = DeltaTable(where).to_pyarrow_table()
    assert data.num_rows == 5 and data.column("channel").null_count == 5


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            {"columns": [{**BASE["columns"][0], "type": "long"}, *BASE["columns"][1:]]},
            "changes type from string to long",
        ),
        ({"partitionBy": []}, "partitionBy"),
        (
            {"columns": [*BASE["columns"], {"name": "x", "type": "long", "nullable": False}]},
            "declared nullable: false",
        ),
        (
            {
                "columns": [
                    BASE["columns"][0],
                    {**BASE["columns"][1], "nullable": False},
                    *BASE["columns"][2:],
                ]
            },
            "becomes nullable: false",
        ),
    ],
)
def test_breaking_changes_are_refused_with_reason(
    tmp_path: Path, change: dict[str, Any], reason: str
) -> None:
    where = str(tmp_path / "orders")
    apply_table(spec(), where)
    version = DeltaTable(where).version()
    maintenance = change.pop("maintenance", BASE["maintenance"] if "partitionBy" not in change else None)
    with pytest.raises(SchemaChangeRefused, match=reason):
        apply_table(spec(**change, maintenance=maintenance), where)
    assert DeltaTable(where).version() == version, "a refused change must not write anything"


def test_optimize_reduces_files_without_changing_rows(tmp_path: Path) -> None:
    where = str(tmp_path / "orders")
    apply_table(spec(), where)
    for i in range(6):
        write_deltalake(where, rows(10, start=i * 10), mode="append")
    before = describe_table(where)
    optimize_table(where, ["customer_id"])
    after = describe_table(where)
    assert before.num_files == 6 and after.num_files == 1
    assert after.num_rows == before.num_rows == 60
    assert sorted(DeltaTable(where).to_pyarrow_table().column("order_id").to_pylist()) == sorted(
        f"o{i}" for i in range(60)
    )
    assert after.last_optimize is not None and after.partitions == 1


def test_vacuum_respects_retention(tmp_path: Path) -> None:
    where = str(tmp_path / "orders")
    apply_table(spec(), where)
    for i in range(3):
        write_deltalake(where, rows(5, start=i * 5), mode="append")
    optimize_table(where)
    with pytest.raises(RetentionTooShort, match="below this table's minRetentionHours 168"):
        vacuum_table(where, retention_hours=0, min_retention_hours=168)
    # Inside the retention window nothing is removed, so time travel keeps working.
    assert vacuum_table(where, retention_hours=168, min_retention_hours=168, dry_run=False) == []
    assert read_table_at(where, version=1).num_rows == 5
    # With no floor, the three compacted-away files are candidates.
    assert len(vacuum_table(where, retention_hours=0, min_retention_hours=0, dry_run=True)) == 3


def test_time_travel_and_restore(tmp_path: Path) -> None:
    where = str(tmp_path / "orders")
    apply_table(spec(), where)
    write_deltalake(where, rows(3), mode="append")
    after_first = dt.datetime.now(dt.UTC)
    time.sleep(0.05)
    write_deltalake(where, rows(4, start=100), mode="overwrite")
    assert DeltaTable(where).to_pyarrow_table().num_rows == 4
    old = read_table_at(where, version=1)
    assert sorted(old.column("order_id").to_pylist()) == ["o0", "o1", "o2"]
    by_time = read_table_at(where, timestamp=after_first.isoformat())
    assert by_time.num_rows == 3
    restore_table(where, version=1)
    assert sorted(DeltaTable(where).to_pyarrow_table().column("order_id").to_pylist()) == ["o0", "o1", "o2"]
    with pytest.raises(LakeError, match="cannot travel to 99"):
        read_table_at(where, version=99)


def test_cli_apply_describe_maintain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = write_manifest(tmp_path)
    lake = str(tmp_path / "lake")
    assert main(["table", "apply", "-f", str(manifest), "--lake", lake, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["action"] == "created"
    for i in range(3):
        write_deltalake(f"{lake}/orders", rows(4, start=i * 4), mode="append")
    assert main(["table", "maintain", "-f", str(manifest), "--lake", lake, "--json"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert done["optimize"]["numFilesRemoved"] == 3 and done["vacuum"]["files_deleted"] == 0
    assert main(["table", "describe", "-f", str(manifest), "--lake", lake, "--json"]) == 0
    described = json.loads(capsys.readouterr().out)
    assert described["num_rows"] == 12 and described["num_files"] == 1
    assert main(["table", "vacuum", "-f", str(manifest), "--lake", lake, "--retention-hours", "1"]) == 2
    assert "below this table's minRetentionHours" in capsys.readouterr().err


def test_maintenance_switched_off_does_nothing(tmp_path: Path) -> None:
    where = str(tmp_path / "orders")
    off = spec(maintenance={**BASE["maintenance"], "enabled": False})
    apply_table(off, where)
    for i in range(2):
        write_deltalake(where, rows(3, start=i * 3), mode="append")
    assert "skipped" in run_maintenance(off, where)
    assert describe_table(where).num_files == 2


def test_drop_deletes_the_table_and_is_repeatable(tmp_path: Path) -> None:
    where = str(tmp_path / "lake" / "orders")
    apply_table(spec(), where)
    write_deltalake(where, rows(5), mode="append")
    result = drop_table(where)
    assert result.dropped and result.version == 1 and result.files >= 2 and result.bytes > 0
    assert not (tmp_path / "lake" / "orders").exists()
    assert (tmp_path / "lake").is_dir()  # the lake itself and other tables stay
    again = drop_table(where)
    assert not again.dropped and again.files == 0


def test_a_drop_cut_short_is_finished_by_the_next_attempt(tmp_path: Path) -> None:
    where = tmp_path / "orders"
    apply_table(spec(), str(where))
    write_deltalake(str(where), rows(5), mode="append")
    # What a pod killed after the marker and the log were gone (data files half deleted) leaves behind.
    (where / DROP_MARKER).write_text("dropping\n")
    shutil.rmtree(where / "_delta_log")
    assert not DeltaTable.is_deltatable(str(where))
    result = drop_table(str(where))
    assert result.dropped and result.version is None and result.files >= 1
    assert not where.exists()


def test_drop_refuses_a_folder_that_is_not_a_delta_table(tmp_path: Path) -> None:
    folder = tmp_path / "orders"
    folder.mkdir()
    (folder / "notes.csv").write_text("precious,data\n")
    with pytest.raises(LakeError, match="not a Delta table"):
        drop_table(str(folder))
    assert (folder / "notes.csv").read_text() == "precious,data\n"


def test_cli_drop_needs_confirmation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = write_manifest(tmp_path)
    lake = str(tmp_path / "lake")
    assert main(["table", "apply", "-f", str(manifest), "--lake", lake]) == 0
    capsys.readouterr()
    assert main(["table", "drop", "-f", str(manifest), "--lake", lake]) == 2
    assert "--yes" in capsys.readouterr().err
    assert DeltaTable.is_deltatable(f"{lake}/orders")
    assert main(["table", "drop", "-f", str(manifest), "--lake", lake, "--yes", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["dropped"] is True
    assert not DeltaTable.is_deltatable(f"{lake}/orders")
