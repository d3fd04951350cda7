"""Events/s through the ``ecap produce`` code path, side by side with raw confluent-kafka, in one run.

Starts an embedded broker, then measures on the same machine, one after the other:

1. ``ecap produce`` path: ``run_producers`` replaying one day with the real shop generator
   (generate + serialise + deliver + account), from start to the last acknowledgement;
2. delivery only: the same ``run_producers`` path fed with the bytes of run 1, pre-generated
   (what the producer layer itself costs: pacing loop, retries/DLQ bookkeeping, callbacks);
3. raw: a bare confluent-kafka ``Producer`` (same settings) producing those same bytes.

Prints events/s for each and the ratios to raw. Targets: >= 100k events/s from one process and a
ratio (produce path / raw) >= 0.5.

    python bench/producer_throughput.py [--events-per-day 300000] [--seed 42]
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta

from confluent_kafka import Producer
from pydantic import BaseModel

from ecap.broker import EmbeddedBroker, free_port
from ecap.generator import EventBatch, ShopGenerator
from ecap.kafka import client_config
from ecap.producer import DeliverySettings, run_producers
from ecap.producer.delivery import KAFKA_DEFAULT_MAX_MESSAGE_BYTES, producer_config
from ecap.producer.runner import RunPlan
from ecap.topics import apply_topics
from ecap_operator.api import DataProducerSpec, Resource, parse_resource

TARGET_EVENTS_PER_S = 100_000
TARGET_RATIO = 0.5
DAY = date(2026, 3, 2)  # an ordinary Monday
STREAM_FIELDS = {
    "transactions": "transactions",
    "user-events": "userEvents",
    "product-updates": "productUpdates",
}


def platform(suffix: str, events_per_day: int, seed: int) -> list[Resource[BaseModel]]:
    docs: list[dict[str, object]] = []
    refs: dict[str, str] = {}
    for stream, field in STREAM_FIELDS.items():
        refs[field] = stream
        docs.append(
            {
                "apiVersion": "ecap.io/v1alpha1",
                "kind": "KafkaTopic",
                "metadata": {"name": stream},
                "spec": {"topicName": f"{stream}-{suffix}", "partitions": 6, "compressionType": "lz4"},
            }
        )
        docs.append(
            {
                "apiVersion": "ecap.io/v1alpha1",
                "kind": "KafkaTopic",
                "metadata": {"name": f"{stream}-dlq"},
                "spec": {"topicName": f"{stream}-{suffix}.dlq", "deadLetter": True},
            }
        )
    docs.append(
        {
            "apiVersion": "ecap.io/v1alpha1",
            "kind": "DataProducer",
            "metadata": {"name": "shop"},
            "spec": {
                "topics": refs,
                "seed": seed,
                "customers": 100_000,
                "products": 5_000,
                "mode": "replay",
                "backfill": {"days": 1, "end": DAY.isoformat(), "eventsPerDay": events_per_day},
            },
        }
    )
    return [parse_resource(doc) for doc in docs]


def pregenerated(
    chunks: list[list[EventBatch]],
) -> Callable[[DataProducerSpec, RunPlan, Callable[[], float]], Iterator[Sequence[EventBatch]]]:
    def factory(
        spec: DataProducerSpec, plan: RunPlan, now: Callable[[], float]
    ) -> Iterator[Sequence[EventBatch]]:
        return iter(chunks)

    return factory


def raw_produce(
    bootstrap: str, chunks: list[list[EventBatch]], topic_of: dict[str, str]
) -> tuple[int, float]:
    """The floor: a bare confluent-kafka loop over the same pre-serialised records, same settings."""
    config = producer_config(client_config(bootstrap), DeliverySettings(), KAFKA_DEFAULT_MAX_MESSAGE_BYTES)
    producer = Producer(config)
    sent = 0
    started = time.perf_counter()
    for chunk in chunks:
        for batch in chunk:
            topic = topic_of[batch.stream]
            for key, value, ts in zip(batch.keys, batch.values, batch.timestamps_ms, strict=True):
                while True:
                    try:
                        producer.produce(topic, value, key, timestamp=ts)
                        break
                    except BufferError:
                        producer.poll(0.05)
            sent += len(batch.values)
            producer.poll(0)
    remaining = producer.flush(120)
    elapsed = time.perf_counter() - started
    if remaining:
        raise SystemExit(f"raw producer: {remaining} records not delivered")
    return sent, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events-per-day", type=int, default=300_000, help="volume of the replayed day")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    with EmbeddedBroker(port=free_port()) as broker:
        bootstrap = broker.bootstrap_servers
        config = client_config(bootstrap)

        # 1. the ecap produce path, generator included
        path_resources = platform(uuid.uuid4().hex[:6], args.events_per_day, args.seed)
        apply_topics(path_resources, config)
        cpu = time.process_time()
        report = run_producers(path_resources, bootstrap, flush_timeout_s=120)
        path_cpu = time.process_time() - cpu
        assert report.ok, report.summary()
        path_rate = report.produced / report.elapsed_s

        # The same bytes, generated up front, for the delivery-only and raw runs.
        spec = path_resources[-1].spec
        assert isinstance(spec, DataProducerSpec)
        start = datetime.combine(DAY, datetime.min.time(), tzinfo=UTC)
        gen_started, cpu = time.perf_counter(), time.process_time()
        chunks = list(ShopGenerator(spec).replay(start, start + timedelta(days=1), args.events_per_day))
        gen_elapsed, gen_cpu = time.perf_counter() - gen_started, time.process_time() - cpu
        total = sum(len(b.values) for chunk in chunks for b in chunk)
        mean_bytes = sum(len(v) for chunk in chunks for b in chunk for v in b.values) / max(total, 1)

        # 2. delivery only: run_producers on the pre-generated chunks
        only_resources = platform(uuid.uuid4().hex[:6], args.events_per_day, args.seed)
        apply_topics(only_resources, config)
        cpu = time.process_time()
        only = run_producers(
            only_resources, bootstrap, flush_timeout_s=120, source_factory=pregenerated(chunks)
        )
        only_cpu = time.process_time() - cpu
        assert only.ok and only.produced == total, only.summary()
        only_rate = only.produced / only.elapsed_s

        # 3. raw confluent-kafka
        suffix = uuid.uuid4().hex[:6]
        apply_topics(platform(suffix, args.events_per_day, args.seed), config)
        topic_of = {stream: f"{stream}-{suffix}" for stream in STREAM_FIELDS}
        cpu = time.process_time()
        sent, raw_elapsed = raw_produce(bootstrap, chunks, topic_of)
        raw_cpu = time.process_time() - cpu
        raw_rate = sent / raw_elapsed

    load = os.getloadavg()[0]
    print(f"records: {total:,} ({mean_bytes:.0f} B mean value) for one replayed day; load average {load:.1f}")
    print(
        f"{'run':<46} {'events':>10} {'wall s':>7} {'events/s':>10} {'/ raw':>6} {'cpu s':>6} {'ev/cpu-s':>9}"
    )
    rows = [
        ("ecap produce path (generate+produce+account)", report.produced, report.elapsed_s, path_cpu),
        ("delivery only (pre-generated bytes)", only.produced, only.elapsed_s, only_cpu),
        ("raw confluent-kafka (same bytes, same config)", sent, raw_elapsed, raw_cpu),
        ("generator alone (no Kafka)", total, gen_elapsed, gen_cpu),
    ]
    for name, events, seconds, cpu_s in rows:
        rate = events / seconds
        print(
            f"{name:<46} {events:>10,} {seconds:>7.2f} {rate:>10,.0f} {rate / raw_rate:>6.2f} "
            f"{cpu_s:>6.2f} {events / cpu_s:>9,.0f}"
        )
    print("(cpu s: this process, all threads, librdkafka included; the broker is another process)")
    print(
        f"ecap produce path: {path_rate:,.0f} events/s (target {TARGET_EVENTS_PER_S:,}: "
        f"{'met' if path_rate >= TARGET_EVENTS_PER_S else 'NOT met'}); "
        f"ratio to raw {path_rate / raw_rate:.2f} "
        f"(target {TARGET_RATIO}: {'met' if path_rate / raw_rate >= TARGET_RATIO else 'NOT met'})"
    )
    print(
        f"delivery layer alone: {only_rate:,.0f} events/s, ratio to raw {only_rate / raw_rate:.2f} "
        f"(target {TARGET_RATIO}: {'met' if only_rate / raw_rate >= TARGET_RATIO else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
