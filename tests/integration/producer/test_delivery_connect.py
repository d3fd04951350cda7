"""``DeliveryEngine.connect``: the start-up request that has the producer connected before its first
record (the idempotent producer sends nothing until a broker it is connected to gives it an id)."""

from __future__ import annotations

from collections.abc import Callable

from ecap.broker import EmbeddedBroker, free_port
from ecap.kafka import client_config
from ecap.producer import DeliveryEngine


def test_connect_answers_from_the_broker_and_records_follow(
    broker: EmbeddedBroker, new_topic: Callable[..., str]
) -> None:
    topic = new_topic("connect", partitions=2)
    engine = DeliveryEngine(client_config(broker.bootstrap_servers), {topic: 1_000_000})
    try:
        assert engine.connect() is True
        engine.send_batch(topic, [b"a", b"b"], [b"1", b"2"], [1, 2])
    finally:
        engine.close(30)
    assert engine.stats[topic].delivered == 2


def test_connect_without_a_broker_gives_up_at_its_timeout_and_says_so() -> None:
    engine = DeliveryEngine({"bootstrap.servers": f"127.0.0.1:{free_port()}"}, {"t": 1_000_000})
    try:
        assert engine.connect(timeout_s=0.3) is False
    finally:
        engine.close(0)
