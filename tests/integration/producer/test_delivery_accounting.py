"""Delivery reports are counted a batch at a time: the account and the latency histogram stay exact."""

from __future__ import annotations

from collections.abc import Callable

from ecap.broker import EmbeddedBroker
from ecap.generator import pack_records
from ecap.kafka import client_config
from ecap.producer import DeliveryEngine
from ecap.producer.delivery import LatencyHistogram
from tests.fixtures.producer import consume


def test_observe_many_buckets_like_observe_one_by_one() -> None:
    values = [0.0, 0.001, 0.0011, 0.0025, 0.003, 0.7, 1.0, 59.0, 60.0, 61.0, 1e6]
    one_by_one, batched = LatencyHistogram(), LatencyHistogram()
    for value in values:
        one_by_one.observe(value)
    batched.observe_many(values)
    batched.observe_many([])
    assert batched.counts == one_by_one.counts
    assert abs(batched.total - one_by_one.total) < 1e-9


def test_every_delivery_is_counted_once_per_topic_and_timed_once(
    broker: EmbeddedBroker, new_topic: Callable[..., str]
) -> None:
    first, second = new_topic("acct-a", partitions=2), new_topic("acct-b", partitions=1)
    engine = DeliveryEngine(client_config(broker.bootstrap_servers), {first: 1_000_000, second: 1_000_000})
    try:
        for round_ in range(3):
            keys = [f"k{i % 7}".encode() for i in range(400)]
            values = [f'{{"round":{round_},"n":{i}}}' for i in range(400)]
            engine.send_packed(first, pack_records("user-events", keys, values, list(range(400))))
            engine.send_packed(second, pack_records("transactions", keys, values, list(range(400))), 100, 250)
            engine.service(0.05)
    finally:
        engine.close(30)

    assert (engine.stats[first].produced, engine.stats[first].delivered) == (1200, 1200)
    assert (engine.stats[second].produced, engine.stats[second].delivered) == (450, 450)
    assert engine.stats[first].outstanding == 0 and engine.stats[second].outstanding == 0
    assert sum(engine.latency.counts) == 1650 and engine.latency.total > 0
    records = consume(broker.bootstrap_servers, second, 450)
    expected = {f'{{"round":{r},"n":{i}}}'.encode() for r in range(3) for i in range(100, 250)}
    assert {r.value() for r in records} == expected  # records [100, 250) of each batch
    assert {r.key() for r in records} == {f"k{i}".encode() for i in range(7)}
