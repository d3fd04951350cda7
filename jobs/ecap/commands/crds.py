"""``ecap crds``: print or write the CRDs generated from the API models."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ecap_operator import crdgen

# The repository root when running from a checkout (jobs/ecap/commands/crds.py -> three levels up).
_CHECKOUT_ROOT = Path(__file__).resolve().parents[3]


def _default_root() -> Path:
    return _CHECKOUT_ROOT if (_CHECKOUT_ROOT / "pyproject.toml").exists() else Path.cwd()


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "crds", help="print the ECAP CRDs (or write them to crds/ and helm/ecap/crds/)"
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="write crds/ and helm/ecap/crds/")
    mode.add_argument(
        "--check", action="store_true", help="exit 1 when the committed files differ from the models"
    )
    parser.add_argument("--root", type=Path, default=None, help="project root (default: this checkout)")
    parser.set_defaults(handler=run)


def targets(root: Path) -> list[Path]:
    """The folders that hold generated CRDs: the project's and the chart's copy."""
    return [root / "crds", root / "helm" / "ecap" / "crds"]


def stale_files(root: Path) -> list[Path]:
    """Generated files that are missing or differ from what the models produce now."""
    stale = []
    for folder in targets(root):
        for crd in crdgen.all_crds():
            path = folder / crdgen.crd_filename(crd)
            if not path.exists() or path.read_text() != crdgen.render(crd):
                stale.append(path)
    return stale


def run(args: argparse.Namespace) -> int:
    root: Path = args.root or _default_root()
    if args.write:
        for path in crdgen.write_crds(*targets(root)):
            print(f"wrote {path}")
        return 0
    if args.check:
        stale = stale_files(root)
        for path in stale:
            print(f"out of date: {path} (run `ecap crds --write`)", file=sys.stderr)
        return 1 if stale else 0
    sys.stdout.write(crdgen.render_all())
    return 0
