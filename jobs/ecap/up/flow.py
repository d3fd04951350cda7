"""The orchestration behind ``ecap up``: each step uses the same engine as its own ``ecap`` command."""

from __future__ import annotations

import dataclasses
import logging
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from pydantic import BaseModel
from rich.console import Console

from ecap.broker import EmbeddedBroker, free_port
from ecap.kafka import client_config, resolve_bootstrap
from ecap.lake.tables import apply_table, run_maintenance, spec_location
from ecap.schemas import (
    TABLE_ATTRIBUTION,
    TABLE_CUSTOMER_SEGMENTS,
    TABLE_DATA_QUALITY,
    TABLE_FRAUD_ALERTS,
    TABLE_KPIS,
    TABLE_PRODUCT_UPDATES,
    TABLE_PRODUCTS,
    TABLE_QUARANTINE,
    TABLE_TRANSACTIONS,
    TABLE_USER_EVENTS,
)
from ecap.topics import apply_topics
from ecap_operator.api import (
    DataProducerSpec,
    DeltaTableSpec,
    Resource,
    StreamingPipelineSpec,
    topic_name,
)
from ecap_operator.api.data_producer import BackfillSettings

from .preflight import UpError, check_java, check_lake, check_port_free, load_platform
from .progress import UpProgress
from .summary import UpSummary, fraud_figures, latest_kpis, quality_figures, table_stats, topic_flows

log = logging.getLogger(__name__)

ALL_TABLES = [
    TABLE_TRANSACTIONS,
    TABLE_USER_EVENTS,
    TABLE_PRODUCT_UPDATES,
    TABLE_PRODUCTS,
    TABLE_QUARANTINE,
    TABLE_DATA_QUALITY,
    TABLE_KPIS,
    TABLE_FRAUD_ALERTS,
    TABLE_ATTRIBUTION,
    TABLE_CUSTOMER_SEGMENTS,
]


@dataclass(frozen=True)
class UpOptions:
    file: Path
    lake: Path
    bootstrap: str | None = None
    events: int | None = None
    duration: float | None = None
    broker_port: int | None = None
    metrics_port: int = 9108
    idle_seconds: float = 4.0
    progress: bool = True


def scale_backfill(resources: list[Resource[BaseModel]], events: int | None) -> list[Resource[BaseModel]]:
    """Every producer gets a historical period to replay; ``events`` rescales their declared volumes.

    Producers that declare no backfill replay the longest declared period at their default volume, so
    the catalogue and the shoppers cover the same days. The volume is spread over the period (not cut
    at N events), so a small run still shows the daily, weekly and seasonal shape.
    """
    producers = [r for r in resources if isinstance(r.spec, DataProducerSpec)]
    declared = [
        r.spec.backfill for r in producers if isinstance(r.spec, DataProducerSpec) and r.spec.backfill
    ]
    days = max((b.days for b in declared), default=BackfillSettings().days)
    end = next((b.end for b in declared if b.end), None)
    plans: dict[str, BackfillSettings] = {}
    for res in producers:
        assert isinstance(res.spec, DataProducerSpec)  # noqa: S101 - filtered above
        plans[res.name] = res.spec.backfill or BackfillSettings(days=days, end=end)
    total = sum(p.days * p.events_per_day for p in plans.values())
    out: list[Resource[BaseModel]] = []
    for res in resources:
        if res.name in plans and isinstance(res.spec, DataProducerSpec):
            plan = plans[res.name]
            if events is not None:
                share = plan.days * plan.events_per_day / total
                per_day = max(1, round(events * share / plan.days))
                plan = plan.model_copy(update={"events_per_day": per_day})
            spec = res.spec.model_copy(update={"backfill": plan})
            res = dataclasses.replace(res, spec=spec)
        out.append(res)
    return out


class _Producing(threading.Thread):
    """Runs the producers (replay, then optional live phase) beside the pipeline."""

    def __init__(
        self,
        resources: list[Resource[BaseModel]],
        bootstrap: str,
        options: UpOptions,
        stop: threading.Event,
        progress: UpProgress,
    ) -> None:
        super().__init__(name="ecap-up-producers", daemon=True)
        self.resources, self.bootstrap, self.options = resources, bootstrap, options
        self.stop, self.progress = stop, progress
        self.totals: dict[str, tuple[int, int]] = {}
        self.failed: dict[str, int] = {}
        self.error: BaseException | None = None
        self.replay_done = threading.Event()

    def run(self) -> None:
        from ecap.producer.runner import ProduceReport, run_producers

        def phase(report: ProduceReport, base: dict[str, tuple[int, int]]) -> None:
            current = {t: (r.delivered, r.dead_lettered) for t, r in report.topics.items()}
            self.progress.produced(current, base)

        try:
            base: dict[str, tuple[int, int]] = {}
            self.progress.set_phase("producing: historical replay")
            report = run_producers(
                self.resources,
                self.bootstrap,
                replay=True,
                stop_event=self.stop,
                progress_callback=lambda r: phase(r, {}),
            )
            self._add(report)
            self.replay_done.set()
            if self.options.duration and not self.stop.is_set():
                base = dict(self.totals)
                self.progress.set_phase(f"producing: live events for {self.options.duration:g}s")
                report = run_producers(
                    self.resources,
                    self.bootstrap,
                    replay=False,
                    duration=self.options.duration,
                    stop_event=self.stop,
                    progress_callback=lambda r: phase(r, base),
                )
                self._add(report)
        except BaseException as err:  # noqa: BLE001 - handed to the main thread, which re-raises it
            self.error = err
        finally:
            self.replay_done.set()

    def _add(self, report: Any) -> None:
        for topic, row in report.topics.items():
            delivered, dead = self.totals.get(topic, (0, 0))
            self.totals[topic] = (delivered + row.delivered, dead + row.dead_lettered)
            if row.failed_total:
                self.failed[topic] = self.failed.get(topic, 0) + row.failed_total


def run_up(options: UpOptions, console: Console) -> UpSummary:
    """Run the whole flow; raise UpError with what to do when a step cannot go on."""
    started = time.monotonic()
    resources = load_platform(options.file)
    check_java()
    check_lake(options.lake)
    if options.broker_port is not None and options.bootstrap is None:
        check_port_free(options.broker_port, "the embedded broker", "--broker-port")
    if options.metrics_port:
        check_port_free(options.metrics_port, "Prometheus /metrics", "--metrics-port")
    lake = str(options.lake.resolve())
    pipelines = [r for r in resources if isinstance(r.spec, StreamingPipelineSpec)]
    streams = _pipeline_streams(pipelines, resources)

    stop = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    previous_term = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    broker: EmbeddedBroker | None = None
    registry = CollectorRegistry()
    metrics_url = None
    try:
        if options.metrics_port:
            start_http_server(options.metrics_port, registry=registry)
            metrics_url = f"http://127.0.0.1:{options.metrics_port}/metrics"
        if options.bootstrap is None:
            broker = EmbeddedBroker(
                port=options.broker_port or free_port(), log_path=options.lake / "broker.log"
            ).start()
            bootstrap = broker.bootstrap_servers
        else:
            bootstrap = options.bootstrap
        with UpProgress(console, {t: s for s, t in streams.items()}, enabled=options.progress) as progress:
            progress.set_phase("applying topics")
            apply_topics(resources, client_config(resolve_bootstrap(bootstrap)))
            producing = _Producing(
                scale_backfill(resources, options.events), bootstrap, options, stop, progress
            )
            producing.start()
            # The replayed period is on the broker before the pipeline plans a batch: a resumed run's
            # checkpoint may name offsets that this run's fresh broker only has once the replay is done.
            producing.replay_done.wait()
            if producing.error is not None:
                raise producing.error
            pipeline_reports = _run_pipelines(
                pipelines, resources, bootstrap, lake, options, stop, producing, progress, registry
            )
            producing.join()
            if producing.error is not None:
                raise producing.error
            maintenance: list[dict[str, Any]] = []
            segmentation: list[dict[str, Any]] = []
            if not stop.is_set():
                progress.set_phase("applying Delta tables and running their maintenance")
                maintenance = _tables(resources, lake)
            if not stop.is_set():
                progress.set_phase("segmenting customers (RFM + CLV)")
                segmentation = _segment(resources, lake)
            progress.set_phase("interrupted: run `ecap up` again to resume" if stop.is_set() else "done")
        summary = UpSummary(
            file=str(options.file),
            lake=lake,
            bootstrap=bootstrap,
            interrupted=stop.is_set(),
            elapsed_seconds=time.monotonic() - started,
            flows=topic_flows(lake, streams, producing.totals),
            produced={
                t: {"delivered": d, "dead_lettered": x, "failed": producing.failed.get(t, 0)}
                for t, (d, x) in producing.totals.items()
            },
            pipeline=pipeline_reports,
            tables=table_stats(lake, ALL_TABLES),
            quality=quality_figures(lake),
            fraud=fraud_figures(lake),
            kpis=latest_kpis(lake),
            segmentation=segmentation,
            maintenance=maintenance,
            metrics_url=metrics_url,
        )
        if broker is not None:
            summary.notes.append("the embedded broker kept its records in memory only; they are gone now")
        return summary
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGTERM, previous_term)
        stop.set()
        if broker is not None:
            broker.stop()


def _pipeline_streams(
    pipelines: list[Resource[BaseModel]], resources: list[Resource[BaseModel]]
) -> dict[str, str]:
    """Stream -> broker topic read by the pipelines (what the summary reconciles)."""
    out: dict[str, str] = {}
    for res in pipelines:
        assert isinstance(res.spec, StreamingPipelineSpec)  # noqa: S101 - filtered by the caller
        sources = res.spec.sources
        for stream, ref in (
            ("transactions", sources.transactions),
            ("user-events", sources.user_events),
            ("product-updates", sources.product_updates),
        ):
            if ref:
                out[stream] = topic_name(resources, res.namespace, ref)
    return out


def _run_pipelines(
    pipelines: list[Resource[BaseModel]],
    resources: list[Resource[BaseModel]],
    bootstrap: str,
    lake: str,
    options: UpOptions,
    stop: threading.Event,
    producing: _Producing,
    progress: UpProgress,
    registry: CollectorRegistry,
) -> dict[str, Any]:
    """Run each pipeline until it has consumed everything the producers delivered."""
    from ecap.pipeline.metrics import PipelineMetrics
    from ecap.pipeline.runner import run_pipeline
    from ecap.spark import get_spark

    progress.set_phase("starting Spark")
    spark = get_spark("ecap-up")
    metrics = PipelineMetrics(registry)
    reports: dict[str, Any] = {}

    def on_batch(result: Any) -> None:
        progress.batch(result.topics, result.end_offsets, sum(result.alerts_by_severity.values()))

    while not stop.is_set():
        producers_done = not producing.is_alive()
        for res in pipelines:
            progress.set_phase(f"streaming: {res.name}" + ("" if producers_done else " (producers running)"))
            report = run_pipeline(
                res,
                resources,
                bootstrap=bootstrap,
                lake=lake,
                until_idle=options.idle_seconds,
                stop_event=stop,
                progress_callback=on_batch,
                metrics=metrics,
                spark=spark,
            )
            entry = reports.setdefault(
                res.ref,
                {"batches": 0, "replayed_batches": 0, "checkpoint": report.checkpoint, "rows_written": {}},
            )
            entry["batches"] += report.batches
            entry["replayed_batches"] += report.replayed_batches
            for table, rows in report.rows_written.items():
                entry["rows_written"][table] = entry["rows_written"].get(table, 0) + rows
        if producers_done:
            break
    return reports


def _tables(resources: list[Resource[BaseModel]], lake: str) -> list[dict[str, Any]]:
    done = []
    for res in resources:
        if isinstance(res.spec, DeltaTableSpec):
            location = spec_location(res.spec, res.name, lake)
            applied = apply_table(res.spec, location, name=res.spec.table_name or res.name)
            done.append({"resource": res.ref, "apply": applied.action, **run_maintenance(res.spec, location)})
    return done


def _segment(resources: list[Resource[BaseModel]], lake: str) -> list[dict[str, Any]]:
    from ecap.segmentation.runner import run_segmentation
    from ecap.spark import get_spark

    results = []
    for res in resources:
        if res.kind == "SegmentationRun":
            result = run_segmentation(get_spark("ecap-up"), res, lake=lake)
            results.append(result.to_dict())
    return results


__all__ = ["UpError", "UpOptions", "run_up", "scale_backfill"]
