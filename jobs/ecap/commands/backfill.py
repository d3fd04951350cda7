"""``ecap backfill``: write a generated historical period into the lake through the pipeline's engine."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import Any


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "backfill", help="generate N past days and write them to the Delta tables (same engine as the stream)"
    )
    parser.add_argument("--days", type=int, help="whole UTC days ending yesterday (default: spec or 90)")
    parser.add_argument("--lake", required=True, help="root of the Delta tables")
    parser.add_argument("--end", type=date.fromisoformat, help="last day of the period (YYYY-MM-DD)")
    parser.add_argument("--customers", type=int, help="customer population (default: spec or 10000)")
    parser.add_argument("--seed", type=int, help="generator seed (default: spec or 42)")
    parser.add_argument(
        "--events-per-day", type=int, help="events of an ordinary weekday (default: spec or 2000)"
    )
    parser.add_argument(
        "-f",
        "--file",
        help="resources file: its DataProducer (with transactions) sets the shop, "
        "its StreamingPipeline the rules",
    )
    parser.set_defaults(handler=backfill_command)


def backfill_command(args: argparse.Namespace) -> int:
    from ecap.commands.pipeline import print_counts
    from ecap.pipeline import PipelineError
    from ecap.pipeline.backfill import plan_backfill, run_backfill
    from ecap.pipeline.metrics import default_metrics
    from ecap_operator.api import DataProducerSpec, ResourceError, StreamingPipelineSpec, load_resources

    producer = DataProducerSpec.model_validate({"topics": {"transactions": "transactions"}})
    pipeline = StreamingPipelineSpec.model_validate({"sources": {"transactions": "transactions"}})
    if args.file:
        try:
            resources = load_resources(args.file)
        except ResourceError as err:
            print(f"error: {err}")
            return 2
        producers = [
            r.spec for r in resources if isinstance(r.spec, DataProducerSpec) and r.spec.topics.transactions
        ]
        if producers:
            producer = producers[0]
        pipelines = [r.spec for r in resources if isinstance(r.spec, StreamingPipelineSpec)]
        if pipelines:
            pipeline = pipelines[0]
    overrides = {k: v for k, v in (("customers", args.customers), ("seed", args.seed)) if v is not None}
    if overrides:
        producer = producer.model_copy(update=overrides)
    try:
        plan = plan_backfill(producer, pipeline, args.lake, args.days, args.end, args.events_per_day)
        report = run_backfill(plan, metrics=default_metrics())
    except PipelineError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"backfill {plan.start}..{plan.end}: {report.batches} batches ({report.stopped_because})")
    print_counts(report)
    return 0
