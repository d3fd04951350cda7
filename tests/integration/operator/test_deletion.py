"""Deleting an ECAP object must not wait on a reconciliation that happens to be running."""

from __future__ import annotations

from tests.kube.client import KubeClient, wait_for
from tests.kube.process import OperatorProcess

from .controllers import ECAP, Controllers


def test_delete_while_the_timer_runs_is_prompt(
    kube: KubeClient, kube_namespace: str, operator: OperatorProcess, controllers: Controllers
) -> None:
    """kopf stops an object's timers before releasing its finalizer; a sync timer still running is checked
    again only after ``settings.background.cancellation_polling`` (kopf's default: 60 s), so with the
    default a ``kubectl delete`` hangs for a minute whenever it meets a running timer."""
    ns = kube_namespace
    kube.create(
        ECAP,
        "deltatables",
        {
            "apiVersion": ECAP,
            "kind": "DeltaTable",
            "metadata": {"name": "t"},
            "spec": {"tableName": "t", "columns": [{"name": "id", "type": "string"}]},
        },
        ns,
    )
    controllers.wait_child("batch/v1", "cronjobs", "t-maintain")
    invoked = f"[{ns}/t] Timer 'deltatable_timer' is invoked"
    seen = operator.log().count(invoked)
    wait_for(lambda: operator.log().count(invoked) > seen, 20, "the next timer run to start")
    kube.delete(ECAP, "deltatables", "t", ns)
    wait_for(
        lambda: kube.find(ECAP, "deltatables", "t", ns) is None,
        15,
        "the DeltaTable to be deleted (finalizer released)",
        describe=lambda: operator.tail(1500),
    )
    controllers.wait_gone("batch/v1", "cronjobs", "t-maintain", timeout=5)
    assert operator.problems() == []
