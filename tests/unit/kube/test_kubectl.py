"""kubectl (when installed) can get and apply against the emulator with the fixture's kubeconfig."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.kube.client import KubeClient

KUBECTL = shutil.which("kubectl")


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed on this machine")
def test_kubectl_apply_and_get(
    kube: KubeClient, kubeconfig_path: Path, kube_namespace: str, tmp_path: Path
) -> None:
    assert KUBECTL is not None
    manifest = tmp_path / "cm.yaml"
    manifest.write_text(
        f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c1, namespace: {kube_namespace}}}\n"
        "data: {a: '1'}\n"
    )

    def kubectl(*args: str) -> str:
        # --validate=false: the emulator serves no OpenAPI document for client-side validation.
        done = subprocess.run(
            [KUBECTL, "--kubeconfig", str(kubeconfig_path), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout

    assert "configmap/c1 created" in kubectl("apply", "--validate=false", "-f", str(manifest))
    assert "configmap/c1 unchanged" in kubectl("apply", "--validate=false", "-f", str(manifest))
    assert kube.get("v1", "configmaps", "c1", kube_namespace)["data"] == {"a": "1"}
    assert "c1" in kubectl("get", "configmaps", "-n", kube_namespace, "-o", "name")
