"""Pure reconciliation decisions: (spec, observed children) -> desired children, actions and status.

Handlers do the I/O around these functions: read what exists, call ``decide`` per child, apply the
action, then call the kind's ``status`` with the live children. Everything here is testable without an
API server or kopf running.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Final, TypeVar, cast

import kopf
from pydantic import BaseModel, ValidationError

from .api import (
    KINDS,
    BaseStatus,
    Condition,
    ConditionStatus,
    ConditionType,
    DataProducerSpec,
    DataProducerStatus,
    DeltaTableSpec,
    DeltaTableStatus,
    KafkaTopicSpec,
    KafkaTopicStatus,
    Phase,
    SegmentationRunSpec,
    SegmentationRunStatus,
    StreamingPipelineSpec,
    StreamingPipelineStatus,
    to_wire,
)
from .api.resources import describe_validation_error
from .builders import (
    Owner,
    build_apply_job,
    build_maintain_cronjob,
    build_pipeline_application,
    build_producer_deployment,
    build_producer_service,
    build_resources_configmap,
    build_segmentation_application,
    build_strimzi_topic,
    content_hash,
    place_topic,
    resource_document,
    table_location,
)
from .builders.delta_table import APPLY_COMPONENT, maintain_cronjob_name
from .builders.kafka_topic import STRIMZI_API_VERSION
from .builders.spark_app import SPARK_API_VERSION, spark_app_name
from .conditions import (
    ChildHealth,
    Health,
    Reason,
    Summary,
    cronjob_health,
    deployment_health,
    failure,
    job_health,
    missing,
    scheduled_spark_application_health,
    spark_application_health,
    spark_application_state,
    split_conditions,
    strimzi_topic_health,
    summarize,
)
from .errors import ChildConflictError, InvalidSpecError, PartitionDecreaseError, TopicNotFoundError
from .kube import ObjectRef
from .labels import (
    COMPONENT,
    INSTANCE,
    KIND_KEY,
    MANAGED_BY_KEY,
    NAME_KEY,
    OWNER_ANNOTATION,
    OWNER_NAMESPACE_KEY,
    selector_labels,
)
from .settings import OperatorSettings

Manifest = dict[str, Any]


# ---------------------------------------------------------------------------------------------------------
# Parsing at the edge


def parse_spec(kind: str, body: Mapping[str, Any]) -> BaseModel:
    """``Spec.model_validate``; an invalid spec raises InvalidSpecError naming the resource and field."""
    meta = body.get("metadata") or {}
    try:
        return KINDS[kind].spec.model_validate(body.get("spec") or {})
    except ValidationError as err:
        raise InvalidSpecError(describe_validation_error(f"{kind}/{meta.get('name')}", err)) from None


SpecT = TypeVar("SpecT", bound=BaseModel)


def valid_spec(kind: str, body: Mapping[str, Any], model: type[SpecT]) -> SpecT | None:
    """The spec, or None when it is invalid: for decisions about data, which are never taken on a guess."""
    try:
        spec = parse_spec(kind, body)
    except InvalidSpecError:
        return None
    return spec if isinstance(spec, model) else None


# ---------------------------------------------------------------------------------------------------------
# Create-or-patch decisions


class Action(enum.StrEnum):
    CREATE = "create"
    PATCH = "patch"
    KEEP = "keep"


@dataclass(frozen=True)
class Decision:
    action: Action
    body: Manifest | None = None


_QUANTITY = re.compile(r"^([0-9.]+)(m|k|Ki|M|Mi|G|Gi|T|Ti)?$")
_UNITS: Final[dict[str, Decimal]] = {
    "": Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(1000),
    "M": Decimal(1000) ** 2,
    "G": Decimal(1000) ** 3,
    "T": Decimal(1000) ** 4,
    "Ki": Decimal(1024),
    "Mi": Decimal(1024) ** 2,
    "Gi": Decimal(1024) ** 3,
    "Ti": Decimal(1024) ** 4,
}


def _quantity(value: str) -> Decimal | None:
    match = _QUANTITY.match(value)
    if match is None:
        return None
    try:
        return Decimal(match.group(1)) * _UNITS[match.group(2) or ""]
    except InvalidOperation:
        return None


def _same_scalar(desired: Any, observed: Any) -> bool:
    if desired == observed:
        return True
    if isinstance(desired, str) and isinstance(observed, str):
        # The API server normalises quantities ("0.5" -> "500m", "1024Mi" -> "1Gi").
        a, b = _quantity(desired), _quantity(observed)
        return a is not None and a == b
    return False


def contained(desired: Any, observed: Any) -> bool:
    """True when everything we set is present and equal in the live object (server defaults ignored)."""
    if isinstance(desired, Mapping):
        return isinstance(observed, Mapping) and all(
            key in observed and contained(value, observed[key]) for key, value in desired.items()
        )
    if isinstance(desired, list):
        return (
            isinstance(observed, list)
            and len(desired) == len(observed)
            and all(contained(d, o) for d, o in zip(desired, observed, strict=True))
        )
    return _same_scalar(desired, observed)


def controller_uid(obj: Mapping[str, Any]) -> str | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid"))
    return None


def claim_of(obj: Mapping[str, Any]) -> str | None:
    return ((obj.get("metadata") or {}).get("annotations") or {}).get(OWNER_ANNOTATION)


def check_ownership(desired: Mapping[str, Any], observed: Mapping[str, Any], owner: Owner) -> None:
    """Refuse to touch a child that another controller owns or another resource claims."""
    other = controller_uid(observed)
    if other is not None and other != owner.uid:
        raise ChildConflictError(
            f"{ObjectRef.of(observed)} exists and is controlled by another object (uid {other}); "
            f"delete or rename it so {owner.kind}/{owner.name} can manage it"
        )
    claim = claim_of(observed)
    wanted = claim_of(desired)
    if claim is not None and wanted is not None and claim != wanted:
        raise ChildConflictError(f"{ObjectRef.of(observed)} is claimed by {claim}, not {wanted}")


def decide(desired: Mapping[str, Any], observed: Mapping[str, Any] | None, owner: Owner) -> Decision:
    """Create what is missing, patch what drifted (by hand or by a spec change), keep the rest.

    Jobs are immutable once created (their name carries the hash of what they run), so they are never
    patched; a Job deleted by hand is created again. A child we own by reference that should no longer be
    (a KafkaTopic switched to deletionPolicy Retain) loses our reference, so the collector cannot take it.
    """
    if observed is None:
        return Decision(Action.CREATE, dict(desired))
    check_ownership(desired, observed, owner)
    unreferenced = "ownerReferences" not in (desired.get("metadata") or {})
    disowned = unreferenced and controller_uid(observed) == owner.uid
    if desired.get("kind") == "Job" or (contained(desired, observed) and not disowned):
        return Decision(Action.KEEP)
    body = {k: v for k, v in desired.items() if k not in ("status",)}
    meta = dict(body.get("metadata") or {})
    theirs = [
        ref
        for ref in (observed.get("metadata") or {}).get("ownerReferences") or []
        if not ref.get("controller") and ref.get("uid") != owner.uid
    ]
    if "ownerReferences" in meta:
        meta["ownerReferences"] = [*meta["ownerReferences"], *theirs]
    elif disowned:
        meta["ownerReferences"] = theirs
    body["metadata"] = meta
    return Decision(Action.PATCH, body)


# ---------------------------------------------------------------------------------------------------------
# Per-kind desired state


@dataclass(frozen=True)
class Context:
    """One reconciliation: the resource, its parsed spec, the settings and the time."""

    body: Mapping[str, Any]
    owner: Owner
    settings: OperatorSettings
    now: str

    @property
    def generation(self) -> int | None:
        return self.owner.generation


@dataclass(frozen=True)
class Desired:
    """Children to create or patch, and children that must not exist (stale from an earlier spec)."""

    children: list[Manifest]
    absent: list[ObjectRef] = field(default_factory=list)
    prune_selector: tuple[str, str, dict[str, str]] | None = None
    """(apiVersion, kind, labels): children with these labels that are not in ``children`` are deleted."""


def adopt(child: Manifest, owner: Owner) -> Manifest:
    """Owner reference via kopf.adopt for children in the owner's namespace (garbage-collected with it)."""
    if child["metadata"].get("namespace") == owner.namespace:
        # kopf.adopt reads apiVersion, kind and metadata (name, namespace, uid, labels): a dict will do.
        kopf.adopt(child, owner=cast(kopf.Body, owner.reference()))
    return child


def topic_refs(spec: BaseModel) -> dict[str, str]:
    """Field path -> referenced KafkaTopic name, for the kinds that reference topics."""
    if isinstance(spec, DataProducerSpec):
        return {f"topics.{k}": v for k, v in spec.topics.model_dump(by_alias=True).items() if v}
    if isinstance(spec, StreamingPipelineSpec):
        refs = {f"sources.{k}": v for k, v in spec.sources.model_dump(by_alias=True).items() if v}
        return refs | {f"sinks.{k}": v for k, v in spec.sinks.model_dump(by_alias=True).items() if v}
    return {}


def resolve_topics(
    owner: Owner, spec: BaseModel, found: Mapping[str, Mapping[str, Any] | None]
) -> dict[str, KafkaTopicSpec]:
    """The referenced ecap.io KafkaTopics' specs; a missing one raises TopicNotFoundError naming the field."""
    out: dict[str, KafkaTopicSpec] = {}
    absent = []
    for path, ref in topic_refs(spec).items():
        body = found.get(ref)
        if body is None:
            absent.append(f"spec.{path}: KafkaTopic {ref!r}")
            continue
        try:
            out[ref] = KafkaTopicSpec.model_validate(body.get("spec") or {})
        except ValidationError as err:
            raise TopicNotFoundError(
                f"spec.{path}: KafkaTopic {ref!r} is invalid: {describe_validation_error(ref, err)}"
            ) from None
    if absent:
        raise TopicNotFoundError(f"not found in namespace {owner.namespace!r}: " + "; ".join(absent))
    return out


def _topic_documents(owner: Owner, topics: Mapping[str, KafkaTopicSpec]) -> list[Manifest]:
    return [resource_document("KafkaTopic", name, owner.namespace, spec) for name, spec in topics.items()]


def _cluster_namespace(owner: Owner, topics: Mapping[str, KafkaTopicSpec], settings: OperatorSettings) -> str:
    """Where the Strimzi cluster of the first referenced topic lives (for the default bootstrap address)."""
    for name, spec in topics.items():
        return place_topic(Owner("KafkaTopic", name, owner.namespace), spec, settings).namespace
    return settings.strimzi_namespace or owner.namespace


def desired_kafka_topic(ctx: Context, spec: KafkaTopicSpec) -> Desired:
    """The Strimzi topic; owned by reference only where the collector may delete it with its owner."""
    placement = place_topic(ctx.owner, spec, ctx.settings)
    topic = build_strimzi_topic(ctx.owner, spec, placement)
    return Desired([adopt(topic, ctx.owner) if placement.owned_by_reference(ctx.owner, spec) else topic])


def former_placements(ctx: Context, spec: KafkaTopicSpec) -> list[ObjectRef]:
    """Where the Strimzi topic of this KafkaTopic lived under another ``clusterNamespace``: the namespace
    the status records (``topicNamespace``: where the operator last placed it, any namespace), the
    resource's own namespace and the operator's Strimzi namespace, wherever the spec does not place it now.
    Only topics claimed by this resource are touched there (``let_go_of``)."""
    current = place_topic(ctx.owner, spec, ctx.settings)
    recorded = (ctx.body.get("status") or {}).get("topicNamespace")
    candidates = (
        recorded if isinstance(recorded, str) else None,
        ctx.owner.namespace,
        ctx.settings.strimzi_namespace,
    )
    places = dict.fromkeys(n for n in candidates if n)
    refs = []
    for namespace in places:
        if namespace == current.namespace:
            continue
        name = (
            ctx.owner.name if namespace == ctx.owner.namespace else f"{ctx.owner.namespace}.{ctx.owner.name}"
        )
        refs.append(ObjectRef(STRIMZI_API_VERSION, "KafkaTopic", namespace, name))
    return refs


def check_partitions(spec: KafkaTopicSpec, observed: Mapping[str, Any] | None) -> None:
    """Kafka cannot remove partitions: refuse a decrease and leave the Strimzi topic as it is."""
    if observed is None:
        return
    current = (observed.get("spec") or {}).get("partitions")
    if isinstance(current, int) and spec.partitions < current:
        raise PartitionDecreaseError(
            f"spec.partitions: {spec.partitions} is below the topic's {current} partitions; Kafka cannot "
            f"remove partitions. Set partitions to {current} or more, or create a new topic"
        )


def desired_data_producer(
    ctx: Context, spec: DataProducerSpec, topics: Mapping[str, KafkaTopicSpec]
) -> Desired:
    configmap = build_resources_configmap(ctx.owner, spec, _topic_documents(ctx.owner, topics))
    digest = content_hash(configmap["data"])
    deployment = build_producer_deployment(
        ctx.owner,
        spec,
        ctx.settings,
        cluster_namespace=_cluster_namespace(ctx.owner, topics, ctx.settings),
        config_hash=digest,
    )
    service = build_producer_service(ctx.owner, spec)
    return Desired([adopt(c, ctx.owner) for c in (configmap, deployment, service)])


def desired_streaming_pipeline(
    ctx: Context, spec: StreamingPipelineSpec, topics: Mapping[str, KafkaTopicSpec]
) -> Desired:
    configmap = build_resources_configmap(ctx.owner, spec, _topic_documents(ctx.owner, topics))
    app = build_pipeline_application(
        ctx.owner,
        spec,
        ctx.settings,
        cluster_namespace=_cluster_namespace(ctx.owner, topics, ctx.settings),
        config_hash=content_hash(configmap["data"]),
    )
    return Desired([adopt(configmap, ctx.owner), adopt(app, ctx.owner)])


def desired_delta_table(ctx: Context, spec: DeltaTableSpec) -> Desired:
    configmap = build_resources_configmap(ctx.owner, spec)
    digest = content_hash(configmap["data"])
    children = [configmap, build_apply_job(ctx.owner, spec, ctx.settings, config_hash=digest)]
    cronjob = build_maintain_cronjob(ctx.owner, spec, ctx.settings, config_hash=digest)
    absent = []
    if cronjob is None:
        absent.append(
            ObjectRef("batch/v1", "CronJob", ctx.owner.namespace, maintain_cronjob_name(ctx.owner.name))
        )
    else:
        children.append(cronjob)
    return Desired(
        [adopt(c, ctx.owner) for c in children],
        absent=absent,
        prune_selector=("batch/v1", "Job", selector_labels(ctx.owner.kind, ctx.owner.name, APPLY_COMPONENT)),
    )


def desired_segmentation_run(ctx: Context, spec: SegmentationRunSpec) -> Desired:
    configmap = build_resources_configmap(ctx.owner, spec)
    app = build_segmentation_application(
        ctx.owner, spec, ctx.settings, config_hash=content_hash(configmap["data"])
    )
    other = "SparkApplication" if app["kind"] == "ScheduledSparkApplication" else "ScheduledSparkApplication"
    return Desired(
        [adopt(configmap, ctx.owner), adopt(app, ctx.owner)],
        absent=[ObjectRef(SPARK_API_VERSION, other, ctx.owner.namespace, spark_app_name(ctx.owner.name))],
    )


def stale_children(desired: Desired, listed: Sequence[Mapping[str, Any]], owner: Owner) -> list[ObjectRef]:
    """Children found by the prune selector that the current spec no longer wants (and that we own)."""
    wanted = {ObjectRef.of(c) for c in desired.children}
    return [
        ObjectRef.of(obj)
        for obj in listed
        if ObjectRef.of(obj) not in wanted and controller_uid(obj) == owner.uid
    ]


# ---------------------------------------------------------------------------------------------------------
# Status


def previous_conditions(body: Mapping[str, Any]) -> tuple[list[Condition], list[dict[str, Any]]]:
    return split_conditions((body.get("status") or {}).get("conditions"))


def status_patch(status: BaseStatus, foreign_conditions: Sequence[Mapping[str, Any]] = ()) -> Manifest:
    """The camelCase status fields to merge-patch; unset (None) fields are left out, never nulled."""
    wire = to_wire(status)
    if foreign_conditions:
        wire["conditions"] = [*wire.get("conditions", []), *foreign_conditions]
    return wire


def _live(
    children: Mapping[ObjectRef, Manifest | None], kind: str
) -> list[tuple[ObjectRef, Manifest | None]]:
    return [(ref, obj) for ref, obj in children.items() if ref.kind == kind]


def _health(
    children: Mapping[ObjectRef, Manifest | None], kind: str, fn: Callable[[Manifest], ChildHealth]
) -> list[ChildHealth]:
    return [fn(obj) if obj is not None else missing(kind, ref.name) for ref, obj in _live(children, kind)]


def error_summary(ctx: Context, err: Exception) -> Summary:
    """Conditions for a reconciliation that stopped on one of our errors."""
    table: dict[type[Exception], tuple[Reason, Phase]] = {
        InvalidSpecError: (Reason.INVALID_SPEC, Phase.INVALID),
        TopicNotFoundError: (Reason.TOPIC_NOT_FOUND, Phase.PENDING),
        PartitionDecreaseError: (Reason.PARTITION_DECREASE_REFUSED, Phase.DEGRADED),
        ChildConflictError: (Reason.CHILD_CONFLICT, Phase.FAILED),
    }
    reason, phase = table.get(type(err), (Reason.API_ERROR, Phase.DEGRADED))
    ours, _ = previous_conditions(ctx.body)
    return failure(reason, str(err), ours, ctx.generation, ctx.now, phase)


def error_status(ctx: Context, err: Exception, *, handled: bool = True) -> Manifest:
    """Phase and conditions for a reconciliation stopped by ``err``. ``handled``: the generation counts as
    observed (a permanent error); a temporary one leaves ``observedGeneration`` as it was, since the
    generation is still being worked on (and kopf keeps retrying it while it is not observed)."""
    summary = error_summary(ctx, err)
    _, foreign = previous_conditions(ctx.body)
    status = BaseStatus(
        observed_generation=ctx.generation if handled else None,
        phase=summary.phase,
        conditions=summary.conditions,
    )
    return status_patch(status, foreign)


def _summary(ctx: Context, health: Sequence[ChildHealth]) -> Summary:
    ours, _ = previous_conditions(ctx.body)
    return summarize(health, ours, ctx.generation, ctx.now)


def status_kafka_topic(
    ctx: Context, spec: KafkaTopicSpec, children: Mapping[ObjectRef, Manifest | None]
) -> Manifest:
    summary = _summary(ctx, _health(children, "KafkaTopic", strimzi_topic_health))
    placement = place_topic(ctx.owner, spec, ctx.settings)
    strimzi = next((obj for _, obj in _live(children, "KafkaTopic") if obj is not None), None)
    topic = ((strimzi or {}).get("status") or {}).get("topicName") or placement.topic_name
    status = KafkaTopicStatus(
        observed_generation=ctx.generation,
        phase=summary.phase,
        conditions=summary.conditions,
        topic_name=topic,
        partitions=spec.partitions,
        replicas=spec.replicas,
        topic_namespace=placement.namespace,
    )
    return status_patch(status, previous_conditions(ctx.body)[1])


def status_data_producer(
    ctx: Context,
    spec: DataProducerSpec,
    topics: Mapping[str, KafkaTopicSpec],
    children: Mapping[ObjectRef, Manifest | None],
) -> Manifest:
    health = _health(children, "Deployment", deployment_health)
    summary = _summary(ctx, health)
    deployment = next((obj for _, obj in _live(children, "Deployment") if obj is not None), None)
    available = int(((deployment or {}).get("status") or {}).get("availableReplicas") or 0)
    status = DataProducerStatus(
        observed_generation=ctx.generation,
        phase=summary.phase,
        conditions=summary.conditions,
        replicas=spec.replicas,
        available_replicas=available,
        topics={stream: topics[ref].topic_name or ref for stream, ref in spec.topics.refs().items()},
    )
    patch = status_patch(status, previous_conditions(ctx.body)[1])
    # A merge patch merges maps: streams the spec no longer emits are removed explicitly.
    previous = (ctx.body.get("status") or {}).get("topics") or {}
    patch["topics"] = {**{stream: None for stream in previous}, **patch.get("topics", {})}
    return patch


def status_streaming_pipeline(ctx: Context, children: Mapping[ObjectRef, Manifest | None]) -> Manifest:
    health = _health(children, "SparkApplication", lambda o: spark_application_health(o, batch=False))
    summary = _summary(ctx, health)
    app_ref, app = _live(children, "SparkApplication")[0]
    status = StreamingPipelineStatus(
        observed_generation=ctx.generation,
        phase=summary.phase,
        conditions=summary.conditions,
        application_state=spark_application_state(app),
        spark_application=app_ref.name,
    )
    return status_patch(status, previous_conditions(ctx.body)[1])


def status_delta_table(
    ctx: Context, spec: DeltaTableSpec, children: Mapping[ObjectRef, Manifest | None]
) -> Manifest:
    health = _health(children, "Job", job_health) + _health(children, "CronJob", cronjob_health)
    summary = _summary(ctx, health)
    # version / numFiles / sizeBytes / lastOptimize / lastVacuum are the jobs' to report: left out here.
    status = DeltaTableStatus(
        observed_generation=ctx.generation,
        phase=summary.phase,
        conditions=summary.conditions,
        location=table_location(ctx.owner, spec),
    )
    return status_patch(status, previous_conditions(ctx.body)[1])


def last_run_name(scheduled: Mapping[str, Any] | None) -> str | None:
    name = ((scheduled or {}).get("status") or {}).get("lastRunName")
    return str(name) if name else None


def job_reported_health(body: Mapping[str, Any]) -> list[ChildHealth]:
    """A Degraded=True condition with a reason the operator never writes came from the job itself (e.g. a
    run whose CLV model could not be fitted): it stays until the next run reports."""
    ours, _ = previous_conditions(body)
    own = {r.value for r in Reason}
    return [
        ChildHealth(Health.DEGRADED, c.reason, c.message, serving=True)
        for c in ours
        if c.type == ConditionType.DEGRADED and c.status == ConditionStatus.TRUE and c.reason not in own
    ]


def status_segmentation_run(
    ctx: Context,
    spec: SegmentationRunSpec,
    children: Mapping[ObjectRef, Manifest | None],
    last_run: Mapping[str, Any] | None = None,
) -> Manifest:
    """Phase, conditions and the Spark state; the run's figures (customers, segments, meanClv, runId) are the
    job's own writes and are never part of this patch."""
    if spec.schedule is None:
        health = _health(children, "SparkApplication", lambda o: spark_application_health(o, batch=True))
        app = next((obj for _, obj in _live(children, "SparkApplication")), None)
        state = spark_application_state(app)
    else:
        health = _health(children, "ScheduledSparkApplication", scheduled_spark_application_health)
        state = spark_application_state(last_run)
        if last_run is not None and state in ("FAILED", "SUBMISSION_FAILED"):
            health.append(spark_application_health(last_run, batch=True))
    if state == "COMPLETED":
        health.extend(job_reported_health(ctx.body))
    summary = _summary(ctx, health)
    status = SegmentationRunStatus(
        observed_generation=ctx.generation,
        phase=summary.phase,
        conditions=summary.conditions,
        application_state=state,
    )
    return status_patch(status, previous_conditions(ctx.body)[1])


# ---------------------------------------------------------------------------------------------------------
# Deletion of the Strimzi topic (finalizer)


OUR_LABELS: Final[tuple[str, ...]] = (
    KIND_KEY,
    NAME_KEY,
    OWNER_NAMESPACE_KEY,
    MANAGED_BY_KEY,
    INSTANCE,
    COMPONENT,
)


def release_patch(observed: Mapping[str, Any], owner: Owner) -> Manifest:
    """Merge patch that leaves a Strimzi topic behind unowned: our ownerReference, labels and claim go;
    ``strimzi.io/cluster`` stays, so Strimzi keeps managing the (retained) topic."""
    meta = observed.get("metadata") or {}
    labels = meta.get("labels") or {}
    annotations = meta.get("annotations") or {}
    patch: Manifest = {"metadata": {}}
    refs = meta.get("ownerReferences") or []
    kept = [r for r in refs if r.get("uid") != owner.uid]
    if len(kept) != len(refs):
        patch["metadata"]["ownerReferences"] = kept
    dropped = {k: None for k in OUR_LABELS if k in labels}
    if dropped:
        patch["metadata"]["labels"] = dropped
    if OWNER_ANNOTATION in annotations:
        patch["metadata"]["annotations"] = {OWNER_ANNOTATION: None}
    return patch


def is_ours(observed: Mapping[str, Any], owner: Owner) -> bool:
    """Whether a Strimzi topic is this resource's: owned by uid, or claimed as ``<namespace>/<name>``."""
    return controller_uid(observed) == owner.uid or claim_of(observed) == f"{owner.namespace}/{owner.name}"


STRIMZI_TOPIC: Final = (STRIMZI_API_VERSION, "KafkaTopic")
