"""StreamingPipeline and SegmentationRun -> Spark Operator ``sparkoperator.k8s.io/v1beta2`` applications."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Final

from ..api import SegmentationRunSpec, StreamingPipelineSpec
from ..api.common import SparkSettings
from ..labels import CONFIG_HASH_ANNOTATION, fit, selector_labels
from ..settings import OperatorSettings
from .common import (
    RESOURCES_FILE,
    Manifest,
    Mounts,
    Owner,
    container_security_context,
    env_list,
    kafka_env,
    object_meta,
    pod_security_context,
    resource_env,
    workload_mounts,
)
from .resources_configmap import configmap_name

SPARK_API_VERSION: Final = "sparkoperator.k8s.io/v1beta2"
PIPELINE_COMPONENT: Final = "streaming-pipeline"
SEGMENTATION_COMPONENT: Final = "segmentation"

# Streaming queries run until stopped: restart them whenever they end.
STREAMING_RESTART: Final[Manifest] = {
    "type": "Always",
    "onFailureRetryInterval": 10,
    "onSubmissionFailureRetryInterval": 20,
}
# A batch run is retried a few times on failure, then reported as FAILED.
BATCH_RESTART: Final[Manifest] = {
    "type": "OnFailure",
    "onFailureRetries": 2,
    "onFailureRetryInterval": 30,
    "onSubmissionFailureRetries": 3,
    "onSubmissionFailureRetryInterval": 30,
}


def spark_app_name(owner_name: str) -> str:
    """Spark Operator derives ``<app>-driver`` and ``<app>-ui-svc`` (63-character names) from it."""
    return fit(owner_name, 50)


def checkpoint_location(spec: StreamingPipelineSpec, owner: Owner) -> str:
    """The spec's location, else ``<lake>/_checkpoints/<namespace>/<name>`` (the query's identity)."""
    return spec.checkpoint_location or f"{spec.lake.rstrip('/')}/_checkpoints/{owner.namespace}/{owner.name}"


def service_account(spark: SparkSettings, settings: OperatorSettings) -> str:
    """The spec's account when set explicitly, else the operator's (the chart's Spark account)."""
    return (
        spark.service_account
        if "service_account" in spark.model_fields_set
        else settings.spark_service_account
    )


def build_spark_spec(
    owner: Owner,
    spark: SparkSettings,
    settings: OperatorSettings,
    *,
    component: str,
    arguments: Sequence[str],
    env: Mapping[str, str],
    mounts: Mounts,
    restart_policy: Mapping[str, object],
    config_hash: str,
) -> Manifest:
    """The SparkApplication spec: Python, cluster mode, our jobs image running ``ecap <arguments>``."""
    pod_labels = {
        **object_meta(owner, "", component)["labels"],
        **selector_labels(owner.kind, owner.name, component),
    }
    pod_annotations = {CONFIG_HASH_ANNOTATION: config_hash}
    common: Manifest = {
        "labels": pod_labels,
        "annotations": pod_annotations,
        "env": env_list(env),
        "volumeMounts": mounts.mounts,
        "podSecurityContext": pod_security_context(),
        # Spark writes scratch files outside /tmp too, so the root filesystem stays writable.
        "securityContext": container_security_context(read_only_root=False),
    }
    return {
        "type": "Python",
        "pythonVersion": "3",
        "mode": "cluster",
        "image": spark.image or settings.jobs_image,
        "imagePullPolicy": settings.image_pull_policy,
        "mainApplicationFile": settings.spark_main_file,
        "arguments": list(arguments),
        "sparkVersion": spark.spark_version,
        "sparkConf": dict(spark.conf),
        "restartPolicy": dict(restart_policy),
        "volumes": mounts.volumes,
        # Separate copies: driver and executor must not share (and alias) nested objects.
        "driver": {
            **copy.deepcopy(common),
            "cores": spark.driver.cores,
            "memory": spark.driver.memory,
            "serviceAccount": service_account(spark, settings),
        },
        "executor": {
            **copy.deepcopy(common),
            "instances": spark.executor.instances,
            "cores": spark.executor.cores,
            "memory": spark.executor.memory,
        },
    }


# The driver serves the pipeline's Prometheus metrics here; the chart's PodMonitor scrapes the port by name.
PIPELINE_METRICS_PORT: Final = 9108
METRICS_PORT_NAME: Final = "metrics"


def pipeline_arguments(spec: StreamingPipelineSpec, owner: Owner) -> list[str]:
    """``ecap pipeline run -f /etc/ecap/resources.yaml --lake L --checkpoint C --metrics-port P``."""
    return [
        "pipeline",
        "run",
        "-f",
        RESOURCES_FILE,
        "--lake",
        spec.lake,
        "--checkpoint",
        checkpoint_location(spec, owner),
        "--metrics-port",
        str(PIPELINE_METRICS_PORT),
    ]


def build_pipeline_application(
    owner: Owner,
    spec: StreamingPipelineSpec,
    settings: OperatorSettings,
    *,
    cluster_namespace: str,
    config_hash: str,
) -> Manifest:
    """The streaming SparkApplication (restartPolicy Always) running ``ecap pipeline run``."""
    env = {
        **resource_env(owner),
        **kafka_env(spec.kafka, settings, cluster_namespace),
        "ECAP_LAKE": spec.lake,
        "ECAP_CHECKPOINT_LOCATION": checkpoint_location(spec, owner),
    }
    mounts = workload_mounts(configmap_name(owner.name), spec.kafka, settings, lake=spec.lake, scratch=False)
    app_spec = build_spark_spec(
        owner,
        spec.spark,
        settings,
        component=PIPELINE_COMPONENT,
        arguments=pipeline_arguments(spec, owner),
        env=env,
        mounts=mounts,
        restart_policy=STREAMING_RESTART,
        config_hash=config_hash,
    )
    app_spec["driver"]["ports"] = [
        {"name": METRICS_PORT_NAME, "containerPort": PIPELINE_METRICS_PORT, "protocol": "TCP"}
    ]
    return {
        "apiVersion": SPARK_API_VERSION,
        "kind": "SparkApplication",
        "metadata": object_meta(owner, spark_app_name(owner.name), PIPELINE_COMPONENT),
        "spec": app_spec,
    }


def segmentation_arguments(spec: SegmentationRunSpec) -> list[str]:
    return ["segment", "run", "-f", RESOURCES_FILE, "--lake", spec.lake]


def build_segmentation_application(
    owner: Owner, spec: SegmentationRunSpec, settings: OperatorSettings, *, config_hash: str
) -> Manifest:
    """A one-off batch SparkApplication, or a ScheduledSparkApplication when ``spec.schedule`` is set.

    The job itself writes its figures (customers, segments, meanClv, runId) into the resource's status,
    found through ECAP_RESOURCE_*.
    """
    env = {**resource_env(owner), "ECAP_LAKE": spec.lake}
    mounts = workload_mounts(configmap_name(owner.name), None, settings, lake=spec.lake, scratch=False)
    app_spec = build_spark_spec(
        owner,
        spec.spark,
        settings,
        component=SEGMENTATION_COMPONENT,
        arguments=segmentation_arguments(spec),
        env=env,
        mounts=mounts,
        restart_policy=BATCH_RESTART,
        config_hash=config_hash,
    )
    meta = object_meta(owner, spark_app_name(owner.name), SEGMENTATION_COMPONENT)
    if spec.schedule is None:
        return {
            "apiVersion": SPARK_API_VERSION,
            "kind": "SparkApplication",
            "metadata": meta,
            "spec": app_spec,
        }
    return {
        "apiVersion": SPARK_API_VERSION,
        "kind": "ScheduledSparkApplication",
        "metadata": meta,
        "spec": {
            "schedule": spec.schedule,
            "timeZone": "UTC",
            "concurrencyPolicy": "Forbid",
            "successfulRunHistoryLimit": 3,
            "failedRunHistoryLimit": 3,
            "template": app_spec,
        },
    }
