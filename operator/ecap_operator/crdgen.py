"""CustomResourceDefinitions generated from the pydantic API models: the models are the only schema source.

Pydantic emits JSON Schema 2020-12; Kubernetes wants a *structural* OpenAPI v3.0 schema. The rewrite here
inlines every ``$ref``, turns ``anyOf [X, null]`` into ``nullable: true``, gives every node a ``type``,
drops ``title`` and other keywords the API server refuses, and converts numeric ``exclusiveMinimum`` to
the OpenAPI boolean form. ``ecap crds --write`` commits the result to ``crds/`` and the Helm chart.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import yaml
from pydantic import BaseModel

from .api import GROUP, KINDS, VERSION, Kind

JsonSchema = dict[str, Any]

CATEGORIES: Final[list[str]] = ["ecap"]

# Keywords Kubernetes does not accept in a CRD schema (or that carry no meaning there).
_DROPPED: Final[frozenset[str]] = frozenset({"title", "examples", "$schema", "$id", "discriminator"})

_READY_COLUMN: Final[dict[str, Any]] = {
    "name": "Ready",
    "type": "string",
    "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
    "description": "Whether the resource's children are ready (the Ready condition).",
}
_PHASE_COLUMN: Final[dict[str, Any]] = {
    "name": "Phase",
    "type": "string",
    "jsonPath": ".status.phase",
    "description": "Pending, Progressing, Ready, Succeeded, Degraded, Failed or Invalid.",
}
_AGE_COLUMN: Final[dict[str, Any]] = {
    "name": "Age",
    "type": "date",
    "jsonPath": ".metadata.creationTimestamp",
}


def _col(name: str, type_: str, path: str, description: str, priority: int = 0) -> dict[str, Any]:
    column: dict[str, Any] = {"name": name, "type": type_, "jsonPath": path, "description": description}
    if priority:
        column["priority"] = priority
    return column


# Key figures per kind, shown by `kubectl get` between Phase and Age.
PRINTER_COLUMNS: Final[dict[str, list[dict[str, Any]]]] = {
    "KafkaTopic": [
        _col("Topic", "string", ".status.topicName", "Topic name on the broker."),
        _col("Partitions", "integer", ".spec.partitions", "Desired partition count."),
        _col("Replicas", "integer", ".spec.replicas", "Desired replication factor."),
    ],
    "DataProducer": [
        _col("Rate", "number", ".spec.rate", "Base events per second per replica."),
        _col("Replicas", "integer", ".spec.replicas", "Desired producer pods."),
        _col("Available", "integer", ".status.availableReplicas", "Producer pods available."),
    ],
    "StreamingPipeline": [
        _col("App State", "string", ".status.applicationState", "SparkApplication state."),
        _col("Executors", "integer", ".spec.spark.executor.instances", "Spark executors.", priority=1),
    ],
    "DeltaTable": [
        _col("Version", "integer", ".status.version", "Latest Delta table version."),
        _col("Files", "integer", ".status.numFiles", "Data files in the current snapshot."),
        _col("Location", "string", ".status.location", "Table location in the lake.", priority=1),
    ],
    "SegmentationRun": [
        _col("Schedule", "string", ".spec.schedule", "Cron schedule, empty for a one-off run."),
        _col("App State", "string", ".status.applicationState", "State of the (last) Spark run."),
        _col("Customers", "integer", ".status.customers", "Customers segmented by the last run."),
        _col("Mean CLV", "number", ".status.meanClv", "Mean predicted CLV of the last run.", priority=1),
    ],
}


class CrdGenerationError(ValueError):
    """A model produced a schema that cannot be turned into a structural CRD schema."""


def _resolve(ref: str, defs: Mapping[str, JsonSchema]) -> JsonSchema:
    prefix = "#/$defs/"
    if not ref.startswith(prefix) or ref[len(prefix) :] not in defs:
        raise CrdGenerationError(f"unresolvable $ref {ref!r}")
    return defs[ref[len(prefix) :]]


def _is_null(node: Any) -> bool:
    return isinstance(node, dict) and node.get("type") == "null" and len(node) == 1


def _infer_type(node: JsonSchema) -> str | None:
    if "properties" in node or "additionalProperties" in node:
        return "object"
    if "items" in node:
        return "array"
    values = node.get("enum")
    if values:
        kinds = {type(v) for v in values if v is not None}
        if kinds == {str}:
            return "string"
        if kinds == {int}:
            return "integer"
        if kinds <= {int, float}:
            return "number"
        if kinds == {bool}:
            return "boolean"
    return None


def structural(node: Any, defs: Mapping[str, JsonSchema], path: str = "") -> JsonSchema:
    """Rewrite one pydantic JSON-schema node into a structural OpenAPI v3.0 node (recursively)."""
    if not isinstance(node, dict):
        raise CrdGenerationError(f"{path or '<root>'}: schema node is not a mapping: {node!r}")
    node = dict(node)
    if "$ref" in node:
        target = _resolve(node.pop("$ref"), defs)
        # The field's own keywords (description, default) win over the referenced model's.
        node = {**target, **node}
    if "allOf" in node and len(node["allOf"]) == 1:
        node = {**node.pop("allOf")[0], **node}
        return structural(node, defs, path)

    out: JsonSchema = {}
    any_of = node.pop("anyOf", None)
    if any_of is not None:
        options = [o for o in any_of if not _is_null(o)]
        if len(options) != 1:
            raise CrdGenerationError(f"{path}: unions other than Optional[X] are not supported")
        inner = structural(
            {**options[0], **{k: v for k, v in node.items() if k in ("description",)}}, defs, path
        )
        if "default" in node and node["default"] is not None:
            inner["default"] = node["default"]
        if len(options) < len(any_of):
            inner = {"type": inner["type"], "nullable": True, **inner}
        return inner

    for key, value in node.items():
        if key in _DROPPED:
            continue
        if key == "const":
            out["enum"] = [value]
        elif key == "default":
            if value is not None:
                out["default"] = copy.deepcopy(value)
        elif key == "properties":
            out["properties"] = {name: structural(sub, defs, f"{path}.{name}") for name, sub in value.items()}
        elif key == "additionalProperties":
            # `false` (pydantic's extra=forbid) is not allowed in a CRD: the API server prunes or, with
            # strict field validation, rejects unknown fields instead. `true` means keep unknown fields.
            if value is True:
                out["x-kubernetes-preserve-unknown-fields"] = True
            elif isinstance(value, dict):
                out["additionalProperties"] = structural(value, defs, f"{path}.*")
        elif key == "items":
            out["items"] = structural(value, defs, f"{path}[]")
        elif key in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(value, bool):
            bound = "minimum" if key == "exclusiveMinimum" else "maximum"
            out[bound] = value
            out[key] = True
        elif key in ("prefixItems", "oneOf", "not", "patternProperties", "uniqueItems", "$defs"):
            if key != "$defs":
                raise CrdGenerationError(f"{path}: JSON-schema keyword {key!r} has no structural form")
        else:
            out[key] = copy.deepcopy(value)

    if "type" not in out:
        inferred = _infer_type(out)
        if inferred is None:
            raise CrdGenerationError(f"{path or '<root>'}: cannot infer a type for {sorted(out)}")
        out["type"] = inferred
    if isinstance(out["type"], list):
        raise CrdGenerationError(f"{path}: multi-type nodes are not structural: {out['type']}")
    first = [k for k in ("type", "nullable", "description") if k in out]
    return {**{k: out[k] for k in first}, **{k: v for k, v in out.items() if k not in first}}


def model_schema(model: type[BaseModel], *, keep_unknown: bool = False) -> JsonSchema:
    """The structural schema of one pydantic model, as users write it (validation mode, camelCase)."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs = raw.get("$defs", {})
    schema = structural(raw, defs, model.__name__)
    if keep_unknown or model.model_config.get("extra") == "allow":
        schema["x-kubernetes-preserve-unknown-fields"] = True
    return schema


def _spec_required(model: type[BaseModel]) -> bool:
    return any(field.is_required() for field in model.model_fields.values())


def build_crd(kind: Kind) -> dict[str, Any]:
    """The apiextensions.k8s.io/v1 CRD of one ECAP kind."""
    spec_schema = model_schema(kind.spec)
    status_schema = model_schema(kind.status, keep_unknown=True)
    status_schema = {
        "type": "object",
        "description": "Observed state: phase and conditions from the operator, figures from the jobs.",
        **{k: v for k, v in status_schema.items() if k != "description"},
    }
    spec_schema = {
        "type": "object",
        "description": spec_schema.get("description", f"Desired state of the {kind.kind}."),
        **spec_schema,
    }
    root: JsonSchema = {
        "type": "object",
        "description": kind.description,
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec_schema,
            "status": status_schema,
        },
    }
    if _spec_required(kind.spec):
        root["required"] = ["spec"]
    singular = kind.kind.lower()
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{kind.plural}.{GROUP}",
            "labels": {"app.kubernetes.io/part-of": "ecap"},
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": singular,
                "shortNames": list(kind.short_names),
                "categories": list(CATEGORIES),
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        _READY_COLUMN,
                        _PHASE_COLUMN,
                        *PRINTER_COLUMNS.get(kind.kind, []),
                        _AGE_COLUMN,
                    ],
                    "schema": {"openAPIV3Schema": root},
                }
            ],
        },
    }


def all_crds() -> list[dict[str, Any]]:
    """Every ECAP CRD, in the order of ``api.KINDS``."""
    return [build_crd(kind) for kind in KINDS.values()]


def crd_filename(crd: Mapping[str, Any]) -> str:
    """``<plural>.ecap.io.yaml``: the CRD's own name, so files and objects match one to one."""
    return f"{crd['metadata']['name']}.yaml"


HEADER: Final[str] = "# Generated by `ecap crds --write` from operator/ecap_operator/api. Do not edit.\n"


def render(crd: Mapping[str, Any]) -> str:
    """The YAML text of one CRD, stable across runs (the drift test compares it byte for byte)."""
    return HEADER + yaml.safe_dump(dict(crd), sort_keys=False, width=110, allow_unicode=True)


def render_all() -> str:
    """All CRDs as one multi-document YAML stream."""
    return "---\n".join(render(crd) for crd in all_crds())


def write_crds(*dirs: Path) -> list[Path]:
    """Write every CRD into each folder (``crds/`` and the chart's ``crds/``); return the paths written."""
    written: list[Path] = []
    for folder in dirs:
        folder.mkdir(parents=True, exist_ok=True)
        for crd in all_crds():
            path = folder / crd_filename(crd)
            path.write_text(render(crd))
            written.append(path)
    return written
