"""Conditions: transition times, and what each kind of child says about our resource."""

from __future__ import annotations

from typing import Any

import pytest

from ecap_operator.api import Condition, ConditionStatus, ConditionType, Phase
from ecap_operator.conditions import (
    ChildHealth,
    Health,
    Reason,
    cronjob_health,
    deployment_health,
    failure,
    get_condition,
    job_health,
    scheduled_spark_application_health,
    set_condition,
    spark_application_health,
    split_conditions,
    strimzi_topic_health,
    summarize,
)

T0, T1, T2 = "2026-11-30T10:00:00Z", "2026-11-30T11:00:00Z", "2026-11-30T12:00:00Z"


def ready(status: ConditionStatus, reason: str = "R", message: str = "") -> Condition:
    return Condition(type=ConditionType.READY, status=status, reason=reason, message=message)


def test_set_condition_appends_with_now() -> None:
    out = set_condition([], ready(ConditionStatus.TRUE), T0)
    assert [(c.type, c.status, c.last_transition_time) for c in out] == [
        (ConditionType.READY, ConditionStatus.TRUE, T0)
    ]


def test_same_status_keeps_transition_time_but_updates_message() -> None:
    first = set_condition([], ready(ConditionStatus.FALSE, "Waiting", "a"), T0)
    second = set_condition(first, ready(ConditionStatus.FALSE, "StillWaiting", "b"), T1)
    assert second[0].last_transition_time == T0
    assert (second[0].reason, second[0].message) == ("StillWaiting", "b")


def test_status_change_bumps_transition_time_and_keeps_others() -> None:
    degraded = Condition(type=ConditionType.DEGRADED, status=ConditionStatus.FALSE, reason="AsExpected")
    conds = set_condition(set_condition([], ready(ConditionStatus.FALSE), T0), degraded, T0)
    conds = set_condition(conds, ready(ConditionStatus.TRUE), T2)
    assert [c.type for c in conds] == [ConditionType.READY, ConditionType.DEGRADED]
    assert conds[0].last_transition_time == T2
    assert conds[1].last_transition_time == T0


def obj(
    status: dict[str, Any] | None = None, spec: dict[str, Any] | None = None, **meta: Any
) -> dict[str, Any]:
    return {"metadata": {"name": "child", **meta}, "spec": spec or {}, "status": status or {}}


def test_strimzi_topic() -> None:
    assert strimzi_topic_health(obj()).health == Health.PROGRESSING
    ok = obj({"conditions": [{"type": "Ready", "status": "True"}], "observedGeneration": 2}, generation=2)
    assert strimzi_topic_health(ok).health == Health.READY
    stale = obj({"conditions": [{"type": "Ready", "status": "True"}], "observedGeneration": 1}, generation=2)
    assert strimzi_topic_health(stale).health == Health.PROGRESSING
    bad = obj(
        {
            "conditions": [
                {
                    "type": "Ready",
                    "status": "False",
                    "reason": "InvalidResourceException",
                    "message": "Number of partitions cannot be decreased",
                }
            ]
        }
    )
    health = strimzi_topic_health(bad)
    assert health.health == Health.FAILED
    assert "Number of partitions cannot be decreased" in health.message


@pytest.mark.parametrize(
    ("state", "batch", "expected"),
    [
        (None, False, Health.PROGRESSING),
        ("SUBMITTED", False, Health.PROGRESSING),
        ("RUNNING", False, Health.READY),
        ("RUNNING", True, Health.PROGRESSING),
        ("COMPLETED", True, Health.SUCCEEDED),
        ("COMPLETED", False, Health.DEGRADED),
        ("FAILING", False, Health.DEGRADED),
        ("FAILED", True, Health.FAILED),
        ("SUBMISSION_FAILED", False, Health.FAILED),
    ],
)
def test_spark_application(state: str | None, batch: bool, expected: Health) -> None:
    status = {"applicationState": {"state": state}} if state else {}
    assert spark_application_health(obj(status), batch=batch).health == expected


def test_spark_failure_carries_error_message() -> None:
    failed = obj({"applicationState": {"state": "FAILED", "errorMessage": "driver OOMKilled"}})
    health = spark_application_health(failed, batch=False)
    assert health.reason == Reason.APPLICATION_FAILED and "driver OOMKilled" in health.message


def test_scheduled_application() -> None:
    assert scheduled_spark_application_health(obj()).health == Health.PROGRESSING
    assert scheduled_spark_application_health(obj({"scheduleState": "Scheduled"})).health == Health.READY
    bad = scheduled_spark_application_health(obj({"scheduleState": "FailedValidation", "reason": "bad cron"}))
    assert bad.health == Health.FAILED and "bad cron" in bad.message


@pytest.mark.parametrize(
    ("replicas", "available", "expected", "serving"),
    [
        (3, 3, Health.READY, True),
        (3, 2, Health.DEGRADED, True),
        (3, 0, Health.PROGRESSING, False),
        (0, 0, Health.READY, True),
    ],
)
def test_deployment(replicas: int, available: int, expected: Health, serving: bool) -> None:
    health = deployment_health(
        obj({"availableReplicas": available, "observedGeneration": 1}, {"replicas": replicas}, generation=1)
    )
    assert (health.health, health.serving) == (expected, serving)
    assert f"{available}/{replicas}" in health.message or replicas == 0


def test_deployment_deadline_exceeded_is_degraded() -> None:
    stuck = obj(
        {
            "availableReplicas": 0,
            "conditions": [
                {
                    "type": "Progressing",
                    "status": "False",
                    "reason": "ProgressDeadlineExceeded",
                    "message": "timed out",
                }
            ],
        },
        {"replicas": 1},
    )
    assert deployment_health(stuck).health == Health.DEGRADED


def test_jobs() -> None:
    assert job_health(obj({"active": 1})).health == Health.PROGRESSING
    assert job_health(obj({"succeeded": 1})).health == Health.SUCCEEDED
    failed = job_health(
        obj({"conditions": [{"type": "Failed", "status": "True", "message": "BackoffLimitExceeded"}]})
    )
    assert failed.health == Health.FAILED and "BackoffLimitExceeded" in failed.message
    assert cronjob_health(obj()).health == Health.READY
    assert cronjob_health(obj(spec={"suspend": True})).health == Health.DEGRADED


def test_summarize_worst_child_decides() -> None:
    children = [
        ChildHealth(Health.SUCCEEDED, Reason.SUCCEEDED, "job done"),
        ChildHealth(Health.FAILED, Reason.APPLICATION_FAILED, "boom"),
    ]
    summary = summarize(children, [], 3, T0)
    assert summary.phase == Phase.FAILED
    ready_c = get_condition(summary.conditions, ConditionType.READY)
    degraded = get_condition(summary.conditions, ConditionType.DEGRADED)
    assert ready_c is not None and ready_c.status == ConditionStatus.FALSE and ready_c.message == "boom"
    assert ready_c.observed_generation == 3
    assert degraded is not None and degraded.status == ConditionStatus.TRUE


def test_summarize_ready_and_succeeded() -> None:
    ok = summarize([ChildHealth(Health.READY, Reason.READY, "fine")], [], 1, T0)
    assert ok.phase == Phase.READY
    assert [(c.type, c.status) for c in ok.conditions] == [
        (ConditionType.READY, ConditionStatus.TRUE),
        (ConditionType.PROGRESSING, ConditionStatus.FALSE),
        (ConditionType.DEGRADED, ConditionStatus.FALSE),
    ]
    done = summarize([ChildHealth(Health.SUCCEEDED, Reason.SUCCEEDED, "done")], ok.conditions, 1, T1)
    assert done.phase == Phase.SUCCEEDED
    assert get_condition(done.conditions, ConditionType.READY).last_transition_time == T0  # type: ignore[union-attr]


def test_degraded_but_serving_stays_ready() -> None:
    summary = summarize(
        [ChildHealth(Health.DEGRADED, Reason.REPLICAS_UNAVAILABLE, "2/3", serving=True)], [], 1, T0
    )
    assert summary.phase == Phase.DEGRADED
    assert get_condition(summary.conditions, ConditionType.READY).status == ConditionStatus.TRUE  # type: ignore[union-attr]


def test_failure_and_split_conditions() -> None:
    summary = failure(Reason.INVALID_SPEC, "spec.partitions: too small", [], 2, T0, Phase.INVALID)
    assert summary.phase == Phase.INVALID
    assert get_condition(summary.conditions, ConditionType.READY).reason == "InvalidSpec"  # type: ignore[union-attr]
    raw = [c.model_dump(by_alias=True, mode="json") for c in summary.conditions]
    raw.append({"type": "SparkDriverReady", "status": "True"})
    ours, foreign = split_conditions(raw)
    assert len(ours) == 3 and foreign == [{"type": "SparkDriverReady", "status": "True"}]
