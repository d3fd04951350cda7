"""Metric names and labels (dashboards and alerts depend on them) and the health endpoints."""

from __future__ import annotations

import re
import urllib.error
import urllib.request

from prometheus_client import generate_latest

from ecap.broker import free_port
from ecap.kafka import BrokerUnreachableError
from ecap.producer.delivery import DeliveryEngine
from ecap.producer.metrics import HealthServer, ProducerCollector, ReadinessProbe, new_registry


def engine_with_an_account() -> DeliveryEngine:
    # No broker needed: a producer client connects lazily, and nothing is sent here.
    engine = DeliveryEngine({"bootstrap.servers": f"127.0.0.1:{free_port()}"}, {"orders": 1_000_000})
    stats = engine.stats["orders"]
    stats.produced, stats.delivered, stats.dead_lettered, stats.retries = 10, 6, 1, 4
    stats.failed["SHUTDOWN_DEADLINE"] = 3
    engine.latency.observe(0.004)
    engine.latency.observe(0.2)
    return engine


def test_the_documented_metrics_with_their_labels() -> None:
    collector = ProducerCollector()
    engine = engine_with_an_account()
    collector.engines.append(engine)
    text = generate_latest(new_registry([collector])).decode()
    # librdkafka counts its own protocol requests (a pending metadata request to the unreachable
    # bootstrap) in the queue length, so the exact depth is whatever the engine reports right now.
    depth = re.search(r"^ecap_producer_queue_depth (\d+)\.0$", text, re.MULTILINE)
    assert depth is not None and int(depth[1]) <= engine.queue_depth() + 1
    for line in (
        'ecap_producer_events_total{topic="orders"} 10.0',
        'ecap_producer_delivered_total{topic="orders"} 6.0',
        'ecap_producer_delivery_failures_total{reason="SHUTDOWN_DEADLINE",topic="orders"} 3.0',
        'ecap_producer_dlq_total{topic="orders"} 1.0',
        'ecap_producer_retries_total{topic="orders"} 4.0',
        "ecap_producer_client_rebuilds_total 0.0",
        'ecap_producer_delivery_latency_seconds_bucket{le="0.005"} 1.0',
        'ecap_producer_delivery_latency_seconds_bucket{le="+Inf"} 2.0',
        "ecap_producer_delivery_latency_seconds_count 2.0",
    ):
        assert line in text, line


def test_two_producers_add_up() -> None:
    collector = ProducerCollector()
    collector.engines.extend([engine_with_an_account(), engine_with_an_account()])
    text = generate_latest(new_registry([collector])).decode()
    assert 'ecap_producer_events_total{topic="orders"} 20.0' in text


def test_readyz_is_503_with_the_reason_while_the_broker_does_not_answer() -> None:
    calls: list[int] = []

    def broker_away() -> None:
        calls.append(1)
        raise BrokerUnreachableError("no Kafka broker answered at k:9092")

    server = HealthServer(
        free_port(),
        new_registry([ProducerCollector()]),
        alive=lambda: True,
        readiness=ReadinessProbe(broker_away),
    ).start()
    try:
        for _ in range(2):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{server.port}/readyz", timeout=5)  # noqa: S310
                raise AssertionError("readyz answered 200")
            except urllib.error.HTTPError as err:
                assert err.code == 503
                assert "no Kafka broker answered" in err.read().decode()
        assert len(calls) == 1  # cached: probes do not hammer the broker
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=5) as response:  # noqa: S310
            assert response.status == 200
    finally:
        server.stop()
