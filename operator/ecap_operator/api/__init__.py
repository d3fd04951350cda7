"""The ``ecap.io/v1alpha1`` API: pydantic models that are the only source of the CRD schemas.

Nothing here imports kopf or a Kubernetes client, so the jobs can read the same resources.
"""

from .common import (
    API_VERSION,
    GROUP,
    VERSION,
    BaseStatus,
    Condition,
    ConditionStatus,
    ConditionType,
    DeletionPolicy,
    KafkaConnection,
    Phase,
    to_wire,
)
from .data_producer import DataProducerSpec, DataProducerStatus
from .delta_table import Column, DeltaTableSpec, DeltaTableStatus
from .kafka_topic import KafkaTopicSpec, KafkaTopicStatus
from .resources import (
    KINDS,
    Kind,
    Resource,
    ResourceError,
    check_references,
    load_resources,
    parse_resource,
    topic_name,
)
from .segmentation_run import SegmentationRunSpec, SegmentationRunStatus
from .streaming_pipeline import StreamingPipelineSpec, StreamingPipelineStatus

__all__ = [
    "API_VERSION",
    "GROUP",
    "KINDS",
    "VERSION",
    "BaseStatus",
    "Column",
    "Condition",
    "ConditionStatus",
    "ConditionType",
    "DataProducerSpec",
    "DataProducerStatus",
    "DeletionPolicy",
    "DeltaTableSpec",
    "DeltaTableStatus",
    "KafkaConnection",
    "KafkaTopicSpec",
    "KafkaTopicStatus",
    "Kind",
    "Phase",
    "Resource",
    "ResourceError",
    "SegmentationRunSpec",
    "SegmentationRunStatus",
    "StreamingPipelineSpec",
    "StreamingPipelineStatus",
    "check_references",
    "load_resources",
    "parse_resource",
    "topic_name",
    "to_wire",
]
