"""Kafka as a Spark streaming source without the spark-sql-kafka jar: a Python Data Source.

Spark keeps the per-partition offset ranges of every micro-batch in the query's checkpoint, so a
restarted query re-reads exactly the range of an unfinished batch. ``read()`` runs on executors and
creates its own confluent-kafka consumer there (clients do not pickle).

The end of each partition comes from the high watermark carried in fetch responses (a "probe"
consumer fetches the last record of each partition), not from ListOffsets: the embedded Tansu broker
under-reports ListOffsets(LATEST), and the fetch value is right on real Kafka as well.

Options: ``topics`` (comma separated), ``bootstrap`` (host:port list), ``startingOffsets``
(``earliest`` | ``latest``), ``max_rows`` (rows per micro-batch), ``priority_topics`` (read to
their end first when a batch is limited), ``max_tasks`` (Spark tasks per micro-batch, default 2:
partition ranges are grouped so that one consumer per task reads several partitions; a task per
partition costs a consumer start and a task launch each, which dominated small batches) and any
``kafka.<librdkafka key>`` (security settings, passed to every client).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import pyarrow as pa
from confluent_kafka import Consumer, KafkaError, TopicPartition
from pyspark.sql.datasource import DataSource, DataSourceStreamReader, InputPartition
from pyspark.sql.streaming.datasource import ReadAllAvailable, ReadLimit, ReadMaxRows
from pyspark.sql.types import StructType

from .errors import KafkaSourceError, PipelineConfigError

log = logging.getLogger(__name__)

SOURCE_NAME: Final = "ecap_kafka"
SOURCE_DDL: Final = (
    "topic string, partition int, offset bigint, timestamp timestamp, key binary, value binary"
)
ARROW_SCHEMA: Final = pa.schema(
    [
        pa.field("topic", pa.string()),
        pa.field("partition", pa.int32()),
        pa.field("offset", pa.int64()),
        pa.field("timestamp", pa.timestamp("us", tz="UTC")),
        pa.field("key", pa.binary()),
        pa.field("value", pa.binary()),
    ]
)
# Offsets are kept as {topic: {"<partition>": next offset to read}} (JSON keys are strings).
Offsets = dict[str, dict[str, int]]

ARROW_CHUNK_ROWS: Final = 20_000
MAX_ROWS_PER_SPLIT: Final = 100_000
PROBE_TIMEOUT_S: Final = 5.0
READ_STALL_TIMEOUT_S: Final = 60.0
DEFAULT_MAX_TASKS: Final = 2


def client_config(options: Mapping[str, str]) -> dict[str, Any]:
    """librdkafka settings from the source options: bootstrap plus every ``kafka.*`` key."""
    bootstrap = options.get("bootstrap")
    if not bootstrap:
        raise PipelineConfigError("the ecap_kafka source needs the 'bootstrap' option (host:port list)")
    config: dict[str, Any] = {"bootstrap.servers": bootstrap}
    for key, value in options.items():
        if key.lower().startswith("kafka."):
            config[key[len("kafka.") :].lower()] = value
    return config


def parse_topics(options: Mapping[str, str]) -> list[str]:
    topics = [t.strip() for t in (options.get("topics") or "").split(",") if t.strip()]
    if not topics:
        raise PipelineConfigError("the ecap_kafka source needs the 'topics' option (comma separated)")
    return topics


def plan_limit(start: Offsets, end: Offsets, max_rows: int, priority: Sequence[str] = ()) -> Offsets:
    """Cut the range [start, end) to at most ``max_rows`` records.

    ``priority`` topics (the product catalogue, which other streams are checked against) take their
    whole backlog first; the rest is shared in proportion to each partition's backlog, and every
    partition with a backlog advances by at least one record so that none starves.
    """
    lags = {
        (t, p): max(0, e - start.get(t, {}).get(p, 0)) for t, parts in end.items() for p, e in parts.items()
    }
    if sum(lags.values()) <= max_rows:
        return {t: dict(parts) for t, parts in end.items()}
    out: Offsets = {t: dict(parts) for t, parts in start.items()}
    budget = max_rows
    for (t, p), lag in lags.items():
        if t in priority and lag:
            take = min(lag, max(1, budget))
            budget = max(0, budget - take)
            out.setdefault(t, {})[p] = start.get(t, {}).get(p, 0) + take
    rest = {key: lag for key, lag in lags.items() if key[0] not in priority}
    total = sum(rest.values())
    for (t, p), lag in rest.items():
        take = min(lag, max(1, lag * budget // total)) if lag and total else 0
        out.setdefault(t, {})[p] = start.get(t, {}).get(p, 0) + take
    return out


@dataclass(frozen=True)
class KafkaRange(InputPartition):
    """Records [start, end) of one topic partition: one Spark task."""

    topic: str
    partition: int
    start: int
    end: int


def split_ranges(
    start: Offsets, end: Offsets, max_rows_per_split: int = MAX_ROWS_PER_SPLIT
) -> list[KafkaRange]:
    """One task per partition range, big ranges cut so that two cores share a large backlog."""
    ranges = []
    for topic, parts in sorted(end.items()):
        for part, stop in sorted(parts.items(), key=lambda kv: int(kv[0])):
            begin = start.get(topic, {}).get(part, 0)
            while begin < stop:
                upto = min(stop, begin + max_rows_per_split)
                ranges.append(KafkaRange(topic, int(part), begin, upto))
                begin = upto
    return ranges


@dataclass(frozen=True)
class KafkaRangeGroup(InputPartition):
    """Several ranges read one after the other by one consumer: one Spark task."""

    ranges: tuple[KafkaRange, ...]

    @property
    def rows(self) -> int:
        return sum(r.end - r.start for r in self.ranges)


def group_ranges(ranges: Sequence[KafkaRange], max_tasks: int) -> list[KafkaRangeGroup]:
    """Pack ranges into at most ``max_tasks`` groups of similar row counts (largest first, greedy).

    Ranges keep their topic/partition order inside a group so each partition is read sequentially.
    """
    if max_tasks < 1:
        raise PipelineConfigError(f"max_tasks must be >= 1, got {max_tasks}")
    bins: list[list[KafkaRange]] = [[] for _ in range(min(max_tasks, len(ranges)))]
    loads = [0] * len(bins)
    for rng in sorted(ranges, key=lambda r: r.end - r.start, reverse=True):
        emptiest = loads.index(min(loads))
        bins[emptiest].append(rng)
        loads[emptiest] += rng.end - rng.start
    order = {rng: i for i, rng in enumerate(ranges)}
    return [KafkaRangeGroup(tuple(sorted(b, key=order.__getitem__))) for b in bins if b]


def _records_to_arrow(rows: list[tuple[str, int, int, int, bytes | None, bytes | None]]) -> pa.RecordBatch:
    topics, parts, offsets, stamps, keys, values = zip(*rows, strict=True) if rows else ([],) * 6
    return pa.RecordBatch.from_arrays(
        [
            pa.array(topics, pa.string()),
            pa.array(parts, pa.int32()),
            pa.array(offsets, pa.int64()),
            pa.array(stamps, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
            pa.array(keys, pa.binary()),
            pa.array(values, pa.binary()),
        ],
        schema=ARROW_SCHEMA,
    )


def _reader(config: Mapping[str, Any]) -> Consumer:
    return Consumer(
        {
            **config,
            "group.id": f"ecap-spark-reader-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "error",
            # Planned ranges hold records already written: a fetch never needs to wait for more
            # (measured: with the default 500 ms wait, reads were ~10x slower on the embedded broker).
            "fetch.wait.max.ms": 10,
        }
    )


def read_range(config: Mapping[str, Any], task: KafkaRange) -> Iterator[pa.RecordBatch]:
    """Every record of one planned range, in Arrow batches of the declared schema."""
    return read_group(config, KafkaRangeGroup((task,)))


def read_group(config: Mapping[str, Any], group: KafkaRangeGroup) -> Iterator[pa.RecordBatch]:
    """Every record of a group of planned ranges through one consumer, in Arrow batches.

    All partitions of the group are assigned at once and fetched together (re-assigning one
    partition after another costs a fetch long-poll per partition). Offsets missing inside a range
    (compaction, transaction markers) are skipped through the consumer position; a range that
    cannot be completed raises instead of returning fewer rows.
    """
    # A partition cut into several ranges is read in rounds: one range per partition at a time.
    rounds: list[dict[tuple[str, int], KafkaRange]] = []
    for rng in group.ranges:
        if rng.end <= rng.start:
            continue
        key = (rng.topic, rng.partition)
        free = next((r for r in rounds if key not in r), None)
        if free is None:
            free = {}
            rounds.append(free)
        free[key] = rng
    if not rounds:
        return
    consumer = _reader(config)
    try:
        for pending in rounds:
            consumer.assign([TopicPartition(t, p, r.start) for (t, p), r in pending.items()])
            yield from _read_assigned(consumer, pending)
    finally:
        consumer.close()


def _read_assigned(
    consumer: Consumer, pending: dict[tuple[str, int], KafkaRange]
) -> Iterator[pa.RecordBatch]:
    """Consume until every pending range is complete (ranges are removed from ``pending``)."""
    next_offset = {key: r.start for key, r in pending.items()}

    def finish(key: tuple[str, int]) -> None:
        del pending[key]
        consumer.pause([TopicPartition(*key)])

    rows: list[tuple[str, int, int, int, bytes | None, bytes | None]] = []
    last_progress = time.monotonic()
    while pending:
        messages = consumer.consume(num_messages=10_000, timeout=0.5)
        for msg in messages:
            topic, part = msg.topic(), msg.partition()
            task = pending.get((topic, part)) if topic is not None and part is not None else None
            if task is None:
                continue  # a finished range: records past its end belong to a later batch
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    if (msg.offset() or 0) < task.end:
                        raise KafkaSourceError(
                            f"{task.topic}[{task.partition}] ends at offset {msg.offset()} but the "
                            f"batch planned records up to {task.end - 1} (were they deleted?)"
                        )
                    continue
                raise KafkaSourceError(f"reading {task.topic}[{task.partition}]: {err.str()}")
            offset = msg.offset()
            if offset is None:
                raise KafkaSourceError(f"{task.topic}[{task.partition}]: a record without an offset")
            key = (task.topic, task.partition)
            if offset >= task.end:
                finish(key)
                continue
            _, stamp_ms = msg.timestamp()
            rows.append((task.topic, task.partition, offset, stamp_ms * 1000, msg.key(), msg.value()))
            next_offset[key] = offset + 1
            last_progress = time.monotonic()
            if offset + 1 >= task.end:
                finish(key)
        if len(rows) >= ARROW_CHUNK_ROWS:
            yield _records_to_arrow(rows)
            rows = []
        if not messages and pending:
            for key, task in list(pending.items()):
                position = consumer.position([TopicPartition(*key)])[0].offset
                if position >= task.end:
                    finish(key)
            if pending and time.monotonic() - last_progress > READ_STALL_TIMEOUT_S:
                stuck = ", ".join(
                    f"{t}[{p}] at offset {next_offset[(t, p)]} of [{r.start}, {r.end})"
                    for (t, p), r in sorted(pending.items())
                )
                raise KafkaSourceError(f"no progress for {READ_STALL_TIMEOUT_S:.0f}s: {stuck}")
    if rows:
        yield _records_to_arrow(rows)


class EndOffsetProbe:
    """Finds the end (high watermark) of every partition from fetch responses.

    It re-assigns each partition at its last known end - 1, so every fetch returns at most one record
    and carries the current high watermark; empty partitions answer with a partition EOF.
    """

    def __init__(self, config: Mapping[str, Any], topics: Sequence[str]) -> None:
        self._config = dict(config)
        self._topics = list(topics)
        self._consumer: Consumer | None = None
        self._known: dict[tuple[str, int], int] = {}

    def _client(self) -> Consumer:
        if self._consumer is None:
            self._consumer = Consumer(
                {
                    **self._config,
                    "group.id": f"ecap-spark-probe-{uuid.uuid4().hex}",
                    "enable.auto.commit": False,
                    "enable.partition.eof": True,
                    "max.partition.fetch.bytes": 1,
                    "fetch.wait.max.ms": 20,
                }
            )
        return self._consumer

    def partitions(self) -> list[tuple[str, int]]:
        consumer = self._client()
        found = []
        for topic in self._topics:
            meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
            if meta is None or meta.error is not None:
                raise KafkaSourceError(
                    f"topic {topic!r} is not available: {meta.error if meta else 'missing'}"
                )
            found += [(topic, p) for p in sorted(meta.partitions)]
        return found

    def end_offsets(self) -> Offsets:
        consumer = self._client()
        parts = self.partitions()
        consumer.assign([TopicPartition(t, p, max(self._known.get((t, p), 0) - 1, 0)) for t, p in parts])
        pending = set(parts)
        deadline = time.monotonic() + PROBE_TIMEOUT_S
        while pending and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=len(parts) * 4, timeout=0.05):
                err = msg.error()
                if err is not None and err.code() != KafkaError._PARTITION_EOF:
                    raise KafkaSourceError(f"probing {msg.topic()}[{msg.partition()}]: {err.str()}")
                pending.discard((msg.topic(), msg.partition()))
        if pending:
            raise KafkaSourceError(f"no fetch answer within {PROBE_TIMEOUT_S:.0f}s for {sorted(pending)}")
        out: Offsets = {}
        for t, p in parts:
            _, high = consumer.get_watermark_offsets(TopicPartition(t, p), cached=True)
            end = max(high, self._known.get((t, p), 0))
            self._known[(t, p)] = end
            out.setdefault(t, {})[str(p)] = end
        return out

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None


class KafkaStreamReader(DataSourceStreamReader):
    """Micro-batches are offset ranges per partition; Spark checkpoints them, we only plan and read."""

    def __init__(self, options: Mapping[str, str]) -> None:
        self._config = client_config(options)
        self._topics = parse_topics(options)
        self._starting = (options.get("startingOffsets") or "earliest").lower()
        if self._starting not in ("earliest", "latest"):
            raise PipelineConfigError(f"startingOffsets must be earliest or latest, got {self._starting!r}")
        self._max_rows = int(options.get("max_rows") or 0)
        self._priority = [t.strip() for t in (options.get("priority_topics") or "").split(",") if t.strip()]
        self._max_tasks = int(options.get("max_tasks") or DEFAULT_MAX_TASKS)
        if self._max_tasks < 1:
            raise PipelineConfigError(f"max_tasks must be >= 1, got {self._max_tasks}")
        self._probe: EndOffsetProbe | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_probe"] = None
        return state

    def _ends(self) -> Offsets:
        if self._probe is None:
            self._probe = EndOffsetProbe(self._config, self._topics)
        return self._probe.end_offsets()

    def initialOffset(self) -> Offsets:  # noqa: N802 - Spark's name
        ends = self._ends()
        if self._starting == "latest":
            return ends
        return {t: {p: 0 for p in parts} for t, parts in ends.items()}

    def getDefaultReadLimit(self) -> ReadLimit:  # noqa: N802 - Spark's name
        return ReadMaxRows(self._max_rows) if self._max_rows > 0 else ReadAllAvailable()

    def latestOffset(self, start: Offsets, limit: ReadLimit) -> Offsets:  # noqa: N802 - Spark's name
        ends = self._ends()
        # A partition that appeared since the start is read from its beginning.
        merged: Offsets = {
            t: {p: max(e, start.get(t, {}).get(p, 0)) for p, e in parts.items()} for t, parts in ends.items()
        }
        if isinstance(limit, ReadMaxRows):
            return plan_limit(start, merged, limit.max_rows, self._priority)
        return merged

    def reportLatestOffset(self) -> Offsets | None:  # noqa: N802 - Spark's name
        return None

    def partitions(self, start: Offsets, end: Offsets) -> Sequence[KafkaRangeGroup]:
        ranges = split_ranges(start, end)
        # Enough splits that two cores share a large backlog, never fewer rows per task than that.
        tasks = max(self._max_tasks, -(-sum(r.end - r.start for r in ranges) // MAX_ROWS_PER_SPLIT))
        return group_ranges(ranges, tasks)

    def read(self, partition: InputPartition) -> Iterator[pa.RecordBatch]:
        if isinstance(partition, KafkaRangeGroup):
            return read_group(self._config, partition)
        if isinstance(partition, KafkaRange):
            return read_range(self._config, partition)
        raise KafkaSourceError(f"unexpected input partition {partition!r}")

    def commit(self, end: Offsets) -> None:
        """Nothing to do: offsets live in Spark's checkpoint, not in a consumer group."""

    def stop(self) -> None:
        if self._probe is not None:
            self._probe.close()
            self._probe = None


class KafkaSource(DataSource):
    """``spark.readStream.format("ecap_kafka")``: Kafka records with their coordinates."""

    @classmethod
    def name(cls) -> str:
        return SOURCE_NAME

    def schema(self) -> str:
        return SOURCE_DDL

    def streamReader(self, schema: StructType) -> KafkaStreamReader:  # noqa: N802 - Spark's name
        return KafkaStreamReader(self.options)
