"""Validate rendered chart objects: built-in kinds with kubernetes-validate, monitoring.coreos.com kinds
against the Prometheus Operator CRDs in ../shared/upstream-crds.

Reuses the translation in tests/fixtures/upstream.py and adds one fix: the PrometheusRule CRD has Go
(RE2) patterns with an inline flag after the anchor (``^(?i)(abort|warn)?$``), which Python's ``re``
refuses; the flag is moved to the front, which means the same thing.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from tests.fixtures.upstream import builtin_errors, custom_errors

_MID_FLAG = re.compile(r"^\^\(\?([a-z]+)\)")


def python_pattern(pattern: str) -> str:
    """An RE2 pattern with a leading ``^(?flags)`` rewritten as ``(?flags)^`` for Python."""
    return _MID_FLAG.sub(lambda m: f"(?{m.group(1)})^", pattern)


def _fix_patterns(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: python_pattern(value)
            if key == "pattern" and isinstance(value, str)
            else _fix_patterns(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_fix_patterns(item) for item in node]
    return node


class ChartObjectValidator:
    """Errors of one rendered object; custom kinds need their CRD among ``crds``, else LookupError."""

    def __init__(self, crds: Mapping[tuple[str, str], Mapping[str, Any]]) -> None:
        self.crds = {key: _fix_patterns(copy.deepcopy(dict(crd))) for key, crd in crds.items()}

    def errors(self, obj: Mapping[str, Any]) -> list[str]:
        api_version = str(obj.get("apiVersion", ""))
        group = api_version.split("/", 1)[0] if "/" in api_version else ""
        crd = self.crds.get((group, str(obj.get("kind"))))
        if crd is not None:
            return custom_errors(obj, crd)
        if "." in group and not group.endswith(".k8s.io"):
            raise LookupError(f"no CRD known for {api_version} {obj.get('kind')}")
        return builtin_errors(obj)
