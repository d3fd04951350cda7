"""The main query hands clean purchases and session starts to the attribution join, once per batch."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ecap.pipeline.attribution_query import ATTRIBUTION_INPUT_SCHEMAS, AttributionInput
from ecap.schemas import TS

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _clean_events(sequences: list[int | None]) -> pa.Table:
    n = len(sequences)
    return pa.table(
        {
            "event_id": [f"evt_{i}" for i in range(n)],
            "session_id": [f"sess_{i}" for i in range(n)],
            "customer_id": [f"cust_{i:06d}" for i in range(n)],
            "channel": ["web"] * n,
            "event_time": pa.array([T0] * n, TS),
            "sequence": pa.array(sequences, pa.int32()),
            "page": ["/"] * n,
        }
    )


def _clean_purchases(ids: list[str]) -> pa.Table:
    return pa.table(
        {
            "transaction_id": ids,
            "session_id": ["sess_0"] * len(ids),
            "customer_id": ["cust_000000"] * len(ids),
            "event_time": pa.array([T0] * len(ids), TS),
            "total_amount": pa.array([10] * len(ids), pa.decimal128(12, 2)),
        }
    )


def test_session_starts_and_purchases_are_handed_over_once(tmp_path: Path) -> None:
    handover = AttributionInput(str(tmp_path / "input"))
    handover.prepare()
    clean = {"user-events": _clean_events([1, 2, None, 1]), "transactions": _clean_purchases(["txn_1"])}

    assert handover.write(7, clean) == {"user-events": 2, "transactions": 1}
    events = pq.read_table(tmp_path / "input" / "user-events")
    assert events.schema == ATTRIBUTION_INPUT_SCHEMAS["user-events"]
    assert events["session_id"].to_pylist() == ["sess_0", "sess_3"]  # first events of sessions only
    assert pq.read_table(tmp_path / "input" / "transactions")["transaction_id"].to_pylist() == ["txn_1"]

    # A replayed batch finds its files in place and writes nothing (no second copy for the join).
    replay = {"transactions": _clean_purchases(["txn_1", "txn_2"])}
    assert handover.write(7, replay) == {}
    assert pq.read_table(tmp_path / "input" / "transactions").num_rows == 1
    # No hidden temporary file is left for Spark's file source to trip over.
    assert sorted(p.name for p in (tmp_path / "input" / "transactions").iterdir()) == [
        "batch-000000000007.parquet"
    ]
    # A batch without session starts or purchases writes no empty file.
    assert handover.write(8, {"user-events": _clean_events([3])}) == {}
