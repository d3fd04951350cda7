"""``KafkaTopic``: a topic with its partitions, replication and retention, reconciled into Strimzi."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from .common import ApiModel, BaseStatus, DeletionPolicy

TOPIC_NAME = r"^[a-zA-Z0-9._-]{1,249}$"


class KafkaTopicSpec(ApiModel):
    topic_name: Annotated[str | None, Field(pattern=TOPIC_NAME)] = None
    """Name on the broker; defaults to the resource name (which cannot hold dots or capitals)."""
    partitions: Annotated[int, Field(ge=1, le=10000)] = 1
    replicas: Annotated[int, Field(ge=1, le=32)] = 1
    retention_ms: Annotated[int, Field(ge=-1)] = 604_800_000
    """How long records are kept; -1 keeps them forever."""
    cleanup_policy: Literal["delete", "compact", "compact,delete"] = "delete"
    compression_type: Literal["producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"] = "producer"
    max_message_bytes: Annotated[int | None, Field(ge=1024, le=104_857_600)] = None
    min_insync_replicas: Annotated[int | None, Field(ge=1, le=32)] = None
    config: dict[str, str] = Field(default_factory=dict)
    """Any further Kafka topic configs, passed through as-is (e.g. ``segment.bytes``)."""
    cluster: Annotated[str | None, Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")] = None
    """Strimzi ``Kafka`` cluster name; defaults to the operator's setting."""
    cluster_namespace: Annotated[str | None, Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")] = None
    """Namespace of the Strimzi cluster; defaults to the operator's setting, then to this namespace."""
    dead_letter: bool = False
    """Marks this topic as a dead-letter topic (informational; DLQs are ordinary topics)."""
    deletion_policy: DeletionPolicy = DeletionPolicy.RETAIN
    """Retain keeps the broker topic and its records when this resource is deleted."""

    def kafka_configs(self) -> dict[str, str]:
        """The topic configs as Kafka names them; explicit fields win over ``config``."""
        configs = dict(self.config)
        configs["retention.ms"] = str(self.retention_ms)
        configs["cleanup.policy"] = self.cleanup_policy
        configs["compression.type"] = self.compression_type
        if self.max_message_bytes is not None:
            configs["max.message.bytes"] = str(self.max_message_bytes)
        if self.min_insync_replicas is not None:
            configs["min.insync.replicas"] = str(self.min_insync_replicas)
        return configs


class KafkaTopicStatus(BaseStatus):
    topic_name: str | None = None
    partitions: int | None = None
    replicas: int | None = None
    topic_namespace: str | None = None
    """Namespace of the Strimzi KafkaTopic as last placed: a move to another clusterNamespace lets it go."""
