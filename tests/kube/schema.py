"""CRD ``openAPIV3Schema`` handling: structural checks, defaulting, pruning and validation.

What the API server does with a custom object, in its order: apply ``default`` values, prune fields
the schema does not declare (or reject them with ``fieldValidation=Strict``), validate, then run CEL
rules. CEL (``x-kubernetes-validations``) is not evaluated here. Validation uses ``jsonschema``'s
Draft 4 rules (OpenAPI 3.0 keeps Draft 4's boolean ``exclusiveMinimum``) after translating the
Kubernetes extensions: ``nullable`` -> also null, ``x-kubernetes-int-or-string`` -> integer or string.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any, Final

import jsonschema

from .errors import FieldCause

# The fields of apiextensions.k8s.io/v1 JSONSchemaProps; anything else is an unknown field.
SCHEMA_KEYWORDS: Final[frozenset[str]] = frozenset(
    {
        "description",
        "type",
        "format",
        "title",
        "default",
        "maximum",
        "exclusiveMaximum",
        "minimum",
        "exclusiveMinimum",
        "maxLength",
        "minLength",
        "pattern",
        "maxItems",
        "minItems",
        "uniqueItems",
        "multipleOf",
        "enum",
        "maxProperties",
        "minProperties",
        "required",
        "items",
        "allOf",
        "oneOf",
        "anyOf",
        "not",
        "properties",
        "additionalProperties",
        "patternProperties",
        "externalDocs",
        "example",
        "nullable",
        "x-kubernetes-preserve-unknown-fields",
        "x-kubernetes-embedded-resource",
        "x-kubernetes-int-or-string",
        "x-kubernetes-list-map-keys",
        "x-kubernetes-list-type",
        "x-kubernetes-map-type",
        "x-kubernetes-validations",
    }
)
_FORBIDDEN_IN_JUNCTORS: Final = ("type", "description", "default", "additionalProperties", "nullable")
_JUNCTORS: Final = ("allOf", "anyOf", "oneOf", "not")
_ROOT_MANAGED: Final = ("apiVersion", "kind", "metadata")


def _children(node: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    children: list[tuple[str, Mapping[str, Any]]] = []
    for key, sub in (node.get("properties") or {}).items():
        children.append((f".properties[{key}]", sub))
    if isinstance(node.get("items"), Mapping):
        children.append((".items", node["items"]))
    if isinstance(node.get("additionalProperties"), Mapping):
        children.append((".additionalProperties", node["additionalProperties"]))
    return children


def structural_errors(
    schema: Mapping[str, Any],
    path: str = "openAPIV3Schema",
    in_junctor: bool = False,
    int_or_string_branch: bool = False,
) -> list[FieldCause]:
    """Why the API server would refuse this schema in a CRD (empty when it is structural)."""
    causes: list[FieldCause] = []
    if not isinstance(schema, Mapping):
        return [FieldCause(path, "must be an object")]
    for key in schema:
        if key not in SCHEMA_KEYWORDS:
            why = "$ref is not supported, inline the definition" if key == "$ref" else "unknown field"
            causes.append(FieldCause(f"{path}.{key}", why, "FieldValueForbidden"))
    for key in ("exclusiveMinimum", "exclusiveMaximum"):
        if key in schema and not isinstance(schema[key], bool):
            causes.append(
                FieldCause(
                    f"{path}.{key}",
                    "must be a boolean (OpenAPI 3.0), with minimum/maximum",
                    "FieldValueInvalid",
                )
            )
    int_or_string = bool(schema.get("x-kubernetes-int-or-string"))
    if in_junctor:
        for key in _FORBIDDEN_IN_JUNCTORS:
            if key in schema and not (key == "type" and (int_or_string or int_or_string_branch)):
                causes.append(
                    FieldCause(
                        f"{path}.{key}", "must not be set inside allOf/anyOf/oneOf/not", "FieldValueForbidden"
                    )
                )
    elif (
        "type" not in schema and not int_or_string and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        causes.append(
            FieldCause(
                f"{path}.type",
                "Required value: must not be empty for specified object fields",
                "FieldValueRequired",
            )
        )
    if schema.get("properties") and isinstance(schema.get("additionalProperties"), Mapping):
        causes.append(
            FieldCause(
                f"{path}.additionalProperties",
                "properties and additionalProperties are mutually exclusive",
                "FieldValueForbidden",
            )
        )
    for suffix, child in _children(schema):
        causes.extend(structural_errors(child, path + suffix, in_junctor))
    for junctor in _JUNCTORS:
        branches = schema.get(junctor)
        if isinstance(branches, Mapping):
            branches = [branches]
        for index, branch in enumerate(branches or []):
            # The one allowed use of types inside anyOf: the int-or-string pattern of its parent.
            causes.extend(structural_errors(branch, f"{path}.{junctor}[{index}]", True, int_or_string))
    return causes


def to_json_schema(node: Any) -> Any:
    """Translate the Kubernetes dialect into plain JSON Schema that ``jsonschema`` understands."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, Mapping):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("properties", "patternProperties"):
            out[key] = {name: to_json_schema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not", "allOf", "anyOf", "oneOf"):
            out[key] = to_json_schema(value)
        elif key == "enum":
            out[key] = list(value)
        elif key in ("default", "example", "description", "format", "nullable") or key.startswith("x-"):
            continue
        else:
            out[key] = value
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if node.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
        if "anyOf" in out:
            out["anyOf"] = [*out["anyOf"], {"type": "null"}]
    return out


def root_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The object schema without apiVersion/kind/metadata, which the API server checks itself."""
    translated = dict(to_json_schema(schema))
    properties = {k: v for k, v in (translated.get("properties") or {}).items() if k not in _ROOT_MANAGED}
    translated["properties"] = properties
    if "required" in translated:
        translated["required"] = [k for k in translated["required"] if k not in _ROOT_MANAGED]
        if not translated["required"]:
            del translated["required"]
    return translated


def apply_defaults(value: Any, schema: Mapping[str, Any]) -> Any:
    """Fill missing properties that declare a ``default``, recursively, as the API server does."""
    if isinstance(value, dict):
        for key, sub in (schema.get("properties") or {}).items():
            if key not in value and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
            if key in value:
                value[key] = apply_defaults(value[key], sub)
        extra = schema.get("additionalProperties")
        if isinstance(extra, Mapping):
            for key in list(value):
                if key not in (schema.get("properties") or {}):
                    value[key] = apply_defaults(value[key], extra)
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [apply_defaults(item, schema["items"]) for item in value]
    return value


def prune_unknown(
    value: Any, schema: Mapping[str, Any], path: str, pruned: list[str], root: bool = False
) -> None:
    """Remove fields the schema does not declare, in place, and record their paths.

    A real API server drops them silently; recording them lets tests assert that nothing the
    operator sends is lost that way.
    """
    if isinstance(value, dict):
        preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
        embedded = bool(schema.get("x-kubernetes-embedded-resource"))
        properties = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for key in list(value):
            where = f"{path}.{key}" if path else key
            if (root or embedded) and key in _ROOT_MANAGED:
                continue  # the API server owns apiVersion, kind and metadata: never pruned by the schema
            if key in properties:
                prune_unknown(value[key], properties[key], where, pruned)
            elif isinstance(extra, Mapping):
                prune_unknown(value[key], extra, where, pruned)
            elif preserve or extra is True:
                continue
            else:
                pruned.append(where)
                del value[key]
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for index, item in enumerate(value):
            prune_unknown(item, schema["items"], f"{path}[{index}]", pruned)


def _field_path(parts: Any) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "<root>"


_SPLITTABLE_ROOT: Final = frozenset({"type", "properties", "required", "description", "title"})
"""Root keywords that only constrain the root itself: each property's value can be checked on its own."""
_MEMO_SIZE: Final = 4096

Violation = tuple[tuple[str | int, ...], str, str]
"""(path, jsonschema keyword, message)."""


class CompiledSchema:
    """One version's schema, translated once and reused for every object of that version.

    Validation is the costliest part of every write; most writes leave ``spec`` or ``status`` as it was
    (a status write, kopf's annotation patch), so each root property's verdict is remembered by content:
    the same value always gets the same answer from the same schema.
    """

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.source = schema
        root = root_schema(schema)
        self._validator = jsonschema.Draft4Validator(root)
        self._parts: dict[str, jsonschema.Draft4Validator] | None = None
        self._shell: jsonschema.Draft4Validator | None = None
        self._memo: dict[tuple[str, str], list[Violation]] = {}
        properties = root.get("properties") or {}
        if set(root) <= _SPLITTABLE_ROOT:
            self._shell = jsonschema.Draft4Validator({**root, "properties": dict.fromkeys(properties, {})})
            self._parts = {key: jsonschema.Draft4Validator(sub) for key, sub in properties.items()}

    def errors(self, body: Mapping[str, Any]) -> list[FieldCause]:
        """Every schema violation in ``body`` (apiVersion/kind/metadata excluded), field by field."""
        checked = {k: v for k, v in body.items() if k not in _ROOT_MANAGED}
        if self._parts is None or self._shell is None:
            found = _violations(self._validator, checked, ())
        else:
            found = _violations(self._shell, checked, ())
            for key, value in checked.items():
                validator = self._parts.get(key)
                if validator is not None:
                    found.extend(self._part_violations(key, validator, value))
        return [_cause(path, keyword, message) for path, keyword, message in sorted(found, key=_path_key)]

    def _part_violations(
        self, key: str, validator: jsonschema.Draft4Validator, value: Any
    ) -> list[Violation]:
        try:
            content = json.dumps(value, sort_keys=True)
        except (TypeError, ValueError):
            return _violations(validator, value, (key,))
        known = self._memo.get((key, content))
        if known is None:
            if len(self._memo) >= _MEMO_SIZE:
                self._memo.clear()
            known = self._memo[(key, content)] = _violations(validator, value, (key,))
        return list(known)


def _violations(
    validator: jsonschema.Draft4Validator, value: Any, prefix: tuple[str, ...]
) -> list[Violation]:
    return [
        ((*prefix, *error.absolute_path), str(error.validator), str(error.message))
        for error in validator.iter_errors(value)
    ]


def _path_key(violation: Violation) -> list[str | int]:
    return list(violation[0])


def _cause(path: tuple[str | int, ...], keyword: str, message: str) -> FieldCause:
    field = _field_path(path)
    if keyword == "required":
        missing = message.split("'")[1] if "'" in message else ""
        return FieldCause(
            f"{field}.{missing}" if field != "<root>" else missing, "Required value", "FieldValueRequired"
        )
    return FieldCause(field, f"Invalid value: {message}")
