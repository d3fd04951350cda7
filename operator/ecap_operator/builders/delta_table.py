"""DeltaTable -> a Job that creates/evolves the table and a CronJob for OPTIMIZE/VACUUM maintenance."""

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


def table_location(owner: Owner, spec: DeltaTableSpec) -> str:
    table = spec.table_name or owner.name.replace("-", "_")
    return f"{spec.lake.rstrip('/')}/{table}"


def apply_job_name(owner_name: str, config_hash: str) -> str:
    """Jobs are immutable: a new spec gets a new Job, named by the hash of what it applies."""
    return f"{child_name(owner_name, 'apply', limit=63 - 9)}-{config_hash[:8]}"


def maintain_cronjob_name(owner_name: str) -> str:
    return child_name(owner_name, "maintain", limit=52)


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
