"""Label and field selectors, parsed once and matched against object bodies (pure functions).

Grammar as in ``kubectl get -l``: ``a=b``, ``a==b``, ``a!=b``, ``a in (x,y)``, ``a notin (x)``,
``a`` (exists), ``!a`` (absent), comma-joined. Field selectors take ``=``, ``==``, ``!=`` on any
dotted path (the real server allows only a few paths per kind; accepting all is a superset).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import bad_request

Predicate = Callable[[Mapping[str, Any]], bool]

_SET_RE = re.compile(r"^\s*(?P<key>[^\s!=()]+)\s+(?P<op>in|notin)\s+\((?P<values>[^)]*)\)\s*$")
_EQ_RE = re.compile(r"^\s*(?P<key>[^\s!=]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^\s,]*)\s*$")
_EXISTS_RE = re.compile(r"^\s*(?P<neg>!?)\s*(?P<key>[^\s!=()]+)\s*$")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!exists"
    values: tuple[str, ...] = ()

    def matches(self, value: str | None) -> bool:
        if self.op == "exists":
            return value is not None
        if self.op == "!exists":
            return value is None
        if self.op in ("=", "in"):
            return value is not None and value in self.values
        # "!=" and "notin" also match objects that lack the key, as in Kubernetes.
        return value is None or value not in self.values


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside ``( )``."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part for part in parts if part.strip()]


def parse_label_selector(text: str) -> list[Requirement]:
    """Parse a label selector; raises a 400 ``ApiError`` naming the bad term."""
    requirements = []
    for term in _split_top_level(text):
        if match := _SET_RE.match(term):
            values = tuple(v.strip() for v in match["values"].split(",") if v.strip())
            requirements.append(Requirement(match["key"], match["op"], values))
        elif match := _EQ_RE.match(term):
            op = "=" if match["op"] in ("=", "==") else "!="
            requirements.append(Requirement(match["key"], op, (match["value"],)))
        elif match := _EXISTS_RE.match(term):
            requirements.append(Requirement(match["key"], "!exists" if match["neg"] else "exists"))
        else:
            raise bad_request(f"unable to parse requirement: {term.strip()!r}")
    return requirements


def parse_field_selector(text: str) -> list[Requirement]:
    requirements = []
    for term in _split_top_level(text):
        match = _EQ_RE.match(term)
        if match is None:
            raise bad_request(f"invalid field selector: {term.strip()!r}")
        op = "=" if match["op"] in ("=", "==") else "!="
        requirements.append(Requirement(match["key"], op, (match["value"],)))
    return requirements


def _field_value(body: Mapping[str, Any], path: str) -> str | None:
    node: Any = body
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    if node is None:
        return None
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)


def selector_predicate(label_selector: str | None, field_selector: str | None) -> Predicate:
    """One predicate for both selectors; raises 400 ``ApiError`` on a malformed selector."""
    labels = parse_label_selector(label_selector) if label_selector else []
    fields = parse_field_selector(field_selector) if field_selector else []

    def matches(body: Mapping[str, Any]) -> bool:
        object_labels = (body.get("metadata") or {}).get("labels") or {}
        if not all(req.matches(object_labels.get(req.key)) for req in labels):
            return False
        return all(req.matches(_field_value(body, req.key)) for req in fields)

    return matches
