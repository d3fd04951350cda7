"""ecap.io KafkaTopic -> Strimzi ``kafka.strimzi.io/v1beta2`` KafkaTopic."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ..api import DeletionPolicy, KafkaTopicSpec
from ..labels import OWNER_ANNOTATION, OWNER_NAMESPACE_KEY, label_value
from ..settings import OperatorSettings
from .common import Manifest, Owner, object_meta

STRIMZI_API_VERSION: Final = "kafka.strimzi.io/v1beta2"
STRIMZI_CLUSTER_LABEL: Final = "strimzi.io/cluster"


@dataclass(frozen=True)
class TopicPlacement:
    """Where the Strimzi KafkaTopic lives and under which name."""

    cluster: str
    namespace: str
    name: str
    topic_name: str

    def owned_by_reference(self, owner: Owner, spec: KafkaTopicSpec | None = None) -> bool:
        """Only a child in the owner's namespace can carry an ownerReference (and be garbage-collected), and
        only one whose data may go with its owner (deletionPolicy Delete, when ``spec`` is given): a
        retained topic is claimed instead, so the collector never takes it (no finalizer needed)."""
        deletable = spec is None or spec.deletion_policy == DeletionPolicy.DELETE
        return self.namespace == owner.namespace and deletable


def place_topic(owner: Owner, spec: KafkaTopicSpec, settings: OperatorSettings) -> TopicPlacement:
    """Cluster and namespace from the spec, then the operator's settings, then the resource's namespace.

    In another namespace the Strimzi object is named ``<namespace>.<name>`` (namespaces hold no dots, so
    two ecap.io namespaces never collide); in the same namespace it has the resource's name.
    """
    namespace = spec.cluster_namespace or settings.strimzi_namespace or owner.namespace
    name = owner.name if namespace == owner.namespace else f"{owner.namespace}.{owner.name}"
    return TopicPlacement(
        cluster=spec.cluster or settings.strimzi_cluster,
        namespace=namespace,
        name=name,
        topic_name=spec.topic_name or owner.name,
    )


def build_strimzi_topic(owner: Owner, spec: KafkaTopicSpec, placement: TopicPlacement) -> Manifest:
    """The Strimzi KafkaTopic: partitions, replicas, Kafka configs, and the strimzi.io/cluster label."""
    meta = object_meta(owner, placement.name, "topic", namespace=placement.namespace)
    meta["labels"][STRIMZI_CLUSTER_LABEL] = placement.cluster
    if not placement.owned_by_reference(owner, spec):
        # A cross-namespace or retained child is not owned by reference: claim it with a label and annotation.
        meta["labels"][OWNER_NAMESPACE_KEY] = label_value(owner.namespace)
        meta.setdefault("annotations", {})[OWNER_ANNOTATION] = f"{owner.namespace}/{owner.name}"
    return {
        "apiVersion": STRIMZI_API_VERSION,
        "kind": "KafkaTopic",
        "metadata": meta,
        "spec": {
            "topicName": placement.topic_name,
            "partitions": spec.partitions,
            "replicas": spec.replicas,
            "config": spec.kafka_configs(),
        },
    }
