"""Streaming pipeline: sustained rows/s, freshness at a fixed input rate, and a no-Spark baseline.

One run, side by side on the same machine and broker:
1. backlog: ``--backlog`` generated events wait in Kafka; the pipeline (``run_pipeline``, the same
   code as ``ecap pipeline run``, analytics and the attribution query included) drains them;
   rows/s = records / time from the first batch's start to the last batch's commit (Spark start-up
   and a ``--warmup`` batch, which pays worker start, JIT and code generation once, excluded);
2. fixed rate: the same query keeps running while a producer process sends ``--rate`` events/s for
   ``--rate-seconds`` (and until all are processed); freshness = Delta commit time - event time
   of every clean row of that phase;
3. baseline: a plain confluent-kafka consumer reads the same backlog, parses the JSON with
   pyarrow's reader and appends it to Delta with delta-rs (no Spark, no rules, no dedup).

Targets (2 cores): >= 50,000 rows/s sustained, p95 freshness < 5 s at 10,000 events/s.

    python bench/pipeline_throughput.py [--backlog 300000] [--rate 10000] [--rate-seconds 30]
"""

from __future__ import annotations

import argparse
import io
import logging
import multiprocessing
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.json as pj
import yaml
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]  # re-exported without __all__
from deltalake import write_deltalake
from prometheus_client import CollectorRegistry

from ecap.broker import EmbeddedBroker, free_port
from ecap.generator import ShopGenerator
from ecap.pipeline import BatchResult, run_pipeline
from ecap.pipeline.metrics import PipelineMetrics
from ecap.spark import get_spark
from ecap_operator.api import DataProducerSpec, load_resources

TARGET_ROWS_PER_S = 50_000
TARGET_P95_FRESHNESS_S = 5.0
TOPICS = {"transactions": 6, "user-events": 12, "product-updates": 3}


def producer_spec(seed: int) -> DataProducerSpec:
    return DataProducerSpec.model_validate(
        {
            "topics": {"transactions": "t", "userEvents": "u", "productUpdates": "p"},
            "seed": seed,
            "customers": 20_000,
            "products": 1_000,
        }
    )


def produce_backlog(bootstrap: str, events: int, seed: int) -> int:
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 20,
            "compression.type": "lz4",
            "queue.buffering.max.messages": 2_000_000,
            "enable.idempotence": True,
        }
    )
    start = datetime.now(UTC) - timedelta(hours=12)
    sent = 0
    for chunk in ShopGenerator(producer_spec(seed)).replay(start, start + timedelta(hours=12), events * 2):
        for batch in chunk:
            for key, value, ts in zip(batch.keys, batch.values, batch.timestamps_ms, strict=True):
                while True:
                    try:
                        producer.produce(batch.stream, value, key, timestamp=ts)
                        break
                    except BufferError:
                        producer.poll(0.05)
            sent += len(batch.values)
        if sent >= events:
            break
    producer.flush(120)
    return sent


RATE_WINDOW_S = 0.5


def produce_at_rate(bootstrap: str, rate: float, seconds: float, seed: int) -> tuple[int, float]:
    """Send ``rate`` events/s of live event time for ``seconds``; returns (events sent, seconds taken).

    Generating events costs about as much CPU as sending them, and the generator's ``realtime``
    scales its base rate by the simulated moment's hour-of-day and calendar multipliers. So a probe
    first measures both; then every window of the phase is generated ahead into memory, with event
    times that start far enough in the future for generation to finish, and each window is sent
    when the wall clock reaches its end (its events are then 0-0.5 s old, as on a live shop).
    """
    probe_windows = 8
    probe = ShopGenerator(producer_spec(seed + 1)).realtime(rate, interval_s=RATE_WINDOW_S)
    next(probe)  # opens the sessions already running: a one-off cost
    began = time.monotonic()
    probed = sum(len(b.values) for _ in range(probe_windows) for b in next(probe))
    per_event_s = (time.monotonic() - began) / max(probed, 1)
    observed = probed / (probe_windows * RATE_WINDOW_S)
    base_rate = rate * rate / observed if observed else rate
    generation_s = 4.0 * per_event_s * rate * seconds + 30.0
    t_start = time.time() + generation_s
    windows: list[list[tuple[str, bytes, bytes | None, int]]] = []
    live = ShopGenerator(producer_spec(seed + 1)).realtime(
        base_rate, now=lambda: t_start, interval_s=RATE_WINDOW_S
    )
    for chunk in live:
        if chunks_end(chunk) / 1000.0 > t_start + seconds:
            break
        windows.append(
            [
                (batch.stream, value, key, ts)
                for batch in chunk
                for key, value, ts in zip(batch.keys, batch.values, batch.timestamps_ms, strict=True)
            ]
        )
    if time.time() > t_start:
        raise SystemExit(
            f"the rate producer generated its events {time.time() - t_start:.1f}s too late: "
            "the machine is too busy for an honest fixed-rate phase"
        )
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "compression.type": "lz4"})
    sent = 0
    for window in windows:
        # Send each window when the wall clock reaches its end.
        wait = max(ts for *_, ts in window) / 1000.0 - time.time() if window else 0.0
        if wait > 0:
            time.sleep(wait)
        for stream, value, key, ts in window:
            while True:
                try:
                    producer.produce(stream, value, key, timestamp=ts)
                    break
                except BufferError:
                    producer.poll(0.01)
        sent += len(window)
        producer.poll(0)
    producer.flush(60)
    return sent, time.time() - t_start


def _rate_worker(bootstrap: str, rate: float, seconds: float, seed: int, sent: Any, took: Any) -> None:
    sent.value, took.value = produce_at_rate(bootstrap, rate, seconds, seed)


def chunks_end(chunk: list) -> int:  # type: ignore[type-arg]
    return max((max(b.timestamps_ms) for b in chunk if b.timestamps_ms), default=int(time.time() * 1000))


def baseline(bootstrap: str, lake: Path, records: int) -> float:
    """Plain consumer + pyarrow JSON + delta-rs appends; returns rows/s."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "bench-baseline",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    admin = AdminClient({"bootstrap.servers": bootstrap})
    parts = [TopicPartition(t, p, 0) for t in TOPICS for p in admin.list_topics(t).topics[t].partitions]
    consumer.assign(parts)
    buffers: dict[str, list[bytes]] = {t: [] for t in TOPICS}
    eof: set[tuple[str | None, int | None]] = set()
    started = time.monotonic()
    read = 0
    while len(eof) < len(parts):
        for msg in consumer.consume(10_000, 1.0):
            if msg.error():
                eof.add((msg.topic(), msg.partition()))
                continue
            value = msg.value()
            if value is not None:  # the generator writes no tombstones; a stray one is not JSON
                buffers[str(msg.topic())].append(value)
            read += 1
        if sum(len(b) for b in buffers.values()) >= 200_000 or len(eof) == len(parts):
            for topic, values in buffers.items():
                if values:
                    table = pj.read_json(io.BytesIO(b"\n".join(values)))
                    write_deltalake(
                        str(lake / topic.replace("-", "_")), table, mode="append", schema_mode="merge"
                    )
                    values.clear()
    elapsed = time.monotonic() - started
    consumer.close()
    return read / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backlog", type=int, default=300_000)
    parser.add_argument("--rate", type=float, default=10_000)
    parser.add_argument("--rate-seconds", type=float, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2_000, help="events processed before measuring")
    args = parser.parse_args()
    # Per-batch step timings (parse, dedup, write, products, analytics) from the batch engine.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("ecap.pipeline.batch").setLevel(logging.INFO)
    work = Path(tempfile.mkdtemp(prefix="ecap-bench-pipeline-"))
    with EmbeddedBroker(port=free_port(), log_path=work / "broker.log") as broker:
        bootstrap = broker.bootstrap_servers
        admin = AdminClient({"bootstrap.servers": bootstrap})
        for future in admin.create_topics([NewTopic(t, n, 1) for t, n in TOPICS.items()]).values():
            future.result(15)
        docs = [
            {
                "apiVersion": "ecap.io/v1alpha1",
                "kind": "KafkaTopic",
                "metadata": {"name": t},
                "spec": {"partitions": n, "replicas": 1},
            }
            for t, n in TOPICS.items()
        ]
        docs.append(
            {
                "apiVersion": "ecap.io/v1alpha1",
                "kind": "StreamingPipeline",
                "metadata": {"name": "bench"},
                "spec": {
                    "sources": {
                        "transactions": "transactions",
                        "userEvents": "user-events",
                        "productUpdates": "product-updates",
                    },
                    "lake": str(work / "lake"),
                    "triggerSeconds": 0.5,
                    "maxRecordsPerBatch": 200_000,
                },
            }
        )
        (work / "bench.yaml").write_text(yaml.safe_dump_all(docs))
        resources = load_resources(work / "bench.yaml")
        pipeline = next(r for r in resources if r.kind == "StreamingPipeline")

        results: list[tuple[float, BatchResult]] = []
        spark = get_spark("ecap-bench-pipeline")
        stop = threading.Event()
        runner = threading.Thread(
            target=lambda: run_pipeline(
                pipeline,
                resources,
                bootstrap=bootstrap,
                stop_event=stop,
                spark=spark,
                metrics=PipelineMetrics(CollectorRegistry()),
                progress_callback=lambda r: results.append((time.monotonic(), r)),
            ),
            daemon=True,
        )
        runner.start()

        def processed() -> int:
            return sum(sum(c.records for c in r.topics.values()) for _, r in results)

        def wait_for(records: int, what: str) -> None:
            deadline = time.monotonic() + 1800
            while processed() < records:
                if time.monotonic() > deadline or not runner.is_alive():
                    raise SystemExit(f"the pipeline did not process the {what}")
                time.sleep(0.2)

        # Warm-up: a small first batch pays Python worker start, JIT and code generation once, as
        # a long-running query does; the measured phases start after it.
        warm = produce_backlog(bootstrap, args.warmup, args.seed + 2) if args.warmup else 0
        wait_for(warm, "warm-up")
        print(f"warm-up: {warm} events in {len(results)} batches")
        del results[:]
        t0 = time.monotonic()
        backlog = produce_backlog(bootstrap, args.backlog, args.seed)
        print(f"backlog: {backlog} events produced in {time.monotonic() - t0:.1f}s")
        wait_for(backlog, "backlog")
        backlog_batches = list(results)
        first_start = backlog_batches[0][0] - backlog_batches[0][1].duration_seconds
        drained = backlog_batches[-1][0] - first_start
        rows = sum(sum(c.records for c in r.topics.values()) for _, r in backlog_batches)
        pipeline_rate = rows / drained
        print(
            f"pipeline backlog: {rows} records in {len(backlog_batches)} batches, {drained:.1f}s "
            f"-> {pipeline_rate:,.0f} rows/s (target >= {TARGET_ROWS_PER_S:,})"
        )

        # The producer runs in its own process: in the pipeline's process it would share the GIL
        # with the driver and fall behind, ageing events before they are even sent.
        spawn = multiprocessing.get_context("spawn")
        sent = spawn.Value("q", 0)
        took = spawn.Value("d", 0.0)
        producer_proc = spawn.Process(
            target=_rate_worker, args=(bootstrap, args.rate, args.rate_seconds, args.seed, sent, took)
        )
        producer_proc.start()
        producer_proc.join(args.rate_seconds + 600)
        if producer_proc.exitcode != 0:
            raise SystemExit(f"the rate producer failed (exit code {producer_proc.exitcode})")
        rate_sent = int(sent.value)
        wait_for(backlog + rate_sent, "fixed-rate events")
        stop.set()
        runner.join(300)
        rate_batches = [r for _, r in results[len(backlog_batches) :]]
        fresh = np.concatenate([r.freshness_seconds for r in rate_batches]) if rate_batches else np.empty(0)
        if fresh.size:
            p50, p95 = np.percentile(fresh, [50, 95])
            print(
                f"fixed rate: {rate_sent} events in {took.value:.1f}s = {rate_sent / took.value:,.0f}/s "
                f"(asked {args.rate:,.0f}/s for {args.rate_seconds:.0f}s), "
                f"{len(rate_batches)} batches; freshness p50 {p50:.2f}s p95 {p95:.2f}s "
                f"(target p95 < {TARGET_P95_FRESHNESS_S:.0f}s)"
            )
        else:
            print("fixed rate: no batch committed during the rate phase")
        spark.stop()

        base_rate = baseline(bootstrap, work / "baseline", warm + backlog + rate_sent)
        print(
            "baseline (confluent-kafka + pyarrow JSON + delta-rs, no Spark, no rules): "
            f"{base_rate:,.0f} rows/s"
        )
        print(f"ratio pipeline / baseline: {pipeline_rate / base_rate:.2f}")
        print(f"work folder: {work}")


if __name__ == "__main__":
    main()
