"""The operator's own child watch (``ecap_operator.child_watch``): what it hands on, against the API emulator
over HTTP (list, watch, resume, 410 Gone, errors, stop), and which namespaces and kinds it follows."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from ecap_operator.child_watch import ChildCache, ChildWatch, Dispatcher, WatchTarget
from ecap_operator.handlers import child_namespace_filter, child_targets
from ecap_operator.kube import Credentials
from ecap_operator.settings import OperatorSettings
from tests.kube.client import KubeClient
from tests.kube.server import EmulatorServer

LOG = logging.getLogger("test.child_watch")
OURS = {"app.kubernetes.io/managed-by": "ecap-operator"}


@pytest.fixture(scope="module")
def own_api() -> Iterator[EmulatorServer]:
    """An emulator of its own: compacting its history must not disturb other tests' watches."""
    with EmulatorServer() as server:
        yield server


def plain_http(server: EmulatorServer) -> Callable[[], Credentials]:
    found = Credentials(server.url, None, False, None, None, None, None, None, None)
    return lambda: found


def config_map(name: str, labels: dict[str, str], value: str = "1") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels},
        "data": {"v": value},
    }


async def until(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@pytest.mark.asyncio
async def test_follows_our_children_resumes_and_lists_again_after_410(own_api: EmulatorServer) -> None:
    kube = KubeClient(own_api.url)
    ns = f"w-{uuid.uuid4().hex[:8]}"
    kube.create_namespace(ns)
    kube.create("v1", "configmaps", config_map("before", OURS), ns)
    seen: list[tuple[str | None, str]] = []
    dispatcher = Dispatcher(lambda kind, obj: seen.append((kind, obj["metadata"]["name"])), None, LOG)
    # A one-second server timeout: the watch ends and resumes from its last resourceVersion all the time.
    watch = ChildWatch(
        WatchTarget("", "v1", "configmaps", ns), plain_http(own_api), dispatcher, LOG, watch_seconds=1
    )
    task = asyncio.create_task(watch.run())
    try:
        await asyncio.wait_for(watch.listed.wait(), 10)
        assert "before" in {name for name in (n for _, n in watch.cache.known)}
        kube.create("v1", "configmaps", config_map("mine", OURS), ns)
        kube.create("v1", "configmaps", config_map("someone-elses", {"app": "x"}), ns)
        await asyncio.sleep(1.5)  # across a resume
        kube.patch("v1", "configmaps", "mine", {"data": {"v": "2"}}, ns)
        kube.delete("v1", "configmaps", "mine", ns)
        await until(lambda: ("DELETED", "mine") in seen, "the deletion")
        # The first list hands nothing on (kopf resumes every owner at startup); others' objects never.
        assert seen == [("ADDED", "mine"), ("MODIFIED", "mine"), ("DELETED", "mine")]
        assert watch.lists == 1

        # A change this watch does not show, then etcd's compaction: resuming now answers 410 Gone.
        kube.create("v1", "configmaps", config_map("unrelated", {"app": "x"}), ns)
        own_api.call(own_api.emulator.store.compact)
        await until(lambda: watch.lists >= 2, "a new list after 410 Gone")
        kube.create("v1", "configmaps", config_map("after", OURS), ns)
        await until(lambda: any(name == "after" for _, name in seen), "a change after the new list")
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 2)


def test_changes_missed_between_two_lists_are_handed_on() -> None:
    cache = ChildCache()

    def obj(name: str, version: str) -> dict[str, Any]:
        return {"metadata": {"namespace": "shop", "name": name, "resourceVersion": version}}

    assert cache.relisted([obj("a", "1"), obj("b", "1"), obj("c", "1")], first=True) == []
    cache.seen("MODIFIED", obj("b", "2"))
    missed = cache.relisted([obj("a", "1"), obj("b", "3"), obj("d", "1")], first=False)
    assert missed == [(None, obj("b", "3")), (None, obj("d", "1")), ("DELETED", obj("c", "1"))]
    cache.seen("DELETED", obj("a", "1"))
    assert set(cache.known) == {("shop", "b"), ("shop", "d")}


@pytest.mark.asyncio
async def test_an_unavailable_kind_is_logged_and_retried(
    own_api: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A child CRD that is not installed (no Spark Operator): a warning, then retries with backoff."""
    target = WatchTarget("sparkoperator.k8s.io", "v1beta2", "sparkapplications", "shop")
    dispatcher = Dispatcher(lambda kind, obj: None, None, LOG)
    watch = ChildWatch(target, plain_http(own_api), dispatcher, LOG, first_backoff=0.05)

    def attempts() -> int:
        return sum("not watched" in r.getMessage() for r in caplog.records)

    with caplog.at_level(logging.DEBUG, logger=LOG.name):
        task = asyncio.create_task(watch.run())
        await until(lambda: attempts() >= 3, "retries")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 2)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "404" in warnings[0].getMessage()
    assert [r for r in caplog.records if r.levelno == logging.DEBUG and "not watched" in r.getMessage()]
    assert watch.lists == 0


@pytest.mark.asyncio
async def test_one_event_at_a_time_per_child_and_only_the_newest_waiting_one() -> None:
    release = threading.Event()
    handled: list[tuple[str | None, str]] = []

    def handler(kind: str | None, obj: dict[str, Any]) -> None:
        handled.append((kind, obj["metadata"]["name"] + obj["metadata"]["resourceVersion"]))
        if obj["metadata"]["name"] == "a":
            release.wait(5)
        if obj["metadata"]["resourceVersion"] == "9":
            raise RuntimeError("boom")

    def obj(name: str, version: str) -> dict[str, Any]:
        return {"metadata": {"namespace": "shop", "name": name, "resourceVersion": version}}

    with ThreadPoolExecutor(4) as pool:
        dispatcher = Dispatcher(handler, pool, LOG, accepts=lambda kind, o: o["metadata"]["name"] != "skip")
        for version in "123":
            dispatcher.submit("configmaps", "MODIFIED", obj("a", version))
        dispatcher.submit("configmaps", "MODIFIED", obj("b", "1"))  # another child is not held up
        dispatcher.submit("configmaps", "MODIFIED", obj("skip", "1"))
        await until(lambda: ("MODIFIED", "b1") in handled, "the other child")
        release.set()
        await dispatcher.drain()
        assert sorted(handled) == [("MODIFIED", "a1"), ("MODIFIED", "a3"), ("MODIFIED", "b1")]
        # A handler's unexpected error is logged with its traceback, and the next event still runs.
        dispatcher.submit("configmaps", "MODIFIED", obj("c", "9"))
        dispatcher.submit("configmaps", "MODIFIED", obj("c", "10"))
        await dispatcher.drain()
        assert ("MODIFIED", "c10") in handled


def test_children_are_followed_where_the_operator_watches() -> None:
    plain = OperatorSettings()
    one = child_targets(plain, ["shop"], clusterwide=False)
    assert {(t.plural, t.namespace) for t in one} == {
        ("kafkatopics", "shop"),
        ("sparkapplications", "shop"),
        ("scheduledsparkapplications", "shop"),
        ("deployments", "shop"),
        ("jobs", "shop"),
        ("cronjobs", "shop"),
    }
    assert one[0].path() == "/apis/kafka.strimzi.io/v1beta2/namespaces/shop/kafkatopics"
    assert {t.namespace for t in child_targets(plain, [], clusterwide=True)} == {None}
    assert WatchTarget("apps", "v1", "deployments", None).path() == "/apis/apps/v1/deployments"
    # Strimzi in another namespace: followed only by an operator that watches (and may list) everywhere.
    elsewhere = OperatorSettings(strimzi_namespace="kafka")
    assert "kafkatopics" not in {t.plural for t in child_targets(elsewhere, ["shop"], clusterwide=False)}
    assert "kafkatopics" in {t.plural for t in child_targets(elsewhere, [], clusterwide=True)}
    # kopf's namespace patterns: one watch everywhere, events outside the patterns ignored.
    assert {t.namespace for t in child_targets(plain, ["shop-*"], clusterwide=False)} == {None}
    wanted = child_namespace_filter(["shop-*,!shop-test"], clusterwide=False)
    assert wanted("shop-eu") and not wanted("shop-test") and not wanted("billing")
    assert child_namespace_filter([], clusterwide=True)("anything")
