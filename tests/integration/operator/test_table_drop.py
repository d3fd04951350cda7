"""deletionPolicy Delete on a DeltaTable, with the real operator against the API emulator: deleting the table
waits (kopf's finalizer) for a drop Job that deletes its data, which the test, playing the Job controller,
marks succeeded or failed. A failed drop keeps the object with a DropFailed condition and is tried again;
a Retain table (or one switched to Retain) goes at once and nothing is dropped."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, Final

from tests.kube.client import KubeClient, wait_for
from tests.kube.process import OperatorProcess

from .controllers import ECAP, Controllers

FINALIZER: Final = "ecap.io/finalizer"
DROP_SELECTOR: Final = "app.kubernetes.io/component=table-drop"


def create_table(kube: KubeClient, ns: str, name: str, policy: str) -> dict[str, Any]:
    return kube.create(
        ECAP,
        "deltatables",
        {
            "apiVersion": ECAP,
            "kind": "DeltaTable",
            "metadata": {"name": name},
            "spec": {
                "tableName": name.replace("-", "_"),
                "lake": "/lake",
                "columns": [{"name": "id", "type": "string"}],
                "deletionPolicy": policy,
            },
        },
        ns,
    )


def finalizers(kube: KubeClient, ns: str, name: str) -> list[str]:
    return list(kube.get(ECAP, "deltatables", name, ns)["metadata"].get("finalizers") or [])


def drop_jobs(kube: KubeClient, ns: str) -> list[dict[str, Any]]:
    return sorted(kube.list("batch/v1", "jobs", ns, DROP_SELECTOR), key=lambda j: j["metadata"]["name"])


def wait_finalizer(kube: KubeClient, ns: str, name: str, present: bool, operator: OperatorProcess) -> None:
    wait_for(
        lambda: (FINALIZER in finalizers(kube, ns, name)) == present,
        20,
        f"the finalizer to be {'added to' if present else 'removed from'} {name}",
        describe=lambda: operator.tail(1500),
    )


def test_a_delete_table_waits_for_its_drop_job(
    kube: KubeClient, kube_namespace: str, operator: OperatorProcess, controllers: Controllers
) -> None:
    ns = kube_namespace
    owner = create_table(kube, ns, "gone", "Delete")
    wait_finalizer(kube, ns, "gone", True, operator)
    controllers.wait_child("batch/v1", "cronjobs", "gone-maintain")

    kube.delete(ECAP, "deltatables", "gone", ns)
    job = controllers.wait_child("batch/v1", "jobs", "gone-drop-1")
    assert job["metadata"]["ownerReferences"][0]["uid"] == owner["metadata"]["uid"]
    assert job["metadata"]["labels"]["ecap.io/name"] == "gone"
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["table", "drop", "-f", "/etc/ecap/resources.yaml", "--name", "gone"] + [
        "--yes",
        "--json",
    ]
    assert kube.find("v1", "configmaps", "gone-ecap", ns) is not None  # what the Job reads
    # No OPTIMIZE / VACUUM may start on a table being dropped.
    controllers.wait_gone("batch/v1", "cronjobs", "gone-maintain")
    controllers.wait_condition("DeltaTable", "gone", "Progressing", "True", reason="Dropping")
    time.sleep(1.5)  # a few of the handler's looks (retry delay 1 s): still waiting for the Job
    table = kube.get(ECAP, "deltatables", "gone", ns)
    assert table["metadata"].get("deletionTimestamp") and FINALIZER in table["metadata"]["finalizers"]
    assert [j["metadata"]["name"] for j in drop_jobs(kube, ns)] == ["gone-drop-1"]

    controllers.job_complete("gone-drop-1")
    controllers.wait_gone(ECAP, "deltatables", "gone")
    wait_for(lambda: drop_jobs(kube, ns) == [], 20, "the drop Job to be collected with its owner")
    assert operator.problems() == []


def test_a_failed_drop_keeps_the_table_and_is_tried_again(
    kube: KubeClient, kube_namespace: str, operator: OperatorProcess, controllers: Controllers
) -> None:
    ns = kube_namespace
    create_table(kube, ns, "stuck", "Delete")
    wait_finalizer(kube, ns, "stuck", True, operator)
    kube.delete(ECAP, "deltatables", "stuck", ns)
    controllers.wait_child("batch/v1", "jobs", "stuck-drop-1")
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    controllers.job_failed("stuck-drop-1", "pod stuck-drop-1-x: permission denied on /lake/stuck", at=now)

    degraded = controllers.wait_condition("DeltaTable", "stuck", "Degraded", "True", reason="DropFailed")
    assert "permission denied on /lake/stuck" in degraded["message"]
    assert controllers.ecap("DeltaTable", "stuck")["status"]["phase"] == "Degraded"
    assert FINALIZER in finalizers(kube, ns, "stuck")  # never let go silently: the data is still there

    # After the backoff (retry delay 1 s in these tests) a new attempt; the failed one stays for its logs.
    controllers.wait_child("batch/v1", "jobs", "stuck-drop-2")
    assert [j["metadata"]["name"] for j in drop_jobs(kube, ns)] == ["stuck-drop-1", "stuck-drop-2"]
    controllers.wait_condition("DeltaTable", "stuck", "Progressing", "True", reason="Dropping")
    assert kube.find(ECAP, "deltatables", "stuck", ns) is not None
    controllers.job_complete("stuck-drop-2")
    controllers.wait_gone(ECAP, "deltatables", "stuck")
    assert operator.problems() == []


def test_retained_tables_go_at_once_and_nothing_is_dropped(
    kube: KubeClient, kube_namespace: str, operator: OperatorProcess, controllers: Controllers
) -> None:
    ns = kube_namespace
    create_table(kube, ns, "kept", "Retain")
    create_table(kube, ns, "switched", "Delete")
    controllers.wait_child("batch/v1", "cronjobs", "kept-maintain")
    wait_finalizer(kube, ns, "switched", True, operator)
    assert finalizers(kube, ns, "kept") == []

    # Changing one's mind before deleting: the finalizer goes, so does the wish to drop.
    kube.patch(ECAP, "deltatables", "switched", {"spec": {"deletionPolicy": "Retain"}}, ns)
    wait_finalizer(kube, ns, "switched", False, operator)

    for name in ("kept", "switched"):
        kube.delete(ECAP, "deltatables", name, ns)
        assert kube.find(ECAP, "deltatables", name, ns) is None  # no finalizer: gone at once
    time.sleep(1.0)  # time enough for a drop Job to show up, were one made
    assert drop_jobs(kube, ns) == []
    assert operator.problems() == []


def test_foreground_deletion_still_drops_the_data(
    kube: KubeClient, kube_namespace: str, operator: OperatorProcess, controllers: Controllers
) -> None:
    """``kubectl delete --cascade=foreground``: the collector first deletes the table's children, then takes
    its ``foregroundDeletion`` finalizer off; the table still waits on ours, and the drop Job runs."""
    ns = kube_namespace
    create_table(kube, ns, "fg", "Delete")
    wait_finalizer(kube, ns, "fg", True, operator)
    controllers.wait_child("batch/v1", "cronjobs", "fg-maintain")
    kube.delete(ECAP, "deltatables", "fg", ns, propagation="Foreground")
    job = controllers.wait_child("batch/v1", "jobs", "fg-drop-1", timeout=30)
    wait_for(
        lambda: "foregroundDeletion" not in finalizers(kube, ns, "fg"),
        20,
        "the collector to finish the foreground part",
    )
    controllers.job_complete(job["metadata"]["name"])
    controllers.wait_gone(ECAP, "deltatables", "fg")
    assert operator.problems() == []
