"""Prometheus metrics and health endpoints of a producer process (/metrics, /healthz, /readyz).

The delivery path keeps plain counters (no locks, no prometheus objects per record); a custom
collector turns them into metric families at scrape time, so metrics cost nothing per event.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Final

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from ecap.kafka import KafkaSetupError
from ecap.producer.delivery import DeliveryEngine, LatencyHistogram

log = logging.getLogger(__name__)
READY_CACHE_S: Final = 5.0


class ProducerCollector(Collector):
    """Reads the accounts of the running engines; engines register when their producer starts."""

    def __init__(self) -> None:
        self.engines: list[DeliveryEngine] = []

    def collect(self) -> Iterable[Metric]:
        events = CounterMetricFamily("ecap_producer_events", "Records produced, by topic", labels=["topic"])
        delivered = CounterMetricFamily(
            "ecap_producer_delivered", "Records acknowledged by the broker, by topic", labels=["topic"]
        )
        failures = CounterMetricFamily(
            "ecap_producer_delivery_failures",
            "Records that failed for good (not dead-lettered), by topic and reason",
            labels=["topic", "reason"],
        )
        dlq = CounterMetricFamily("ecap_producer_dlq", "Records written to <topic>.dlq", labels=["topic"])
        retries = CounterMetricFamily(
            "ecap_producer_retries",
            "Application-level re-produces after a retriable failure",
            labels=["topic"],
        )
        depth = GaugeMetricFamily(
            "ecap_producer_queue_depth", "Records queued locally, in flight or waiting for a retry"
        )
        rebuilds = CounterMetricFamily(
            "ecap_producer_client_rebuilds", "Kafka producers replaced after a fatal error or a stall"
        )
        engines = list(self.engines)
        totals: dict[str, list[int]] = {}
        reasons: dict[tuple[str, str], int] = {}
        histogram = LatencyHistogram()
        queued = 0
        for engine in engines:
            for topic, stats in list(engine.stats.items()):
                row = totals.setdefault(topic, [0, 0, 0, 0])
                row[0] += stats.produced
                row[1] += stats.delivered
                row[2] += stats.dead_lettered
                row[3] += stats.retries
                for reason, count in list(stats.failed.items()):
                    reasons[(topic, reason)] = reasons.get((topic, reason), 0) + count
            histogram = histogram.merged(engine.latency)
            queued += engine.queue_depth()
        for topic, (produced, ok, dead, retried) in sorted(totals.items()):
            events.add_metric([topic], produced)
            delivered.add_metric([topic], ok)
            dlq.add_metric([topic], dead)
            retries.add_metric([topic], retried)
        for (topic, reason), count in sorted(reasons.items()):
            failures.add_metric([topic, reason], count)
        depth.add_metric([], queued)
        rebuilds.add_metric([], sum(engine.rebuilds for engine in engines))
        latency = HistogramMetricFamily(
            "ecap_producer_delivery_latency_seconds", "Time from produce() to the broker's acknowledgement"
        )
        cumulative = 0
        buckets: list[tuple[str, float]] = []
        for bound, count in zip((*histogram.bounds, float("inf")), histogram.counts, strict=True):
            cumulative += count
            buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
        latency.add_metric([], buckets, sum_value=histogram.total)
        return [events, delivered, failures, dlq, retries, depth, rebuilds, latency]


class ReadinessProbe:
    """Ready when a broker metadata call succeeds; the answer is cached so probes stay cheap.

    ``check`` raises ``KafkaSetupError`` (e.g. ``ecap.kafka.check_reachable``) when the broker is away.
    """

    def __init__(self, check: Callable[[], object], cache_s: float = READY_CACHE_S) -> None:
        self.check = check
        self.cache_s = cache_s
        self._last: tuple[float, bool, str] | None = None
        self._lock = threading.Lock()

    def ready(self) -> tuple[bool, str]:
        with self._lock:
            now = time.monotonic()
            if self._last is not None and now - self._last[0] < self.cache_s:
                return self._last[1], self._last[2]
            try:
                self.check()
                result = (now, True, "broker metadata ok")
            except KafkaSetupError as err:
                result = (now, False, f"broker metadata failed: {err}")
            self._last = result
            return result[1], result[2]


class HealthServer:
    """/metrics, /healthz (the process loop is alive) and /readyz (the broker answers) on one port."""

    def __init__(
        self,
        port: int,
        registry: CollectorRegistry,
        alive: Callable[[], bool],
        readiness: ReadinessProbe,
        host: str = "0.0.0.0",  # noqa: S104 - a pod must be scraped from outside
    ) -> None:
        self.registry = registry
        self.alive = alive
        self.readiness = readiness
        self.server = ThreadingHTTPServer((host, port), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="ecap-metrics", daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._reply(200, generate_latest(owner.registry), CONTENT_TYPE_LATEST)
                elif path == "/healthz":
                    alive = owner.alive()
                    self._reply(200 if alive else 503, b"ok\n" if alive else b"producer loop stopped\n")
                elif path == "/readyz":
                    ready, why = owner.readiness.ready()
                    self._reply(200 if ready else 503, (why + "\n").encode())
                else:
                    self._reply(404, b"try /metrics, /healthz or /readyz\n")

            def _reply(
                self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8"
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's name
                log.debug("metrics http: " + format, *args)

        return Handler

    def start(self) -> HealthServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def new_registry(collectors: Sequence[Collector]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    for collector in collectors:
        registry.register(collector)
    return registry
