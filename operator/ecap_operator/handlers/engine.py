"""The I/O around the pure decisions: read children, apply create/patch/delete, read back, compute status."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from pydantic import BaseModel

from ..api import (
    API_VERSION,
    DataProducerSpec,
    DeletionPolicy,
    DeltaTableSpec,
    KafkaTopicSpec,
    SegmentationRunSpec,
    StreamingPipelineSpec,
)
from ..builders import place_topic
from ..builders.delta_table import maintain_cronjob_name
from ..builders.spark_app import SPARK_API_VERSION
from ..errors import InvalidSpecError
from ..kube import KubeApi, ObjectRef
from ..metrics import OperatorMetrics
from ..reconcile import (
    Action,
    Context,
    Desired,
    check_partitions,
    decide,
    desired_data_producer,
    desired_delta_table,
    desired_kafka_topic,
    desired_segmentation_run,
    desired_streaming_pipeline,
    former_placements,
    is_ours,
    last_run_name,
    parse_spec,
    release_patch,
    resolve_topics,
    stale_children,
    status_data_producer,
    status_delta_table,
    status_kafka_topic,
    status_segmentation_run,
    status_streaming_pipeline,
    topic_refs,
    valid_spec,
)
from ..settings import OperatorSettings
from ..table_drop import (
    DropAction,
    DropPlan,
    desired_drop,
    drop_attempts,
    drop_selector,
    parse_table_spec,
    plan_drop,
)

Manifest = dict[str, Any]
Live = dict[ObjectRef, Manifest | None]


class OwnerLocks:
    """One lock per ecap.io object. Its change handlers, the periodic resync and its children's events each
    read the children and write the status under it, so a status computed from an older view of the children
    never overwrites one computed from a newer view (the resync runs beside kopf's change handlers)."""

    def __init__(self) -> None:
        self._locks: dict[ObjectRef, threading.Lock] = {}
        self._guard = threading.Lock()

    def __call__(self, ref: ObjectRef) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(ref, threading.Lock())

    def forget(self, ref: ObjectRef) -> None:
        """The object is gone: drop its lock (a handler still holding it keeps its own reference)."""
        with self._guard:
            self._locks.pop(ref, None)

    def __len__(self) -> int:
        with self._guard:
            return len(self._locks)


@dataclass
class Runtime:
    """What every handler needs: the API client and the settings (set up once at operator startup)."""

    api: KubeApi
    settings: OperatorSettings
    metrics: OperatorMetrics | None = None
    locks: OwnerLocks = field(default_factory=OwnerLocks)
    written: dict[ObjectRef, Manifest] = field(default_factory=dict)
    """Each object as our last status write returned it (read and replaced under the object's lock)."""
    places: dict[tuple[str, str], float] = field(default_factory=dict)
    """(kind, namespace) -> when (monotonic) the operator last handled an object of that kind there: what the
    periodic resync lists (a place found empty is forgotten unless an object was handled since)."""


Known = Mapping[ObjectRef, Manifest | None]
"""Children already read (or just seen in a watch event): not read again."""


def apply(
    api: KubeApi,
    desired: Desired,
    ctx: Context,
    logger: logging.Logger | logging.LoggerAdapter[Any],
    known: Known | None = None,
) -> Live:
    """Create-or-patch every desired child, delete stale ones; return the children as they now are."""
    live: Live = {}
    for child in desired.children:
        ref = ObjectRef.of(child)
        observed = known[ref] if known is not None and ref in known else api.get(ref)
        decision = decide(child, observed, ctx.owner)
        if decision.action is Action.CREATE:
            created, ok = api.create(child)
            if ok:
                logger.info("created %s", ref)
                live[ref] = created
                continue
            # Someone (a resync run, a person) created it meanwhile: fall back to patching it.
            observed = api.get(ref)
            decision = decide(child, observed, ctx.owner)
        if decision.action is Action.PATCH and decision.body is not None:
            logger.info("patched %s (drift or spec change)", ref)
            live[ref] = api.patch(ref, decision.body)
        else:
            live[ref] = observed
    for ref in desired.absent:
        observed = api.get(ref)
        if observed is not None and is_ours(observed, ctx.owner):
            logger.info("deleting %s: no longer wanted by the spec", ref)
            api.delete(ref)
    if desired.prune_selector is not None:
        api_version, kind, labels = desired.prune_selector
        listed = api.list(api_version, kind, ctx.owner.namespace, labels)
        for ref in stale_children(desired, listed, ctx.owner):
            logger.info("deleting stale %s", ref)
            api.delete(ref)
    return live


STATUSLESS_KINDS: Final = frozenset({"ConfigMap", "Service"})
"""Children no status is computed from (they report none): a read-only refresh does not read them."""


def observe(api: KubeApi, desired: Desired, known: Known | None = None) -> Live:
    """The desired children a status is computed from, as they are now, read only: what a status refresh
    needs (no repair)."""
    refs = [ObjectRef.of(child) for child in desired.children if child["kind"] not in STATUSLESS_KINDS]
    return {ref: known[ref] if known is not None and ref in known else api.get(ref) for ref in refs}


def fetch_topics(api: KubeApi, ctx: Context, spec: BaseModel) -> dict[str, Manifest | None]:
    """The ecap.io KafkaTopics the spec references, by name (None where absent)."""
    names = sorted(set(topic_refs(spec).values()))
    return {n: api.get(ObjectRef(API_VERSION, "KafkaTopic", ctx.owner.namespace, n)) for n in names}


def reconcile(
    kind: str,
    ctx: Context,
    api: KubeApi,
    logger: logging.Logger | logging.LoggerAdapter[Any],
    *,
    repair: bool = True,
    known: Known | None = None,
    new_object: bool = False,
) -> Manifest:
    """One full reconciliation of one object; returns the status patch. Raises OperatorError subclasses.

    With ``repair=False`` nothing is written: the children are only read (``known`` ones, e.g. from a
    watch event, are not read again) and the status computed from them (a child changed; drift repair
    stays with the change handlers and the resync). With repair, ``known`` children (e.g. from the
    resync's list) are compared as they are given, the others read. ``new_object``: the object was just
    created, so its children are created without being read first (one request less each; an existing
    one answers 409 and is then read and checked as usual).
    """
    spec = parse_spec(kind, ctx.body)

    def children(desired: Desired) -> Live:
        if not repair:
            return observe(api, desired, known)
        assumed = {ObjectRef.of(child): None for child in desired.children} if new_object else known
        return apply(api, desired, ctx, logger, known=assumed)

    if isinstance(spec, KafkaTopicSpec):
        desired = desired_kafka_topic(ctx, spec)
        ref = ObjectRef.of(desired.children[0])
        if not repair:
            live = observe(api, desired, known)
            check_partitions(spec, live[ref])
            return status_kafka_topic(ctx, spec, live)
        if new_object:
            created, ok = api.create(desired.children[0])
            if ok:
                logger.info("created %s", ref)
                return status_kafka_topic(ctx, spec, {ref: created})
        for former in former_placements(ctx, spec):
            let_go_of(api, ctx, spec, former, logger)
        observed = known[ref] if known is not None and ref in known else api.get(ref)
        check_partitions(spec, observed)
        return status_kafka_topic(ctx, spec, apply(api, desired, ctx, logger, known={ref: observed}))
    if isinstance(spec, DataProducerSpec):
        topics = resolve_topics(ctx.owner, spec, fetch_topics(api, ctx, spec))
        live = children(desired_data_producer(ctx, spec, topics))
        return status_data_producer(ctx, spec, topics, live)
    if isinstance(spec, StreamingPipelineSpec):
        topics = resolve_topics(ctx.owner, spec, fetch_topics(api, ctx, spec))
        live = children(desired_streaming_pipeline(ctx, spec, topics))
        return status_streaming_pipeline(ctx, live)
    if isinstance(spec, DeltaTableSpec):
        return status_delta_table(ctx, spec, children(desired_delta_table(ctx, spec)))
    if isinstance(spec, SegmentationRunSpec):
        live = children(desired_segmentation_run(ctx, spec))
        last_run = None
        scheduled = next((o for r, o in live.items() if r.kind == "ScheduledSparkApplication"), None)
        run_name = last_run_name(scheduled)
        if run_name is not None:
            last_run = api.get(
                ObjectRef(SPARK_API_VERSION, "SparkApplication", ctx.owner.namespace, run_name)
            )
        return status_segmentation_run(ctx, spec, live, last_run)
    raise InvalidSpecError(f"{kind}: no reconciliation for spec type {type(spec).__name__}")


def placement_spec(body: Mapping[str, Any]) -> KafkaTopicSpec | None:
    """The KafkaTopic's spec, None when it is invalid."""
    return valid_spec("KafkaTopic", body, KafkaTopicSpec)


def let_go_of(
    api: KubeApi,
    ctx: Context,
    spec: KafkaTopicSpec | None,
    ref: ObjectRef,
    logger: logging.Logger | logging.LoggerAdapter[Any],
) -> str:
    """A Strimzi topic this resource no longer wants there: delete it (deletionPolicy Delete) or leave it
    unowned (Retain; also when the spec is invalid: data is never deleted on a guess). Another's is left
    alone. Returns what was done, for the log."""
    observed = api.get(ref)
    if observed is None:
        return f"{ref} is already gone"
    if not is_ours(observed, ctx.owner):
        return f"{ref} belongs to someone else: left alone"
    if spec is not None and spec.deletion_policy == "Delete":
        api.delete(ref)
        logger.info("deleted %s (deletionPolicy Delete)", ref)
        return f"deleted {ref}"
    api.patch(ref, release_patch(observed, ctx.owner))
    logger.info("released %s: the topic and its records are retained", ref)
    return f"retained {ref}"


def release_kafka_topic(
    ctx: Context, api: KubeApi, logger: logging.Logger | logging.LoggerAdapter[Any]
) -> str:
    """On deletion: delete the Strimzi topic (deletionPolicy Delete) or leave it unowned (Retain).

    Returns what was done, for the log. An invalid spec falls back to Retain: data is never deleted
    on a guess.
    """
    spec = placement_spec(ctx.body)
    placement = place_topic(ctx.owner, spec or KafkaTopicSpec(), ctx.settings)
    ref = ObjectRef("kafka.strimzi.io/v1beta2", "KafkaTopic", placement.namespace, placement.name)
    return let_go_of(api, ctx, spec, ref, logger)


def drop_table_data(
    ctx: Context, api: KubeApi, logger: logging.Logger | logging.LoggerAdapter[Any], now: datetime
) -> DropPlan:
    """One step of dropping a deleted DeltaTable's data (``deletionPolicy: Delete``): read its drop Jobs,
    decide (``table_drop.plan_drop``), start the next attempt if due. Returns the plan: DONE lets the
    finalizer go. A table whose spec is invalid or says Retain is never dropped (DONE at once: data is
    never deleted on a guess). Raises KubeApiError."""
    spec = parse_table_spec(ctx.body)
    if spec is None or spec.deletion_policy != DeletionPolicy.DELETE:
        return DropPlan(DropAction.DONE, "deletionPolicy is not Delete (or the spec is invalid): data kept")
    # No OPTIMIZE / VACUUM run may start on the table while (or after) it is dropped.
    cronjob = ObjectRef("batch/v1", "CronJob", ctx.owner.namespace, maintain_cronjob_name(ctx.owner.name))
    observed = api.get(cronjob)
    if observed is not None and is_ours(observed, ctx.owner):
        api.delete(cronjob)
        logger.info("deleted %s before dropping the table", cronjob)
    listed = api.list("batch/v1", "Job", ctx.owner.namespace, drop_selector(ctx.owner))
    plan = plan_drop(drop_attempts(listed, ctx.owner), now, ctx.settings.retry_delay)
    if plan.action is DropAction.START:
        for name in plan.obsolete:
            api.delete(ObjectRef("batch/v1", "Job", ctx.owner.namespace, name))
            logger.info("deleted old failed drop Job %s", name)
        apply(api, desired_drop(ctx, spec, plan.attempt), ctx, logger)
    logger.info("%s/%s: %s", ctx.owner.kind, ctx.owner.name, plan.message)
    return plan
