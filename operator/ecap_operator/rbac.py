"""Exactly what the operator calls on the Kubernetes API: the source the Helm chart's RBAC is tested against.

Scopes: ``namespace`` rules are needed in every namespace with ECAP resources; ``strimzi`` rules in the
Strimzi cluster's namespace (the same namespace unless ``ECAP_OPERATOR_STRIMZI_NAMESPACE`` or a spec's
``clusterNamespace`` says otherwise); ``cluster`` rules cluster-wide. The operator runs ``--standalone`` by
default, so kopf's peering objects are not needed; ``PEERING_RULES`` lists them for ``--peering NAME``.
"""

from __future__ import annotations

from typing import Final, Literal, NamedTuple

from .api import GROUP, KINDS

Scope = Literal["namespace", "strimzi", "cluster"]


class Rule(NamedTuple):
    api_group: str
    resource: str
    verbs: tuple[str, ...]
    scope: Scope


_CRUD: Final = ("get", "create", "patch")

_WATCH: Final = ("list", "watch")

RULES: Final[tuple[Rule, ...]] = (
    # kopf lists, watches and patches our kinds (finalizer, progress annotations); engine.fetch_topics
    # gets the KafkaTopics a producer or pipeline references; a child's change gets its owner
    # (handlers.refresh_owner) to refresh the owner's status.
    *(Rule(GROUP, kind.plural, ("get", "list", "watch", "patch"), "namespace") for kind in KINDS.values()),
    # Status is written through the status subresource (kube.KubeApi.patch_status).
    *(Rule(GROUP, f"{kind.plural}/status", ("patch",), "namespace") for kind in KINDS.values()),
    # kopf posts Kubernetes events about handler outcomes.
    Rule("", "events", ("create",), "namespace"),
    # Children: create-or-patch (kube.KubeApi.get/create/patch); delete where a spec change removes a kind
    # of child (stale apply Jobs, the maintenance CronJob, the other Spark application kind). kopf lists and
    # watches the workload children so their changes refresh the owner's status at once.
    Rule("", "configmaps", _CRUD, "namespace"),
    Rule("", "services", _CRUD, "namespace"),
    Rule("apps", "deployments", (*_CRUD, *_WATCH), "namespace"),
    Rule("batch", "jobs", ("get", "create", "list", "watch", "delete"), "namespace"),
    Rule("batch", "cronjobs", (*_CRUD, "delete", *_WATCH), "namespace"),
    Rule("sparkoperator.k8s.io", "sparkapplications", (*_CRUD, "delete", *_WATCH), "namespace"),
    Rule("sparkoperator.k8s.io", "scheduledsparkapplications", (*_CRUD, "delete", *_WATCH), "namespace"),
    # Strimzi topics, possibly in another namespace; deleted by the KafkaTopic finalizer (deletionPolicy).
    # kopf watches them where it can see them (handlers.watches_strimzi_topics): next to the KafkaTopics,
    # or everywhere when the operator watches every namespace.
    Rule("kafka.strimzi.io", "kafkatopics", (*_CRUD, "delete", *_WATCH), "strimzi"),
    # kopf's resource scanning: it lists and watches CRDs to find (and follow) the ecap.io kinds.
    Rule("apiextensions.k8s.io", "customresourcedefinitions", ("list", "watch"), "cluster"),
)

PEERING_RULES: Final[tuple[Rule, ...]] = (
    Rule("kopf.dev", "kopfpeerings", ("get", "list", "watch", "patch"), "namespace"),
    Rule("kopf.dev", "clusterkopfpeerings", ("get", "list", "watch", "patch"), "cluster"),
)


def rules(scope: Scope | None = None, *, peering: bool = False) -> list[tuple[str, str, tuple[str, ...]]]:
    """(apiGroup, resource, verbs) triples, optionally of one scope, plus peering rules when asked."""
    chosen = [*RULES, *(PEERING_RULES if peering else ())]
    return [(r.api_group, r.resource, r.verbs) for r in chosen if scope is None or r.scope == scope]
