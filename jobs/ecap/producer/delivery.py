"""Getting records to Kafka and knowing what became of every one of them.

``DeliveryEngine`` wraps one confluent-kafka ``Producer`` (idempotent, acks=all, lz4) and keeps an
account per topic: produced = delivered + dead-lettered + failed + outstanding, where outstanding
is zero once ``close()`` returns.

Retries and their price. librdkafka retries transient errors itself, in order and without
duplicates, for as long as ``message.timeout.ms``. A record comes back to us only when that ran out
(``_MSG_TIMED_OUT``) or when the idempotent producer hit a fatal state (e.g. ``UNKNOWN_PRODUCER_ID``
after a broker lost its memory). We then produce it again, with exponential backoff and jitter, up to
``RetryPolicy.max_attempts`` times, on a fresh ``Producer`` if the old one is fatally broken. Such a
re-produce is at-least-once: a timed-out record may in fact have been written (a duplicate, which
downstream deduplicates on ``event_id``), and it lands after newer records of the same key (per-key
order is kept by librdkafka's own retries, not by ours). We accept both rather than drop records.

Records that can never be accepted go to ``<topic>.dlq`` with the ``schemas.DLQ_HEADER_*`` headers and
their original key. That includes a record larger than the topic's ``max.message.bytes``: we check
that before sending, because some brokers (the embedded one) do not enforce it.
"""

from __future__ import annotations

import bisect
import heapq
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, Final, cast

import numpy as np
from confluent_kafka import KafkaError, KafkaException, Message, Producer

from ecap import schemas
from ecap.generator.packed import Int64Array, PackedBatch, pack_records
from ecap.producer.classify import Disposition, classify, reason_of
from ecap.producer.retry import RetryPolicy

log = logging.getLogger(__name__)

# Kafka's default max.message.bytes when a topic does not set it.
KAFKA_DEFAULT_MAX_MESSAGE_BYTES: Final = 1_048_588
WARM_UP_TIMEOUT_S: Final = 2.0
"""How long ``DeliveryEngine.connect`` waits for the broker at start."""
# Bytes a record batch adds around one record (batch header 61 + record framing), for the size check.
RECORD_OVERHEAD_BYTES: Final = 96
LATENCY_BUCKETS: Final = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)
LOGGED_PER_REASON: Final = 5
SHUTDOWN_REASON: Final = "SHUTDOWN_DEADLINE"
RETRIES_EXHAUSTED_PREFIX: Final = "RETRIES_EXHAUSTED"
Value = bytes | str
"""A record value: bytes, or JSON text that confluent-kafka encodes as UTF-8 itself."""


@dataclass(frozen=True)
class DeliverySettings:
    """Producer tuning; librdkafka names in ``overrides`` win over everything else."""

    dead_letter: bool = True
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    message_timeout_s: float = 300.0
    stall_timeout_s: float = 30.0
    """No delivery report for this long while the broker answers metadata: replace the producer."""
    linger_ms: int = 20
    batch_bytes: int = 1_000_000
    batch_messages: int = 10_000
    queue_max_messages: int = 500_000
    queue_max_kbytes: int = 512 * 1024
    overrides: Mapping[str, str] = field(default_factory=dict)


def producer_config(
    client: Mapping[str, str], settings: DeliverySettings, smallest_topic_limit: int
) -> dict[str, Any]:
    """librdkafka settings for throughput without giving up ordering or exactly-once writes per session.

    ``batch.size`` stays below the smallest target topic's ``max.message.bytes`` so that a broker never
    rejects a whole batch of small records because together they are too large (librdkafka does
    not split rejected batches).
    """
    return {
        **client,
        "enable.idempotence": True,
        "acks": "all",
        "compression.type": "lz4",
        "linger.ms": settings.linger_ms,
        "batch.size": max(1024, min(settings.batch_bytes, smallest_topic_limit - RECORD_OVERHEAD_BYTES)),
        "batch.num.messages": settings.batch_messages,
        "queue.buffering.max.messages": settings.queue_max_messages,
        "queue.buffering.max.kbytes": settings.queue_max_kbytes,
        "message.timeout.ms": int(settings.message_timeout_s * 1000),
        # Same key -> same partition as the Java client (Kafka Streams, Spark, Connect) would choose.
        "partitioner": "murmur2_random",
        "retry.backoff.ms": 100,
        "retry.backoff.max.ms": 2000,
        **settings.overrides,
    }


@dataclass
class TopicStats:
    """The account of one source topic. Outstanding records are neither delivered nor settled yet."""

    produced: int = 0
    delivered: int = 0
    dead_lettered: int = 0
    retries: int = 0
    failed: Counter[str] = field(default_factory=Counter)

    @property
    def failed_total(self) -> int:
        return sum(self.failed.values())

    @property
    def outstanding(self) -> int:
        return self.produced - self.delivered - self.dead_lettered - self.failed_total


@dataclass(order=True)
class _PendingRetry:
    due: float
    seq: int
    topic: str = field(compare=False)
    key: bytes | None = field(compare=False)
    value: Value | None = field(compare=False)
    timestamp_ms: int = field(compare=False)
    attempt: int = field(compare=False)
    last_error: str = field(compare=False)


class LatencyHistogram:
    """Bucket counts for delivery latency, cheap enough for the delivery callback (no locks)."""

    def __init__(self, bounds: Sequence[float] = LATENCY_BUCKETS) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, seconds)] += 1
        self.total += seconds

    def observe_many(self, seconds: Sequence[float]) -> None:
        """``observe`` for each value, in one numpy pass."""
        if not seconds:
            return
        values = np.asarray(seconds, dtype=np.float64)
        buckets = np.bincount(np.searchsorted(self.bounds, values, side="left"), minlength=len(self.counts))
        for index, count in enumerate(buckets.tolist()):
            self.counts[index] += count
        self.total += float(values.sum())

    def merged(self, other: LatencyHistogram) -> LatencyHistogram:
        out = LatencyHistogram(self.bounds)
        out.counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        out.total = self.total + other.total
        return out


def rfc3339_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class DeliveryEngine:
    """One producer client, its retry queue and its per-topic account. Use from one thread.

    The metrics endpoint reads ``stats``, ``latency`` and ``queue_depth()`` from another thread;
    those are plain counters, so a scrape may be a moment stale but is never wrong for long.
    """

    def __init__(
        self,
        client: Mapping[str, str],
        topic_limits: Mapping[str, int],
        settings: DeliverySettings | None = None,
        *,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings or DeliverySettings()
        self.topic_limits = dict(topic_limits)
        self.client = dict(client)
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self.clock = clock
        self.stats: dict[str, TopicStats] = {t: TopicStats() for t in self.topic_limits}
        self.latency = LatencyHistogram()
        self.rebuilds = 0
        self._retries: list[_PendingRetry] = []
        self._seq = 0
        self._fatal: KafkaError | None = None
        self._progress_mark = -1
        self._stall_check_at = clock() + self.settings.stall_timeout_s
        self._closing = False
        self._abandon_at: float | None = None
        self._logged: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()  # guards only the producer swap against a concurrent scrape
        self._delivered_topics: list[str] = []
        self._delivered_latencies: list[float | None] = []
        self._deliveries = self._delivery_callback()
        self._producer = self._new_producer()

    # ------------------------------------------------------------------ client lifecycle

    def _new_producer(self) -> Producer:
        smallest = min(self.topic_limits.values(), default=KAFKA_DEFAULT_MAX_MESSAGE_BYTES)
        config = producer_config(self.client, self.settings, smallest)
        config["on_delivery"] = self._deliveries
        config["error_cb"] = self._on_client_error
        config["logger"] = logging.getLogger("ecap.kafka.librdkafka")
        return Producer(config)

    def connect(self, timeout_s: float = WARM_UP_TIMEOUT_S) -> bool:
        """Have the producer connected before its first record (call once, at start); False if the broker
        did not answer within ``timeout_s`` (nothing is lost: librdkafka keeps connecting on its own).

        An idempotent producer sends nothing until it holds a producer id, and librdkafka asks for one
        only when a broker is up at that moment, else it tries again 500 ms later. A new producer
        connects to the bootstrap address, learns the broker's id and drops that first connection; the
        real one is opened only when something needs it. Without this request, the records of a run
        waited 0.5-1 s for their first send about half the time (measured in bench/producer_throughput);
        with it, the broker is up when the id is asked for. A broker that does not answer in time only
        loses the head start."""
        topic = next(iter(self.topic_limits), None)
        try:
            self._producer.list_topics(topic, timeout=timeout_s)
        except KafkaException as err:
            log.debug("kafka client: no metadata within %.1fs of start (%s)", timeout_s, err)
            return False
        return True

    def _on_client_error(self, err: KafkaError) -> None:
        if err.fatal():
            self._fatal = err
        else:
            log.debug("kafka client: %s", err.str())

    def _rebuild(self, why: str | None = None) -> None:
        """Replace a failed producer: its unsent records come back as retries on the new one."""
        fatal = self._fatal
        log.warning(
            "%s; re-producing its outstanding records on a new producer",
            why or f"the producer hit a fatal error ({fatal.str() if fatal else '?'})",
        )
        old = self._producer
        old.purge(in_queue=True, in_flight=True)
        deadline = self.clock() + 10.0
        while len(old) > 0 and self.clock() < deadline:
            self._safe_poll(old, 0.1)
        with self._lock:
            self._producer = self._new_producer()
            self._fatal = None
            self.rebuilds += 1
        self._progress_mark = -1

    def _check_stall(self) -> None:
        """Replace a producer that makes no progress although the broker answers.

        Seen with the embedded broker after a restart: it forgot the idempotent producer id, and
        librdkafka bumps the epoch and retries forever (UNKNOWN_PRODUCER_ID each time) instead of
        failing. A broker that is simply away is left to librdkafka's own retries.
        """
        now = self.clock()
        if now < self._stall_check_at:
            return
        self._stall_check_at = now + self.settings.stall_timeout_s
        mark = sum(s.delivered + s.dead_lettered + s.failed_total for s in self.stats.values())
        stalled = mark == self._progress_mark and len(self._producer) > 0
        self._progress_mark = mark
        if not stalled:
            return
        try:
            self._producer.list_topics(timeout=2.0)
        except KafkaException:
            return  # the broker is away: librdkafka keeps trying until message.timeout.ms
        self._rebuild(
            f"no delivery progress for {self.settings.stall_timeout_s:.0f}s although the broker answers"
        )

    def _safe_poll(self, producer: Producer, timeout: float) -> None:
        try:
            producer.poll(timeout)
        except KafkaException as err:
            error: KafkaError = err.args[0]
            if not error.fatal():
                raise
            self._fatal = error
        finally:
            self._settle_deliveries()

    # ------------------------------------------------------------------ sending

    def send_batch(
        self,
        topic: str,
        keys: Sequence[bytes | None],
        values: Sequence[Value],
        timestamps_ms: Sequence[int],
    ) -> None:
        """Enqueue records given as lists (see ``send_packed``)."""
        self.send_packed(topic, pack_records(topic, keys, values, timestamps_ms))

    def send_packed(self, topic: str, batch: PackedBatch, lo: int = 0, hi: int | None = None) -> None:
        """Enqueue records [lo, hi) of a packed batch for one topic. Blocks (polling) while the local
        queue is full, never drops. Each record is sliced out of the batch's buffer right here: the
        only per-record object is the ``bytes`` librdkafka copies from."""
        hi = len(batch) if hi is None else hi
        stats = self.stats.get(topic)
        if stats is None:
            stats = self.stats[topic] = TopicStats()
            self.topic_limits.setdefault(topic, KAFKA_DEFAULT_MAX_MESSAGE_BYTES)
        if hi <= lo:
            return
        limit = self.topic_limits[topic] - RECORD_OVERHEAD_BYTES
        stats.produced += hi - lo
        key_starts = batch.key_starts_between(lo, hi)
        sizes = (batch.value_ends[lo:hi] - batch.value_starts[lo:hi]) + (batch.key_ends[lo:hi] - key_starts)
        # Records too large for the topic split the range into runs sent without any per-record check.
        run_start = lo
        for oversize in (lo + np.flatnonzero(sizes > limit)).tolist() + [hi]:
            if oversize > run_start:
                self._send_run(topic, batch, key_starts[run_start - lo : oversize - lo], run_start, oversize)
            if oversize < hi:
                self._too_large(
                    topic,
                    batch.keys[int(key_starts[oversize - lo]) : int(batch.key_ends[oversize])],
                    batch.values[int(batch.value_starts[oversize]) : int(batch.value_ends[oversize])],
                    int(batch.timestamps_ms[oversize]),
                )
            run_start = oversize + 1
        self._safe_poll(self._producer, 0)
        if self._fatal is not None:
            self._rebuild()

    def _send_run(self, topic: str, batch: PackedBatch, key_starts: Int64Array, lo: int, hi: int) -> None:
        """The produce loop itself: one slice of the value buffer and one of the key buffer per record
        (``key_starts`` are those of records [lo, hi))."""
        values, keys = batch.values, batch.keys
        produce = self._producer.produce
        records = zip(
            batch.value_starts[lo:hi].tolist(),
            batch.value_ends[lo:hi].tolist(),
            key_starts.tolist(),
            batch.key_ends[lo:hi].tolist(),
            batch.timestamps_ms[lo:hi].tolist(),
            strict=True,
        )
        for a, b, c, d, ts in records:
            try:
                produce(topic, values[a:b], keys[c:d], timestamp=ts)
            except BufferError:
                self._enqueue_when_room(topic, keys[c:d], values[a:b], ts, None)
                produce = self._producer.produce  # the wait may have replaced the producer
            except KafkaException as err:
                self._settle_local_error(topic, keys[c:d], values[a:b], ts, err.args[0], attempt=0)
                if self._fatal is not None:
                    self._rebuild()  # the rest of the batch goes to a working producer
                produce = self._producer.produce

    def _produce_one(
        self,
        topic: str,
        key: bytes | None,
        value: Value | None,
        ts: int,
        callback: Callable[[KafkaError | None, Message], None] | None,
        headers: list[tuple[str, str | bytes | None]] | None = None,
    ) -> bool:
        """Produce one record, waiting for room in the local queue; False if the shutdown deadline passed.

        Raises ``KafkaException`` for a local, non-fatal refusal, which the caller settles.
        """
        while True:
            try:
                if callback is None:
                    self._producer.produce(topic, value, key, timestamp=ts, headers=headers)
                else:
                    self._producer.produce(
                        topic, value, key, timestamp=ts, headers=headers, on_delivery=callback
                    )
                return True
            except BufferError:
                if not self._wait_for_room(topic):
                    return False
            except KafkaException as err:
                error: KafkaError = err.args[0]
                if error.fatal() or error.code() == KafkaError._FATAL:
                    self._fatal = error
                    self._rebuild()
                    continue
                raise

    def _enqueue_when_room(
        self,
        topic: str,
        key: bytes | None,
        value: Value | None,
        ts: int,
        callback: Callable[[KafkaError | None, Message], None] | None,
    ) -> None:
        try:
            sent = self._produce_one(topic, key, value, ts, callback)
        except KafkaException as err:
            self._settle_local_error(topic, key, value, ts, err.args[0], attempt=0)
            return
        if not sent:
            self._fail(
                topic, SHUTDOWN_REASON, "not sent: the local queue stayed full until the shutdown deadline"
            )

    def _wait_for_room(self, topic: str) -> bool:
        """Back-pressure: serve delivery reports so the queue drains; False past the shutdown deadline."""
        self._safe_poll(self._producer, 0.05)
        if self._fatal is not None:
            self._rebuild()
        self._check_stall()
        return self._abandon_at is None or self.clock() < self._abandon_at

    def _too_large(self, topic: str, key: bytes | None, value: Value, ts: int) -> None:
        size = _byte_size(value) + (len(key) if key else 0)
        detail = (
            f"record of {size} bytes exceeds max.message.bytes {self.topic_limits[topic]} of topic {topic!r}"
        )
        self._dead_letter(topic, key, value, ts, KafkaError.MSG_SIZE_TOO_LARGE, detail)

    def _settle_local_error(
        self, topic: str, key: bytes | None, value: Value | None, ts: int, error: KafkaError, attempt: int
    ) -> None:
        """produce() itself refused the record (e.g. too large for message.max.bytes, unknown topic)."""
        if error.fatal() or error.code() == KafkaError._FATAL:
            self._fatal = self._fatal or error
        self._settle_failure(topic, key, value, ts, error, attempt)

    # ------------------------------------------------------------------ delivery reports

    def _delivery_callback(self) -> Callable[[KafkaError | None, Message], None]:
        """The per-record delivery report handler. It runs once for every record, so a success only
        notes the topic and the latency in two lists; ``_settle_deliveries`` (after each poll, on
        this thread) turns them into the counters and the histogram for a whole batch at once."""
        note_topic, note_latency = self._delivered_topics.append, self._delivered_latencies.append
        settle = self._settle_failure

        def on_delivery(err: KafkaError | None, msg: Message) -> None:
            if err is None:
                note_topic(msg.topic())  # type: ignore[arg-type]
                note_latency(msg.latency())
                return
            settle(msg.topic(), msg.key(), msg.value(), _timestamp(msg), err, 0)  # type: ignore[arg-type]

        return on_delivery

    def _settle_deliveries(self) -> None:
        """Count the successes noted by the delivery callback since the last call."""
        topics, latencies = self._delivered_topics, self._delivered_latencies
        n = len(topics)
        if not n:
            return
        delivered = Counter(topics[:n])
        noted = latencies[:n]
        del topics[:n], latencies[:n]
        for topic, count in delivered.items():
            self.stats[topic].delivered += count
        # msg.latency() is None only when librdkafka has no timestamp for the record: rare.
        measured = cast(list[float], noted) if None not in noted else [x for x in noted if x is not None]
        self.latency.observe_many(measured)

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        self._deliveries(err, msg)

    def _on_retry_delivery(self, attempt: int, err: KafkaError | None, msg: Message) -> None:
        if err is None:
            self._on_delivery(None, msg)
            return
        self._settle_failure(msg.topic(), msg.key(), msg.value(), _timestamp(msg), err, attempt)  # type: ignore[arg-type]

    def _settle_failure(
        self, topic: str, key: bytes | None, value: Value | None, ts: int, err: KafkaError, attempt: int
    ) -> None:
        code = err.code()
        disposition = classify(code, err.retriable())
        if self._closing and disposition is Disposition.RETRY:
            purged = code in (KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT)
            self._fail(
                topic,
                SHUTDOWN_REASON,
                f"not confirmed before the shutdown deadline ({reason_of(code)}"
                f"{'; it may still have been written' if code == KafkaError._PURGE_INFLIGHT else ''})"
                if purged
                else f"not delivered before the shutdown deadline: {err.str()}",
            )
            return
        if disposition is Disposition.RETRY:
            if attempt >= self.settings.retry.max_attempts:
                self._fail(
                    topic,
                    f"{RETRIES_EXHAUSTED_PREFIX}:{reason_of(code)}",
                    f"gave up after {attempt} re-produce attempts: {err.str()}",
                )
                return
            self._seq += 1
            due = self.clock() + self.settings.retry.delay(attempt + 1, self.rng)
            heapq.heappush(
                self._retries,
                _PendingRetry(due, self._seq, topic, key, value, ts, attempt + 1, reason_of(code)),
            )
        elif disposition is Disposition.DEAD_LETTER and value is not None:
            self._dead_letter(topic, key, value, ts, code, err.str())
        else:
            self._fail(topic, reason_of(code), err.str())

    def _dead_letter(
        self, topic: str, key: bytes | None, value: Value, ts: int, code: int, detail: str
    ) -> None:
        reason = reason_of(code)
        if not self.settings.dead_letter:
            self._fail(topic, reason, f"{detail} (deadLetter is off)")
            return
        headers: list[tuple[str, str | bytes | None]] = [
            (schemas.DLQ_HEADER_REASON, f"{reason}: {detail}".encode()),
            (schemas.DLQ_HEADER_ERROR_CODE, str(code).encode()),
            (schemas.DLQ_HEADER_SOURCE_TOPIC, topic.encode()),
            (schemas.DLQ_HEADER_FAILED_AT, rfc3339_now().encode()),
        ]
        callback = partial(self._on_dead_letter_delivery, topic, reason)
        try:
            sent = self._produce_one(topic + schemas.DLQ_SUFFIX, key, value, ts, callback, headers)
        except KafkaException as err:
            self._fail(topic, f"DLQ_FAILED:{reason}", f"{detail}; the dead-letter produce failed: {err}")
            return
        if not sent:
            self._fail(topic, SHUTDOWN_REASON, f"{detail}; not dead-lettered before the shutdown deadline")

    def _on_dead_letter_delivery(self, topic: str, reason: str, err: KafkaError | None, msg: Message) -> None:
        if err is None:
            self.stats[topic].dead_lettered += 1
        else:
            self._fail(
                topic,
                f"DLQ_FAILED:{reason}",
                f"could not write to {msg.topic()}: {err.str()} (original failure: {reason})",
            )

    def _fail(self, topic: str, reason: str, detail: str) -> None:
        self.stats[topic].failed[reason] += 1
        self._logged[(topic, reason)] += 1
        count = self._logged[(topic, reason)]
        if count <= LOGGED_PER_REASON:
            log.warning("record for %s failed (%s): %s", topic, reason, detail)
        elif count == LOGGED_PER_REASON + 1:
            log.warning("more records for %s fail with %s; counting them without logging each", topic, reason)

    # ------------------------------------------------------------------ housekeeping

    def service(self, timeout: float = 0.0) -> None:
        """Serve delivery reports, rebuild a fatally failed client, and re-produce retries that are due."""
        self._safe_poll(self._producer, timeout)
        if self._fatal is not None:
            self._rebuild()
        self._check_stall()
        now = self.clock()
        while self._retries and self._retries[0].due <= now:
            pending = heapq.heappop(self._retries)
            self.stats[pending.topic].retries += 1
            callback = partial(self._on_retry_delivery, pending.attempt)
            try:
                sent = self._produce_one(
                    pending.topic, pending.key, pending.value, pending.timestamp_ms, callback
                )
            except KafkaException as err:
                self._settle_failure(
                    pending.topic,
                    pending.key,
                    pending.value,
                    pending.timestamp_ms,
                    err.args[0],
                    pending.attempt,
                )
                continue
            if not sent:
                self._fail(
                    pending.topic, SHUTDOWN_REASON, "retry not sent: the local queue stayed full at shutdown"
                )

    def queue_depth(self) -> int:
        """Records in librdkafka's queue or in flight, plus records waiting for a retry."""
        with self._lock:
            return len(self._producer) + len(self._retries)

    def begin_shutdown(self, timeout_s: float) -> None:
        """From now on, waiting for queue room ends at the deadline (so a dead broker cannot hang us)."""
        deadline = self.clock() + timeout_s
        self._abandon_at = deadline if self._abandon_at is None else min(self._abandon_at, deadline)

    def close(self, timeout_s: float) -> None:
        """Flush (retries included) until all is settled or the deadline passes, then settle the rest.

        Records still queued at the deadline are purged and counted as failed with reason
        ``SHUTDOWN_DEADLINE``; the account then has nothing outstanding.
        """
        self.begin_shutdown(timeout_s)
        # The deadline is re-read each turn: begin_shutdown() from another thread may bring it forward.
        while self.clock() < (self._abandon_at or 0.0) and (len(self._producer) > 0 or self._retries):
            self.service(0.05)
        self._closing = True
        for pending in self._retries:
            self._fail(
                pending.topic,
                SHUTDOWN_REASON,
                f"retry {pending.attempt} still waited at the shutdown deadline (last: {pending.last_error})",
            )
        self._retries.clear()
        self._producer.purge(in_queue=True, in_flight=True)
        settle_deadline = self.clock() + 5.0
        while len(self._producer) > 0 and self.clock() < settle_deadline:
            self._safe_poll(self._producer, 0.1)
        for topic, stats in self.stats.items():
            missing = stats.outstanding
            if missing > 0:
                # No report came back even after the purge: say so rather than leave a gap in the account.
                stats.failed[SHUTDOWN_REASON] += missing
                log.warning("%d records for %s got no delivery report before exit", missing, topic)


def _byte_size(value: Value) -> int:
    return len(value) if isinstance(value, bytes) else len(value.encode())


def _timestamp(msg: Message) -> int:
    kind, value = msg.timestamp()
    return int(value) if value is not None and value >= 0 else int(time.time() * 1000)
