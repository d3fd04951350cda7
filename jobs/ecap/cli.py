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

# Modules under ecap.commands, one per command. Only the command being run is imported (its module pulls
# in what it needs: Spark, numpy, scipy...), so `ecap operator` and `ecap produce` start without them.
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


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser for one known ``command``, or for all of them (``ecap --help``, a mistyped command)."""
    parser = argparse.ArgumentParser(prog="ecap", description="E-Commerce Analytics Platform")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in (command,) if command in COMMAND_MODULES else COMMAND_MODULES:
        try:
            module = importlib.import_module(f"ecap.commands.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"ecap.commands.{name}":
                continue  # an area that has not landed yet
            raise
        module.add_parser(sub)
    return parser


def command_named(argv: Sequence[str]) -> str | None:
    """The command word of an ``ecap`` command line: the first argument that is not an option (the only
    options before it, -v and -h, take no value)."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(command_named(arguments))
    args = parser.parse_args(arguments)
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
