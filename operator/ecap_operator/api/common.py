"""Building blocks shared by every ECAP kind: camelCase models, conditions, status, resources."""

from __future__ import annotations

import enum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

GROUP = "ecap.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

# DNS-1123 label: what Kubernetes accepts as the name of most objects we refer to.
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
# A Kubernetes quantity such as "500m", "2", "1Gi".
QUANTITY = r"^([0-9]+(\.[0-9]+)?)(m|k|Ki|M|Mi|G|Gi|T|Ti)?$"
# A standard five-field cron expression (or a @macro).
CRON = r"^(@(yearly|annually|monthly|weekly|daily|hourly))|((\S+\s+){4}\S+)$"


class ApiModel(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields are errors, never ignored."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        # Attribute docstrings become schema descriptions, so `kubectl explain` shows them.
        use_attribute_docstrings=True,
    )


class ConditionStatus(enum.StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class ConditionType(enum.StrEnum):
    READY = "Ready"
    PROGRESSING = "Progressing"
    DEGRADED = "Degraded"


class Phase(enum.StrEnum):
    PENDING = "Pending"
    PROGRESSING = "Progressing"
    READY = "Ready"
    SUCCEEDED = "Succeeded"
    DEGRADED = "Degraded"
    FAILED = "Failed"
    INVALID = "Invalid"


class Condition(ApiModel):
    type: ConditionType
    status: ConditionStatus
    reason: Annotated[str, Field(pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$", max_length=1024)]
    message: Annotated[str, Field(max_length=32768)] = ""
    last_transition_time: str | None = None
    observed_generation: int | None = None


class BaseStatus(ApiModel):
    """What every ECAP object reports: the generation acted on, a phase and typed conditions."""

    model_config = ConfigDict(extra="allow")

    observed_generation: int | None = None
    phase: Phase | None = None
    conditions: list[Condition] = Field(default_factory=list)


class DeletionPolicy(enum.StrEnum):
    """What happens to the data (topic records, table files) when the resource is deleted."""

    RETAIN = "Retain"
    DELETE = "Delete"


class Resources(ApiModel):
    """Kubernetes requests/limits for one container, in quantities (``500m``, ``1Gi``)."""

    cpu: Annotated[str, Field(pattern=QUANTITY)] = "500m"
    memory: Annotated[str, Field(pattern=QUANTITY)] = "512Mi"
    cpu_limit: Annotated[str | None, Field(pattern=QUANTITY)] = None
    memory_limit: Annotated[str | None, Field(pattern=QUANTITY)] = None


class SecretRef(ApiModel):
    """A Secret in the resource's namespace; its keys are mounted as files, never copied into specs."""

    name: Annotated[str, Field(pattern=DNS_LABEL, max_length=253)]


class KafkaConnection(ApiModel):
    """How a workload reaches Kafka. Credentials only ever come from a Secret reference."""

    bootstrap_servers: Annotated[str | None, Field(min_length=1)] = None
    """host:port list; defaults to the Strimzi bootstrap service (locally: the embedded broker)."""
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    credentials_secret: SecretRef | None = None
    """Secret with any of: username, password, ca.crt, user.crt, user.key."""


class SparkPodResources(ApiModel):
    cores: Annotated[int, Field(ge=1, le=64)] = 1
    memory: Annotated[str, Field(pattern=r"^[0-9]+[kmgt]$")] = "1g"


class SparkExecutors(SparkPodResources):
    instances: Annotated[int, Field(ge=1, le=1000)] = 1


class SparkSettings(ApiModel):
    """Where and how big the Spark application runs in a cluster; ignored by local runs."""

    image: str | None = None
    spark_version: Annotated[str, Field(pattern=r"^\d+\.\d+\.\d+$")] = "4.3.0"
    service_account: Annotated[str, Field(pattern=DNS_LABEL)] = "ecap-spark"
    driver: SparkPodResources = Field(default_factory=SparkPodResources)
    executor: SparkExecutors = Field(default_factory=SparkExecutors)
    conf: dict[str, str] = Field(default_factory=dict)


def to_wire(model: BaseModel) -> dict[str, Any]:
    """The camelCase JSON form that goes into a manifest or a status patch."""
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)
