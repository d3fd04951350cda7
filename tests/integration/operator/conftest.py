"""The real ECAP operator (a kopf subprocess) against the Kubernetes API emulator, one per test namespace.

The ECAP CRDs come from crds/ and the upstream ones (Strimzi, Spark Operator) from ../shared/upstream-crds,
so every child the operator writes is defaulted, pruned and validated as a real API server would.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Final

import pytest

from tests.kube.client import KubeClient
from tests.kube.process import OperatorProcess
from tests.kube.server import EmulatorServer

from .controllers import ECAP_PLURALS, Controllers

ROOT: Final = Path(__file__).resolve().parents[3]
UPSTREAM_CRDS: Final = ROOT.parent / "shared" / "upstream-crds"
UPSTREAM_FILES: Final = (
    "kafka.strimzi.io_kafkatopics.yaml",
    "sparkoperator.k8s.io_sparkapplications.yaml",
    "sparkoperator.k8s.io_scheduledsparkapplications.yaml",
)
FAST_SETTINGS: Final = {
    # Drift repair and status refresh every half second, so tests see children repaired quickly.
    "ECAP_OPERATOR_TIMER_INTERVAL": "0.5",
    "ECAP_OPERATOR_TIMER_INITIAL_DELAY": "0",
    "ECAP_OPERATOR_RETRY_DELAY": "1",
    "ECAP_OPERATOR_STRIMZI_CLUSTER": "test-kafka",
}


def operator_command(namespace: str | None) -> list[str]:
    """The operator as users start it (one namespace, or all for None), with kopf's verbose log."""
    scope = ["--namespace", namespace] if namespace else ["--all-namespaces"]
    return [sys.executable, "-m", "ecap.cli", "-v", "operator", "run", "--standalone", *scope]


@pytest.fixture(scope="session")
def ecap_crds(kube: KubeClient) -> list[str]:
    """ECAP's generated CRDs and the upstream ones, registered through the API once per session."""
    missing = [name for name in UPSTREAM_FILES if not (UPSTREAM_CRDS / name).exists()]
    if missing:
        pytest.skip(
            f"upstream CRDs not found in {UPSTREAM_CRDS} ({', '.join(missing)}): children "
            "could not be validated; CI always has ../shared/upstream-crds"
        )
    ours = sorted((ROOT / "crds").glob("*.yaml"))
    assert len(ours) == len(ECAP_PLURALS), f"expected one CRD per kind in crds/, found {ours}"
    return kube.register_crds([*ours, *(UPSTREAM_CRDS / name for name in UPSTREAM_FILES)])


StartOperator = Callable[..., OperatorProcess]


@pytest.fixture
def start_operator(
    kube_api: EmulatorServer, kubeconfig_path: Path, ecap_crds: list[str], tmp_path: Path
) -> Iterator[StartOperator]:
    """Start the operator for a namespace (with extra ECAP_OPERATOR_* settings); stopped after the test."""
    started: list[OperatorProcess] = []

    def start(namespace: str, settings: Mapping[str, str] | None = None) -> OperatorProcess:
        log = tmp_path / f"operator-{len(started)}.log"
        process = OperatorProcess(
            operator_command(namespace),
            kubeconfig_path,
            log,
            env={**FAST_SETTINGS, **(settings or {})},
            cwd=ROOT,
        )
        started.append(process.start())
        for plural in ECAP_PLURALS.values():
            kube_api.wait_for_watch("ecap.io", plural, namespace, timeout=30)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture(scope="module")
def shared_operator(
    kube_api: EmulatorServer,
    kubeconfig_path: Path,
    ecap_crds: list[str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[OperatorProcess]:
    """One operator for a test module, watching every namespace (starting one costs seconds)."""
    log = tmp_path_factory.mktemp("operator") / "operator.log"
    process = OperatorProcess(operator_command(None), kubeconfig_path, log, env=FAST_SETTINGS, cwd=ROOT)
    process.start()
    try:
        for plural in ECAP_PLURALS.values():
            kube_api.wait_for_watch("ecap.io", plural, None, timeout=60)
        yield process
    finally:
        process.stop()


@pytest.fixture
def operator(
    shared_operator: OperatorProcess, kube_api: EmulatorServer, kube_namespace: str
) -> Iterator[OperatorProcess]:
    """The module's operator, its problem check starting at this test (each test has its namespace).

    Afterwards, no field the operator wrote may have been pruned: a real API server drops fields a
    CRD schema (ours, Strimzi's, the Spark Operator's) does not declare, silently.
    """
    assert shared_operator.running, f"the operator exited:\n{shared_operator.tail()}"
    shared_operator.mark()
    yield shared_operator
    pruned = kube_api.call(
        lambda: [p for p in kube_api.emulator.store.pruned if p.namespace == kube_namespace]
    )
    assert pruned == [], f"fields a real API server would drop: {pruned}"


@pytest.fixture
def controllers(kube: KubeClient, kube_namespace: str) -> Controllers:
    return Controllers(kube, kube_namespace)
