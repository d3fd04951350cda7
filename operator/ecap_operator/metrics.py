"""The operator's Prometheus metrics (the chart's ServiceMonitor, alerts and dashboard read them).

``ecap_operator_reconcile_total{kind,result}`` (result: success, retry, error),
``ecap_operator_reconcile_errors_total{kind}`` and ``ecap_operator_resources{kind,phase}``.
"""

from __future__ import annotations

import threading
from collections import Counter as Tally
from collections.abc import Iterator
from typing import Final, Literal

from prometheus_client import CollectorRegistry, Counter, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

Result = Literal["success", "retry", "error"]


class PhaseTracker(Collector):
    """Last known phase of every resource; exported as counts per (kind, phase)."""

    def __init__(self) -> None:
        self._phases: dict[tuple[str, str, str], str] = {}
        self._lock = threading.Lock()

    def observe(self, kind: str, namespace: str, name: str, phase: str | None) -> None:
        with self._lock:
            self._phases[(kind, namespace, name)] = phase or "Unknown"

    def forget(self, kind: str, namespace: str, name: str) -> None:
        with self._lock:
            self._phases.pop((kind, namespace, name), None)

    def counts(self) -> dict[tuple[str, str], int]:
        with self._lock:
            return dict(Tally((kind, phase) for (kind, _, _), phase in self._phases.items()))

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "ecap_operator_resources",
            "ecap.io resources of a kind in each status phase",
            labels=["kind", "phase"],
        )
        for (kind, phase), count in sorted(self.counts().items()):
            family.add_metric([kind, phase], count)
        yield family


class OperatorMetrics:
    """One registry per operator instance (tests may run several in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.reconciles = Counter(
            "ecap_operator_reconcile",
            "Reconciles by kind and result",
            ["kind", "result"],
            registry=self.registry,
        )
        self.errors = Counter(
            "ecap_operator_reconcile_errors",
            "Reconciles that ended in an error",
            ["kind"],
            registry=self.registry,
        )
        self.phases = PhaseTracker()
        self.registry.register(self.phases)

    def reconciled(self, kind: str, result: Result) -> None:
        self.reconciles.labels(kind=kind, result=result).inc()
        if result != "success":
            self.errors.labels(kind=kind).inc()

    def serve(self, port: int) -> None:
        """Serve /metrics on ``port`` (0.0.0.0) in a background thread."""
        start_http_server(port, registry=self.registry)


RESULTS: Final[tuple[Result, ...]] = ("success", "retry", "error")
