"""How the operator connects: kubeconfig read at call time, plain http with no user, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ecap_operator.errors import KubeConfigError
from ecap_operator.kube import ObjectRef, collection_path, credentials, load_configuration, object_path


def write_kubeconfig(path: Path, server: str, user: dict[str, object]) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": user}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    return path


def test_plain_http_kubeconfig_set_after_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(tmp_path / "kc", "http://127.0.0.1:12345", {})))
    found = credentials(load_configuration())
    assert found.server == "http://127.0.0.1:12345"
    assert (found.token, found.username, found.certificate_path) == (None, None, None)


def test_token_is_passed_to_kopf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv(
        "KUBECONFIG", str(write_kubeconfig(tmp_path / "kc", "https://k8s:6443", {"token": "abc"}))
    )
    found = credentials(load_configuration())
    assert (found.scheme, found.token) == ("Bearer", "abc")


def test_missing_kubeconfig_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    with pytest.raises(KubeConfigError, match="set KUBECONFIG"):
        load_configuration()


def test_paths() -> None:
    assert collection_path("v1", "ConfigMap", "ns") == "/api/v1/namespaces/ns/configmaps"
    ref = ObjectRef("kafka.strimzi.io/v1beta2", "KafkaTopic", "kafka", "shop.orders")
    assert object_path(ref) == "/apis/kafka.strimzi.io/v1beta2/namespaces/kafka/kafkatopics/shop.orders"
    with pytest.raises(KeyError, match="does not manage"):
        collection_path("v1", "Secret", "ns")
