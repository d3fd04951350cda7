"""Events/s the shop generator produces (generated + serialised, ready for Kafka), on one core.

Runs a replay at a high daily volume, in the packed form the producer's worker ships
(``ShopGenerator.replay_packed``), and reports wall-clock and CPU rates side by side with the
target (200k events/s) and with a baseline that serialises the same events with ``json.dumps``
(what a naive generator building dicts would pay for serialisation alone).

    python bench/generator_throughput.py [--events 1000000] [--seed 42]
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime, timedelta

from ecap.generator import ShopGenerator
from ecap_operator.api.data_producer import DataProducerSpec

TARGET_EVENTS_PER_S = 200_000


def run(topics: dict[str, str], events: int, seed: int) -> tuple[int, float, float, list[bytes]]:
    spec = DataProducerSpec.model_validate(
        {"topics": topics, "seed": seed, "customers": 100_000, "products": 5_000}
    )
    generator = ShopGenerator(spec)
    start = datetime(2026, 3, 2, tzinfo=UTC)  # an ordinary Monday
    events_per_day = events  # about one day's worth
    produced = 0
    sample: list[bytes] = []
    wall, cpu = time.perf_counter(), time.process_time()
    chunks = list(generator.replay_packed(start, start + timedelta(days=1), events_per_day))
    elapsed, cpu_s = time.perf_counter() - wall, time.process_time() - cpu
    for chunk in chunks:
        for batch in chunk:
            produced += len(batch)
            if len(sample) < 200_000:
                sample.extend(batch.value_list()[:50_000])
    return produced, elapsed, cpu_s, sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events per simulated day")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    scenarios = {
        "all streams": {"transactions": "t", "userEvents": "u", "productUpdates": "p"},
        "user-events + transactions": {"transactions": "t", "userEvents": "u"},
        "product-updates only": {"productUpdates": "p"},
        "transactions only": {"transactions": "t"},
    }
    sample: list[bytes] = []
    header = ("scenario", "events", "wall s", "events/s wall", "events/s cpu", "cpu/target")
    print(f"{header[0]:<26} {header[1]:>10} {header[2]:>8} {header[3]:>14} {header[4]:>13} {header[5]:>10}")
    for name, topics in scenarios.items():
        produced, wall, cpu, got = run(topics, args.events, args.seed)
        sample = sample or got
        print(
            f"{name:<26} {produced:>10} {wall:>8.2f} {produced / wall:>14,.0f} {produced / cpu:>13,.0f}"
            f" {produced / cpu / TARGET_EVENTS_PER_S:>10.2f}"
        )

    # Baseline: json.dumps of the same records as dicts (serialisation only, no generation).
    records = [json.loads(v) for v in sample]
    cpu = time.process_time()
    for record in records:
        json.dumps(record, separators=(",", ":")).encode()
    dumps_rate = len(records) / (time.process_time() - cpu)
    print(f"baseline json.dumps serialisation alone: {dumps_rate:,.0f} events/s cpu")
    produced, _, cpu_all, _ = run(scenarios["all streams"], min(args.events, 300_000), args.seed)
    ratio = produced / cpu_all / dumps_rate
    print(f"generator (generate + serialise) / json.dumps (serialise only): {ratio:.2f}x")


if __name__ == "__main__":
    main()
