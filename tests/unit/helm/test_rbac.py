"""The chart grants the operator exactly what it calls (operator/ecap_operator/rbac.py), both ways, in
every scope, and gives Spark drivers and jobs what they need and nothing of the operator's."""

from __future__ import annotations

from typing import Any

import pytest

from ecap_operator import rbac

from .chart import NAMESPACE, Chart, Rendered

Triple = tuple[str, str, str]


def triples(rules: list[dict[str, Any]]) -> set[Triple]:
    """(apiGroup, resource, verb) for every combination a list of PolicyRules grants."""
    granted: set[Triple] = set()
    for rule in rules:
        assert "*" not in rule["verbs"] and "*" not in rule["resources"], f"wildcard in {rule}"
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                granted |= {(group, resource, verb) for verb in rule["verbs"]}
    return granted


def expected(scope: rbac.Scope | None = None, *, peering: bool = False) -> set[Triple]:
    return {(g, r, v) for g, r, verbs in rbac.rules(scope, peering=peering) for v in verbs}


def operator_roles(rendered: Rendered) -> list[dict[str, Any]]:
    return [
        o
        for o in rendered.objects
        if o["kind"] in ("ClusterRole", "Role")
        and o["metadata"]["labels"]["app.kubernetes.io/component"] == "operator"
    ]


@pytest.mark.parametrize("peering", [False, True], ids=["standalone", "peering"])
def test_should_grant_exactly_the_operators_calls_when_watching_all_namespaces(
    chart: Chart, peering: bool
) -> None:
    values = {"operator": {"kopfArgs": ["--peering=ecap"] if peering else []}}
    rendered = chart.template(values)
    (role,) = operator_roles(rendered)
    assert role["kind"] == "ClusterRole"
    granted, wanted = triples(role["rules"]), expected(peering=peering)
    assert granted - wanted == set(), "granted but never called"
    assert wanted - granted == set(), "called but not granted"
    binding = rendered.one("ClusterRoleBinding", role["metadata"]["name"])
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "ecap-operator", "namespace": NAMESPACE}
    ]


@pytest.mark.parametrize("strimzi_namespace", ["", "kafka"], ids=["strimzi-alongside", "strimzi-elsewhere"])
@pytest.mark.parametrize("peering", [False, True], ids=["standalone", "peering"])
def test_should_grant_each_scope_exactly_where_it_applies_when_watch_namespaces_is_set(
    chart: Chart, strimzi_namespace: str, peering: bool
) -> None:
    rendered = chart.template(
        {
            "operator": {
                "watchNamespaces": ["shop-a", "shop-b"],
                "settings": {"strimziNamespace": strimzi_namespace},
                "kopfArgs": ["--peering=ecap"] if peering else [],
            }
        }
    )
    roles = {o["metadata"]["name"]: o for o in operator_roles(rendered)}
    namespaced = triples(roles["ecap-operator"]["rules"])
    cluster = triples(roles["ecap-operator-cluster"]["rules"])
    if strimzi_namespace:
        assert namespaced == expected("namespace", peering=peering)
        strimzi = roles["ecap-operator-strimzi"]
        assert strimzi["kind"] == "Role" and strimzi["metadata"]["namespace"] == "kafka"
        assert triples(strimzi["rules"]) == expected("strimzi")
        assert rendered.one("RoleBinding", "ecap-operator-strimzi", "kafka")["roleRef"]["kind"] == "Role"
    else:
        assert "ecap-operator-strimzi" not in roles
        assert namespaced == expected("namespace", peering=peering) | expected("strimzi")
    assert cluster == expected("cluster", peering=peering)
    # The namespaced ClusterRole is only ever bound inside the watched namespaces.
    assert rendered.find("ClusterRoleBinding", "ecap-operator") == []
    bound = {b["metadata"]["namespace"] for b in rendered.find("RoleBinding", "ecap-operator")}
    assert bound == {"shop-a", "shop-b"}
    assert (
        rendered.one("ClusterRoleBinding", "ecap-operator-cluster")["roleRef"]["name"]
        == "ecap-operator-cluster"
    )


def test_should_notice_a_rule_the_chart_lacks() -> None:
    """The comparison can fail: dropping one verb from the rendered rules is a difference."""
    rules = [{"apiGroups": [g], "resources": [r], "verbs": list(v)} for g, r, v in rbac.rules()]
    rules[0]["verbs"] = rules[0]["verbs"][1:]
    assert expected() - triples(rules)


def test_should_let_spark_drivers_and_jobs_run_executors_and_report_status(default_render: Rendered) -> None:
    role = default_render.one("Role", "ecap-spark", NAMESPACE)
    granted = triples(role["rules"])
    for resource in ("pods", "services", "configmaps"):
        assert {("", resource, v) for v in ("get", "list", "watch", "create", "delete")} <= granted
    assert {
        ("ecap.io", "segmentationruns/status", "patch"),
        ("ecap.io", "deltatables/status", "patch"),
    } <= granted
    assert not {t for t in granted if t[0] == "ecap.io" and not t[1].endswith("/status")}, (
        "jobs must not edit specs"
    )
    assert not {t for t in granted if t[0] in ("apps", "batch", "sparkoperator.k8s.io", "kafka.strimzi.io")}
    binding = default_render.one("RoleBinding", "ecap-spark", NAMESPACE)
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "ecap-spark", "namespace": NAMESPACE}]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "ecap-spark",
    }
