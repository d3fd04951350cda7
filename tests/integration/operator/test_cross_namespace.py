"""A KafkaTopic whose Strimzi topic lives in another namespace (finalizer: deleted or released per policy).

In a module of its own: the clusterwide operator shared by test_kafka_topic.py would also handle these
objects (and place their Strimzi topics in their own namespace) while it runs.
"""

from __future__ import annotations

from functools import partial

from tests.kube.client import KubeClient, wait_for

from .conftest import StartOperator
from .controllers import ECAP, STRIMZI, Controllers
from .test_kafka_topic import kafka_topic


def test_cross_namespace_strimzi_topics_follow_the_deletion_policy(
    kube: KubeClient, kube_namespace: str, start_operator: StartOperator, controllers: Controllers
) -> None:
    ns = kube_namespace
    kafka_ns = f"{ns}-kafka"
    kube.create_namespace(kafka_ns)
    try:
        operator = start_operator(ns, {"ECAP_OPERATOR_STRIMZI_NAMESPACE": kafka_ns})
        kube.create(ECAP, "kafkatopics", kafka_topic("kept"), ns)
        kube.create(ECAP, "kafkatopics", kafka_topic("dropped", deletionPolicy="Delete"), ns)
        kept = controllers.wait_child(STRIMZI, "kafkatopics", f"{ns}.kept", namespace=kafka_ns)
        dropped = controllers.wait_child(STRIMZI, "kafkatopics", f"{ns}.dropped", namespace=kafka_ns)
        for child in (kept, dropped):
            assert "ownerReferences" not in child["metadata"]  # cannot own across namespaces
            assert child["metadata"]["annotations"]["ecap.io/owner"].startswith(f"{ns}/")
        controllers.strimzi_topic_ready(f"{ns}.kept", namespace=kafka_ns)
        controllers.wait_condition("KafkaTopic", "kept", "Ready", "True")
        # The garbage collector must not take them: they exist a while after creation.
        assert kube.find(STRIMZI, "kafkatopics", f"{ns}.kept", kafka_ns) is not None

        kube.delete(ECAP, "kafkatopics", "kept", ns)
        kube.delete(ECAP, "kafkatopics", "dropped", ns)
        controllers.wait_gone(ECAP, "kafkatopics", "kept")
        controllers.wait_gone(ECAP, "kafkatopics", "dropped")
        controllers.wait_gone(STRIMZI, "kafkatopics", f"{ns}.dropped", namespace=kafka_ns)
        retained = kube.get(STRIMZI, "kafkatopics", f"{ns}.kept", kafka_ns)
        assert "ecap.io/owner" not in (retained["metadata"].get("annotations") or {})
        assert retained["metadata"]["labels"]["strimzi.io/cluster"] == "test-kafka"
        assert "ecap.io/kind" not in retained["metadata"]["labels"]
        assert operator.problems() == []
    finally:
        kube.delete("v1", "namespaces", kafka_ns)


def test_moving_a_topic_between_two_explicit_cluster_namespaces(
    kube: KubeClient, kube_namespace: str, start_operator: StartOperator, controllers: Controllers
) -> None:
    """The KafkaTopic's status records where its Strimzi topic lives (topicNamespace); moved from one
    explicit clusterNamespace to another, the first topic is released (Retain) or deleted (Delete)."""
    ns = kube_namespace
    first, second = f"{ns}-a", f"{ns}-b"
    for namespace in (first, second):
        kube.create_namespace(namespace)
    try:
        operator = start_operator(ns)
        kube.create(ECAP, "kafkatopics", kafka_topic("kept", clusterNamespace=first), ns)
        kube.create(
            ECAP, "kafkatopics", kafka_topic("dropped", clusterNamespace=first, deletionPolicy="Delete"), ns
        )
        for name in ("kept", "dropped"):
            controllers.wait_child(STRIMZI, "kafkatopics", f"{ns}.{name}", namespace=first)
            controllers.strimzi_topic_ready(f"{ns}.{name}", namespace=first)
            controllers.wait_condition("KafkaTopic", name, "Ready", "True")
            assert controllers.ecap("KafkaTopic", name)["status"]["topicNamespace"] == first

        for name in ("kept", "dropped"):
            kube.patch(ECAP, "kafkatopics", name, {"spec": {"clusterNamespace": second}}, ns)
            moved = controllers.wait_child(STRIMZI, "kafkatopics", f"{ns}.{name}", namespace=second)
            assert moved["metadata"]["annotations"]["ecap.io/owner"] == f"{ns}/{name}"
        controllers.wait_gone(STRIMZI, "kafkatopics", f"{ns}.dropped", namespace=first)
        wait_for(
            lambda: (
                "ecap.io/kind"
                not in kube.get(STRIMZI, "kafkatopics", f"{ns}.kept", first)["metadata"]["labels"]
            ),
            10,
            "the topic left in the first namespace to be released",
        )
        left = kube.get(STRIMZI, "kafkatopics", f"{ns}.kept", first)["metadata"]
        assert "ecap.io/owner" not in (left.get("annotations") or {})
        assert left["labels"]["strimzi.io/cluster"] == "test-kafka"  # Strimzi keeps it and its records

        def placed(name: str) -> bool:
            return bool(controllers.ecap("KafkaTopic", name)["status"].get("topicNamespace") == second)

        for name in ("kept", "dropped"):
            controllers.strimzi_topic_ready(f"{ns}.{name}", namespace=second)
            wait_for(partial(placed, name), 10, f"{name}: the new placement in the status")
        assert operator.problems() == []
    finally:
        for name in ("kept", "dropped"):
            kube.delete(ECAP, "kafkatopics", name, ns)
        for name in ("kept", "dropped"):
            controllers.wait_gone(ECAP, "kafkatopics", name)
        for namespace in (first, second):
            kube.delete("v1", "namespaces", namespace)
