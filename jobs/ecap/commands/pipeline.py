"""``ecap pipeline run``: run the StreamingPipeline resources of a file (what the SparkApplication runs)."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ecap.pipeline.runner import PipelineReport

log = logging.getLogger(__name__)


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("pipeline", help="streaming pipeline: Kafka -> Delta tables")
    sub = parser.add_subparsers(dest="pipeline_command", metavar="ACTION", required=True)
    run = sub.add_parser("run", help="run the StreamingPipeline resources in FILE")
    run.add_argument(
        "-f", "--file", required=True, help="YAML with the StreamingPipeline and its KafkaTopics"
    )
    run.add_argument("--bootstrap-servers", help="Kafka bootstrap servers (default: env, spec, embedded)")
    run.add_argument("--lake", help="root of the Delta tables (default: spec.lake)")
    run.add_argument("--name", help="run only the StreamingPipeline with this name")
    run.add_argument(
        "--until-idle",
        type=float,
        metavar="SECONDS",
        help="stop once no new input arrived for SECONDS and every partition is read to its end",
    )
    run.add_argument(
        "--checkpoint", help="checkpoint folder (default: spec or <lake>/_checkpoints/<ns>/<name>)"
    )
    run.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on this port")
    run.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace) -> int:
    from ecap.pipeline import PipelineError, run_pipeline
    from ecap.pipeline.metrics import default_metrics
    from ecap_operator.api import ResourceError, check_references, load_resources

    try:
        resources = load_resources(args.file)
        check_references(resources)
    except ResourceError as err:
        print(f"error: {err}")
        return 2
    pipelines = [
        r for r in resources if r.kind == "StreamingPipeline" and (not args.name or r.name == args.name)
    ]
    if not pipelines:
        print(
            f"error: {args.file} declares no StreamingPipeline"
            + (f" named {args.name!r}" if args.name else "")
        )
        return 2
    if len(pipelines) > 1 and args.checkpoint:
        print("error: --checkpoint names one query; pick one pipeline with --name")
        return 2
    metrics = default_metrics()
    if args.metrics_port:
        metrics.serve(args.metrics_port)
    stop = threading.Event()
    status = 0
    # Several pipelines in one file run one after the other only with --until-idle; a service runs one.
    if len(pipelines) > 1 and args.until_idle is None:
        print("error: the file declares several StreamingPipelines; pick one with --name")
        return 2
    for resource in pipelines:
        try:
            report = run_pipeline(
                resource,
                resources,
                bootstrap=args.bootstrap_servers,
                lake=args.lake,
                until_idle=args.until_idle,
                stop_event=stop,
                checkpoint=args.checkpoint,
                metrics=metrics,
            )
        except PipelineError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        print(f"{report.pipeline}: {report.batches} batches, stopped: {report.stopped_because}")
        print_counts(report)
        if stop.is_set():
            break
    return status


def print_counts(report: PipelineReport) -> None:
    """Where every record of a run went, per topic, and the rows each table gained."""
    for topic, c in sorted(report.topics.items()):
        print(
            f"  {topic}: {c.records} in, {c.clean} clean, {c.quarantined} quarantined, "
            f"{c.duplicates} duplicates"
        )
    for table, rows in sorted(report.rows_written.items()):
        print(f"  -> {table}: {rows} rows")
