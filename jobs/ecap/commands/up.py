"""``ecap up``: run the whole platform of a resource file on this machine and summarise it."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from rich.console import Console

from ecap_operator.api import ResourceError

DEFAULT_FILE = Path("manifests/examples/platform.yaml")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "up",
        help="run the whole flow locally: embedded broker, producers, pipeline, tables, segmentation",
        description="Runs the resources of FILE on this machine, then prints a summary. Run it again on the "
        "same --lake to resume without duplicates.",
    )
    parser.add_argument(
        "-f", "--file", type=Path, default=DEFAULT_FILE, help=f"resources (default {DEFAULT_FILE})"
    )
    volume = parser.add_mutually_exclusive_group()
    volume.add_argument(
        "--events", type=int, help="total events to replay over the declared backfill periods"
    )
    volume.add_argument("--duration", type=float, help="after the replay, produce live events for S seconds")
    parser.add_argument("--lake", type=Path, default=Path(".ecap/lake"), help="Delta tables folder")
    parser.add_argument("--bootstrap-servers", help="use this Kafka instead of starting the embedded broker")
    parser.add_argument("--broker-port", type=int, help="port of the embedded broker (default: a free one)")
    parser.add_argument(
        "--metrics-port", type=int, default=9108, help="Prometheus /metrics during the run (0: off)"
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ecap.broker import BrokerError
    from ecap.kafka import KafkaSetupError
    from ecap.lake import LakeError
    from ecap.pipeline.errors import PipelineError
    from ecap.segmentation import SegmentationError
    from ecap.up.flow import UpError, UpOptions, run_up
    from ecap.up.render import print_summary

    # Every error root of the steps: each message already says what failed and what to do.
    known = (
        UpError,
        ResourceError,
        BrokerError,
        KafkaSetupError,
        LakeError,
        PipelineError,
        SegmentationError,
    )

    if args.events is not None and args.events < 1:
        print("error: --events must be at least 1", file=sys.stderr)
        return 2
    console = Console(stderr=args.json)
    if not args.verbose:
        for noisy in ("ecap", "py4j", "kafka"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    options = UpOptions(
        file=args.file,
        lake=args.lake,
        bootstrap=args.bootstrap_servers,
        events=args.events,
        duration=args.duration,
        broker_port=args.broker_port,
        metrics_port=args.metrics_port,
        progress=console.is_terminal,
    )
    try:
        summary = run_up(options, console)
    except known as err:
        console.print(f"[bold red]ecap up failed:[/] {err}")
        return 2
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2, default=str))
    else:
        print_summary(console, summary)
    if summary.interrupted:
        return 130
    return 0 if summary.balanced else 1
