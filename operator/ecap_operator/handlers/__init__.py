"""kopf handlers for the five ecap.io kinds and their children: thin wrappers around ``engine.reconcile``.

Per kind ``<kind>`` (lowercase): ``<kind>_create``, ``<kind>_update``, ``<kind>_resume`` (reconcile and
write status) and ``<kind>_event`` (forget deleted objects in the metrics); for KafkaTopic
``kafkatopic_delete`` (delete or release a Strimzi topic the garbage collector must not or cannot handle)
and for DeltaTable ``deltatable_delete`` (deletionPolicy Delete: a drop Job deletes the table's data before
the object may go). Only those objects get a finalizer, see ``needs_finalizer``.
One operator-wide task (``resync``, started by ``ecap_resync_start``) lists each kind every
``timer_interval`` s and repairs drift: no per-object kopf timer, which would put a finalizer on every
object (a PATCH and a watch event more each). Children (``children.CHILD_KINDS``) are not followed through
kopf but by the operator's own list + watch tasks (``child_watch``, started by ``ecap_children_start``):
a child with our labels changed, so its owner's status is refreshed at once (read only), or it was deleted,
so its owner is reconciled at once (a child deleted by hand comes back now); other drift repair stays with
the change handlers and the resync.

Status is written straight to the status subresource under the owner's lock (``engine.OwnerLocks``), never
through kopf's ``patch``: kopf applies that after the handler returns, when a child event may already have
written a newer status. Handlers return None.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, Final

import kopf
from kubernetes.client import ApiClient

from ..api import API_VERSION, GROUP, KINDS, VERSION, DeletionPolicy
from ..builders import Owner, place_topic
from ..child_watch import ChildWatch, Dispatcher, Manifest, WatchTarget
from ..conditions import utc_now
from ..errors import (
    ChildConflictError,
    InvalidSpecError,
    KubeApiError,
    KubeConfigError,
    OperatorError,
    PartitionDecreaseError,
)
from ..kube import Credentials, KubeApi, ObjectRef, credentials, load_configuration
from ..labels import MANAGED_BY, MANAGED_BY_KEY
from ..metrics import OperatorMetrics
from ..reconcile import Context, error_status
from ..settings import OperatorSettings
from ..table_drop import DropAction, drop_status, parse_table_spec, wants_drop
from .children import (
    CHILD_KINDS,
    STATUS_SHARED_WITH_JOBS,
    guarded_status_patch,
    owner_of,
    refresh_allowed,
    seen_child,
    status_unchanged,
    wants_refresh,
)
from .diffbase import ObservedGenerationDiffBase, QuickProgressStorage
from .engine import Known, Runtime, drop_table_data, placement_spec, reconcile, release_kafka_topic

HANDLER_EVENTS: Final[tuple[str, ...]] = ("create", "update", "resume", "event")
CHILD_LOG: Final = logging.getLogger("ecap_operator.children")
"""The child watch's own log (its tasks outlive the startup handler that starts them)."""

ROUTINE_OUTCOME: Final = re.compile(
    r"Handler '[^']+' succeeded\.|\w+ is processed: \d+ succeeded; 0 failed\."
)


class RoutineOutcomes(logging.Filter):
    """Leaves out kopf's two INFO lines per handled object that say only that all went well ("Handler
    'x' succeeded.", "Creation is processed: 1 succeeded; 0 failed."): the handlers log what they did
    (created, patched, deleted), and warnings, retries and failures are all kept. Formatting and writing
    them was a tenth of the operator's CPU under a burst of objects. Not installed with -v / --debug."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno != logging.INFO or not ROUTINE_OUTCOME.fullmatch(str(record.msg))


def handler_ids() -> list[str]:
    """Every handler id the operator registers (kopf records progress under these names)."""
    ids = [f"{kind.lower()}_{event}" for kind in KINDS for event in HANDLER_EVENTS]
    return [
        *ids,
        "kafkatopic_delete",
        "deltatable_delete",
        "ecap_startup",
        "ecap_login",
        "ecap_resync_start",
        "ecap_resync_stop",
        "ecap_children_start",
        "ecap_children_stop",
    ]


class RuntimeHolder:
    """Filled by the startup handler; handlers registered before the API client exists read it later."""

    def __init__(self, runtime: Runtime | None = None) -> None:
        self.runtime = runtime
        self.resync_task: asyncio.Task[None] | None = None
        self.child_watches: list[ChildWatch] = []
        self.child_tasks: list[asyncio.Task[None]] = []

    def get(self) -> Runtime:
        if self.runtime is None:
            raise OperatorError("the operator runtime is not initialised (startup handler did not run)")
        return self.runtime


def _context(body: Mapping[str, Any], settings: OperatorSettings) -> Context:
    return Context(body=body, owner=Owner.from_body(body), settings=settings, now=utc_now())


def _outcome(
    kind: str,
    ctx: Context,
    runtime: Runtime,
    logger: logging.Logger | logging.LoggerAdapter[Any],
    *,
    repair: bool = True,
    known: Known | None = None,
    new_object: bool = False,
) -> tuple[dict[str, Any], OperatorError | None]:
    """The status to write, and the error that stopped reconciliation (its condition is in the status)."""
    metrics = runtime.metrics
    try:
        status = reconcile(kind, ctx, runtime.api, logger, repair=repair, known=known, new_object=new_object)
    except OperatorError as err:
        # Only a handled generation is observed: kopf retries a temporary error (diffbase.py).
        failed = error_status(ctx, err, handled=_permanent(err))
        if metrics is not None:
            if repair:
                metrics.reconciled(kind, "error" if _permanent(err) else "retry")
            metrics.phases.observe(kind, ctx.owner.namespace, ctx.owner.name, failed.get("phase"))
        return failed, err
    if metrics is not None:
        if repair:
            metrics.reconciled(kind, "success")
        metrics.phases.observe(kind, ctx.owner.namespace, ctx.owner.name, status.get("phase"))
    return status, None


def _permanent(err: OperatorError) -> bool:
    return isinstance(err, InvalidSpecError | PartitionDecreaseError | ChildConflictError)


def owner_ref(kind: str, body: Mapping[str, Any]) -> ObjectRef:
    meta = body.get("metadata") or {}
    return ObjectRef(API_VERSION, kind, str(meta.get("namespace") or "default"), str(meta.get("name")))


def handle(
    kind: str,
    body: Mapping[str, Any],
    patch: kopf.Patch | None,
    logger: logging.Logger | logging.LoggerAdapter[Any],
    runtime: Runtime,
    *,
    from_timer: bool,
    new_object: bool = False,
) -> None:
    """Reconcile and write status; map our errors to conditions and to kopf's retry semantics.

    With a ``patch`` the status goes into it (for callers that apply it themselves); without one it is
    written to the status subresource while the owner's lock is held (what the registered handlers do).
    Change handlers raise PermanentError (invalid spec, refused change, conflict: retrying cannot help)
    or TemporaryError (missing topic, API trouble: retry after ``retry_delay``). ``from_timer`` (a
    periodic run) only records the condition: it runs again anyway.
    """
    ctx = _context(body, runtime.settings)
    runtime.places[(kind, ctx.owner.namespace)] = time.monotonic()
    if patch is not None:
        status, err = _outcome(kind, ctx, runtime, logger, new_object=new_object)
        patch.setdefault("status", {}).update(status)
    else:
        ref = owner_ref(kind, body)
        with runtime.locks(ref):
            status, err = _outcome(kind, ctx, runtime, logger, new_object=new_object)
            try:
                _remember(runtime, ref, runtime.api.patch_status(ref, status))
            except KubeApiError as write_err:
                if from_timer:
                    logger.warning("%s status not written: %s", ref, write_err)
                    return
                raise kopf.TemporaryError(str(write_err), delay=runtime.settings.retry_delay) from write_err
    if err is None:
        return
    if from_timer:
        logger.warning("%s/%s not reconciled: %s", kind, ctx.owner.name, err)
        return
    if _permanent(err):
        raise kopf.PermanentError(str(err)) from err
    raise kopf.TemporaryError(str(err), delay=runtime.settings.retry_delay) from err


def _remember(runtime: Runtime, ref: ObjectRef, written: Mapping[str, Any] | None) -> None:
    """Keep the object as a status write returned it (None: it is gone)."""
    if written is None:
        runtime.written.pop(ref, None)
    else:
        runtime.written[ref] = dict(written)


def refresh_owner(
    child: Mapping[str, Any],
    event_type: str | None,
    runtime: Runtime,
    logger: logging.Logger | logging.LoggerAdapter[Any],
) -> str:
    """A child changed: recompute its owner's status from the children as they are now, and write it if it
    differs. Returns what was done (for the log and tests). Raises KubeApiError.

    Where the operator alone writes the owner's status, the refresh starts from the owner as our last status
    write returned it and writes with a JSON patch guarded by its generation and conditions: one request.
    When a guard fails (the spec changed, someone else wrote conditions), or for kinds whose jobs write
    status too, the owner is read afresh and merge-patched as before.
    """
    if not wants_refresh(event_type, child):
        return "ignored"
    ref = owner_of(child)
    if ref is None:
        return "no owner"
    if event_type == "DELETED":
        return repair_owner(ref, child, runtime, logger)
    known = seen_child(event_type, child)
    with runtime.locks(ref):
        written = runtime.written.get(ref) if ref.kind not in STATUS_SHARED_WITH_JOBS else None
        if written is not None and refresh_allowed(written):
            status, _ = _outcome(
                ref.kind, _context(written, runtime.settings), runtime, logger, repair=False, known=known
            )
            if status_unchanged(written.get("status"), status):
                return "unchanged"
            operations = guarded_status_patch(written, status)
            if operations is not None:
                try:
                    result = runtime.api.patch_status_ops(ref, operations)
                except KubeApiError as err:
                    if err.status != 422:
                        raise
                    logger.debug("%s changed since our last status write: reading it again", ref)
                else:
                    _remember(runtime, ref, result)
                    if result is None:
                        return "skipped"
                    logger.debug("%s status refreshed after a %s change", ref, (child.get("kind") or "child"))
                    return "refreshed"
        body = runtime.api.get(ref)
        if body is None or not refresh_allowed(body):
            return "skipped"
        ctx = _context(body, runtime.settings)
        status, _ = _outcome(ref.kind, ctx, runtime, logger, repair=False, known=known)
        if status_unchanged(body.get("status"), status):
            return "unchanged"
        _remember(runtime, ref, runtime.api.patch_status(ref, status))
    logger.debug("%s status refreshed after a %s change", ref, (child.get("kind") or "child"))
    return "refreshed"


def repair_owner(
    ref: ObjectRef,
    child: Mapping[str, Any],
    runtime: Runtime,
    logger: logging.Logger | logging.LoggerAdapter[Any],
) -> str:
    """A child is gone: reconcile its owner at once (read afresh), so a child deleted by hand is created
    again now rather than at the next resync. A child the spec no longer wants stays deleted; an owner
    being deleted, gone, or whose latest generation is not handled yet is left to its own handlers."""
    with runtime.locks(ref):
        body = runtime.api.get(ref)
        if body is None or not refresh_allowed(body):
            return "skipped"
        status, err = _outcome(ref.kind, _context(body, runtime.settings), runtime, logger)
        if not status_unchanged(body.get("status"), status):
            _remember(runtime, ref, runtime.api.patch_status(ref, status))
    if err is not None:
        logger.warning("%s not repaired after its %s was deleted: %s", ref, child.get("kind") or "child", err)
    else:
        logger.info("%s reconciled after its %s was deleted", ref, child.get("kind") or "child")
    return "repaired"


RESYNC_CHILDREN: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "KafkaTopic": (("kafka.strimzi.io/v1beta2", "KafkaTopic"),),
    "DataProducer": (("apps/v1", "Deployment"),),
    "StreamingPipeline": (("sparkoperator.k8s.io/v1beta2", "SparkApplication"),),
    "DeltaTable": (("batch/v1", "Job"), ("batch/v1", "CronJob")),
    "SegmentationRun": (
        ("sparkoperator.k8s.io/v1beta2", "SparkApplication"),
        ("sparkoperator.k8s.io/v1beta2", "ScheduledSparkApplication"),
    ),
}
"""Per kind, the children (those the operator may list: ``children.CHILD_KINDS``) the resync lists once per
namespace instead of reading them one by one; the others (ConfigMaps, Services) are still read."""


class ChildLists:
    """The resync's lists of our children, one request per (kind, namespace) and pass; a list the API
    refuses (e.g. Strimzi topics a namespaced operator may not list) leaves those children to be read."""

    def __init__(self, runtime: Runtime, logger: logging.Logger | logging.LoggerAdapter[Any]) -> None:
        self._runtime = runtime
        self._logger = logger
        self._lists: dict[tuple[str, str, str], dict[ObjectRef, dict[str, Any] | None]] = {}

    def known(self, owner_kind: str, namespace: str) -> dict[ObjectRef, dict[str, Any] | None]:
        out: dict[ObjectRef, dict[str, Any] | None] = {}
        for api_version, kind in RESYNC_CHILDREN.get(owner_kind, ()):
            key = (api_version, kind, namespace)
            if key not in self._lists:
                try:
                    listed = self._runtime.api.list(
                        api_version, kind, namespace, {MANAGED_BY_KEY: MANAGED_BY}
                    )
                except KubeApiError as err:
                    self._logger.debug(
                        "resync: %s in %s not listed (read one by one): %s", kind, namespace, err
                    )
                    listed = []
                self._lists[key] = {ObjectRef.of(item): item for item in listed}
            out.update(self._lists[key])
        return out


def resync_object(
    kind: str,
    body: Mapping[str, Any],
    runtime: Runtime,
    logger: logging.Logger | logging.LoggerAdapter[Any],
    known: Known | None = None,
) -> str:
    """The periodic drift repair of one object (as a list returned it): re-apply its children (``known``
    ones as given, e.g. from a list; the others read) and write its status if it changed. Objects being
    deleted are left to kopf. Returns what was done. Raises KubeApiError."""
    if (body.get("metadata") or {}).get("deletionTimestamp"):
        return "skipped"
    ref = owner_ref(kind, body)
    with runtime.locks(ref):
        status, err = _outcome(kind, _context(body, runtime.settings), runtime, logger, known=known)
        changed = not status_unchanged(body.get("status"), status)
        if changed:
            _remember(runtime, ref, runtime.api.patch_status(ref, status))
    if err is not None:
        logger.warning("%s not reconciled: %s", ref, err)
        return "failed"
    return "written" if changed else "unchanged"


def resync(runtime: Runtime, logger: logging.Logger | logging.LoggerAdapter[Any]) -> dict[str, int]:
    """One resync pass: list each kind in every namespace where an object of it was handled (one request
    each), repair every listed object. A place found empty (or gone) is forgotten, unless an object was
    handled there meanwhile; a failing list or object is logged and the pass goes on (the next pass tries
    again). Returns how many objects ended how, for the log and tests."""
    outcomes: dict[str, int] = {}
    children = ChildLists(runtime, logger)
    for place in sorted(tuple(runtime.places)):
        kind, namespace = place
        started = time.monotonic()
        try:
            listed = runtime.api.list(API_VERSION, kind, namespace, {})
        except KubeApiError as err:
            if err.status != 404:
                logger.warning("resync: %s in %s not listed: %s", kind, namespace, err)
                continue
            listed = []
        if not listed and runtime.places.get(place, started) < started:
            runtime.places.pop(place, None)
        known = children.known(kind, namespace) if listed else None
        for body in listed:
            try:
                outcome = resync_object(kind, body, runtime, logger, known)
            except KubeApiError as err:
                name = (body.get("metadata") or {}).get("name")
                logger.warning("resync: %s %s/%s not repaired: %s", kind, namespace, name, err)
                outcome = "failed"
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


async def resync_forever(runtime: Runtime, logger: logging.Logger | logging.LoggerAdapter[Any]) -> None:
    """``resync`` every ``timer_interval`` s (first after ``timer_initial_delay``), in a worker thread: the
    client is synchronous. Runs until cancelled at cleanup."""
    settings = runtime.settings
    await asyncio.sleep(settings.timer_initial_delay)
    while True:
        outcomes = await asyncio.to_thread(resync, runtime, logger)
        if outcomes.get("written") or outcomes.get("failed"):
            logger.info("resync: %s", outcomes)
        await asyncio.sleep(settings.timer_interval)


def needs_finalizer(body: Mapping[str, Any], settings: OperatorSettings) -> bool:
    """Whether deleting this ecap.io object needs the operator before it goes (kopf's finalizer).

    A DeltaTable: only with ``deletionPolicy: Delete`` (and a valid spec), whose data a drop Job deletes
    before the object may go (``deltatable_delete``); a Retain table's data simply stays, and its
    children go with their owner references. Other kinds but KafkaTopic: never.

    A KafkaTopic:
    No for a Strimzi topic in the resource's namespace: with deletionPolicy Delete it carries an owner
    reference, so the garbage collector deletes it; with Retain it carries none (only our claim), so it
    stays, and ``release_after_deletion`` drops the claim once the resource is gone. Yes for one in
    another namespace: no owner reference reaches it, so ``kafkatopic_delete`` deletes or releases it.
    An invalid spec: yes (released, never deleted: data is never deleted on a guess). A retained topic
    whose KafkaTopic already has the finalizer (set by an operator version that owned retained topics by
    reference) keeps it: its Strimzi topic may still carry that reference until the next reconcile.
    """
    kind = body.get("kind")
    if kind == "DeltaTable":
        return wants_drop(body)
    if kind not in (None, "KafkaTopic"):
        return False
    spec = placement_spec(body)
    if spec is None:
        return True
    owner = Owner.from_body(body)
    if place_topic(owner, spec, settings).namespace != owner.namespace:
        return True
    finalizers = (body.get("metadata") or {}).get("finalizers") or []
    return spec.deletion_policy != DeletionPolicy.DELETE and settings.finalizer in finalizers


class FinalizerDecisions:
    """``needs_finalizer`` remembered per object and spec: kopf asks on every event of every object (its
    filter), and the answer only changes with the spec (the generation) or the finalizers, so the spec is
    parsed once per generation instead of once per status write."""

    def __init__(self, settings: OperatorSettings, size: int = 10_000) -> None:
        self._settings = settings
        self._size = size
        self._known: dict[tuple[object, ...], bool] = {}

    def __call__(self, body: Mapping[str, Any]) -> bool:
        meta = body.get("metadata") or {}
        uid, generation = meta.get("uid"), meta.get("generation")
        if uid is None or generation is None:
            return needs_finalizer(body, self._settings)
        key = (body.get("kind"), uid, generation, tuple(meta.get("finalizers") or ()))
        found = self._known.get(key)
        if found is None:
            if len(self._known) >= self._size:
                self._known.clear()  # old generations and deleted objects; the live ones come back
            found = self._known[key] = needs_finalizer(body, self._settings)
        return found


def release_after_deletion(
    body: Mapping[str, Any], runtime: Runtime, logger: logging.Logger | logging.LoggerAdapter[Any]
) -> str | None:
    """A KafkaTopic without a finalizer is gone: leave its retained Strimzi topic unowned (our labels and
    claim dropped, so Strimzi keeps it as any other). Returns what was done, None when nothing was to do
    (a Delete topic goes with its owner reference). Raises KubeApiError."""
    if needs_finalizer(body, runtime.settings):
        return None  # kafkatopic_delete did it before the object went
    spec = placement_spec(body)
    if spec is None or spec.deletion_policy == DeletionPolicy.DELETE:
        return None
    return release_kafka_topic(_context(body, runtime.settings), runtime.api, logger)


def watches_strimzi_topics(settings: OperatorSettings, clusterwide: bool) -> bool:
    """Follow Strimzi topics only where the operator may list them: next to the KafkaTopics (no
    ``strimzi_namespace``), or everywhere. A namespaced operator with Strimzi elsewhere is not granted
    list/watch in its own namespaces; the resync refreshes those topics."""
    return clusterwide or not settings.strimzi_namespace


def _is_pattern(namespace: str) -> bool:
    return any(mark in namespace for mark in "*?[],!")


def child_targets(
    settings: OperatorSettings, namespaces: Sequence[str], clusterwide: bool
) -> list[WatchTarget]:
    """What the child watch follows: every child kind (Strimzi topics only where ``watches_strimzi_topics``)
    in each namespace the operator watches, or in every namespace (one watch per kind) when it watches all,
    or when a namespace is a glob pattern (kopf's ``--namespace 'shop-*'``; ``child_namespace_filter``
    then keeps the matching ones)."""
    everywhere = clusterwide or not namespaces or any(map(_is_pattern, namespaces))
    places: list[str | None] = [None] if everywhere else [*sorted(set(namespaces))]
    return [
        WatchTarget(child.group, child.version, child.plural, namespace)
        for child in CHILD_KINDS
        if child.group != "kafka.strimzi.io" or watches_strimzi_topics(settings, clusterwide)
        for namespace in places
    ]


def child_namespace_filter(namespaces: Sequence[str], clusterwide: bool) -> Callable[[str], bool]:
    """Which namespaces' children matter: all when the operator watches all; else those named or matching
    one of kopf's glob patterns (a leading ``!`` excludes; commas separate patterns)."""
    if clusterwide or not namespaces:
        return lambda _: True
    patterns = [p.strip() for n in namespaces for p in n.split(",") if p.strip()]
    included = [p for p in patterns if not p.startswith("!")]
    excluded = [p[1:] for p in patterns if p.startswith("!")]

    def wanted(namespace: str) -> bool:
        if any(fnmatch.fnmatchcase(namespace, p) for p in excluded):
            return False
        return not included or any(fnmatch.fnmatchcase(namespace, p) for p in included)

    return wanted


def on_child_event(
    event_type: str | None,
    child: Manifest,
    runtime: Runtime,
    logger: logging.Logger | logging.LoggerAdapter[Any],
) -> str:
    """A child event from the child watch: refresh (or repair) its owner. API trouble only logs: the
    periodic resync refreshes the owner later. Returns what was done."""
    try:
        return refresh_owner(child, event_type, runtime, logger)
    except KubeApiError as err:
        logger.warning("owner of %s not refreshed: %s", (child.get("metadata") or {}).get("name"), err)
        return "failed"


def register(
    registry: kopf.OperatorRegistry,
    settings: OperatorSettings,
    api: KubeApi | None = None,
    *,
    clusterwide: bool = False,
    namespaces: Sequence[str] = (),
) -> RuntimeHolder:
    """Register every handler on ``registry``. Without ``api``, the startup handler builds one from the
    environment (kubeconfig or in-cluster), the same way kopf logs in. ``clusterwide`` / ``namespaces``:
    what the operator watches (kopf's ``--all-namespaces`` / ``--namespace``), where the child watch
    follows children (``child_targets``; neither given: every namespace)."""
    metrics = OperatorMetrics()
    holder = RuntimeHolder(Runtime(api, settings, metrics) if api is not None else None)
    holder_settings = settings  # the startup handler's own `settings` argument is kopf's

    @kopf.on.login(id="ecap_login", registry=registry)
    def ecap_login(**_: Any) -> kopf.ConnectionInfo:
        """Log kopf in exactly as our API client connects (kube.load_configuration): the in-cluster
        service account, else $KUBECONFIG / ~/.kube/config; a plain-http server with no user works."""
        try:
            found = credentials(load_configuration())
        except KubeConfigError as err:
            raise kopf.PermanentError(str(err)) from err
        return kopf.ConnectionInfo(**asdict(found))

    @kopf.on.startup(id="ecap_startup", registry=registry)
    def ecap_startup(settings: kopf.OperatorSettings, logger: kopf.Logger, **_: Any) -> None:
        """Configure kopf (finalizer name, progress in annotations) and connect our API client."""
        settings.persistence.finalizer = holder_settings.finalizer
        settings.persistence.progress_storage = QuickProgressStorage()
        settings.persistence.diffbase_storage = ObservedGenerationDiffBase()
        settings.posting.level = logging.WARNING
        if not logging.getLogger().isEnabledFor(logging.DEBUG):  # -v / --debug: kopf says everything
            logging.getLogger("kopf.objects").addFilter(RoutineOutcomes())
        # Reconciles are synchronous (kube.KubeApi): they share this pool with nothing else; the event
        # handlers that only touch memory are async and stay off it.
        settings.execution.max_workers = holder_settings.workers
        if holder.runtime is None:
            try:
                configuration = load_configuration()
                # One connection per worker thread (the client's default pool is 5 per CPU).
                configuration.connection_pool_maxsize = holder_settings.workers
                api = KubeApi(ApiClient(configuration))
                holder.runtime = Runtime(api, holder_settings, metrics)
            except KubeConfigError as err:
                raise kopf.PermanentError(str(err)) from err
        if holder_settings.metrics_port:
            metrics.serve(holder_settings.metrics_port)
            logger.info("metrics on :%d/metrics", holder_settings.metrics_port)
        logger.info("ecap operator started: %s", holder_settings.model_dump(exclude_none=True))

    for kind in KINDS:
        _register_kind(registry, kind, settings, holder, metrics)

    @kopf.on.startup(id="ecap_children_start", registry=registry)
    async def ecap_children_start(settings: kopf.OperatorSettings, **_: Any) -> None:
        """Start the child watch (after ``ecap_startup``): one list + watch task per kind and namespace;
        the refreshes run in kopf's thread pool, like the (synchronous) change handlers."""
        runtime = holder.get()
        in_scope = child_namespace_filter(namespaces, clusterwide)

        def accepts(event_type: str | None, child: Manifest) -> bool:
            return wants_refresh(event_type, child) and in_scope(
                str((child.get("metadata") or {}).get("namespace"))
            )

        dispatcher = Dispatcher(
            lambda event_type, child: on_child_event(event_type, child, runtime, CHILD_LOG),
            settings.execution.executor,
            CHILD_LOG,
            accepts=accepts,
        )

        def connect() -> Credentials:
            return credentials(load_configuration())

        holder.child_watches = [
            ChildWatch(target, connect, dispatcher, CHILD_LOG)
            for target in child_targets(holder_settings, namespaces, clusterwide)
        ]
        holder.child_tasks = [
            asyncio.create_task(watch.run(), name=f"ecap-watch {watch.target}")
            for watch in holder.child_watches
        ]
        for task in holder.child_tasks:
            task.add_done_callback(lambda done: _report_crash(done, CHILD_LOG))

    @kopf.on.cleanup(id="ecap_children_stop", registry=registry)
    async def ecap_children_stop(**_: Any) -> None:
        """Stop the child watch (refreshes running in the pool finish on their own)."""
        for task in holder.child_tasks:
            task.cancel()
        await asyncio.gather(*holder.child_tasks, return_exceptions=True)
        holder.child_tasks = []

    @kopf.on.startup(id="ecap_resync_start", registry=registry)
    async def ecap_resync_start(logger: kopf.Logger, **_: Any) -> None:
        """Start the operator-wide periodic resync (after ``ecap_startup`` has connected the client)."""
        holder.resync_task = asyncio.create_task(resync_forever(holder.get(), logger), name="ecap-resync")

    @kopf.on.cleanup(id="ecap_resync_stop", registry=registry)
    async def ecap_resync_stop(**_: Any) -> None:
        """Stop the periodic resync (a pass running in its thread finishes on its own)."""
        if holder.resync_task is not None:
            holder.resync_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await holder.resync_task
            holder.resync_task = None

    decisions = FinalizerDecisions(settings)

    def _needs_finalizer(body: kopf.Body, **_: Any) -> bool:
        return decisions(body)

    @kopf.on.delete(
        GROUP,
        VERSION,
        KINDS["KafkaTopic"].plural,
        id="kafkatopic_delete",
        when=_needs_finalizer,
        registry=registry,
    )
    def kafkatopic_delete(body: kopf.Body, logger: kopf.Logger, **_: Any) -> None:
        """When an ecap KafkaTopic goes: delete its Strimzi topic (Delete) or release it (Retain)."""
        runtime = holder.get()
        try:
            release_kafka_topic(_context(body, runtime.settings), runtime.api, logger)
        except KubeApiError as err:
            raise kopf.TemporaryError(str(err), delay=runtime.settings.retry_delay) from err

    @kopf.on.delete(
        GROUP,
        VERSION,
        KINDS["DeltaTable"].plural,
        id="deltatable_delete",
        when=_needs_finalizer,
        registry=registry,
    )
    def deltatable_delete(body: kopf.Body, logger: kopf.Logger, **_: Any) -> None:
        """When a DeltaTable with ``deletionPolicy: Delete`` goes: drop its data first (see
        ``drop_table``); kopf removes the finalizer only once this returns."""
        drop_table(body, holder.get(), logger)

    return holder


def drop_table(
    body: Mapping[str, Any], runtime: Runtime, logger: logging.Logger | logging.LoggerAdapter[Any]
) -> None:
    """One step of a Delete table's deletion: start or follow its drop Job, show it in the status.

    Returns once an attempt succeeded (the finalizer may go). Otherwise raises kopf.TemporaryError with
    the delay until the next look (a Job running, or the backoff after a failed one): kopf retries a
    deletion handler for ever, so a failed drop never lets the object (and the claim on its data) go
    silently. The status is written while the object still accepts it; a refused write only logs.
    """
    ctx = _context(body, runtime.settings)
    ref = owner_ref("DeltaTable", body)
    with runtime.locks(ref):
        try:
            plan = drop_table_data(ctx, runtime.api, logger, datetime.now(UTC))
        except KubeApiError as err:
            raise kopf.TemporaryError(str(err), delay=runtime.settings.retry_delay) from err
        spec = parse_table_spec(body)
        if plan.health is not None and spec is not None:
            status = drop_status(ctx, spec, plan.health)
            if not status_unchanged(body.get("status"), status):
                try:
                    runtime.api.patch_status(ref, status)
                except KubeApiError as err:
                    logger.warning("%s: drop state not written to the status: %s", ref, err)
    if plan.action is DropAction.DONE:
        logger.info("%s: %s", ref, plan.message)
        return
    raise kopf.TemporaryError(plan.message, delay=max(plan.delay, 0.1))


def _register_kind(
    registry: kopf.OperatorRegistry,
    kind: str,
    settings: OperatorSettings,
    holder: RuntimeHolder,
    metrics: OperatorMetrics,
) -> None:
    plural = KINDS[kind].plural
    prefix = kind.lower()

    def on_create(body: kopf.Body, logger: kopf.Logger, retry: int, **_: Any) -> None:
        handle(kind, body, None, logger, holder.get(), from_timer=False, new_object=retry == 0)

    def on_change(body: kopf.Body, logger: kopf.Logger, **_: Any) -> None:
        handle(kind, body, None, logger, holder.get(), from_timer=False)

    async def on_event(event: kopf.RawEvent, logger: kopf.Logger, **_: Any) -> None:
        """Forget a deleted object's phase (the resources gauge counts live objects only) and its lock; a
        KafkaTopic's retained Strimzi topic is released (in a thread: it calls the API).

        Async: it mostly touches memory, so it must not wait for a thread of the reconcile pool."""
        if event["type"] == "DELETED":
            meta = event["object"].get("metadata") or {}
            metrics.phases.forget(kind, str(meta.get("namespace")), str(meta.get("name")))
            runtime = holder.runtime
            if runtime is not None:
                ref = owner_ref(kind, event["object"])
                runtime.locks.forget(ref)
                runtime.written.pop(ref, None)
                if kind == "KafkaTopic":
                    try:
                        await asyncio.to_thread(release_after_deletion, event["object"], runtime, logger)
                    except KubeApiError as err:
                        logger.warning("%s: retained Strimzi topic not released: %s", ref, err)

    # The filter keeps kopf from invoking (and logging) the handler for every other event of every object.
    kopf.on.event(GROUP, VERSION, plural, id=f"{prefix}_event", when=_is_deletion, registry=registry)(
        on_event
    )
    on_create.__doc__ = f"A {kind} was created: create its children (first try: without reading them)."
    on_change.__doc__ = f"A {kind} was changed or found at startup: reconcile its children."
    kopf.on.create(GROUP, VERSION, plural, id=f"{prefix}_create", registry=registry)(on_create)
    kopf.on.update(GROUP, VERSION, plural, id=f"{prefix}_update", registry=registry)(on_change)
    kopf.on.resume(GROUP, VERSION, plural, id=f"{prefix}_resume", registry=registry)(on_change)


def _report_crash(task: asyncio.Task[None], logger: logging.Logger | logging.LoggerAdapter[Any]) -> None:
    """A child watch task ended by anything but cancellation: say so loudly (its owners then only follow
    the periodic resync)."""
    if not task.cancelled() and task.exception() is not None:
        logger.error(
            "%s stopped: children are followed by the resync only", task.get_name(), exc_info=task.exception()
        )


def _is_deletion(type: str | None, **_: Any) -> bool:  # noqa: A002 - kopf passes the event type as `type`
    return type == "DELETED"
