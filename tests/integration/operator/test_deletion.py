"""Deletion needs no finalizer where the garbage collector cleans up, and drift is repaired without a kopf
timer per object (one operator-wide resync lists each kind every ``timer_interval`` seconds)."""

from __future__ import annotations

from typing import Any

from tests.kube.client import KubeClient, wait_for
from tests.kube.process import OperatorProcess

from .controllers import ECAP, Controllers

STRIMZI = "kafka.strimzi.io/v1beta2"


def test_drift_is_repaired_and_deletion_waits_for_nothing(
    kube: KubeClient, kube_namespace: str, operator: OperatorProcess, controllers: Controllers
) -> None:
    """A DeltaTable gets no finalizer (its children are owned by reference): a CronJob edited by hand is put
    back by the resync, and deleting the table is immediate, its children garbage-collected."""
    ns = kube_namespace
    kube.create(
        ECAP,
        "deltatables",
        {
            "apiVersion": ECAP,
            "kind": "DeltaTable",
            "metadata": {"name": "t"},
            "spec": {"tableName": "t", "columns": [{"name": "id", "type": "string"}]},
        },
        ns,
    )
    cronjob = controllers.wait_child("batch/v1", "cronjobs", "t-maintain")
    schedule = cronjob["spec"]["schedule"]
    kube.patch("batch/v1", "cronjobs", "t-maintain", {"spec": {"schedule": "1 2 3 4 5"}}, ns)
    wait_for(
        lambda: kube.get("batch/v1", "cronjobs", "t-maintain", ns)["spec"]["schedule"] == schedule,
        20,
        "the resync to put the CronJob's schedule back",
        describe=lambda: operator.tail(1500),
    )
    assert not kube.get(ECAP, "deltatables", "t", ns)["metadata"].get("finalizers")

    kube.delete(ECAP, "deltatables", "t", ns)
    assert kube.find(ECAP, "deltatables", "t", ns) is None
    controllers.wait_gone("batch/v1", "cronjobs", "t-maintain", timeout=10)
    assert operator.problems() == []


def test_kafka_topics_in_their_own_namespace_need_no_finalizer(
    kube: KubeClient, kube_namespace: str, operator: OperatorProcess, controllers: Controllers
) -> None:
    """deletionPolicy Delete: the Strimzi topic is owned by reference and goes with its owner (garbage
    collector). Retain: it is only claimed, so it stays, and the operator drops the claim once the owner is
    gone. Neither waits for the operator when deleted (no finalizer)."""
    ns = kube_namespace
    for name, policy in (("dropped", "Delete"), ("kept", "Retain")):
        spec = {"partitions": 1, "replicas": 1, "deletionPolicy": policy}
        kube.create(
            ECAP,
            "kafkatopics",
            {"apiVersion": ECAP, "kind": "KafkaTopic", "metadata": {"name": name}, "spec": spec},
            ns,
        )
        controllers.wait_child(STRIMZI, "kafkatopics", name)
        controllers.strimzi_topic_ready(name)
        controllers.wait_condition("KafkaTopic", name, "Ready", "True")
        assert not kube.get(ECAP, "kafkatopics", name, ns)["metadata"].get("finalizers")
    kept = kube.get(STRIMZI, "kafkatopics", "kept", ns)
    assert "ownerReferences" not in kept["metadata"]
    assert kept["metadata"]["annotations"]["ecap.io/owner"] == f"{ns}/kept"

    for name in ("dropped", "kept"):
        kube.delete(ECAP, "kafkatopics", name, ns)
        assert kube.find(ECAP, "kafkatopics", name, ns) is None
    controllers.wait_gone(STRIMZI, "kafkatopics", "dropped", timeout=10)

    def released_topic() -> dict[str, Any] | None:
        topic = kube.get(STRIMZI, "kafkatopics", "kept", ns)
        return topic if "ecap.io/kind" not in topic["metadata"]["labels"] else None

    released = wait_for(
        released_topic,
        10,
        "the retained Strimzi topic to be released",
        describe=lambda: operator.tail(1500),
    )
    assert "ecap.io/owner" not in (released["metadata"].get("annotations") or {})
    assert released["metadata"]["labels"]["strimzi.io/cluster"] == "test-kafka"
    assert operator.problems() == []
