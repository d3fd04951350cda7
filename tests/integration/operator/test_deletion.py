"""Deletion needs no finalizer where the garbage collector cleans up, and drift is repaired without a kopf
timer per object (one operator-wide resync lists each kind every ``timer_interval`` seconds)."""

from __future__ import annotations

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


def test_only_kafka_topics_the_collector_cannot_clean_up_get_a_finalizer(
    kube: KubeClient, kube_namespace: str, operator: OperatorProcess, controllers: Controllers
) -> None:
    """deletionPolicy Delete in the same namespace: the owner reference suffices. Retain: a finalizer, so
    the Strimzi topic is released before the collector could take it; switching the policy moves it."""
    ns = kube_namespace
    for name, policy in (("dropped", "Delete"), ("kept", "Retain")):
        topic = {"partitions": 1, "replicas": 1, "deletionPolicy": policy}
        kube.create(
            ECAP,
            "kafkatopics",
            {"apiVersion": ECAP, "kind": "KafkaTopic", "metadata": {"name": name}, "spec": topic},
            ns,
        )
        controllers.wait_child(STRIMZI, "kafkatopics", name)
    wait_for(
        lambda: bool(kube.get(ECAP, "kafkatopics", "kept", ns)["metadata"].get("finalizers")),
        10,
        "the Retain topic's finalizer",
    )
    assert not kube.get(ECAP, "kafkatopics", "dropped", ns)["metadata"].get("finalizers")

    kube.delete(ECAP, "kafkatopics", "dropped", ns)
    assert kube.find(ECAP, "kafkatopics", "dropped", ns) is None
    controllers.wait_gone(STRIMZI, "kafkatopics", "dropped", timeout=10)

    kube.delete(ECAP, "kafkatopics", "kept", ns)
    controllers.wait_gone(ECAP, "kafkatopics", "kept")
    retained = kube.get(STRIMZI, "kafkatopics", "kept", ns)
    assert not retained["metadata"].get("ownerReferences")
    assert "ecap.io/kind" not in retained["metadata"]["labels"]
    assert operator.problems() == []
