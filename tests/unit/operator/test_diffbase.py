"""kopf's diff base read from status.observedGeneration: what kopf decides from it."""

from __future__ import annotations

import json
from typing import Any, cast

import kopf
import pytest
from kopf._cogs.structs import diffs

from ecap_operator.handlers.diffbase import ObservedGenerationDiffBase

KEY = "kopf.zalando.org/last-handled-configuration"


def topic(generation: int = 1, observed: int | None = None, **metadata: Any) -> kopf.Body:
    body: dict[str, Any] = {
        "apiVersion": "ecap.io/v1alpha1",
        "kind": "KafkaTopic",
        "metadata": {"name": "orders", "namespace": "shop", "generation": generation, **metadata},
        "spec": {"partitions": 3},
    }
    if observed is not None:
        body["status"] = {"observedGeneration": observed, "phase": "Ready"}
    return kopf.Body(body)


def changed(storage: ObservedGenerationDiffBase, body: kopf.Body) -> bool | None:
    """None: never handled (kopf creates); otherwise whether kopf sees a change to handle."""
    old = storage.fetch(body=body)
    return None if old is None else bool(diffs.diff(old, storage.build(body=body)))


def test_a_new_object_is_a_creation_until_a_generation_is_observed() -> None:
    storage = ObservedGenerationDiffBase()
    assert changed(storage, topic()) is None
    assert changed(storage, topic(observed=1)) is False  # handled: status writes are no change
    assert changed(storage, topic(generation=2, observed=1)) is True  # the spec was edited since


def test_handling_a_plain_object_writes_nothing_of_kopfs() -> None:
    storage = ObservedGenerationDiffBase()
    body = topic()
    patch = kopf.Patch()
    storage.store(body=body, patch=patch, essence=storage.build(body=body))
    assert not patch


def test_label_and_annotation_edits_are_changes_recorded_in_kopfs_annotation() -> None:
    storage = ObservedGenerationDiffBase()
    labelled = topic(observed=1, labels={"team": "shop"})
    assert changed(storage, labelled) is True  # labels never handled yet
    patch = kopf.Patch()
    storage.store(body=labelled, patch=patch, essence=storage.build(body=labelled))
    recorded = patch["metadata"]["annotations"][KEY]
    assert json.loads(recorded) == {"metadata": {"labels": {"team": "shop"}}}
    handled = topic(observed=1, labels={"team": "shop"}, annotations={KEY: recorded})
    assert changed(storage, handled) is False
    relabelled = topic(observed=1, labels={"team": "web"}, annotations={KEY: recorded})
    assert changed(storage, relabelled) is True
    again = kopf.Patch()
    storage.store(body=handled, patch=again, essence=storage.build(body=handled))
    assert not again  # unchanged labels: nothing to write


def test_an_object_handled_by_kopfs_own_storage_keeps_its_record() -> None:
    storage = ObservedGenerationDiffBase()
    legacy = json.dumps({"spec": {"partitions": 3}})
    assert changed(storage, topic(annotations={KEY: legacy})) is False
    assert changed(storage, topic(annotations={KEY: json.dumps({"spec": {"partitions": 1}})})) is True


@pytest.mark.parametrize(
    "metadata",
    [
        {},
        {"labels": {}, "annotations": {}},
        {
            "labels": {"team": "shop"},
            "annotations": {"note": "x", "kubectl.kubernetes.io/last-applied-configuration": "{}", KEY: "{}"},
            "uid": "u-1",
            "resourceVersion": "7",
            "ownerReferences": [{"kind": "Thing", "name": "t"}],
        },
        {  # another kopf-based operator's marks and records are not ours to compare
            "annotations": {
                "other.example.com/kopf-managed": "yes",
                "other.example.com/last-handled-configuration": "{}",
                "kopf.zalando.org/touch-dummy": "1",
                "shop.example.com/owner": "web",
            }
        },
        {
            "annotations": {KEY: "{}"},
            "finalizers": ["ecap.io/finalizer"],
            "deletionTimestamp": "2026-12-01T00:00:00Z",
        },
    ],
)
def test_the_essence_is_kopfs_own(metadata: dict[str, Any]) -> None:
    """Built straight from the body's dicts, the essence is exactly the one kopf builds, and a copy: a later
    change to the body does not reach it."""
    body = topic(observed=1, **metadata)
    raw = dict(body)
    raw["data"] = {"nested": {"list": [1, 2]}}
    body = kopf.Body(raw)
    ours = ObservedGenerationDiffBase().build(body=body)
    assert ours == kopf.AnnotationsDiffBaseStorage().build(body=body)
    raw["spec"]["partitions"] = 12
    raw["data"]["nested"]["list"].append(3)
    assert ours["spec"] == {"partitions": 3} and ours["data"] == {"nested": {"list": [1, 2]}}


def test_progress_is_kopfs_annotations_with_nothing_to_do_for_an_object_without_any() -> None:
    """A handler that needs a retry is recorded as kopf records it; purging finds and removes it; an object
    without kopf's annotations costs no lookup and gets nothing written."""
    from ecap_operator.handlers.diffbase import QuickProgressStorage

    quick, plain = QuickProgressStorage(), kopf.AnnotationsProgressStorage()
    handler = kopf.HandlerId("kafkatopic_create")
    record: kopf.ProgressRecord = {"started": "2026-12-01T00:00:00", "retries": 1, "success": False}
    body = topic()
    assert quick.fetch(key=handler, body=body) is None
    patch, expected = kopf.Patch(), kopf.Patch()
    quick.store(key=handler, record=record, body=body, patch=patch)
    plain.store(key=handler, record=record, body=body, patch=expected)
    assert patch == expected and patch["metadata"]["annotations"]
    stored = topic(annotations=dict(patch["metadata"]["annotations"]))
    assert quick.fetch(key=handler, body=stored) == plain.fetch(key=handler, body=stored)
    assert quick.fetch(key=handler, body=stored) is not None
    purge, expected_purge = kopf.Patch(), kopf.Patch()
    quick.purge(key=handler, body=stored, patch=purge)
    plain.purge(key=handler, body=stored, patch=expected_purge)
    assert purge == expected_purge and purge
    untouched = kopf.Patch()
    quick.purge(key=handler, body=body, patch=untouched)
    assert not untouched


def test_clearing_progress_from_an_essence_is_kopfs_own() -> None:
    """Progress annotations are taken out of an essence as kopf does; one without any comes back unchanged."""
    from ecap_operator.handlers.diffbase import QuickProgressStorage

    quick, plain = QuickProgressStorage(), kopf.AnnotationsProgressStorage()
    progress = "kopf.zalando.org/kafkatopic_create"
    essences: list[dict[str, Any]] = [
        {"spec": {"partitions": 3}},
        {"spec": {"partitions": 3}, "metadata": {"labels": {"team": "shop"}, "annotations": {"note": "x"}}},
        {"spec": {"partitions": 3}, "metadata": {"annotations": {progress: "{}", "note": "x"}}},
        {"spec": {"partitions": 3}, "metadata": {"annotations": {progress: "{}"}}},
    ]
    for essence in essences:
        before = json.dumps(essence, sort_keys=True)
        cleared = quick.clear(essence=cast(kopf.BodyEssence, essence))
        assert cleared == plain.clear(essence=cast(kopf.BodyEssence, essence))
        assert json.dumps(essence, sort_keys=True) == before  # the given essence is left as it was
        assert progress not in (cleared.get("metadata") or {}).get("annotations", {})
