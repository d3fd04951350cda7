"""The patch formats the API accepts, applied to plain JSON bodies (pure functions).

- ``application/merge-patch+json`` (RFC 7386): what kopf sends; ``null`` deletes a key, lists replace.
- ``application/json-patch+json`` (RFC 6902): kopf uses it with a ``test`` of
  ``/metadata/resourceVersion``; a failed test is a 422, which kopf reads as "retry later".
- ``application/strategic-merge-patch+json``: handled as a merge patch, except that lists of objects
  that all carry ``name`` (containers, env, volumes, ports) merge by that name as the real server does.
- ``application/apply-patch+yaml`` (server-side apply): the applied configuration is merged over the
  live object; fields dropped from an earlier apply are not removed (no managedFields tracking).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any, Final

import jsonpatch
import yaml

from .errors import ApiError, bad_request, unsupported_media_type

MERGE_PATCH: Final = "application/merge-patch+json"
JSON_PATCH: Final = "application/json-patch+json"
STRATEGIC_MERGE_PATCH: Final = "application/strategic-merge-patch+json"
APPLY_PATCH: Final = "application/apply-patch+yaml"


class PatchTestFailed(Exception):
    """A JSON-patch ``test`` operation did not hold (the API answers 422)."""


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, ``null`` removes, anything else replaces."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _named_items(items: Any) -> bool:
    return (
        isinstance(items, list)
        and bool(items)
        and all(isinstance(item, Mapping) and "name" in item for item in items)
    )


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """Merge patch with lists of named objects merged by ``name`` (``$patch: delete`` removes one)."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        current = result.get(key)
        if value is None:
            result.pop(key, None)
        elif _named_items(value) and isinstance(current, list) and _named_items(current):
            by_name = {item["name"]: item for item in current}
            order = [item["name"] for item in current]
            for item in value:
                if item.get("$patch") == "delete":
                    by_name.pop(item["name"], None)
                    continue
                if item["name"] not in by_name:
                    order.append(item["name"])
                by_name[item["name"]] = strategic_merge_patch(by_name.get(item["name"]), item)
            result[key] = [by_name[name] for name in order if name in by_name]
        else:
            result[key] = strategic_merge_patch(current, value)
    return result


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def parse_patch_body(content_type: str, raw: bytes) -> Any:
    """Decode the request body of a PATCH according to its media type."""
    media = content_type.split(";")[0].strip().lower()
    try:
        if media == APPLY_PATCH:
            return yaml.safe_load(raw.decode() or "{}")
        if media in (MERGE_PATCH, JSON_PATCH, STRATEGIC_MERGE_PATCH, "application/json"):
            return json.loads(raw.decode() or "null")
    except (ValueError, yaml.YAMLError) as err:
        raise bad_request(f"the patch body is not valid {media}: {err}") from err
    raise unsupported_media_type(media)


def apply_patch(content_type: str, body: Mapping[str, Any], patch: Any) -> dict[str, Any]:
    """A new body with ``patch`` applied; raises ``ApiError`` or ``PatchTestFailed``."""
    media = content_type.split(";")[0].strip().lower()
    if media == JSON_PATCH:
        if not isinstance(patch, list):
            raise bad_request("a JSON patch must be a list of operations")
        try:
            result = jsonpatch.apply_patch(copy.deepcopy(dict(body)), patch)
        except jsonpatch.JsonPatchTestFailed as err:
            raise PatchTestFailed(str(err)) from err
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as err:
            raise ApiError(422, "Invalid", f"the JSON patch cannot be applied: {err}", {}) from err
        if not isinstance(result, dict):
            raise bad_request("a JSON patch must keep the object a JSON object")
        return result
    if not isinstance(patch, Mapping):
        raise bad_request(f"a {media} body must be a JSON object")
    if media in (MERGE_PATCH, "application/json"):
        merged = merge_patch(body, patch)
    elif media == STRATEGIC_MERGE_PATCH:
        merged = strategic_merge_patch(body, patch)
    elif media == APPLY_PATCH:
        merged = merge_patch(body, _drop_nulls(patch))
    else:
        raise unsupported_media_type(media)
    assert isinstance(merged, dict)
    return merged
