"""Reconciliation end to end against an in-memory API: children, drift repair, errors, status, deletion."""

from __future__ import annotations

import copy
import logging
from typing import Any

import kopf
import pytest

from ecap_operator.api import ConditionType
from ecap_operator.builders import Owner
from ecap_operator.errors import (
    ChildConflictError,
    InvalidSpecError,
    PartitionDecreaseError,
    TopicNotFoundError,
)
from ecap_operator.handlers import handle, handler_ids
from ecap_operator.handlers.engine import Runtime, reconcile, release_kafka_topic
from ecap_operator.kube import ObjectRef
from ecap_operator.reconcile import (
    Action,
    Context,
    contained,
    controller_uid,
    decide,
    parse_spec,
    release_patch,
)
from ecap_operator.settings import OperatorSettings

from .examples import bodies, body
from .fake_api import FakeKubeApi

NOW = "2026-11-30T12:00:00Z"
LOG = logging.getLogger("test")
SETTINGS = OperatorSettings()


def ctx(b: dict[str, Any], settings: OperatorSettings = SETTINGS) -> Context:
    return Context(body=b, owner=Owner.from_body(b), settings=settings, now=NOW)


@pytest.fixture
def api() -> FakeKubeApi:
    fake = FakeKubeApi()
    for b in bodies():
        fake.put(b)
    return fake


def conditions(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status["conditions"]}


def test_parse_spec_names_the_field() -> None:
    bad = body("KafkaTopic", "transactions")
    bad["spec"]["partitions"] = 0
    with pytest.raises(
        InvalidSpecError, match=r"KafkaTopic/transactions: spec.partitions: .*greater than or equal to 1"
    ):
        parse_spec("KafkaTopic", bad)


def test_decide_create_keep_patch_and_conflict() -> None:
    owner = Owner("DataProducer", "p", "ns", uid="u1")
    desired = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "p",
            "namespace": "ns",
            "labels": {"a": "1"},
            "ownerReferences": [{"uid": "u1", "controller": True}],
        },
        "spec": {
            "replicas": 2,
            "template": {"spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "0.5"}}}]}},
        },
    }
    assert decide(desired, None, owner).action is Action.CREATE
    live = copy.deepcopy(desired)
    live["metadata"]["uid"] = "child"
    live["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "500m"  # normalised
    live["spec"]["template"]["spec"]["containers"][0]["terminationMessagePath"] = (
        "/dev/termination-log"  # default
    )
    live["status"] = {"availableReplicas": 2}
    assert decide(desired, live, owner).action is Action.KEEP
    live["spec"]["replicas"] = 5  # edited by hand
    decision = decide(desired, live, owner)
    assert decision.action is Action.PATCH and decision.body is not None
    assert decision.body["spec"]["replicas"] == 2
    live["metadata"]["ownerReferences"] = [{"uid": "someone-else", "controller": True}]
    with pytest.raises(ChildConflictError, match="controlled by another object"):
        decide(desired, live, owner)


def test_contained_lists_must_match_length() -> None:
    assert not contained({"args": ["a"]}, {"args": ["a", "b"]})
    assert contained({"x": {"y": 1}}, {"x": {"y": 1, "z": 2}, "w": 3})


def test_kafka_topic_creates_strimzi_topic_and_status(api: FakeKubeApi) -> None:
    b = body("KafkaTopic", "transactions-dlq")
    status = reconcile("KafkaTopic", ctx(b), api, LOG)  # type: ignore[arg-type]
    strimzi = api.objects[ObjectRef("kafka.strimzi.io/v1beta2", "KafkaTopic", "shop", "transactions-dlq")]
    assert strimzi["spec"]["topicName"] == "transactions.dlq"
    assert status["topicName"] == "transactions.dlq"
    assert status["phase"] == "Progressing" and status["observedGeneration"] == 1
    assert conditions(status)["Ready"]["status"] == "False"
    # Strimzi reports Ready: the next reconcile (the timer) turns our resource Ready.
    strimzi["status"] = {"conditions": [{"type": "Ready", "status": "True"}], "observedGeneration": 1}
    b["status"] = status
    status = reconcile("KafkaTopic", ctx(b), api, LOG)  # type: ignore[arg-type]
    assert status["phase"] == "Ready" and conditions(status)["Ready"]["status"] == "True"


def test_partition_decrease_is_refused_and_child_left_alone(api: FakeKubeApi) -> None:
    b = body("KafkaTopic", "transactions")
    reconcile("KafkaTopic", ctx(b), api, LOG)  # type: ignore[arg-type]
    ref = ObjectRef("kafka.strimzi.io/v1beta2", "KafkaTopic", "shop", "transactions")
    before = copy.deepcopy(api.objects[ref])
    b["spec"]["partitions"] = 3
    with pytest.raises(PartitionDecreaseError, match="3 is below the topic's 6 partitions"):
        reconcile("KafkaTopic", ctx(b), api, LOG)  # type: ignore[arg-type]
    assert api.objects[ref] == before


def test_producer_children_and_missing_topic(api: FakeKubeApi) -> None:
    b = body("DataProducer", "shop-sessions")
    status = reconcile("DataProducer", ctx(b), api, LOG)  # type: ignore[arg-type]
    assert {r.kind for r in api.objects if r.namespace == "shop"} >= {"ConfigMap", "Deployment", "Service"}
    assert status["topics"] == {"transactions": "transactions", "user-events": "user-events"}
    assert status["replicas"] == 1 and status["availableReplicas"] == 0
    b["status"] = {**status, "topics": {**status["topics"], "product-updates": "product-updates"}}
    status = reconcile("DataProducer", ctx(b), api, LOG)  # type: ignore[arg-type]
    assert status["topics"]["product-updates"] is None  # removed from the live status by the merge patch
    api.delete(ObjectRef("ecap.io/v1alpha1", "KafkaTopic", "shop", "user-events"))
    with pytest.raises(TopicNotFoundError, match=r"spec.topics.userEvents: KafkaTopic 'user-events'"):
        reconcile("DataProducer", ctx(b), api, LOG)  # type: ignore[arg-type]


def test_drift_is_repaired(api: FakeKubeApi) -> None:
    b = body("DataProducer", "shop-sessions")
    reconcile("DataProducer", ctx(b), api, LOG)  # type: ignore[arg-type]
    deployment_ref = ObjectRef("apps/v1", "Deployment", "shop", "shop-sessions-producer")
    configmap_ref = ObjectRef("v1", "ConfigMap", "shop", "shop-sessions-ecap")
    api.objects[deployment_ref]["spec"]["replicas"] = 7
    del api.objects[configmap_ref]
    reconcile("DataProducer", ctx(b), api, LOG)  # type: ignore[arg-type]
    assert api.objects[deployment_ref]["spec"]["replicas"] == 1
    assert configmap_ref in api.objects
    # A third pass finds nothing to do: no create or patch calls.
    api.calls.clear()
    reconcile("DataProducer", ctx(b), api, LOG)  # type: ignore[arg-type]
    assert [c for c in api.calls if c[0] in ("create", "patch")] == []


def test_topic_change_rolls_the_producer(api: FakeKubeApi) -> None:
    b = body("DataProducer", "shop-sessions")
    reconcile("DataProducer", ctx(b), api, LOG)  # type: ignore[arg-type]
    ref = ObjectRef("apps/v1", "Deployment", "shop", "shop-sessions-producer")
    before = api.objects[ref]["spec"]["template"]["metadata"]["annotations"]["ecap.io/config-hash"]
    api.objects[ObjectRef("ecap.io/v1alpha1", "KafkaTopic", "shop", "transactions")]["spec"]["topicName"] = (
        "orders"
    )
    status = reconcile("DataProducer", ctx(b), api, LOG)  # type: ignore[arg-type]
    after = api.objects[ref]["spec"]["template"]["metadata"]["annotations"]["ecap.io/config-hash"]
    assert before != after and status["topics"]["transactions"] == "orders"
    assert (
        "topicName: orders"
        in api.objects[ObjectRef("v1", "ConfigMap", "shop", "shop-sessions-ecap")]["data"]["resources.yaml"]
    )


def test_pipeline_mirrors_application_state(api: FakeKubeApi) -> None:
    b = body("StreamingPipeline")
    reconcile("StreamingPipeline", ctx(b), api, LOG)  # type: ignore[arg-type]
    app = api.objects[ObjectRef("sparkoperator.k8s.io/v1beta2", "SparkApplication", "shop", "shop-analytics")]
    app["status"] = {"applicationState": {"state": "FAILED", "errorMessage": "exit 1: no such table"}}
    status = reconcile("StreamingPipeline", ctx(b), api, LOG)  # type: ignore[arg-type]
    assert status["applicationState"] == "FAILED" and status["phase"] == "Failed"
    assert "no such table" in conditions(status)["Ready"]["message"]


def test_segmentation_never_overwrites_job_figures(api: FakeKubeApi) -> None:
    b = body("SegmentationRun")
    b["spec"]["schedule"] = None
    b["status"] = {"customers": 120, "segments": {"Champions": 10}, "meanClv": 42.0, "runId": "r-1"}
    reconcile("SegmentationRun", ctx(b), api, LOG)  # type: ignore[arg-type]
    app = api.objects[
        ObjectRef("sparkoperator.k8s.io/v1beta2", "SparkApplication", "shop", "nightly-rfm-clv")
    ]
    app["status"] = {"applicationState": {"state": "COMPLETED"}}
    status = reconcile("SegmentationRun", ctx(b), api, LOG)  # type: ignore[arg-type]
    assert status["applicationState"] == "COMPLETED" and status["phase"] == "Succeeded"
    assert not {"customers", "segments", "meanClv", "runId"} & status.keys()
    # The job reported a degraded run (CLV not fitted): the operator keeps saying so.
    b["status"]["conditions"] = [
        {"type": "Ready", "status": "True", "reason": "RunSucceeded", "message": "120 customers"},
        {"type": "Degraded", "status": "True", "reason": "ClvNotFitted", "message": "too few repeat buyers"},
    ]
    status = reconcile("SegmentationRun", ctx(b), api, LOG)  # type: ignore[arg-type]
    degraded = conditions(status)["Degraded"]
    assert (degraded["status"], degraded["reason"]) == ("True", "ClvNotFitted")
    assert conditions(status)["Ready"]["status"] == "True" and status["phase"] == "Degraded"


def test_segmentation_switching_to_schedule_replaces_the_application(api: FakeKubeApi) -> None:
    b = body("SegmentationRun")
    b["spec"]["schedule"] = None
    reconcile("SegmentationRun", ctx(b), api, LOG)  # type: ignore[arg-type]
    b["spec"]["schedule"] = "0 4 * * *"
    reconcile("SegmentationRun", ctx(b), api, LOG)  # type: ignore[arg-type]
    kinds = {r.kind for r in api.objects if r.name == "nightly-rfm-clv"}
    assert "ScheduledSparkApplication" in kinds and "SparkApplication" not in kinds


def test_scheduled_segmentation_reports_last_run(api: FakeKubeApi) -> None:
    b = body("SegmentationRun")
    reconcile("SegmentationRun", ctx(b), api, LOG)  # type: ignore[arg-type]
    scheduled = api.objects[
        ObjectRef("sparkoperator.k8s.io/v1beta2", "ScheduledSparkApplication", "shop", "nightly-rfm-clv")
    ]
    scheduled["status"] = {"scheduleState": "Scheduled", "lastRunName": "nightly-rfm-clv-123"}
    api.put(
        {
            "apiVersion": "sparkoperator.k8s.io/v1beta2",
            "kind": "SparkApplication",
            "metadata": {"name": "nightly-rfm-clv-123", "namespace": "shop"},
            "status": {"applicationState": {"state": "RUNNING"}},
        }
    )
    status = reconcile("SegmentationRun", ctx(b), api, LOG)  # type: ignore[arg-type]
    assert status["applicationState"] == "RUNNING" and status["phase"] == "Ready"


def test_delta_table_jobs_follow_the_spec(api: FakeKubeApi) -> None:
    b = body("DeltaTable", "transactions-table")
    status = reconcile("DeltaTable", ctx(b), api, LOG)  # type: ignore[arg-type]
    assert status["location"] == "/lake/transactions"
    first_jobs = [o["metadata"]["name"] for o in api.kinds("Job")]
    assert len(first_jobs) == 1 and len(api.kinds("CronJob")) == 1
    b["spec"]["description"] = "changed"
    b["spec"]["maintenance"] = None
    reconcile("DeltaTable", ctx(b), api, LOG)  # type: ignore[arg-type]
    second_jobs = [o["metadata"]["name"] for o in api.kinds("Job")]
    assert len(second_jobs) == 1 and second_jobs != first_jobs  # a new apply Job, the old one pruned
    assert api.kinds("CronJob") == []  # maintenance switched off


def test_foreign_child_is_never_taken_over(api: FakeKubeApi) -> None:
    api.put(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "shop-sessions-ecap",
                "namespace": "shop",
                "ownerReferences": [
                    {"uid": "other", "controller": True, "kind": "X", "name": "x", "apiVersion": "v1"}
                ],
            },
        }
    )
    with pytest.raises(ChildConflictError):
        reconcile("DataProducer", ctx(body("DataProducer", "shop-sessions")), api, LOG)  # type: ignore[arg-type]


class Patch(dict[str, Any]):
    """kopf.Patch's dict behaviour is all handle() uses."""


def test_handle_invalid_spec_sets_condition_and_raises_permanent(api: FakeKubeApi) -> None:
    b = body("DataProducer", "shop-sessions")
    b["spec"]["rate"] = -1
    patch = Patch()
    with pytest.raises(kopf.PermanentError, match="spec.rate"):
        handle("DataProducer", b, patch, LOG, Runtime(api, SETTINGS), from_timer=False)  # type: ignore[arg-type]
    ready = conditions(patch["status"])["Ready"]
    assert (ready["status"], ready["reason"]) == ("False", "InvalidSpec")
    assert "spec.rate" in ready["message"] and patch["status"]["phase"] == "Invalid"


def test_handle_missing_topic_is_temporary(api: FakeKubeApi) -> None:
    b = body("StreamingPipeline")
    b["spec"]["sinks"]["fraudAlerts"] = "no-such-topic"
    patch = Patch()
    with pytest.raises(kopf.TemporaryError) as raised:
        handle("StreamingPipeline", b, patch, LOG, Runtime(api, SETTINGS), from_timer=False)  # type: ignore[arg-type]
    assert raised.value.delay == SETTINGS.retry_delay
    assert conditions(patch["status"])["Ready"]["reason"] == "TopicNotFound"
    # The timer records the same condition without raising.
    patch = Patch()
    handle("StreamingPipeline", b, patch, LOG, Runtime(api, SETTINGS), from_timer=True)  # type: ignore[arg-type]
    assert conditions(patch["status"])["Ready"]["reason"] == "TopicNotFound"


def test_handle_partition_decrease_condition(api: FakeKubeApi) -> None:
    b = body("KafkaTopic", "user-events")
    handle("KafkaTopic", b, Patch(), LOG, Runtime(api, SETTINGS), from_timer=False)  # type: ignore[arg-type]
    b["spec"]["partitions"] = 1
    patch = Patch()
    with pytest.raises(kopf.PermanentError):
        handle("KafkaTopic", b, patch, LOG, Runtime(api, SETTINGS), from_timer=False)  # type: ignore[arg-type]
    assert conditions(patch["status"])["Ready"]["reason"] == "PartitionDecreaseRefused"
    assert patch["status"]["phase"] == "Degraded"


@pytest.mark.parametrize("policy", ["Retain", "Delete"])
def test_kafka_topic_deletion_in_another_namespace(api: FakeKubeApi, policy: str) -> None:
    settings = OperatorSettings(strimzi_namespace="kafka")
    b = body("KafkaTopic", "transactions")
    b["spec"]["deletionPolicy"] = policy
    reconcile("KafkaTopic", ctx(b, settings), api, LOG)  # type: ignore[arg-type]
    ref = ObjectRef("kafka.strimzi.io/v1beta2", "KafkaTopic", "kafka", "shop.transactions")
    assert "ownerReferences" not in api.objects[ref]["metadata"]
    done = release_kafka_topic(ctx(b, settings), api, LOG)  # type: ignore[arg-type]
    if policy == "Delete":
        assert ref not in api.objects and done.startswith("deleted")
    else:
        left = api.objects[ref]["metadata"]
        assert "ecap.io/owner" not in left.get("annotations", {})
        assert "ecap.io/kind" not in left["labels"] and left["labels"]["strimzi.io/cluster"] == "ecap-kafka"


def test_retained_topic_in_same_namespace_is_claimed_not_owned(api: FakeKubeApi) -> None:
    """Retain: no owner reference (the collector must never take it, and no finalizer is needed), our claim
    instead; switching the policy adds or drops our reference; releasing drops the claim."""
    b = body("KafkaTopic", "fraud-alerts")
    b["spec"]["deletionPolicy"] = "Retain"
    reconcile("KafkaTopic", ctx(b), api, LOG)  # type: ignore[arg-type]
    ref = ObjectRef("kafka.strimzi.io/v1beta2", "KafkaTopic", "shop", "fraud-alerts")
    meta = api.objects[ref]["metadata"]
    assert "ownerReferences" not in meta and meta["annotations"]["ecap.io/owner"] == "shop/fraud-alerts"

    b["spec"]["deletionPolicy"] = "Delete"
    reconcile("KafkaTopic", ctx(b), api, LOG)  # type: ignore[arg-type]
    assert api.objects[ref]["metadata"]["ownerReferences"][0]["uid"] == b["metadata"]["uid"]

    api.objects[ref]["metadata"]["ownerReferences"].append({"uid": "someone-else", "name": "x"})
    b["spec"]["deletionPolicy"] = "Retain"
    reconcile("KafkaTopic", ctx(b), api, LOG)  # type: ignore[arg-type]
    assert api.objects[ref]["metadata"]["ownerReferences"] == [{"uid": "someone-else", "name": "x"}]

    assert release_kafka_topic(ctx(b), api, LOG).startswith("retained")  # type: ignore[arg-type]
    left = api.objects[ref]["metadata"]
    assert "ecap.io/owner" not in left.get("annotations", {}) and "ecap.io/kind" not in left["labels"]


def test_release_patch_keeps_other_owners() -> None:
    owner = Owner("KafkaTopic", "t", "ns", uid="me")
    observed = {
        "metadata": {
            "ownerReferences": [{"uid": "me"}, {"uid": "other"}],
            "labels": {"ecap.io/kind": "KafkaTopic", "strimzi.io/cluster": "c"},
        }
    }
    assert release_patch(observed, owner) == {
        "metadata": {"ownerReferences": [{"uid": "other"}], "labels": {"ecap.io/kind": None}}
    }


def test_handler_ids() -> None:
    ids = handler_ids()
    assert (
        "kafkatopic_delete" in ids
        and "deltatable_delete" in ids
        and "segmentationrun_update" in ids
        and "ecap_children_start" in ids
        and len(ids) == 28
    )
    assert not [i for i in ids if i.endswith("_timer")]  # one operator-wide resync instead


def test_ready_condition_types_are_ours() -> None:
    assert {t.value for t in ConditionType} == {"Ready", "Progressing", "Degraded"}


def test_metrics_count_results_and_phases(api: FakeKubeApi) -> None:
    from ecap_operator.metrics import OperatorMetrics

    metrics = OperatorMetrics()
    runtime = Runtime(api, SETTINGS, metrics)
    handle("KafkaTopic", body("KafkaTopic", "transactions"), Patch(), LOG, runtime, from_timer=True)  # type: ignore[arg-type]
    bad = body("StreamingPipeline")
    bad["spec"]["sources"]["transactions"] = "missing"
    handle("StreamingPipeline", bad, Patch(), LOG, runtime, from_timer=True)  # type: ignore[arg-type]
    sample = metrics.registry.get_sample_value
    assert sample("ecap_operator_reconcile_total", {"kind": "KafkaTopic", "result": "success"}) == 1
    assert sample("ecap_operator_reconcile_total", {"kind": "StreamingPipeline", "result": "retry"}) == 1
    assert sample("ecap_operator_reconcile_errors_total", {"kind": "StreamingPipeline"}) == 1
    assert sample("ecap_operator_resources", {"kind": "KafkaTopic", "phase": "Progressing"}) == 1
    assert sample("ecap_operator_resources", {"kind": "StreamingPipeline", "phase": "Pending"}) == 1
    metrics.phases.forget("KafkaTopic", "shop", "transactions")
    assert sample("ecap_operator_resources", {"kind": "KafkaTopic", "phase": "Progressing"}) is None


@pytest.mark.parametrize(("policy", "left_behind"), [("Retain", "released"), ("Delete", "deleted")])
def test_moving_a_topic_to_another_cluster_namespace_follows_the_deletion_policy(
    api: FakeKubeApi, policy: str, left_behind: str
) -> None:
    b = copy.deepcopy(body("KafkaTopic", "transactions"))
    b["spec"]["deletionPolicy"] = policy
    runtime = Runtime(api, SETTINGS)  # type: ignore[arg-type]
    handle("KafkaTopic", b, None, LOG, runtime, from_timer=False)
    namespace = b["metadata"]["namespace"]
    here = ObjectRef("kafka.strimzi.io/v1beta2", "KafkaTopic", namespace, "transactions")
    assert here in api.objects

    b["spec"]["clusterNamespace"] = "kafka"
    b["metadata"]["generation"] = 2
    handle("KafkaTopic", b, None, LOG, runtime, from_timer=False)
    there = ObjectRef("kafka.strimzi.io/v1beta2", "KafkaTopic", "kafka", f"{namespace}.transactions")
    assert api.objects[there]["metadata"]["annotations"]["ecap.io/owner"] == f"{namespace}/transactions"
    if left_behind == "deleted":
        assert here not in api.objects
    else:
        old = api.objects[here]
        assert not old["metadata"].get("ownerReferences") and "ecap.io/kind" not in old["metadata"]["labels"]
        assert old["metadata"]["labels"]["strimzi.io/cluster"]  # Strimzi keeps the retained topic
    # The operator's own Strimzi namespace is known too: a topic moved out of it is let go of in turn.
    central = OperatorSettings(strimzi_namespace="kafka")
    b["spec"]["clusterNamespace"] = namespace
    b["metadata"]["generation"] = 3
    handle("KafkaTopic", b, None, LOG, Runtime(api, central), from_timer=False)  # type: ignore[arg-type]
    assert here in api.objects
    if policy == "Delete":
        assert controller_uid(api.objects[here]) == b["metadata"]["uid"]
    else:  # retained topics are claimed, never owned by reference (the collector must not take them)
        assert api.objects[here]["metadata"]["annotations"]["ecap.io/owner"] == f"{namespace}/transactions"
    assert (there in api.objects) == (policy == "Retain")


@pytest.mark.parametrize("policy", ["Retain", "Delete"])
def test_moving_a_topic_between_two_explicit_cluster_namespaces_lets_the_first_go(
    api: FakeKubeApi, policy: str
) -> None:
    """The status records where the topic was placed (topicNamespace): neither namespace is the resource's
    own nor the operator's, yet the one left behind is released (Retain) or deleted (Delete)."""
    b = copy.deepcopy(body("KafkaTopic", "transactions"))
    b["spec"] |= {"deletionPolicy": policy, "clusterNamespace": "kafka-a"}
    api.put(b)
    runtime = Runtime(api, SETTINGS)  # type: ignore[arg-type]
    handle("KafkaTopic", b, None, LOG, runtime, from_timer=False)
    namespace = b["metadata"]["namespace"]
    first = ObjectRef("kafka.strimzi.io/v1beta2", "KafkaTopic", "kafka-a", f"{namespace}.transactions")
    stored = api.objects[ObjectRef.of(b)]
    assert first in api.objects and stored["status"]["topicNamespace"] == "kafka-a"

    moved = copy.deepcopy(stored)  # as kopf hands it over: with the status written before
    moved["spec"]["clusterNamespace"] = "kafka-b"
    moved["metadata"]["generation"] = 2
    handle("KafkaTopic", moved, None, LOG, runtime, from_timer=False)
    second = ObjectRef("kafka.strimzi.io/v1beta2", "KafkaTopic", "kafka-b", f"{namespace}.transactions")
    assert api.objects[second]["metadata"]["annotations"]["ecap.io/owner"] == f"{namespace}/transactions"
    assert api.objects[ObjectRef.of(b)]["status"]["topicNamespace"] == "kafka-b"
    if policy == "Delete":
        assert first not in api.objects
    else:
        left = api.objects[first]["metadata"]
        assert "ecap.io/owner" not in (left.get("annotations") or {}) and "ecap.io/kind" not in left["labels"]
        assert left["labels"]["strimzi.io/cluster"]  # Strimzi keeps the retained topic and its records
    # Someone else's topic where ours was recorded is never touched.
    theirs = copy.deepcopy(api.objects[second])
    theirs["metadata"] |= {"namespace": "kafka-c", "annotations": {"ecap.io/owner": "other/transactions"}}
    theirs["metadata"]["labels"]["ecap.io/owner-namespace"] = "other"
    api.put(theirs)
    again = copy.deepcopy(api.objects[ObjectRef.of(b)])
    again["status"]["topicNamespace"] = "kafka-c"
    again["metadata"]["generation"] = 3
    handle("KafkaTopic", again, None, LOG, runtime, from_timer=False)
    assert (
        api.objects[ObjectRef.of(theirs)]["metadata"]["annotations"]["ecap.io/owner"] == "other/transactions"
    )
