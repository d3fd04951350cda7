"""Conditions and phase: pure functions from what the children report to what our status says.

``set_condition`` follows apimachinery's ``meta.SetStatusCondition``: the transition time moves only
when the condition's status changes. The ``*_health`` functions read one child each (Strimzi topic,
SparkApplication, Deployment, Job, CronJob); ``summarize`` folds them into phase + conditions.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from .api import Condition, ConditionStatus, ConditionType, Phase


class Reason(enum.StrEnum):
    """Why a condition has its status; CamelCase, shown by ``kubectl describe``."""

    READY = "Ready"
    SUCCEEDED = "Succeeded"
    RECONCILED = "Reconciled"
    CREATING = "Creating"
    WAITING = "WaitingForChild"
    INVALID_SPEC = "InvalidSpec"
    TOPIC_NOT_FOUND = "TopicNotFound"
    PARTITION_DECREASE_REFUSED = "PartitionDecreaseRefused"
    CHILD_CONFLICT = "ChildConflict"
    CHILD_FAILED = "ChildFailed"
    APPLICATION_FAILED = "ApplicationFailed"
    REPLICAS_UNAVAILABLE = "ReplicasUnavailable"
    SCALED_TO_ZERO = "ScaledToZero"
    SCHEDULED = "Scheduled"
    API_ERROR = "ApiError"
    AS_EXPECTED = "AsExpected"
    DROPPING = "Dropping"
    DROP_FAILED = "DropFailed"


def utc_now() -> str:
    """RFC 3339 in UTC with seconds, the form Kubernetes uses for condition times."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def set_condition(conditions: Sequence[Condition], new: Condition, now: str) -> list[Condition]:
    """Insert or update ``new`` by type; ``lastTransitionTime`` changes only when ``status`` does."""
    out: list[Condition] = []
    found = False
    for existing in conditions:
        if existing.type != new.type:
            out.append(existing)
            continue
        found = True
        if existing.status == new.status:
            moment = existing.last_transition_time or new.last_transition_time or now
        else:
            moment = new.last_transition_time or now
        out.append(new.model_copy(update={"last_transition_time": moment}))
    if not found:
        out.append(new.model_copy(update={"last_transition_time": new.last_transition_time or now}))
    return out


def get_condition(conditions: Iterable[Condition], type_: ConditionType) -> Condition | None:
    return next((c for c in conditions if c.type == type_), None)


class Health(enum.IntEnum):
    """How one child is doing, ordered from best to worst so the worst child decides."""

    SUCCEEDED = 0
    READY = 1
    PROGRESSING = 2
    DEGRADED = 3
    FAILED = 4


@dataclass(frozen=True)
class ChildHealth:
    """One child's state with the reason and message to surface in our conditions."""

    health: Health
    reason: str
    message: str
    serving: bool = False
    """True when the child does its job even if not fully healthy (e.g. 2 of 3 producer pods)."""

    @property
    def ok(self) -> bool:
        return self.health in (Health.READY, Health.SUCCEEDED)


def _cond(obj: Mapping[str, Any], type_: str) -> Mapping[str, Any] | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if isinstance(cond, Mapping) and cond.get("type") == type_:
            return cond
    return None


def missing(kind: str, name: str) -> ChildHealth:
    return ChildHealth(Health.PROGRESSING, Reason.CREATING, f"{kind} {name} is being created")


def strimzi_topic_health(obj: Mapping[str, Any]) -> ChildHealth:
    """Strimzi's Ready condition, for the generation Strimzi has seen."""
    name = obj.get("metadata", {}).get("name", "")
    ready = _cond(obj, "Ready")
    status = obj.get("status") or {}
    generation = obj.get("metadata", {}).get("generation")
    observed = status.get("observedGeneration")
    if ready is None or (generation is not None and observed is not None and observed < generation):
        return ChildHealth(
            Health.PROGRESSING, Reason.WAITING, f"waiting for Strimzi to reconcile KafkaTopic {name}"
        )
    if ready.get("status") == "True":
        return ChildHealth(Health.READY, Reason.READY, f"Strimzi KafkaTopic {name} is ready", serving=True)
    reason = str(ready.get("reason") or Reason.CHILD_FAILED)
    message = str(ready.get("message") or f"Strimzi reports KafkaTopic {name} not ready")
    return ChildHealth(Health.FAILED, Reason.CHILD_FAILED, f"{reason}: {message}")


# SparkApplication states (status.applicationState.state) as the Spark Operator reports them.
_SPARK_RUNNING: Final = frozenset({"RUNNING"})
_SPARK_DONE: Final = frozenset({"COMPLETED"})
_SPARK_FAILED: Final = frozenset({"FAILED", "SUBMISSION_FAILED"})
_SPARK_TROUBLE: Final = frozenset({"FAILING", "UNKNOWN"})


def spark_application_state(obj: Mapping[str, Any] | None) -> str | None:
    if obj is None:
        return None
    state = ((obj.get("status") or {}).get("applicationState") or {}).get("state")
    return str(state) if state else None


def spark_application_health(obj: Mapping[str, Any], *, batch: bool) -> ChildHealth:
    """RUNNING: a streaming app is ready; COMPLETED: a batch run succeeded; FAILED carries the error."""
    name = obj.get("metadata", {}).get("name", "")
    state = spark_application_state(obj) or "NEW"
    error = ((obj.get("status") or {}).get("applicationState") or {}).get("errorMessage") or ""
    if state in _SPARK_FAILED:
        detail = f": {error}" if error else ""
        return ChildHealth(
            Health.FAILED, Reason.APPLICATION_FAILED, f"SparkApplication {name} {state}{detail}"
        )
    if state in _SPARK_DONE:
        if batch:
            return ChildHealth(Health.SUCCEEDED, Reason.SUCCEEDED, f"SparkApplication {name} completed")
        # A streaming query that ended is not serving; restartPolicy Always brings it back.
        return ChildHealth(Health.DEGRADED, Reason.CHILD_FAILED, f"streaming SparkApplication {name} stopped")
    if state in _SPARK_RUNNING:
        if batch:
            return ChildHealth(Health.PROGRESSING, Reason.WAITING, f"SparkApplication {name} is running")
        return ChildHealth(Health.READY, Reason.READY, f"SparkApplication {name} is running", serving=True)
    if state in _SPARK_TROUBLE:
        detail = f": {error}" if error else ""
        return ChildHealth(Health.DEGRADED, Reason.CHILD_FAILED, f"SparkApplication {name} {state}{detail}")
    return ChildHealth(Health.PROGRESSING, Reason.WAITING, f"SparkApplication {name} is {state}")


def scheduled_spark_application_health(obj: Mapping[str, Any]) -> ChildHealth:
    """A schedule is ready once the Spark Operator accepted it; the last run's state is reported apart."""
    name = obj.get("metadata", {}).get("name", "")
    status = obj.get("status") or {}
    state = status.get("scheduleState") or ""
    if state == "FailedValidation":
        reason = status.get("reason") or "the Spark Operator rejected the schedule"
        return ChildHealth(Health.FAILED, Reason.CHILD_FAILED, f"ScheduledSparkApplication {name}: {reason}")
    if state == "Scheduled":
        next_run = status.get("nextRun")
        suffix = f"; next run {next_run}" if next_run else ""
        return ChildHealth(Health.READY, Reason.SCHEDULED, f"scheduled{suffix}", serving=True)
    return ChildHealth(
        Health.PROGRESSING, Reason.WAITING, f"waiting for the Spark Operator to schedule {name}"
    )


def deployment_health(obj: Mapping[str, Any]) -> ChildHealth:
    """Available replicas against desired ones, for the generation the controller has seen."""
    name = obj.get("metadata", {}).get("name", "")
    desired = int((obj.get("spec") or {}).get("replicas", 1))
    status = obj.get("status") or {}
    available = int(status.get("availableReplicas") or 0)
    generation = obj.get("metadata", {}).get("generation")
    observed = status.get("observedGeneration")
    progressing = _cond(obj, "Progressing")
    if desired == 0:
        return ChildHealth(
            Health.READY, Reason.SCALED_TO_ZERO, f"Deployment {name} is scaled to zero", serving=True
        )
    if progressing is not None and progressing.get("reason") == "ProgressDeadlineExceeded":
        return ChildHealth(
            Health.DEGRADED,
            Reason.REPLICAS_UNAVAILABLE,
            f"Deployment {name}: {progressing.get('message') or 'progress deadline exceeded'} "
            f"({available}/{desired} available)",
            serving=available > 0,
        )
    if generation is not None and observed is not None and observed < generation:
        return ChildHealth(Health.PROGRESSING, Reason.WAITING, f"Deployment {name} is rolling out")
    if available >= desired:
        return ChildHealth(
            Health.READY, Reason.READY, f"{available}/{desired} replicas available", serving=True
        )
    if available > 0:
        return ChildHealth(
            Health.DEGRADED,
            Reason.REPLICAS_UNAVAILABLE,
            f"{available}/{desired} replicas available",
            serving=True,
        )
    return ChildHealth(Health.PROGRESSING, Reason.WAITING, f"0/{desired} replicas available")


def job_health(obj: Mapping[str, Any]) -> ChildHealth:
    """Complete -> succeeded, Failed -> failed with the controller's message, otherwise progressing."""
    name = obj.get("metadata", {}).get("name", "")
    failed = _cond(obj, "Failed")
    if failed is not None and failed.get("status") == "True":
        message = failed.get("message") or failed.get("reason") or "failed"
        return ChildHealth(Health.FAILED, Reason.CHILD_FAILED, f"Job {name}: {message}")
    complete = _cond(obj, "Complete")
    if (complete is not None and complete.get("status") == "True") or int(
        (obj.get("status") or {}).get("succeeded") or 0
    ) > 0:
        return ChildHealth(Health.SUCCEEDED, Reason.SUCCEEDED, f"Job {name} completed", serving=True)
    return ChildHealth(Health.PROGRESSING, Reason.WAITING, f"Job {name} is running")


def cronjob_health(obj: Mapping[str, Any]) -> ChildHealth:
    """A CronJob is ready once it exists and is not suspended; its runs are Jobs of their own."""
    name = obj.get("metadata", {}).get("name", "")
    if (obj.get("spec") or {}).get("suspend"):
        return ChildHealth(Health.DEGRADED, Reason.CHILD_FAILED, f"CronJob {name} is suspended", serving=True)
    return ChildHealth(Health.READY, Reason.SCHEDULED, f"CronJob {name} is scheduled", serving=True)


@dataclass(frozen=True)
class Summary:
    phase: Phase
    conditions: list[Condition]


_PHASES: Final[dict[Health, Phase]] = {
    Health.SUCCEEDED: Phase.SUCCEEDED,
    Health.READY: Phase.READY,
    Health.PROGRESSING: Phase.PROGRESSING,
    Health.DEGRADED: Phase.DEGRADED,
    Health.FAILED: Phase.FAILED,
}


def _condition(
    type_: ConditionType, ok: bool, reason: str, message: str, generation: int | None
) -> Condition:
    return Condition(
        type=type_,
        status=ConditionStatus.TRUE if ok else ConditionStatus.FALSE,
        reason=reason,
        message=message,
        observed_generation=generation,
    )


def summarize(
    children: Sequence[ChildHealth], previous: Sequence[Condition], generation: int | None, now: str
) -> Summary:
    """Phase and Ready/Progressing/Degraded from the children; the worst child explains itself.

    Ready is True when every child is ready, succeeded or still serving while degraded.
    """
    if not children:
        children = [ChildHealth(Health.PROGRESSING, Reason.CREATING, "no children observed yet")]
    worst = max(children, key=lambda c: c.health)
    ready = all(c.ok or c.serving for c in children)
    ready_reason: str
    if worst.ok:
        done = all(c.health == Health.SUCCEEDED for c in children)
        ready_reason = Reason.SUCCEEDED if done else Reason.READY
        ready_message = "; ".join(c.message for c in children)
    else:
        ready_reason, ready_message = worst.reason, worst.message
    conditions = list(previous)
    conditions = set_condition(
        conditions, _condition(ConditionType.READY, ready, ready_reason, ready_message, generation), now
    )
    progressing = [c for c in children if c.health == Health.PROGRESSING]
    conditions = set_condition(
        conditions,
        _condition(
            ConditionType.PROGRESSING,
            bool(progressing),
            progressing[0].reason if progressing else Reason.AS_EXPECTED,
            progressing[0].message if progressing else "",
            generation,
        ),
        now,
    )
    degraded = [c for c in children if c.health >= Health.DEGRADED]
    conditions = set_condition(
        conditions,
        _condition(
            ConditionType.DEGRADED,
            bool(degraded),
            degraded[-1].reason if degraded else Reason.AS_EXPECTED,
            "; ".join(c.message for c in degraded),
            generation,
        ),
        now,
    )
    return Summary(phase=_PHASES[worst.health], conditions=conditions)


def failure(
    reason: Reason,
    message: str,
    previous: Sequence[Condition],
    generation: int | None,
    now: str,
    phase: Phase,
) -> Summary:
    """Conditions for a resource we cannot reconcile: Ready=False with the reason, Degraded=True."""
    conditions = set_condition(
        previous, _condition(ConditionType.READY, False, reason, message, generation), now
    )
    conditions = set_condition(
        conditions, _condition(ConditionType.PROGRESSING, False, reason, "", generation), now
    )
    conditions = set_condition(
        conditions, _condition(ConditionType.DEGRADED, True, reason, message, generation), now
    )
    return Summary(phase=phase, conditions=conditions)


def split_conditions(raw: Any) -> tuple[list[Condition], list[dict[str, Any]]]:
    """Our typed conditions from a live status, and every other entry (another writer's) kept verbatim.

    The status patch replaces the whole list, so foreign entries are written back unchanged.
    """
    ours: list[Condition] = []
    foreign: list[dict[str, Any]] = []
    for item in raw or []:
        if isinstance(item, Mapping) and item.get("type") in {t.value for t in ConditionType}:
            try:
                ours.append(Condition.model_validate(item))
            except ValueError:
                # A malformed entry of one of our own types: every status write sets all three of them
                # afresh, so it is replaced rather than kept next to a second entry of that type.
                continue
            continue
        if isinstance(item, Mapping):
            foreign.append(dict(item))
    return ours, foreign
