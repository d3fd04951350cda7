"""The five kinds as one registry, and the loader every ``ecap ... -f FILE`` command uses."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Generic, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from .common import API_VERSION, BaseStatus
from .data_producer import DataProducerSpec, DataProducerStatus
from .delta_table import DeltaTableSpec, DeltaTableStatus
from .kafka_topic import KafkaTopicSpec, KafkaTopicStatus
from .segmentation_run import SegmentationRunSpec, SegmentationRunStatus
from .streaming_pipeline import StreamingPipelineSpec, StreamingPipelineStatus


@dataclass(frozen=True)
class Kind:
    kind: str
    plural: str
    short_names: tuple[str, ...]
    spec: type[BaseModel]
    status: type[BaseStatus]
    description: str


KINDS: Final[dict[str, Kind]] = {
    k.kind: k
    for k in (
        Kind(
            "KafkaTopic",
            "kafkatopics",
            ("ekt",),
            KafkaTopicSpec,
            KafkaTopicStatus,
            "A Kafka topic, reconciled into a Strimzi KafkaTopic.",
        ),
        Kind(
            "DataProducer",
            "dataproducers",
            ("dp",),
            DataProducerSpec,
            DataProducerStatus,
            "A synthetic shop emitting events to Kafka, run as a Deployment.",
        ),
        Kind(
            "StreamingPipeline",
            "streamingpipelines",
            ("sp", "pipeline"),
            StreamingPipelineSpec,
            StreamingPipelineStatus,
            "Kafka to Delta streaming analytics, run as a SparkApplication.",
        ),
        Kind(
            "DeltaTable",
            "deltatables",
            ("dt",),
            DeltaTableSpec,
            DeltaTableStatus,
            "A managed Delta Lake table with scheduled maintenance.",
        ),
        Kind(
            "SegmentationRun",
            "segmentationruns",
            ("seg",),
            SegmentationRunSpec,
            SegmentationRunStatus,
            "RFM segmentation and customer lifetime value, run as a Spark batch job.",
        ),
    )
}

SpecT = TypeVar("SpecT", bound=BaseModel)


class ResourceError(ValueError):
    """A resource file or object that cannot be used; the message names the resource and field."""


@dataclass(frozen=True)
class Resource(Generic[SpecT]):
    """One parsed custom resource: its identity and its validated spec."""

    kind: str
    name: str
    namespace: str
    spec: SpecT
    raw: dict[str, Any]

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.name}"


def describe_validation_error(where: str, err: ValidationError) -> str:
    """One line per problem: ``KafkaTopic/orders: spec.partitions: Input should be ...``."""
    lines = []
    for problem in err.errors():
        field = ".".join(str(p) for p in problem["loc"])
        lines.append(
            f"{where}: spec.{field}: {problem['msg']}" if field else f"{where}: spec: {problem['msg']}"
        )
    return "\n".join(lines)


def parse_resource(obj: dict[str, Any], source: str = "<object>") -> Resource[BaseModel]:
    """Validate one manifest dict of an ECAP kind; raise ResourceError naming resource and field."""
    if not isinstance(obj, dict):
        raise ResourceError(f"{source}: expected a mapping, got {type(obj).__name__}")
    kind = obj.get("kind")
    meta = obj.get("metadata") or {}
    name = meta.get("name") if isinstance(meta, dict) else None
    where = f"{source}: {kind or '<no kind>'}/{name or '<no name>'}"
    if obj.get("apiVersion") != API_VERSION:
        raise ResourceError(f"{where}: apiVersion must be {API_VERSION!r}, got {obj.get('apiVersion')!r}")
    if kind not in KINDS:
        raise ResourceError(f"{where}: unknown kind {kind!r}; ECAP kinds are {', '.join(KINDS)}")
    if not name:
        raise ResourceError(f"{where}: metadata.name is required")
    try:
        spec = KINDS[kind].spec.model_validate(obj.get("spec") or {})
    except ValidationError as err:
        raise ResourceError(describe_validation_error(where, err)) from None
    return Resource(kind=kind, name=name, namespace=meta.get("namespace") or "default", spec=spec, raw=obj)


def load_resources(path: str | Path, kinds: Iterable[str] | None = None) -> list[Resource[BaseModel]]:
    """Every ECAP resource in a multi-document YAML file, validated, optionally filtered by kind.

    Documents of other API groups (e.g. a Namespace or Secret next to ours) are skipped; a document
    that claims our group but is invalid fails the whole load before anything starts.
    """
    path = Path(path)
    try:
        docs = list(yaml.safe_load_all(path.read_text()))
    except FileNotFoundError:
        raise ResourceError(f"{path}: no such file") from None
    except yaml.YAMLError as err:
        raise ResourceError(f"{path}: not valid YAML: {err}") from None
    wanted = set(kinds) if kinds is not None else None
    out: list[Resource[BaseModel]] = []
    seen: set[tuple[str, str, str]] = set()
    for index, doc in enumerate(docs):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise ResourceError(f"{path}: document {index + 1} is not a mapping")
        api_version = str(doc.get("apiVersion", ""))
        if not api_version.startswith("ecap.io/"):
            continue
        res = parse_resource(doc, source=str(path))
        key = (res.kind, res.namespace, res.name)
        if key in seen:
            raise ResourceError(f"{path}: {res.ref} is declared twice")
        seen.add(key)
        if wanted is None or res.kind in wanted:
            out.append(res)
    return out


def check_references(resources: list[Resource[BaseModel]]) -> None:
    """Fail when a producer or pipeline names a KafkaTopic the file does not declare."""
    topics = {(r.namespace, r.name) for r in resources if r.kind == "KafkaTopic"}
    for res in resources:
        refs: dict[str, str] = {}
        if isinstance(res.spec, DataProducerSpec):
            refs = {f"topics.{k}": v for k, v in res.spec.topics.model_dump(by_alias=True).items() if v}
        elif isinstance(res.spec, StreamingPipelineSpec):
            refs = {f"sources.{k}": v for k, v in res.spec.sources.model_dump(by_alias=True).items() if v}
            refs |= {f"sinks.{k}": v for k, v in res.spec.sinks.model_dump(by_alias=True).items() if v}
        for field, ref in refs.items():
            if (res.namespace, ref) not in topics:
                raise ResourceError(
                    f"{res.ref}: spec.{field}: KafkaTopic {ref!r} "
                    f"is not declared in namespace {res.namespace!r}"
                )


def topic_name(resources: list[Resource[BaseModel]], namespace: str, ref: str) -> str:
    """The broker topic name behind a ``KafkaTopic`` reference (``topicName`` or the resource name)."""
    for res in resources:
        if res.kind == "KafkaTopic" and res.namespace == namespace and res.name == ref:
            assert isinstance(res.spec, KafkaTopicSpec)  # noqa: S101 - guaranteed by kind
            return res.spec.topic_name or res.name
    raise ResourceError(f"KafkaTopic {ref!r} is not declared in namespace {namespace!r}")
