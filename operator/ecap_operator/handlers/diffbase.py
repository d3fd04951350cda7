"""Where kopf finds the state it last handled: the object's own ``status.observedGeneration``.

kopf compares each event's object with the "essence" it stored after the last successful handling to tell
a creation, an update and a mere status change apart. Its default storage is an annotation, written with a
PATCH of its own after every handled change: one more request and one more watch event per object on top
of our status write, which already records what was handled. This storage reads the status instead:

- no ``observedGeneration`` yet: never handled (a creation), unless an older operator left kopf's
  annotation (then that one is read, as kopf would);
- ``observedGeneration`` equal to ``metadata.generation``: the spec as it is was handled;
- anything else: the spec changed since (an update).

Labels and annotations change no generation but do reach the children (ownership labels, propagated
annotations): their last handled values are still kept in kopf's annotation, written only when they change
(for objects with none, never). The operator writes ``observedGeneration`` only once a generation is
handled: after success or a permanent error, not while a temporary error makes kopf retry (``error_status``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, cast

import kopf

SPEC_MARK: Final = "ecap.io/observed-generation"
"""Stands in for the unknown old spec when the status names an older generation (any value differs)."""
NOT_ESSENTIAL: Final = frozenset({"apiVersion", "kind", "metadata", "status"})
"""What kopf leaves out of an essence (of the metadata it keeps the labels and some annotations)."""
LAST_APPLIED: Final = "kubectl.kubernetes.io/last-applied-configuration"


class CachedKeys:
    """kopf's annotation names for a handler id or storage key, computed once (kopf hashes and formats
    them again for every handler on every event). Only ReplicaSets owned by Deployments get other names
    (kopf's collision evasion); the ecap.io kinds never do."""

    def __init__(self, compute: Callable[[str], Iterable[str]]) -> None:
        self._compute = compute
        self._keys: dict[str, list[str]] = {}

    def __call__(self, key: str) -> Iterable[str]:
        found = self._keys.get(key)
        if found is None:
            found = self._keys[key] = list(self._compute(key))
        return found


def _has_prefixed(annotations: Mapping[str, Any] | None, prefix: str) -> bool:
    return bool(annotations) and any(name.startswith(prefix) for name in annotations or ())


class ObservedGenerationDiffBase(kopf.AnnotationsDiffBaseStorage):
    """kopf's diff base: ``status.observedGeneration`` for the spec, kopf's annotation for the metadata."""

    def __init__(self) -> None:
        super().__init__()
        self._recent: tuple[object, object, kopf.BodyEssence] | None = None
        self._names = CachedKeys(lambda key: super(ObservedGenerationDiffBase, self).make_keys(key))

    def make_keys(self, key: str, *, body: kopf.Body | None = None) -> Iterable[str]:
        if body is not None and body.get("kind") == "ReplicaSet":
            return super().make_keys(key, body=body)
        return self._names(key)

    def build(self, *, body: kopf.Body, extra_fields: Iterable[Any] | None = None) -> kopf.BodyEssence:
        """kopf's essence, built once per event: ``fetch`` needs it too (kopf copies what it keeps).

        kopf copies the whole body through its field views (a lookup per key at every level) and then drops
        the status and most metadata; this copies only what stays, straight from the body's dicts: the same
        essence (a test compares them) for less, on every event of every object."""
        version = body.get("metadata", {}).get("resourceVersion")
        recent = self._recent
        if not extra_fields and recent is not None and recent[0] is body and recent[1] == version:
            return recent[2]
        if extra_fields or self.ignored_fields or body.get("kind") == "ReplicaSet":
            return super().build(body=body, extra_fields=extra_fields)
        essence = self._essence(body)
        self._recent = (body, version, essence)
        return essence

    def _essence(self, body: Mapping[str, Any]) -> kopf.BodyEssence:
        essence: dict[str, Any] = {
            key: copy.deepcopy(value) for key, value in body.items() if key not in NOT_ESSENTIAL
        }
        meta = body.get("metadata") or {}
        metadata: dict[str, Any] = {}
        labels = meta.get("labels")
        if labels:
            metadata["labels"] = dict(labels)
        annotations = meta.get("annotations")
        if annotations:
            marked = self._detect_marked_prefixes(annotations)
            own = set(self.make_keys(self.key))
            kept = {
                name: value
                for name, value in annotations.items()
                if name not in own
                and name != LAST_APPLIED
                and not any(name.startswith(f"{prefix}/") for prefix in marked)
            }
            if kept:
                metadata["annotations"] = kept
        if metadata:
            essence["metadata"] = metadata
        return cast(kopf.BodyEssence, essence)

    def _recorded(self, body: kopf.Body) -> kopf.BodyEssence | None:
        """kopf's annotation, if there is one (looked up only when some annotation could be it)."""
        annotations = body.get("metadata", {}).get("annotations") or {}
        if not any(self.key in name for name in annotations):
            return None
        return super().fetch(body=body)

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        status = body.get("status")
        observed = status.get("observedGeneration") if isinstance(status, Mapping) else None
        if observed is None:
            return self._recorded(body)
        current = cast(dict[str, Any], self.build(body=body))
        handled: dict[str, Any] = {key: value for key, value in current.items() if key != "metadata"}
        metadata = _metadata(self._recorded(body))
        if metadata:
            handled["metadata"] = metadata
        if observed != body.get("metadata", {}).get("generation"):
            handled["spec"] = {SPEC_MARK: observed}
        return cast(kopf.BodyEssence, handled)

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        """Record the labels and annotations when they differ from the recorded ones; the spec is recorded
        by the status write of the handler that handled it."""
        metadata = _metadata(cast(Mapping[str, Any], essence))
        if metadata != _metadata(self._recorded(body)):
            super().store(body=body, patch=patch, essence=cast(kopf.BodyEssence, {"metadata": metadata}))


def _metadata(essence: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict((essence or {}).get("metadata") or {})


class QuickProgressStorage(kopf.AnnotationsProgressStorage):
    """kopf's progress annotations, with the common case made cheap: an object carrying none of them
    (every handler so far finished in one go) needs no lookup per handler, nothing to purge, and no copy
    of its essence to clear them from."""

    def __init__(self) -> None:
        super().__init__()
        self._names = CachedKeys(lambda key: super(QuickProgressStorage, self).make_keys(key))
        self._marker = f"{self.prefix}/"

    def make_keys(self, key: str, *, body: kopf.Body | None = None) -> Iterable[str]:
        if body is not None and body.get("kind") == "ReplicaSet":
            return super().make_keys(key, body=body)
        return self._names(key)

    def fetch(self, *, key: kopf.HandlerId, body: kopf.Body) -> kopf.ProgressRecord | None:
        if not _has_prefixed(body.get("metadata", {}).get("annotations"), self._marker):
            return None
        return super().fetch(key=key, body=body)

    def clear(self, *, essence: kopf.BodyEssence) -> kopf.BodyEssence:
        """An essence without progress annotations comes back as it is: kopf copies every essence (the old
        and the new one, on every event) only to take those out, and nothing changes an essence later."""
        if not _has_prefixed(essence.get("metadata", {}).get("annotations"), self._marker):
            return essence
        return super().clear(essence=essence)

    def purge(self, *, key: kopf.HandlerId, body: kopf.Body, patch: kopf.Patch) -> None:
        in_body = _has_prefixed(body.get("metadata", {}).get("annotations"), self._marker)
        in_patch = _has_prefixed((patch.get("metadata") or {}).get("annotations"), self._marker)
        if in_body or in_patch:
            super().purge(key=key, body=body, patch=patch)
