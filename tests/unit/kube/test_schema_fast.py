"""The emulator's compiled schema check (``fast_check``) never calls valid what ``jsonschema`` rejects.

Checked on every CRD the tests register (ours and the upstream Strimzi, Spark Operator and monitoring
ones), with objects built from each schema and then broken in many small ways, the way writes go wrong.
"""

from __future__ import annotations

import copy
import random
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.kube.schema import fast_check, root_schema

ROOT = Path(__file__).resolve().parents[3]
UPSTREAM = ROOT.parent / "shared" / "upstream-crds"
CRD_FILES = [
    *sorted((ROOT / "crds").glob("*.yaml")),
    *(
        UPSTREAM / name
        for name in ("kafka.strimzi.io_kafkatopics.yaml", "sparkoperator.k8s.io_sparkapplications.yaml")
    ),
]
"""Ours and the upstream kinds the operator writes (the monitoring CRDs use regexes Python cannot compile)."""
STRINGS = (
    "abc",
    "a",
    "1",
    "512m",
    "2g",
    "1Gi",
    "2026-12-01",
    "4.0.1",
    "0 4 * * *",
    "@daily",
    "string",
    "/lake/x",
)
"""String candidates for fields with a pattern: the first that matches is used."""


def version_schemas() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in CRD_FILES:
        for doc in yaml.safe_load_all(path.read_text()):
            if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                continue
            for version in doc["spec"]["versions"]:
                schema = (version.get("schema") or {}).get("openAPIV3Schema")
                if schema:
                    yield f"{doc['metadata']['name']}/{version['name']}", root_schema(schema)


def sample(schema: Mapping[str, Any], rng: random.Random, depth: int = 0) -> Any:
    """A value the schema accepts most of the time (required fields, enums, bounds, optional fields)."""
    if "enum" in schema:
        return copy.deepcopy(rng.choice(schema["enum"]))
    for junctor in ("anyOf", "oneOf", "allOf"):
        if junctor in schema and "type" not in schema:
            return sample(rng.choice(schema[junctor]), rng, depth)
    kind = schema.get("type")
    kind = rng.choice(kind) if isinstance(kind, list) else kind
    if kind == "object" or "properties" in schema:
        out: dict[str, Any] = {}
        for name, sub in (schema.get("properties") or {}).items():
            if name in (schema.get("required") or []) or (depth < 4 and rng.random() < 0.5):
                out[name] = sample(sub, rng, depth + 1)
        return out
    if kind == "array":
        items = schema.get("items")
        count = max(schema.get("minItems", 0), rng.randint(0, 2))
        return [sample(items, rng, depth + 1) for _ in range(count)] if isinstance(items, Mapping) else []
    if kind == "integer":
        return int(max(schema.get("minimum", 0), min(schema.get("maximum", 10), rng.randint(0, 10))))
    if kind == "number":
        return float(max(schema.get("minimum", 0), min(schema.get("maximum", 10), rng.random() * 10)))
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if "pattern" in schema:
        return next((c for c in STRINGS if re.search(schema["pattern"], c)), "abc")
    return "a" * max(schema.get("minLength", 0), 1)


BREAKERS = [None, True, 0, -1, 10**12, 1.5, "", "x" * 300, "Not-Valid!", [], [1], {}, {"unknown": 1}]


def mutations(value: Any, rng: random.Random, count: int) -> Iterator[Any]:
    """Copies of ``value`` with one leaf, list or object replaced by something else, or a key removed."""
    paths = list(_paths(value, ()))
    for _ in range(count):
        broken = copy.deepcopy(value)
        path = rng.choice(paths) if paths else ()
        if not path:
            yield rng.choice(BREAKERS)
            continue
        parent = broken
        for step in path[:-1]:
            parent = parent[step]
        if isinstance(parent, dict) and rng.random() < 0.3:
            del parent[path[-1]]
        else:
            parent[path[-1]] = copy.deepcopy(rng.choice(BREAKERS))
        yield broken


def _paths(value: Any, prefix: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, sub in value.items():
            yield (*prefix, key)
            yield from _paths(sub, (*prefix, key))
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            yield (*prefix, index)
            yield from _paths(sub, (*prefix, index))


@pytest.mark.parametrize(
    "name,schema", list(version_schemas()), ids=lambda v: v if isinstance(v, str) else ""
)
def test_fast_check_agrees_with_jsonschema(name: str, schema: dict[str, Any]) -> None:
    validator = jsonschema.Draft4Validator(schema)
    parts = {
        key: (fast_check(sub), jsonschema.Draft4Validator(sub)) for key, sub in schema["properties"].items()
    }
    whole = fast_check(schema)
    assert whole is not None or any(check is None for check, _ in parts.values()), name
    rng = random.Random(name)
    checked = valid = 0
    for _ in range(20):
        good = sample(schema, rng)
        for candidate in [good, *mutations(good, rng, 30)]:
            expected = not any(True for _ in validator.iter_errors(candidate))
            if whole is not None:
                assert whole(candidate) == expected, (name, candidate)
            for key, (check, part_validator) in parts.items():
                if check is not None and isinstance(candidate, dict) and key in candidate:
                    part_expected = not any(True for _ in part_validator.iter_errors(candidate[key]))
                    assert check(candidate[key]) == part_expected, (name, key, candidate[key])
            checked += 1
            valid += expected
    # Both verdicts were exercised, not only one.
    assert 0 < valid < checked, (name, valid, checked)
