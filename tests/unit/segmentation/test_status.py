"""Status reporting to the SegmentationRun CR, through the real Kubernetes client against the API emulator.

The emulator stands in for the one thing that cannot run here, a real kube-apiserver.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
from pathlib import Path

import pytest

from ecap.segmentation.runner import SegmentationResult, SegmentSummary, failure_status
from ecap.status import report_status, reports_to
from tests.kube.client import KubeClient

API = "ecap.io/v1alpha1"


def _result() -> SegmentationResult:
    return SegmentationResult(
        run_id="nightly-20261130",
        name="nightly",
        as_of=dt.date(2026, 11, 30),
        output_path="/lake/customer_segments",
        customers=3,
        segments={"Champions": 1, "Lost": 2},
        summary=[
            SegmentSummary("Champions", 1, 1 / 3, 0.9, 120.0),
            SegmentSummary("Lost", 2, 2 / 3, 0.1, 1.5),
        ],
        mean_clv=41.0,
        completed_at=dt.datetime(2026, 11, 30, 4, 0, 5, tzinfo=dt.UTC),
        report_path="/lake/reports/nightly-20261130/index.html",
    )


@pytest.fixture
def run_cr(kube: KubeClient, kube_namespace: str, segmentation_crd: str) -> str:
    kube.create(
        API,
        segmentation_crd,
        {"apiVersion": API, "kind": "SegmentationRun", "metadata": {"name": "nightly"}, "spec": {}},
        kube_namespace,
    )
    return "nightly"


@pytest.fixture
def cr_env(monkeypatch: pytest.MonkeyPatch, kubeconfig_path: Path, kube_namespace: str) -> dict[str, str]:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig_path))
    return {
        "ECAP_RESOURCE_KIND": "SegmentationRun",
        "ECAP_RESOURCE_NAMESPACE": kube_namespace,
        "ECAP_RESOURCE_NAME": "nightly",
    }


def test_success_status_lands_on_the_cr(
    kube: KubeClient, kube_namespace: str, run_cr: str, cr_env: dict[str, str], segmentation_crd: str
) -> None:
    assert report_status(_result().status(), env=cr_env)
    status = kube.get(API, segmentation_crd, run_cr, kube_namespace)["status"]
    assert status["phase"] == "Succeeded"
    assert status["runId"] == "nightly-20261130" and status["asOf"] == "2026-11-30"
    assert status["customers"] == 3 and status["segments"] == {"Champions": 1, "Lost": 2}
    assert status["meanClv"] == 41.0 and status["completedAt"] == "2026-11-30T04:00:05.000Z"
    assert status["report"].endswith("index.html")
    (ready,) = status["conditions"]
    assert (ready["type"], ready["status"], ready["reason"]) == ("Ready", "True", "RunSucceeded")


def test_failure_status_says_why(
    kube: KubeClient, kube_namespace: str, run_cr: str, cr_env: dict[str, str], segmentation_crd: str
) -> None:
    assert report_status(failure_status("no transactions table at /lake/transactions"), env=cr_env)
    status = kube.get(API, segmentation_crd, run_cr, kube_namespace)["status"]
    assert status["phase"] == "Failed"
    (ready,) = status["conditions"]
    assert ready["status"] == "False" and "no transactions table" in ready["message"]


def test_no_environment_is_a_logged_no_op(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="ecap.status"):
        assert not report_status({"phase": "Succeeded"}, env={})
    assert "status not reported (local run)" in caplog.text
    assert reports_to("SegmentationRun", "anything", env={})


def test_only_the_named_resource_is_reported() -> None:
    env = {"ECAP_RESOURCE_KIND": "SegmentationRun", "ECAP_RESOURCE_NAME": "nightly"}
    assert reports_to("SegmentationRun", "nightly", env=env)
    assert not reports_to("SegmentationRun", "weekly", env=env)


def test_missing_cr_is_logged_not_raised(cr_env: dict[str, str], caplog: pytest.LogCaptureFixture) -> None:
    env = {**cr_env, "ECAP_RESOURCE_NAME": "does-not-exist"}
    with caplog.at_level(logging.ERROR, logger="ecap.status"):
        assert not report_status({"phase": "Succeeded"}, env=env)
    assert "API answered 404" in caplog.text


def test_unreachable_api_is_logged_not_raised(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        f"""apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "http://127.0.0.1:{port}"}}}}]
contexts: [{{name: c, context: {{cluster: c, user: u}}}}]
users: [{{name: u, user: {{}}}}]
current-context: c
"""
    )
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    env = {"ECAP_RESOURCE_KIND": "SegmentationRun", "ECAP_RESOURCE_NAMESPACE": "x", "ECAP_RESOURCE_NAME": "y"}
    with caplog.at_level(logging.ERROR, logger="ecap.status"):
        assert not report_status({"phase": "Succeeded"}, env=env)
    assert "cannot reach the Kubernetes API" in caplog.text


def test_unknown_kind_is_refused(caplog: pytest.LogCaptureFixture) -> None:
    env = {"ECAP_RESOURCE_KIND": "Widget", "ECAP_RESOURCE_NAME": "w"}
    with caplog.at_level(logging.ERROR, logger="ecap.status"):
        assert not report_status({"phase": "Succeeded"}, env=env)
    assert "not an ECAP kind" in caplog.text
