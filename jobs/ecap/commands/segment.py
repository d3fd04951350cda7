"""``ecap segment run``: RFM segments and CLV for each SegmentationRun in a resource file.

The same command is the SparkApplication entrypoint in a cluster (``-f /etc/ecap/resources.yaml``).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from rich.console import Console
from rich.table import Table

from ecap.lake import LakeError
from ecap.segmentation import SegmentationError
from ecap.segmentation.runner import SegmentationResult, failure_status
from ecap.status import report_status, reports_to
from ecap_operator.api import ResourceError, load_resources

log = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("segment", help="RFM segmentation and customer lifetime value")
    sub = parser.add_subparsers(dest="segment_command", metavar="ACTION", required=True)
    run = sub.add_parser("run", help="run every SegmentationRun in a resource file")
    run.add_argument("-f", "--file", required=True, help="YAML file with SegmentationRun resources")
    run.add_argument("--lake", help="lake root (default: each resource's spec.lake)")
    run.add_argument("--as-of", help="reference date YYYY-MM-DD (default: spec.asOf, else today UTC)")
    run.add_argument("--json", action="store_true", help="print the results as JSON")
    run.add_argument("--no-report", action="store_true", help="skip the PNG/HTML report")
    run.set_defaults(handler=run_command)


def print_result(console: Console, result: SegmentationResult) -> None:
    table = Table(title=f"{result.run_id}: {result.customers:,} customers as of {result.as_of.isoformat()}")
    for column in ("Segment", "Customers", "Share", "Revenue share", "Mean CLV"):
        table.add_column(column, justify="left" if column == "Segment" else "right")
    for s in result.summary:
        table.add_row(
            s.segment,
            f"{s.customers:,}",
            f"{100 * s.share:.1f}%",
            f"{100 * s.revenue_share:.1f}%",
            "-" if s.mean_clv is None else f"{s.mean_clv:,.2f}",
        )
    console.print(table)
    if result.bgnbd and result.gamma_gamma:
        b, g = result.bgnbd.params, result.gamma_gamma.params
        console.print(
            f"BG/NBD r={b.r:.4g} alpha={b.alpha:.4g} a={b.a:.4g} b={b.b:.4g}; "
            f"Gamma-Gamma p={g.p:.4g} q={g.q:.4g} v={g.v:.4g}; mean CLV {result.mean_clv:,.2f}"
        )
    if result.clv_error:
        console.print(f"[yellow]CLV not computed: {result.clv_error}[/yellow]")
    console.print(
        f"table {result.output_path}" + (f", report {result.report_path}" if result.report_path else "")
    )


def run_command(args: argparse.Namespace) -> int:
    console = Console(stderr=args.json)
    errors = Console(stderr=True, soft_wrap=True)
    try:
        resources = load_resources(args.file, kinds=["SegmentationRun"])
    except ResourceError as err:
        errors.print(str(err), style="red", markup=False)
        return 2
    if not resources:
        errors.print(f"{args.file}: no SegmentationRun resource", style="red", markup=False)
        return 2
    # Spark and the runner load only when there is work: `ecap segment --help` stays fast.
    from ecap.segmentation.runner import run_segmentation
    from ecap.spark import get_spark

    spark = get_spark("ecap-segment")
    results = []
    failed = False
    for resource in resources:
        reporting = reports_to(resource.kind, resource.name)
        try:
            result = run_segmentation(
                spark,
                resource,
                lake=args.lake,
                as_of=args.as_of,
                write_report=False if args.no_report else None,
            )
        except (SegmentationError, LakeError) as err:
            failed = True
            errors.print(f"{resource.ref}: {err}", style="red", markup=False)
            if reporting:
                report_status(failure_status(str(err)))
            continue
        results.append(result)
        if reporting:
            report_status(result.status())
        if not args.json:
            print_result(console, result)
    if args.json:
        json.dump([r.to_dict() for r in results], sys.stdout, indent=2)
        sys.stdout.write("\n")
    return 1 if failed else 0
