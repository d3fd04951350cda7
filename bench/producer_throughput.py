"""Events/s through the ``ecap produce`` code path, side by side with raw confluent-kafka, in one run.

Generates the replayed day once up front (the "generator alone" row: the same records every run
sends), starts an embedded broker, warms it up the same way for every run (a few chunks produced
raw to topics of their own), then measures on the same machine, one after the other, on fresh topics:

1. ``ecap produce`` path: ``run_producers`` replaying one day with the real shop generator
   (generate in the worker process + serialise + deliver + account), from the start (generator
   worker started) to the last acknowledgement;
2. delivery only: the same ``run_producers`` path fed with the same bytes, pre-generated
   (what the producer layer itself costs: pacing loop, retries/DLQ bookkeeping, callbacks);
3. raw: a bare confluent-kafka ``Producer`` (same settings) producing those same bytes.

Prints events/s for each and the ratios to raw, with CPU seconds (this process plus the generator
worker; the broker's own CPU in a separate column). ``--rounds N`` repeats the three runs and prints
medians. Targets: >= 100k events/s from one process and a ratio (produce path / raw) >= 0.5.

    python bench/producer_throughput.py [--events-per-day 300000] [--seed 42] [--rounds 1]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from confluent_kafka import Producer
from pydantic import BaseModel

from ecap.broker import EmbeddedBroker, free_port
from ecap.generator import EventBatch, PackedBatch, ShopGenerator, unpacked
from ecap.kafka import client_config
from ecap.producer import DeliverySettings, producer_jobs, run_producers
from ecap.producer.delivery import KAFKA_DEFAULT_MAX_MESSAGE_BYTES, producer_config
from ecap.producer.runner import RunPlan
from ecap.producer.worker import GeneratorWorker, start_method
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
    chunks: list[list[PackedBatch]],
) -> Callable[[DataProducerSpec, RunPlan, Callable[[], float]], Iterator[Sequence[PackedBatch]]]:
    """A source of chunks generated before the run: packed, as the generator worker ships them."""

    def factory(
        spec: DataProducerSpec, plan: RunPlan, now: Callable[[], float]
    ) -> Iterator[Sequence[PackedBatch]]:
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


def cpu_seconds() -> float:
    """CPU time of this process (all threads, librdkafka included) plus its finished children (the
    generator worker of the produce path)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def process_cpu_seconds(pid: int) -> float:
    """CPU time of another running process (the broker), from /proc; 0 where /proc is missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Row:
    name: str
    events: int
    wall_s: float
    cpu_s: float
    broker_cpu_s: float

    @property
    def rate(self) -> float:
        return self.events / self.wall_s


def one_round(
    broker: EmbeddedBroker,
    packed: list[list[PackedBatch]],
    chunks: list[list[EventBatch]],
    total: int,
    events_per_day: int,
    seed: int,
) -> tuple[Row, Row, Row, Row]:
    """The Kafka runs, one after the other, each on fresh topics: the path (timed two ways), delivery
    only, raw."""
    bootstrap, config = broker.bootstrap_servers, client_config(broker.bootstrap_servers)
    pid = broker.process.pid if broker.process is not None else -1

    # 1. the ecap produce path, generator included
    path_resources = platform(uuid.uuid4().hex[:6], events_per_day, seed)
    apply_topics(path_resources, config)
    cpu, broker_cpu = cpu_seconds(), process_cpu_seconds(pid)
    report = run_producers(path_resources, bootstrap, flush_timeout_s=120)
    assert report.ok and report.produced == total, report.summary()
    assert report.startup_s is not None
    cpu_used, broker_used = cpu_seconds() - cpu, process_cpu_seconds(pid) - broker_cpu
    path = Row(
        "ecap produce path, from its first chunk",
        report.produced,
        report.elapsed_s - report.startup_s,
        cpu_used,
        broker_used,
    )
    path_from_start = Row(
        f"ecap produce path, from start (+{report.startup_s:.2f}s)",
        report.produced,
        report.elapsed_s,
        cpu_used,
        broker_used,
    )

    # 2. delivery only: run_producers on the pre-generated packed chunks
    only_resources = platform(uuid.uuid4().hex[:6], events_per_day, seed)
    apply_topics(only_resources, config)
    cpu, broker_cpu = cpu_seconds(), process_cpu_seconds(pid)
    only = run_producers(only_resources, bootstrap, flush_timeout_s=120, source_factory=pregenerated(packed))
    assert only.ok and only.produced == total, only.summary()
    assert only.startup_s is not None
    only_row = Row(
        "delivery only (pre-generated), from 1st chunk",
        only.produced,
        only.elapsed_s - only.startup_s,
        cpu_seconds() - cpu,
        process_cpu_seconds(pid) - broker_cpu,
    )

    # 3. raw confluent-kafka
    suffix = uuid.uuid4().hex[:6]
    apply_topics(platform(suffix, events_per_day, seed), config)
    topic_of = {stream: f"{stream}-{suffix}" for stream in STREAM_FIELDS}
    cpu, broker_cpu = cpu_seconds(), process_cpu_seconds(pid)
    sent, raw_elapsed = raw_produce(bootstrap, chunks, topic_of)
    raw = Row(
        "raw confluent-kafka (same bytes, same config)",
        sent,
        raw_elapsed,
        cpu_seconds() - cpu,
        process_cpu_seconds(pid) - broker_cpu,
    )
    return path, path_from_start, only_row, raw


def per_million(cpu_s: float, events: int) -> float:
    return cpu_s / max(events, 1) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events-per-day", type=int, default=300_000, help="volume of the replayed day")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--rounds", type=int, default=1, help="repeat the Kafka runs; medians at the end")
    args = parser.parse_args()

    # The bytes every run sends: generated once up front (this is also the "generator alone" row).
    spec = platform("spec", args.events_per_day, args.seed)[-1].spec
    assert isinstance(spec, DataProducerSpec)
    start = datetime.combine(DAY, datetime.min.time(), tzinfo=UTC)
    # The shop is built inside the timing, as in the worker, so the two rows differ by the shipping.
    gen_started, cpu = time.perf_counter(), cpu_seconds()
    generator = ShopGenerator(spec)
    build_s, build_cpu_s = time.perf_counter() - gen_started, cpu_seconds() - cpu
    packed = list(generator.replay_packed(start, start + timedelta(days=1), args.events_per_day))
    generator_row = Row(
        "generator alone (no Kafka, shop build incl.)",
        0,
        time.perf_counter() - gen_started,
        cpu_seconds() - cpu,
        0.0,
    )
    chunks = [[unpacked(batch) for batch in chunk] for chunk in packed]
    total = sum(len(b.values) for chunk in chunks for b in chunk)
    generator_row.events = total
    mean_bytes = sum(len(v) for chunk in chunks for b in chunk for v in b.values) / max(total, 1)
    # The same generation in the worker process, shipped to this one (what the produce path's
    # delivering side receives at most, with nothing else running).
    [job] = producer_jobs(platform("spec", args.events_per_day, args.seed), "127.0.0.1:9")
    worker_started, cpu = time.perf_counter(), cpu_seconds()
    worker = GeneratorWorker(job.resource.spec, job.plan, 0.0)
    shipped = sum(len(b) for chunk in worker for b in chunk)
    worker.close()
    worker_row = Row(
        f"generator worker -> this process ({worker.method})",
        shipped,
        time.perf_counter() - worker_started,
        cpu_seconds() - cpu,
        0.0,
    )

    rounds: list[tuple[Row, Row, Row, Row]] = []
    with EmbeddedBroker(port=free_port()) as broker:
        # Warm-up, the same for every run: the broker's first connections and topics are not measured.
        suffix = uuid.uuid4().hex[:6]
        apply_topics(
            platform(suffix, args.events_per_day, args.seed), client_config(broker.bootstrap_servers)
        )
        raw_produce(broker.bootstrap_servers, chunks[:5], {s: f"{s}-{suffix}" for s in STREAM_FIELDS})
        print(f"generator worker start method: {start_method()}")
        for _ in range(args.rounds):
            rounds.append(one_round(broker, packed, chunks, total, args.events_per_day, args.seed))

    load = os.getloadavg()[0]
    print(f"records: {total:,} ({mean_bytes:.0f} B mean value) for one replayed day; load average {load:.1f}")
    header = (
        f"{'run':<46} {'events':>10} {'wall s':>7} {'events/s':>10} {'/ raw':>6} {'cpu s':>6} "
        f"{'cpu s/1M':>8} {'broker cpu s':>12}"
    )
    for index, rows in enumerate(rounds):
        raw = rows[-1]
        if args.rounds > 1:
            print(f"round {index + 1}")
        print(header)
        for row in (*rows, generator_row, worker_row):
            print(
                f"{row.name:<46} {row.events:>10,} {row.wall_s:>7.2f} {row.rate:>10,.0f} "
                f"{row.rate / raw.rate:>6.2f} {row.cpu_s:>6.2f} {per_million(row.cpu_s, row.events):>8.2f} "
                f"{row.broker_cpu_s:>12.2f}"
            )
    print(
        "(cpu s: this process, all threads, librdkafka included, plus the generator worker process; "
        "the broker is another process. Raw is timed from its first produce() to its last acknowledgement; "
        "the path from its first chunk in hand to its last acknowledgement, and from the start of "
        "run_producers, which adds the start-up: building the shop, starting the worker, broker checks.)"
    )
    gen_cpu = per_million(generator_row.cpu_s - build_cpu_s, generator_row.events)
    shipping_cpu = per_million(worker_row.cpu_s - generator_row.cpu_s, worker_row.events)
    raw_cpu = statistics.median(per_million(r[-1].cpu_s, r[-1].events) for r in rounds)
    only_cpu = statistics.median(per_million(r[2].cpu_s, r[2].events) for r in rounds)
    print(
        f"CPU s per 1M events: generation {gen_cpu:.2f} (+ building the shop once: {build_cpu_s:.2f} cpu s, "
        f"{build_s:.2f} s wall), "
        f"shipping worker -> producer {shipping_cpu:.2f}, delivery layer over raw {only_cpu - raw_cpu:.2f}, "
        f"raw produce {raw_cpu:.2f} (+ broker)"
    )
    path_rate = statistics.median(r[0].rate for r in rounds)
    start_ratio = statistics.median(r[1].rate / r[-1].rate for r in rounds)
    only_rate = statistics.median(r[2].rate for r in rounds)
    ratio = statistics.median(r[0].rate / r[-1].rate for r in rounds)
    only_ratio = statistics.median(r[2].rate / r[-1].rate for r in rounds)
    median = " (medians over the rounds)" if args.rounds > 1 else ""
    print(
        f"ecap produce path: {path_rate:,.0f} events/s from its first chunk (target {TARGET_EVENTS_PER_S:,}: "
        f"{'met' if path_rate >= TARGET_EVENTS_PER_S else 'NOT met'}); "
        f"ratio to raw {ratio:.2f} (target {TARGET_RATIO}: {'met' if ratio >= TARGET_RATIO else 'NOT met'}); "
        f"{start_ratio:.2f} with start-up included" + median
    )
    print(
        f"delivery layer alone: {only_rate:,.0f} events/s, ratio to raw {only_ratio:.2f} "
        f"(target {TARGET_RATIO}: {'met' if only_ratio >= TARGET_RATIO else 'NOT met'})" + median
    )


if __name__ == "__main__":
    main()
