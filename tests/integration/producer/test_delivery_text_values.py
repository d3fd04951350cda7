"""Values handed over as JSON text (what the generator worker ships): the same bytes on the wire, and
the size limit counts UTF-8 bytes, not characters."""

from __future__ import annotations

import json
from collections.abc import Callable

from ecap import schemas
from ecap.broker import EmbeddedBroker
from ecap.kafka import client_config
from ecap.producer import DeliveryEngine
from tests.fixtures.producer import consume
from tests.integration.producer.test_delivery import new_topic_exact


def test_text_values_arrive_as_their_utf8_bytes_and_oversize_text_is_dead_lettered(
    broker: EmbeddedBroker, new_topic: Callable[..., str]
) -> None:
    topic = new_topic("text", partitions=1, config={"max.message.bytes": "2048"})
    new_topic_exact(broker, topic + schemas.DLQ_SUFFIX)
    fits = json.dumps({"city": "Zürich", "n": 1}, ensure_ascii=False)
    # 1,000 characters but 2,000 bytes: over the 2,048-byte limit only when counted in bytes.
    too_large = json.dumps({"city": "é" * 1000}, ensure_ascii=False)
    engine = DeliveryEngine(client_config(broker.bootstrap_servers), {topic: 2048})
    try:
        engine.send_batch(topic, [b"k1", b"k2", b"k3"], [fits, too_large, "{}"], [1, 2, 3])
    finally:
        engine.close(30)

    stats = engine.stats[topic]
    assert (stats.produced, stats.delivered, stats.dead_lettered, stats.failed_total) == (3, 2, 1, 0)
    records = consume(broker.bootstrap_servers, topic, 2)
    assert [m.value() for m in records] == [fits.encode(), b"{}"]
    [dead] = consume(broker.bootstrap_servers, topic + schemas.DLQ_SUFFIX, 1)
    assert dead.value() == too_large.encode() and dead.key() == b"k2"
    reason = dict(dead.headers() or [])[schemas.DLQ_HEADER_REASON].decode()
    assert reason.startswith("MSG_SIZE_TOO_LARGE: record of 20")
