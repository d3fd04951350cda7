"""SIGKILL the pipeline process mid-run, restart it, and find every record exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pyarrow.compute as pc
import pytest
import yaml
from deltalake import DeltaTable

from tests.fixtures.pipeline import (
    PipelineTopics,
    encode,
    pipeline_resources,
    product_update,
    recent,
    transaction,
    user_event,
)


def _committed_batches(lake: Path) -> int:
    path = lake / "data_quality"
    if not (path / "_delta_log").exists():
        return 0
    return len(set(DeltaTable(str(path)).to_pyarrow_table(columns=["batch_id"])["batch_id"].to_pylist()))


def _run(resources: Path, bootstrap: str, lake: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, ECAP_SPARK_LOG_LEVEL="ERROR")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ecap.cli",
            "pipeline",
            "run",
            "-f",
            str(resources),
            "--lake",
            str(lake),
            "--bootstrap-servers",
            bootstrap,
            *extra,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


@pytest.mark.slow
def test_sigkill_and_restart_lose_nothing_and_duplicate_nothing(
    pipeline_topics: PipelineTopics, tmp_path: Path
) -> None:
    t = pipeline_topics
    lake = tmp_path / "lake"
    names = {
        "transactions": t.transactions,
        "user-events": t.user_events,
        "product-updates": t.product_updates,
        "fraud-alerts": t.fraud_alerts,
        "analytics-results": t.analytics_results,
    }
    # Small batches, so that the kill lands between batches or inside one.
    resources = tmp_path / "crash.yaml"
    resources.write_text(
        yaml.safe_dump_all(pipeline_resources(names, str(lake), extra_spec={"maxRecordsPerBatch": 100}))
    )
    t.produce(t.product_updates, [encode(product_update(p, recent(7200))) for p in range(1, 4)])
    txs = [transaction(n, recent(900 - n), product=1 + n % 3) for n in range(300)]
    t.produce(t.transactions, [encode(e) for e in txs] + [encode(e) for e in txs[:25]] + [b"garbage"] * 5)
    ues = [user_event(n, recent(800 - n), product=1 + n % 3) for n in range(150)]
    t.produce(t.user_events, [encode(e) for e in ues])

    first = _run(resources, t.bootstrap, lake, "--until-idle", "600")
    deadline = time.monotonic() + 240
    try:
        while _committed_batches(lake) < 2:
            assert first.poll() is None, first.stdout.read().decode() if first.stdout else ""
            assert time.monotonic() < deadline, "the pipeline committed no batch in time"
            time.sleep(0.2)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(30)
    killed_at = _committed_batches(lake)

    second = _run(resources, t.bootstrap, lake, "--until-idle", "3")
    out, _ = second.communicate(timeout=300)
    assert second.returncode == 0, out.decode()[-3000:]
    assert _committed_batches(lake) > killed_at

    tx = DeltaTable(str(lake / "transactions")).to_pyarrow_table(columns=["transaction_id"])
    counts = Counter(tx["transaction_id"].to_pylist())
    assert set(counts) == {e["transaction_id"] for e in txs}
    assert max(counts.values()) == 1
    ue = DeltaTable(str(lake / "user_events")).to_pyarrow_table(columns=["event_id"])
    assert sorted(ue["event_id"].to_pylist()) == sorted(e["event_id"] for e in ues)
    quarantine = DeltaTable(str(lake / "quarantine")).to_pyarrow_table()
    coords = Counter(
        zip(quarantine["source_partition"].to_pylist(), quarantine["source_offset"].to_pylist(), strict=True)
    )
    assert quarantine.num_rows == 5 and max(coords.values()) == 1
    dq = DeltaTable(str(lake / "data_quality")).to_pyarrow_table()
    tx_dq = dq.filter(pc.equal(dq["topic"], t.transactions))
    # Every Kafka record was counted in exactly one committed batch.
    assert pc.sum(tx_dq["records"]).as_py() == 330
    assert pc.sum(tx_dq["duplicates"]).as_py() == 25
    assert pc.sum(tx_dq["quarantined"]).as_py() == 5
    assert pc.sum(tx_dq["clean"]).as_py() == 300
    assert len(set(zip(dq["batch_id"].to_pylist(), dq["topic"].to_pylist(), strict=True))) == dq.num_rows
