"""``KubeEmulator``: kmock's Kubernetes scaffold made stateful enough to run a real kopf operator.

kmock 0.8 serves a Kubernetes-shaped HTTP API (routing, request recording, ``Status`` errors, user
reactions that override answers for fault injection). Its own ``KubernetesEmulator`` keeps objects as
plain dicts and lacks what kopf and the kubernetes client rely on. This subclass keeps kmock's server,
recording and reaction DSL, and answers every resource request from ``ObjectStore``:

- resourceVersion (monotonic; 409 on a stale one), uid, generation, creationTimestamp;
- 201 on create, 409 AlreadyExists, 404 NotFound, 422 Invalid with the offending fields;
- merge, JSON, strategic-merge (by ``name``) and apply patches; the status subresource;
- finalizers and deletionTimestamp; background, foreground and orphan deletion; garbage collection
  of dependents whose owner uid is gone (a reference across namespaces counts as gone);
- label and field selectors, chunked lists, watches from a resourceVersion with bookmarks and 410;
- discovery for the built-in groups and every CRD registered through the API, with schema defaults,
  pruning of undeclared fields (recorded in ``store.pruned``) and validation;
- namespaces (content deleted with them) and events.

Not emulated: authentication/RBAC, admission webhooks, CEL rules, conversion webhooks, field
managers, and the controllers of built-in kinds (no pods appear; tests play those controllers).
"""

from __future__ import annotations

import asyncio
import collections
import json
import re
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Any, Final

import aiohttp.web
import attrs
import kmock
from kmock._internal import rendering
from typing_extensions import override

from . import errors
from .errors import ApiError
from .lifecycle import CrdHook, NamespaceHook
from .patching import APPLY_PATCH, MERGE_PATCH, parse_patch_body
from .registry import ALL_VERBS, NAMESPACE_RESOURCE, ResourceRegistry, ResourceType, StorageKey
from .selectors import Predicate, selector_predicate
from .store import ObjectKey, ObjectStore, WatchEvent

RESOURCE_PATHS: Final = re.compile(r"/api/v1/.+|/apis/[^/]+/[^/]+/.+")
_NAMESPACE_SUBRESOURCES: Final = ("status", "finalize")
_SUBRESOURCE_VERBS: Final = {"status": ["get", "patch", "update"], "scale": ["get", "patch", "update"]}
SERVER_VERSION: Final = {
    "major": "1",
    "minor": "33",
    "gitVersion": "v1.33.0-ecap-emulator",
    "gitCommit": "",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.24",
    "compiler": "gc",
    "platform": "linux/amd64",
}


@attrs.frozen
class Route:
    """What a resource URL addresses."""

    rtype: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None


def parse_resource_path(path: str) -> tuple[str, str, list[str]] | None:
    """``/api/v1/...`` or ``/apis/<group>/<version>/...`` -> (group, version, remaining parts)."""
    parts = [part for part in path.split("/") if part]
    if len(parts) >= 2 and parts[0] == "api":
        return "", parts[1], parts[2:]
    if len(parts) >= 3 and parts[0] == "apis":
        return parts[1], parts[2], parts[3:]
    return None


def request_key(method: str, path: str, query: Mapping[str, str]) -> tuple[str, str]:
    """(verb, plural[/subresource]) of a request, for counting; watches are counted as "WATCH"."""
    parsed = parse_resource_path(path)
    if parsed is None:
        return method, path
    _, _, parts = parsed
    if len(parts) >= 3 and parts[0] == "namespaces":
        parts = parts[2:]
    what = parts[0] if parts else path
    if len(parts) == 3:
        what = f"{what}/{parts[2]}"
    if method == "GET" and query.get("watch") in ("true", "1"):
        return "WATCH", what
    if method == "GET" and len(parts) == 1:
        return "LIST", what
    return method, what


@attrs.define(kw_only=True)
class KubeEmulator(kmock.KubernetesScaffold):
    """The emulated API server; serve it with ``kmock.Server(emulator)`` or ``tests.kube.server``."""

    registry: ResourceRegistry = attrs.field(factory=ResourceRegistry.with_builtins)
    reject_unknown_fields: bool = False
    """422 for undeclared fields of custom objects instead of pruning them as a real server does."""
    store: ObjectStore = attrs.field(init=False)
    bookmark_interval: float = 2.0
    """Seconds between bookmarks on an idle watch (real servers: about a minute)."""
    gc_delay: float = 0.05
    """Seconds before the garbage collector runs after a write that may leave orphans (async in k8s too)."""
    _gc_pending: bool = attrs.field(default=False, init=False)
    _gc_candidates: set[tuple[StorageKey, ObjectKey]] = attrs.field(factory=set, init=False)
    request_log_size: int = 20
    """Requests kept for assertions (``emulator.requests``); kmock's matching cost grows with the log."""
    active_watches: dict[tuple[str, str, str | None], int] = attrs.field(factory=dict, init=False)
    """(group, plural, namespace or None) -> open watch streams; tests wait on it for an operator to be up."""
    _own_reactions: int = attrs.field(default=0, init=False)
    request_counts: collections.Counter[tuple[str, str]] = attrs.field(
        factory=collections.Counter, init=False
    )
    """(method, what) -> requests served, e.g. ("PATCH", "kafkatopics/status") or ("WATCH", "kafkatopics"),
    and watch events sent, e.g. ("EVENT", "MODIFIED kafkatopics"): what clients cost the API (benchmarks
    compare them per object)."""

    _json_cache: collections.OrderedDict[int, tuple[object, bytes]] = attrs.field(
        factory=collections.OrderedDict, init=False
    )

    def __attrs_post_init__(self) -> None:
        self.store = ObjectStore(
            self.registry,
            hooks=[CrdHook(self.registry), NamespaceHook()],
            reject_unknown_fields=self.reject_unknown_fields,
        )
        super().__attrs_post_init__()
        self.fallback[RESOURCE_PATHS] << self._serve_resource
        self.fallback["get", re.compile(r"/openapi/.*")] << (
            lambda: _raise(errors.unknown_resource("openapi"))
        )
        self._own_reactions = len(self._payloads)

    # -- kmock integration ------------------------------------------------------------------------

    @override
    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        self.request_counts[request_key(raw_request.method, raw_request.path, raw_request.query)] += 1
        try:
            if len(self._payloads) == self._own_reactions and RESOURCE_PATHS.fullmatch(raw_request.path):
                return await self._serve_direct(raw_request)
            # kmock 0.8's path parser raises on the bare namespace collection ("/api/v1/namespaces"),
            # so that one path is parsed here; everything else takes kmock's own way.
            if raw_request.path.rstrip("/") != "/api/v1/namespaces":
                return await super().__call__(raw_request)
            return await self._serve_namespace_collection(raw_request)
        finally:
            self._trim_request_log()

    async def _serve_direct(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        """A resource request answered straight from the store, while no test has added reactions.

        kmock finds a request's reaction by running every reaction's filters over its request log, and
        renders the answer through its generic payload interpreter: together milliseconds per request,
        most of the emulator's CPU under an operator's load. Its built-in reactions answer discovery
        paths only, never ``RESOURCE_PATHS``, so the answer is the same; the request is still recorded
        (``emulator.requests``). A test that adds a reaction (fault injection) gets kmock's way back.
        """
        request = await self._recorded_request(raw_request)
        try:
            response = await self._serve_resource(request)
        except ApiError as err:
            return await self._render_error(err)
        except Exception as err:
            # What kmock does with a failure of its own: kept for the test to re-raise, answered as 500.
            if not self._errors:
                raise
            self._errors[-1].append(err)
            return await super()._render_error(err)
        payload, status = response.payload, response.status or 200
        if not isinstance(payload, AsyncGenerator):
            return aiohttp.web.Response(
                status=status, body=self._serialized(payload), content_type="application/json"
            )
        stream = aiohttp.web.StreamResponse(status=status)
        stream.content_type = "application/json"
        await stream.prepare(raw_request)
        try:
            async for chunk in payload:
                if isinstance(chunk, bytes):
                    if chunk:
                        await stream.write(chunk)
                else:
                    await stream.write(self._serialized_event(chunk) + b"\n")
                    self._count_event(chunk, request.url.path)
            await stream.write_eof()
        except ConnectionError:
            pass  # the watcher went away
        finally:
            await payload.aclose()  # unsubscribes the watch at once, also when cancelled
        return stream

    def _serialized(self, payload: Any) -> bytes:
        """JSON of a response or event object. A stored object is serialised once for its write's answer
        and every watcher's event (committed objects are never changed in place: a write stores a new
        one), so it is kept by identity for a while; anything else is serialised each time."""
        meta = payload.get("metadata") if isinstance(payload, dict) else None
        if not (isinstance(meta, dict) and "uid" in meta and "resourceVersion" in meta):
            return _json_bytes(payload)
        cache = self._json_cache
        hit = cache.get(id(payload))
        if hit is not None and hit[0] is payload:
            return hit[1]
        data = _json_bytes(payload)
        cache[id(payload)] = (payload, data)  # the reference keeps the id from being reused meanwhile
        if len(cache) > JSON_CACHE_SIZE:
            cache.popitem(last=False)
        return data

    def _serialized_event(self, event: Mapping[str, Any]) -> bytes:
        if set(event) != {"type", "object"}:
            return _json_bytes(event)
        return (
            b'{"type":'
            + _json_bytes(event["type"])
            + b',"object":'
            + self._serialized(event["object"])
            + b"}"
        )

    def _count_event(self, event: Mapping[str, Any], path: str) -> None:
        """Watch events sent count too: each is serialised for, and handled by, its watcher."""
        _, what = request_key("GET", path, {})
        self.request_counts[("EVENT", f"{event.get('type')} {what}")] += 1

    async def _recorded_request(self, raw_request: aiohttp.web.BaseRequest) -> rendering.Request:
        """The request as kmock records it (method, url, params, headers, body, JSON data)."""
        body = await raw_request.read()
        try:
            data = json.loads(body) if body else None
        except ValueError:
            data = None
        request = rendering.Request(
            id=len(self._requests),
            raw_request=raw_request,
            url=raw_request.url,
            method=raw_request.method,
            params=dict(raw_request.query),
            headers=dict(raw_request.headers),
            cookies=dict(raw_request.cookies) if "Cookie" in raw_request.headers else {},
            data=data,
            body=body,
            text=body.decode(errors="replace"),
        )
        self._requests.append(request)
        return request

    def _trim_request_log(self) -> None:
        """Keep only the latest requests: kmock matches each request against its whole log (O(n)). Trimmed
        once the log holds twice ``request_log_size`` (not after every request)."""
        if len(self._requests) < 2 * self.request_log_size:
            return
        excess = len(self._requests) - self.request_log_size
        if excess > 0:
            del self._requests[:excess]
        for payload in self._payloads:
            recorded = payload._requests
            if len(recorded) > self.request_log_size:
                del recorded[: len(recorded) - self.request_log_size]

    async def _serve_namespace_collection(
        self, raw_request: aiohttp.web.BaseRequest
    ) -> aiohttp.web.StreamResponse:
        request = await self._recorded_request(raw_request)
        object.__setattr__(request, "resource", kmock.resource("", "v1", "namespaces"))
        try:
            return await self._handle(request)
        except ApiError as err:
            return await self._render_error(err)

    @override
    async def _render_error(self, exc: Exception) -> aiohttp.web.StreamResponse:
        if isinstance(exc, ApiError):
            return aiohttp.web.json_response(exc.status_body(), status=exc.code)
        return await super()._render_error(exc)

    # -- discovery --------------------------------------------------------------------------------

    @override
    async def _serve_server_version(self, request: rendering.Request) -> rendering.Payload:
        return dict(SERVER_VERSION)

    @override
    async def _serve_api(self, request: rendering.Request) -> rendering.Payload:
        host = request.url.host or "127.0.0.1"
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": f"{host}:{request.url.port}"}
            ],
        }

    def _group_info(self, group: str, types: list[ResourceType]) -> dict[str, Any]:
        versions = sorted(
            {t.version for t in types},
            key=lambda v: (not any(t.preferred for t in types if t.version == v), v),
        )
        listed = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"name": group, "versions": listed, "preferredVersion": listed[0]}

    @override
    async def _serve_apis(self, request: rendering.Request) -> rendering.Payload:
        groups = self.registry.groups()
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [self._group_info(group, types) for group, types in sorted(groups.items()) if group],
        }

    @override
    async def _serve_group(self, request: rendering.Request) -> rendering.Payload:
        group = request.url.path.strip("/").split("/")[1]
        types = self.registry.groups().get(group)
        if not types or not group:
            raise errors.unknown_resource(request.url.path)
        return {"kind": "APIGroup", "apiVersion": "v1", **self._group_info(group, types)}

    @override
    async def _serve_version(self, request: rendering.Request) -> rendering.Payload:
        parsed = parse_resource_path(request.url.path)
        if parsed is None:
            raise errors.unknown_resource(request.url.path)
        group, version, _ = parsed
        types = [t for t in self.registry if t.group == group and t.version == version]
        if not types:
            raise errors.unknown_resource(request.url.path)
        resources: list[dict[str, Any]] = []
        for rtype in sorted(types, key=lambda t: t.plural):
            resources.append(
                {
                    "name": rtype.plural,
                    "singularName": rtype.singular,
                    "namespaced": rtype.namespaced,
                    "kind": rtype.kind,
                    "verbs": list(ALL_VERBS),
                    "shortNames": list(rtype.short_names),
                    "categories": list(rtype.categories),
                }
            )
            for sub in rtype.subresources:
                resources.append(
                    {
                        "name": f"{rtype.plural}/{sub}",
                        "singularName": "",
                        "kind": rtype.kind,
                        "namespaced": rtype.namespaced,
                        "verbs": _SUBRESOURCE_VERBS.get(sub, ["get"]),
                    }
                )
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": resources,
        }

    # -- resources --------------------------------------------------------------------------------

    def route(self, path: str) -> Route:
        """Resolve a resource URL; a 404 ``ApiError`` for unknown resources."""
        parsed = parse_resource_path(path)
        if parsed is None:
            raise errors.unknown_resource(path)
        group, version, parts = parsed
        namespace: str | None = None
        if (
            parts
            and parts[0] == "namespaces"
            and group == ""
            and (len(parts) <= 2 or (len(parts) == 3 and parts[2] in _NAMESPACE_SUBRESOURCES))
        ):
            rest = parts  # the Namespace objects themselves
        elif parts and parts[0] == "namespaces" and len(parts) >= 3:
            namespace, rest = parts[1], parts[2:]
        else:
            rest = parts
        if not rest or len(rest) > 3:
            raise errors.unknown_resource(path)
        rtype = self.registry.get(group, version, rest[0])
        if rtype is None:
            raise errors.unknown_resource(path)
        if namespace is not None and not rtype.namespaced:
            raise errors.unknown_resource(path)
        name = rest[1] if len(rest) > 1 else None
        subresource = rest[2] if len(rest) > 2 else None
        if (
            subresource is not None
            and subresource not in rtype.subresources
            and not (rtype is NAMESPACE_RESOURCE and subresource == "finalize")
        ):
            raise errors.unknown_resource(path)
        return Route(rtype, namespace if rtype.namespaced else None, name, subresource)

    async def _serve_resource(self, request: rendering.Request) -> rendering.Response:
        route = self.route(request.url.path)
        params = request.params
        method = str(request.method.value).upper()
        strict = params.get("fieldValidation") == "Strict"
        dry_run = params.get("dryRun") == "All"
        if method == "GET" and params.get("watch") in ("true", "1"):
            return self._respond(200, self._watch(route, params))
        if method == "GET" and route.name is None:
            return self._respond(200, self._list(route, params))
        if method == "GET":
            return self._respond(200, self.store.get(route.rtype, route.namespace, route.name or ""))
        if method == "POST" and route.name is None:
            created = self.store.create(
                route.rtype, route.namespace, request.data or {}, strict_fields=strict, dry_run=dry_run
            )
            self._after_write(route.rtype, created)
            return self._respond(201, created)
        if route.name is None and method == "DELETE":
            return self._respond(200, self._delete_collection(route, params, request.data))
        if route.name is None:
            raise errors.method_not_allowed(f"{method} is not supported on a collection")
        if method == "PUT":
            replaced = self.store.replace(
                route.rtype,
                route.namespace,
                route.name,
                request.data or {},
                subresource=_writable(route.subresource),
                strict_fields=strict,
            )
            self._after_write(route.rtype, replaced)
            return self._respond(200, replaced)
        if method == "PATCH":
            return self._patch(route, request, strict)
        if method == "DELETE":
            options = request.data if isinstance(request.data, Mapping) else {}
            propagation = str(
                params.get("propagationPolicy") or options.get("propagationPolicy") or "Background"
            )
            result = self.store.delete(
                route.rtype,
                route.namespace,
                route.name,
                propagation=propagation,
                preconditions=options.get("preconditions"),
                dry_run=dry_run,
            )
            return self._respond(200, result)
        raise errors.method_not_allowed(f"{method} is not supported on {request.url.path}")

    def _patch(self, route: Route, request: rendering.Request, strict: bool) -> rendering.Response:
        content_type = request.headers.get("Content-Type") or MERGE_PATCH
        patch = parse_patch_body(content_type, request.body)
        assert route.name is not None
        exists = self.store.find(route.rtype, route.namespace, route.name) is not None
        if content_type.startswith(APPLY_PATCH) and not exists and route.subresource is None:
            created = self.store.create(route.rtype, route.namespace, patch, strict_fields=strict)
            self._after_write(route.rtype, created)
            return self._respond(201, created)
        patched = self.store.patch(
            route.rtype,
            route.namespace,
            route.name,
            content_type,
            patch,
            subresource=_writable(route.subresource),
            strict_fields=strict,
        )
        self._after_write(route.rtype, patched)
        return self._respond(200, patched)

    def _list(self, route: Route, params: Mapping[str, str]) -> dict[str, Any]:
        predicate = self._predicate(route, params)
        items, version = self.store.list_objects(route.rtype, route.namespace, predicate)
        metadata: dict[str, Any] = {"resourceVersion": str(version)}
        limit = int(params.get("limit") or 0)
        start = int(params.get("continue") or 0)
        if limit > 0:
            page = items[start : start + limit]
            if start + limit < len(items):
                metadata["continue"] = str(start + limit)
                metadata["remainingItemCount"] = len(items) - start - limit
            items = page
        return {
            "kind": f"{route.rtype.kind}List",
            "apiVersion": route.rtype.api_version,
            "metadata": metadata,
            "items": items,
        }

    def _delete_collection(self, route: Route, params: Mapping[str, str], options: Any) -> dict[str, Any]:
        listed = self._list(route, {k: v for k, v in params.items() if k not in ("limit", "continue")})
        propagation = str(params.get("propagationPolicy") or "Background")
        for item in listed["items"]:
            meta = item["metadata"]
            if self.store.find(route.rtype, meta.get("namespace"), meta["name"]) is not None:
                self.store.delete(route.rtype, meta.get("namespace"), meta["name"], propagation=propagation)
        return listed

    def _predicate(self, route: Route, params: Mapping[str, str]) -> Predicate | None:
        fields = params.get("fieldSelector") or ""
        if route.name is not None:
            fields = ",".join(filter(None, [fields, f"metadata.name={route.name}"]))
        labels = params.get("labelSelector")
        return selector_predicate(labels, fields) if (labels or fields) else None

    def _after_write(self, rtype: ResourceType, body: Mapping[str, Any]) -> None:
        meta = body.get("metadata", {})
        if meta.get("ownerReferences"):
            scope = meta.get("namespace") if rtype.namespaced else None
            self._gc_candidates.add((rtype.storage_key, (scope, meta["name"])))
            self.schedule_gc()

    def schedule_gc(self) -> None:
        """Run the garbage collector shortly (coalesced), as the real one runs asynchronously: over the
        objects written with owner references since its last run (a deleted owner's dependents are
        collected by the store at once)."""
        if self._gc_pending:
            return
        self._gc_pending = True

        def collect() -> None:
            self._gc_pending = False
            candidates, self._gc_candidates = self._gc_candidates, set()
            self.store.collect_garbage(candidates)

        asyncio.get_running_loop().call_later(self.gc_delay, collect)

    def _respond(self, status: int, payload: rendering.Payload) -> rendering.Response:
        return rendering.Response(
            status=status, payload=payload, headers={"Content-Type": "application/json"}
        )

    # -- watching ---------------------------------------------------------------------------------

    async def _watch(self, route: Route, params: Mapping[str, str]) -> AsyncIterator[rendering.Payload]:
        """A watch stream: initial state or history from a resourceVersion, then live changes."""
        rtype = route.rtype
        predicate = self._predicate(route, params)
        bookmarks = params.get("allowWatchBookmarks") == "true"
        timeout = float(params["timeoutSeconds"]) if params.get("timeoutSeconds") else None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout if timeout is not None else None
        queue: asyncio.Queue[WatchEvent] = asyncio.Queue()
        selected: set[tuple[str | None, str]] = set()

        def relevant(event: WatchEvent) -> bool:
            return event.storage == rtype.storage_key and (
                route.namespace is None or event.namespace == route.namespace
            )

        unsubscribe = self.store.subscribe(lambda event: queue.put_nowait(event) if relevant(event) else None)
        watch_key = (rtype.group, rtype.plural, route.namespace)
        self.active_watches[watch_key] = self.active_watches.get(watch_key, 0) + 1
        try:
            yield b""  # send the headers now: clients wait for them before reading the stream
            since = params.get("resourceVersion")
            initial = params.get("sendInitialEvents") == "true" or since in (None, "", "0")
            replay: list[WatchEvent] = []
            if initial:
                items, version = self.store.list_objects(rtype, route.namespace, predicate)
                for item in items:
                    selected.add((item["metadata"].get("namespace"), item["metadata"]["name"]))
                    yield {"type": "ADDED", "object": item}
                if params.get("sendInitialEvents") == "true":
                    yield self._bookmark(rtype, version, initial_end=True)
            else:
                assert since is not None
                try:
                    replay = self.store.history_since(int(since))
                except ValueError:
                    yield {
                        "type": "ERROR",
                        "object": errors.bad_request(f"invalid resourceVersion {since!r}").status_body(),
                    }
                    return
                except ApiError as err:
                    yield {"type": "ERROR", "object": err.status_body()}
                    return
                version = int(since)
            for event in replay:
                if relevant(event):
                    out = self._translate(event, rtype, predicate, selected)
                    if out is not None:
                        yield out
                version = event.resource_version
            while True:
                wait = self.bookmark_interval
                if deadline is not None:
                    wait = min(wait, deadline - loop.time())
                    if wait <= 0:
                        return
                try:
                    # A waiting event is taken at once, else awaited under a timer (no task per event, as
                    # wait_for makes: under a burst of writes that cost more than the event itself).
                    if queue.empty():
                        async with asyncio.timeout(wait):
                            event = await queue.get()
                    else:
                        event = queue.get_nowait()
                except TimeoutError:
                    if bookmarks and (deadline is None or loop.time() < deadline):
                        yield self._bookmark(rtype, self.store.resource_version)
                    continue
                if event.resource_version <= version:
                    continue  # already sent from the history
                out = self._translate(event, rtype, predicate, selected)
                if out is not None:
                    yield out
        finally:
            unsubscribe()
            self.active_watches[watch_key] -= 1

    def _translate(
        self,
        event: WatchEvent,
        rtype: ResourceType,
        predicate: Predicate | None,
        selected: set[tuple[str | None, str]],
    ) -> dict[str, Any] | None:
        """The event as this watcher sees it: objects entering or leaving a selector are ADDED/DELETED."""
        body = (
            event.body
            if event.body.get("apiVersion") == rtype.api_version
            else {**event.body, "apiVersion": rtype.api_version}
        )
        if predicate is None:
            return {"type": event.type, "object": body}
        key = (body["metadata"].get("namespace"), body["metadata"]["name"])
        matches = predicate(body)
        # As a real server decides it: from the object before the change (this stream may not have seen it).
        was_selected = key in selected or (
            event.type == "MODIFIED" and event.previous is not None and predicate(event.previous)
        )
        if event.type == "DELETED":
            selected.discard(key)
            return {"type": "DELETED", "object": body} if was_selected or matches else None
        if matches:
            selected.add(key)
            return {"type": event.type if was_selected else "ADDED", "object": body}
        if was_selected:
            selected.discard(key)
            return {"type": "DELETED", "object": body}
        return None

    def _bookmark(self, rtype: ResourceType, version: int, initial_end: bool = False) -> dict[str, Any]:
        metadata: dict[str, Any] = {"resourceVersion": str(version)}
        if initial_end:
            metadata["annotations"] = {"k8s.io/initial-events-end": "true"}
        return {
            "type": "BOOKMARK",
            "object": {"apiVersion": rtype.api_version, "kind": rtype.kind, "metadata": metadata},
        }


JSON_CACHE_SIZE: Final = 512
"""Stored objects whose JSON the emulator keeps (the latest writes: their answers and watch events)."""


def _json_bytes(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def _writable(subresource: str | None) -> str | None:
    if subresource == "finalize":
        return None  # namespaces/<name>/finalize writes the object itself
    return subresource


def _raise(error: ApiError) -> None:
    raise error
