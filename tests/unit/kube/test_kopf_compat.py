"""A real kopf operator (a subprocess) runs its whole lifecycle against the emulator."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kube.client import KubeClient, wait_for
from tests.kube.process import OperatorProcess
from tests.kube.server import EmulatorServer

from .widgets import API_VERSION, PLURAL, widget, widget_crd

OPERATOR = Path(__file__).with_name("tiny_operator.py")


@pytest.fixture
def tiny_operator(
    kube: KubeClient, kube_api: EmulatorServer, kube_namespace: str, kubeconfig_path: Path, tmp_path: Path
) -> Iterator[OperatorProcess]:
    kube.apply(widget_crd())
    command = [
        sys.executable,
        "-m",
        "kopf",
        "run",
        "--standalone",
        "--namespace",
        kube_namespace,
        str(OPERATOR),
    ]
    with OperatorProcess(command, kubeconfig_path, tmp_path / "operator.log") as operator:
        kube_api.wait_for_watch("emulator.test", PLURAL, kube_namespace)
        yield operator


def test_kopf_operator_lifecycle(
    kube: KubeClient, kube_namespace: str, tiny_operator: OperatorProcess
) -> None:
    ns = kube_namespace
    owner = kube.create(API_VERSION, PLURAL, widget("w", size=3), ns)

    def child() -> dict | None:  # type: ignore[type-arg]
        return kube.find("v1", "configmaps", "w-data", ns)

    created = wait_for(child, 15, "the child ConfigMap", describe=tiny_operator.tail)
    assert created["metadata"]["ownerReferences"][0]["uid"] == owner["metadata"]["uid"]
    assert created["metadata"]["labels"] == {"app.kubernetes.io/instance": "w"}
    ready = wait_for(
        lambda: (w := kube.get(API_VERSION, PLURAL, "w", ns)).get("status", {}).get("phase") == "Ready" and w,
        15,
        "status.phase=Ready",
        describe=tiny_operator.tail,
    )
    assert ready["status"]["observedSize"] == 3
    assert ready["metadata"]["finalizers"] == ["kopf.zalando.org/KopfFinalizerMarker"]

    kube.patch(API_VERSION, PLURAL, "w", {"spec": {"size": 7}}, ns)
    wait_for(
        lambda: (c := child()) is not None and c["data"]["size"] == "7", 15, "the child to follow the spec"
    )

    kube.delete("v1", "configmaps", "w-data", ns)
    wait_for(child, 15, "the timer to recreate the deleted child", describe=tiny_operator.tail)

    events = wait_for(
        lambda: kube.list("v1", "events", ns, field_selector="involvedObject.name=w"),
        10,
        "kopf to post an event",
    )
    assert events[0]["reason"] == "Reconciled" and events[0]["metadata"]["name"].startswith("kopf-event-")

    kube.delete(API_VERSION, PLURAL, "w", ns)
    wait_for(
        lambda: kube.find(API_VERSION, PLURAL, "w", ns) is None,
        15,
        "kopf to release the finalizer",
        describe=tiny_operator.tail,
    )
    wait_for(lambda: child() is None, 5, "the child to be garbage-collected")
    assert "widget w released" in tiny_operator.log()
    assert tiny_operator.problems() == []
