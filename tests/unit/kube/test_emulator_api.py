"""The emulator behaves like an API server where kopf and our tests depend on it (over real HTTP)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.kube.client import KubeApiError, KubeClient, wait_for
from tests.kube.server import EmulatorServer

from .widgets import API_VERSION, PLURAL, widget, widget_crd


@pytest.fixture(scope="module")
def widgets(kube: KubeClient) -> str:
    kube.apply(widget_crd())
    wait_for(
        lambda: any(r["name"] == PLURAL for r in kube.request("GET", f"/apis/{API_VERSION}")["resources"]),
        5,
        "widgets served",
    )
    return PLURAL


def _configmap(name: str, **data: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "data": data}


def test_create_answers_201_with_server_fields_and_409_on_duplicate(
    kube: KubeClient, kube_namespace: str
) -> None:
    created = kube.create("v1", "configmaps", _configmap("c1", a="1"), kube_namespace)
    meta = created["metadata"]
    assert meta["uid"] and meta["creationTimestamp"].endswith("Z")
    assert int(meta["resourceVersion"]) > 0 and meta["generation"] == 1
    with pytest.raises(KubeApiError) as duplicate:
        kube.create("v1", "configmaps", _configmap("c1"), kube_namespace)
    assert duplicate.value.code == 409 and duplicate.value.reason == "AlreadyExists"


def test_missing_objects_and_namespaces_are_404(kube: KubeClient, kube_namespace: str) -> None:
    with pytest.raises(KubeApiError) as missing:
        kube.get("v1", "configmaps", "nope", kube_namespace)
    assert missing.value.code == 404 and missing.value.reason == "NotFound"
    with pytest.raises(KubeApiError) as no_namespace:
        kube.create("v1", "configmaps", _configmap("c"), "no-such-namespace")
    assert no_namespace.value.code == 404
    with pytest.raises(KubeApiError) as unknown:
        kube.list("example.org/v1", "things", kube_namespace)
    assert unknown.value.code == 404


def test_resource_version_is_monotonic_and_stale_writes_conflict(
    kube: KubeClient, kube_namespace: str
) -> None:
    first = kube.create("v1", "configmaps", _configmap("c", a="1"), kube_namespace)
    second = kube.patch("v1", "configmaps", "c", {"data": {"a": "2"}}, kube_namespace)
    assert int(second["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
    unchanged = kube.patch("v1", "configmaps", "c", {"data": {"a": "2"}}, kube_namespace)
    assert unchanged["metadata"]["resourceVersion"] == second["metadata"]["resourceVersion"]
    stale = {**first, "data": {"a": "3"}}
    with pytest.raises(KubeApiError) as conflict:
        kube.replace("v1", "configmaps", "c", stale, kube_namespace)
    assert conflict.value.code == 409 and conflict.value.reason == "Conflict"
    with pytest.raises(KubeApiError) as failed_test:  # kopf's optimistic JSON patch
        kube.json_patch(
            "v1",
            "configmaps",
            "c",
            [
                {
                    "op": "test",
                    "path": "/metadata/resourceVersion",
                    "value": first["metadata"]["resourceVersion"],
                },
                {"op": "replace", "path": "/data/a", "value": "4"},
            ],
            kube_namespace,
        )
    assert failed_test.value.code == 422
    assert kube.get("v1", "configmaps", "c", kube_namespace)["data"] == {"a": "2"}


def test_merge_patch_removes_nulls_and_json_patch_applies(kube: KubeClient, kube_namespace: str) -> None:
    kube.create("v1", "configmaps", _configmap("c", a="1", b="2"), kube_namespace)
    patched = kube.patch("v1", "configmaps", "c", {"data": {"a": None, "c": "3"}}, kube_namespace)
    assert patched["data"] == {"b": "2", "c": "3"}
    patched = kube.json_patch(
        "v1", "configmaps", "c", [{"op": "add", "path": "/data/d", "value": "4"}], kube_namespace
    )
    assert patched["data"] == {"b": "2", "c": "3", "d": "4"}


def test_invalid_custom_object_is_422_naming_the_field(
    kube: KubeClient, kube_namespace: str, widgets: str
) -> None:
    with pytest.raises(KubeApiError) as too_small:
        kube.create(API_VERSION, widgets, widget("w", size=0), kube_namespace)
    assert too_small.value.code == 422 and too_small.value.reason == "Invalid"
    assert [cause["field"] for cause in too_small.value.causes] == ["spec.size"]
    assert "spec.size" in too_small.value.status["message"]
    with pytest.raises(KubeApiError) as missing:
        kube.create(
            API_VERSION,
            widgets,
            {"apiVersion": API_VERSION, "kind": "Widget", "metadata": {"name": "w"}, "spec": {}},
            kube_namespace,
        )
    assert [cause["field"] for cause in missing.value.causes] == ["spec.size"]
    with pytest.raises(KubeApiError) as bad_enum:
        kube.create(API_VERSION, widgets, widget("w", colour="green"), kube_namespace)
    assert bad_enum.value.causes[0]["field"] == "spec.colour"
    kube.create(API_VERSION, widgets, widget("w"), kube_namespace)
    with pytest.raises(KubeApiError) as bad_patch:
        kube.patch(API_VERSION, widgets, "w", {"spec": {"size": 1000}}, kube_namespace)
    assert bad_patch.value.code == 422
    assert kube.get(API_VERSION, widgets, "w", kube_namespace)["spec"]["size"] == 3


def test_schema_extensions_defaults_and_pruning(
    kube: KubeClient, kube_api: EmulatorServer, kube_namespace: str, widgets: str
) -> None:
    body = widget("w", note=None, port="http", extra={"any": {"thing": 1}}, labels={"a": "b"}, bogus=True)
    created = kube.create(API_VERSION, widgets, body, kube_namespace)
    spec = created["spec"]
    assert spec["colour"] == "red"  # schema default applied
    assert spec["port"] == "http" and spec["extra"] == {"any": {"thing": 1}} and spec["note"] is None
    assert "bogus" not in spec  # pruned like a real server...
    pruned = kube_api.call(
        lambda: [p for p in kube_api.emulator.store.pruned if p.namespace == kube_namespace]
    )
    assert [(p.kind, p.path) for p in pruned] == [("Widget", "spec.bogus")]  # ...and recorded
    kube.patch(API_VERSION, widgets, "w", {"spec": {"port": 8080}}, kube_namespace)
    with pytest.raises(KubeApiError) as strict:
        kube.create(
            API_VERSION, widgets, widget("w2", bogus=1), kube_namespace, params={"fieldValidation": "Strict"}
        )
    assert strict.value.causes[0]["field"] == "spec.bogus"


def test_generation_counts_spec_changes_and_status_needs_the_subresource(
    kube: KubeClient, kube_namespace: str, widgets: str
) -> None:
    created = kube.create(API_VERSION, widgets, {**widget("w"), "status": {"phase": "Bogus"}}, kube_namespace)
    assert created["metadata"]["generation"] == 1 and "status" not in created
    labelled = kube.patch(API_VERSION, widgets, "w", {"metadata": {"labels": {"x": "y"}}}, kube_namespace)
    assert labelled["metadata"]["generation"] == 1
    ignored = kube.patch(API_VERSION, widgets, "w", {"status": {"phase": "Main"}}, kube_namespace)
    assert "status" not in ignored
    with_status = kube.patch_status(API_VERSION, widgets, "w", {"phase": "Ready"}, kube_namespace)
    assert with_status["status"] == {"phase": "Ready"} and with_status["metadata"]["generation"] == 1
    status_only = kube.patch(
        API_VERSION,
        widgets,
        "w",
        {"spec": {"size": 9}, "status": {"phase": "X"}},
        kube_namespace,
        subresource="status",
    )
    assert status_only["spec"]["size"] == 3 and status_only["status"]["phase"] == "X"
    edited = kube.patch(API_VERSION, widgets, "w", {"spec": {"size": 5}}, kube_namespace)
    assert edited["metadata"]["generation"] == 2 and edited["status"]["phase"] == "X"


def test_label_and_field_selectors(kube: KubeClient, kube_namespace: str) -> None:
    for name, labels in (("a", {"app": "x", "tier": "web"}), ("b", {"app": "x"}), ("c", {"app": "y"})):
        kube.create("v1", "configmaps", {"metadata": {"name": name, "labels": labels}}, kube_namespace)

    def names(**selectors: str) -> list[str]:
        return [o["metadata"]["name"] for o in kube.list("v1", "configmaps", kube_namespace, **selectors)]

    assert names(label_selector="app=x") == ["a", "b"]
    assert names(label_selector="app=x,!tier") == ["b"]
    assert names(label_selector="app in (x, y),tier notin (web)") == ["b", "c"]
    assert names(label_selector="app!=x") == ["c"]
    assert names(field_selector="metadata.name=c") == ["c"]
    assert names(field_selector="metadata.name!=c", label_selector="tier") == ["a"]
    with pytest.raises(KubeApiError) as bad:
        names(label_selector="app in x")
    assert bad.value.code == 400


def test_watch_delivers_changes_after_a_resource_version(kube: KubeClient, kube_namespace: str) -> None:
    listed = kube.request("GET", kube.path("v1", "configmaps", kube_namespace))
    since = listed["metadata"]["resourceVersion"]
    kube.create("v1", "configmaps", _configmap("c", a="1"), kube_namespace)
    kube.patch("v1", "configmaps", "c", {"data": {"a": "2"}}, kube_namespace)

    def later() -> None:
        kube.delete("v1", "configmaps", "c", kube_namespace)

    timer = threading.Timer(0.3, later)
    timer.start()
    events = [
        (e["type"], e["object"]["metadata"].get("name"))
        for e in kube.watch("v1", "configmaps", kube_namespace, resource_version=since, timeout_seconds=1)
        if e["type"] != "BOOKMARK"
    ]
    timer.join()
    assert events == [("ADDED", "c"), ("MODIFIED", "c"), ("DELETED", "c")]


def test_watch_without_version_starts_with_existing_objects_and_selector_exits_are_deletes(
    kube: KubeClient, kube_namespace: str
) -> None:
    kube.create("v1", "configmaps", {"metadata": {"name": "c", "labels": {"on": "yes"}}}, kube_namespace)
    timer = threading.Timer(
        0.3,
        lambda: kube.patch("v1", "configmaps", "c", {"metadata": {"labels": {"on": "no"}}}, kube_namespace),
    )
    timer.start()
    events = [
        e["type"]
        for e in kube.watch("v1", "configmaps", kube_namespace, timeout_seconds=1, label_selector="on=yes")
        if e["type"] != "BOOKMARK"
    ]
    timer.join()
    assert events == ["ADDED", "DELETED"]


def test_finalizers_hold_deletion_until_removed(kube: KubeClient, kube_namespace: str) -> None:
    kube.create(
        "v1", "configmaps", {"metadata": {"name": "c", "finalizers": ["example.org/hold"]}}, kube_namespace
    )
    marked = kube.delete("v1", "configmaps", "c", kube_namespace)
    assert marked["metadata"]["deletionTimestamp"]
    assert kube.get("v1", "configmaps", "c", kube_namespace)["metadata"]["deletionTimestamp"]
    with pytest.raises(KubeApiError) as no_new:
        kube.patch(
            "v1",
            "configmaps",
            "c",
            {"metadata": {"finalizers": ["example.org/hold", "other"]}},
            kube_namespace,
        )
    assert no_new.value.code == 403
    kube.patch("v1", "configmaps", "c", {"metadata": {"finalizers": None}}, kube_namespace)
    assert kube.find("v1", "configmaps", "c", kube_namespace) is None


def _owned(name: str, owner: dict[str, Any]) -> dict[str, Any]:
    ref = {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    return {"metadata": {"name": name, "ownerReferences": [ref]}}


def test_garbage_collection_cascades_through_owner_references(
    kube: KubeClient, kube_namespace: str, widgets: str
) -> None:
    owner = kube.create(API_VERSION, widgets, widget("w"), kube_namespace)
    child = kube.create("v1", "configmaps", _owned("child", owner), kube_namespace)
    kube.create("v1", "secrets", _owned("grandchild", child), kube_namespace)
    kube.create("v1", "configmaps", _configmap("bystander"), kube_namespace)
    kube.delete(API_VERSION, widgets, "w", kube_namespace)
    wait_for(lambda: kube.find("v1", "secrets", "grandchild", kube_namespace) is None, 5, "cascade")
    assert kube.find("v1", "configmaps", "child", kube_namespace) is None
    assert kube.find("v1", "configmaps", "bystander", kube_namespace) is not None


def test_orphan_propagation_keeps_dependents_and_cross_namespace_owners_count_as_absent(
    kube: KubeClient, kube_namespace: str, widgets: str
) -> None:
    owner = kube.create(API_VERSION, widgets, widget("w"), kube_namespace)
    kube.create("v1", "configmaps", _owned("kept", owner), kube_namespace)
    kube.delete(API_VERSION, widgets, "w", kube_namespace, propagation="Orphan")
    kept = kube.get("v1", "configmaps", "kept", kube_namespace)
    assert "ownerReferences" not in kept["metadata"]
    other = f"{kube_namespace}-x"
    kube.create_namespace(other)
    try:
        elsewhere = kube.create(API_VERSION, widgets, widget("w2"), other)
        kube.create("v1", "configmaps", _owned("cross", elsewhere), kube_namespace)
        wait_for(
            lambda: kube.find("v1", "configmaps", "cross", kube_namespace) is None,
            5,
            "a dependent whose owner lives in another namespace to be collected",
        )
    finally:
        kube.delete("v1", "namespaces", other)


def test_deleting_a_namespace_deletes_its_content(kube: KubeClient) -> None:
    kube.create_namespace("doomed-ns")
    kube.create(
        "v1", "configmaps", {"metadata": {"name": "c", "finalizers": ["example.org/hold"]}}, "doomed-ns"
    )
    kube.delete("v1", "namespaces", "doomed-ns")
    assert kube.get("v1", "namespaces", "doomed-ns")["status"]["phase"] == "Terminating"
    with pytest.raises(KubeApiError) as refused:
        kube.create("v1", "configmaps", _configmap("new"), "doomed-ns")
    assert refused.value.code == 403
    kube.patch("v1", "configmaps", "c", {"metadata": {"finalizers": []}}, "doomed-ns")
    wait_for(lambda: kube.find("v1", "namespaces", "doomed-ns") is None, 5, "namespace removal")


def test_discovery_serves_registered_crds(kube: KubeClient, widgets: str) -> None:
    groups = {g["name"]: g for g in kube.request("GET", "/apis")["groups"]}
    assert {"apps", "batch", "apiextensions.k8s.io", "emulator.test"} <= set(groups)
    assert groups["emulator.test"]["preferredVersion"]["version"] == "v1"
    resources = {r["name"]: r for r in kube.request("GET", f"/apis/{API_VERSION}")["resources"]}
    assert resources["widgets"]["kind"] == "Widget" and resources["widgets"]["namespaced"] is True
    assert resources["widgets"]["shortNames"] == ["wd"] and "widgets/status" in resources
    assert kube.resource_of("apps/v1", "Deployment") == ("deployments", True)


def test_non_structural_crd_is_rejected(kube: KubeClient) -> None:
    crd = widget_crd()
    crd["metadata"]["name"] = "gadgets.emulator.test"
    crd["spec"]["names"] = {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"}
    spec_schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec_schema["properties"]["size"] = {"anyOf": [{"type": "integer"}, {"type": "null"}]}
    spec_schema["properties"]["ref"] = {"$ref": "#/definitions/Ref"}
    with pytest.raises(KubeApiError) as refused:
        kube.create("apiextensions.k8s.io/v1", "customresourcedefinitions", crd)
    fields = sorted(cause["field"] for cause in refused.value.causes)
    assert any(f.endswith("properties[size].anyOf[0].type") for f in fields)
    assert any(f.endswith("properties[ref].$ref") for f in fields)


def test_deleting_a_crd_stops_serving_it_and_removes_its_objects(
    kube: KubeClient, kube_namespace: str
) -> None:
    crd = widget_crd()
    crd["metadata"]["name"] = "sprockets.emulator.test"
    crd["spec"]["names"] = {"plural": "sprockets", "singular": "sprocket", "kind": "Sprocket"}
    kube.create("apiextensions.k8s.io/v1", "customresourcedefinitions", crd)
    kube.create(API_VERSION, "sprockets", {**widget("s"), "kind": "Sprocket"}, kube_namespace)
    kube.delete("apiextensions.k8s.io/v1", "customresourcedefinitions", "sprockets.emulator.test")
    with pytest.raises(KubeApiError) as gone:
        kube.list(API_VERSION, "sprockets", kube_namespace)
    assert gone.value.code == 404


def test_a_reaction_added_by_a_test_still_overrides_the_store() -> None:
    """Resource requests skip kmock's matching only while the emulator has no reactions but its own: fault
    injection through kmock's DSL keeps working, and requests are counted either way."""
    with EmulatorServer() as server:
        kube = KubeClient(server.url)
        kube.create("v1", "configmaps", _configmap("fragile", a="1"), "default")
        assert kube.get("v1", "configmaps", "fragile", "default")["data"] == {"a": "1"}

        def inject() -> None:
            server.emulator["get", "/api/v1/namespaces/default/configmaps/fragile"] << 503

        server.call(inject)
        with pytest.raises(KubeApiError) as failed:
            kube.get("v1", "configmaps", "fragile", "default")
        assert failed.value.code == 503
        # Everything the reaction does not match is still answered from the store.
        assert kube.patch("v1", "configmaps", "fragile", {"data": {"a": "2"}}, "default")["data"] == {
            "a": "2"
        }
        counts = server.call(lambda: dict(server.emulator.request_counts))
        assert counts[("GET", "configmaps")] == 2 and counts[("PATCH", "configmaps")] == 1
