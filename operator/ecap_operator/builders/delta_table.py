"""DeltaTable -> a Job that creates/evolves the table and a CronJob for OPTIMIZE/VACUUM maintenance; on
deletion with ``deletionPolicy: Delete``, a Job that drops the table's files and log."""

from __future__ import annotations

from typing import Final

from ..api import DeltaTableSpec
from ..labels import CONFIG_HASH_ANNOTATION, child_name, selector_labels
from ..settings import OperatorSettings
from .common import (
    RESOURCES_FILE,
    Manifest,
    Owner,
    ecap_container,
    object_meta,
    pod_security_context,
    resource_env,
    workload_mounts,
)
from .resources_configmap import configmap_name

APPLY_COMPONENT: Final = "table-apply"
MAINTAIN_COMPONENT: Final = "table-maintenance"
DROP_COMPONENT: Final = "table-drop"
DROP_ATTEMPT_ANNOTATION: Final = "ecap.io/drop-attempt"
"""Which try at dropping the table a drop Job is (1, 2, ...): a failed Job is not re-run; a new one is."""


def table_location(owner: Owner, spec: DeltaTableSpec) -> str:
    table = spec.table_name or owner.name.replace("-", "_")
    return f"{spec.lake.rstrip('/')}/{table}"


def apply_job_name(owner_name: str, config_hash: str) -> str:
    """Jobs are immutable: a new spec gets a new Job, named by the hash of what it applies."""
    return f"{child_name(owner_name, 'apply', limit=63 - 9)}-{config_hash[:8]}"


def maintain_cronjob_name(owner_name: str) -> str:
    return child_name(owner_name, "maintain", limit=52)


def drop_job_name(owner_name: str, attempt: int) -> str:
    """``<name>-drop-<attempt>``: each try is a Job of its own (a failed Job stays for its logs)."""
    suffix = f"-{attempt}"
    return f"{child_name(owner_name, 'drop', limit=63 - len(suffix))}{suffix}"


def _pod_spec(owner: Owner, spec: DeltaTableSpec, settings: OperatorSettings, args: list[str]) -> Manifest:
    mounts = workload_mounts(configmap_name(owner.name), None, settings, lake=spec.lake)
    env = {**resource_env(owner), "ECAP_LAKE": spec.lake}
    container = ecap_container(
        "table", spec.image or settings.jobs_image, args, env, mounts, spec.resources, settings
    )
    return {
        "restartPolicy": "Never",
        # The job reports version/files into the DeltaTable status as the Spark/jobs service account.
        "serviceAccountName": settings.spark_service_account,
        "automountServiceAccountToken": True,
        "securityContext": pod_security_context(),
        "containers": [container],
        "volumes": mounts.volumes,
    }


def _pod_meta(owner: Owner, component: str, config_hash: str) -> Manifest:
    return {
        "labels": {
            **object_meta(owner, "", component)["labels"],
            **selector_labels(owner.kind, owner.name, component),
        },
        "annotations": {CONFIG_HASH_ANNOTATION: config_hash},
    }


def build_apply_job(
    owner: Owner, spec: DeltaTableSpec, settings: OperatorSettings, *, config_hash: str
) -> Manifest:
    """``ecap table apply -f /etc/ecap/resources.yaml``: create the table or evolve its schema/properties."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": object_meta(owner, apply_job_name(owner.name, config_hash), APPLY_COMPONENT),
        "spec": {
            "backoffLimit": 3,
            "template": {
                "metadata": _pod_meta(owner, APPLY_COMPONENT, config_hash),
                "spec": _pod_spec(owner, spec, settings, ["table", "apply", "-f", RESOURCES_FILE]),
            },
        },
    }


def build_maintain_cronjob(
    owner: Owner, spec: DeltaTableSpec, settings: OperatorSettings, *, config_hash: str
) -> Manifest | None:
    """``ecap table maintain -f ...`` on ``maintenance.schedule``; None when maintenance is switched off
    (``maintenance: null`` in a full manifest, or ``maintenance.enabled: false``)."""
    if spec.maintenance is None or not spec.maintenance.enabled:
        return None
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": object_meta(owner, maintain_cronjob_name(owner.name), MAINTAIN_COMPONENT),
        "spec": {
            "schedule": spec.maintenance.schedule,
            "timeZone": "Etc/UTC",
            "concurrencyPolicy": "Forbid",
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "metadata": {"labels": selector_labels(owner.kind, owner.name, MAINTAIN_COMPONENT)},
                "spec": {
                    "backoffLimit": 2,
                    "template": {
                        "metadata": _pod_meta(owner, MAINTAIN_COMPONENT, config_hash),
                        "spec": _pod_spec(owner, spec, settings, ["table", "maintain", "-f", RESOURCES_FILE]),
                    },
                },
            },
        },
    }


def build_drop_job(
    owner: Owner, spec: DeltaTableSpec, settings: OperatorSettings, *, attempt: int, config_hash: str
) -> Manifest:
    """``ecap table drop -f /etc/ecap/resources.yaml --name <name> --yes --json``: delete the table's files
    and log (``deletionPolicy: Delete``, run while the DeltaTable waits on its finalizer). Same image, pod,
    mounts and resources as the apply Job; ``attempt`` numbers the tries (see ``drop_job_name``)."""
    if attempt < 1:
        raise ValueError(f"drop attempts count from 1, got {attempt}")
    meta = object_meta(owner, drop_job_name(owner.name, attempt), DROP_COMPONENT)
    meta["annotations"] = {**meta.get("annotations", {}), DROP_ATTEMPT_ANNOTATION: str(attempt)}
    args = ["table", "drop", "-f", RESOURCES_FILE, "--name", owner.name, "--yes", "--json"]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": {
            # A pod lost to its node is tried again within the attempt; a real failure ends the attempt and
            # the operator decides about the next one (with backoff, a condition in between).
            "backoffLimit": 1,
            "template": {
                "metadata": _pod_meta(owner, DROP_COMPONENT, config_hash),
                "spec": _pod_spec(owner, spec, settings, args),
            },
        },
    }
