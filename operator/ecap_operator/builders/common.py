"""Pieces every builder shares: the owner's identity, metadata, hardened security, env and volumes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from ..api import API_VERSION, KafkaConnection
from ..api.common import Resources
from ..labels import child_annotations, child_labels
from ..settings import OperatorSettings

Manifest = dict[str, Any]

CONFIG_DIR: Final = "/etc/ecap"
RESOURCES_FILE: Final = f"{CONFIG_DIR}/resources.yaml"
KAFKA_SECRET_DIR: Final = f"{CONFIG_DIR}/kafka"
CONFIG_VOLUME: Final = "ecap-resources"
KAFKA_VOLUME: Final = "kafka-credentials"
LAKE_VOLUME: Final = "lake"
TMP_VOLUME: Final = "tmp"
RUN_AS: Final = 10001


@dataclass(frozen=True)
class Owner:
    """The identity of the ecap.io object whose children are being built."""

    kind: str
    name: str
    namespace: str
    uid: str = ""
    generation: int | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Owner:
        meta = body.get("metadata") or {}
        return cls(
            kind=str(body["kind"]),
            name=str(meta["name"]),
            namespace=str(meta.get("namespace") or "default"),
            uid=str(meta.get("uid") or ""),
            generation=meta.get("generation"),
            labels=dict(meta.get("labels") or {}),
            annotations=dict(meta.get("annotations") or {}),
        )

    def reference(self) -> dict[str, Any]:
        """A minimal body for ``kopf.adopt``: what an ownerReference needs."""
        return {
            "apiVersion": API_VERSION,
            "kind": self.kind,
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "uid": self.uid,
                "labels": dict(self.labels),
            },
        }


def object_meta(owner: Owner, name: str, component: str, namespace: str | None = None) -> Manifest:
    meta: Manifest = {
        "name": name,
        "namespace": namespace or owner.namespace,
        "labels": child_labels(owner.kind, owner.name, component, owner.labels),
    }
    annotations = child_annotations(owner.annotations)
    if annotations:
        meta["annotations"] = annotations
    return meta


def content_hash(*parts: Any) -> str:
    """A stable digest of JSON-able values: changes when (and only when) the inputs change."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def pod_security_context() -> Manifest:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS,
        "runAsGroup": RUN_AS,
        "fsGroup": RUN_AS,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context(read_only_root: bool = True) -> Manifest:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": read_only_root,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }


def container_resources(resources: Resources) -> Manifest:
    """Requests from the spec; the memory limit defaults to the request (no overcommit of memory)."""
    limits: dict[str, str] = {"memory": resources.memory_limit or resources.memory}
    if resources.cpu_limit:
        limits["cpu"] = resources.cpu_limit
    return {"requests": {"cpu": resources.cpu, "memory": resources.memory}, "limits": limits}


def env_list(values: Mapping[str, str]) -> list[Manifest]:
    return [{"name": k, "value": v} for k, v in values.items()]


def resource_env(owner: Owner) -> dict[str, str]:
    """ECAP_RESOURCE_*: which custom resource a workload reports its status to."""
    return {
        "ECAP_RESOURCE_KIND": owner.kind,
        "ECAP_RESOURCE_NAMESPACE": owner.namespace,
        "ECAP_RESOURCE_NAME": owner.name,
    }


def bootstrap_servers(kafka: KafkaConnection, settings: OperatorSettings, cluster_namespace: str) -> str:
    """The spec's servers, else the operator's default, else the Strimzi bootstrap Service."""
    if kafka.bootstrap_servers:
        return kafka.bootstrap_servers
    if settings.bootstrap_servers:
        return settings.bootstrap_servers
    return f"{settings.strimzi_cluster}-kafka-bootstrap.{cluster_namespace}.svc:9092"


def kafka_env(kafka: KafkaConnection, settings: OperatorSettings, cluster_namespace: str) -> dict[str, str]:
    env = {"ECAP_BOOTSTRAP_SERVERS": bootstrap_servers(kafka, settings, cluster_namespace)}
    if kafka.credentials_secret is not None:
        env["ECAP_KAFKA_SECRET_DIR"] = KAFKA_SECRET_DIR
    return env


@dataclass(frozen=True)
class Mounts:
    """Volumes of a workload pod and where its containers mount them."""

    volumes: list[Manifest]
    mounts: list[Manifest]


def workload_mounts(
    configmap: str,
    kafka: KafkaConnection | None,
    settings: OperatorSettings,
    lake: str | None = None,
    scratch: bool = True,
) -> Mounts:
    """resources.yaml from the ConfigMap, Kafka credentials from the Secret, the lake claim, /tmp."""
    volumes: list[Manifest] = [
        {
            "name": CONFIG_VOLUME,
            "configMap": {"name": configmap, "items": [{"key": "resources.yaml", "path": "resources.yaml"}]},
        }
    ]
    mounts: list[Manifest] = [
        {"name": CONFIG_VOLUME, "mountPath": RESOURCES_FILE, "subPath": "resources.yaml", "readOnly": True}
    ]
    if kafka is not None and kafka.credentials_secret is not None:
        volumes.append({"name": KAFKA_VOLUME, "secret": {"secretName": kafka.credentials_secret.name}})
        mounts.append({"name": KAFKA_VOLUME, "mountPath": KAFKA_SECRET_DIR, "readOnly": True})
    if lake is not None and settings.lake_claim and lake.startswith("/"):
        volumes.append({"name": LAKE_VOLUME, "persistentVolumeClaim": {"claimName": settings.lake_claim}})
        mounts.append({"name": LAKE_VOLUME, "mountPath": lake})
    if scratch:
        volumes.append({"name": TMP_VOLUME, "emptyDir": {"sizeLimit": "1Gi"}})
        mounts.append({"name": TMP_VOLUME, "mountPath": "/tmp"})  # noqa: S108 - an emptyDir, not the host's
    return Mounts(volumes, mounts)


def ecap_container(
    name: str,
    image: str,
    args: Sequence[str],
    env: Mapping[str, str],
    mounts: Mounts,
    resources: Resources,
    settings: OperatorSettings,
) -> Manifest:
    """A hardened container running ``ecap <args>``: both images' entrypoint is the ``ecap`` command
    (the jobs image wraps it in tini), so only the arguments are set."""
    return {
        "name": name,
        "image": image,
        "imagePullPolicy": settings.image_pull_policy,
        "args": list(args),
        "env": env_list(env),
        "resources": container_resources(resources),
        "securityContext": container_security_context(),
        "volumeMounts": mounts.mounts,
    }
