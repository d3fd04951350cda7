"""Exactly-once Delta commits: a replayed batch id is skipped per table and per query identity."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable

from ecap.pipeline.delta_sink import DeltaSink

SCHEMA = pa.schema([pa.field("id", pa.string(), nullable=False), pa.field("value", pa.int64())])


def _rows(*pairs: tuple[str, int]) -> pa.Table:
    return pa.table({"id": [p[0] for p in pairs], "value": [p[1] for p in pairs]}, schema=SCHEMA)


def test_append_skips_a_batch_the_table_already_has(tmp_path: Path) -> None:
    sink = DeltaSink(str(tmp_path), "query-a")
    assert sink.append("t", _rows(("a", 1), ("b", 2)), SCHEMA, batch_id=0)
    assert not sink.append("t", _rows(("a", 1), ("b", 2)), SCHEMA, batch_id=0)  # replay
    assert sink.append("t", _rows(("c", 3)), SCHEMA, batch_id=1)
    table = DeltaTable(str(tmp_path / "t"))
    assert sorted(table.to_pyarrow_table()["id"].to_pylist()) == ["a", "b", "c"]
    assert table.transaction_version("query-a") == 1
    # Another query identity (a new checkpoint) has its own sequence.
    other = DeltaSink(str(tmp_path), "query-b")
    assert not other.committed("t", 0)
    assert other.append("t", _rows(("d", 4)), SCHEMA, batch_id=0)


def test_merge_upserts_once_per_batch(tmp_path: Path) -> None:
    sink = DeltaSink(str(tmp_path), "q")
    assert sink.merge("m", _rows(("a", 1), ("b", 1)), SCHEMA, ["id"], batch_id=0)
    assert sink.merge("m", _rows(("a", 5), ("c", 1)), SCHEMA, ["id"], batch_id=1)
    assert not sink.merge("m", _rows(("a", 99)), SCHEMA, ["id"], batch_id=1)
    rows = dict(
        zip(
            *(DeltaTable(str(tmp_path / "m")).to_pyarrow_table()[c].to_pylist() for c in ("id", "value")),
            strict=True,
        )
    )
    assert rows == {"a": 5, "b": 1, "c": 1}
