"""An in-memory stand-in for the Kubernetes API (none can run here) with KubeApi's interface.

It keeps objects as dicts, applies JSON merge patches, sets uid/generation/resourceVersion and records
every call, so tests can check drift repair, deletion and the RBAC verbs the operator really uses.
The integration tests run the real operator against a fuller emulator over HTTP.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import jsonpatch

from ecap_operator.errors import KubeApiError
from ecap_operator.kube import PLURALS, ObjectRef
from tests.kube.patching import merge_patch

Manifest = dict[str, Any]


class FakeKubeApi:
    def __init__(self) -> None:
        self.objects: dict[ObjectRef, Manifest] = {}
        self.calls: list[tuple[str, str, str]] = []  # (verb, apiVersion, kind)
        self._ids = itertools.count(1)
        self.status_patches: list[tuple[ObjectRef, Manifest]] = []

    def _record(self, verb: str, api_version: str, kind: str) -> None:
        if (api_version, kind) not in PLURALS:
            raise KeyError(f"unknown kind {api_version} {kind}")
        self.calls.append((verb, api_version, kind))

    def put(self, obj: Mapping[str, Any]) -> Manifest:
        """Store an object as if someone else created it."""
        stored = copy.deepcopy(dict(obj))
        meta = stored.setdefault("metadata", {})
        meta.setdefault("namespace", "default")
        meta.setdefault("uid", f"uid-{next(self._ids)}")
        meta.setdefault("generation", 1)
        meta["resourceVersion"] = str(next(self._ids))
        self.objects[ObjectRef.of(stored)] = stored
        return copy.deepcopy(stored)

    def get(self, ref: ObjectRef) -> Manifest | None:
        self._record("get", ref.api_version, ref.kind)
        obj = self.objects.get(ref)
        return copy.deepcopy(obj) if obj is not None else None

    def create(self, obj: Mapping[str, Any]) -> tuple[Manifest | None, bool]:
        self._record("create", str(obj["apiVersion"]), str(obj["kind"]))
        if ObjectRef.of(obj) in self.objects:
            return None, False
        return self.put(obj), True

    def patch(self, ref: ObjectRef, body: Mapping[str, Any]) -> Manifest | None:
        self._record("patch", ref.api_version, ref.kind)
        current = self.objects.get(ref)
        if current is None:
            return None
        updated = merge_patch(current, body)
        if updated.get("spec") != current.get("spec"):
            updated["metadata"]["generation"] = int(current["metadata"].get("generation", 1)) + 1
        updated["metadata"]["resourceVersion"] = str(next(self._ids))
        self.objects[ref] = updated
        return copy.deepcopy(updated)

    def patch_status(self, ref: ObjectRef, body: Mapping[str, Any]) -> Manifest | None:
        """The status subresource: only ``status`` changes (recorded as verb ``patch_status``)."""
        self._record("patch_status", ref.api_version, ref.kind)
        self.status_patches.append((ref, copy.deepcopy(dict(body))))
        current = self.objects.get(ref)
        if current is None:
            return None
        current["status"] = merge_patch(current.get("status"), body)
        current["metadata"]["resourceVersion"] = str(next(self._ids))
        return copy.deepcopy(current)

    def patch_status_ops(self, ref: ObjectRef, operations: Sequence[Mapping[str, Any]]) -> Manifest | None:
        """A JSON patch of the status subresource; a failed ``test`` is a 422, as the API answers."""
        self._record("patch_status", ref.api_version, ref.kind)
        current = self.objects.get(ref)
        if current is None:
            return None
        try:
            patched: Manifest = jsonpatch.apply_patch(copy.deepcopy(current), [dict(op) for op in operations])
        except jsonpatch.JsonPatchTestFailed as err:
            raise KubeApiError(422, f"patch status of {ref}", str(err)) from err
        self.status_patches.append((ref, copy.deepcopy(patched.get("status") or {})))
        current["status"] = patched.get("status")
        current["metadata"]["resourceVersion"] = str(next(self._ids))
        return copy.deepcopy(current)

    def delete(self, ref: ObjectRef) -> bool:
        self._record("delete", ref.api_version, ref.kind)
        return self.objects.pop(ref, None) is not None

    def list(
        self, api_version: str, kind: str, namespace: str, selector: Mapping[str, str]
    ) -> list[Manifest]:
        self._record("list", api_version, kind)
        return [
            copy.deepcopy(obj)
            for ref, obj in self.objects.items()
            if (ref.api_version, ref.kind, ref.namespace) == (api_version, kind, namespace)
            and selector.items() <= (obj["metadata"].get("labels") or {}).items()
        ]

    def kinds(self, kind: str) -> list[Manifest]:
        return [o for r, o in self.objects.items() if r.kind == kind]
