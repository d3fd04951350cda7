"""The producer against a real broker process: delivery, keys and partitions, DLQ, shutdown accounting."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from confluent_kafka import murmur2

from ecap import schemas
from ecap.broker import EmbeddedBroker, free_port
from ecap.producer import DeliveryEngine, DeliverySettings, ProduceReport, RetryPolicy, run_producers
from ecap.producer.delivery import SHUTDOWN_REASON
from tests.fixtures.producer import consume, numbered_source, producer_resources


def test_every_record_is_delivered_and_keys_keep_their_partition(
    broker: EmbeddedBroker, new_topic: Callable[..., str]
) -> None:
    topic = new_topic("tx", partitions=3)
    resources = producer_resources({"transactions": topic}, mode="replay")

    report = run_producers(
        resources, broker.bootstrap_servers, events=1500, source_factory=numbered_source(per_batch=200)
    )

    assert report.ok, report.summary()
    assert (report.produced, report.delivered) == (1500, 1500)
    records = consume(broker.bootstrap_servers, topic, 1500)
    assert sorted(json.loads(m.value())["seq"] for m in records) == list(range(1500))
    partitions_of_key: dict[bytes, set[int]] = defaultdict(set)
    for msg in records:
        assert json.loads(msg.value())["key"].encode() == msg.key()
        partitions_of_key[msg.key()].add(msg.partition())
    assert len(partitions_of_key) == 37
    for key, partitions in partitions_of_key.items():
        # One partition per key, and the one a Java client (murmur2) would pick.
        assert partitions == {murmur2(key, 3)}, key


def test_a_record_over_max_message_bytes_goes_to_the_dlq_with_its_reason(
    broker: EmbeddedBroker, new_topic: Callable[..., str]
) -> None:
    topic = new_topic("small", partitions=2, config={"max.message.bytes": "2048"})
    dlq = topic + schemas.DLQ_SUFFIX
    new_topic_exact(broker, dlq)
    resources = producer_resources({"transactions": topic}, mode="replay")
    source = numbered_source(per_batch=100, oversize_every=100, oversize_bytes=5000)

    report = run_producers(resources, broker.bootstrap_servers, events=300, source_factory=source)

    assert report.ok, report.summary()
    assert (report.delivered, report.dead_lettered, report.failed) == (297, 3, 0)
    dead = consume(broker.bootstrap_servers, dlq, 3)
    assert len(dead) == 3
    for msg in dead:
        body = json.loads(msg.value())
        assert body["seq"] % 100 == 99
        assert msg.key() == body["key"].encode()  # the original key survives
        headers = {k: v.decode() for k, v in msg.headers() or []}
        assert headers[schemas.DLQ_HEADER_REASON].startswith("MSG_SIZE_TOO_LARGE: record of ")
        assert "2048" in headers[schemas.DLQ_HEADER_REASON]
        assert headers[schemas.DLQ_HEADER_ERROR_CODE] == "10"
        assert headers[schemas.DLQ_HEADER_SOURCE_TOPIC] == topic
        assert datetime.fromisoformat(headers[schemas.DLQ_HEADER_FAILED_AT].replace("Z", "+00:00"))
    assert len(consume(broker.bootstrap_servers, topic, 297)) == 297


def test_with_dead_letter_off_a_permanent_failure_is_counted_with_its_reason(
    broker: EmbeddedBroker, new_topic: Callable[..., str]
) -> None:
    topic = new_topic("small", partitions=1, config={"max.message.bytes": "2048"})
    resources = producer_resources({"transactions": topic}, deadLetter=False, mode="replay")
    source = numbered_source(per_batch=50, oversize_every=50, oversize_bytes=5000)

    report = run_producers(resources, broker.bootstrap_servers, events=100, source_factory=source)

    assert not report.ok
    assert report.topics[topic].failed == {"MSG_SIZE_TOO_LARGE": 2}
    assert (report.delivered, report.dead_lettered, report.unaccounted) == (98, 0, 0)


def test_stop_event_ends_a_realtime_run_and_everything_is_flushed(
    broker: EmbeddedBroker, new_topic: Callable[..., str]
) -> None:
    topic = new_topic("rt", partitions=2)
    resources = producer_resources({"transactions": topic}, rate=2000)
    stop = threading.Event()
    seen: list[ProduceReport] = []

    def progress(report: ProduceReport) -> None:
        seen.append(report)
        if report.delivered >= 300:
            stop.set()

    report = run_producers(
        resources,
        broker.bootstrap_servers,
        stop_event=stop,
        progress_callback=progress,
        progress_interval_s=0.1,
        source_factory=numbered_source(per_batch=50),
    )

    assert report.stopped_early and report.finished and report.ok, report.summary()
    assert report.delivered == report.produced >= 300
    # Realtime pacing: 2000 events/s means well under a second for what was produced, never a flood.
    assert report.produced < 2000 * report.elapsed_s + 1000
    assert len(consume(broker.bootstrap_servers, topic, report.delivered)) == report.delivered


def test_metrics_health_and_readiness_are_served_while_producing(
    broker: EmbeddedBroker, new_topic: Callable[..., str]
) -> None:
    topic = new_topic("m", partitions=1)
    resources = producer_resources({"transactions": topic}, rate=500)
    port = free_port()
    stop = threading.Event()
    result: dict[str, Any] = {}

    def run() -> None:
        result["report"] = run_producers(
            resources,
            broker.bootstrap_servers,
            stop_event=stop,
            metrics_port=port,
            source_factory=numbered_source(per_batch=20),
        )

    thread = threading.Thread(target=run)
    thread.start()
    try:
        metrics = ""
        deadline = time.monotonic() + 15
        while (
            time.monotonic() < deadline and f'ecap_producer_delivered_total{{topic="{topic}"}}' not in metrics
        ):
            time.sleep(0.2)
            try:
                metrics = fetch(port, "/metrics")[1]
            except OSError:
                continue
        assert f'ecap_producer_events_total{{topic="{topic}"}}' in metrics
        assert "ecap_producer_queue_depth" in metrics
        assert "ecap_producer_delivery_latency_seconds_bucket" in metrics
        assert fetch(port, "/healthz")[0] == 200
        assert fetch(port, "/readyz") == (200, "broker metadata ok\n")
    finally:
        stop.set()
        thread.join(60)
    assert result["report"].ok


def test_a_dead_broker_at_shutdown_leaves_nothing_unaccounted(dedicated_broker: EmbeddedBroker) -> None:
    topic = new_topic_exact(dedicated_broker, "tx-dead", partitions=2)
    resources = producer_resources({"transactions": topic}, rate=3000)
    stop = threading.Event()
    killed: dict[str, int] = {}

    def progress(report: ProduceReport) -> None:
        if report.delivered >= 200 and not killed:
            assert dedicated_broker.process is not None
            dedicated_broker.process.kill()
            killed["at"] = report.delivered
        elif killed and report.produced >= killed["at"] + 500:
            stop.set()

    report = run_producers(
        resources,
        dedicated_broker.bootstrap_servers,
        stop_event=stop,
        progress_callback=progress,
        progress_interval_s=0.1,
        flush_timeout_s=1.0,
        source_factory=numbered_source(per_batch=50),
    )

    assert report.finished and not report.ok
    assert report.unaccounted == 0
    assert report.produced == report.delivered + report.dead_lettered + report.failed
    # Whatever the dead broker did not acknowledge is reported, with the shutdown as its reason.
    assert report.topics[topic].failed == {SHUTDOWN_REASON: report.produced - report.delivered}
    assert report.produced - report.delivered > 0
    assert report.delivered >= 200


def test_retriable_failures_are_retried_with_backoff_then_reported() -> None:
    """No broker at all: records time out in librdkafka, we re-produce them, then give up with a reason."""
    port = free_port()  # nothing listens here
    settings = DeliverySettings(
        message_timeout_s=0.3, retry=RetryPolicy(max_attempts=2, base_s=0.05, cap_s=0.1)
    )
    engine = DeliveryEngine({"bootstrap.servers": f"127.0.0.1:{port}"}, {"t": 1_000_000}, settings)
    engine.send_batch("t", [b"k1", b"k2"], [b"v1", b"v2"], [0, 0])

    engine.close(timeout_s=10)

    stats = engine.stats["t"]
    assert stats.retries == 4  # two records, two re-produces each
    assert stats.failed == {"RETRIES_EXHAUSTED:_MSG_TIMED_OUT": 2}
    assert stats.outstanding == 0 and stats.delivered == 0


@pytest.mark.slow
def test_replay_bursts_are_not_paced(broker: EmbeddedBroker, new_topic: Callable[..., str]) -> None:
    topic = new_topic("rp", partitions=2)
    resources = producer_resources({"transactions": topic}, rate=1, mode="replay", backfill={"days": 1})

    report = run_producers(
        resources, broker.bootstrap_servers, events=5000, source_factory=numbered_source(per_batch=500)
    )

    # At rate 1/s pacing would take hours; replay ignores the rate.
    assert report.ok and report.delivered == 5000 and report.elapsed_s < 60


def fetch(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def new_topic_exact(broker: EmbeddedBroker, name: str, partitions: int = 1) -> str:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
    admin.create_topics([NewTopic(name, partitions, 1)])[name].result(15)
    return name


def test_an_interrupt_during_the_flush_stops_at_once_and_still_accounts_for_everything(
    dedicated_broker: EmbeddedBroker,
) -> None:
    topic = new_topic_exact(dedicated_broker, "tx-interrupt", partitions=1)
    resources = producer_resources({"transactions": topic}, rate=3000)
    stop = threading.Event()
    state: dict[str, bool] = {}

    def progress(report: ProduceReport) -> None:
        if report.delivered >= 200 and "killed" not in state:
            assert dedicated_broker.process is not None
            dedicated_broker.process.kill()
            state["killed"] = True
            stop.set()  # first signal: graceful, would flush for up to 60 s against a dead broker
        elif "killed" in state and "interrupted" not in state:
            state["interrupted"] = True
            raise KeyboardInterrupt  # second signal: do not wait

    report = run_producers(
        resources,
        dedicated_broker.bootstrap_servers,
        stop_event=stop,
        progress_callback=progress,
        progress_interval_s=0.1,
        flush_timeout_s=60.0,
        source_factory=numbered_source(per_batch=50),
    )

    assert report.stopped_early and report.finished and report.unaccounted == 0
    assert report.topics[topic].failed.get(SHUTDOWN_REASON, 0) > 0
    assert report.elapsed_s < 30  # the 60 s flush deadline was not awaited
