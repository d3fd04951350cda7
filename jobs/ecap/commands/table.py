"""``ecap table``: manage the ``DeltaTable`` resources of a file; also the operator's Job entrypoints."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from ecap.lake import LakeError
from ecap.lake.tables import (
    apply_table,
    describe_table,
    drop_table,
    optimize_table,
    read_table_at,
    restore_table,
    run_maintenance,
    spec_location,
    table_history,
    vacuum_table,
)
from ecap_operator.api import DeltaTableSpec, Resource, ResourceError, load_resources


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("table", help="create, evolve, inspect, maintain and time-travel Delta tables")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    def common(name: str, help_text: str) -> argparse.ArgumentParser:
        p = actions.add_parser(name, help=help_text)
        p.add_argument("-f", "--file", required=True, help="YAML file with DeltaTable resources")
        p.add_argument("--lake", help="lake root overriding spec.lake (local runs)")
        p.add_argument("--name", help="only the DeltaTable resource with this name")
        p.add_argument("--json", action="store_true", help="print JSON instead of tables")
        p.set_defaults(handler=run, action=name)
        return p

    common("apply", "create each table, or evolve it additively (breaking changes are refused)")
    common("describe", "version, files, size, partitions, last maintenance")
    history = common("history", "commits, newest first")
    history.add_argument("--limit", type=int, default=20)
    optimize = common("optimize", "compact small files (and Z-order by maintenance.zOrderBy)")
    optimize.add_argument("--z-order-by", nargs="*", help="override maintenance.zOrderBy")
    vacuum = common("vacuum", "remove files no longer in the table and older than the retention")
    vacuum.add_argument("--retention-hours", type=int, help="default: maintenance.retentionHours")
    vacuum.add_argument("--dry-run", action="store_true", help="list the files without deleting them")
    common("maintain", "what the maintenance CronJob runs: optimize, then vacuum, per the spec")
    drop = common("drop", "delete each table's files and log (what deletionPolicy Delete runs)")
    drop.add_argument("--yes", action="store_true", help="required: the data cannot be recovered")
    for name, help_text in (
        ("restore", "make an earlier version current (a new commit)"),
        ("show", "rows as of a version or timestamp (time travel)"),
    ):
        p = common(name, help_text)
        target = p.add_mutually_exclusive_group(required=True)
        target.add_argument("--version", type=int)
        target.add_argument("--timestamp", help="RFC 3339, e.g. 2026-11-30T12:00:00Z")
        if name == "show":
            p.add_argument("--limit", type=int, default=20)


def _tables(args: argparse.Namespace) -> list[Resource[Any]]:
    found = [
        r for r in load_resources(args.file, kinds=["DeltaTable"]) if not args.name or r.name == args.name
    ]
    if not found:
        raise ResourceError(
            f"{args.file}: no DeltaTable resource" + (f" named {args.name!r}" if args.name else "")
        )
    return found


def run(args: argparse.Namespace) -> int:
    console = Console()
    if args.action == "drop" and not args.yes:
        print("error: drop deletes the tables' data for good; pass --yes to confirm", file=sys.stderr)
        return 2
    try:
        results = [_run_one(args, res) for res in _tables(args)]
    except (ResourceError, LakeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(results if len(results) > 1 else results[0], indent=2, default=str))
    else:
        for result in results:
            _print(console, result)
    return 0


def _run_one(args: argparse.Namespace, res: Resource[Any]) -> dict[str, Any]:
    spec: DeltaTableSpec = res.spec
    location = spec_location(spec, res.name, args.lake)
    out: dict[str, Any] = {"resource": res.ref, "location": location, "action": args.action}
    if args.action == "apply":
        out |= apply_table(spec, location, name=spec.table_name or res.name).to_dict()
    elif args.action == "describe":
        out |= describe_table(location).to_dict()
    elif args.action == "history":
        out["history"] = table_history(location, args.limit)
    elif args.action == "optimize":
        z_order = (
            args.z_order_by
            if args.z_order_by is not None
            else (list(spec.maintenance.z_order_by) if spec.maintenance else [])
        )
        out["metrics"] = optimize_table(location, z_order)
    elif args.action == "vacuum":
        retention = args.retention_hours
        if retention is None:
            retention = spec.maintenance.retention_hours if spec.maintenance else spec.min_retention_hours
        files = vacuum_table(location, retention, spec.min_retention_hours, dry_run=args.dry_run)
        out |= {"dry_run": args.dry_run, "retention_hours": retention, "files": files}
    elif args.action == "maintain":
        out |= run_maintenance(spec, location)
    elif args.action == "drop":
        out |= drop_table(location).to_dict()
    elif args.action == "restore":
        out["metrics"] = restore_table(location, args.version, args.timestamp)
    elif args.action == "show":
        rows = read_table_at(location, args.version, args.timestamp)
        out |= {"num_rows": rows.num_rows, "rows": rows.slice(0, args.limit).to_pylist()}
    return out


def _print(console: Console, result: dict[str, Any]) -> None:
    table = Table(title=f"{result['resource']} ({result['action']})", show_header=False)
    for key, value in result.items():
        if key in {"resource", "action"}:
            continue
        if key == "history":
            value = "\n".join(f"v{h['version']} {h['timestamp']} {h['operation']}" for h in value)
        elif key == "rows":
            value = "\n".join(json.dumps(r, default=str) for r in value)
        elif isinstance(value, dict | list):
            value = json.dumps(value, default=str, indent=1) if value else "-"
        table.add_row(key, str(value))
    console.print(table)
