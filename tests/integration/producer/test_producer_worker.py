"""The producer with its generator worker process, on a real broker: pacing kept, clean stops, no orphans."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from ecap.broker import EmbeddedBroker
from ecap.cli import main
from ecap.producer import producer_jobs, run_producers
from ecap.producer.worker import shop_chunks
from ecap.topics import apply_topics
from tests.fixtures.producer import consume, producer_resources
from tests.integration.producer.test_cli import write_platform


def _children(pid: int) -> set[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return {int(p) for p in path.read_text().split()} if path.exists() else set()


def _gone(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"


def test_live_mode_sends_no_event_before_its_time(broker: EmbeddedBroker) -> None:
    """The worker generates ahead; the producer still releases each record at its event time."""
    topic = f"clicks-{uuid.uuid4().hex[:6]}"
    # A low rate keeps the warm start (the sessions a live shop already has open) short.
    resources = producer_resources({"user-events": topic}, customers=300, products=40, rate=40)
    apply_topics(resources, broker.bootstrap_servers)
    report = run_producers(resources, broker.bootstrap_servers, duration=2.5)
    finished_ms = int(time.time() * 1000)
    assert report.ok and report.produced > 0, report.summary()
    records = consume(broker.bootstrap_servers, topic, report.delivered)
    assert len(records) == report.delivered
    stamps = [msg.timestamp()[1] for msg in records]
    assert max(stamps) <= finished_ms
    # Windows of one second are generated ahead of the clock; none of their future events went out.
    assert min(stamps) >= finished_ms - 60_000


def test_two_producers_in_one_file_each_deliver_their_own_whole_stream(broker: EmbeddedBroker) -> None:
    """One worker per DataProducer (forked one after the other); each topic gets exactly its stream."""
    suffix = uuid.uuid4().hex[:6]
    backfill = {"days": 1, "end": "2026-03-02", "eventsPerDay": 600}
    shop = {"customers": 300, "products": 30, "backfill": backfill}
    resources = [
        *producer_resources({"transactions": f"orders-a-{suffix}"}, name="a", seed=1, **shop),
        *producer_resources({"user-events": f"clicks-b-{suffix}"}, name="b", seed=2, **shop),
    ]
    apply_topics(resources, broker.bootstrap_servers)
    jobs = producer_jobs(resources, broker.bootstrap_servers, replay=True)
    expected: dict[str, list[bytes]] = {}
    for job in jobs:
        for chunk in shop_chunks(job.resource.spec, job.plan, 0.0):
            for batch in chunk:
                expected.setdefault(job.topics[batch.stream], []).extend(batch.value_list())

    report = run_producers(resources, broker.bootstrap_servers, replay=True)

    assert report.ok, report.summary()
    for topic, values in expected.items():
        assert values and report.topics[topic].delivered == len(values)
        records = consume(broker.bootstrap_servers, topic, len(values))
        assert sorted(msg.value() or b"" for msg in records) == sorted(values)


@pytest.mark.slow
def test_ctrl_c_in_a_terminal_flushes_and_leaves_no_generator_process(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """SIGINT reaches the whole process group; the producer flushes, its worker goes with it."""
    file = tmp_path / "platform.yaml"
    write_platform(file, {"customers": 200, "products": 30, "rate": 50})
    assert main(["topics", "apply", "-f", str(file), "--bootstrap-servers", broker.bootstrap_servers]) == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "ecap.cli", "produce", "-f", str(file), "--no-metrics"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "ECAP_BOOTSTRAP_SERVERS": broker.bootstrap_servers},
        start_new_session=True,  # its own process group, like a shell job
    )
    try:
        workers: set[int] = set()
        deadline = time.monotonic() + 30
        while not workers and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
            workers = _children(proc.pid)
        assert workers, "the producer started no generator worker process"
        time.sleep(3.0)  # let it produce for a moment
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, err
    assert "SIGINT received" in err
    assert " 0 failed, 0 unaccounted" in out
    produced = int(out.split(" produced")[0].split()[-1])
    assert produced > 0
    assert all(_gone(pid) for pid in workers)
    assert "Traceback" not in err
