"""``ecap up`` as a user runs it: a subprocess on the embedded default, checked against its own tables."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import yaml
from deltalake import DeltaTable

from ecap.broker import free_port

ROOT = Path(__file__).resolve().parents[2]
PLATFORM = ROOT / "manifests" / "examples" / "platform.yaml"
EVENTS = "2500"


def small_platform(tmp: Path) -> Path:
    """The example platform with small micro-batches, so a run has several batches to interrupt."""
    docs = list(yaml.safe_load_all(PLATFORM.read_text()))
    for doc in docs:
        if doc["kind"] == "StreamingPipeline":
            doc["spec"]["maxRecordsPerBatch"] = 1500
    path = tmp / "platform.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    return path


def up_command(resources: Path, lake: Path, metrics_port: int = 0) -> list[str]:
    return [
        sys.executable,
        "-m",
        "ecap.cli",
        "up",
        "-f",
        str(resources),
        "--lake",
        str(lake),
        "--events",
        EVENTS,
        "--json",
        "--metrics-port",
        str(metrics_port),
    ]


@dataclass
class UpRun:
    lake: Path
    summary: dict[str, Any]


def run_up(resources: Path, lake: Path) -> UpRun:
    done = subprocess.run(
        up_command(resources, lake), capture_output=True, text=True, timeout=900, cwd=ROOT, check=False
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return UpRun(lake, json.loads(done.stdout))


def rows(lake: Path, table: str, columns: list[str] | None = None) -> pa.Table:
    return pa.table(DeltaTable(str(lake / table)).to_pyarrow_table(columns=columns))


@pytest.fixture(scope="module")
def resources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_platform(tmp_path_factory.mktemp("resources"))


@pytest.fixture(scope="module")
def uninterrupted(resources: Path, tmp_path_factory: pytest.TempPathFactory) -> UpRun:
    return run_up(resources, tmp_path_factory.mktemp("up") / "lake")


@pytest.mark.slow
def test_summary_reconciles_exactly_with_the_tables(uninterrupted: UpRun) -> None:
    summary, lake = uninterrupted.summary, uninterrupted.lake
    assert summary["balanced"] is True and summary["interrupted"] is False
    clean_tables = {
        "transactions": "transactions",
        "user-events": "user_events",
        "product-updates": "product_updates",
    }
    quarantine = rows(lake, "quarantine", ["source_topic"]) if (lake / "quarantine").exists() else None
    quality = rows(lake, "data_quality", ["topic", "duplicates"])
    for stream, flow in summary["topics"].items():
        clean = rows(lake, clean_tables[stream], ["source_topic"])
        on_disk_clean = int(pc.sum(pc.equal(clean["source_topic"], flow["topic"])).as_py() or 0)
        on_disk_quarantined = (
            int(pc.sum(pc.equal(quarantine["source_topic"], flow["topic"])).as_py() or 0) if quarantine else 0
        )
        on_disk_duplicates = int(
            pc.sum(quality.filter(pc.equal(quality["topic"], flow["topic"]))["duplicates"]).as_py() or 0
        )
        assert flow["produced"] > 0, stream
        assert (flow["clean"], flow["quarantined"], flow["duplicates"]) == (
            on_disk_clean,
            on_disk_quarantined,
            on_disk_duplicates,
        )
        assert flow["produced"] == on_disk_clean + on_disk_quarantined + on_disk_duplicates, stream
        assert summary["produced"][flow["topic"]]["delivered"] == flow["produced"]
    for name, stats in summary["tables"].items():
        assert stats["rows"] == rows(lake, name).num_rows, name
    # Transaction ids are unique in the clean table: exactly once.
    ids = rows(lake, "transactions", ["transaction_id"])["transaction_id"]
    assert len(pc.unique(ids)) == len(ids)
    [run] = summary["segmentation"]
    segments = rows(lake, "customer_segments", ["run_id", "customer_id", "segment"])
    mine = segments.filter(pc.equal(segments["run_id"], run["runId"]))
    assert (
        run["customers"]
        == mine.num_rows
        == len(pc.unique(rows(lake, "transactions", ["customer_id"])["customer_id"]))
    )
    assert sum(run["segments"].values()) == run["customers"]
    assert Path(run["report"]).exists()


@pytest.mark.slow
def test_interrupted_run_resumes_to_the_same_tables(
    uninterrupted: UpRun, resources: Path, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    port = free_port()
    proc = subprocess.Popen(
        up_command(resources, lake, port),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        start_new_session=True,
    )
    try:
        first_batch = lake / "data_quality" / "_delta_log" / f"{0:020d}.json"
        scraped = ""
        deadline = time.monotonic() + 600
        while not first_batch.exists():
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "the pipeline never committed a batch"
            time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:  # noqa: S310
            scraped = response.read().decode()
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        out, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert "ecap_pipeline_records_in_total" in scraped
    assert proc.returncode == 130, err[-3000:]
    assert json.loads(out)["interrupted"] is True
    resumed = run_up(resources, lake)
    assert resumed.summary["balanced"] is True
    before = uninterrupted.lake
    for table, key in (
        ("transactions", "transaction_id"),
        ("user_events", "event_id"),
        ("product_updates", "event_id"),
        ("products", "product_id"),
    ):
        assert sorted(rows(lake, table, [key])[key].to_pylist()) == sorted(
            rows(before, table, [key])[key].to_pylist()
        )
    columns = ["customer_id", "segment", "rfm_code"]
    assert sorted(rows(lake, "customer_segments", columns).to_pylist(), key=str) == sorted(
        rows(before, "customer_segments", columns).to_pylist(), key=str
    )


BAD_FILES = {
    "unknown kind": (
        "kind: KafkaTopic\nmetadata: {name: transactions}",
        "kind: KafkaTopik\nmetadata: {name: transactions}",
        "KafkaTopik/transactions: unknown kind",
    ),
    "invalid field": ("  rate: 200\n", "  rate: -3\n", "DataProducer/shop-sessions: spec.rate"),
    "missing reference": (
        "sources: {transactions: transactions,",
        "sources: {transactions: orders,",
        "StreamingPipeline/shop-analytics: spec.sources.transactions: KafkaTopic 'orders'",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_resource_files_fail_fast_naming_resource_and_field(case: str, tmp_path: Path) -> None:
    old, new, expected = BAD_FILES[case]
    text = PLATFORM.read_text()
    assert old in text
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace(old, new, 1))
    lake = tmp_path / "lake"
    started = time.monotonic()
    done = subprocess.run(
        up_command(bad, lake), capture_output=True, text=True, timeout=120, cwd=ROOT, check=False
    )
    assert done.returncode == 2
    message = " ".join(done.stderr.split())
    assert expected in message, message
    assert not lake.exists(), "nothing may start before the file is valid"
    assert time.monotonic() - started < 60


@pytest.fixture
def taken_port() -> Iterator[int]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_taken_port_is_reported_with_what_to_do(taken_port: int, tmp_path: Path) -> None:
    command = [*up_command(PLATFORM, tmp_path / "lake"), "--broker-port", str(taken_port)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT, check=False)
    assert done.returncode == 2
    message = " ".join(done.stderr.split())
    assert (
        f"port {taken_port} for the embedded broker is already taken" in message
        and "--broker-port" in message
    )
