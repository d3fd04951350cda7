"""Dropping a DeltaTable's data on deletion (``deletionPolicy: Delete``): pure decisions, no I/O.

While the DeltaTable waits on kopf's finalizer, the operator runs drop Jobs (``builders.build_drop_job``),
one attempt at a time. ``plan_drop`` reads the attempts made so far and says what to do next: done (an
attempt succeeded: the finalizer may go), wait (an attempt runs, or the backoff after a failed one is not
over), or start the next attempt. A failed attempt is never the end: the finalizer stays until a drop
succeeds or a person removes it by hand (then the data stays).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from .api import DeletionPolicy, DeltaTableSpec, DeltaTableStatus
from .builders import Owner, build_drop_job, build_resources_configmap, content_hash, table_location
from .builders.delta_table import DROP_ATTEMPT_ANNOTATION, DROP_COMPONENT
from .conditions import ChildHealth, Health, Reason, job_health, summarize
from .labels import selector_labels
from .reconcile import (
    Context,
    Desired,
    adopt,
    controller_uid,
    previous_conditions,
    status_patch,
    valid_spec,
)

Manifest = dict[str, Any]

MAX_BACKOFF_SECONDS: Final = 300
"""The longest wait between two failed drop attempts (the wait doubles from ``retry_delay`` up to this)."""
KEPT_FAILED_ATTEMPTS: Final = 3
"""Failed drop Jobs kept for their logs; older ones are deleted when a new attempt starts."""


class DropAction(enum.Enum):
    DONE = "done"
    WAIT = "wait"
    START = "start"


@dataclass(frozen=True)
class DropPlan:
    """What the delete handler does next, and what the DeltaTable's status says meanwhile."""

    action: DropAction
    message: str
    health: ChildHealth | None = None
    """The drop's state for the status conditions (None when done: nothing more to report)."""
    attempt: int = 0
    """The attempt to start (START), or the latest one."""
    delay: float = 0.0
    """Seconds until the handler should look again (WAIT, START: the new Job needs time to run)."""
    obsolete: tuple[str, ...] = ()
    """Names of old failed drop Jobs to delete (beyond ``KEPT_FAILED_ATTEMPTS``)."""


def wants_drop(body: Mapping[str, Any]) -> bool:
    """Whether deleting this DeltaTable must drop its data first: only a valid spec saying Delete (data is
    never deleted on a guess; a Retain table needs no finalizer at all)."""
    spec = parse_table_spec(body)
    return spec is not None and spec.deletion_policy == DeletionPolicy.DELETE


def parse_table_spec(body: Mapping[str, Any]) -> DeltaTableSpec | None:
    """The DeltaTable's spec, None when it is invalid."""
    return valid_spec("DeltaTable", body, DeltaTableSpec)


def drop_selector(owner: Owner) -> dict[str, str]:
    return selector_labels(owner.kind, owner.name, DROP_COMPONENT)


def attempt_of(job: Mapping[str, Any]) -> int | None:
    """The attempt number a drop Job carries (None: not a drop Job of ours, e.g. its annotation edited)."""
    raw = ((job.get("metadata") or {}).get("annotations") or {}).get(DROP_ATTEMPT_ANNOTATION)
    try:
        attempt = int(str(raw))
    except ValueError:
        return None
    return attempt if attempt >= 1 else None


def drop_attempts(listed: Sequence[Mapping[str, Any]], owner: Owner) -> list[tuple[int, Mapping[str, Any]]]:
    """This DeltaTable's drop Jobs (controlled by this very object: not a namesake's), oldest first."""
    found = []
    for job in listed:
        attempt = attempt_of(job)
        if attempt is not None and controller_uid(job) == owner.uid:
            found.append((attempt, job))
    return sorted(found, key=lambda pair: pair[0])


def backoff_seconds(failed_attempts: int, retry_delay: float) -> float:
    """Wait after the n-th failed attempt: retry_delay, doubling, capped at ``MAX_BACKOFF_SECONDS``."""
    return float(min(retry_delay * 2 ** max(failed_attempts - 1, 0), MAX_BACKOFF_SECONDS))


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def failed_at(job: Mapping[str, Any]) -> datetime | None:
    """When a failed Job failed: its Failed condition's transition time, else when it was created."""
    for cond in (job.get("status") or {}).get("conditions") or []:
        if isinstance(cond, Mapping) and cond.get("type") == "Failed":
            moment = _parse_time(cond.get("lastTransitionTime"))
            if moment is not None:
                return moment
    return _parse_time((job.get("metadata") or {}).get("creationTimestamp"))


def plan_drop(
    attempts: Sequence[tuple[int, Mapping[str, Any]]], now: datetime, retry_delay: float
) -> DropPlan:
    """The next step of dropping the data, from the attempts so far (``drop_attempts``) and the time."""
    if not attempts:
        return DropPlan(
            DropAction.START,
            "starting drop Job attempt 1",
            ChildHealth(Health.PROGRESSING, Reason.DROPPING, "dropping the table's data (attempt 1)"),
            attempt=1,
            delay=float(retry_delay),
        )
    for attempt, job in attempts:
        if job_health(job).health == Health.SUCCEEDED:
            return DropPlan(
                DropAction.DONE, f"the table's data was dropped (attempt {attempt})", attempt=attempt
            )
    latest, job = attempts[-1]
    state = job_health(job)
    name = (job.get("metadata") or {}).get("name", "")
    if state.health != Health.FAILED:
        return DropPlan(
            DropAction.WAIT,
            f"drop Job {name} is running",
            ChildHealth(Health.PROGRESSING, Reason.DROPPING, f"drop Job {name} drops the table's data"),
            attempt=latest,
            delay=float(retry_delay),
        )
    failed = [a for a, j in attempts if job_health(j).health == Health.FAILED]
    wait = backoff_seconds(len(failed), retry_delay)
    since = failed_at(job)
    remaining = wait - (now - since).total_seconds() if since is not None else 0.0
    health = ChildHealth(
        Health.DEGRADED,
        Reason.DROP_FAILED,
        f"{state.message}; the data is kept and the drop is tried again (remove the finalizer to give up)",
    )
    if remaining > 0:
        return DropPlan(
            DropAction.WAIT,
            f"drop Job {name} failed; next attempt in {remaining:.0f} s",
            health,
            attempt=latest,
            delay=remaining,
        )
    dropped = set(failed[: max(len(failed) - KEPT_FAILED_ATTEMPTS, 0)])
    obsolete = tuple(str((j.get("metadata") or {}).get("name")) for a, j in attempts if a in dropped)
    return DropPlan(
        DropAction.START,
        f"drop Job {name} failed; starting attempt {latest + 1}",
        health,
        attempt=latest + 1,
        delay=float(retry_delay),
        obsolete=obsolete,
    )


def desired_drop(ctx: Context, spec: DeltaTableSpec, attempt: int) -> Desired:
    """The ConfigMap the drop Job reads (it may be gone or stale) and the Job itself, owned by the
    DeltaTable: the garbage collector removes both once the DeltaTable is gone."""
    configmap = build_resources_configmap(ctx.owner, spec)
    job = build_drop_job(
        ctx.owner, spec, ctx.settings, attempt=attempt, config_hash=content_hash(configmap["data"])
    )
    return Desired([adopt(configmap, ctx.owner), adopt(job, ctx.owner)])


def drop_status(ctx: Context, spec: DeltaTableSpec, health: ChildHealth) -> Manifest:
    """The DeltaTable's status while its deletion waits for the drop: Progressing (Dropping) or Degraded
    (DropFailed, with the Job's message)."""
    ours, foreign = previous_conditions(ctx.body)
    summary = summarize([health], ours, ctx.generation, ctx.now)
    status = DeltaTableStatus(
        phase=summary.phase, conditions=summary.conditions, location=table_location(ctx.owner, spec)
    )
    return status_patch(status, foreign)
