"""The metric names contract: the table in helm/ecap/README.md, section "Metrics"."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .chart import CHART_DIR

_ROW = re.compile(
    r"^\| `(?P<name>ecap_[a-z0-9_]+)` \| (?P<type>counter|gauge|histogram) \|(?P<labels>[^|]*)\|"
)
_METRIC = re.compile(r"\b(ecap_[a-z0-9_]+)\b")
_BY = re.compile(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
# Labels Prometheus adds from the scrape target, plus the histogram bucket bound.
TARGET_LABELS = frozenset({"namespace", "pod", "container", "job", "instance", "service", "endpoint", "le"})


@dataclass(frozen=True)
class Metric:
    name: str
    type: str
    labels: frozenset[str]


def load_contract() -> dict[str, Metric]:
    """Metric name -> its declaration, from the README's Metrics table."""
    readme = (CHART_DIR / "README.md").read_text()
    section = readme.split("## Metrics", 1)[1].split("\n## ", 1)[0]
    metrics: dict[str, Metric] = {}
    for line in section.splitlines():
        if match := _ROW.match(line):
            labels = frozenset(part.strip() for part in match["labels"].split(",") if part.strip())
            metrics[match["name"]] = Metric(match["name"], match["type"], labels)
    return metrics


def metrics_in(expr: str, contract: dict[str, Metric]) -> set[str]:
    """Contract metric names an expression reads; names outside the contract come back unchanged."""
    found: set[str] = set()
    for name in _METRIC.findall(expr):
        base = name
        for suffix in HISTOGRAM_SUFFIXES:
            stem = name.removesuffix(suffix)
            if stem != name and contract.get(stem) and contract[stem].type == "histogram":
                base = stem
        found.add(base)
    return found


def grouping_labels(expr: str) -> set[str]:
    """Labels named in by/without/on/ignoring clauses."""
    return {label.strip() for group in _BY.findall(expr) for label in group.split(",") if label.strip()}


def unknown_labels(expr: str, contract: dict[str, Metric]) -> set[str]:
    """Grouping labels that neither the expression's metrics nor the scrape target provide."""
    allowed = set(TARGET_LABELS)
    for name in metrics_in(expr, contract):
        if name in contract:
            allowed |= contract[name].labels
    return grouping_labels(expr) - allowed
