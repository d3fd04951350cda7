"""The ``ecap`` command: one entry point for every workload, locally and in containers.

Each area owns a ``commands`` module under ``ecap.commands`` that adds its sub-commands; this file only
wires them, so areas never edit each other's parsers.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Final

# Module under ecap.commands -> one line of help. Imported lazily so `ecap broker` never loads Spark.
COMMAND_MODULES: Final[tuple[str, ...]] = (
    "up",
    "broker",
    "topics",
    "produce",
    "pipeline",
    "table",
    "backfill",
    "segment",
    "clv",
    "crds",
    "operator",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ecap", description="E-Commerce Analytics Platform")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"ecap.commands.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"ecap.commands.{name}":
                continue  # an area that has not landed yet
            raise
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
