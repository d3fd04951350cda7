"""Pure builders: (validated spec, owner identity, settings) -> child manifest dicts. No I/O, no clock."""

from .common import Manifest, Owner, content_hash
from .delta_table import build_apply_job, build_drop_job, build_maintain_cronjob, table_location
from .kafka_topic import TopicPlacement, build_strimzi_topic, place_topic
from .producer import build_producer_deployment, build_producer_service
from .resources_configmap import build_resources_configmap, resource_document
from .spark_app import build_pipeline_application, build_segmentation_application, checkpoint_location

__all__ = [
    "Manifest",
    "Owner",
    "TopicPlacement",
    "build_apply_job",
    "build_drop_job",
    "build_maintain_cronjob",
    "build_pipeline_application",
    "build_producer_deployment",
    "build_producer_service",
    "build_resources_configmap",
    "build_segmentation_application",
    "build_strimzi_topic",
    "checkpoint_location",
    "content_hash",
    "place_topic",
    "resource_document",
    "table_location",
]
