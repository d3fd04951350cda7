"""The values table of helm/ecap/README.md, built from the `# --` comments in values.yaml.

A comment block starting with ``# --`` documents the key on the line after it; ``# @default -- text``
replaces the shown default (for defaults the templates compute). A documented key whose value is a map
is one row; the keys inside it are not documented separately (helm-docs does the same).

    python -m tests.unit.helm.values_doc --write    # rewrite the table in README.md
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from typing import Any

import yaml

from .chart import CHART_DIR

VALUES_FILE = CHART_DIR / "values.yaml"
README_FILE = CHART_DIR / "README.md"
TABLE_START = re.compile(r"^<!-- values-table:.*-->$", re.MULTILINE)
TABLE_END = "<!-- values-table-end -->"
_KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_.\-]+):(\s|$)")
_DOC_START = re.compile(r"^ *# -- ?(?P<text>.*)$")
_DEFAULT = re.compile(r"^ *# @default -- ?(?P<text>.*)$")
_CONTINUATION = re.compile(r"^ *# ?(?P<text>.*)$")


@dataclass(frozen=True)
class ValueDoc:
    key: str
    description: str
    default_override: str | None


def parse_docs(text: str) -> dict[str, ValueDoc]:
    """Dotted key -> its documentation, from the comments of a values.yaml."""
    docs: dict[str, ValueDoc] = {}
    stack: list[tuple[int, str]] = []
    pending: list[str] | None = None
    default: str | None = None
    for line in text.splitlines():
        if match := _DOC_START.match(line):
            pending, default = [match["text"].strip()], None
            continue
        if pending is not None and (match := _DEFAULT.match(line)):
            default = match["text"].strip()
            continue
        if pending is not None and (match := _CONTINUATION.match(line)):
            pending.append(match["text"].strip())
            continue
        match = _KEY_LINE.match(line)
        if not match:
            if line.strip() and not line.lstrip().startswith("#") and not line.lstrip().startswith("-"):
                pending = None
            continue
        indent = len(match["indent"])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, match["key"]))
        if pending is not None:
            key = ".".join(k for _, k in stack)
            docs[key] = ValueDoc(key, " ".join(p for p in pending if p), default)
            pending, default = None, None
    return docs


def undocumented(values: Any, docs: dict[str, ValueDoc], prefix: str = "") -> list[str]:
    """Keys of ``values`` with no documentation on them or on a map above them."""
    missing: list[str] = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        if path in docs:
            continue
        if isinstance(value, dict) and value:
            missing += undocumented(value, docs, f"{path}.")
        else:
            missing.append(path)
    return missing


def lookup(values: Any, key: str) -> Any:
    node = values
    for part in key.split("."):
        node = node[part]
    return node


def type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    return "object"


def render_table(values_text: str) -> str:
    """The markdown table of every documented value, in values.yaml order."""
    values = yaml.safe_load(values_text)
    rows = ["| Key | Type | Default | Description |", "|-----|------|---------|-------------|"]
    for doc in parse_docs(values_text).values():
        value = lookup(values, doc.key)
        default = doc.default_override or f"`{json.dumps(value, separators=(',', ':'))}`"
        description = doc.description.replace("|", "\\|")
        rows.append(f"| {doc.key} | {type_name(value)} | {default} | {description} |")
    return "\n".join(rows)


def table_in_readme(readme: str) -> str:
    start = TABLE_START.search(readme)
    end = readme.find(TABLE_END)
    if start is None or end < 0:
        raise ValueError(f"{README_FILE} lacks the values-table markers")
    return readme[start.end() : end].strip()


def write_table() -> None:
    readme = README_FILE.read_text()
    start = TABLE_START.search(readme)
    end = readme.find(TABLE_END)
    if start is None or end < 0:
        raise ValueError(f"{README_FILE} lacks the values-table markers")
    table = render_table(VALUES_FILE.read_text())
    README_FILE.write_text(readme[: start.end()] + "\n" + table + "\n" + readme[end:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the table in README.md")
    args = parser.parse_args(argv)
    if args.write:
        write_table()
    else:
        print(render_table(VALUES_FILE.read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
