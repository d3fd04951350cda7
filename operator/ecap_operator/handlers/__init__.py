"""kopf handlers for the five ecap.io kinds: thin wrappers around ``engine.reconcile``.

Per kind ``<kind>`` (lowercase): ``<kind>_create``, ``<kind>_update``, ``<kind>_resume`` (reconcile and
write status), ``<kind>_timer`` (every ``timer_interval`` s: repair drift, refresh status),
``<kind>_event`` (forget deleted objects in the metrics), and for
KafkaTopic ``kafkatopic_delete`` (finalizer: delete or release the Strimzi topic). Status is always
written through ``patch.status``; handlers return None.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any, Final

import kopf

from ..api import GROUP, KINDS, VERSION
from ..builders import Owner
from ..conditions import utc_now
from ..errors import (
    ChildConflictError,
    InvalidSpecError,
    KubeApiError,
    KubeConfigError,
    OperatorError,
    PartitionDecreaseError,
)
from ..kube import KubeApi, credentials, load_configuration
from ..metrics import OperatorMetrics
from ..reconcile import Context, error_status
from ..settings import OperatorSettings
from .engine import Runtime, reconcile, release_kafka_topic

HANDLER_EVENTS: Final[tuple[str, ...]] = ("create", "update", "resume", "timer", "event")


def handler_ids() -> list[str]:
    """Every handler id the operator registers (kopf records progress under these names)."""
    ids = [f"{kind.lower()}_{event}" for kind in KINDS for event in HANDLER_EVENTS]
    return [*ids, "kafkatopic_delete", "ecap_startup", "ecap_login"]


class RuntimeHolder:
    """Filled by the startup handler; handlers registered before the API client exists read it later."""

    def __init__(self, runtime: Runtime | None = None) -> None:
        self.runtime = runtime

    def get(self) -> Runtime:
        if self.runtime is None:
            raise OperatorError("the operator runtime is not initialised (startup handler did not run)")
        return self.runtime


def _context(body: Mapping[str, Any], settings: OperatorSettings) -> Context:
    return Context(body=body, owner=Owner.from_body(body), settings=settings, now=utc_now())


def handle(
    kind: str,
    body: Mapping[str, Any],
    patch: kopf.Patch,
    logger: logging.Logger | logging.LoggerAdapter[Any],
    runtime: Runtime,
    *,
    from_timer: bool,
) -> None:
    """Reconcile and write status; map our errors to conditions and to kopf's retry semantics.

    Change handlers raise PermanentError (invalid spec, refused change, conflict: retrying cannot help)
    or TemporaryError (missing topic, API trouble: retry after ``retry_delay``). The timer only records
    the condition: it runs again anyway.
    """
    ctx = _context(body, runtime.settings)
    metrics = runtime.metrics
    try:
        status = reconcile(kind, ctx, runtime.api, logger)
    except OperatorError as err:
        failed = error_status(ctx, err)
        patch.setdefault("status", {}).update(failed)
        permanent = isinstance(err, InvalidSpecError | PartitionDecreaseError | ChildConflictError)
        if metrics is not None:
            metrics.reconciled(kind, "error" if permanent else "retry")
            metrics.phases.observe(kind, ctx.owner.namespace, ctx.owner.name, failed.get("phase"))
        if from_timer:
            logger.warning("%s/%s not reconciled: %s", kind, ctx.owner.name, err)
            return
        if permanent:
            raise kopf.PermanentError(str(err)) from err
        raise kopf.TemporaryError(str(err), delay=runtime.settings.retry_delay) from err
    patch.setdefault("status", {}).update(status)
    if metrics is not None:
        metrics.reconciled(kind, "success")
        metrics.phases.observe(kind, ctx.owner.namespace, ctx.owner.name, status.get("phase"))


def register(
    registry: kopf.OperatorRegistry, settings: OperatorSettings, api: KubeApi | None = None
) -> RuntimeHolder:
    """Register every handler on ``registry``. Without ``api``, the startup handler builds one from the
    environment (kubeconfig or in-cluster), the same way kopf logs in."""
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
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage()
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage()
        settings.posting.level = logging.WARNING
        # Deletion waits for the object's timers to stop; a sync timer cannot be cancelled, so kopf checks
        # again every `cancellation_polling` seconds (default 60: a minute-long `kubectl delete`).
        settings.background.cancellation_polling = 0.5
        if holder.runtime is None:
            try:
                holder.runtime = Runtime(KubeApi.from_environment(), holder_settings, metrics)
            except KubeConfigError as err:
                raise kopf.PermanentError(str(err)) from err
        if holder_settings.metrics_port:
            metrics.serve(holder_settings.metrics_port)
            logger.info("metrics on :%d/metrics", holder_settings.metrics_port)
        logger.info("ecap operator started: %s", holder_settings.model_dump(exclude_none=True))

    for kind in KINDS:
        _register_kind(registry, kind, settings, holder, metrics)

    @kopf.on.delete(GROUP, VERSION, KINDS["KafkaTopic"].plural, id="kafkatopic_delete", registry=registry)
    def kafkatopic_delete(body: kopf.Body, logger: kopf.Logger, **_: Any) -> None:
        """When an ecap KafkaTopic goes: delete its Strimzi topic (Delete) or release it (Retain)."""
        runtime = holder.get()
        try:
            release_kafka_topic(_context(body, runtime.settings), runtime.api, logger)
        except KubeApiError as err:
            raise kopf.TemporaryError(str(err), delay=runtime.settings.retry_delay) from err

    return holder


def _register_kind(
    registry: kopf.OperatorRegistry,
    kind: str,
    settings: OperatorSettings,
    holder: RuntimeHolder,
    metrics: OperatorMetrics,
) -> None:
    plural = KINDS[kind].plural
    prefix = kind.lower()

    def on_change(body: kopf.Body, patch: kopf.Patch, logger: kopf.Logger, **_: Any) -> None:
        handle(kind, body, patch, logger, holder.get(), from_timer=False)

    def on_timer(body: kopf.Body, patch: kopf.Patch, logger: kopf.Logger, **_: Any) -> None:
        handle(kind, body, patch, logger, holder.get(), from_timer=True)

    def on_event(event: kopf.RawEvent, **_: Any) -> None:
        """Forget a deleted object's phase (the resources gauge counts live objects only)."""
        if event["type"] == "DELETED":
            meta = event["object"].get("metadata") or {}
            metrics.phases.forget(kind, str(meta.get("namespace")), str(meta.get("name")))

    kopf.on.event(GROUP, VERSION, plural, id=f"{prefix}_event", registry=registry)(on_event)
    on_change.__doc__ = f"A {kind} was created, changed or found at startup: reconcile its children."
    on_timer.__doc__ = f"Periodically re-apply a {kind}'s children (drift repair) and refresh its status."
    kopf.on.create(GROUP, VERSION, plural, id=f"{prefix}_create", registry=registry)(on_change)
    kopf.on.update(GROUP, VERSION, plural, id=f"{prefix}_update", registry=registry)(on_change)
    kopf.on.resume(GROUP, VERSION, plural, id=f"{prefix}_resume", registry=registry)(on_change)
    kopf.timer(
        GROUP,
        VERSION,
        plural,
        id=f"{prefix}_timer",
        interval=settings.timer_interval,
        initial_delay=settings.timer_initial_delay,
        registry=registry,
    )(on_timer)
