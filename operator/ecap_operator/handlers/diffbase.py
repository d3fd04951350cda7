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

from collections.abc import Iterable, Mapping
from typing import Any, Final, cast

import kopf

SPEC_MARK: Final = "ecap.io/observed-generation"
"""Stands in for the unknown old spec when the status names an older generation (any value differs)."""


class ObservedGenerationDiffBase(kopf.AnnotationsDiffBaseStorage):
    """kopf's diff base: ``status.observedGeneration`` for the spec, kopf's annotation for the metadata."""

    def __init__(self) -> None:
        super().__init__()
        self._recent: tuple[object, object, kopf.BodyEssence] | None = None

    def build(self, *, body: kopf.Body, extra_fields: Iterable[Any] | None = None) -> kopf.BodyEssence:
        """kopf's essence, built once per event: ``fetch`` needs it too (kopf copies what it keeps)."""
        version = body.get("metadata", {}).get("resourceVersion")
        recent = self._recent
        if not extra_fields and recent is not None and recent[0] is body and recent[1] == version:
            return recent[2]
        essence = super().build(body=body, extra_fields=extra_fields)
        if not extra_fields:
            self._recent = (body, version, essence)
        return essence

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
