"""deletionPolicy Delete on a DeltaTable: the drop Job (valid, same pod as the apply Job, owned by the table),
the finalizer only where data is to be dropped, and the plan across running / failed / succeeded attempts."""

from __future__ import annotations

import copy
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import kopf
import pytest

from ecap.cli import main as ecap_main
from ecap_operator.api import DeltaTableSpec
from ecap_operator.builders import Owner, build_apply_job, build_drop_job, table_location
from ecap_operator.builders.common import RESOURCES_FILE
from ecap_operator.builders.delta_table import drop_job_name
from ecap_operator.conditions import utc_now
from ecap_operator.handlers import drop_table, handle, needs_finalizer
from ecap_operator.handlers.engine import Runtime
from ecap_operator.kube import ObjectRef
from ecap_operator.reconcile import Context
from ecap_operator.table_drop import (
    KEPT_FAILED_ATTEMPTS,
    DropAction,
    backoff_seconds,
    desired_drop,
    drop_attempts,
    drop_status,
    plan_drop,
)
from tests.fixtures.upstream import ObjectValidator

from .examples import body
from .fake_api import FakeKubeApi
from .test_builders import SETTINGS, assert_labels, assert_owned

NOW = datetime(2026, 12, 1, 4, 0, 0, tzinfo=UTC)
LOG = logging.getLogger("test")


def table(policy: str = "Delete") -> dict[str, Any]:
    owner_body = copy.deepcopy(body("DeltaTable", "transactions-table"))
    owner_body["spec"]["deletionPolicy"] = policy
    return owner_body


def context(owner_body: dict[str, Any]) -> Context:
    return Context(body=owner_body, owner=Owner.from_body(owner_body), settings=SETTINGS, now=utc_now())


def test_drop_job_validates_and_runs_the_drop_command_like_the_apply_job(
    object_validator: ObjectValidator,
) -> None:
    owner_body = table()
    ctx = context(owner_body)
    spec = DeltaTableSpec.model_validate(owner_body["spec"])
    configmap, job = desired_drop(ctx, spec, attempt=2).children
    object_validator.check(job)
    object_validator.check(configmap)
    assert_owned(job, owner_body)  # it goes with the DeltaTable once that is gone
    assert_owned(configmap, owner_body)
    assert_labels(job, "DeltaTable", "transactions-table")
    assert job["metadata"]["labels"]["app.kubernetes.io/component"] == "table-drop"
    assert job["metadata"]["name"] == "transactions-table-drop-2"
    pod = job["spec"]["template"]["spec"]
    assert pod["containers"][0]["args"] == [
        "table",
        "drop",
        "-f",
        "/etc/ecap/resources.yaml",
        "--name",
        "transactions-table",
        "--yes",
        "--json",
    ]
    apply_pod = build_apply_job(ctx.owner, spec, SETTINGS, config_hash="x")["spec"]["template"]["spec"]
    for key in ("securityContext", "volumes", "serviceAccountName", "restartPolicy"):
        assert pod[key] == apply_pod[key]
    container, apply_container = pod["containers"][0], apply_pod["containers"][0]
    for key in ("image", "resources", "securityContext", "volumeMounts", "env"):
        assert container[key] == apply_container[key]
    assert any(m["mountPath"].startswith("/etc/ecap") for m in container["volumeMounts"])


@pytest.mark.parametrize("length", [40, 63, 200])
def test_long_names_fit_every_attempt(object_validator: ObjectValidator, length: int) -> None:
    owner_body = table()
    owner_body["metadata"]["name"] = ("t" * (length - 2)) + "-x"
    owner = Owner.from_body(owner_body)
    spec = DeltaTableSpec.model_validate(owner_body["spec"])
    for attempt in (1, 12, 1234):
        job = build_drop_job(owner, spec, SETTINGS, attempt=attempt, config_hash="0123456789abcdef")
        object_validator.check(job)
        assert job["metadata"]["name"].endswith(f"-{attempt}") and len(job["metadata"]["name"]) <= 63
    assert drop_job_name("a", 1) != drop_job_name("a", 2)
    with pytest.raises(ValueError, match="count from 1"):
        build_drop_job(owner, spec, SETTINGS, attempt=0, config_hash="x")


def test_finalizer_only_for_tables_whose_data_is_dropped() -> None:
    assert needs_finalizer(table("Delete"), SETTINGS) is True
    assert needs_finalizer(table("Retain"), SETTINGS) is False
    switched = table("Retain")
    switched["metadata"]["finalizers"] = [SETTINGS.finalizer]  # was Delete: kopf removes it now
    assert needs_finalizer(switched, SETTINGS) is False
    invalid = table("Delete")
    invalid["spec"]["columns"] = "many"
    assert needs_finalizer(invalid, SETTINGS) is False  # data is never deleted on a guess
    assert needs_finalizer(body("DataProducer"), SETTINGS) is False


def job(
    attempt: int, state: str | None, *, failed_at: datetime = NOW, uid: str | None = None
) -> dict[str, Any]:
    owner_body = table()
    owner = Owner.from_body(owner_body)
    built = desired_drop(context(owner_body), DeltaTableSpec.model_validate(owner_body["spec"]), attempt)
    manifest = built.children[1]
    if uid is not None:
        manifest["metadata"]["ownerReferences"][0]["uid"] = uid
    if state == "Complete":
        manifest["status"] = {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}
    elif state == "Failed":
        manifest["status"] = {
            "failed": 2,
            "conditions": [
                {
                    "type": "Failed",
                    "status": "True",
                    "reason": "BackoffLimitExceeded",
                    "message": "Job has reached the specified backoff limit",
                    "lastTransitionTime": failed_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
            ],
        }
    assert owner.uid == owner_body["metadata"]["uid"]
    return manifest


def attempts(*jobs: dict[str, Any]) -> list[tuple[int, Any]]:
    return drop_attempts(list(jobs), Owner.from_body(table()))


def test_plan_starts_waits_and_finishes() -> None:
    first = plan_drop([], NOW, 15)
    assert first.action is DropAction.START and first.attempt == 1
    running = plan_drop(attempts(job(1, None)), NOW, 15)
    assert running.action is DropAction.WAIT and running.delay == 15
    assert running.health is not None and running.health.reason == "Dropping"
    done = plan_drop(attempts(job(1, "Failed"), job(2, "Complete")), NOW, 15)
    assert done.action is DropAction.DONE and done.health is None


def test_a_failed_drop_degrades_and_retries_with_backoff_never_giving_up() -> None:
    failed_now = attempts(job(1, "Failed", failed_at=NOW))
    waiting = plan_drop(failed_now, NOW + timedelta(seconds=5), 15)
    assert waiting.action is DropAction.WAIT and waiting.delay == pytest.approx(10)
    assert waiting.health is not None and waiting.health.reason == "DropFailed"
    assert "backoff limit" in waiting.health.message
    retry = plan_drop(failed_now, NOW + timedelta(seconds=15), 15)
    assert retry.action is DropAction.START and retry.attempt == 2
    twice = attempts(job(1, "Failed", failed_at=NOW), job(2, "Failed", failed_at=NOW))
    assert plan_drop(twice, NOW + timedelta(seconds=20), 15).action is DropAction.WAIT  # waits 30 s now
    assert [backoff_seconds(n, 15) for n in (1, 2, 3, 10, 50)] == [15, 30, 60, 300, 300]
    many = [job(n, "Failed", failed_at=NOW - timedelta(hours=1)) for n in range(1, 7)]
    plan = plan_drop(attempts(*many), NOW, 15)
    assert plan.action is DropAction.START and plan.attempt == 7
    assert len(plan.obsolete) == 6 - KEPT_FAILED_ATTEMPTS
    assert plan.obsolete == tuple(drop_job_name("transactions-table", n) for n in (1, 2, 3))


def test_only_this_objects_drop_jobs_count() -> None:
    namesake = job(1, "Complete", uid="another-uid")  # an earlier table of the same name
    plan = plan_drop(attempts(namesake), NOW, 15)
    assert plan.action is DropAction.START and plan.attempt == 1


def test_drop_status_shows_the_failure() -> None:
    owner_body = table()
    ctx = context(owner_body)
    plan = plan_drop(attempts(job(1, "Failed")), NOW, 15)
    assert plan.health is not None
    status = drop_status(ctx, DeltaTableSpec.model_validate(owner_body["spec"]), plan.health)
    degraded = next(c for c in status["conditions"] if c["type"] == "Degraded")
    assert degraded["status"] == "True" and degraded["reason"] == "DropFailed"
    assert "backoff limit" in degraded["message"]
    assert status["phase"] == "Degraded"


def test_the_delete_handler_drops_then_lets_go_and_retains_otherwise() -> None:
    """``drop_table`` (what kopf's deltatable_delete runs) against the in-memory API: the CronJob goes, a
    drop Job starts, the handler asks kopf to come back until an attempt succeeded; a failure is shown and
    followed by a new attempt. A Retain body (switched just before deletion) drops nothing."""
    api = FakeKubeApi()
    owner_body = table()
    api.put(owner_body)
    runtime = Runtime(api, SETTINGS)  # type: ignore[arg-type]
    handle("DeltaTable", api.objects[ObjectRef.of(owner_body)], None, LOG, runtime, from_timer=False)
    owner = Owner.from_body(owner_body)
    cronjob = ObjectRef("batch/v1", "CronJob", owner.namespace, "transactions-table-maintain")
    assert cronjob in api.objects

    def step() -> kopf.TemporaryError | None:
        try:
            drop_table(copy.deepcopy(api.objects[ObjectRef.of(owner_body)]), runtime, LOG)
        except kopf.TemporaryError as err:
            return err
        return None

    def job_ref(attempt: int) -> ObjectRef:
        return ObjectRef("batch/v1", "Job", owner.namespace, drop_job_name(owner.name, attempt))

    waiting = step()
    assert waiting is not None and waiting.delay == SETTINGS.retry_delay
    assert cronjob not in api.objects and job_ref(1) in api.objects
    status = api.objects[ObjectRef.of(owner_body)]["status"]
    assert any(c["reason"] == "Dropping" and c["status"] == "True" for c in status["conditions"])
    again = step()
    assert again is not None and job_ref(2) not in api.objects  # still running: no second Job

    api.objects[job_ref(1)]["status"] = job(1, "Failed", failed_at=datetime.now(UTC) - timedelta(hours=1))[
        "status"
    ]
    assert step() is not None
    assert job_ref(2) in api.objects and job_ref(1) in api.objects  # the failed one kept for its logs
    degraded = [
        c for c in api.objects[ObjectRef.of(owner_body)]["status"]["conditions"] if c["type"] == "Degraded"
    ]
    assert degraded[0]["reason"] == "DropFailed" and "backoff limit" in degraded[0]["message"]
    api.objects[job_ref(2)]["status"] = {
        "succeeded": 1,
        "conditions": [{"type": "Complete", "status": "True"}],
    }
    assert step() is None  # kopf removes the finalizer now

    retained = table("Retain")
    retained["metadata"]["name"] = "kept-table"
    api.put(retained)
    drop_table(copy.deepcopy(api.objects[ObjectRef.of(retained)]), runtime, LOG)
    assert not [r for r in api.objects if r.kind == "Job" and r.name.startswith("kept-table-drop")]


def test_the_drop_jobs_command_drops_a_real_table_the_apply_jobs_command_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The operator/jobs contract end to end without a cluster: the ConfigMap the drop Job mounts, and the
    apply and drop Jobs' own arguments, run through ``ecap`` on a real Delta table on disk. A second run
    (a retried attempt after one that did drop) finds nothing and still succeeds."""
    owner_body = table()
    owner_body["spec"]["lake"] = str(tmp_path / "lake")
    ctx = context(owner_body)
    spec = DeltaTableSpec.model_validate(owner_body["spec"])
    configmap, drop = desired_drop(ctx, spec, attempt=1).children
    resources = tmp_path / "resources.yaml"
    resources.write_text(configmap["data"]["resources.yaml"])
    apply = build_apply_job(ctx.owner, spec, SETTINGS, config_hash="x")

    def run(job_manifest: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        args = job_manifest["spec"]["template"]["spec"]["containers"][0]["args"]
        argv = [str(resources) if a == RESOURCES_FILE else a for a in args]
        code = ecap_main(argv if "--json" in argv else [*argv, "--json"])
        return code, json.loads(capsys.readouterr().out)

    code, applied = run(apply)
    location = Path(applied["location"])
    assert code == 0 and (location / "_delta_log").is_dir()
    assert location == Path(table_location(ctx.owner, spec))
    code, dropped = run(drop)
    assert code == 0 and dropped["dropped"] is True and not location.exists()
    code, again = run(drop)
    assert code == 0 and again["dropped"] is False
