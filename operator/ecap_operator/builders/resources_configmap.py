"""The ``<name>-ecap`` ConfigMap: the resource and the KafkaTopics it references, as the pod reads them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml
from pydantic import BaseModel

from ..api import API_VERSION, to_wire
from ..labels import child_name
from .common import Manifest, Owner, object_meta


def resource_document(kind: str, name: str, namespace: str, spec: BaseModel) -> Manifest:
    """One resource as ``load_resources`` reads it: identity and the validated spec, nothing else."""
    return {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": to_wire(spec),
    }


def configmap_name(owner_name: str) -> str:
    return child_name(owner_name, "ecap")


def render_resources(documents: Sequence[Mapping[str, Any]]) -> str:
    return yaml.safe_dump_all([dict(d) for d in documents], sort_keys=False)


def build_resources_configmap(owner: Owner, spec: BaseModel, topics: Sequence[Manifest] = ()) -> Manifest:
    """The ConfigMap holding resources.yaml: the resource first, then every KafkaTopic it references."""
    documents = [resource_document(owner.kind, owner.name, owner.namespace, spec), *topics]
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": object_meta(owner, configmap_name(owner.name), "config"),
        "data": {"resources.yaml": render_resources(documents)},
    }
