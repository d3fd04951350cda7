"""The RBAC list covers every call the operator makes, and the kopf registry holds every handler."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from ecap_operator import rbac
from ecap_operator.builders import Owner
from ecap_operator.handlers import handle, handler_ids, refresh_owner, resync
from ecap_operator.handlers.children import CHILD_KINDS
from ecap_operator.handlers.engine import Runtime, drop_table_data, reconcile, release_kafka_topic
from ecap_operator.kube import PLURALS, ObjectRef
from ecap_operator.main import _run_options, build_registry
from ecap_operator.reconcile import Context
from ecap_operator.settings import OperatorSettings

from .examples import bodies
from .fake_api import FakeKubeApi

LOG = logging.getLogger("test")


def _group(api_version: str) -> str:
    return api_version.split("/", 1)[0] if "/" in api_version else ""


def _tamper(api: FakeKubeApi) -> None:
    """Edit every child by hand, so the next pass has to patch each kind."""
    for ref, obj in api.objects.items():
        if ref.api_version != "ecap.io/v1alpha1":
            obj["metadata"].setdefault("labels", {})["app.kubernetes.io/part-of"] = "tampered"


def test_every_call_is_allowed_by_the_rbac_list() -> None:
    """Drive every code path (create, drift repair, spec switches, both deletion policies) and compare."""
    api = FakeKubeApi()
    settings = OperatorSettings(strimzi_namespace="kafka")
    examples = bodies()
    for b in examples:
        api.put(b)

    def run(b: dict[str, Any]) -> None:
        ctx = Context(body=b, owner=Owner.from_body(b), settings=settings, now="2026-11-30T00:00:00Z")
        reconcile(b["kind"], ctx, api, LOG)  # type: ignore[arg-type]

    for b in examples:
        run(b)
    _tamper(api)
    for b in examples:
        run(b)
        if b["kind"] == "DeltaTable":
            run({**b, "spec": {**b["spec"], "maintenance": None}})
        if b["kind"] == "SegmentationRun":
            run({**b, "spec": {**b["spec"], "schedule": None}})
            run(b)
    # Status written to the subresource, then every child reporting a status refreshes its owner.
    runtime = Runtime(api, settings)  # type: ignore[arg-type]
    for b in examples:
        handle(b["kind"], api.objects[ObjectRef.of(b)], None, LOG, runtime, from_timer=True)
    _tamper(api)
    resync(runtime, LOG)
    for ref, obj in list(api.objects.items()):
        if ref.api_version != "ecap.io/v1alpha1":
            refresh_owner({**obj, "status": {"seen": True}}, "MODIFIED", runtime, LOG)
            # An operator just restarted remembers no status write of its own: it reads the owner.
            refresh_owner({**obj, "status": {"seen": 2}}, "MODIFIED", Runtime(api, settings), LOG)  # type: ignore[arg-type]
    for index, b in enumerate(b for b in examples if b["kind"] == "KafkaTopic"):
        b["spec"]["deletionPolicy"] = "Delete" if index % 2 else "Retain"
        ctx = Context(body=b, owner=Owner.from_body(b), settings=settings, now="2026-11-30T00:00:00Z")
        release_kafka_topic(ctx, api, LOG)  # type: ignore[arg-type]
    for b in examples:
        if b["kind"] == "DeltaTable":  # deletionPolicy Delete: the drop Job's path
            b["spec"]["deletionPolicy"] = "Delete"
            ctx = Context(body=b, owner=Owner.from_body(b), settings=settings, now="2026-11-30T00:00:00Z")
            drop_table_data(ctx, api, LOG, datetime.now(UTC))  # type: ignore[arg-type]

    allowed = {(g, r, v) for g, r, verbs in rbac.rules() for v in verbs}
    used = {
        (_group(av), f"{PLURALS[(av, kind)]}/status", "patch")
        if verb == "patch_status"
        else (_group(av), PLURALS[(av, kind)], verb)
        for verb, av, kind in api.calls
    }
    assert used - allowed == set()
    # Everything listed is used by a code path, or by kopf itself (list/watch/patch of our kinds, list/watch
    # of the children the child watch follows, events, CRD scanning).
    kopf_only = {(g, r, v) for g, r, v in allowed if g == "ecap.io" and v in ("list", "watch", "patch")}
    kopf_only |= {(c.group, c.plural, v) for c in CHILD_KINDS for v in ("list", "watch")}
    kopf_only |= {("", "events", "create")}
    kopf_only |= {("apiextensions.k8s.io", "customresourcedefinitions", v) for v in ("list", "watch")}
    unused = allowed - used - kopf_only
    assert unused == set(), f"RBAC verbs no code path uses: {sorted(unused)}"


def test_scopes() -> None:
    assert rbac.rules("strimzi") == [
        ("kafka.strimzi.io", "kafkatopics", ("get", "create", "patch", "delete", "list", "watch"))
    ]
    assert rbac.rules("cluster") == [("apiextensions.k8s.io", "customresourcedefinitions", ("list", "watch"))]
    assert ("kopf.dev", "kopfpeerings", ("get", "list", "watch", "patch")) in rbac.rules(peering=True)
    assert not [r for r in rbac.rules() if r[0] == "kopf.dev"]


def test_registry_holds_every_handler() -> None:
    registry = build_registry(OperatorSettings())
    ids = {h.id for h in registry._changing.get_all_handlers()}  # noqa: SLF001 - kopf has no public listing
    ids |= {h.id for h in registry._spawning.get_all_handlers()}  # noqa: SLF001
    ids |= {h.id for h in registry._activities.get_all_handlers()}  # noqa: SLF001
    ids |= {h.id for h in registry._watching.get_all_handlers()}  # noqa: SLF001
    assert ids == set(handler_ids())
    # Children are followed by the operator's own watch (child_watch), not through kopf.
    assert not [h for h in registry._watching.get_all_handlers() if str(h.id).startswith("child_")]  # noqa: SLF001


def test_run_options() -> None:
    assert _run_options([], False, None, None, 0)["clusterwide"] is True
    opts = _run_options(["shop"], False, "http://0.0.0.0:8080/healthz", None, 0)
    assert opts["namespaces"] == ["shop"] and opts["clusterwide"] is False and opts["standalone"] is True
    assert _run_options([], True, None, "ecap", 5)["standalone"] is False
