"""DataProducer, StreamingPipeline, SegmentationRun and DeltaTable: children, readiness from the
controllers the tests play, edits, failures, and cleanup by the garbage collector."""

from __future__ import annotations

from typing import Any

import yaml

from tests.kube.client import KubeClient, wait_for
from tests.kube.process import OperatorProcess

from .controllers import ECAP, SPARK, STRIMZI, Controllers

DELETION_TIMEOUT = 20.0
"""Children go with their owner through the garbage collector (test_deletion.py: the owner goes promptly)."""


def ecap(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": ECAP, "kind": kind, "metadata": {"name": name}, "spec": spec}


def ready_topics(kube: KubeClient, controllers: Controllers, *names: str) -> None:
    for name in names:
        kube.create(ECAP, "kafkatopics", ecap("KafkaTopic", name, {"partitions": 2}), controllers.namespace)
    for name in names:
        controllers.wait_child(STRIMZI, "kafkatopics", name)
        controllers.strimzi_topic_ready(name)


def owned_by(child: dict[str, Any], owner: dict[str, Any]) -> bool:
    refs = child["metadata"].get("ownerReferences") or []
    return [ref["uid"] for ref in refs if ref.get("controller")] == [owner["metadata"]["uid"]]


def test_data_producer_children_readiness_edit_and_cleanup(
    kube: KubeClient, kube_namespace: str, operator: OperatorProcess, controllers: Controllers
) -> None:
    ns = kube_namespace
    ready_topics(kube, controllers, "tx", "events")
    owner = kube.create(
        ECAP,
        "dataproducers",
        ecap(
            "DataProducer",
            "shop",
            {"topics": {"transactions": "tx", "userEvents": "events"}, "rate": 50, "seed": 7},
        ),
        ns,
    )

    configmap = controllers.wait_child("v1", "configmaps", "shop-ecap")
    deployment = controllers.wait_child("apps/v1", "deployments", "shop-producer")
    service = controllers.wait_child("v1", "services", "shop-producer")
    for child in (configmap, deployment, service):
        assert owned_by(child, owner), child["metadata"]
        assert child["metadata"]["labels"]["ecap.io/kind"] == "DataProducer"
        assert child["metadata"]["labels"]["app.kubernetes.io/instance"] == "shop"
    documents = list(yaml.safe_load_all(configmap["data"]["resources.yaml"]))
    assert [(d["kind"], d["metadata"]["name"]) for d in documents] == [
        ("DataProducer", "shop"),
        ("KafkaTopic", "events"),
        ("KafkaTopic", "tx"),
    ] or sorted((d["kind"], d["metadata"]["name"]) for d in documents[1:]) == [
        ("KafkaTopic", "events"),
        ("KafkaTopic", "tx"),
    ]
    assert documents[0]["kind"] == "DataProducer" and documents[0]["spec"]["rate"] == 50
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env = {item["name"]: item.get("value") for item in container.get("env", [])}
    assert env["ECAP_RESOURCE_KIND"] == "DataProducer" and env["ECAP_RESOURCE_NAME"] == "shop"
    assert env["ECAP_RESOURCE_NAMESPACE"] == ns
    controllers.wait_condition("DataProducer", "shop", "Ready", "False", reason="WaitingForChild")

    controllers.deployment_available("shop-producer", 1)
    controllers.wait_condition("DataProducer", "shop", "Ready", "True")
    status = controllers.ecap("DataProducer", "shop")["status"]
    assert status["availableReplicas"] == 1 and status["topics"] == {
        "transactions": "tx",
        "user-events": "events",
    }

    old_hash = deployment["spec"]["template"]["metadata"].get("annotations", {}).get("ecap.io/config-hash")
    kube.patch(ECAP, "dataproducers", "shop", {"spec": {"rate": 80}}, ns)
    wait_for(
        lambda: "rate: 80" in kube.get("v1", "configmaps", "shop-ecap", ns)["data"]["resources.yaml"],
        20,
        "the ConfigMap to carry the edited spec",
        describe=operator.tail,
    )
    new_hash = wait_for(
        lambda: (
            (
                h := kube.get("apps/v1", "deployments", "shop-producer", ns)["spec"]["template"]["metadata"]
                .get("annotations", {})
                .get("ecap.io/config-hash")
            )
            != old_hash
            and h
        ),
        20,
        "the Deployment to roll with the new configuration",
    )
    assert new_hash

    controllers.deployment_stuck("shop-producer")
    degraded = controllers.wait_condition(
        "DataProducer", "shop", "Degraded", "True", reason="ReplicasUnavailable"
    )
    assert "ImagePullBackOff" in degraded["message"]

    kube.delete("apps/v1", "deployments", "shop-producer", ns)
    controllers.wait_child("apps/v1", "deployments", "shop-producer")

    kube.delete(ECAP, "dataproducers", "shop", ns)
    for api_version, plural, name in (
        ("v1", "configmaps", "shop-ecap"),
        ("apps/v1", "deployments", "shop-producer"),
        ("v1", "services", "shop-producer"),
    ):
        controllers.wait_gone(api_version, plural, name, timeout=DELETION_TIMEOUT)
    assert kube.find(ECAP, "kafkatopics", "tx", ns) is not None
    assert operator.problems() == []


def test_missing_topic_reference_is_a_condition_until_the_topic_appears(
    kube: KubeClient, kube_namespace: str, operator: OperatorProcess, controllers: Controllers
) -> None:
    ns = kube_namespace
    kube.create(
        ECAP, "dataproducers", ecap("DataProducer", "early", {"topics": {"transactions": "later"}}), ns
    )
    waiting = controllers.wait_condition("DataProducer", "early", "Ready", "False", reason="TopicNotFound")
    assert "spec.topics.transactions" in waiting["message"] and "later" in waiting["message"]
    assert kube.find("apps/v1", "deployments", "early-producer", ns) is None

    ready_topics(kube, controllers, "later")
    controllers.wait_child("apps/v1", "deployments", "early-producer")
    controllers.deployment_available("early-producer", 1)
    controllers.wait_condition("DataProducer", "early", "Ready", "True")
    assert operator.problems() == []


def test_spec_that_passes_the_schema_but_not_the_model_is_reported(
    kube: KubeClient, kube_namespace: str, operator: OperatorProcess, controllers: Controllers
) -> None:
    kube.create(ECAP, "dataproducers", ecap("DataProducer", "nothing", {"topics": {}}), kube_namespace)
    invalid = controllers.wait_condition("DataProducer", "nothing", "Ready", "False", reason="InvalidSpec")
    assert "topics" in invalid["message"]
    assert controllers.ecap("DataProducer", "nothing")["status"]["phase"] == "Invalid"
    assert kube.list("apps/v1", "deployments", kube_namespace) == []
    assert operator.problems() == []


def test_streaming_pipeline_follows_the_spark_application(
    kube: KubeClient, kube_namespace: str, operator: OperatorProcess, controllers: Controllers
) -> None:
    ns = kube_namespace
    ready_topics(kube, controllers, "tx", "alerts")
    owner = kube.create(
        ECAP,
        "streamingpipelines",
        ecap(
            "StreamingPipeline",
            "flow",
            {"sources": {"transactions": "tx"}, "sinks": {"fraudAlerts": "alerts"}, "lake": "/lake"},
        ),
        ns,
    )
    app = controllers.wait_child(SPARK, "sparkapplications", "flow")
    assert owned_by(app, owner) and app["spec"]["mode"] == "cluster"
    assert owned_by(controllers.wait_child("v1", "configmaps", "flow-ecap"), owner)

    controllers.spark_state("flow", "RUNNING")
    controllers.wait_condition("StreamingPipeline", "flow", "Ready", "True")
    assert controllers.ecap("StreamingPipeline", "flow")["status"]["applicationState"] == "RUNNING"

    controllers.spark_state("flow", "FAILED", error="driver OOMKilled")
    failed = controllers.wait_condition(
        "StreamingPipeline", "flow", "Ready", "False", reason="ApplicationFailed"
    )
    assert "driver OOMKilled" in failed["message"]
    assert controllers.ecap("StreamingPipeline", "flow")["status"]["phase"] == "Failed"

    kube.delete(ECAP, "streamingpipelines", "flow", ns)
    controllers.wait_gone(SPARK, "sparkapplications", "flow", timeout=DELETION_TIMEOUT)
    controllers.wait_gone("v1", "configmaps", "flow-ecap", timeout=DELETION_TIMEOUT)
    assert operator.problems() == []


def test_segmentation_runs_once_or_on_a_schedule(
    kube: KubeClient, kube_namespace: str, operator: OperatorProcess, controllers: Controllers
) -> None:
    ns = kube_namespace
    kube.create(ECAP, "segmentationruns", ecap("SegmentationRun", "once", {"lake": "/lake"}), ns)
    controllers.wait_child(SPARK, "sparkapplications", "once")
    controllers.spark_state("once", "RUNNING")
    controllers.wait_condition("SegmentationRun", "once", "Progressing", "True")
    controllers.spark_state("once", "COMPLETED")
    done = controllers.wait_condition("SegmentationRun", "once", "Ready", "True", reason="Succeeded")
    assert done["status"] == "True"
    assert controllers.ecap("SegmentationRun", "once")["status"]["phase"] == "Succeeded"

    kube.create(
        ECAP,
        "segmentationruns",
        ecap("SegmentationRun", "nightly", {"lake": "/lake", "schedule": "0 4 * * *"}),
        ns,
    )
    scheduled = controllers.wait_child(SPARK, "scheduledsparkapplications", "nightly")
    assert scheduled["spec"]["schedule"] == "0 4 * * *"
    controllers.schedule("nightly")
    scheduled_ready = controllers.wait_condition("SegmentationRun", "nightly", "Ready", "True")
    assert "scheduled" in scheduled_ready["message"]

    kube.patch(ECAP, "segmentationruns", "nightly", {"spec": {"schedule": None}}, ns)
    controllers.wait_child(SPARK, "sparkapplications", "nightly")
    controllers.wait_gone(SPARK, "scheduledsparkapplications", "nightly")
    assert operator.problems() == []


def test_delta_table_apply_job_and_maintenance_cronjob(
    kube: KubeClient, kube_namespace: str, operator: OperatorProcess, controllers: Controllers
) -> None:
    ns = kube_namespace
    owner = kube.create(
        ECAP,
        "deltatables",
        ecap(
            "DeltaTable",
            "orders-table",
            {
                "tableName": "orders",
                "lake": "/lake",
                "columns": [
                    {"name": "order_id", "type": "string", "nullable": False},
                    {"name": "event_date", "type": "date"},
                ],
                "partitionBy": ["event_date"],
                "maintenance": {"schedule": "0 3 * * *", "optimize": True, "vacuum": True},
            },
        ),
        ns,
    )
    jobs = wait_for(lambda: kube.list("batch/v1", "jobs", ns), 20, "the apply Job", describe=operator.tail)
    assert len(jobs) == 1 and owned_by(jobs[0], owner)
    cronjob = controllers.wait_child("batch/v1", "cronjobs", "orders-table-maintain")
    assert cronjob["spec"]["schedule"] == "0 3 * * *" and owned_by(cronjob, owner)
    controllers.wait_condition("DeltaTable", "orders-table", "Ready", "False")

    controllers.job_complete(jobs[0]["metadata"]["name"])
    controllers.wait_condition("DeltaTable", "orders-table", "Ready", "True")

    # Maintenance off: spec.maintenance must be null, which only a replace can store (see below).
    table = controllers.ecap("DeltaTable", "orders-table")
    kube.replace(
        ECAP, "deltatables", "orders-table", {**table, "spec": {**table["spec"], "maintenance": None}}, ns
    )
    controllers.wait_gone("batch/v1", "cronjobs", "orders-table-maintain")
    kube.delete(ECAP, "deltatables", "orders-table", ns)
    wait_for(lambda: kube.list("batch/v1", "jobs", ns) == [], DELETION_TIMEOUT, "the Jobs to be collected")
    assert operator.problems() == []


def test_maintenance_can_be_switched_off_with_a_merge_patch(
    kube: KubeClient, kube_namespace: str, operator: OperatorProcess, controllers: Controllers
) -> None:
    ns = kube_namespace
    kube.create(
        ECAP,
        "deltatables",
        ecap(
            "DeltaTable",
            "t",
            {
                "tableName": "t",
                "columns": [{"name": "id", "type": "string"}],
                "maintenance": {"schedule": "0 3 * * *"},
            },
        ),
        ns,
    )
    controllers.wait_child("batch/v1", "cronjobs", "t-maintain")
    # maintenance.enabled is the switch: a merge patch with maintenance: null brings the default back.
    kube.patch(ECAP, "deltatables", "t", {"spec": {"maintenance": {"enabled": False}}}, ns)
    controllers.wait_gone("batch/v1", "cronjobs", "t-maintain", timeout=5)
