"""The human form of the ``ecap up`` summary (``--json`` prints the same data)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from .summary import UpSummary


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def print_summary(console: Console, summary: UpSummary) -> None:
    data = summary.to_dict()
    flows = Table(title="Every record accounted for (produced = clean + quarantined + duplicates)")
    for column in ("topic", "produced", "clean", "quarantined", "duplicates", "dead-lettered", "balanced"):
        flows.add_column(column, justify="left" if column == "topic" else "right")
    for flow in summary.flows:
        flows.add_row(
            flow.topic,
            f"{flow.produced:,}",
            f"{flow.clean:,}",
            f"{flow.quarantined:,}",
            f"{flow.duplicates:,}",
            f"{flow.dead_lettered:,}",
            "yes" if flow.balanced else "[red]NO[/]",
        )
    console.print(flows)

    tables = Table(title=f"Delta tables in {summary.lake}")
    for column in ("table", "rows", "files", "size", "version"):
        tables.add_column(column, justify="left" if column == "table" else "right")
    for name, stats in data["tables"].items():
        tables.add_row(
            name,
            f"{stats['rows']:,}",
            str(stats["files"]),
            f"{stats['size_bytes'] / 1e6:.1f} MB",
            str(stats["version"]),
        )
    console.print(tables)

    quality: dict[str, Any] = data["quality"]
    if quality:
        failures = (
            ", ".join(f"{rule} {n}" for rule, n in list(quality["rule_failures"].items())[:5]) or "none"
        )
        console.print(
            f"[bold]Quality[/]: validity {_pct(quality['validity_rate'])}, completeness "
            f"{_pct(quality['completeness'])}, outliers z-score {quality['zscore_outliers']} / IQR "
            f"{quality['iqr_outliers']}; top rule failures: {failures}"
        )
    fraud: dict[str, Any] = data["fraud"]
    if fraud:
        console.print(
            f"[bold]Fraud[/]: {fraud['alerts']} alerts {fraud['by_severity']}; against "
            f"{fraud['injected_fraud']} injected: precision {_pct(fraud['precision'])}, "
            f"recall {_pct(fraud['recall'])}"
        )
    for kpi in data["kpis"]:
        top = ", ".join(p["product_id"] for p in kpi["top_products"][:3])
        console.print(
            f"[bold]KPIs[/] last {kpi['window_seconds']}s window from {kpi['window_start']}: revenue "
            f"{kpi['revenue']}, orders {kpi['orders']}, AOV {kpi['average_order_value']}, sessions "
            f"{kpi['active_sessions']}, conversion {_pct(kpi['conversion_rate'])}; top products {top}"
        )
    for run in data["segmentation"]:
        segments = Table(
            title=f"Customer segments: {run['name']} as of {run['asOf']} ({run['customers']:,} customers)"
        )
        for column in ("segment", "customers", "share", "revenue share", "mean CLV"):
            segments.add_column(column, justify="left" if column == "segment" else "right")
        for row in run["summary"]:
            segments.add_row(
                row["segment"],
                f"{row['customers']:,}",
                _pct(row["share"]),
                _pct(row["revenueShare"]),
                "-" if row["meanClv"] is None else f"{row['meanClv']:,.2f}",
            )
        console.print(segments)
        console.print(f"Mean CLV {run['meanClv']}; table {run['table']}; report {run['report']}")
    for note in summary.notes:
        console.print(f"[dim]note: {note}[/]")
    status = "[yellow]interrupted[/] (run again to resume)" if summary.interrupted else "[green]done[/]"
    console.print(
        f"{status} in {summary.elapsed_seconds:.0f}s; lake {summary.lake}"
        + (f"; metrics were at {summary.metrics_url}" if summary.metrics_url else "")
    )
