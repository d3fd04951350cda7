"""The emulated API server's state: objects, resource versions, finalizers, and the watch history.

Every write goes through ``ObjectStore._commit``, which enforces what clients rely on: a monotonic
``resourceVersion`` (a no-op write keeps it), ``generation`` bumped only by spec changes, status
written only through the status subresource when the resource has one, schema defaults, pruning and
validation for custom resources, and removal once ``deletionTimestamp`` is set and no finalizer is left.
Stored bodies are never mutated after commit (copy on write), so watch events can share them.

All methods are synchronous and run on the emulator's event loop thread: no locks are needed.
"""

from __future__ import annotations

import copy
import secrets
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from . import errors
from .errors import ApiError, FieldCause
from .patching import PatchTestFailed, apply_patch
from .registry import NAMESPACE_RESOURCE, ResourceRegistry, ResourceType, StorageKey
from .schema import CompiledSchema, apply_defaults, prune_unknown
from .selectors import Predicate

ObjectKey = tuple[str | None, str]
"""(namespace or None for cluster-scoped, name)."""

DNS_SUBDOMAIN_MAX: Final = 253
_NAME_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-.")
_GENERATE_SUFFIX: Final = "bcdfghjklmnpqrstvwxz2456789"
SYSTEM_NAMESPACES: Final = ("default", "kube-system", "kube-public")


@dataclass(frozen=True)
class WatchEvent:
    """One change, as watch streams deliver it; ``body`` is the committed (immutable) object."""

    type: str
    storage: StorageKey
    namespace: str | None
    body: Mapping[str, Any]
    resource_version: int
    previous: Mapping[str, Any] | None = None
    """The object before a MODIFIED change: whether it matched a watch's selector decides ADDED or MODIFIED
    for watchers that did not see it in their own stream (one resumed from a resourceVersion)."""


@dataclass(frozen=True)
class PrunedField:
    """A field a real API server would have dropped silently because the CRD schema lacks it."""

    kind: str
    namespace: str | None
    name: str
    path: str


def utc_now() -> datetime:
    return datetime.now(UTC)


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _valid_name(name: str) -> bool:
    return (
        0 < len(name) <= DNS_SUBDOMAIN_MAX
        and set(name) <= _NAME_CHARS
        and name[0].isalnum()
        and name[-1].isalnum()
    )


def _copy(value: Any) -> Any:
    """A deep copy of a JSON document (dicts, lists, scalars): what ``copy.deepcopy`` does, several times
    faster, for the copies every write makes (anything else still goes through ``copy.deepcopy``)."""
    kind = type(value)
    if kind is dict:
        return {key: _copy(item) for key, item in value.items()}
    if kind is list:
        return [_copy(item) for item in value]
    if kind in (str, int, float, bool) or value is None:
        return value
    return copy.deepcopy(value)


def _without(body: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in keys}


@dataclass
class ObjectStore:
    """In-memory objects per resource, with a bounded history of changes for watch resumption."""

    registry: ResourceRegistry
    clock: Callable[[], datetime] = utc_now
    history_size: int = 50_000
    reject_unknown_fields: bool = False
    """Answer 422 instead of pruning undeclared fields of custom objects (as ``fieldValidation=Strict``)."""

    _objects: dict[StorageKey, dict[ObjectKey, dict[str, Any]]] = field(default_factory=dict)
    _by_uid: dict[str, tuple[StorageKey, ObjectKey]] = field(default_factory=dict)
    _history: deque[WatchEvent] = field(init=False)
    _listeners: list[Callable[[WatchEvent], None]] = field(default_factory=list)
    _schemas: dict[int, CompiledSchema] = field(default_factory=dict)
    _revision: int = 1
    pruned: list[PrunedField] = field(default_factory=list)
    hooks: list[StoreHook] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._history = deque(maxlen=self.history_size)
        for name in SYSTEM_NAMESPACES:
            self.create(NAMESPACE_RESOURCE, None, {"metadata": {"name": name}})

    # -- reading ----------------------------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        return self._revision

    @property
    def oldest_resource_version(self) -> int:
        """The lowest version a watch can resume from without a 410 Gone."""
        return self._history[0].resource_version - 1 if self._history else self._revision

    def get(self, rtype: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        body = self._objects.get(rtype.storage_key, {}).get((self._scope(rtype, namespace), name))
        if body is None:
            raise errors.not_found(rtype.plural, rtype.group, name)
        return self._as_version(rtype, body)

    def find(self, rtype: ResourceType, namespace: str | None, name: str) -> dict[str, Any] | None:
        body = self._objects.get(rtype.storage_key, {}).get((self._scope(rtype, namespace), name))
        return None if body is None else self._as_version(rtype, body)

    def list_objects(
        self, rtype: ResourceType, namespace: str | None, predicate: Predicate | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        """Objects in a namespace (all for None), sorted by namespace and name; and the list version."""
        items = []
        for (ns, _name), body in sorted(
            self._objects.get(rtype.storage_key, {}).items(), key=lambda kv: (kv[0][0] or "", kv[0][1])
        ):
            if namespace is not None and rtype.namespaced and ns != namespace:
                continue
            if predicate is None or predicate(body):
                items.append(self._as_version(rtype, body))
        return items, self._revision

    def all_objects(self) -> Iterator[tuple[StorageKey, ObjectKey, dict[str, Any]]]:
        for storage, objects in list(self._objects.items()):
            for key, body in list(objects.items()):
                yield storage, key, body

    def history_since(self, resource_version: int) -> list[WatchEvent]:
        """Changes after ``resource_version``; a 410 Gone ``ApiError`` if that point was forgotten."""
        if resource_version < self.oldest_resource_version:
            raise errors.gone(
                f"too old resource version: {resource_version} ({self.oldest_resource_version})"
            )
        return [event for event in self._history if event.resource_version > resource_version]

    def compact(self) -> None:
        """Forget the change history, as etcd's compaction does: a watch resuming from before now gets
        410 Gone and has to list again."""
        self._history.clear()

    def subscribe(self, listener: Callable[[WatchEvent], None]) -> Callable[[], None]:
        """Call ``listener`` for every future change; returns the unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    # -- writing ----------------------------------------------------------------------------------

    def create(
        self,
        rtype: ResourceType,
        namespace: str | None,
        body: Mapping[str, Any],
        *,
        strict_fields: bool = False,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        if not isinstance(body, Mapping):
            raise errors.bad_request("the request body must be a JSON object")
        new = _copy(dict(body))
        meta = new.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        body_namespace = meta.get("namespace")
        if rtype.namespaced:
            if namespace and body_namespace and body_namespace != namespace:
                raise errors.bad_request(
                    f"the namespace of the provided object ({body_namespace}) does not "
                    f"match the namespace sent on the request ({namespace})"
                )
            namespace = namespace or body_namespace
            if not namespace:
                raise errors.bad_request("a namespaced object needs a namespace")
            self._require_active_namespace(namespace)
            meta["namespace"] = namespace
        else:
            namespace = None
            meta.pop("namespace", None)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = self._generate_name(rtype, namespace, str(meta["generateName"]))
        name = meta.get("name")
        if not isinstance(name, str) or not _valid_name(name):
            raise errors.invalid(
                rtype.kind,
                rtype.group,
                name if isinstance(name, str) else None,
                [
                    FieldCause(
                        "metadata.name",
                        "Invalid value: a lowercase RFC 1123 subdomain is required"
                        if name
                        else "Required value: name or generateName is required",
                    )
                ],
            )
        key = (namespace, name)
        if key in self._objects.get(rtype.storage_key, {}):
            raise errors.already_exists(rtype.plural, rtype.group, name)
        new["apiVersion"], new["kind"] = rtype.api_version, rtype.kind
        for managed in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"):
            meta.pop(managed, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = _timestamp(self.clock())
        meta["generation"] = 1
        if rtype.has_status and rtype.schema is not None:
            new.pop("status", None)  # custom resources: status only through /status
        self._admit(rtype, namespace, name, new, strict_fields)
        for hook in self.hooks:
            hook.before_create(self, rtype, new)
        if dry_run:
            return self._as_version(rtype, new)
        self._store(rtype, namespace, name, new, "ADDED")
        for hook in self.hooks:
            hook.after_create(self, rtype, new)
        return self._as_version(rtype, new)

    def replace(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        body: Mapping[str, Any],
        *,
        subresource: str | None = None,
        strict_fields: bool = False,
    ) -> dict[str, Any]:
        if not isinstance(body, Mapping):
            raise errors.bad_request("the request body must be a JSON object")
        current = self._current(rtype, namespace, name)
        self._check_version(rtype, name, current, (body.get("metadata") or {}).get("resourceVersion"))
        return self._commit(rtype, namespace, name, current, _copy(dict(body)), subresource, strict_fields)

    def patch(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        content_type: str,
        patch: Any,
        *,
        subresource: str | None = None,
        strict_fields: bool = False,
    ) -> dict[str, Any]:
        current = self._current(rtype, namespace, name)
        if isinstance(patch, Mapping):
            self._check_version(rtype, name, current, (patch.get("metadata") or {}).get("resourceVersion"))
        try:
            candidate = apply_patch(content_type, current, patch)
        except PatchTestFailed as err:
            raise ApiError(
                422,
                "Invalid",
                f"the server rejected our request due to an error in our request: {err}",
                {"name": name, "kind": rtype.plural},
            ) from err
        return self._commit(rtype, namespace, name, current, candidate, subresource, strict_fields)

    def delete(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        *,
        propagation: str = "Background",
        preconditions: Mapping[str, Any] | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Mark for deletion while finalizers remain; otherwise remove now and collect dependents."""
        current = self._current(rtype, namespace, name)
        meta = current["metadata"]
        if preconditions:
            if preconditions.get("uid") not in (None, meta["uid"]):
                raise errors.conflict(
                    rtype.plural,
                    rtype.group,
                    name,
                    "Precondition failed: UID in precondition"
                    f": {preconditions['uid']}, UID in object meta: {meta['uid']}",
                )
            self._check_version(rtype, name, current, preconditions.get("resourceVersion"))
        if dry_run:
            return self._as_version(rtype, current)
        for hook in self.hooks:
            hook.before_delete(self, rtype, current)
        current = self._current(rtype, namespace, name)  # hooks may have added finalizers
        meta = current["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        if propagation == "Foreground" and self.dependents_of(meta["uid"]):
            finalizers = (
                [*finalizers, "foregroundDeletion"] if "foregroundDeletion" not in finalizers else finalizers
            )
        elif propagation == "Orphan":
            self._orphan_dependents(meta["uid"])
        if not finalizers:
            return self._remove(rtype, current)
        if meta.get("deletionTimestamp"):
            return self._as_version(rtype, current)
        marked = _copy(current)
        marked["metadata"]["deletionTimestamp"] = _timestamp(self.clock())
        marked["metadata"]["deletionGracePeriodSeconds"] = 0
        marked["metadata"]["finalizers"] = finalizers
        self._store(rtype, namespace, name, marked, "MODIFIED")
        if "foregroundDeletion" in finalizers:
            for dep_storage, dep_key, _dep in self.dependents_of(meta["uid"]):
                self._delete_stored(dep_storage, dep_key, "Foreground")
            self._finish_foreground(rtype, namespace, name)
        return self._as_version(rtype, marked)

    # -- garbage collection -----------------------------------------------------------------------

    def dependents_of(self, uid: str) -> list[tuple[StorageKey, ObjectKey, dict[str, Any]]]:
        return [
            (storage, key, body)
            for storage, key, body in self.all_objects()
            if any(ref.get("uid") == uid for ref in body["metadata"].get("ownerReferences") or [])
        ]

    def owner_exists(self, dependent_namespace: str | None, uid: str) -> bool:
        """Whether the owner is alive where the dependent can see it (its namespace or cluster scope)."""
        located = self._by_uid.get(uid)
        if located is None:
            return False
        owner_namespace = located[1][0]
        return owner_namespace is None or owner_namespace == dependent_namespace

    def collect_garbage(self, candidates: Iterable[tuple[StorageKey, ObjectKey]] | None = None) -> int:
        """Delete objects whose owners are all gone; drop dangling references from the others.

        Returns how many objects were deleted (or marked for deletion). Owners are looked up by uid in
        the dependent's own namespace or at cluster scope, as the real garbage collector does: an owner
        reference across namespaces counts as absent. ``candidates``: only these objects (those written
        with owner references since the last run); None: every object.
        """
        collected = 0
        if candidates is None:
            listed = list(self.all_objects())
        else:
            listed = []
            for storage, key in candidates:
                found = self._objects.get(storage, {}).get(key)
                if found is not None:
                    listed.append((storage, key, found))
        for storage, key, body in listed:
            refs = body["metadata"].get("ownerReferences") or []
            if not refs or self._objects.get(storage, {}).get(key) is not body:
                continue
            alive = [ref for ref in refs if self.owner_exists(key[0], ref.get("uid", ""))]
            if not alive:
                if not body["metadata"].get("deletionTimestamp"):
                    self._delete_stored(storage, key, "Background")
                    collected += 1
            elif len(alive) < len(refs):
                rtype = self._rtype_of(storage)
                pruned = _copy(body)
                pruned["metadata"]["ownerReferences"] = alive
                self._bump_and_store(rtype, key[0], key[1], pruned, "MODIFIED")
        return collected

    # -- internals --------------------------------------------------------------------------------

    def _scope(self, rtype: ResourceType, namespace: str | None) -> str | None:
        return namespace if rtype.namespaced else None

    def _rtype_of(self, storage: StorageKey) -> ResourceType:
        rtype = self.registry.by_storage(storage)
        if rtype is None:
            raise errors.unknown_resource(f"{storage[1]}.{storage[0]}")
        return rtype

    def _as_version(self, rtype: ResourceType, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("apiVersion") == rtype.api_version:
            return body
        return {**body, "apiVersion": rtype.api_version}

    def _current(self, rtype: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        body = self._objects.get(rtype.storage_key, {}).get((self._scope(rtype, namespace), name))
        if body is None:
            raise errors.not_found(rtype.plural, rtype.group, name)
        return body

    def _check_version(self, rtype: ResourceType, name: str, current: Mapping[str, Any], wanted: Any) -> None:
        if wanted is not None and str(wanted) != current["metadata"]["resourceVersion"]:
            raise errors.conflict(
                rtype.plural,
                rtype.group,
                name,
                "the object has been modified; please apply your changes to the latest version and try again",
            )

    def _require_active_namespace(self, namespace: str) -> None:
        ns = self._objects.get(NAMESPACE_RESOURCE.storage_key, {}).get((None, namespace))
        if ns is None:
            raise errors.not_found("namespaces", "", namespace)
        if ns["metadata"].get("deletionTimestamp") or (ns.get("status") or {}).get("phase") == "Terminating":
            raise errors.forbidden(
                f"unable to create new content in namespace {namespace} because it is being terminated"
            )

    def _generate_name(self, rtype: ResourceType, namespace: str | None, prefix: str) -> str:
        existing = self._objects.get(rtype.storage_key, {})
        while True:
            name = prefix + "".join(secrets.choice(_GENERATE_SUFFIX) for _ in range(5))
            if (namespace, name) not in existing:
                return name

    def _schema(self, rtype: ResourceType) -> CompiledSchema | None:
        if rtype.schema is None:
            return None
        compiled = self._schemas.get(id(rtype.schema))
        if compiled is None or compiled.source is not rtype.schema:
            compiled = self._schemas[id(rtype.schema)] = CompiledSchema(rtype.schema)
        return compiled

    def _admit(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        body: dict[str, Any],
        strict_fields: bool,
        only: str | None = None,
    ) -> None:
        """Default, prune (or reject unknown fields) and validate a custom object in place. ``only``: the
        one root property a write changed (the status subresource); the rest was admitted before."""
        compiled = self._schema(rtype)
        if compiled is None:
            return
        pruned: list[str] = []
        part = compiled.part_schema(only) if only is not None else None
        if only is not None and part is not None:
            if only in body:
                body[only] = apply_defaults(body[only], part)
                prune_unknown(body[only], part, only, pruned)
            self._admitted(rtype, namespace, name, pruned, strict_fields)
            causes = compiled.part_errors(only, body[only]) if only in body else []
            if causes:
                raise errors.invalid(rtype.kind, rtype.group, name, causes)
            return
        apply_defaults(body, compiled.source)
        prune_unknown(body, compiled.source, "", pruned, root=True)
        self._admitted(rtype, namespace, name, pruned, strict_fields)
        causes = compiled.errors(body)
        if causes:
            raise errors.invalid(rtype.kind, rtype.group, name, causes)

    def _admitted(
        self, rtype: ResourceType, namespace: str | None, name: str, pruned: list[str], strict_fields: bool
    ) -> None:
        """Record (or refuse) the fields pruning removed."""
        if pruned and (strict_fields or self.reject_unknown_fields):
            raise errors.invalid(
                rtype.kind,
                rtype.group,
                name,
                [
                    FieldCause(path, f'Unsupported value: unknown field "{path}"', "FieldValueNotSupported")
                    for path in pruned
                ],
            )
        self.pruned.extend(PrunedField(rtype.kind, namespace, name, path) for path in pruned)

    def _commit(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        current: dict[str, Any],
        candidate: dict[str, Any],
        subresource: str | None,
        strict_fields: bool,
    ) -> dict[str, Any]:
        if subresource not in (None, "status"):
            raise errors.method_not_allowed(f"the subresource {subresource!r} is not writable here")
        if subresource == "status" and not rtype.has_status:
            raise errors.not_found(f"{rtype.plural}/status", rtype.group, name)
        old_meta = current["metadata"]
        if subresource == "status":
            new = _copy(current)
            if "status" in candidate:
                new["status"] = candidate["status"]
            else:
                new.pop("status", None)
        else:
            new = _copy(candidate)  # patches share untouched sub-objects with the stored body
            if rtype.has_status:
                if "status" in current:
                    new["status"] = _copy(current["status"])
                else:
                    new.pop("status", None)
            meta = new.get("metadata")
            if not isinstance(meta, dict):
                raise errors.bad_request("metadata must be an object")
            if meta.get("name", name) != name or meta.get(
                "namespace", old_meta.get("namespace")
            ) != old_meta.get("namespace"):
                raise errors.bad_request("the name and namespace of an object cannot change")
            if meta.get("uid", old_meta["uid"]) != old_meta["uid"]:
                raise errors.invalid(
                    rtype.kind,
                    rtype.group,
                    name,
                    [FieldCause("metadata.uid", "Invalid value: field is immutable")],
                )
            new_finalizers = set(meta.get("finalizers") or [])
            if old_meta.get("deletionTimestamp") and new_finalizers - set(old_meta.get("finalizers") or []):
                raise errors.forbidden(
                    f'{rtype.qualified} "{name}" is being deleted: no new finalizers can be '
                    "added if the object is being deleted"
                )
            for managed in (
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
                "resourceVersion",
            ):
                if managed in old_meta:
                    meta[managed] = old_meta[managed]
                else:
                    meta.pop(managed, None)
            if namespace is not None and rtype.namespaced:
                meta["namespace"] = namespace
            meta["name"] = name
        new["apiVersion"], new["kind"] = rtype.api_version, rtype.kind
        self._admit(rtype, namespace, name, new, strict_fields, only=subresource)
        for hook in self.hooks:
            hook.before_update(self, rtype, current, new)
        if new == current:
            return self._as_version(rtype, current)  # a no-op write keeps the resourceVersion
        ignored = ("metadata", "status") if rtype.has_status else ("metadata",)
        if _without(new, *ignored, "apiVersion") != _without(current, *ignored, "apiVersion"):
            new["metadata"]["generation"] = int(old_meta.get("generation", 1)) + 1
        if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers"):
            new["metadata"].pop("finalizers", None)
            return self._remove(rtype, new)
        self._store(rtype, namespace, name, new, "MODIFIED")
        return self._as_version(rtype, new)

    def _store(
        self, rtype: ResourceType, namespace: str | None, name: str, body: dict[str, Any], event_type: str
    ) -> None:
        self._bump_and_store(rtype, namespace, name, body, event_type)

    def _bump_and_store(
        self, rtype: ResourceType, namespace: str | None, name: str, body: dict[str, Any], event_type: str
    ) -> None:
        self._revision += 1
        body["metadata"]["resourceVersion"] = str(self._revision)
        scope = self._scope(rtype, namespace)
        objects = self._objects.setdefault(rtype.storage_key, {})
        previous = objects.get((scope, name)) if event_type == "MODIFIED" else None
        objects[(scope, name)] = body
        self._by_uid[body["metadata"]["uid"]] = (rtype.storage_key, (scope, name))
        self._emit(WatchEvent(event_type, rtype.storage_key, scope, body, self._revision, previous))

    def _remove(self, rtype: ResourceType, body: dict[str, Any]) -> dict[str, Any]:
        meta = body["metadata"]
        scope = self._scope(rtype, meta.get("namespace"))
        self._objects.get(rtype.storage_key, {}).pop((scope, meta["name"]), None)
        self._by_uid.pop(meta["uid"], None)
        self._revision += 1
        gone = _copy(body)
        gone["metadata"]["resourceVersion"] = str(self._revision)
        self._emit(WatchEvent("DELETED", rtype.storage_key, scope, gone, self._revision))
        for hook in self.hooks:
            hook.after_remove(self, rtype, gone)
        self.collect_garbage()
        self._finish_pending_foreground()
        return self._as_version(rtype, gone)

    def _delete_stored(self, storage: StorageKey, key: ObjectKey, propagation: str) -> None:
        if key not in self._objects.get(storage, {}):
            return
        rtype = self._rtype_of(storage)
        self.delete(rtype, key[0], key[1], propagation=propagation)

    def _orphan_dependents(self, uid: str) -> None:
        for storage, key, body in self.dependents_of(uid):
            orphan = _copy(body)
            orphan["metadata"]["ownerReferences"] = [
                ref for ref in body["metadata"]["ownerReferences"] if ref.get("uid") != uid
            ]
            if not orphan["metadata"]["ownerReferences"]:
                del orphan["metadata"]["ownerReferences"]
            self._bump_and_store(self._rtype_of(storage), key[0], key[1], orphan, "MODIFIED")

    def _finish_foreground(self, rtype: ResourceType, namespace: str | None, name: str) -> None:
        body = self._objects.get(rtype.storage_key, {}).get((self._scope(rtype, namespace), name))
        if body is None or "foregroundDeletion" not in (body["metadata"].get("finalizers") or []):
            return
        blocking = [
            dep
            for dep in self.dependents_of(body["metadata"]["uid"])
            if any(
                ref.get("blockOwnerDeletion")
                for ref in dep[2]["metadata"]["ownerReferences"]
                if ref.get("uid") == body["metadata"]["uid"]
            )
        ]
        if blocking:
            return
        released = _copy(body)
        released["metadata"]["finalizers"] = [
            f for f in body["metadata"]["finalizers"] if f != "foregroundDeletion"
        ]
        if released["metadata"]["finalizers"]:
            self._bump_and_store(rtype, namespace, name, released, "MODIFIED")
        else:
            self._remove(rtype, released)

    def _finish_pending_foreground(self) -> None:
        for storage, key, body in list(self.all_objects()):
            if "foregroundDeletion" in (body["metadata"].get("finalizers") or []):
                self._finish_foreground(self._rtype_of(storage), key[0], key[1])

    def set_finalizers(
        self, rtype: ResourceType, namespace: str | None, name: str, finalizers: list[str]
    ) -> None:
        """Replace the finalizers of a stored object as a controller would (hooks use it)."""
        current = self._current(rtype, namespace, name)
        changed = _copy(current)
        changed["metadata"]["finalizers"] = finalizers
        if not finalizers:
            changed["metadata"].pop("finalizers", None)
        if not finalizers and current["metadata"].get("deletionTimestamp"):
            self._remove(rtype, changed)
        elif changed != current:
            self._bump_and_store(rtype, namespace, name, changed, "MODIFIED")

    def _emit(self, event: WatchEvent) -> None:
        self._history.append(event)
        for listener in list(self._listeners):
            listener(event)


class StoreHook:
    """Kind-specific behaviour of the API server (CRDs, namespaces), called around store writes."""

    def before_create(self, store: ObjectStore, rtype: ResourceType, body: dict[str, Any]) -> None:
        """May adjust ``body`` or raise an ``ApiError`` to refuse it."""

    def after_create(self, store: ObjectStore, rtype: ResourceType, body: dict[str, Any]) -> None:
        """Runs once the object is stored."""

    def before_update(
        self, store: ObjectStore, rtype: ResourceType, current: dict[str, Any], new: dict[str, Any]
    ) -> None:
        """May adjust ``new`` or raise an ``ApiError`` to refuse it."""

    def before_delete(self, store: ObjectStore, rtype: ResourceType, body: dict[str, Any]) -> None:
        """Runs when a delete is requested, before finalizers are looked at."""

    def after_remove(self, store: ObjectStore, rtype: ResourceType, body: dict[str, Any]) -> None:
        """Runs once the object is gone."""
