"""``ecap operator [run]``: run the kopf operator that reconciles the ecap.io resources."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "operator",
        help="run the ECAP operator (kopf) against the current kubeconfig or in-cluster config",
        description=(
            "Reconcile KafkaTopic, DataProducer, StreamingPipeline, DeltaTable and SegmentationRun "
            "resources. Settings come from ECAP_OPERATOR_* environment variables."
        ),
    )
    parser.add_argument("action", nargs="?", choices=["run"], default="run", help="what to do (default: run)")
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument(
        "-n",
        "--namespace",
        action="append",
        default=[],
        metavar="NS",
        help="watch this namespace (repeatable)",
    )
    scope.add_argument("-A", "--all-namespaces", action="store_true", help="watch every namespace (default)")
    parser.add_argument(
        "--liveness", metavar="URL", help="kopf liveness endpoint, e.g. http://0.0.0.0:8080/healthz"
    )
    parser.add_argument(
        "--standalone",
        action="store_true",
        help="no peering (the default unless --peering is given); no KopfPeering CRD needed",
    )
    parser.add_argument(
        "--peering", metavar="NAME", help="coordinate several operator replicas via kopf peering"
    )
    parser.add_argument("--priority", type=int, default=0, help="peering priority of this replica")
    parser.add_argument("--debug", action="store_true", help="kopf debug logging")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import logging
    import sys

    import kopf

    # kopf does not export the error its startup phase raises when an activity handler fails for good.
    from kopf._core.engines.activities import ActivityError

    from ecap_operator.main import run as run_operator

    if args.standalone and args.peering:
        raise SystemExit("ecap operator: --standalone and --peering exclude each other")
    # kopf's own log format, with the [namespace/name] prefix of the object a line is about. `ecap` set up
    # a plain handler already: drop it, or every line would be printed twice.
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    kopf.configure(verbose=bool(args.verbose), debug=bool(args.debug), log_prefix=True)
    try:
        run_operator(
            namespaces=args.namespace,
            all_namespaces=args.all_namespaces,
            liveness=args.liveness,
            peering=args.peering,
            priority=args.priority,
        )
    except ActivityError as err:
        # A startup or login handler failed for good (e.g. no kubeconfig); kopf logged the details.
        print(f"ecap operator: cannot start: {err.__cause__ or err}", file=sys.stderr)
        return 1
    return 0
