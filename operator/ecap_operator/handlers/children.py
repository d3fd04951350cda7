"""Pure decisions for reacting to a child's change: whose child it is, and whether to refresh the owner.

Without them, an ecap.io resource only saw its Strimzi topic become Ready, its SparkApplication change
state or its Deployment become available on the next periodic resync (seconds to a minute later).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from ..api import API_VERSION, KINDS
from ..kube import ObjectRef
from ..labels import KIND_KEY, NAME_KEY, OWNER_ANNOTATION, OWNER_NAMESPACE_KEY

_MISSING: Final = object()


@dataclass(frozen=True)
class ChildKind:
    """A kind of child the operator watches (group / version / plural; see ``child_watch``)."""

    group: str
    version: str
    plural: str


STATUS_SHARED_WITH_JOBS: Final[frozenset[str]] = frozenset({"SegmentationRun", "DeltaTable"})
"""Kinds whose status their jobs write too (run figures, job-reported conditions): a child event reads
them afresh. For the others the operator is the status' only writer, so the object as its last status
write returned it is what a refresh starts from (one request instead of a read and a write)."""

CHILD_KINDS: Final[tuple[ChildKind, ...]] = (
    ChildKind("kafka.strimzi.io", "v1beta2", "kafkatopics"),
    ChildKind("sparkoperator.k8s.io", "v1beta2", "sparkapplications"),
    ChildKind("sparkoperator.k8s.io", "v1beta2", "scheduledsparkapplications"),
    ChildKind("apps", "v1", "deployments"),
    ChildKind("batch", "v1", "jobs"),
    ChildKind("batch", "v1", "cronjobs"),
)
"""Children whose status feeds their owner's conditions (ConfigMaps and Services have none)."""


def _owner(kind: object, namespace: object, name: object) -> ObjectRef | None:
    if not (isinstance(kind, str) and kind in KINDS and namespace and name):
        return None
    return ObjectRef(API_VERSION, kind, str(namespace), str(name))


def owner_of(child: Mapping[str, Any]) -> ObjectRef | None:
    """The ecap.io resource a child belongs to, or None for anything else.

    In order: the controller owner reference (exact, same namespace); the ``ecap.io/owner`` claim
    ``<namespace>/<name>`` of a Strimzi topic in another namespace; the ``ecap.io/kind`` /
    ``ecap.io/name`` (/ ``ecap.io/owner-namespace``) labels, whose name may be shortened for long names.
    """
    meta = child.get("metadata") or {}
    namespace = meta.get("namespace")
    labels = meta.get("labels") or {}
    for ref in meta.get("ownerReferences") or []:
        if ref.get("controller") and ref.get("apiVersion") == API_VERSION:
            return _owner(ref.get("kind"), namespace, ref.get("name"))
    claim = (meta.get("annotations") or {}).get(OWNER_ANNOTATION)
    if isinstance(claim, str) and claim.count("/") == 1:
        claim_namespace, claim_name = claim.split("/")
        return _owner(labels.get(KIND_KEY), claim_namespace, claim_name)
    return _owner(labels.get(KIND_KEY), labels.get(OWNER_NAMESPACE_KEY) or namespace, labels.get(NAME_KEY))


def wants_refresh(event_type: str | None, child: Mapping[str, Any]) -> bool:
    """A child that went away, or whose controller has reported a status, may change its owner's status.

    A freshly created child has no status yet (we just created it and wrote the owner's status from it):
    its ADDED event is skipped.
    """
    if event_type == "DELETED":
        return True
    return event_type in ("ADDED", "MODIFIED", None) and bool(child.get("status"))


def refresh_allowed(owner: Mapping[str, Any] | None) -> bool:
    """Refresh an owner that exists, is not being deleted, and whose status describes its current spec.

    Before the change handlers have handled a new generation, its children still follow the old spec:
    the change handler writes that generation's first status, not a child event.
    """
    if owner is None:
        return False
    meta = owner.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        return False
    observed = (owner.get("status") or {}).get("observedGeneration")
    return observed is not None and observed == meta.get("generation")


def status_unchanged(current: Mapping[str, Any] | None, patch: Mapping[str, Any]) -> bool:
    """Whether merge-patching ``patch`` onto ``current`` would change nothing (skip the write)."""
    current = current or {}
    for key, wanted in patch.items():
        have = current.get(key, _MISSING)
        if wanted is None:
            if have is not _MISSING and have is not None:
                return False
        elif isinstance(wanted, Mapping):
            if not isinstance(have, Mapping) or not status_unchanged(have, wanted):
                return False
        elif have is _MISSING or have != wanted:
            return False
    return True


def seen_child(event_type: str | None, child: Mapping[str, Any]) -> dict[ObjectRef, dict[str, Any] | None]:
    """The child as a watch event shows it (None when deleted): the refresh need not read it again."""
    meta = child.get("metadata") or {}
    if not (child.get("apiVersion") and child.get("kind") and meta.get("namespace") and meta.get("name")):
        return {}
    return {ObjectRef.of(child): None if event_type == "DELETED" else dict(child)}


def _pointer(key: str) -> str:
    return "/status/" + key.replace("~", "~0").replace("/", "~1")


def _merged(current: Any, patch: Any) -> Any:
    """RFC 7386 merge of ``patch`` onto ``current`` (None in the patch removes a key)."""
    if not isinstance(patch, Mapping):
        return patch
    out = dict(current) if isinstance(current, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merged(out.get(key), value)
    return out


def guarded_status_patch(written: Mapping[str, Any], patch: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """JSON-patch operations that apply the status merge ``patch`` to the object as our last status write
    returned it (``written``), valid only while its generation and conditions are still those: a test
    fails (the API answers 422, nothing is written) when the spec changed or someone else touched the
    conditions since. None when ``written`` has no generation or conditions to guard on."""
    meta = written.get("metadata") or {}
    current = written.get("status")
    if not isinstance(current, Mapping) or meta.get("generation") is None or "conditions" not in current:
        return None
    operations: list[dict[str, Any]] = [
        {"op": "test", "path": "/metadata/generation", "value": meta["generation"]},
        {"op": "test", "path": "/status/conditions", "value": current["conditions"]},
    ]
    merged = _merged(current, patch)
    for key in patch:
        if key in merged:
            operations.append({"op": "add", "path": _pointer(key), "value": merged[key]})
        elif key in current:
            operations.append({"op": "remove", "path": _pointer(key)})
    return operations
