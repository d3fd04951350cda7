"""A child's change shows on its owner at once, not at the next timer run (timers are an hour away here),
and the operator starts and works when only some child CRDs exist (no Spark Operator installed)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Final

from tests.kube.client import KubeClient, wait_for
from tests.kube.process import OperatorProcess
from tests.kube.server import EmulatorServer

from .conftest import FAST_SETTINGS, ROOT, UPSTREAM_CRDS, StartOperator, operator_command
from .controllers import ECAP, ECAP_PLURALS, SPARK, STRIMZI, Controllers, condition

NO_TIMER: Final = {"ECAP_OPERATOR_TIMER_INTERVAL": "3600", "ECAP_OPERATOR_TIMER_INITIAL_DELAY": "3600"}
"""Only the change handlers and the child events can write status within a test's time."""
PROMPT: Final = 10.0
"""Seconds a child's change may take to reach its owner on a loaded machine (a timer would take an hour)."""


def ecap(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": ECAP, "kind": kind, "metadata": {"name": name}, "spec": spec}


def test_owners_follow_their_children_without_the_timer(
    kube: KubeClient, kube_namespace: str, start_operator: StartOperator
) -> None:
    ns = kube_namespace
    controllers = Controllers(kube, ns)
    operator = start_operator(ns, NO_TIMER)
    kube.create(ECAP, "kafkatopics", ecap("KafkaTopic", "tx", {"partitions": 2}), ns)
    controllers.wait_child(STRIMZI, "kafkatopics", "tx")
    controllers.wait_condition("KafkaTopic", "tx", "Ready", "False")  # the change handler's status
    controllers.strimzi_topic_ready("tx")
    controllers.wait_condition("KafkaTopic", "tx", "Ready", "True", timeout=PROMPT)
    controllers.strimzi_topic_failed("tx", "KafkaError", "broker unreachable")
    failed = controllers.wait_condition("KafkaTopic", "tx", "Ready", "False", timeout=PROMPT)
    assert "broker unreachable" in failed["message"]

    controllers.strimzi_topic_ready("tx")
    kube.create(
        ECAP,
        "streamingpipelines",
        ecap("StreamingPipeline", "flow", {"sources": {"transactions": "tx"}, "lake": "/lake"}),
        ns,
    )
    controllers.wait_child(SPARK, "sparkapplications", "flow")
    controllers.spark_state("flow", "RUNNING")
    controllers.wait_condition("StreamingPipeline", "flow", "Ready", "True", timeout=PROMPT)
    assert controllers.ecap("StreamingPipeline", "flow")["status"]["applicationState"] == "RUNNING"

    kube.create(ECAP, "dataproducers", ecap("DataProducer", "shop", {"topics": {"transactions": "tx"}}), ns)
    deployment = controllers.wait_child("apps/v1", "deployments", "shop-producer")
    controllers.deployment_available(deployment["metadata"]["name"], 1)
    controllers.wait_condition("DataProducer", "shop", "Ready", "True", timeout=PROMPT)
    assert controllers.ecap("DataProducer", "shop")["status"]["availableReplicas"] == 1
    assert operator.problems() == []


def test_changes_are_handled_without_the_timer(
    kube: KubeClient, kube_namespace: str, start_operator: StartOperator
) -> None:
    """kopf tells creations, edits and status changes apart from status.observedGeneration (and its
    annotation for labels): a missing topic is retried by kopf, edits of the spec and of the labels reach
    the children at once, and a plain object gets no kopf bookkeeping written."""
    ns = kube_namespace
    controllers = Controllers(kube, ns)
    operator = start_operator(ns, NO_TIMER)
    producer = ecap("DataProducer", "early", {"topics": {"transactions": "later"}})
    kube.create(ECAP, "dataproducers", producer, ns)
    waiting = controllers.wait_condition("DataProducer", "early", "Ready", "False", reason="TopicNotFound")
    assert "later" in waiting["message"]
    # Still being worked on: the generation is not observed, so kopf retries (ECAP_OPERATOR_RETRY_DELAY).
    assert "observedGeneration" not in controllers.ecap("DataProducer", "early")["status"]

    kube.create(ECAP, "kafkatopics", ecap("KafkaTopic", "later", {"partitions": 2}), ns)
    controllers.wait_child(STRIMZI, "kafkatopics", "later")
    controllers.strimzi_topic_ready("later")
    controllers.wait_condition("KafkaTopic", "later", "Ready", "True", timeout=PROMPT)
    topic = controllers.ecap("KafkaTopic", "later")
    assert topic["status"]["observedGeneration"] == topic["metadata"]["generation"]
    assert not [key for key in topic["metadata"].get("annotations") or {} if key.startswith("kopf.")]
    deployment = controllers.wait_child("apps/v1", "deployments", "early-producer", timeout=PROMPT)
    assert deployment["spec"]["replicas"] == 1

    kube.patch(ECAP, "dataproducers", "early", {"spec": {"replicas": 2}}, ns)
    wait_for(
        lambda: kube.get("apps/v1", "deployments", "early-producer", ns)["spec"]["replicas"] == 2,
        PROMPT,
        "the spec edit on the Deployment",
    )
    kube.patch(ECAP, "dataproducers", "early", {"metadata": {"labels": {"team": "checkout"}}}, ns)
    wait_for(
        lambda: (
            kube.get("apps/v1", "deployments", "early-producer", ns)["metadata"]["labels"].get("team")
            == "checkout"
        ),
        PROMPT,
        "the label edit on the Deployment",
    )
    edited = controllers.ecap("DataProducer", "early")
    assert edited["status"]["observedGeneration"] == edited["metadata"]["generation"] == 2

    # Children deleted by hand come back at once, from their watch events.
    first_uid = kube.get("apps/v1", "deployments", "early-producer", ns)["metadata"]["uid"]
    kube.delete("apps/v1", "deployments", "early-producer", ns)
    wait_for(
        lambda: (
            (kube.find("apps/v1", "deployments", "early-producer", ns) or {}).get("metadata", {}).get("uid")
            not in (None, first_uid)
        ),
        PROMPT,
        "the Deployment deleted by hand to be created again",
    )
    strimzi_uid = kube.get(STRIMZI, "kafkatopics", "later", ns)["metadata"]["uid"]
    kube.delete(STRIMZI, "kafkatopics", "later", ns)
    wait_for(
        lambda: (
            (kube.find(STRIMZI, "kafkatopics", "later", ns) or {}).get("metadata", {}).get("uid")
            not in (None, strimzi_uid)
        ),
        PROMPT,
        "the Strimzi topic deleted by hand to be created again",
    )
    assert operator.problems() == []


def test_operator_runs_without_the_spark_operator_crds(tmp_path: Path) -> None:
    """Strimzi installed, the Spark Operator not: the child watch warns about the kinds it cannot watch
    (and keeps trying, for when they get installed); the rest works."""
    ns = f"t-{uuid.uuid4().hex[:10]}"
    with EmulatorServer() as server:
        kube = KubeClient(server.url)
        kube.register_crds(
            [*sorted((ROOT / "crds").glob("*.yaml")), UPSTREAM_CRDS / "kafka.strimzi.io_kafkatopics.yaml"]
        )
        kube.create_namespace(ns)
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        env = {**FAST_SETTINGS, **NO_TIMER}
        with OperatorProcess(
            operator_command(ns), kubeconfig, tmp_path / "operator.log", env, ROOT
        ) as operator:
            for plural in ECAP_PLURALS.values():
                server.wait_for_watch("ecap.io", plural, ns, timeout=60)
            server.wait_for_watch("kafka.strimzi.io", "kafkatopics", ns, timeout=30)
            operator.wait_for_log(
                r"WARNING.*sparkapplications\.sparkoperator\.k8s\.io in \S+: not watched.*404", timeout=10
            )
            controllers = Controllers(kube, ns)
            kube.create(ECAP, "kafkatopics", ecap("KafkaTopic", "tx", {"partitions": 1}), ns)
            controllers.wait_child(STRIMZI, "kafkatopics", "tx")
            controllers.strimzi_topic_ready("tx")
            controllers.wait_condition("KafkaTopic", "tx", "Ready", "True", timeout=PROMPT)
            # A pipeline cannot create its SparkApplication: a condition, not a crash.
            kube.create(
                ECAP,
                "streamingpipelines",
                ecap("StreamingPipeline", "flow", {"sources": {"transactions": "tx"}, "lake": "/lake"}),
                ns,
            )
            wait_for(
                lambda: condition(controllers.ecap("StreamingPipeline", "flow"), "Ready"),
                PROMPT,
                "the pipeline's Ready condition",
                describe=operator.tail,
            )
            assert operator.running
            assert controllers.ecap("StreamingPipeline", "flow")["status"]["phase"] != "Ready"
