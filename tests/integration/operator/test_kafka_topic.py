"""KafkaTopic: the operator keeps a Strimzi KafkaTopic in step with it (tests play Strimzi)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.kube.client import KubeApiError, KubeClient, wait_for
from tests.kube.process import OperatorProcess

from .controllers import ECAP, STRIMZI, Controllers, condition


def kafka_topic(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": ECAP,
        "kind": "KafkaTopic",
        "metadata": {"name": name},
        "spec": {"partitions": 3, "replicas": 1, **spec},
    }


def test_invalid_kafka_topic_is_refused_by_the_api(
    kube: KubeClient, kube_namespace: str, ecap_crds: list[str]
) -> None:
    with pytest.raises(KubeApiError) as refused:
        kube.create(ECAP, "kafkatopics", kafka_topic("bad", partitions=0), kube_namespace)
    assert refused.value.code == 422
    assert [cause["field"] for cause in refused.value.causes] == ["spec.partitions"]
    with pytest.raises(KubeApiError) as bad_policy:
        kube.create(ECAP, "kafkatopics", kafka_topic("bad", cleanupPolicy="sometimes"), kube_namespace)
    assert bad_policy.value.causes[0]["field"] == "spec.cleanupPolicy"
    assert kube.list(ECAP, "kafkatopics", kube_namespace) == []


def test_topic_lifecycle_create_ready_edit_repair_delete(
    kube: KubeClient, kube_namespace: str, operator: OperatorProcess, controllers: Controllers
) -> None:
    ns = kube_namespace
    owner = kube.create(
        ECAP, "kafkatopics", kafka_topic("orders", retentionMs=3_600_000, deletionPolicy="Delete"), ns
    )

    child = controllers.wait_child(STRIMZI, "kafkatopics", "orders")
    assert child["metadata"]["ownerReferences"] == [
        {
            "apiVersion": ECAP,
            "kind": "KafkaTopic",
            "name": "orders",
            "uid": owner["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    labels = child["metadata"]["labels"]
    assert labels["strimzi.io/cluster"] == "test-kafka"
    assert labels["app.kubernetes.io/managed-by"] == "ecap-operator"
    assert labels["ecap.io/kind"] == "KafkaTopic" and labels["ecap.io/name"] == "orders"
    assert child["spec"]["partitions"] == 3 and child["spec"]["topicName"] == "orders"
    assert child["spec"]["config"]["retention.ms"] == "3600000"
    controllers.wait_condition("KafkaTopic", "orders", "Ready", "False", reason="WaitingForChild")

    controllers.strimzi_topic_ready("orders")
    controllers.wait_condition("KafkaTopic", "orders", "Ready", "True")
    status = controllers.ecap("KafkaTopic", "orders")["status"]
    assert status["phase"] == "Ready" and status["topicName"] == "orders"
    assert status["observedGeneration"] == 1

    kube.patch(ECAP, "kafkatopics", "orders", {"spec": {"partitions": 6, "retentionMs": 7_200_000}}, ns)
    wait_for(
        lambda: kube.get(STRIMZI, "kafkatopics", "orders", ns)["spec"]["partitions"] == 6,
        20,
        "the spec edit to reach the Strimzi topic",
        describe=operator.tail,
    )
    assert kube.get(STRIMZI, "kafkatopics", "orders", ns)["spec"]["config"]["retention.ms"] == "7200000"

    kube.delete(STRIMZI, "kafkatopics", "orders", ns)
    recreated = controllers.wait_child(STRIMZI, "kafkatopics", "orders")
    assert recreated["metadata"]["uid"] != child["metadata"]["uid"] and recreated["spec"]["partitions"] == 6

    kube.delete(ECAP, "kafkatopics", "orders", ns)
    controllers.wait_gone(ECAP, "kafkatopics", "orders")
    controllers.wait_gone(STRIMZI, "kafkatopics", "orders")
    assert operator.problems() == []


def test_partition_decrease_and_strimzi_failure_become_conditions(
    kube: KubeClient, kube_namespace: str, operator: OperatorProcess, controllers: Controllers
) -> None:
    ns = kube_namespace
    kube.create(ECAP, "kafkatopics", kafka_topic("clicks", partitions=4), ns)
    controllers.wait_child(STRIMZI, "kafkatopics", "clicks")
    controllers.strimzi_topic_ready("clicks")
    controllers.wait_condition("KafkaTopic", "clicks", "Ready", "True")

    kube.patch(ECAP, "kafkatopics", "clicks", {"spec": {"partitions": 2}}, ns)
    degraded = controllers.wait_condition(
        "KafkaTopic", "clicks", "Degraded", "True", reason="PartitionDecreaseRefused"
    )
    assert "spec.partitions" in degraded["message"] and "4" in degraded["message"]
    assert kube.get(STRIMZI, "kafkatopics", "clicks", ns)["spec"]["partitions"] == 4
    assert controllers.ecap("KafkaTopic", "clicks")["status"]["phase"] == "Degraded"

    kube.patch(ECAP, "kafkatopics", "clicks", {"spec": {"partitions": 4}}, ns)
    controllers.wait_condition("KafkaTopic", "clicks", "Ready", "True")
    controllers.strimzi_topic_failed("clicks", "KafkaError", "Replication factor: 3 larger than brokers: 1")
    ready = controllers.wait_condition("KafkaTopic", "clicks", "Ready", "False", reason="ChildFailed")
    assert "Replication factor" in ready["message"]
    assert condition(controllers.ecap("KafkaTopic", "clicks"), "Degraded")["status"] == "True"  # type: ignore[index]
    assert operator.problems() == []
