"""Run the ``DataProducer`` resources of a file: generate, pace, deliver, account, report.

The same code is the container entrypoint of the operator's producer Deployment (``ecap produce -f
/etc/ecap/resources.yaml``) and what ``ecap up`` calls in-process through ``run_producers``. Each
producer runs in its own thread with its own Kafka client (producers may name different clusters or
credentials); one metrics server covers them all. Each producer's generator runs beside it in a
worker process (``ecap.producer.worker``), so generating overlaps delivering.

Replicas of one live producer (``ECAP_POD_NAME`` set by the operator) each draw their own stream
over the same shop (``pod_instance``); a replay stays the seed's reproducible stream.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from types import FrameType
from typing import Final, Literal, Protocol

import numpy as np
from confluent_kafka import KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # re-exported without __all__
    AdminClient,
    ConfigResource,
)
from prometheus_client import CollectorRegistry
from pydantic import BaseModel

from ecap import schemas
from ecap.generator.packed import PackedBatch, pack_records
from ecap.kafka import KafkaSetupError, check_reachable, client_config, resolve_bootstrap
from ecap.producer.delivery import KAFKA_DEFAULT_MAX_MESSAGE_BYTES, DeliveryEngine, DeliverySettings
from ecap.producer.errors import MissingTopicError, ProducerError
from ecap.producer.metrics import HealthServer, ProducerCollector, ReadinessProbe, new_registry
from ecap_operator.api import DataProducerSpec, Resource, check_references, topic_name
from ecap_operator.api.data_producer import BackfillSettings

log = logging.getLogger(__name__)
ADMIN_TIMEOUT_S: Final = 10.0
DEFAULT_FLUSH_TIMEOUT_S: Final = 30.0
ENV_METRICS_PORT: Final = "ECAP_METRICS_PORT"
ENV_POD_NAME: Final = "ECAP_POD_NAME"

Mode = Literal["realtime", "replay"]


class EventBatchLike(Protocol):
    """Records of one stream as lists, keys and values already serialised (a hand-made source; the
    generator worker yields ``PackedBatch`` instead, and a source may yield either)."""

    @property
    def stream(self) -> str: ...
    @property
    def keys(self) -> Sequence[bytes]: ...
    @property
    def values(self) -> Sequence[bytes | str]: ...
    @property
    def timestamps_ms(self) -> Sequence[int]: ...


BatchStream = Iterator[Sequence[EventBatchLike | PackedBatch]]


@dataclass(frozen=True)
class RunPlan:
    """How one producer runs: after CLI overrides are applied to its spec."""

    mode: Mode
    rate: float
    replay_start: date | None = None
    replay_end: date | None = None  # inclusive
    events_per_day: int | None = None
    instance: int = 0
    """Which of the producer's replicas this is: each draws its own event stream (see ``pod_instance``)."""


SourceFactory = Callable[[DataProducerSpec, RunPlan, Callable[[], float]], BatchStream]


@dataclass
class TopicReport:
    produced: int = 0
    delivered: int = 0
    dead_lettered: int = 0
    retries: int = 0
    failed: dict[str, int] = field(default_factory=dict)

    @property
    def failed_total(self) -> int:
        return sum(self.failed.values())

    @property
    def unaccounted(self) -> int:
        return self.produced - self.delivered - self.dead_lettered - self.failed_total


@dataclass
class ProduceReport:
    """What became of every record, per broker topic (DLQ writes are counted under their source topic)."""

    topics: dict[str, TopicReport] = field(default_factory=dict)
    producers: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    startup_s: float | None = None
    """From the start to the first chunk of generated events in hand (building the shop, starting the
    generator worker, checking the broker); None if no chunk came."""
    client_rebuilds: int = 0  # producers replaced after a fatal error or a stall
    stopped_early: bool = False  # a stop signal or stop_event ended generation
    finished: bool = False  # every engine was closed (numbers are final)

    @property
    def produced(self) -> int:
        return sum(t.produced for t in self.topics.values())

    @property
    def delivered(self) -> int:
        return sum(t.delivered for t in self.topics.values())

    @property
    def dead_lettered(self) -> int:
        return sum(t.dead_lettered for t in self.topics.values())

    @property
    def failed(self) -> int:
        return sum(t.failed_total for t in self.topics.values())

    @property
    def unaccounted(self) -> int:
        return sum(t.unaccounted for t in self.topics.values())

    @property
    def ok(self) -> bool:
        """Nothing failed and nothing is missing (dead-lettered records are handled, not failures)."""
        return self.failed == 0 and self.unaccounted == 0

    def summary(self) -> str:
        lines = [
            f"{self.produced} produced, {self.delivered} delivered, {self.dead_lettered} dead-lettered, "
            f"{self.failed} failed, {self.unaccounted} unaccounted in {self.elapsed_s:.1f}s"
            + (f", {self.client_rebuilds} producer rebuild(s)" if self.client_rebuilds else "")
            + (f" ({self.produced / self.elapsed_s:,.0f} events/s)" if self.elapsed_s > 0 else "")
        ]
        for name, t in sorted(self.topics.items()):
            line = (
                f"  {name}: produced {t.produced}, delivered {t.delivered}, dead-lettered {t.dead_lettered}, "
                f"failed {t.failed_total}, retries {t.retries}"
            )
            if t.failed:
                line += " (" + ", ".join(f"{r}: {n}" for r, n in sorted(t.failed.items())) + ")"
            lines.append(line)
        return "\n".join(lines)


# ------------------------------------------------------------------------------------------ plan


def plan_for(
    spec: DataProducerSpec,
    *,
    replay: bool | None = None,
    replay_days: int | None = None,
    rate: float | None = None,
    today: date | None = None,
) -> RunPlan:
    """Apply the run's overrides to a spec (pure): mode, rate and the replayed period.

    The replayed period is ``spec.backfill`` (or its defaults): ``days`` days ending on ``end``
    (default yesterday, UTC); ``replay_days`` overrides ``days`` and implies replay mode.
    """
    if rate is not None and rate <= 0:
        raise ProducerError(f"--rate must be positive, got {rate}")
    if replay_days is not None and replay_days < 1:
        raise ProducerError(f"--replay-days must be at least 1, got {replay_days}")
    mode: Mode = "replay" if replay or replay_days is not None else spec.mode
    if replay is False:
        mode = "realtime"
    effective_rate = rate if rate is not None else spec.rate
    if mode == "realtime":
        return RunPlan("realtime", effective_rate)
    backfill = spec.backfill or BackfillSettings()
    today = today or datetime.now(UTC).date()
    end = date.fromisoformat(backfill.end) if backfill.end else today - timedelta(days=1)
    days = replay_days if replay_days is not None else backfill.days
    return RunPlan("replay", effective_rate, end - timedelta(days=days - 1), end, backfill.events_per_day)


def pod_instance(pod_name: str | None) -> int:
    """The replica number of a pod, from ``ECAP_POD_NAME``: 0 outside a pod.

    A StatefulSet-style name (``shop-producer-2``) gives its ordinal + 1, stable across restarts;
    any other pod name (a Deployment's ``shop-producer-7d9f8c6b5-x2k4q``) a number hashed from the
    whole name. Every pod then draws its own deterministic stream instead of repeating its peers'.
    """
    if not pod_name:
        return 0
    ordinal = re.fullmatch(r".*-(\d{1,6})", pod_name)
    if ordinal:
        return int(ordinal.group(1)) + 1
    digest = hashlib.sha256(pod_name.encode()).digest()
    return 1_000_000 + int.from_bytes(digest[:6], "big")


def generator_source(spec: DataProducerSpec, plan: RunPlan, now: Callable[[], float]) -> BatchStream:
    """The shop generator (``ecap.generator.ShopGenerator``) in a worker process, as a stream of batches.

    Realtime windows start at ``now()`` as of this call. Close the returned stream (``close()``) to
    stop the worker; ``run_producers`` does.
    """
    from ecap.producer.worker import GeneratorWorker  # late: numpy

    return GeneratorWorker(spec, plan, start_s=now())


# ------------------------------------------------------------------------------------------ one producer


@dataclass
class ProducerJob:
    """One DataProducer resource: its topics, its engine and its thread."""

    resource: Resource[DataProducerSpec]
    plan: RunPlan
    topics: dict[str, str]  # stream -> broker topic
    config: dict[str, str]
    settings: DeliverySettings
    events_limit: int | None
    engine: DeliveryEngine | None = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)
    produced: int = 0
    first_chunk_at: float | None = None
    """``time.monotonic()`` when the source's first chunk was in hand (start-up is over)."""

    @property
    def name(self) -> str:
        return f"{self.resource.namespace}/{self.resource.name}"


@dataclass(frozen=True)
class TopicFacts:
    limits: dict[str, int]  # topic -> max.message.bytes
    missing_dead_letter: list[str]  # <topic>.dlq names the broker does not have


def _topic_facts(admin: AdminClient, topics: Sequence[str], where: str) -> TopicFacts:
    """Each topic's max.message.bytes and the missing DLQs; MissingTopicError names absent topics."""
    try:
        return _read_topic_facts(admin, topics, where)
    except KafkaException as err:
        raise KafkaSetupError(
            f"{where}: cannot read topic metadata from the broker: {err.args[0].str()}"
        ) from None


def _read_topic_facts(admin: AdminClient, topics: Sequence[str], where: str) -> TopicFacts:
    metadata = admin.list_topics(timeout=ADMIN_TIMEOUT_S)
    missing = [t for t in topics if t not in metadata.topics or metadata.topics[t].error is not None]
    if missing:
        raise MissingTopicError(
            f"{where}: topic(s) {', '.join(missing)} do not exist on the broker; create them first with "
            "`ecap topics apply -f FILE` (or let the operator/Strimzi create the KafkaTopic resources)"
        )
    futures = admin.describe_configs(
        [ConfigResource(ConfigResource.Type.TOPIC, t) for t in topics], request_timeout=ADMIN_TIMEOUT_S
    )
    limits: dict[str, int] = {}
    for resource, future in futures.items():
        entries = future.result(ADMIN_TIMEOUT_S)
        entry = entries.get("max.message.bytes")
        value = entry.value if entry is not None else None
        limits[resource.name] = int(value) if value else KAFKA_DEFAULT_MAX_MESSAGE_BYTES
    dead_letter = [t + schemas.DLQ_SUFFIX for t in topics if t + schemas.DLQ_SUFFIX not in metadata.topics]
    return TopicFacts(limits, dead_letter)


def _close_source(source: BatchStream) -> None:
    """Stop a source that holds resources (the generator worker process); a no-op for plain iterators."""
    close = getattr(source, "close", None)
    if callable(close):
        close()


def _run_job(
    job: ProducerJob,
    source: BatchStream,
    stop: threading.Event,
    collector: ProducerCollector,
    flush_timeout_s: float,
    now: Callable[[], float],
) -> None:
    try:
        admin = AdminClient(dict(job.config), logger=logging.getLogger("ecap.kafka.librdkafka"))
        facts = _topic_facts(admin, list(job.topics.values()), job.resource.ref)
        if job.settings.dead_letter:
            for missing in facts.missing_dead_letter:
                log.warning(
                    "%s: dead-letter topic %s does not exist; records that fail for good will be counted "
                    "as failed unless the broker creates it (declare a KafkaTopic for it)",
                    job.resource.ref,
                    missing,
                )
        job.engine = engine = DeliveryEngine(job.config, facts.limits, job.settings)
        engine.connect()
        collector.engines.append(engine)
        try:
            try:
                _generate(job, engine, source, stop, now)
            finally:
                _close_source(source)  # generation is over: free its CPU for the flush
        finally:
            engine.close(flush_timeout_s)
    except BaseException as err:  # re-raised in the caller's thread by run_producers
        job.error = err
        stop.set()
    finally:
        job.done.set()


def _generate(
    job: ProducerJob,
    engine: DeliveryEngine,
    batches: BatchStream,
    stop: threading.Event,
    now: Callable[[], float],
) -> None:
    """Pull chunks and hand their records to the engine until the source, the limit or ``stop`` ends it.

    Replay sends as fast as the broker takes it. Realtime releases every record when the wall clock
    reaches its event timestamp: the generator already drew how many events fall in each moment from
    ``spec.rate`` times the temporal multipliers, so releasing by timestamp paces at exactly that rate
    (a token bucket at a fixed rate would flatten the daily and seasonal shape).
    """
    realtime = job.plan.mode == "realtime"
    for group in batches:
        if job.first_chunk_at is None:
            job.first_chunk_at = time.monotonic()
        if stop.is_set() or _limit_reached(job):
            return
        if not group:
            engine.service(0.01)  # nothing in this window: serve delivery reports instead of spinning
            continue
        packed = [_packed(batch) for batch in group]
        topics = [_topic_of(job, batch) for batch in packed]
        cursors = [0] * len(packed)
        while True:
            now_ms = int(now() * 1000) if realtime else None
            next_due: int | None = None
            for index, batch in enumerate(packed):
                lo, size = cursors[index], len(batch)
                if lo >= size:
                    continue
                stamps = batch.timestamps_ms
                hi = size if now_ms is None else lo + int(np.searchsorted(stamps[lo:], now_ms, side="right"))
                if hi > lo:
                    hi = lo + _send(job, engine, topics[index], batch, lo, hi)
                    cursors[index] = hi
                if hi < size:
                    due = int(stamps[hi])
                    next_due = due if next_due is None else min(next_due, due)
            if next_due is None or _limit_reached(job):
                break
            if stop.is_set():
                return
            wait_s = (next_due - int(now() * 1000)) / 1000.0
            engine.service(min(max(wait_s, 0.0), 0.05))  # serve delivery reports while waiting
        engine.service()


def _packed(batch: EventBatchLike | PackedBatch) -> PackedBatch:
    """The generator worker ships packed batches; a source of plain lists (a test's) is packed here."""
    if isinstance(batch, PackedBatch):
        return batch
    return pack_records(batch.stream, batch.keys, batch.values, batch.timestamps_ms)


def _topic_of(job: ProducerJob, batch: PackedBatch) -> str:
    topic = job.topics.get(batch.stream)
    if topic is None:
        raise ProducerError(
            f"{job.resource.ref}: the generator emitted stream {batch.stream!r}, which has no topic "
            f"(configured: {', '.join(sorted(job.topics))})"
        )
    return topic


def _limit_reached(job: ProducerJob) -> bool:
    return job.events_limit is not None and job.produced >= job.events_limit


def _send(job: ProducerJob, engine: DeliveryEngine, topic: str, batch: PackedBatch, lo: int, hi: int) -> int:
    """Send records [lo, hi) of a batch, cut at the event limit; returns how many were sent."""
    if job.events_limit is not None:
        hi = min(hi, lo + job.events_limit - job.produced)
    if hi <= lo:
        return 0
    engine.send_packed(topic, batch, lo, hi)
    job.produced += hi - lo
    return hi - lo


# ------------------------------------------------------------------------------------------ many producers


def producer_jobs(
    resources: Sequence[Resource[BaseModel]],
    bootstrap: str | None = None,
    *,
    events: int | None = None,
    replay: bool | None = None,
    replay_days: int | None = None,
    rate: float | None = None,
    seed: int | None = None,
    settings: DeliverySettings | None = None,
    today: date | None = None,
) -> list[ProducerJob]:
    """Resolve every DataProducer in ``resources`` into a job (pure apart from env for credentials)."""
    check_references(list(resources))
    if events is not None and events < 1:
        raise ProducerError(f"--events must be at least 1, got {events}")
    jobs: list[ProducerJob] = []
    for res in resources:
        if not isinstance(res.spec, DataProducerSpec):
            continue
        spec = res.spec if seed is None else res.spec.model_copy(update={"seed": seed})
        typed: Resource[DataProducerSpec] = Resource(res.kind, res.name, res.namespace, spec, res.raw)
        topics = {
            stream: topic_name(list(resources), res.namespace, ref)
            for stream, ref in spec.topics.refs().items()
        }
        base = settings or DeliverySettings()
        plan = plan_for(spec, replay=replay, replay_days=replay_days, rate=rate, today=today)
        if plan.mode == "realtime":
            # Replicas of one live producer: each pod its own stream. A replay stays the seed's own
            # stream (a backfill is reproducible; ecap up resumes by replaying it).
            plan = replace(plan, instance=pod_instance(os.environ.get(ENV_POD_NAME)))
        jobs.append(
            ProducerJob(
                resource=typed,
                plan=plan,
                topics=topics,
                config=client_config(resolve_bootstrap(bootstrap, spec.kafka), spec.kafka),
                settings=replace(base, dead_letter=spec.dead_letter and base.dead_letter),
                events_limit=events,
            )
        )
    if not jobs:
        raise ProducerError("no DataProducer resource in the file: nothing to produce")
    return jobs


def _report(jobs: Sequence[ProducerJob], started: float, stopped_early: bool) -> ProduceReport:
    report = ProduceReport(producers=[j.name for j in jobs], elapsed_s=time.monotonic() - started)
    report.stopped_early = stopped_early
    report.finished = all(j.done.is_set() for j in jobs)
    firsts = [j.first_chunk_at for j in jobs if j.first_chunk_at is not None]
    report.startup_s = min(firsts) - started if firsts else None
    for job in jobs:
        if job.engine is None:
            continue
        report.client_rebuilds += job.engine.rebuilds
        for topic, stats in list(job.engine.stats.items()):
            row = report.topics.setdefault(topic, TopicReport())
            row.produced += stats.produced
            row.delivered += stats.delivered
            row.dead_lettered += stats.dead_lettered
            row.retries += stats.retries
            for reason, count in list(stats.failed.items()):
                row.failed[reason] = row.failed.get(reason, 0) + count
    return report


def run_producers(
    resources: Sequence[Resource[BaseModel]],
    bootstrap: str | None = None,
    *,
    events: int | None = None,
    duration: float | None = None,
    replay: bool | None = None,
    replay_days: int | None = None,
    rate: float | None = None,
    seed: int | None = None,
    stop_event: threading.Event | None = None,
    progress_callback: Callable[[ProduceReport], None] | None = None,
    progress_interval_s: float = 1.0,
    metrics_port: int | None = None,
    flush_timeout_s: float = DEFAULT_FLUSH_TIMEOUT_S,
    settings: DeliverySettings | None = None,
    source_factory: SourceFactory = generator_source,
    now: Callable[[], float] = time.time,
) -> ProduceReport:
    """Run every DataProducer in ``resources`` until done, then return the final account.

    Stops when ``events`` records were produced per producer, when ``duration`` seconds passed, when a
    replay period is exhausted, or when ``stop_event`` is set (then: stop generating, flush for up to
    ``flush_timeout_s``, settle the rest as failed). ``metrics_port`` starts /metrics, /healthz and
    /readyz (0 picks a free port). Raises ``ProducerError``/``KafkaSetupError`` before anything is
    produced when topics or the broker are missing.
    """
    jobs = producer_jobs(
        resources,
        bootstrap,
        events=events,
        replay=replay,
        replay_days=replay_days,
        rate=rate,
        seed=seed,
        settings=settings,
    )
    started = time.monotonic()
    # Sources start first: before any thread of ours (so a generator worker may be forked) and early,
    # so that building the generator overlaps the broker checks below.
    sources: list[BatchStream] = []
    try:
        for job in jobs:
            sources.append(source_factory(job.resource.spec, job.plan, now))
        checked: set[str] = set()
        for job in jobs:
            servers = job.config["bootstrap.servers"]
            if servers not in checked:
                where = resolve_bootstrap(bootstrap, job.resource.spec.kafka)
                check_reachable(job.config, where)
                checked.add(servers)
        stop = stop_event or threading.Event()
        internal_stop = threading.Event()
        collector = ProducerCollector()
        server: HealthServer | None = None
        if metrics_port is not None:
            first = jobs[0]
            server = _health_server(
                metrics_port,
                new_registry([collector]),
                alive=lambda: not any(j.error is not None for j in jobs),
                readiness=ReadinessProbe(lambda: check_reachable(first.config, timeout=2.0)),
            ).start()
            log.info("metrics on :%d (/metrics, /healthz, /readyz)", server.port)
        deadline = started + duration if duration is not None else None
        threads = [
            threading.Thread(
                target=_run_job,
                args=(job, source, internal_stop, collector, flush_timeout_s, now),
                name=f"ecap-produce-{job.resource.name}",
                daemon=True,
            )
            for job, source in zip(jobs, sources, strict=True)
        ]
        for thread in threads:
            thread.start()
        next_progress = started + progress_interval_s
        stopped_early = False
        try:
            while not all(j.done.is_set() for j in jobs):
                try:
                    if stop.is_set() and not internal_stop.is_set():
                        stopped_early = True
                        _stop_all(jobs, internal_stop, flush_timeout_s)
                    if deadline is not None and time.monotonic() >= deadline and not internal_stop.is_set():
                        _stop_all(jobs, internal_stop, flush_timeout_s)
                    if progress_callback is not None and time.monotonic() >= next_progress:
                        progress_callback(_report(jobs, started, stopped_early))
                        next_progress = time.monotonic() + progress_interval_s
                    next(j for j in jobs if not j.done.is_set()).done.wait(0.05)
                except KeyboardInterrupt:
                    # Ctrl-C (or a second stop signal): stop now, settle what is queued without waiting.
                    log.warning(
                        "interrupted: not waiting for the flush; undelivered records are reported as failed"
                    )
                    stopped_early = True
                    _stop_all(jobs, internal_stop, 0.0)
        finally:
            for thread in threads:
                thread.join()
            if server is not None:
                server.stop()
        errors = [j.error for j in jobs if j.error is not None]
        if errors:
            raise errors[0]
        report = _report(jobs, started, stopped_early)
        if progress_callback is not None:
            progress_callback(report)
        return report
    finally:
        for source in sources:
            _close_source(source)


def _health_server(
    port: int, registry: CollectorRegistry, alive: Callable[[], bool], readiness: ReadinessProbe
) -> HealthServer:
    try:
        return HealthServer(port, registry, alive=alive, readiness=readiness)
    except OSError as err:
        raise ProducerError(
            f"cannot serve metrics on port {port}: {err.strerror or err}; pick another with --metrics-port "
            "(0 = any free port) or turn metrics off with --no-metrics"
        ) from None


def _stop_all(jobs: Sequence[ProducerJob], internal_stop: threading.Event, flush_timeout_s: float) -> None:
    internal_stop.set()
    for job in jobs:
        if job.engine is not None:
            job.engine.begin_shutdown(flush_timeout_s)


def install_signal_handlers(stop_event: threading.Event) -> Callable[[], None]:
    """SIGTERM/SIGINT set ``stop_event`` (graceful: flush with a deadline); returns a restore function.

    A second signal raises KeyboardInterrupt in the main thread, which ``run_producers`` turns into an
    immediate stop (nothing more is awaited; what is still queued is reported as failed).
    """

    def handle(signum: int, frame: FrameType | None) -> None:
        if stop_event.is_set():
            raise KeyboardInterrupt
        log.info("%s received: stopping generation and flushing", signal.Signals(signum).name)
        stop_event.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


def resolve_metrics_port(
    resources: Sequence[Resource[BaseModel]], override: int | None, env: Mapping[str, str] | None = None
) -> int:
    """``--metrics-port``, else env ``ECAP_METRICS_PORT`` (set by the operator), else ``spec.metricsPort``."""
    env = os.environ if env is None else env
    if override is not None:
        return override
    if env.get(ENV_METRICS_PORT):
        try:
            return int(env[ENV_METRICS_PORT])
        except ValueError:
            raise ProducerError(
                f"{ENV_METRICS_PORT}={env[ENV_METRICS_PORT]!r} is not a port number"
            ) from None
    for res in resources:
        if isinstance(res.spec, DataProducerSpec):
            return res.spec.metrics_port
    raise ProducerError("no DataProducer resource in the file: nothing to produce")
