"""Alerts and KPI rows back to Kafka (``fraud-alerts``, ``analytics-results``), at least once.

The producer is idempotent (no duplicates from its own retries), and every batch's messages are
flushed BEFORE the matching Delta commit. A crash between the flush and the commit replays the
batch and sends its messages again: consumers see at-least-once delivery, with deterministic keys
and ids (``alert_id`` from the transaction id; a KPI message is identified by metric, window and
dimensions, and carries the window's running value, so a repeat is an idempotent overwrite).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa
from confluent_kafka import KafkaError, Message, Producer

from .errors import SinkError


class KafkaOutputs:
    """One idempotent producer for the pipeline's output topics (role -> broker topic)."""

    def __init__(
        self, config: Mapping[str, Any], topics: Mapping[str, str], flush_timeout_s: float = 60.0
    ) -> None:
        self.topics = dict(topics)
        self.flush_timeout_s = flush_timeout_s
        self._producer: Producer | None = Producer(
            {
                **config,
                "enable.idempotence": True,
                "linger.ms": 20,
                "compression.type": "lz4",
                "queue.buffering.max.messages": 1_000_000,
            }
        )
        self.sent: dict[str, int] = {}

    def send(self, role: str, messages: pa.Table) -> int:
        """Produce ``key``/``value`` rows to the role's topic and wait for every acknowledgement."""
        topic = self.topics.get(role)
        if topic is None or messages.num_rows == 0:
            return 0
        if self._producer is None:
            raise SinkError(f"{topic}: the pipeline's Kafka outputs are closed")
        producer = self._producer
        errors: list[str] = []

        def delivered(err: KafkaError | None, _msg: Message) -> None:
            if err is not None:
                errors.append(err.str())

        keys = messages["key"].to_pylist()
        values = messages["value"].to_pylist()
        for key, value in zip(keys, values, strict=True):
            while True:
                try:
                    producer.produce(topic, value=value, key=key, on_delivery=delivered)
                    break
                except BufferError:
                    producer.poll(0.1)
        remaining = producer.flush(self.flush_timeout_s)
        if remaining or errors:
            raise SinkError(
                f"{topic}: {remaining} messages unacknowledged after {self.flush_timeout_s:.0f}s; "
                f"errors: {sorted(set(errors))[:3]}"
            )
        self.sent[role] = self.sent.get(role, 0) + len(keys)
        return len(keys)

    def close(self) -> None:
        """Flush and destroy the client now: left to the garbage collector, librdkafka would keep
        reconnecting (and logging) after the broker is gone, e.g. at the end of ``ecap up``."""
        producer, self._producer = self._producer, None
        if producer is None:
            return
        remaining = producer.flush(self.flush_timeout_s)
        del producer
        if remaining:
            raise SinkError(f"{remaining} output messages unacknowledged at close")
