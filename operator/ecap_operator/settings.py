"""Runtime configuration of the operator, from ``ECAP_OPERATOR_*`` environment variables (see the chart)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_JOBS_IMAGE = "ghcr.io/ecap/ecap-jobs:0.1.0"
DEFAULT_PRODUCER_IMAGE = "ghcr.io/ecap/ecap-operator:0.1.0"  # the operator image runs `ecap produce` too


class OperatorSettings(BaseSettings):
    """Defaults that the custom resources may override per object (image, Strimzi cluster, ...)."""

    model_config = SettingsConfigDict(env_prefix="ECAP_OPERATOR_", frozen=True, extra="ignore")

    namespace: str | None = None
    """Namespace the operator itself runs in (informational; set from the downward API)."""
    strimzi_cluster: Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")] = "ecap-kafka"
    """Strimzi ``Kafka`` cluster for KafkaTopics whose spec names none (the ``strimzi.io/cluster`` label)."""
    strimzi_namespace: str | None = None
    """Namespace of the Strimzi cluster; empty means each KafkaTopic's own namespace."""
    bootstrap_servers: str | None = None
    """Bootstrap servers given to workloads whose spec sets none; default ``<cluster>-kafka-bootstrap``."""
    producer_image: str = DEFAULT_PRODUCER_IMAGE
    """Image of DataProducer pods (no Spark needed); its entrypoint is ``ecap``."""
    jobs_image: str = DEFAULT_JOBS_IMAGE
    """Image of Spark applications and table Jobs; its entrypoint runs ``ecap`` or Spark's driver/executor."""
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    spark_service_account: str = "ecap-spark"
    """Service account of Spark drivers when the resource's spec.spark.serviceAccount is the default."""
    spark_main_file: str = "local:///opt/ecap/spark_main.py"
    """Python file in the jobs image that spark-submit runs; it calls ``ecap.cli.main`` with the arguments."""
    lake_claim: str | None = None
    """PersistentVolumeClaim mounted at a local (``/...``) lake path in jobs and Spark pods."""
    timer_interval: Annotated[float, Field(gt=0)] = 30.0
    """Seconds between operator-wide resyncs: every object listed, drift repaired, status refreshed."""
    timer_initial_delay: Annotated[float, Field(ge=0)] = 10.0
    retry_delay: Annotated[int, Field(ge=1)] = 15
    """Seconds before a handler waiting on a dependency (a missing KafkaTopic) tries again."""
    workers: Annotated[int, Field(ge=1)] = 32
    """Threads running the (synchronous) reconcile handlers; kopf's default is the CPU count plus four,
    which a burst of objects with their timers and child events keeps busy."""
    metrics_port: Annotated[int, Field(ge=0, le=65535)] = 0
    """Port of the operator's Prometheus metrics; 0 disables the endpoint."""
    finalizer: str = "ecap.io/finalizer"
    sched_batch: bool = True
    """Run as a batch (throughput) process for the kernel's scheduler (``main.schedule_as_batch``)."""


def load_settings() -> OperatorSettings:
    """Read the settings from the environment (a function, so tests can set env vars first)."""
    return OperatorSettings()
