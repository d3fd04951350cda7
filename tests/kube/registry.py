"""Which resources the emulated API serves: the built-in kinds the operator touches plus CRDs.

A ``ResourceType`` is one served (group, version, plural). Objects are stored per (group, plural):
all served versions of a CRD share one storage, as with a CRD whose conversion strategy is None.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from .errors import FieldCause, KubeEmulatorError, invalid

ALL_VERBS: Final[tuple[str, ...]] = (
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
)

StorageKey = tuple[str, str]
"""(group, plural): where objects of every served version of a resource live."""


@dataclass(frozen=True)
class ResourceType:
    """One served resource, with what discovery reports and what the store needs to know."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    schema: Mapping[str, Any] | None = field(default=None, compare=False, hash=False)
    """The CRD's openAPIV3Schema for this version; None for built-in kinds (not validated)."""
    preferred: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version

    @property
    def storage_key(self) -> StorageKey:
        return (self.group, self.plural)

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    @property
    def qualified(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


def _builtin(
    group: str,
    version: str,
    plural: str,
    kind: str,
    *,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    status: bool = False,
    scale: bool = False,
) -> ResourceType:
    subresources = (("status",) if status else ()) + (("scale",) if scale else ())
    return ResourceType(
        group=group,
        version=version,
        plural=plural,
        kind=kind,
        namespaced=namespaced,
        singular=kind.lower(),
        short_names=short,
        subresources=subresources,
    )


CRD_RESOURCE: Final = _builtin(
    "apiextensions.k8s.io",
    "v1",
    "customresourcedefinitions",
    "CustomResourceDefinition",
    namespaced=False,
    short=("crd", "crds"),
    status=True,
)
NAMESPACE_RESOURCE: Final = _builtin(
    "", "v1", "namespaces", "Namespace", namespaced=False, short=("ns",), status=True
)

BUILTIN_RESOURCES: Final[tuple[ResourceType, ...]] = (
    NAMESPACE_RESOURCE,
    _builtin("", "v1", "configmaps", "ConfigMap", short=("cm",)),
    _builtin("", "v1", "secrets", "Secret"),
    _builtin("", "v1", "services", "Service", short=("svc",), status=True),
    _builtin("", "v1", "serviceaccounts", "ServiceAccount", short=("sa",)),
    _builtin("", "v1", "pods", "Pod", short=("po",), status=True),
    _builtin("", "v1", "events", "Event", short=("ev",)),
    _builtin("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", short=("pvc",), status=True),
    _builtin("", "v1", "endpoints", "Endpoints", short=("ep",)),
    _builtin("apps", "v1", "deployments", "Deployment", short=("deploy",), status=True, scale=True),
    _builtin("apps", "v1", "statefulsets", "StatefulSet", short=("sts",), status=True, scale=True),
    _builtin("apps", "v1", "replicasets", "ReplicaSet", short=("rs",), status=True, scale=True),
    _builtin("apps", "v1", "daemonsets", "DaemonSet", short=("ds",), status=True),
    _builtin("batch", "v1", "jobs", "Job", status=True),
    _builtin("batch", "v1", "cronjobs", "CronJob", short=("cj",), status=True),
    _builtin("events.k8s.io", "v1", "events", "Event", short=("ev",)),
    _builtin("coordination.k8s.io", "v1", "leases", "Lease"),
    _builtin("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", short=("pdb",), status=True),
    _builtin("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", short=("netpol",)),
    _builtin("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    _builtin("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    _builtin("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False),
    _builtin(
        "rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", namespaced=False
    ),
    CRD_RESOURCE,
)


class CrdDefinitionError(KubeEmulatorError):
    """A CRD body lacks what the API server requires (names, versions, scope)."""


def resources_from_crd(crd: Mapping[str, Any]) -> list[ResourceType]:
    """Every served version of a CustomResourceDefinition as a resource type.

    Raises the 422 ``ApiError`` the API server answers for a CRD without names, scope or versions.
    """
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    name = (crd.get("metadata") or {}).get("name")
    causes: list[FieldCause] = []
    for key in ("plural", "kind"):
        if not names.get(key):
            causes.append(FieldCause(f"spec.names.{key}", "Required value"))
    if not spec.get("group"):
        causes.append(FieldCause("spec.group", "Required value"))
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        causes.append(FieldCause("spec.scope", 'Unsupported value: must be "Namespaced" or "Cluster"'))
    versions = spec.get("versions") or []
    if not versions:
        causes.append(FieldCause("spec.versions", "Required value"))
    if causes:
        raise invalid("CustomResourceDefinition", "apiextensions.k8s.io", name, causes)
    if name != f"{names['plural']}.{spec['group']}":
        raise invalid(
            "CustomResourceDefinition",
            "apiextensions.k8s.io",
            name,
            [
                FieldCause(
                    "metadata.name",
                    f'must be spec.names.plural+"."+spec.group: "{names["plural"]}.{spec["group"]}"',
                )
            ],
        )
    storage = [v["name"] for v in versions if v.get("storage")]
    preferred = storage[0] if storage else versions[0]["name"]
    types = []
    for version in versions:
        if not version.get("served", True):
            continue
        subresources = tuple(sorted((version.get("subresources") or {}).keys()))
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        types.append(
            ResourceType(
                group=spec["group"],
                version=version["name"],
                plural=names["plural"],
                kind=names["kind"],
                namespaced=spec["scope"] == "Namespaced",
                singular=names.get("singular") or names["kind"].lower(),
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                subresources=subresources,
                schema=schema,
                preferred=version["name"] == preferred,
            )
        )
    return types


@dataclass
class ResourceRegistry:
    """Served resources by (group, version, plural), with lookups by kind for owner references."""

    _types: dict[tuple[str, str, str], ResourceType] = field(default_factory=dict)
    _crd_owned: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)

    @classmethod
    def with_builtins(cls) -> ResourceRegistry:
        registry = cls()
        for rtype in BUILTIN_RESOURCES:
            registry.add(rtype)
        return registry

    def add(self, rtype: ResourceType) -> None:
        self._types[(rtype.group, rtype.version, rtype.plural)] = rtype

    def set_crd(self, crd_name: str, types: Iterable[ResourceType]) -> None:
        """Serve exactly ``types`` for this CRD, replacing what an earlier version of it served."""
        self.remove_crd(crd_name)
        keys = []
        for rtype in types:
            self.add(rtype)
            keys.append((rtype.group, rtype.version, rtype.plural))
        self._crd_owned[crd_name] = keys

    def remove_crd(self, crd_name: str) -> None:
        for key in self._crd_owned.pop(crd_name, []):
            self._types.pop(key, None)

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._types.get((group, version, plural))

    def by_storage(self, key: StorageKey) -> ResourceType | None:
        """The preferred served version of a stored resource (for GC and namespace cleanup)."""
        candidates = [t for t in self._types.values() if t.storage_key == key]
        preferred = [t for t in candidates if t.preferred]
        return (preferred or candidates)[0] if candidates else None

    def groups(self) -> dict[str, list[ResourceType]]:
        """Group name -> its served types; the core group is the empty string."""
        result: dict[str, list[ResourceType]] = {}
        for rtype in self._types.values():
            result.setdefault(rtype.group, []).append(rtype)
        return result

    def __iter__(self) -> Iterator[ResourceType]:
        return iter(list(self._types.values()))
