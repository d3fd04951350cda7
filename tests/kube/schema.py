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
import re
from collections.abc import Callable, Mapping
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
    the same value always gets the same answer from the same schema. Before either, a compiled yes/no
    check (``fast_check``) answers for valid objects; ``jsonschema`` only explains the invalid ones.
    """

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.source = schema
        root = root_schema(schema)
        self._validator = jsonschema.Draft4Validator(root)
        self._parts: dict[str, jsonschema.Draft4Validator] | None = None
        self._shell: jsonschema.Draft4Validator | None = None
        self._memo: dict[tuple[str, str], list[Violation]] = {}
        properties = root.get("properties") or {}
        self._fast = fast_check(root)
        self._fast_parts = {key: fast_check(sub) for key, sub in properties.items()}
        if set(root) <= _SPLITTABLE_ROOT:
            self._shell = jsonschema.Draft4Validator({**root, "properties": dict.fromkeys(properties, {})})
            self._parts = {key: jsonschema.Draft4Validator(sub) for key, sub in properties.items()}

    def errors(self, body: Mapping[str, Any]) -> list[FieldCause]:
        """Every schema violation in ``body`` (apiVersion/kind/metadata excluded), field by field."""
        checked = {k: v for k, v in body.items() if k not in _ROOT_MANAGED}
        if self._fast is not None and self._fast(checked):
            return []
        if self._parts is None or self._shell is None:
            found = _violations(self._validator, checked, ())
        else:
            found = _violations(self._shell, checked, ())
            for key, value in checked.items():
                validator = self._parts.get(key)
                if validator is not None:
                    found.extend(self._part_violations(key, validator, value))
        return [_cause(path, keyword, message) for path, keyword, message in sorted(found, key=_path_key)]

    def part_schema(self, key: str) -> Mapping[str, Any] | None:
        """The schema of one root property when it can be checked on its own (None: check the whole)."""
        if self._parts is None or key not in self._parts:
            return None
        properties = self.source.get("properties") or {}
        sub = properties.get(key)
        return sub if isinstance(sub, Mapping) else None

    def part_errors(self, key: str, value: Any) -> list[FieldCause]:
        """The violations of one root property (``part_schema`` not None): what a write of only that
        part (the status subresource) can break. Not remembered: a status is rarely written twice."""
        assert self._parts is not None
        fast = self._fast_parts.get(key)
        if fast is not None and fast(value):
            return []
        found = _violations(self._parts[key], value, (key,))
        return [_cause(path, keyword, message) for path, keyword, message in sorted(found, key=_path_key)]

    def _part_violations(
        self, key: str, validator: jsonschema.Draft4Validator, value: Any
    ) -> list[Violation]:
        fast = self._fast_parts.get(key)
        if fast is not None and fast(value):
            return []
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


Check = Callable[[Any], bool]

_FAST_KEYWORDS: Final = frozenset(
    {
        "type",
        "properties",
        "additionalProperties",
        "items",
        "required",
        "enum",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "pattern",
        "minItems",
        "maxItems",
        "minProperties",
        "maxProperties",
        "anyOf",
        "allOf",
        "oneOf",
        "not",
        "title",
    }
)
"""What ``fast_check`` decides itself; a schema using anything else gets no fast check."""

_TYPES: Final[dict[str, Check]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def _json_equal(a: Any, b: Any) -> bool:
    """JSON equality as JSON Schema's ``enum`` means it: booleans are not numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    numbers = isinstance(a, int | float) and isinstance(b, int | float)
    return (type(a) is type(b) or numbers) and a == b


def fast_check(schema: Any) -> Check | None:
    """A compiled yes/no check of a (translated, Draft 4) schema, many times faster than ``jsonschema``:
    True only when ``jsonschema`` would find no violation (its messages are then not needed; on False
    they are asked from ``jsonschema``). None when the schema uses a keyword this does not implement."""
    if not isinstance(schema, Mapping) or not set(schema) <= _FAST_KEYWORDS:
        return None
    checks: list[Check] = []
    kind = schema.get("type")
    if kind is not None:
        kinds = [kind] if isinstance(kind, str) else list(kind)
        if not all(isinstance(k, str) and k in _TYPES for k in kinds):
            return None
        type_checks = [_TYPES[k] for k in kinds]
        checks.append(lambda v: any(check(v) for check in type_checks))
    if "enum" in schema:
        allowed = list(schema["enum"])
        checks.append(lambda v: any(_json_equal(v, a) for a in allowed))
    number = _number_checks(schema)
    if number is None:
        return None
    checks.extend(number)
    string = _string_checks(schema)
    if string is None:
        return None
    checks.extend(string)
    for keyword, compose in (("allOf", all), ("anyOf", any)):
        if keyword in schema:
            branches = [fast_check(branch) for branch in schema[keyword]]
            if any(branch is None for branch in branches):
                return None
            checks.append(lambda v, bs=branches, c=compose: c(b(v) for b in bs))  # type: ignore[misc]
    if "oneOf" in schema:
        one = [fast_check(branch) for branch in schema["oneOf"]]
        if any(branch is None for branch in one):
            return None
        checks.append(lambda v: sum(bool(b(v)) for b in one) == 1)  # type: ignore[misc]
    if "not" in schema:
        negated = fast_check(schema["not"])
        if negated is None:
            return None
        checks.append(lambda v: not negated(v))
    container = _container_checks(schema)
    if container is None:
        return None
    checks.extend(container)
    return lambda v: all(check(v) for check in checks)


def _number_checks(schema: Mapping[str, Any]) -> list[Check] | None:
    checks: list[Check] = []

    def numeric(v: Any) -> bool:
        return isinstance(v, int | float) and not isinstance(v, bool)

    if "minimum" in schema:
        low, above = schema["minimum"], bool(schema.get("exclusiveMinimum"))
        if not numeric(low):
            return None
        checks.append(lambda v: not numeric(v) or (v > low if above else v >= low))
    if "maximum" in schema:
        high, below = schema["maximum"], bool(schema.get("exclusiveMaximum"))
        if not numeric(high):
            return None
        checks.append(lambda v: not numeric(v) or (v < high if below else v <= high))
    return checks


def _string_checks(schema: Mapping[str, Any]) -> list[Check] | None:
    checks: list[Check] = []
    if "minLength" in schema:
        low = int(schema["minLength"])
        checks.append(lambda v: not isinstance(v, str) or len(v) >= low)
    if "maxLength" in schema:
        high = int(schema["maxLength"])
        checks.append(lambda v: not isinstance(v, str) or len(v) <= high)
    if "pattern" in schema:
        try:
            compiled = re.compile(schema["pattern"])
        except re.error:
            return None
        checks.append(lambda v: not isinstance(v, str) or compiled.search(v) is not None)
    return checks


def _container_checks(schema: Mapping[str, Any]) -> list[Check] | None:
    checks: list[Check] = []
    properties = schema.get("properties") or {}
    compiled = {name: fast_check(sub) for name, sub in properties.items()}
    if any(check is None for check in compiled.values()):
        return None
    extra = schema.get("additionalProperties", True)
    extra_check: Check | None = None
    if isinstance(extra, Mapping):
        extra_check = fast_check(extra)
        if extra_check is None:
            return None
    elif not isinstance(extra, bool):
        return None
    required = list(schema.get("required") or [])
    low, high = schema.get("minProperties"), schema.get("maxProperties")

    def object_ok(v: Any) -> bool:
        if not isinstance(v, dict):
            return True
        if any(name not in v for name in required):
            return False
        if (low is not None and len(v) < low) or (high is not None and len(v) > high):
            return False
        for name, value in v.items():
            check = compiled.get(name)
            if check is not None:
                if not check(value):
                    return False
            elif extra is False:
                return False
            elif extra_check is not None and not extra_check(value):
                return False
        return True

    if compiled or required or extra is not True or low is not None or high is not None:
        checks.append(object_ok)
    items = schema.get("items")
    item_check: Check | None = None
    if items is not None:
        if not isinstance(items, Mapping):
            return None  # tuple-typed items
        item_check = fast_check(items)
        if item_check is None:
            return None
    fewest, most = schema.get("minItems"), schema.get("maxItems")

    def array_ok(v: Any) -> bool:
        if not isinstance(v, list):
            return True
        if (fewest is not None and len(v) < fewest) or (most is not None and len(v) > most):
            return False
        return item_check is None or all(item_check(item) for item in v)

    if item_check is not None or fewest is not None or most is not None:
        checks.append(array_ok)
    return checks
