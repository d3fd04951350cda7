"""One SegmentationRun end to end: transactions table -> RFM + CLV -> ``customer_segments`` + report.

The thin I/O layer around ``rfm``, ``summary`` and ``clv``. The same function serves ``ecap segment run``,
``ecap up`` and the SparkApplication in a cluster. Spark computes the per-customer metrics and scores;
the driver fits the CLV models on the collected summary and writes the result with delta-rs, replacing
the rows of the same run id and as-of date so that a rerun never duplicates them.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import write_deltalake
from pydantic import BaseModel
from pyspark.sql import DataFrame, SparkSession

from ecap.lake import read_delta, table_exists, table_path
from ecap_operator.api import (
    Condition,
    ConditionStatus,
    ConditionType,
    Phase,
    Resource,
    SegmentationRunSpec,
    SegmentationRunStatus,
    to_wire,
)
from ecap_operator.api.segmentation_run import ClvSettings

from . import FitError, SegmentationError, clv
from .clv import FloatArray
from .report import write_report as render_report
from .rfm import SEGMENTS, as_of_date, rfm_metrics, score_rfm
from .summary import clv_summary

log = logging.getLogger(__name__)

MONEY: Final = pa.decimal128(18, 2)
CUSTOMER_SEGMENTS_SCHEMA: Final = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("as_of", pa.date32(), nullable=False),
        pa.field("customer_id", pa.string(), nullable=False),
        pa.field("recency_days", pa.int32(), nullable=False),
        pa.field("frequency", pa.int64(), nullable=False),
        pa.field("monetary", MONEY, nullable=False),
        pa.field("r_score", pa.int32(), nullable=False),
        pa.field("f_score", pa.int32(), nullable=False),
        pa.field("m_score", pa.int32(), nullable=False),
        pa.field("fm_score", pa.int32(), nullable=False),
        pa.field("rfm_code", pa.string(), nullable=False),
        pa.field("segment", pa.string(), nullable=False),
        pa.field("value_tier", pa.string(), nullable=False),
        pa.field("action", pa.string(), nullable=False),
        pa.field("expected_purchases", pa.float64()),
        pa.field("probability_alive", pa.float64()),
        pa.field("expected_avg_spend", MONEY),
        pa.field("clv", MONEY),
        pa.field("computed_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)
RFM_OUTPUT_COLUMNS: Final = (
    "customer_id",
    "recency_days",
    "frequency",
    "monetary",
    "r_score",
    "f_score",
    "m_score",
    "fm_score",
    "rfm_code",
    "segment",
    "value_tier",
    "action",
)


@dataclass(frozen=True)
class SegmentSummary:
    segment: str
    customers: int
    share: float
    revenue_share: float
    mean_clv: float | None


@dataclass(frozen=True)
class SegmentationResult:
    """What a run produced: where, for whom, and the figures reports and the CR status show."""

    run_id: str
    name: str
    as_of: dt.date
    output_path: str
    customers: int
    segments: dict[str, int]
    summary: list[SegmentSummary]
    mean_clv: float | None
    completed_at: dt.datetime
    bgnbd: clv.BgNbdFit | None = None
    gamma_gamma: clv.GammaGammaFit | None = None
    clv_error: str | None = None
    report_path: str | None = None
    heatmap: list[list[int]] = field(default_factory=list)
    """Customers per R (rows 5..1) and FM (columns 1..5) cell."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "runId": self.run_id,
            "name": self.name,
            "asOf": self.as_of.isoformat(),
            "table": self.output_path,
            "customers": self.customers,
            "segments": self.segments,
            "meanClv": self.mean_clv,
            "completedAt": _rfc3339(self.completed_at),
            "report": self.report_path,
            "summary": [
                {
                    "segment": s.segment,
                    "customers": s.customers,
                    "share": s.share,
                    "revenueShare": s.revenue_share,
                    "meanClv": s.mean_clv,
                }
                for s in self.summary
            ],
            "bgnbd": self.bgnbd.to_dict() if self.bgnbd else None,
            "gammaGamma": self.gamma_gamma.to_dict() if self.gamma_gamma else None,
            "clvError": self.clv_error,
        }

    def status(self) -> dict[str, Any]:
        """The SegmentationRun status patch (camelCase), phase Succeeded with a Ready condition."""
        message = f"{self.customers} customers segmented as of {self.as_of.isoformat()}"
        conditions = [
            Condition(
                type=ConditionType.READY,
                status=ConditionStatus.TRUE,
                reason="RunSucceeded",
                message=message,
                last_transition_time=_rfc3339(self.completed_at),
            )
        ]
        if self.clv_error:
            conditions.append(
                Condition(
                    type=ConditionType.DEGRADED,
                    status=ConditionStatus.TRUE,
                    reason="ClvNotFitted",
                    message=self.clv_error,
                    last_transition_time=_rfc3339(self.completed_at),
                )
            )
        status = SegmentationRunStatus(
            phase=Phase.SUCCEEDED,
            conditions=conditions,
            run_id=self.run_id,
            as_of=self.as_of.isoformat(),
            customers=self.customers,
            segments=self.segments,
            mean_clv=self.mean_clv,
            completed_at=_rfc3339(self.completed_at),
            report=self.report_path,
        )
        return to_wire(status)


def failure_status(error: str, now: dt.datetime | None = None) -> dict[str, Any]:
    """The status patch of a run that failed: phase Failed, Ready False with the reason."""
    stamp = _rfc3339(now or dt.datetime.now(dt.UTC))
    status = SegmentationRunStatus(
        phase=Phase.FAILED,
        conditions=[
            Condition(
                type=ConditionType.READY,
                status=ConditionStatus.FALSE,
                reason="RunFailed",
                message=error[:32_000],
                last_transition_time=stamp,
            )
        ],
    )
    return to_wire(status)


def _rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def run_id_for(name: str, as_of: dt.date) -> str:
    """Deterministic per resource and date, so a rerun replaces its own rows."""
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", name):
        raise SegmentationError(f"resource name {name!r} is not a Kubernetes object name")
    return f"{name}-{as_of:%Y%m%d}"


def _money(values: FloatArray) -> pa.Array:
    """float64 -> decimal(18,2), NaN -> null."""
    arr = np.asarray(values, dtype=np.float64)
    return pc.cast(pc.round(pa.array(arr, mask=~np.isfinite(arr)), 2), MONEY)


@dataclass(frozen=True)
class ClvColumns:
    expected_purchases: FloatArray
    probability_alive: FloatArray
    expected_avg_spend: FloatArray
    lifetime_value: FloatArray
    bgnbd: clv.BgNbdFit | None
    gamma_gamma: clv.GammaGammaFit | None
    error: str | None


def compute_clv(summary: pa.Table, settings: ClvSettings) -> ClvColumns:
    """Fit both models on the summary and predict every customer; NaN columns and an error if unfittable.

    Customers with the same (x, t_x, T) share a likelihood term and a prediction, so the fit and the
    hypergeometric evaluations run on the unique triples only.
    """
    n = summary.num_rows
    x = summary["repeat_purchases"].to_numpy().astype(np.float64)
    t_x = summary["recency_t"].to_numpy().astype(np.float64)
    age = summary["age_t"].to_numpy().astype(np.float64)
    m = summary["mean_repeat_spend"].to_numpy().astype(np.float64)
    nan = np.full(n, np.nan)
    triples, inverse, counts = np.unique(
        np.stack([x, t_x, age], axis=1), axis=0, return_inverse=True, return_counts=True
    )
    inverse = inverse.reshape(-1)
    ux, utx, uage = triples[:, 0], triples[:, 1], triples[:, 2]
    try:
        bg = clv.fit_bgnbd(ux, utx, uage, weights=counts.astype(np.float64))
    except FitError as err:
        return ClvColumns(nan, nan, nan, nan, None, None, f"BG/NBD not fitted: {err}")
    horizon_units = settings.horizon_days / settings.time_unit_days
    expected = clv.conditional_expected_purchases(bg.params, horizon_units, ux, utx, uage)[inverse]
    alive = clv.probability_alive(bg.params, ux, utx, uage)[inverse]
    try:
        gg = clv.fit_gamma_gamma(x, m)
        spend = clv.expected_average_spend(gg.params, x, m)
    except FitError as err:
        return ClvColumns(expected, alive, nan, nan, bg, None, f"Gamma-Gamma not fitted: {err}")
    # The discounted purchase stream depends on (x, t_x, T) only: compute it per triple, scale by spend.
    stream = clv.customer_lifetime_value(
        bg.params,
        np.ones(len(ux)),
        ux,
        utx,
        uage,
        settings.horizon_days,
        settings.time_unit_days,
        settings.annual_discount_rate,
    )[inverse]
    return ClvColumns(expected, alive, spend, stream * spend, bg, gg, None)


def _collect(scored: DataFrame, summary: DataFrame) -> pa.Table:
    renamed = summary.select(
        "customer_id",
        summary["frequency"].alias("repeat_purchases"),
        summary["recency"].alias("recency_t"),
        summary["T"].alias("age_t"),
        summary["monetary_value"].alias("mean_repeat_spend"),
    )
    return scored.select(*RFM_OUTPUT_COLUMNS).join(renamed, "customer_id", "inner").toArrow()


def build_output(
    rows: pa.Table, columns: ClvColumns, run_id: str, as_of: dt.date, computed_at: dt.datetime
) -> pa.Table:
    """The customer_segments rows of one run, in the table's schema."""
    n = rows.num_rows
    data: dict[str, pa.Array | pa.ChunkedArray] = {
        "run_id": pa.array([run_id] * n, pa.string()),
        "as_of": pa.array([as_of] * n, pa.date32()),
    }
    for name in RFM_OUTPUT_COLUMNS:
        data[name] = rows[name]
    data["expected_purchases"] = pa.array(
        columns.expected_purchases, mask=np.isnan(columns.expected_purchases)
    )
    data["probability_alive"] = pa.array(columns.probability_alive, mask=np.isnan(columns.probability_alive))
    data["expected_avg_spend"] = _money(columns.expected_avg_spend)
    data["clv"] = _money(columns.lifetime_value)
    data["computed_at"] = pa.array([computed_at] * n, pa.timestamp("us", tz="UTC"))
    return pa.table(
        [data[f.name].cast(f.type) for f in CUSTOMER_SEGMENTS_SCHEMA], schema=CUSTOMER_SEGMENTS_SCHEMA
    )


def segment_summary(output: pa.Table) -> list[SegmentSummary]:
    """Customers, share, revenue share and mean CLV per segment, best segment first."""
    total = output.num_rows
    revenue_total = float(pc.sum(output["monetary"].cast(pa.float64())).as_py() or 0.0)
    grouped = output.group_by("segment").aggregate(
        [("customer_id", "count"), ("monetary", "sum"), ("clv", "mean")]
    )
    by_segment = {row["segment"]: row for row in grouped.to_pylist()}
    out = []
    for name in SEGMENTS:
        row = by_segment.get(name)
        if row is None:
            continue
        revenue = float(row["monetary_sum"] or 0)
        mean_clv = row["clv_mean"]
        out.append(
            SegmentSummary(
                segment=name,
                customers=int(row["customer_id_count"]),
                share=row["customer_id_count"] / total,
                revenue_share=revenue / revenue_total if revenue_total else 0.0,
                mean_clv=None if mean_clv is None else round(float(mean_clv), 2),
            )
        )
    return out


def rfm_heatmap(output: pa.Table) -> list[list[int]]:
    """Customers per (R, FM) cell: rows R = 5..1, columns FM = 1..5."""
    cells = np.zeros((5, 5), dtype=np.int64)
    r = output["r_score"].to_numpy()
    fm = output["fm_score"].to_numpy()
    np.add.at(cells, (5 - r, fm - 1), 1)
    return [[int(v) for v in row] for row in cells]


def write_segments(output: pa.Table, path: str, run_id: str, as_of: dt.date) -> None:
    """Replace this run's rows (same run id and as-of) in one Delta transaction, creating the table if new."""
    predicate = f"run_id = '{run_id}' AND as_of = '{as_of.isoformat()}'"
    write_deltalake(path, output, mode="overwrite", predicate=predicate, partition_by=["as_of"])
    log.info("wrote %d rows to %s (%s)", output.num_rows, path, predicate)


def run_segmentation(
    spark: SparkSession,
    resource: Resource[BaseModel],
    lake: str | None = None,
    as_of: str | dt.date | None = None,
    write_report: bool | None = None,
    now: dt.datetime | None = None,
) -> SegmentationResult:
    """Run one SegmentationRun: read transactions, score RFM, fit CLV, write the table and the report."""
    spec = resource.spec
    if not isinstance(spec, SegmentationRunSpec):
        raise SegmentationError(f"{resource.ref} is not a SegmentationRun")
    lake = lake or spec.lake
    reference = as_of_date(as_of if as_of is not None else spec.as_of)
    run_id = run_id_for(resource.name, reference)
    source = table_path(lake, spec.transactions_table)
    if not table_exists(source):
        raise SegmentationError(f"{resource.ref}: no transactions table at {source}")
    transactions = read_delta(spark, source).select("customer_id", "event_time", "total_amount")
    metrics = rfm_metrics(transactions, reference).cache()
    try:
        if metrics.isEmpty():
            raise SegmentationError(
                f"{resource.ref}: no orders on or before {reference.isoformat()} in {source}"
            )
        scored = score_rfm(metrics)
        summary = clv_summary(transactions, reference, spec.clv.time_unit_days)
        rows = _collect(scored, summary)
    finally:
        metrics.unpersist()
    log.info("%s: %d customers scored as of %s", resource.ref, rows.num_rows, reference)
    columns = compute_clv(rows, spec.clv)
    if columns.error:
        log.warning("%s: %s; CLV columns are null for this run", resource.ref, columns.error)
    computed_at = now or dt.datetime.now(dt.UTC)
    output = build_output(rows, columns, run_id, reference, computed_at)
    target = table_path(lake, spec.output_table)
    write_segments(output, target, run_id, reference)
    clv_values = output["clv"].cast(pa.float64())
    mean_clv = pc.mean(clv_values).as_py() if clv_values.null_count < len(clv_values) else None
    summary_rows = segment_summary(output)
    segments = {s.segment: s.customers for s in summary_rows}
    result = SegmentationResult(
        run_id=run_id,
        name=resource.name,
        as_of=reference,
        output_path=target,
        customers=output.num_rows,
        segments=segments,
        summary=summary_rows,
        mean_clv=None if mean_clv is None else round(float(mean_clv), 2),
        completed_at=computed_at,
        bgnbd=columns.bgnbd,
        gamma_gamma=columns.gamma_gamma,
        clv_error=columns.error,
        heatmap=rfm_heatmap(output),
    )
    if write_report if write_report is not None else spec.report:
        report_dir = Path(table_path(lake, "reports")) / run_id
        result = replace(result, report_path=str(render_report(report_dir, result, output)))
    return result
