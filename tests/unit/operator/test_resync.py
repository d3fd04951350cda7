"""The operator-wide periodic resync (drift repair without a kopf timer per object) and which KafkaTopics
get a finalizer (only those whose Strimzi topic lives in another namespace: no owner reference reaches it)."""

from __future__ import annotations

import copy
import logging

from ecap_operator.handlers import handle, needs_finalizer, release_after_deletion, resync
from ecap_operator.handlers.engine import Runtime
from ecap_operator.kube import ObjectRef
from ecap_operator.main import build_registry
from ecap_operator.settings import OperatorSettings

from .examples import bodies, body
from .fake_api import FakeKubeApi

LOG = logging.getLogger("test")
SETTINGS = OperatorSettings()


def handled_platform() -> tuple[FakeKubeApi, Runtime]:
    """Every example resource stored and handled once, as kopf's create handlers would."""
    api = FakeKubeApi()
    for b in bodies():
        api.put(b)
    runtime = Runtime(api, SETTINGS)  # type: ignore[arg-type]
    for b in bodies():
        handle(b["kind"], copy.deepcopy(api.objects[ObjectRef.of(b)]), None, LOG, runtime, from_timer=False)
    return api, runtime


def test_resync_repairs_drift_of_every_kind_and_writes_only_changed_status() -> None:
    api, runtime = handled_platform()
    assert {kind for kind, _ in runtime.places} == {b["kind"] for b in bodies()}
    deployment = next(r for r in api.objects if r.kind == "Deployment")
    replicas = api.objects[deployment]["spec"]["replicas"]
    api.objects[deployment]["spec"]["replicas"] = replicas + 5
    strimzi = next(r for r in api.objects if r.api_version.startswith("kafka.strimzi.io"))
    retention = api.objects[strimzi]["spec"]["config"]["retention.ms"]
    api.objects[strimzi]["spec"]["config"]["retention.ms"] = "1"
    patches = len(api.status_patches)

    outcomes = resync(runtime, LOG)

    assert api.objects[deployment]["spec"]["replicas"] == replicas
    assert api.objects[strimzi]["spec"]["config"]["retention.ms"] == retention
    assert sum(outcomes.values()) == len(bodies())
    assert "failed" not in outcomes
    # Nothing else changed: statuses are left as they are (no request per object for nothing).
    again = len(api.status_patches)
    assert again - patches == outcomes.get("written", 0)
    second = resync(runtime, LOG)
    assert second == {"unchanged": len(bodies())}
    assert len(api.status_patches) == again
    # One list per kind and namespace, not one read per object.
    lists = [c for c in api.calls if c[0] == "list" and c[1] == "ecap.io/v1alpha1"]
    assert len(lists) == 2 * len(runtime.places)


def test_resync_forgets_a_place_found_empty() -> None:
    api, runtime = handled_platform()
    for ref in [r for r in api.objects if r.kind == "DeltaTable"]:
        api.delete(ref)
    places = set(runtime.places)
    resync(runtime, LOG)
    assert places - set(runtime.places) == {("DeltaTable", "shop")}
    api.put(body("DeltaTable"))
    handle("DeltaTable", body("DeltaTable"), None, LOG, runtime, from_timer=False)
    tables = sum(b["kind"] == "DeltaTable" for b in bodies())
    assert resync(runtime, LOG) == {"unchanged": len(bodies()) - tables + 1}  # the table is resynced again


def test_resync_leaves_objects_being_deleted_to_kopf() -> None:
    api, runtime = handled_platform()
    ref = ObjectRef.of(body("DeltaTable"))
    api.objects[ref]["metadata"]["deletionTimestamp"] = "2026-12-01T00:00:00Z"
    cronjob = next(r for r in api.objects if r.kind == "CronJob")
    api.delete(cronjob)

    outcomes = resync(runtime, LOG)

    assert cronjob not in api.objects
    assert outcomes["skipped"] == 1


def test_resync_reports_an_object_it_cannot_reconcile_and_goes_on() -> None:
    api, runtime = handled_platform()
    producer = body("DataProducer")
    topic = next(iter(producer["spec"]["topics"].values()))
    api.delete(ObjectRef("ecap.io/v1alpha1", "KafkaTopic", producer["metadata"]["namespace"], topic))

    outcomes = resync(runtime, LOG)

    assert outcomes["failed"] >= 1
    assert outcomes.get("unchanged", 0) + outcomes.get("written", 0) == len(bodies()) - 1 - outcomes["failed"]
    status = api.objects[ObjectRef.of(producer)]["status"]
    assert any(c["reason"] == "TopicNotFound" for c in status["conditions"])


def test_a_finalizer_only_where_the_garbage_collector_cannot_clean_up() -> None:
    topic = body("KafkaTopic")
    delete = copy.deepcopy(topic)
    delete["spec"]["deletionPolicy"] = "Delete"
    assert needs_finalizer(delete, SETTINGS) is False  # owned by reference: the collector deletes it
    retain = copy.deepcopy(topic)
    retain["spec"]["deletionPolicy"] = "Retain"
    assert needs_finalizer(retain, SETTINGS) is False  # claimed, not owned: the collector leaves it
    retain["metadata"]["finalizers"] = [SETTINGS.finalizer]
    assert needs_finalizer(retain, SETTINGS) is True  # an older operator's: its topic may still be owned
    delete["metadata"]["finalizers"] = [SETTINGS.finalizer]
    assert needs_finalizer(delete, SETTINGS) is False  # kopf removes it: the collector deletes the topic
    elsewhere = copy.deepcopy(delete)
    elsewhere["spec"]["clusterNamespace"] = "kafka"
    assert needs_finalizer(elsewhere, SETTINGS) is True  # no owner reference reaches another namespace
    assert needs_finalizer(delete, OperatorSettings(strimzi_namespace="kafka")) is True
    invalid = copy.deepcopy(delete)
    invalid["spec"]["partitions"] = "many"
    assert needs_finalizer(invalid, SETTINGS) is True  # data is never deleted on a guess


def test_no_kind_has_timers_or_daemons_and_only_topics_and_tables_a_deletion_handler() -> None:
    """Deletion handlers (each means a finalizer where its filter matches) only for KafkaTopic and DeltaTable
    (deletionPolicy Delete: its data is dropped first), both filtered: no finalizer where none is needed."""
    registry = build_registry(OperatorSettings(timer_interval=7))
    assert list(registry._spawning.get_all_handlers()) == []  # noqa: SLF001 - kopf has no public listing
    deleting = [h for h in registry._changing.get_all_handlers() if h.requires_finalizer]  # noqa: SLF001
    assert sorted(h.id for h in deleting) == ["deltatable_delete", "kafkatopic_delete"]
    assert all(h.when is not None for h in deleting)


def test_a_retained_topic_is_released_once_its_owner_is_gone() -> None:
    """Retain in the same namespace: no finalizer; the DELETED event releases the Strimzi topic (our labels
    and claim dropped, Strimzi's cluster label kept). Delete and other namespaces: nothing to do then."""
    api, runtime = handled_platform()
    retained = copy.deepcopy(api.objects[ObjectRef.of(body("KafkaTopic"))])
    assert retained["spec"].get("deletionPolicy", "Retain") == "Retain"
    name = retained["metadata"]["name"]
    strimzi = ObjectRef("kafka.strimzi.io/v1beta2", "KafkaTopic", retained["metadata"]["namespace"], name)
    assert "ownerReferences" not in api.objects[strimzi]["metadata"]
    api.delete(ObjectRef.of(retained))

    assert (release_after_deletion(retained, runtime, LOG) or "").startswith("retained")
    left = api.objects[strimzi]["metadata"]
    assert "ecap.io/owner" not in left.get("annotations", {}) and "ecap.io/kind" not in left["labels"]
    assert left["labels"]["strimzi.io/cluster"] == "ecap-kafka"

    dropped = copy.deepcopy(retained)
    dropped["spec"]["deletionPolicy"] = "Delete"
    assert release_after_deletion(dropped, runtime, LOG) is None
    elsewhere = copy.deepcopy(retained)
    elsewhere["spec"]["clusterNamespace"] = "kafka"
    assert release_after_deletion(elsewhere, runtime, LOG) is None


def test_resync_lists_the_children_it_can_instead_of_reading_each() -> None:
    """One list per child kind and namespace; only ConfigMaps and Services (not listable by the operator's
    RBAC) are still read one by one. A child missing from the list is read, then created."""
    api, runtime = handled_platform()
    deployment = next(r for r in api.objects if r.kind == "Deployment")
    api.delete(deployment)
    api.calls.clear()

    resync(runtime, LOG)

    gets = {(api_version, kind) for verb, api_version, kind in api.calls if verb == "get"}
    # Besides: the KafkaTopics that producers and pipelines reference, a schedule's last run.
    assert gets <= {
        ("v1", "ConfigMap"),
        ("v1", "Service"),
        ("apps/v1", "Deployment"),
        ("ecap.io/v1alpha1", "KafkaTopic"),
        ("sparkoperator.k8s.io/v1beta2", "SparkApplication"),
    }
    assert [c for c in api.calls if c[0] == "get" and c[2] == "Deployment"] == [
        ("get", "apps/v1", "Deployment")
    ]
    assert deployment in api.objects  # recreated
    # (A DeltaTable also lists its own apply Jobs, by its own labels, to prune stale ones.)
    child_lists = [c for c in api.calls if c[0] == "list" and c[1] not in ("ecap.io/v1alpha1", "batch/v1")]
    assert len(child_lists) == len(set(child_lists)) == 4  # Strimzi topics, Deployments, two Spark kinds


def test_the_finalizer_decision_is_remembered_per_generation_and_finalizers() -> None:
    """kopf asks on every event; the spec is parsed again only when it (or the finalizers) changed."""
    from ecap_operator.handlers import FinalizerDecisions

    decisions = FinalizerDecisions(SETTINGS, size=2)
    here = body("KafkaTopic", "transactions")
    here["metadata"] |= {"uid": "u-1", "generation": 1}
    assert decisions(here) is False
    elsewhere = copy.deepcopy(here)
    elsewhere["spec"]["clusterNamespace"] = "kafka"
    assert decisions(elsewhere) is False  # same generation: the remembered answer
    elsewhere["metadata"]["generation"] = 2
    assert decisions(elsewhere) is True  # the edited spec is looked at
    assert decisions(elsewhere) == needs_finalizer(elsewhere, SETTINGS)
    for uid in ("u-2", "u-3", "u-4"):  # bounded: old answers are dropped, never wrong
        other = copy.deepcopy(elsewhere)
        other["metadata"]["uid"] = uid
        assert decisions(other) is True


def test_kopfs_routine_success_lines_are_left_out() -> None:
    from ecap_operator.handlers import RoutineOutcomes

    keep = RoutineOutcomes().filter

    def record(level: int, msg: str) -> logging.LogRecord:
        return logging.LogRecord("kopf.objects", level, __file__, 1, msg, None, None)

    assert not keep(record(logging.INFO, "Handler 'kafkatopic_create' succeeded."))
    assert not keep(record(logging.INFO, "Creation is processed: 1 succeeded; 0 failed."))
    assert keep(record(logging.INFO, "Creation is processed: 0 succeeded; 1 failed."))
    assert keep(record(logging.INFO, "created KafkaTopic shop/transactions"))
    assert keep(record(logging.ERROR, "Handler 'kafkatopic_create' failed temporarily: boom"))
