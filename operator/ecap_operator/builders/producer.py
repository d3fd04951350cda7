"""DataProducer -> Deployment (the synthetic shop) + metrics Service."""

from __future__ import annotations

from typing import Final

from ..api import DataProducerSpec
from ..labels import CONFIG_HASH_ANNOTATION, child_name, dns1035, selector_labels
from ..settings import OperatorSettings
from .common import (
    RESOURCES_FILE,
    Manifest,
    Owner,
    ecap_container,
    kafka_env,
    object_meta,
    pod_security_context,
    resource_env,
    workload_mounts,
)
from .resources_configmap import configmap_name

COMPONENT: Final = "producer"
METRICS_PORT_NAME: Final = "metrics"


def producer_name(owner_name: str) -> str:
    return dns1035(child_name(owner_name, COMPONENT, limit=63))


def producer_args() -> list[str]:
    """What the container runs: ``ecap produce -f /etc/ecap/resources.yaml``."""
    return ["produce", "-f", RESOURCES_FILE]


def build_producer_deployment(
    owner: Owner,
    spec: DataProducerSpec,
    settings: OperatorSettings,
    *,
    cluster_namespace: str,
    config_hash: str,
) -> Manifest:
    """The producer pods; ``config_hash`` (of resources.yaml) rolls them when the spec or a topic changes."""
    name = producer_name(owner.name)
    selector = selector_labels(owner.kind, owner.name, COMPONENT)
    env = {
        **resource_env(owner),
        **kafka_env(spec.kafka, settings, cluster_namespace),
        "ECAP_METRICS_PORT": str(spec.metrics_port),
    }
    mounts = workload_mounts(configmap_name(owner.name), spec.kafka, settings)
    container = ecap_container(
        "producer",
        spec.image or settings.producer_image,
        producer_args(),
        env,
        mounts,
        spec.resources,
        settings,
    )
    container["env"].append(
        {"name": "ECAP_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
    )
    container["ports"] = [{"name": METRICS_PORT_NAME, "containerPort": spec.metrics_port, "protocol": "TCP"}]
    container["livenessProbe"] = {
        "httpGet": {"path": "/healthz", "port": METRICS_PORT_NAME},
        "initialDelaySeconds": 10,
        "periodSeconds": 10,
        "failureThreshold": 3,
    }
    container["readinessProbe"] = {
        "httpGet": {"path": "/readyz", "port": METRICS_PORT_NAME},
        "initialDelaySeconds": 5,
        "periodSeconds": 5,
        "failureThreshold": 3,
    }
    meta = object_meta(owner, name, COMPONENT)
    pod_meta = {
        "labels": {**meta["labels"], **selector},
        "annotations": {CONFIG_HASH_ANNOTATION: config_hash},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": spec.replicas,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": pod_meta,
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": pod_security_context(),
                    "terminationGracePeriodSeconds": 30,
                    "containers": [container],
                    "volumes": mounts.volumes,
                },
            },
        },
    }


def build_producer_service(owner: Owner, spec: DataProducerSpec) -> Manifest:
    """A ClusterIP Service on the metrics port, for Prometheus (ServiceMonitor/PodMonitor) scraping."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": object_meta(owner, producer_name(owner.name), COMPONENT),
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(owner.kind, owner.name, COMPONENT),
            "ports": [
                {
                    "name": METRICS_PORT_NAME,
                    "port": spec.metrics_port,
                    "targetPort": METRICS_PORT_NAME,
                    "protocol": "TCP",
                }
            ],
        },
    }
