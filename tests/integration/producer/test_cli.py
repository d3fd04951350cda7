"""``ecap produce``, ``ecap topics apply`` and ``ecap broker`` as a user runs them, on a real broker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from ecap.broker import EmbeddedBroker, free_port, port_is_open
from ecap.cli import main
from tests.fixtures.producer import consume

KEY_FIELDS = {"transactions": "customer_id", "user-events": "session_id", "product-updates": "product_id"}


def write_platform(path: Path, producer_spec: dict[str, Any], partitions: int = 3) -> dict[str, str]:
    """KafkaTopic resources with unique broker names plus one DataProducer; returns stream -> topic."""
    suffix = uuid.uuid4().hex[:6]
    topics = {stream: f"{stream}-{suffix}" for stream in KEY_FIELDS}
    refs = {"transactions": "transactions", "user-events": "userEvents", "product-updates": "productUpdates"}
    docs: list[dict[str, Any]] = []
    for stream, topic in topics.items():
        for name, spec in ((stream, {"topicName": topic, "partitions": partitions}),):
            docs.append(
                {
                    "apiVersion": "ecap.io/v1alpha1",
                    "kind": "KafkaTopic",
                    "metadata": {"name": name},
                    "spec": spec,
                }
            )
        docs.append(
            {
                "apiVersion": "ecap.io/v1alpha1",
                "kind": "KafkaTopic",
                "metadata": {"name": f"{stream}-dlq"},
                "spec": {"topicName": f"{topic}.dlq", "deadLetter": True},
            }
        )
    docs.append(
        {
            "apiVersion": "ecap.io/v1alpha1",
            "kind": "DataProducer",
            "metadata": {"name": "shop"},
            "spec": {"topics": {refs[s]: s for s in topics}, **producer_spec},
        }
    )
    path.write_text(yaml.safe_dump_all(docs))
    return topics


def test_produce_replays_generator_events_keyed_as_the_domain_says(
    broker: EmbeddedBroker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "platform.yaml"
    topics = write_platform(
        file, {"customers": 200, "products": 40, "seed": 7, "backfill": {"days": 1, "eventsPerDay": 400}}
    )
    bootstrap = ["--bootstrap-servers", broker.bootstrap_servers]
    assert main(["topics", "apply", "-f", str(file), *bootstrap]) == 0
    capsys.readouterr()

    code = main(["produce", "-f", str(file), *bootstrap, "--replay-days", "1", "--no-metrics"])

    out = capsys.readouterr().out
    assert code == 0, out
    summary = out.splitlines()[-4]
    produced = int(summary.split(" produced")[0].split()[-1])
    assert produced > 0 and "0 failed, 0 unaccounted" in summary
    total = 0
    for stream, topic in topics.items():
        line = next(line for line in out.splitlines() if line.strip().startswith(f"{topic}:"))
        delivered = int(line.split("delivered ")[1].split(",")[0])
        records = consume(broker.bootstrap_servers, topic, delivered)
        assert len(records) == delivered > 0, stream
        partitions_of_key: dict[bytes, set[int]] = {}
        for msg in records:
            event = json.loads(msg.value())
            assert msg.key() == event[KEY_FIELDS[stream]].encode(), (stream, event)
            partitions_of_key.setdefault(msg.key(), set()).add(msg.partition())
        assert all(len(p) == 1 for p in partitions_of_key.values())
        total += delivered
    assert total == produced


def test_produce_stops_after_the_requested_number_of_events(
    broker: EmbeddedBroker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "platform.yaml"
    write_platform(file, {"customers": 100, "products": 20, "rate": 300})
    bootstrap = ["--bootstrap-servers", broker.bootstrap_servers]
    assert main(["topics", "apply", "-f", str(file), *bootstrap]) == 0

    code = main(["produce", "-f", str(file), *bootstrap, "--events", "100", "--no-metrics"])

    out = capsys.readouterr().out
    assert code == 0, out
    assert "100 produced, 100 delivered, 0 dead-lettered, 0 failed, 0 unaccounted" in out


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"topics": {"transactions": "tx"}, "rate": -5}, "spec.rate"),
        ({"topics": {}}, "spec.topics"),
        ({"topics": {"transactions": "tx"}, "fraud": {"rate": 0.9}}, "spec.fraud.rate"),
        ({"topics": {"transactions": "tx"}, "metricsPort": 80}, "spec.metricsPort"),
        ({"topics": {"transactions": "tx"}, "sped": 1}, "spec.sped"),
    ],
)
def test_a_malformed_data_producer_exits_2_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], spec: dict[str, Any], field: str
) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text(
        yaml.safe_dump_all(
            [
                {
                    "apiVersion": "ecap.io/v1alpha1",
                    "kind": "KafkaTopic",
                    "metadata": {"name": "tx"},
                    "spec": {},
                },
                {
                    "apiVersion": "ecap.io/v1alpha1",
                    "kind": "DataProducer",
                    "metadata": {"name": "shop"},
                    "spec": spec,
                },
            ]
        )
    )

    code = main(["produce", "-f", str(file), "--bootstrap-servers", "127.0.0.1:1", "--no-metrics"])

    err = capsys.readouterr().err
    assert code == 2
    assert f"DataProducer/shop: {field}" in err


def test_a_reference_to_an_undeclared_topic_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "ecap.io/v1alpha1",
                "kind": "DataProducer",
                "metadata": {"name": "shop"},
                "spec": {"topics": {"transactions": "nowhere"}},
            }
        )
    )
    assert main(["produce", "-f", str(file), "--no-metrics"]) == 2
    assert "spec.topics.transactions: KafkaTopic 'nowhere' is not declared" in capsys.readouterr().err


def test_producing_to_topics_that_do_not_exist_exits_2_and_says_how_to_create_them(
    broker: EmbeddedBroker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "platform.yaml"
    topics = write_platform(file, {"rate": 100})

    code = main(["produce", "-f", str(file), "--bootstrap-servers", broker.bootstrap_servers, "--no-metrics"])

    err = capsys.readouterr().err
    assert code == 2
    assert topics["transactions"] in err and "ecap topics apply -f FILE" in err


def test_without_bootstrap_or_env_the_embedded_default_is_used_and_its_absence_explained(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ECAP_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.setattr("ecap.kafka.EMBEDDED_BOOTSTRAP", f"127.0.0.1:{free_port()}")  # surely nothing there
    file = tmp_path / "platform.yaml"
    write_platform(file, {"rate": 100})

    assert main(["topics", "apply", "-f", str(file)]) == 1

    assert "start one with `ecap broker`" in capsys.readouterr().err


def test_topics_apply_is_idempotent_reports_changes_and_refuses_fewer_partitions(
    broker: EmbeddedBroker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = f"orders-{uuid.uuid4().hex[:6]}"
    file = tmp_path / "topics.yaml"
    bootstrap = ["--bootstrap-servers", broker.bootstrap_servers]

    def declare(**spec: Any) -> None:
        doc = {"apiVersion": "ecap.io/v1alpha1", "kind": "KafkaTopic", "metadata": {"name": "orders"}}
        file.write_text(yaml.safe_dump({**doc, "spec": {"topicName": name, **spec}}))

    declare(partitions=4, replicas=3, retentionMs=1000)
    assert main(["topics", "apply", "-f", str(file), *bootstrap]) == 0
    first = capsys.readouterr()
    assert f"{name}: created (4 partitions)" in first.out
    assert "replicas 3 capped to 1" in first.err

    assert main(["topics", "apply", "-f", str(file), *bootstrap]) == 0
    assert capsys.readouterr().out.strip() == f"{name}: unchanged"

    declare(partitions=4, replicas=3, retentionMs=2000, config={"segment.bytes": "1048576"})
    assert main(["topics", "apply", "-f", str(file), *bootstrap, "--dry-run"]) == 0
    assert "would be altered" in capsys.readouterr().out
    assert main(["topics", "apply", "-f", str(file), *bootstrap]) == 0
    out = capsys.readouterr().out
    assert f"{name}: altered" in out and "retention.ms 1000 -> 2000" in out and "segment.bytes" in out
    assert main(["topics", "apply", "-f", str(file), *bootstrap]) == 0
    assert capsys.readouterr().out.strip() == f"{name}: unchanged"

    declare(partitions=2, retentionMs=2000, config={"segment.bytes": "1048576"})
    assert main(["topics", "apply", "-f", str(file), *bootstrap]) == 2
    assert "has 4 partitions and 2 are declared; Kafka cannot remove partitions" in capsys.readouterr().err

    declare(partitions=6, retentionMs=3000, config={"segment.bytes": "1048576"})
    assert main(["topics", "apply", "-f", str(file), *bootstrap]) == 2
    result = capsys.readouterr()
    assert "the broker cannot add partitions" in result.err
    assert "retention.ms 2000 -> 3000" in result.out  # the config change was still applied and reported


def test_broker_command_serves_until_sigterm(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ecap.cli", "broker", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert f"listening on 127.0.0.1:{port}" in first and "memory only" in first
        assert port_is_open("127.0.0.1", port)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        assert not port_is_open("127.0.0.1", port)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_the_container_entrypoint_serves_metrics_and_exits_0_on_sigterm_after_flushing(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    file = tmp_path / "platform.yaml"
    topics = write_platform(file, {"customers": 100, "products": 20, "rate": 200})
    assert main(["topics", "apply", "-f", str(file), "--bootstrap-servers", broker.bootstrap_servers]) == 0
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ecap.cli", "produce", "-f", str(file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={
            **os.environ,
            "ECAP_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "ECAP_METRICS_PORT": str(port),
        },
    )
    try:
        wanted = f'ecap_producer_delivered_total{{topic="{topics["user-events"]}"}}'
        deadline = time.monotonic() + 60
        metrics = ""
        while wanted not in metrics and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.3)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:  # noqa: S310
                    metrics = response.read().decode()
            except OSError:
                continue
        assert wanted in metrics, proc.stderr.read() if proc.poll() is not None and proc.stderr else metrics
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "SIGTERM received" in err
    assert " 0 failed, 0 unaccounted" in out
