"""A child's change refreshes its owner's status at once: owner lookup, the refresh decision, the write."""

from __future__ import annotations

import copy
import logging
import threading
from typing import Any

import kopf
import pytest

from ecap_operator.handlers import handle, refresh_owner
from ecap_operator.handlers.children import (
    guarded_status_patch,
    owner_of,
    refresh_allowed,
    seen_child,
    status_unchanged,
    wants_refresh,
)
from ecap_operator.handlers.engine import OwnerLocks, Runtime
from ecap_operator.kube import ObjectRef
from ecap_operator.settings import OperatorSettings

from .examples import bodies, body
from .fake_api import FakeKubeApi

LOG = logging.getLogger("test")
SETTINGS = OperatorSettings()
STRIMZI = "kafka.strimzi.io/v1beta2"
ECAP = "ecap.io/v1alpha1"


@pytest.fixture
def api() -> FakeKubeApi:
    fake = FakeKubeApi()
    for b in bodies():
        fake.put(b)
    return fake


def ready_status(api: FakeKubeApi, ref: ObjectRef) -> str | None:
    conditions = (api.objects[ref].get("status") or {}).get("conditions") or []
    return next((c["status"] for c in conditions if c["type"] == "Ready"), None)


def strimzi_ready(topic: dict[str, Any]) -> dict[str, Any]:
    marked = copy.deepcopy(topic)
    marked["status"] = {
        "observedGeneration": 1,
        "topicName": topic["spec"]["topicName"],
        "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-12-01T00:00:00Z"}],
    }
    return marked


def test_owner_from_the_controller_reference() -> None:
    child = {
        "metadata": {
            "namespace": "shop",
            "labels": {"ecap.io/kind": "DataProducer", "ecap.io/name": "short-hash-abc"},
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "Other", "name": "x", "controller": False},
                {"apiVersion": ECAP, "kind": "DataProducer", "name": "a-long-name", "controller": True},
            ],
        }
    }
    assert owner_of(child) == ObjectRef(ECAP, "DataProducer", "shop", "a-long-name")


def test_owner_of_a_strimzi_topic_in_another_namespace_is_its_claim() -> None:
    child = {
        "metadata": {
            "namespace": "kafka",
            "name": "shop.orders",
            "labels": {
                "ecap.io/kind": "KafkaTopic",
                "ecap.io/name": "orders",
                "ecap.io/owner-namespace": "shop",
            },
            "annotations": {"ecap.io/owner": "shop/orders"},
        }
    }
    assert owner_of(child) == ObjectRef(ECAP, "KafkaTopic", "shop", "orders")
    del child["metadata"]["annotations"]
    assert owner_of(child) == ObjectRef(ECAP, "KafkaTopic", "shop", "orders")


def test_no_owner_for_foreign_or_unknown_kinds() -> None:
    assert owner_of({"metadata": {"namespace": "shop", "labels": {"app": "x"}}}) is None
    assert (
        owner_of({"metadata": {"namespace": "s", "labels": {"ecap.io/kind": "Nope", "ecap.io/name": "n"}}})
        is None
    )
    foreign = {
        "metadata": {
            "namespace": "s",
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "r", "controller": True}
            ],
        }
    }
    assert owner_of(foreign) is None


def test_only_children_with_a_status_or_gone_refresh() -> None:
    assert not wants_refresh("ADDED", {"metadata": {}})
    assert not wants_refresh("MODIFIED", {"metadata": {}, "status": {}})
    assert wants_refresh("MODIFIED", {"status": {"conditions": []}, "metadata": {}})
    assert wants_refresh(None, {"status": {"succeeded": 1}})  # kopf's initial listing
    assert wants_refresh("DELETED", {"metadata": {}})


def test_refresh_waits_for_the_change_handler_of_a_new_generation() -> None:
    owner = {"metadata": {"generation": 2}, "status": {"observedGeneration": 1}}
    assert not refresh_allowed(owner)
    owner["status"]["observedGeneration"] = 2
    assert refresh_allowed(owner)
    assert not refresh_allowed({**owner, "metadata": {"generation": 2, "deletionTimestamp": "now"}})
    assert not refresh_allowed({"metadata": {"generation": 1}})  # not handled yet
    assert not refresh_allowed(None)


def test_status_unchanged_follows_merge_patch_semantics() -> None:
    current = {"phase": "Ready", "topics": {"orders": "shop.orders"}, "conditions": [{"type": "Ready"}]}
    assert status_unchanged(current, {"phase": "Ready", "topics": {"orders": "shop.orders", "gone": None}})
    assert not status_unchanged(current, {"phase": "Progressing"})
    assert not status_unchanged(current, {"topics": {"orders": None}})
    assert not status_unchanged(current, {"conditions": [{"type": "Ready"}, {"type": "Degraded"}]})
    assert not status_unchanged(None, {"phase": "Ready"})


def test_seen_child_is_none_when_deleted() -> None:
    child = {"apiVersion": STRIMZI, "kind": "KafkaTopic", "metadata": {"namespace": "s", "name": "t"}}
    ref = ObjectRef(STRIMZI, "KafkaTopic", "s", "t")
    assert seen_child("MODIFIED", child) == {ref: child}
    assert seen_child("DELETED", child) == {ref: None}
    assert seen_child("MODIFIED", {"metadata": {"name": "t"}}) == {}


def test_handler_writes_status_to_the_subresource(api: FakeKubeApi) -> None:
    b = body("KafkaTopic", "transactions")
    handle("KafkaTopic", b, None, LOG, Runtime(api, SETTINGS), from_timer=False)  # type: ignore[arg-type]
    owner = ObjectRef(ECAP, "KafkaTopic", "shop", "transactions")
    assert [ref for ref, _ in api.status_patches] == [owner]
    assert api.objects[owner]["status"]["observedGeneration"] == 1
    assert ready_status(api, owner) == "False"  # Strimzi has not reported yet


def test_strimzi_ready_refreshes_the_owner_without_a_reconcile(api: FakeKubeApi) -> None:
    runtime = Runtime(api, SETTINGS)  # type: ignore[arg-type]
    b = body("KafkaTopic", "transactions")
    handle("KafkaTopic", b, None, LOG, runtime, from_timer=False)
    owner = ObjectRef(ECAP, "KafkaTopic", "shop", "transactions")
    child_ref = ObjectRef(STRIMZI, "KafkaTopic", "shop", "transactions")
    created = copy.deepcopy(api.objects[child_ref])
    api.calls.clear()
    # Strimzi's watch event before the status exists is not worth a request.
    assert refresh_owner(created, "ADDED", runtime, LOG) == "ignored"
    assert api.calls == []
    ready = strimzi_ready(created)
    assert refresh_owner(ready, "MODIFIED", runtime, LOG) == "refreshed"
    assert ready_status(api, owner) == "True"
    assert api.objects[owner]["status"]["phase"] == "Ready"
    # One request: the owner as our status write returned it, the child from the event; only the status
    # is written, guarded by the owner's generation and conditions.
    assert api.calls == [("patch_status", ECAP, "KafkaTopic")]
    # The same event again changes nothing and sends nothing.
    assert refresh_owner(ready, "MODIFIED", runtime, LOG) == "unchanged"
    assert api.calls == [("patch_status", ECAP, "KafkaTopic")]


def test_refresh_reads_the_owner_again_when_someone_else_wrote_its_conditions(api: FakeKubeApi) -> None:
    runtime = Runtime(api, SETTINGS)  # type: ignore[arg-type]
    handle("KafkaTopic", body("KafkaTopic", "transactions"), None, LOG, runtime, from_timer=False)
    owner = ObjectRef(ECAP, "KafkaTopic", "shop", "transactions")
    child = strimzi_ready(api.objects[ObjectRef(STRIMZI, "KafkaTopic", "shop", "transactions")])
    note = {
        "type": "Reviewed",
        "status": "True",
        "reason": "ByHand",
        "message": "",
        "lastTransitionTime": "x",
    }
    api.objects[owner]["status"]["conditions"].append(note)  # e.g. kubectl edit --subresource=status
    api.calls.clear()
    assert refresh_owner(child, "MODIFIED", runtime, LOG) == "refreshed"
    # The guarded write was refused (nothing written), then the owner was read and patched as it is now.
    assert api.calls == [
        ("patch_status", ECAP, "KafkaTopic"),
        ("get", ECAP, "KafkaTopic"),
        ("patch_status", ECAP, "KafkaTopic"),
    ]
    conditions = api.objects[owner]["status"]["conditions"]
    assert note in conditions and ready_status(api, owner) == "True"


def test_refresh_after_a_spec_change_waits_for_the_change_handler(api: FakeKubeApi) -> None:
    runtime = Runtime(api, SETTINGS)  # type: ignore[arg-type]
    handle("KafkaTopic", body("KafkaTopic", "transactions"), None, LOG, runtime, from_timer=False)
    owner = ObjectRef(ECAP, "KafkaTopic", "shop", "transactions")
    child = strimzi_ready(api.objects[ObjectRef(STRIMZI, "KafkaTopic", "shop", "transactions")])
    api.objects[owner]["metadata"]["generation"] = 2  # edited after our last status write
    before = copy.deepcopy(api.objects[owner]["status"])
    assert refresh_owner(child, "MODIFIED", runtime, LOG) == "skipped"
    assert api.objects[owner]["status"] == before


def test_guarded_status_patch_follows_merge_patch_semantics() -> None:
    written = {
        "metadata": {"generation": 3},
        "status": {
            "phase": "Ready",
            "topics": {"orders": "o", "gone": "g"},
            "conditions": [{"type": "Ready"}],
        },
    }
    operations = guarded_status_patch(written, {"phase": "Degraded", "topics": {"gone": None}, "extra": None})
    assert operations == [
        {"op": "test", "path": "/metadata/generation", "value": 3},
        {"op": "test", "path": "/status/conditions", "value": [{"type": "Ready"}]},
        {"op": "add", "path": "/status/phase", "value": "Degraded"},
        {"op": "add", "path": "/status/topics", "value": {"orders": "o"}},
    ]
    assert (
        guarded_status_patch({"metadata": {"generation": 1}, "status": {"phase": "x"}}, {"phase": "y"})
        is None
    )
    assert guarded_status_patch({"metadata": {}, "status": {"conditions": []}}, {"phase": "y"}) is None


def test_deleted_child_degrades_the_owner_until_repaired(api: FakeKubeApi) -> None:
    runtime = Runtime(api, SETTINGS)  # type: ignore[arg-type]
    handle("DataProducer", body("DataProducer"), None, LOG, runtime, from_timer=False)
    deployment = next(o for r, o in api.objects.items() if r.kind == "Deployment")
    owner = owner_of(deployment)
    assert owner is not None and owner.kind == "DataProducer"
    available = {
        **deployment,
        "status": {"replicas": 1, "availableReplicas": 1, "readyReplicas": 1, "observedGeneration": 1},
    }
    assert refresh_owner(available, "MODIFIED", runtime, LOG) == "refreshed"
    assert ready_status(api, owner) == "True" and api.objects[owner]["status"]["availableReplicas"] == 1
    api.delete(ObjectRef.of(deployment))
    # A child deleted by hand is created again at once (not at the next timer run), not yet available.
    assert refresh_owner(deployment, "DELETED", runtime, LOG) == "repaired"
    assert ObjectRef.of(deployment) in api.objects
    assert ready_status(api, owner) == "False"


def test_a_refresh_reads_only_children_that_report_a_status(api: FakeKubeApi) -> None:
    runtime = Runtime(api, SETTINGS)  # type: ignore[arg-type]
    handle("DataProducer", body("DataProducer"), None, LOG, runtime, from_timer=False)
    deployment = next(o for r, o in api.objects.items() if r.kind == "Deployment")
    available = {**deployment, "status": {"replicas": 1, "availableReplicas": 1, "observedGeneration": 1}}
    api.calls.clear()
    assert refresh_owner(available, "MODIFIED", runtime, LOG) == "refreshed"
    read = {kind for verb, _, kind in api.calls if verb == "get"}
    assert read <= {"KafkaTopic"}  # the referenced topics; never the ConfigMap or the Service
    assert api.calls[-1] == ("patch_status", ECAP, "DataProducer")


def test_a_child_the_spec_no_longer_wants_stays_deleted(api: FakeKubeApi) -> None:
    runtime = Runtime(api, SETTINGS)  # type: ignore[arg-type]
    b = body("DeltaTable")
    handle("DeltaTable", b, None, LOG, runtime, from_timer=False)
    cronjob = next(o for r, o in api.objects.items() if r.kind == "CronJob")
    owner = owner_of(cronjob)
    assert owner is not None
    # Maintenance switched off (a new generation, handled): the change handler deletes the CronJob.
    api.objects[owner]["spec"]["maintenance"] = {"enabled": False}
    api.objects[owner]["metadata"]["generation"] = 2
    handle("DeltaTable", copy.deepcopy(api.objects[owner]), None, LOG, runtime, from_timer=False)
    assert ObjectRef.of(cronjob) not in api.objects
    assert refresh_owner(cronjob, "DELETED", runtime, LOG) == "repaired"
    assert ObjectRef.of(cronjob) not in api.objects


def test_children_of_an_owner_being_deleted_are_not_recreated(api: FakeKubeApi) -> None:
    runtime = Runtime(api, SETTINGS)  # type: ignore[arg-type]
    handle("DataProducer", body("DataProducer"), None, LOG, runtime, from_timer=False)
    deployment = next(o for r, o in api.objects.items() if r.kind == "Deployment")
    owner = owner_of(deployment)
    assert owner is not None
    api.objects[owner]["metadata"]["deletionTimestamp"] = "2026-12-01T00:00:00Z"
    api.delete(ObjectRef.of(deployment))
    assert refresh_owner(deployment, "DELETED", runtime, LOG) == "skipped"
    assert ObjectRef.of(deployment) not in api.objects


def test_partition_decrease_is_not_hidden_by_a_child_refresh(api: FakeKubeApi) -> None:
    runtime = Runtime(api, SETTINGS)  # type: ignore[arg-type]
    owner = ObjectRef(ECAP, "KafkaTopic", "shop", "user-events")
    handle("KafkaTopic", api.objects[owner], None, LOG, runtime, from_timer=False)
    child = strimzi_ready(api.objects[ObjectRef(STRIMZI, "KafkaTopic", "shop", "user-events")])
    # The partitions are lowered (a new generation); the change handler refuses it and says so.
    api.objects[owner]["spec"]["partitions"] = 1
    api.objects[owner]["metadata"]["generation"] = 2
    with pytest.raises(kopf.PermanentError):
        handle("KafkaTopic", copy.deepcopy(api.objects[owner]), None, LOG, runtime, from_timer=False)
    # Strimzi reporting the topic Ready does not hide the refusal: the status stays as the handler wrote it.
    assert refresh_owner(child, "MODIFIED", runtime, LOG) == "unchanged"
    ready = next(c for c in api.objects[owner]["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "PartitionDecreaseRefused")


def test_refresh_skips_an_owner_not_handled_yet_or_gone(api: FakeKubeApi) -> None:
    runtime = Runtime(api, SETTINGS)  # type: ignore[arg-type]
    handle("KafkaTopic", body("KafkaTopic", "transactions"), None, LOG, runtime, from_timer=False)
    child = strimzi_ready(api.objects[ObjectRef(STRIMZI, "KafkaTopic", "shop", "transactions")])
    owner = ObjectRef(ECAP, "KafkaTopic", "shop", "transactions")
    api.objects[owner]["metadata"]["generation"] = 2
    assert refresh_owner(child, "MODIFIED", runtime, LOG) == "skipped"
    api.delete(owner)
    assert refresh_owner(child, "MODIFIED", runtime, LOG) == "skipped"
    assert (
        refresh_owner({"metadata": {"namespace": "shop"}, "status": {"x": 1}}, None, runtime, LOG)
        == "no owner"
    )


def test_owner_locks_serialise_one_object_and_are_forgotten() -> None:
    locks = OwnerLocks()
    a = ObjectRef(ECAP, "KafkaTopic", "s", "a")
    assert locks(a) is locks(a) and locks(a) is not locks(ObjectRef(ECAP, "KafkaTopic", "s", "b"))
    order: list[str] = []

    def refresh() -> None:
        with locks(a):
            order.append("refresh")

    with locks(a):
        waiter = threading.Thread(target=refresh)
        waiter.start()
        waiter.join(0.2)
        order.append("handler")
    waiter.join(5)
    assert order == ["handler", "refresh"]
    locks.forget(a)
    assert len(locks) == 1


def test_kopf_invokes_event_handlers_only_for_events_that_matter() -> None:
    """Filters, not early returns: kopf neither schedules nor logs a handler whose filter says no."""
    from ecap_operator.main import build_registry

    handlers = build_registry(SETTINGS)._watching.get_all_handlers()  # noqa: SLF001
    watching: dict[str, Any] = {str(h.id): h for h in handlers}
    forget = watching["kafkatopic_event"].when
    assert forget is not None
    assert forget(type="DELETED", body={}) and not forget(type="MODIFIED", body={})


def test_a_new_object_creates_its_children_without_reading_them_first(api: FakeKubeApi) -> None:
    runtime = Runtime(api, SETTINGS)  # type: ignore[arg-type]
    api.calls.clear()
    handle(
        "KafkaTopic",
        body("KafkaTopic", "transactions"),
        None,
        LOG,
        runtime,
        from_timer=False,
        new_object=True,
    )
    assert api.calls == [("create", STRIMZI, "KafkaTopic"), ("patch_status", ECAP, "KafkaTopic")]
    api.calls.clear()
    handle("DataProducer", body("DataProducer"), None, LOG, runtime, from_timer=False, new_object=True)
    assert [verb for verb, _, kind in api.calls if kind != "KafkaTopic"] == ["create"] * 3 + ["patch_status"]


def test_a_new_object_still_refuses_to_shrink_an_existing_topic(api: FakeKubeApi) -> None:
    """Created again over a retained Strimzi topic with more partitions: 409, read, refused as always."""
    runtime = Runtime(api, SETTINGS)  # type: ignore[arg-type]
    b = body("KafkaTopic", "user-events")
    handle("KafkaTopic", b, None, LOG, runtime, from_timer=False)
    b["spec"]["partitions"] = 1
    with pytest.raises(kopf.PermanentError, match="partitions"):
        handle("KafkaTopic", b, None, LOG, runtime, from_timer=False, new_object=True)
    child = api.objects[ObjectRef(STRIMZI, "KafkaTopic", "shop", "user-events")]
    assert child["spec"]["partitions"] > 1


def test_a_scheduled_run_refreshes_its_segmentation_run_through_the_copied_labels() -> None:
    """The Spark Operator copies a ScheduledSparkApplication's labels to each run it starts and owns it."""
    run = {
        "metadata": {
            "namespace": "shop",
            "name": "nightly-rfm-clv-1764547200",
            "labels": {"ecap.io/kind": "SegmentationRun", "ecap.io/name": "nightly-rfm-clv"},
            "ownerReferences": [
                {
                    "apiVersion": "sparkoperator.k8s.io/v1beta2",
                    "kind": "ScheduledSparkApplication",
                    "name": "nightly-rfm-clv",
                    "controller": True,
                }
            ],
        }
    }
    assert owner_of(run) == ObjectRef(ECAP, "SegmentationRun", "shop", "nightly-rfm-clv")
