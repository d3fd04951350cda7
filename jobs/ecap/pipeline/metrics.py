"""Prometheus metrics of the streaming pipeline (served by ``--metrics-port``).

Freshness is the time from a record's event time to the commit of its clean table. Observing every
row of a 200k-row batch would cost more than the batch, so each batch observes an evenly spaced
sample of at most ``FRESHNESS_SAMPLE`` rows (the histogram's shape is kept, its count is not the
row count: use ``records_out_total`` for that).
"""

from __future__ import annotations

from typing import Final

import numpy as np
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, start_http_server

FRESHNESS_SAMPLE: Final = 2_000
FRESHNESS_BUCKETS: Final = (0.25, 0.5, 1, 2, 3, 5, 10, 30, 60, 300, 900, 3600, float("inf"))
BATCH_BUCKETS: Final = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, float("inf"))


class PipelineMetrics:
    """All pipeline metrics on one registry (the process default unless a test passes its own)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        reg = registry if registry is not None else REGISTRY
        self.registry = reg
        self.records_in = Counter(
            "ecap_pipeline_records_in_total", "Kafka records read, per source topic", ["topic"], registry=reg
        )
        self.records_out = Counter(
            "ecap_pipeline_records_out_total", "Rows committed, per Delta table", ["table"], registry=reg
        )
        self.quarantined = Counter(
            "ecap_pipeline_records_quarantined_total",
            "Records quarantined, per source topic",
            ["topic"],
            registry=reg,
        )
        self.duplicates = Counter(
            "ecap_pipeline_duplicates_total",
            "Duplicate records dropped (counted), per topic",
            ["topic"],
            registry=reg,
        )
        self.batch_duration = Histogram(
            "ecap_pipeline_batch_duration_seconds",
            "Wall time of one micro-batch",
            buckets=BATCH_BUCKETS,
            registry=reg,
        )
        self.consumer_lag = Gauge(
            "ecap_pipeline_consumer_lag",
            "Records between the last processed offset and the end of each partition",
            ["topic", "partition"],
            registry=reg,
        )
        self.freshness = Histogram(
            "ecap_pipeline_freshness_seconds",
            "Event time to Delta commit, sampled per batch",
            buckets=FRESHNESS_BUCKETS,
            registry=reg,
        )
        self.fraud_alerts = Counter(
            "ecap_fraud_alerts_total", "Fraud alerts raised, per severity", ["severity"], registry=reg
        )
        self.batches = Counter("ecap_pipeline_batches_total", "Micro-batches processed", registry=reg)

    def observe_freshness(self, seconds: np.ndarray) -> None:
        if seconds.size == 0:
            return
        step = max(1, seconds.size // FRESHNESS_SAMPLE)
        for value in seconds[::step]:
            self.freshness.observe(float(value))

    def serve(self, port: int) -> None:
        """Expose /metrics on ``port`` (a daemon thread; lives as long as the process)."""
        start_http_server(port, registry=self.registry)


_default: PipelineMetrics | None = None


def default_metrics() -> PipelineMetrics:
    """The process-wide metrics (Prometheus metric names can be registered once per registry)."""
    global _default
    if _default is None:
        _default = PipelineMetrics()
    return _default
