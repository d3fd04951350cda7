"""How the operator connects: kubeconfig read at call time, plain http with no user, clear errors."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from ecap_operator.errors import KubeApiError, KubeConfigError
from ecap_operator.kube import (
    DirectTransport,
    KubeApi,
    ObjectRef,
    collection_path,
    credentials,
    load_configuration,
    object_path,
    tls_context,
)
from tests.kube.client import KubeClient
from tests.kube.server import EmulatorServer


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


def test_direct_transport_against_the_api_emulator(
    kube_api: EmulatorServer, kube: KubeClient, kube_namespace: str
) -> None:
    """The operator's own HTTP transport: every verb it uses, the answers it maps (404, 409), the bearer
    token sent, and a kept-alive connection the server dropped opened again."""
    configuration = client.Configuration()
    configuration.host = kube_api.url
    configuration.api_key = {"authorization": "Bearer t0ken"}
    api = KubeApi(client.ApiClient(configuration))
    assert api._direct is not None  # noqa: SLF001 - the path under test
    ns = kube_namespace
    ref = ObjectRef("v1", "ConfigMap", ns, "settings")
    created, ok = api.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": ref_meta(ref), "data": {"a": "1"}}
    )
    assert ok and created is not None and created["data"] == {"a": "1"}
    assert api.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": ref_meta(ref)}) == (None, False)
    patched = api.patch(ref, {"metadata": {"labels": {"app.kubernetes.io/managed-by": "ecap-operator"}}})
    assert patched is not None and patched["metadata"]["labels"]
    headers = kube_api.call(lambda: dict(kube_api.emulator._requests[-1].headers))  # noqa: SLF001
    assert headers.get("authorization", headers.get("Authorization")) == "Bearer t0ken"
    listed = api.list("v1", "ConfigMap", ns, {"app.kubernetes.io/managed-by": "ecap-operator"})
    assert [item["metadata"]["name"] for item in listed] == ["settings"] and listed[0]["kind"] == "ConfigMap"
    # The server closed the idle connection: the next call opens a new one.
    api._direct._local.connection.sock.close()  # noqa: SLF001
    got = api.get(ref)
    assert got is not None and got["data"] == {"a": "1"}
    assert api.delete(ref) is True
    assert api.get(ref) is None and api.delete(ref) is False
    assert api.patch(ref, {"data": {"a": "2"}}) is None


def test_an_unreachable_server_is_an_api_error() -> None:
    configuration = client.Configuration()
    configuration.host = "http://127.0.0.1:9"  # discard port: nothing listens
    api = KubeApi(client.ApiClient(configuration))
    with pytest.raises(KubeApiError) as raised:
        api.get(ObjectRef("v1", "ConfigMap", "ns", "x"))
    assert raised.value.status == 0 and "no answer" in str(raised.value)


def test_configurations_the_direct_transport_leaves_to_the_official_client() -> None:
    configuration = client.Configuration()
    configuration.host = "https://k8s:6443"
    assert DirectTransport.supports(configuration)
    configuration.proxy = "http://proxy:3128"
    assert not DirectTransport.supports(configuration)
    insecure = client.Configuration()
    insecure.host = "https://k8s:6443"
    insecure.verify_ssl = False
    context = tls_context(credentials(insecure))
    assert context.verify_mode == ssl.CERT_NONE and not context.check_hostname
    assert tls_context(credentials(configuration)).verify_mode == ssl.CERT_REQUIRED


def ref_meta(ref: ObjectRef) -> dict[str, str]:
    return {"name": ref.name, "namespace": ref.namespace}
