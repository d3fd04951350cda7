"""``ecap topics apply``: create or update broker topics from KafkaTopic resources."""

from __future__ import annotations

import argparse
import sys

from ecap.kafka import KafkaSetupError, check_reachable, client_config, resolve_bootstrap
from ecap.topics import Action, TopicApplyError, apply_topics
from ecap_operator.api import ResourceError, load_resources


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("topics", help="create or update Kafka topics from KafkaTopic resources")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    apply = actions.add_parser(
        "apply",
        help="create missing topics, alter changed configs, add partitions (idempotent)",
        description=(
            "Bring every KafkaTopic in FILE to its spec: name = spec.topicName or metadata.name, "
            "partitions, and configs (retention.ms, cleanup.policy, compression.type, ...). A partition "
            "decrease is refused; the replication factor is capped to the broker count with a warning. "
            "The embedded broker cannot add partitions to an existing topic: that is reported, not hidden."
        ),
    )
    apply.add_argument("-f", "--file", required=True, help="YAML with KafkaTopic resources")
    apply.add_argument(
        "--bootstrap-servers", help="Kafka bootstrap servers (default: env, then 127.0.0.1:9092)"
    )
    apply.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")
    apply.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        resources = load_resources(args.file, kinds=["KafkaTopic"])
    except ResourceError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not resources:
        print(f"error: {args.file}: no KafkaTopic resource", file=sys.stderr)
        return 2
    bootstrap = resolve_bootstrap(args.bootstrap_servers)
    config = client_config(bootstrap)
    try:
        check_reachable(config, bootstrap)
        changes = apply_topics(resources, config, dry_run=args.dry_run)
    except TopicApplyError as err:
        for change in err.changes:
            print(change.describe())
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KafkaSetupError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    prefix = "would be " if args.dry_run else ""
    for change in changes:
        for warning in change.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        line = change.describe()
        if args.dry_run and change.action is not Action.UNCHANGED:
            line = line.replace(f": {change.action.value}", f": {prefix}{change.action.value}", 1)
        print(line)
    return 0
