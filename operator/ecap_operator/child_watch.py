"""The operator's own list + watch of its children (Strimzi topics, Deployments, Jobs, Spark applications).

A child's change must reach its owner's status at once, but kopf's machinery per watch event (body views,
loggers, causes, filters, progress storage) cost more CPU than the refresh itself: two events per
child and per object. Children need none of it (no finalizers, no retries, no diff base), so one
asyncio task per (kind, namespace) lists and watches them here and hands each event to a plain function:

- it lists first (pages of ``LIST_PAGE``), then watches from the list's resourceVersion, resuming from the
  last one seen (bookmarks included) when a watch ends; 410 Gone or any error means a fresh list, after a
  backoff for errors (doubling up to ``MAX_BACKOFF``, reset by a successful list);
- after a re-list, what changed or vanished while it was not watching is handed on as MODIFIED / DELETED
  (``ChildCache``); the first list hands nothing on: at startup kopf resumes every owner anyway;
- events run in a thread pool (the refresh is synchronous), one at a time per child and newest first:
  a child that changes again while its refresh runs is refreshed once more afterwards, with its latest
  state only (``Dispatcher``);
- cancelling the task stops it at once (the connection is closed); errors are logged, never dropped.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlencode

import aiohttp

from .errors import KubeApiError
from .kube import Credentials, tls_context
from .labels import MANAGED_BY, MANAGED_BY_KEY

Manifest = dict[str, Any]
Handler = Callable[[str | None, Manifest], object]
"""What a child event is handed to: (event type, or None for a re-listed change; the child)."""

LIST_PAGE: Final = 500
WATCH_SECONDS: Final = 300
"""Server-side timeout of one watch request; the next resumes from the last resourceVersion seen."""
MAX_BACKOFF: Final = 60.0
SELECTOR: Final = f"{MANAGED_BY_KEY}={MANAGED_BY}"
"""Only children the operator made (what the builders label them with)."""


class WatchGone(Exception):  # noqa: N818 - named after the API's 410 Gone
    """The resourceVersion to resume from is too old (410 Gone): only a fresh list helps."""


@dataclass(frozen=True)
class WatchTarget:
    """One kind of child in one namespace (None: every namespace)."""

    group: str
    version: str
    plural: str
    namespace: str | None

    def path(self) -> str:
        prefix = "/api" if not self.group else f"/apis/{self.group}"
        where = f"/namespaces/{self.namespace}" if self.namespace else ""
        return f"{prefix}/{self.version}{where}/{self.plural}"

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def __str__(self) -> str:
        return f"{self.plural}.{self.group or 'core'} in {self.namespace or 'every namespace'}"


def _key(obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _version(obj: Mapping[str, Any]) -> str | None:
    version = (obj.get("metadata") or {}).get("resourceVersion")
    return str(version) if version is not None else None


@dataclass
class ChildCache:
    """The children last seen (by namespace and name), to tell after a re-list what was missed."""

    known: dict[tuple[str, str], Manifest] = field(default_factory=dict)

    def seen(self, event_type: str, obj: Manifest) -> None:
        if event_type == "DELETED":
            self.known.pop(_key(obj), None)
        else:
            self.known[_key(obj)] = obj

    def relisted(self, items: Iterable[Manifest], first: bool) -> list[tuple[str | None, Manifest]]:
        """Replace what is known with a list; return the changes it shows (none for the first list):
        (None, child) for a child new or changed since it was last seen, ("DELETED", last seen) for one
        that is gone."""
        before = self.known
        self.known = {_key(item): item for item in items}
        if first:
            return []
        missed: list[tuple[str | None, Manifest]] = [
            (None, item)
            for key, item in self.known.items()
            if key not in before or _version(before[key]) != _version(item)
        ]
        missed.extend(("DELETED", old) for key, old in before.items() if key not in self.known)
        return missed


class Dispatcher:
    """Runs the handler in an executor, one event at a time per child, and only its newest pending one.
    ``accepts`` is asked first (in the event loop, cheaply): events it refuses cost no thread hop."""

    def __init__(
        self,
        handler: Handler,
        executor: concurrent.futures.Executor | None,
        logger: logging.Logger | logging.LoggerAdapter[Any],
        accepts: Callable[[str | None, Manifest], bool] = lambda _type, _obj: True,
    ) -> None:
        self._handler = handler
        self._executor = executor
        self._logger = logger
        self._accepts = accepts
        self._running: dict[tuple[str, str, str], asyncio.Future[object]] = {}
        self._pending: dict[tuple[str, str, str], tuple[str | None, Manifest]] = {}

    def submit(self, plural: str, event_type: str | None, obj: Manifest) -> None:
        if not self._accepts(event_type, obj):
            return
        key = (plural, *_key(obj))
        if key in self._running:
            self._pending[key] = (event_type, obj)  # a newer state replaces one not handled yet
            return
        self._start(key, event_type, obj)

    def _start(self, key: tuple[str, str, str], event_type: str | None, obj: Manifest) -> None:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, self._handler, event_type, obj)
        self._running[key] = future
        future.add_done_callback(lambda done: self._finished(key, done))

    def _finished(self, key: tuple[str, str, str], done: asyncio.Future[object]) -> None:
        self._running.pop(key, None)
        if not done.cancelled() and done.exception() is not None:
            self._logger.error(
                "child %s/%s (%s): event not handled", key[1], key[2], key[0], exc_info=done.exception()
            )
        queued = self._pending.pop(key, None)
        if queued is not None:
            self._start(key, *queued)

    async def drain(self) -> None:
        """Wait for the handlers running now and those queued behind them (tests; a clean stop)."""
        while self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)


def auth_headers(found: Credentials) -> dict[str, str]:
    if found.token:
        return {"Authorization": f"{found.scheme or 'Bearer'} {found.token}"}
    if found.username and found.password is not None:
        return {"Authorization": aiohttp.BasicAuth(found.username, found.password).encode()}
    return {}


async def json_lines(content: aiohttp.StreamReader) -> AsyncIterator[Manifest]:
    """The objects of a watch stream, one per line, of any length (aiohttp's own line reader refuses
    lines above 128 KiB; a big SparkApplication may exceed that)."""
    buffer = b""
    async for chunk in content.iter_any():
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            if line.strip():
                yield json.loads(line)
    if buffer.strip():
        yield json.loads(buffer)


def _why(err: Exception) -> str:
    if isinstance(err, KubeApiError) and err.status == 404:
        return "404: the API serves no such kind; is its CRD installed?"
    return str(err) or type(err).__name__


class ChildWatch:
    """Lists and watches one target for ever, handing every change to a ``Dispatcher``."""

    def __init__(
        self,
        target: WatchTarget,
        connect: Callable[[], Credentials],
        dispatcher: Dispatcher,
        logger: logging.Logger | logging.LoggerAdapter[Any],
        *,
        watch_seconds: int = WATCH_SECONDS,
        first_backoff: float = 1.0,
    ) -> None:
        self.target = target
        self._connect = connect
        self._dispatcher = dispatcher
        self._logger = logger
        self._watch_seconds = watch_seconds
        self._first_backoff = first_backoff
        self.cache = ChildCache()
        self.lists = 0
        """How many lists it made (the first, and one after every 410 or error)."""
        self.listed = asyncio.Event()
        """Set once the first list is done: from then on no change is missed."""

    async def run(self) -> None:
        """Until cancelled: list, watch, resume; re-list after 410 Gone or an error."""
        backoff = self._first_backoff
        failures = 0
        while True:
            try:
                found = self._connect()
                timeout = aiohttp.ClientTimeout(total=None, connect=10, sock_read=self._watch_seconds + 30)
                async with aiohttp.ClientSession(
                    base_url=found.server.rstrip("/"),
                    headers={"Accept": "application/json", **auth_headers(found)},
                    connector=aiohttp.TCPConnector(
                        ssl=tls_context(found) if found.server.startswith("https") else False
                    ),
                    timeout=timeout,
                ) as session:
                    version = await self._list(session)
                    backoff, failures = self._first_backoff, 0
                    while True:
                        version = await self._watch(session, version)
            except WatchGone:
                self._logger.debug("%s: resourceVersion expired (410 Gone), listing again", self.target)
            except (aiohttp.ClientError, TimeoutError, KubeApiError, ValueError, OSError) as err:
                failures += 1
                # A kind whose CRD is not installed (no Spark Operator) fails the same way every time:
                # said loudly once, then at debug level; the resync covers what this watch would see.
                level = logging.WARNING if failures == 1 else logging.DEBUG
                self._logger.log(
                    level, "%s: not watched (%s), retrying in %.1f s", self.target, _why(err), backoff
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)

    async def _get(self, session: aiohttp.ClientSession, params: dict[str, str]) -> Manifest:
        async with session.get(f"{self.target.path()}?{urlencode(params)}") as response:
            if response.status == 410:
                raise WatchGone()
            if response.status >= 400:
                raise KubeApiError(response.status, f"list {self.target}", await response.text())
            payload: Manifest = await response.json(content_type=None)
            return payload

    async def _list(self, session: aiohttp.ClientSession) -> str:
        items: list[Manifest] = []
        params = {"labelSelector": SELECTOR, "limit": str(LIST_PAGE)}
        while True:
            page = await self._get(session, params)
            for item in page.get("items") or []:
                item.setdefault("apiVersion", self.target.api_version)
                item.setdefault("kind", page.get("kind", "").removesuffix("List"))
                items.append(item)
            meta = page.get("metadata") or {}
            if not meta.get("continue"):
                break
            params["continue"] = str(meta["continue"])
        self.lists += 1
        for event_type, obj in self.cache.relisted(items, first=self.lists == 1):
            self._dispatcher.submit(self.target.plural, event_type, obj)
        self.listed.set()
        return str(meta.get("resourceVersion") or "")

    async def _watch(self, session: aiohttp.ClientSession, version: str) -> str:
        """One watch request from ``version``; returns the last resourceVersion seen when it ends."""
        params = {
            "watch": "true",
            "labelSelector": SELECTOR,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(self._watch_seconds),
            "resourceVersion": version,
        }
        async with session.get(f"{self.target.path()}?{urlencode(params)}") as response:
            if response.status == 410:
                raise WatchGone()
            if response.status >= 400:
                raise KubeApiError(response.status, f"watch {self.target}", await response.text())
            async for event in json_lines(response.content):
                event_type = str(event.get("type"))
                obj = event.get("object") or {}
                if event_type == "ERROR":
                    if obj.get("code") == 410:
                        raise WatchGone()
                    raise KubeApiError(int(obj.get("code") or 500), f"watch {self.target}", json.dumps(obj))
                version = _version(obj) or version
                if event_type == "BOOKMARK":
                    continue
                self.cache.seen(event_type, obj)
                self._dispatcher.submit(self.target.plural, event_type, obj)
        return version
