"""One case per value that changes the rendered output, named like helm-unittest cases:
"should <what the user sees> when <value> is set". Each case renders the chart with that value only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from .chart import NAMESPACE, RELEASE, Chart, Rendered

DEFAULT_IMAGE = "ghcr.io/ecap/ecap-operator:0.1.0"
ALERTS = {
    "producerDeliveryFailures": "EcapProducerDeliveryFailures",
    "producerDeadLetters": "EcapProducerDeadLetters",
    "producerQueueBacklog": "EcapProducerQueueBacklog",
    "pipelineConsumerLag": "EcapPipelineConsumerLag",
    "pipelineStalled": "EcapPipelineStalled",
    "pipelineFreshness": "EcapPipelineDataStale",
    "pipelineQuarantine": "EcapPipelineQuarantineHigh",
    "pipelineBatchDuration": "EcapPipelineBatchSlow",
    "operatorReconcileErrors": "EcapOperatorReconcileErrors",
    "operatorDown": "EcapOperatorDown",
    "noReadyResources": "EcapNoReadyResources",
}


Check = Callable[[Rendered], bool]


@dataclass(frozen=True)
class Case:
    name: str
    values: dict[str, Any]
    check: Check


def pod_spec(r: Rendered) -> dict[str, Any]:
    spec: dict[str, Any] = r.operator_deployment["spec"]["template"]["spec"]
    return spec


def names(r: Rendered, kind: str) -> set[tuple[str, str | None]]:
    return {(o["metadata"]["name"], o["metadata"].get("namespace")) for o in r.objects if o["kind"] == kind}


def check_all(*checks: Check) -> Check:
    """All checks hold; an AssertionError names the first one (by position) that does not."""

    def run(r: Rendered) -> bool:
        for position, check in enumerate(checks, start=1):
            assert check(r), f"check {position} of {len(checks)} does not hold"
        return True

    return run


def only_without(alert: str) -> Check:
    return lambda r: set(r.alert_rules()) == set(ALERTS.values()) - {alert}


def compares_with(alert: str, comparison: str) -> Check:
    return lambda r: bool(r.alert_rules()[alert]["expr"].rstrip().endswith(comparison))


def alerts(**alert_values: Any) -> dict[str, Any]:
    return {"monitoring": {"prometheusRule": {"alerts": alert_values}}}


CASES = [
    Case(
        "should rename objects when nameOverride is set",
        {"nameOverride": "shop"},
        check_all(
            lambda r: r.operator_deployment["metadata"]["name"] == "ecap-shop-operator",
            lambda r: r.operator_deployment["metadata"]["labels"]["app.kubernetes.io/name"] == "shop",
        ),
    ),
    Case(
        "should use the full name as prefix when fullnameOverride is set",
        {"fullnameOverride": "analytics"},
        check_all(
            lambda r: {o["metadata"]["name"] for o in r.of_kind("Deployment")} == {"analytics-operator"},
            lambda r: r.one("Service")["metadata"]["name"] == "analytics-operator-metrics",
        ),
    ),
    Case(
        "should label every object when commonLabels is set",
        {"commonLabels": {"team": "data"}},
        lambda r: [o["metadata"]["labels"]["team"] for o in r.objects] == ["data"] * len(r.objects),
    ),
    Case(
        "should prefix every image when images.registry is set",
        {"images": {"registry": "registry.example.com"}},
        check_all(
            lambda r: r.operator_container["image"] == f"registry.example.com/{DEFAULT_IMAGE}",
            lambda r: (
                r.operator_env["ECAP_OPERATOR_JOBS_IMAGE"]
                == "registry.example.com/ghcr.io/ecap/ecap-jobs:0.1.0"
            ),
            lambda r: (
                r.operator_env["ECAP_OPERATOR_PRODUCER_IMAGE"] == f"registry.example.com/{DEFAULT_IMAGE}"
            ),
        ),
    ),
    Case(
        "should add image pull secrets when images.pullSecrets is set",
        {"images": {"pullSecrets": ["regcred"]}},
        lambda r: pod_spec(r)["imagePullSecrets"] == [{"name": "regcred"}],
    ),
    Case(
        "should run another operator image when images.operator.repository and tag are set",
        {"images": {"operator": {"repository": "example/op", "tag": "dev"}}},
        check_all(
            lambda r: r.operator_container["image"] == "example/op:dev",
            lambda r: r.operator_env["ECAP_OPERATOR_PRODUCER_IMAGE"] == "example/op:dev",
        ),
    ),
    Case(
        "should set the pull policy when images.operator.pullPolicy is set",
        {"images": {"operator": {"pullPolicy": "Always"}}},
        lambda r: r.operator_container["imagePullPolicy"] == "Always",
    ),
    Case(
        "should hand the operator another jobs image when images.jobs is set",
        {"images": {"jobs": {"repository": "example/jobs", "tag": "spark4"}}},
        lambda r: r.operator_env["ECAP_OPERATOR_JOBS_IMAGE"] == "example/jobs:spark4",
    ),
    Case(
        "should pull workload images that way when images.jobs.pullPolicy is set",
        {"images": {"jobs": {"pullPolicy": "Always"}}},
        lambda r: r.operator_env["ECAP_OPERATOR_IMAGE_PULL_POLICY"] == "Always",
    ),
    Case(
        "should hand the operator a separate producer image when images.producer.repository is set",
        {"images": {"producer": {"repository": "example/producer", "tag": "7"}}},
        check_all(
            lambda r: r.operator_env["ECAP_OPERATOR_PRODUCER_IMAGE"] == "example/producer:7",
            lambda r: r.operator_container["image"] == DEFAULT_IMAGE,
        ),
    ),
    Case(
        "should tag the producer image when images.producer.tag is set",
        {"images": {"producer": {"repository": "example/producer", "tag": "8"}}},
        lambda r: r.operator_env["ECAP_OPERATOR_PRODUCER_IMAGE"] == "example/producer:8",
    ),
    Case(
        "should run more operator pods when operator.replicas is set",
        {"operator": {"replicas": 2}},
        lambda r: r.operator_deployment["spec"]["replicas"] == 2,
    ),
    Case(
        "should watch only the listed namespaces when operator.watchNamespaces is set",
        {"operator": {"watchNamespaces": ["shop-b", "shop-a"]}},
        check_all(
            lambda r: (
                [a for a in r.operator_container["args"] if a.startswith("--")][1:]
                == ["--namespace=shop-b", "--namespace=shop-a"]
            ),
            lambda r: "--all-namespaces" not in r.operator_container["args"],
            lambda r: r.find("ClusterRoleBinding", "ecap-operator") == [],
            lambda r: names(r, "RoleBinding") >= {("ecap-operator", "shop-a"), ("ecap-operator", "shop-b")},
            lambda r: names(r, "ServiceAccount") >= {("ecap-spark", "shop-a"), ("ecap-spark", "shop-b")},
            lambda r: ("ecap-spark", NAMESPACE) not in names(r, "ServiceAccount"),
            lambda r: all(
                m["spec"]["namespaceSelector"] == {"matchNames": ["shop-a", "shop-b"]}
                for m in r.of_kind("PodMonitor")
            ),
        ),
    ),
    Case(
        "should pass extra kopf arguments last when operator.kopfArgs is set",
        {"operator": {"kopfArgs": ["--debug", "--peering=ecap"]}},
        lambda r: r.operator_container["args"][-2:] == ["--debug", "--peering=ecap"],
    ),
    Case(
        "should move the liveness endpoint when operator.livenessPort is set",
        {"operator": {"livenessPort": 8181}},
        check_all(
            lambda r: "--liveness=http://0.0.0.0:8181/healthz" in r.operator_container["args"],
            lambda r: (
                {p["name"]: p["containerPort"] for p in r.operator_container["ports"]}["liveness"] == 8181
            ),
        ),
    ),
    Case(
        "should serve metrics on another port when operator.metricsPort is set",
        {"operator": {"metricsPort": 9300}},
        check_all(
            lambda r: r.operator_env["ECAP_OPERATOR_METRICS_PORT"] == "9300",
            lambda r: (
                {p["name"]: p["containerPort"] for p in r.operator_container["ports"]}["metrics"] == 9300
            ),
        ),
    ),
    Case(
        "should target another Strimzi cluster when operator.settings.strimziCluster is set",
        {"operator": {"settings": {"strimziCluster": "events"}}},
        check_all(
            lambda r: r.operator_env["ECAP_OPERATOR_STRIMZI_CLUSTER"] == "events",
            lambda r: "ECAP_OPERATOR_BOOTSTRAP_SERVERS" not in r.operator_env,
        ),
    ),
    Case(
        "should write Strimzi topics in that namespace when operator.settings.strimziNamespace is set",
        {"operator": {"watchNamespaces": ["shop"], "settings": {"strimziNamespace": "kafka"}}},
        check_all(
            lambda r: r.operator_env["ECAP_OPERATOR_STRIMZI_NAMESPACE"] == "kafka",
            lambda r: r.operator_env["ECAP_OPERATOR_BOOTSTRAP_SERVERS"] == "ecap-kafka-bootstrap.kafka:9092",
            lambda r: r.one("Role", "ecap-operator-strimzi")["metadata"]["namespace"] == "kafka",
            lambda r: r.one("RoleBinding", "ecap-operator-strimzi")["metadata"]["namespace"] == "kafka",
            lambda r: "kafka.strimzi.io" not in str(r.one("ClusterRole", "ecap-operator")["rules"]),
        ),
    ),
    Case(
        "should use the given bootstrap servers when operator.settings.bootstrapServers is set",
        {"operator": {"settings": {"bootstrapServers": "kafka-0:9092,kafka-1:9092"}}},
        lambda r: r.operator_env["ECAP_OPERATOR_BOOTSTRAP_SERVERS"] == "kafka-0:9092,kafka-1:9092",
    ),
    Case(
        "should tell the operator the lake volume when operator.settings.lakeClaim is set",
        {"operator": {"settings": {"lakeClaim": "ecap-lake"}}},
        lambda r: r.operator_env["ECAP_OPERATOR_LAKE_CLAIM"] == "ecap-lake",
    ),
    Case(
        "should add environment variables when operator.extraEnv is set",
        {"operator": {"extraEnv": [{"name": "ECAP_OPERATOR_LOG_FORMAT", "value": "json"}]}},
        lambda r: r.operator_env["ECAP_OPERATOR_LOG_FORMAT"] == "json",
    ),
    Case(
        "should size the container when operator.resources is set",
        {"operator": {"resources": {"requests": {"cpu": "1"}, "limits": {"memory": "1Gi"}}}},
        lambda r: (
            r.operator_container["resources"]
            == {"requests": {"cpu": "1", "memory": "192Mi"}, "limits": {"memory": "1Gi"}}
        ),
    ),
    Case(
        "should run as another user when operator.podSecurityContext is set",
        {"operator": {"podSecurityContext": {"runAsUser": 20000}}},
        lambda r: pod_spec(r)["securityContext"]["runAsUser"] == 20000,
    ),
    Case(
        "should change the container security context when operator.securityContext is set",
        {"operator": {"securityContext": {"readOnlyRootFilesystem": False}}},
        lambda r: r.operator_container["securityContext"]["readOnlyRootFilesystem"] is False,
    ),
    Case(
        "should time the liveness probe when operator.livenessProbe is set",
        {
            "operator": {
                "livenessProbe": {
                    "initialDelaySeconds": 1,
                    "periodSeconds": 2,
                    "timeoutSeconds": 3,
                    "failureThreshold": 4,
                }
            }
        },
        lambda r: (
            {
                k: r.operator_container["livenessProbe"][k]
                for k in ("initialDelaySeconds", "periodSeconds", "timeoutSeconds", "failureThreshold")
            }
            == {"initialDelaySeconds": 1, "periodSeconds": 2, "timeoutSeconds": 3, "failureThreshold": 4}
        ),
    ),
    Case(
        "should annotate the pod when operator.podAnnotations is set",
        {"operator": {"podAnnotations": {"example.com/owner": "data"}}},
        lambda r: (
            r.operator_deployment["spec"]["template"]["metadata"]["annotations"]
            == {"example.com/owner": "data"}
        ),
    ),
    Case(
        "should label the pod but not the selector when operator.podLabels is set",
        {"operator": {"podLabels": {"tier": "control"}}},
        check_all(
            lambda r: r.operator_deployment["spec"]["template"]["metadata"]["labels"]["tier"] == "control",
            lambda r: "tier" not in r.operator_deployment["spec"]["selector"]["matchLabels"],
        ),
    ),
    Case(
        "should pin nodes when operator.nodeSelector is set",
        {"operator": {"nodeSelector": {"kubernetes.io/os": "linux"}}},
        lambda r: pod_spec(r)["nodeSelector"] == {"kubernetes.io/os": "linux"},
    ),
    Case(
        "should tolerate taints when operator.tolerations is set",
        {"operator": {"tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}]}},
        lambda r: (
            pod_spec(r)["tolerations"] == [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}]
        ),
    ),
    Case(
        "should set affinity when operator.affinity is set",
        {
            "operator": {
                "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": []}}
            }
        },
        lambda r: "podAntiAffinity" in pod_spec(r)["affinity"],
    ),
    Case(
        "should set the priority class when operator.priorityClassName is set",
        {"operator": {"priorityClassName": "system-cluster-critical"}},
        lambda r: pod_spec(r)["priorityClassName"] == "system-cluster-critical",
    ),
    Case(
        "should use an existing service account when operator.serviceAccount.create is false",
        {"operator": {"serviceAccount": {"create": False, "name": "platform-operator"}}},
        check_all(
            lambda r: r.find("ServiceAccount", "ecap-operator") == [],
            lambda r: pod_spec(r)["serviceAccountName"] == "platform-operator",
            lambda r: r.one("ClusterRoleBinding")["subjects"][0]["name"] == "platform-operator",
        ),
    ),
    Case(
        "should name the service account when operator.serviceAccount.name is set",
        {"operator": {"serviceAccount": {"name": "ecap-controller"}}},
        check_all(
            lambda r: r.one("ServiceAccount", "ecap-controller")["metadata"]["namespace"] == NAMESPACE,
            lambda r: pod_spec(r)["serviceAccountName"] == "ecap-controller",
        ),
    ),
    Case(
        "should annotate the service account when operator.serviceAccount.annotations is set",
        {"operator": {"serviceAccount": {"annotations": {"iam.example.com/role": "ecap"}}}},
        lambda r: (
            r.one("ServiceAccount", "ecap-operator")["metadata"]["annotations"]
            == {"iam.example.com/role": "ecap"}
        ),
    ),
    Case(
        "should render no operator roles when operator.rbac.create is false",
        {"operator": {"rbac": {"create": False}}},
        check_all(
            lambda r: r.of_kind("ClusterRole") == [] and r.of_kind("ClusterRoleBinding") == [],
            lambda r: {o["metadata"]["name"] for o in r.of_kind("Role")} == {"ecap-spark"},
        ),
    ),
    Case(
        "should expose metrics differently when operator.service is set",
        {"operator": {"service": {"type": "NodePort", "port": 9400}}},
        lambda r: (
            (r.one("Service")["spec"]["type"], r.one("Service")["spec"]["ports"][0]["port"])
            == ("NodePort", 9400)
        ),
    ),
    Case(
        "should not create the Spark service account when spark.serviceAccount.create is false",
        {"spark": {"serviceAccount": {"create": False}}},
        check_all(
            lambda r: r.find("ServiceAccount", "ecap-spark") == [],
            lambda r: r.one("RoleBinding", "ecap-spark")["subjects"][0]["name"] == "ecap-spark",
        ),
    ),
    Case(
        "should rename the Spark service account when spark.serviceAccount.name is set",
        {"spark": {"serviceAccount": {"name": "spark-driver"}}},
        check_all(
            lambda r: r.one("ServiceAccount", "spark-driver")["metadata"]["namespace"] == NAMESPACE,
            lambda r: r.operator_env["ECAP_OPERATOR_SPARK_SERVICE_ACCOUNT"] == "spark-driver",
            lambda r: r.one("RoleBinding", "ecap-spark")["subjects"][0]["name"] == "spark-driver",
        ),
    ),
    Case(
        "should annotate the Spark service account when spark.serviceAccount.annotations is set",
        {"spark": {"serviceAccount": {"annotations": {"iam.example.com/role": "lake"}}}},
        lambda r: (
            r.one("ServiceAccount", "ecap-spark")["metadata"]["annotations"]
            == {"iam.example.com/role": "lake"}
        ),
    ),
    Case(
        "should render no Spark role when spark.rbac.create is false",
        {"spark": {"rbac": {"create": False}}},
        lambda r: r.find("Role", "ecap-spark") == [] and r.find("RoleBinding", "ecap-spark") == [],
    ),
    Case(
        "should give Spark an identity in more namespaces when spark.extraNamespaces is set",
        {"spark": {"extraNamespaces": ["analytics"]}},
        lambda r: {ns for _, ns in names(r, "RoleBinding") if _ == "ecap-spark"} == {NAMESPACE, "analytics"},
    ),
    Case(
        "should label monitoring objects when monitoring.labels is set",
        {"monitoring": {"labels": {"release": "kube-prometheus-stack"}}},
        check_all(
            lambda r: all(
                o["metadata"]["labels"]["release"] == "kube-prometheus-stack"
                for kind in ("ServiceMonitor", "PodMonitor", "PrometheusRule")
                for o in r.of_kind(kind)
            ),
            lambda r: "release" not in r.operator_deployment["metadata"]["labels"],
        ),
    ),
    Case(
        "should drop the ServiceMonitor and the operator-down alert "
        "when monitoring.serviceMonitor.enabled is false",
        {"monitoring": {"serviceMonitor": {"enabled": False}}},
        check_all(
            lambda r: r.of_kind("ServiceMonitor") == [], lambda r: "EcapOperatorDown" not in r.alert_rules()
        ),
    ),
    Case(
        "should scrape the operator at that pace when monitoring.serviceMonitor.interval is set",
        {"monitoring": {"serviceMonitor": {"interval": "1m", "scrapeTimeout": "20s"}}},
        lambda r: (
            (
                r.one("ServiceMonitor")["spec"]["endpoints"][0]["interval"],
                r.one("ServiceMonitor")["spec"]["endpoints"][0]["scrapeTimeout"],
            )
            == ("1m", "20s")
        ),
    ),
    Case(
        "should drop the PodMonitors when monitoring.podMonitors.enabled is false",
        {"monitoring": {"podMonitors": {"enabled": False}}},
        lambda r: r.of_kind("PodMonitor") == [],
    ),
    Case(
        "should scrape workloads at that pace and port "
        "when monitoring.podMonitors.interval and portName are set",
        {"monitoring": {"podMonitors": {"interval": "5s", "portName": "prom"}}},
        lambda r: all(
            m["spec"]["podMetricsEndpoints"] == [{"port": "prom", "path": "/metrics", "interval": "5s"}]
            for m in r.of_kind("PodMonitor")
        ),
    ),
    Case(
        "should drop the PrometheusRule when monitoring.prometheusRule.enabled is false",
        {"monitoring": {"prometheusRule": {"enabled": False}}},
        lambda r: r.of_kind("PrometheusRule") == [],
    ),
    Case(
        "should label every alert when monitoring.prometheusRule.additionalAlertLabels is set",
        {"monitoring": {"prometheusRule": {"additionalAlertLabels": {"team": "data"}}}},
        lambda r: {rule["labels"]["team"] for rule in r.alert_rules().values()} == {"data"},
    ),
    Case(
        "should widen the rate window when monitoring.prometheusRule.rateWindow is set",
        {"monitoring": {"prometheusRule": {"rateWindow": "15m"}}},
        check_all(
            lambda r: "[15m]" in r.alert_rules()["EcapProducerDeliveryFailures"]["expr"],
            lambda r: "[5m]" not in "".join(rule["expr"] for rule in r.alert_rules().values()),
        ),
    ),
    Case(
        "should alert at that ratio "
        "when monitoring.prometheusRule.alerts.producerDeliveryFailures.threshold is set",
        alerts(producerDeliveryFailures={"threshold": 0.2}),
        lambda r: r.alert_rules()["EcapProducerDeliveryFailures"]["expr"].rstrip().endswith("> 0.2"),
    ),
    Case(
        "should wait that long when monitoring.prometheusRule.alerts.pipelineConsumerLag.for is set",
        alerts(pipelineConsumerLag={"for": "30m"}),
        lambda r: r.alert_rules()["EcapPipelineConsumerLag"]["for"] == "30m",
    ),
    Case(
        "should page when monitoring.prometheusRule.alerts.pipelineFreshness.severity is set",
        alerts(pipelineFreshness={"severity": "critical"}),
        lambda r: r.alert_rules()["EcapPipelineDataStale"]["labels"]["severity"] == "critical",
    ),
    *[
        Case(
            f"should drop {alert} when monitoring.prometheusRule.alerts.{key}.enabled is false",
            alerts(**{key: {"enabled": False}}),
            only_without(alert),
        )
        for key, alert in ALERTS.items()
    ],
    *[
        Case(
            f"should alert at that level when monitoring.prometheusRule.alerts.{key}.threshold is set",
            alerts(**{key: {"threshold": 0.5}}),
            compares_with(alert, "> 0.5"),
        )
        for key, alert in ALERTS.items()
        if key not in ("pipelineStalled", "operatorDown", "noReadyResources")
    ],
    Case(
        "should drop the dashboards when monitoring.dashboards.enabled is false",
        {"monitoring": {"dashboards": {"enabled": False}}},
        lambda r: r.of_kind("ConfigMap") == [],
    ),
    Case(
        "should put the dashboards where Grafana looks when monitoring.dashboards.namespace is set",
        {"monitoring": {"dashboards": {"namespace": "monitoring"}}},
        lambda r: {cm["metadata"]["namespace"] for cm in r.of_kind("ConfigMap")} == {"monitoring"},
    ),
    Case(
        "should label the dashboards for another sidecar when monitoring.dashboards.labels is set",
        {"monitoring": {"dashboards": {"labels": {"grafana_dashboard": None, "dashboards": "ecap"}}}},
        check_all(
            lambda r: r.dashboards() == {},  # no longer labelled grafana_dashboard
            lambda r: all(cm["metadata"]["labels"]["dashboards"] == "ecap" for cm in r.of_kind("ConfigMap")),
        ),
    ),
    Case(
        "should file the dashboards in a folder when monitoring.dashboards.annotations is set",
        {"monitoring": {"dashboards": {"annotations": {"grafana_folder": "ECAP"}}}},
        lambda r: all(
            cm["metadata"]["annotations"] == {"grafana_folder": "ECAP"} for cm in r.of_kind("ConfigMap")
        ),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_value(chart: Chart, case: Case) -> None:
    assert case.check(chart.template(case.values)) is True


def test_should_run_the_operator_with_secure_defaults(default_render: Rendered) -> None:
    pod = pod_spec(default_render)
    container = default_render.operator_container
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
    }
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]


def test_should_start_kopf_with_liveness_on_all_namespaces_by_default(default_render: Rendered) -> None:
    container = default_render.operator_container
    assert container["args"] == ["operator", "--liveness=http://0.0.0.0:8080/healthz", "--all-namespaces"]
    probe = container["livenessProbe"]["httpGet"]
    assert probe == {"path": "/healthz", "port": "liveness"}
    assert {p["name"]: p["containerPort"] for p in container["ports"]}["liveness"] == 8080
    assert default_render.operator_deployment["spec"]["strategy"] == {"type": "Recreate"}


def test_should_configure_the_operator_through_prefixed_env_by_default(default_render: Rendered) -> None:
    env = default_render.operator_env
    assert env["ECAP_OPERATOR_NAMESPACE"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert env["ECAP_OPERATOR_STRIMZI_CLUSTER"] == "ecap"
    # Unset: the operator puts Strimzi topics next to each KafkaTopic and uses <cluster>-kafka-bootstrap.
    assert "ECAP_OPERATOR_STRIMZI_NAMESPACE" not in env
    assert "ECAP_OPERATOR_BOOTSTRAP_SERVERS" not in env
    assert env["ECAP_OPERATOR_IMAGE_PULL_POLICY"] == "IfNotPresent"
    assert env["ECAP_OPERATOR_JOBS_IMAGE"] == "ghcr.io/ecap/ecap-jobs:0.1.0"
    assert env["ECAP_OPERATOR_PRODUCER_IMAGE"] == DEFAULT_IMAGE
    assert env["ECAP_OPERATOR_SPARK_SERVICE_ACCOUNT"] == "ecap-spark"
    assert "ECAP_OPERATOR_LAKE_CLAIM" not in env
    assert all(name.startswith("ECAP_OPERATOR_") for name in env)


def test_should_render_the_expected_objects_by_default(default_render: Rendered) -> None:
    kinds = sorted((o["kind"], o["metadata"]["name"]) for o in default_render.objects)
    assert kinds == sorted(
        [
            ("ServiceAccount", "ecap-operator"),
            ("ServiceAccount", "ecap-spark"),
            ("ClusterRole", "ecap-operator"),
            ("ClusterRoleBinding", "ecap-operator"),
            ("Role", "ecap-spark"),
            ("RoleBinding", "ecap-spark"),
            ("Service", "ecap-operator-metrics"),
            ("Deployment", "ecap-operator"),
            ("ServiceMonitor", "ecap-operator"),
            ("PodMonitor", "ecap-producers"),
            ("PodMonitor", "ecap-pipelines"),
            ("PrometheusRule", "ecap"),
            ("ConfigMap", "ecap-dashboard-overview"),
        ]
    )
    namespaced = [o for o in default_render.objects if o["kind"] not in ("ClusterRole", "ClusterRoleBinding")]
    assert {o["metadata"]["namespace"] for o in namespaced} == {NAMESPACE}


def test_should_grant_strimzi_topics_with_the_namespaced_rules_by_default(chart: Chart) -> None:
    rendered = chart.template({"operator": {"watchNamespaces": ["shop"]}})
    assert rendered.find("Role", "ecap-operator-strimzi") == []
    rules = rendered.one("ClusterRole", "ecap-operator")["rules"]
    assert {"apiGroups": ["kafka.strimzi.io"], "resources": ["kafkatopics"]}.items() <= next(
        r for r in rules if r["apiGroups"] == ["kafka.strimzi.io"]
    ).items()
    assert names(rendered, "RoleBinding") >= {("ecap-operator", "shop")}


def test_should_render_the_custom_values_file(custom_render: Rendered) -> None:
    """tests/unit/helm/values/custom.yaml: watched namespaces, a private registry, no monitoring."""
    assert custom_render.operator_container["image"] == "registry.example.com/data/ecap-operator:0.1.0-rc.1"
    assert custom_render.operator_container["args"] == [
        "operator",
        "--liveness=http://0.0.0.0:8080/healthz",
        "--namespace=shop-a",
        "--namespace=shop-b",
        "--debug",
    ]
    assert not [o for o in custom_render.objects if o["apiVersion"].startswith("monitoring.coreos.com/")]
    assert custom_render.of_kind("ConfigMap") == []
    assert {ns for name, ns in names(custom_render, "ServiceAccount") if name == "ecap-spark"} == {
        "analytics",
        "shop-a",
        "shop-b",
    }
    assert RELEASE == "ecap"


@pytest.mark.parametrize(
    "values",
    [
        {},
        {
            "operator": {
                "watchNamespaces": ["a", "b"],
                "kopfArgs": ["--debug", "--peering=ecap", "--priority=10"],
            }
        },
    ],
    ids=["defaults", "namespaces-and-kopf-args"],
)
def test_should_start_the_operator_with_arguments_the_ecap_command_accepts(
    chart: Chart, values: dict[str, Any]
) -> None:
    """The container runs the image's `ecap` entrypoint with these arguments: they must parse."""
    from ecap.cli import build_parser

    args = chart.template(values).operator_container["args"]
    parsed = build_parser().parse_args(args)
    assert parsed.command == "operator"
    assert parsed.liveness == "http://0.0.0.0:8080/healthz"
    assert parsed.namespace == values.get("operator", {}).get("watchNamespaces", [])
    assert parsed.all_namespaces is not bool(parsed.namespace)
