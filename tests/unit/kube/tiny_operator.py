"""A minimal kopf operator (run by test_kopf_compat.py as ``kopf run``) that uses what ECAP's operator
uses: finalizers, status patches, events, adopted children written with the kubernetes client, a timer."""

from __future__ import annotations

import logging
from typing import Any

import kopf
import kubernetes

GROUP, VERSION, PLURAL = "emulator.test", "v1", "widgets"


def _core() -> kubernetes.client.CoreV1Api:
    kubernetes.config.load_kube_config()  # type: ignore[no-untyped-call]
    return kubernetes.client.CoreV1Api()


def _child(name: str, size: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"{name}-data", "labels": {"app.kubernetes.io/instance": name}},
        "data": {"size": str(size)},
    }


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.posting.level = logging.INFO
    settings.watching.server_timeout = 30


def _ensure_child(name: str, namespace: str, size: int, body: kopf.Body) -> None:
    child = _child(name, size)
    kopf.adopt(child, owner=body)
    api = _core()
    try:
        api.create_namespaced_config_map(namespace, child)  # type: ignore[arg-type]  # dicts are accepted
    except kubernetes.client.ApiException as err:
        if err.status != 409:
            raise
        api.patch_namespaced_config_map(child["metadata"]["name"], namespace, {"data": child["data"]})


@kopf.on.create(GROUP, VERSION, PLURAL)
@kopf.on.update(GROUP, VERSION, PLURAL, field="spec")
def widget_reconcile(
    spec: kopf.Spec, name: str, namespace: str | None, body: kopf.Body, patch: kopf.Patch, **_: Any
) -> None:
    _ensure_child(name, str(namespace), int(spec["size"]), body)
    patch.status["phase"] = "Ready"
    patch.status["observedSize"] = int(spec["size"])
    kopf.info(body, reason="Reconciled", message=f"child ConfigMap holds size {spec['size']}")


@kopf.timer(GROUP, VERSION, PLURAL, interval=0.5, idle=0.5)
def widget_repair(spec: kopf.Spec, name: str, namespace: str | None, body: kopf.Body, **_: Any) -> None:
    _ensure_child(name, str(namespace), int(spec["size"]), body)


@kopf.on.delete(GROUP, VERSION, PLURAL)
def widget_delete(name: str, logger: kopf.Logger, **_: Any) -> None:
    logger.info(f"widget {name} released")
