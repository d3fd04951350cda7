"""Every child the builders make is valid for its API (built-in or upstream CRD) and says what we mean."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kopf
import pytest
import yaml

from ecap_operator.api import (
    DataProducerSpec,
    DeltaTableSpec,
    KafkaTopicSpec,
    SegmentationRunSpec,
    StreamingPipelineSpec,
    check_references,
    load_resources,
    topic_name,
)
from ecap_operator.builders import (
    Owner,
    build_apply_job,
    build_maintain_cronjob,
    build_pipeline_application,
    build_producer_deployment,
    build_producer_service,
    build_resources_configmap,
    build_segmentation_application,
    build_strimzi_topic,
    place_topic,
    resource_document,
)
from ecap_operator.settings import OperatorSettings
from tests.fixtures.upstream import ObjectValidator

from .examples import NAMESPACE, body, topic_bodies

SETTINGS = OperatorSettings(
    strimzi_cluster="events", jobs_image="registry.local/ecap-jobs:1", lake_claim="lake"
)
PART_OF = {"app.kubernetes.io/part-of": "ecap", "app.kubernetes.io/managed-by": "ecap-operator"}


def adopted(child: dict[str, Any], owner_body: dict[str, Any]) -> dict[str, Any]:
    kopf.adopt(child, owner=owner_body)
    return child


def assert_owned(child: dict[str, Any], owner_body: dict[str, Any]) -> None:
    refs = child["metadata"]["ownerReferences"]
    assert refs == [
        {
            "apiVersion": "ecap.io/v1alpha1",
            "kind": owner_body["kind"],
            "name": owner_body["metadata"]["name"],
            "uid": owner_body["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert child["metadata"]["namespace"] == owner_body["metadata"]["namespace"]


def assert_labels(child: dict[str, Any], kind: str, name: str) -> None:
    labels = child["metadata"]["labels"]
    assert labels.items() >= PART_OF.items()
    assert labels["ecap.io/kind"] == kind and labels["ecap.io/name"] == name
    assert labels["app.kubernetes.io/instance"] == name
    assert labels["team"] == "analytics"  # the user's labels propagate
    annotations = child["metadata"].get("annotations", {})
    assert not [k for k in annotations if k.startswith(("kopf.zalando.org/", "kubectl.kubernetes.io/"))]


def topic_docs(*names: str) -> list[dict[str, Any]]:
    topics = topic_bodies()
    return [
        resource_document("KafkaTopic", n, NAMESPACE, KafkaTopicSpec.model_validate(topics[n]["spec"]))
        for n in names
    ]


def test_strimzi_topic(object_validator: ObjectValidator) -> None:
    owner_body = body("KafkaTopic", "transactions-dlq")
    owner = Owner.from_body(owner_body)
    spec = KafkaTopicSpec.model_validate(owner_body["spec"])
    placement = place_topic(owner, spec, SETTINGS)
    child = adopted(build_strimzi_topic(owner, spec, placement), owner_body)
    object_validator.check(child)
    assert_owned(child, owner_body)
    assert_labels(child, "KafkaTopic", "transactions-dlq")
    assert child["metadata"]["name"] == "transactions-dlq"
    assert child["metadata"]["labels"]["strimzi.io/cluster"] == "events"
    assert child["spec"] == {
        "topicName": "transactions.dlq",
        "partitions": 1,
        "replicas": 1,
        "config": {
            "retention.ms": "2592000000",
            "cleanup.policy": "delete",
            "compression.type": "gzip",
        },
    }


def test_strimzi_topic_in_another_namespace_is_claimed_not_owned(object_validator: ObjectValidator) -> None:
    owner_body = body("KafkaTopic", "transactions")
    owner = Owner.from_body(owner_body)
    spec = KafkaTopicSpec.model_validate(
        {**owner_body["spec"], "cluster": "prod", "clusterNamespace": "kafka"}
    )
    placement = place_topic(owner, spec, SETTINGS)
    assert not placement.owned_by_reference(owner)
    child = build_strimzi_topic(owner, spec, placement)
    object_validator.check(child)
    assert child["metadata"]["namespace"] == "kafka"
    assert child["metadata"]["name"] == "shop.transactions"
    assert child["metadata"]["labels"]["strimzi.io/cluster"] == "prod"
    assert child["metadata"]["labels"]["ecap.io/owner-namespace"] == NAMESPACE
    assert child["metadata"]["annotations"]["ecap.io/owner"] == "shop/transactions"
    assert "ownerReferences" not in child["metadata"]


def test_settings_namespace_places_topics(object_validator: ObjectValidator) -> None:
    owner = Owner.from_body(body("KafkaTopic", "transactions"))
    spec = KafkaTopicSpec()
    placement = place_topic(owner, spec, OperatorSettings(strimzi_namespace="kafka"))
    assert (placement.namespace, placement.cluster, placement.topic_name) == (
        "kafka",
        "ecap-kafka",
        "transactions",
    )


def producer_children(settings: OperatorSettings = SETTINGS, **spec_overrides: Any) -> list[dict[str, Any]]:
    owner_body = body("DataProducer", "shop-sessions")
    owner_body["spec"].update(spec_overrides)
    owner = Owner.from_body(owner_body)
    spec = DataProducerSpec.model_validate(owner_body["spec"])
    configmap = build_resources_configmap(owner, spec, topic_docs("user-events", "transactions"))
    deployment = build_producer_deployment(
        owner, spec, settings, cluster_namespace="kafka", config_hash="abc"
    )
    service = build_producer_service(owner, spec)
    return [adopted(c, owner_body) for c in (configmap, deployment, service)]


def test_producer_children_validate(object_validator: ObjectValidator) -> None:
    owner_body = body("DataProducer", "shop-sessions")
    for child in producer_children():
        object_validator.check(child)
        assert_owned(child, owner_body)
        assert_labels(child, "DataProducer", "shop-sessions")


def test_producer_deployment_contract() -> None:
    _, deployment, service = producer_children(
        kafka={"credentialsSecret": {"name": "kafka-user"}, "securityProtocol": "SASL_SSL"}
    )
    pod = deployment["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert "command" not in container  # the image's entrypoint is `ecap`
    assert container["args"] == ["produce", "-f", "/etc/ecap/resources.yaml"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["ECAP_RESOURCE_KIND"] == "DataProducer"
    assert env["ECAP_RESOURCE_NAMESPACE"] == NAMESPACE
    assert env["ECAP_RESOURCE_NAME"] == "shop-sessions"
    assert env["ECAP_BOOTSTRAP_SERVERS"] == "events-kafka-bootstrap.kafka.svc:9092"
    assert env["ECAP_KAFKA_SECRET_DIR"] == "/etc/ecap/kafka"
    # Credentials come only from the mounted Secret, never from env values.
    assert not [e for e in container["env"] if "secretKeyRef" in e.get("valueFrom", {})]
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["kafka-credentials"]["secret"] == {"secretName": "kafka-user"}
    assert volumes["ecap-resources"]["configMap"]["name"] == "shop-sessions-ecap"
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/etc/ecap/kafka"]["readOnly"] is True
    assert mounts["/etc/ecap/resources.yaml"]["subPath"] == "resources.yaml"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["ports"] == [{"name": "metrics", "containerPort": 8000, "protocol": "TCP"}]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert pod["metadata"]["annotations"]["ecap.io/config-hash"] == "abc"
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["port"] == 8000


def test_producer_without_secret_has_no_credentials_volume() -> None:
    _, deployment, _ = producer_children(settings=OperatorSettings(bootstrap_servers="kafka:9092"))
    pod = deployment["spec"]["template"]["spec"]
    assert [v["name"] for v in pod["volumes"]] == ["ecap-resources", "tmp"]
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert "ECAP_KAFKA_SECRET_DIR" not in env
    assert env["ECAP_BOOTSTRAP_SERVERS"] == "kafka:9092"


def test_configmap_is_loadable_by_the_jobs(tmp_path: Path) -> None:
    configmap, _, _ = producer_children()
    path = tmp_path / "resources.yaml"
    path.write_text(configmap["data"]["resources.yaml"])
    resources = load_resources(path)
    check_references(resources)
    assert [(r.kind, r.name) for r in resources] == [
        ("DataProducer", "shop-sessions"),
        ("KafkaTopic", "user-events"),
        ("KafkaTopic", "transactions"),
    ]
    assert topic_name(resources, NAMESPACE, "transactions") == "transactions"
    first = next(yaml.safe_load_all(configmap["data"]["resources.yaml"]))
    assert first["metadata"] == {"name": "shop-sessions", "namespace": NAMESPACE}


def test_pipeline_application(object_validator: ObjectValidator) -> None:
    owner_body = body("StreamingPipeline")
    owner = Owner.from_body(owner_body)
    spec = StreamingPipelineSpec.model_validate(owner_body["spec"])
    app = adopted(
        build_pipeline_application(owner, spec, SETTINGS, cluster_namespace=NAMESPACE, config_hash="h1"),
        owner_body,
    )
    object_validator.check(app)
    assert_owned(app, owner_body)
    assert_labels(app, "StreamingPipeline", "shop-analytics")
    s = app["spec"]
    assert (s["type"], s["mode"], s["restartPolicy"]["type"]) == ("Python", "cluster", "Always")
    assert s["mainApplicationFile"] == SETTINGS.spark_main_file
    assert s["arguments"] == [
        "pipeline",
        "run",
        "-f",
        "/etc/ecap/resources.yaml",
        "--lake",
        "/lake",
        "--checkpoint",
        "/lake/_checkpoints/shop/shop-analytics",
        "--metrics-port",
        "9108",
    ]
    # The chart's PodMonitor scrapes the driver's port by this name.
    assert s["driver"]["ports"] == [{"name": "metrics", "containerPort": 9108, "protocol": "TCP"}]
    assert "ports" not in s["executor"]
    assert s["image"] == "registry.local/ecap-jobs:1"
    assert (s["driver"]["cores"], s["driver"]["memory"]) == (1, "2g")
    assert (s["executor"]["instances"], s["executor"]["memory"]) == (2, "2g")
    assert s["driver"]["serviceAccount"] == "ecap-spark"
    env = {e["name"]: e["value"] for e in s["driver"]["env"]}
    assert env["ECAP_CHECKPOINT_LOCATION"] == "/lake/_checkpoints/shop/shop-analytics"
    assert env["ECAP_LAKE"] == "/lake"
    assert env["ECAP_BOOTSTRAP_SERVERS"] == "events-kafka-bootstrap.shop.svc:9092"
    volumes = {v["name"]: v for v in s["volumes"]}
    assert volumes["lake"]["persistentVolumeClaim"] == {"claimName": "lake"}
    assert {m["mountPath"] for m in s["executor"]["volumeMounts"]} == {"/etc/ecap/resources.yaml", "/lake"}


def test_segmentation_scheduled_and_batch(object_validator: ObjectValidator) -> None:
    owner_body = body("SegmentationRun")
    owner = Owner.from_body(owner_body)
    scheduled_spec = SegmentationRunSpec.model_validate(owner_body["spec"])
    scheduled = adopted(
        build_segmentation_application(owner, scheduled_spec, SETTINGS, config_hash="x"), owner_body
    )
    object_validator.check(scheduled)
    assert scheduled["kind"] == "ScheduledSparkApplication"
    assert scheduled["spec"]["schedule"] == "0 4 * * *"
    assert scheduled["spec"]["concurrencyPolicy"] == "Forbid"
    template = scheduled["spec"]["template"]
    assert template["arguments"] == ["segment", "run", "-f", "/etc/ecap/resources.yaml", "--lake", "/lake"]
    assert template["restartPolicy"]["type"] == "OnFailure"

    batch_spec = SegmentationRunSpec.model_validate({**owner_body["spec"], "schedule": None})
    batch = adopted(build_segmentation_application(owner, batch_spec, SETTINGS, config_hash="x"), owner_body)
    object_validator.check(batch)
    assert batch["kind"] == "SparkApplication"
    assert batch["spec"]["restartPolicy"]["type"] in ("Never", "OnFailure")
    env = {e["name"]: e["value"] for e in batch["spec"]["driver"]["env"]}
    assert env["ECAP_RESOURCE_KIND"] == "SegmentationRun" and env["ECAP_RESOURCE_NAME"] == "nightly-rfm-clv"


def test_delta_table_job_and_cronjob(object_validator: ObjectValidator) -> None:
    owner_body = body("DeltaTable", "transactions-table")
    owner = Owner.from_body(owner_body)
    spec = DeltaTableSpec.model_validate(owner_body["spec"])
    job = adopted(build_apply_job(owner, spec, SETTINGS, config_hash="0123456789abcdef"), owner_body)
    cron = build_maintain_cronjob(owner, spec, SETTINGS, config_hash="0123456789abcdef")
    assert cron is not None
    cron = adopted(cron, owner_body)
    for child in (job, cron):
        object_validator.check(child)
        assert_owned(child, owner_body)
        assert_labels(child, "DeltaTable", "transactions-table")
    assert job["metadata"]["name"] == "transactions-table-apply-01234567"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == [
        "table",
        "apply",
        "-f",
        "/etc/ecap/resources.yaml",
    ]
    assert cron["spec"]["schedule"] == "0 3 * * *"
    assert cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"] == [
        "table",
        "maintain",
        "-f",
        "/etc/ecap/resources.yaml",
    ]
    no_maintenance = DeltaTableSpec.model_validate({**owner_body["spec"], "maintenance": None})
    assert build_maintain_cronjob(owner, no_maintenance, SETTINGS, config_hash="x") is None
    switched_off = DeltaTableSpec.model_validate(
        {**owner_body["spec"], "maintenance": {**owner_body["spec"]["maintenance"], "enabled": False}}
    )
    assert build_maintain_cronjob(owner, switched_off, SETTINGS, config_hash="x") is None


@pytest.mark.parametrize("length", [40, 63, 200])
def test_long_names_still_validate(object_validator: ObjectValidator, length: int) -> None:
    owner_body = body("DeltaTable", "transactions-table")
    owner_body["metadata"]["name"] = ("t" * (length - 2)) + "-x"
    owner = Owner.from_body(owner_body)
    spec = DeltaTableSpec.model_validate(owner_body["spec"])
    cron = build_maintain_cronjob(owner, spec, SETTINGS, config_hash="x")
    assert cron is not None and len(cron["metadata"]["name"]) <= 52
    job = build_apply_job(owner, spec, SETTINGS, config_hash="0123456789abcdef")
    assert len(job["metadata"]["name"]) <= 63
    for child in (cron, job):
        object_validator.check(child)
        assert len(child["metadata"]["labels"]["ecap.io/name"]) <= 63


def test_validator_catches_mistakes(object_validator: ObjectValidator) -> None:
    """The checks above can fail: a typo in a built-in or an upstream kind is reported."""
    _, deployment, _ = producer_children()
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    assert object_validator.errors(deployment)
    owner_body = body("StreamingPipeline")
    app = build_pipeline_application(
        Owner.from_body(owner_body),
        StreamingPipelineSpec.model_validate(owner_body["spec"]),
        SETTINGS,
        cluster_namespace=NAMESPACE,
        config_hash="h",
    )
    app["spec"]["driver"]["memoryy"] = "1g"
    assert object_validator.errors(app)
    app["spec"]["driver"].pop("memoryy")
    app["spec"]["restartPolicy"]["type"] = "Sometimes"
    assert object_validator.errors(app)
