"""Kind-specific API server behaviour: CRDs register resources, namespaces own and clean their content."""

from __future__ import annotations

import copy
from typing import Any, Final

from . import errors
from .registry import CRD_RESOURCE, NAMESPACE_RESOURCE, ResourceRegistry, ResourceType, resources_from_crd
from .schema import structural_errors
from .store import ObjectStore, StoreHook

NAMESPACE_CONTENT_FINALIZER: Final = "kubernetes"
"""The real namespace keeps this in spec.finalizers; here it sits in metadata while content is left."""


class CrdHook(StoreHook):
    """A created or changed CRD starts serving its versions (discovery included); deleting it ends that."""

    def __init__(self, registry: ResourceRegistry) -> None:
        self.registry = registry

    def _admit(self, body: dict[str, Any]) -> list[ResourceType]:
        name = body["metadata"]["name"]
        causes = []
        for index, version in enumerate((body.get("spec") or {}).get("versions") or []):
            schema = (version.get("schema") or {}).get("openAPIV3Schema")
            if schema is None:
                causes.append(
                    errors.FieldCause(
                        f"spec.versions[{index}].schema.openAPIV3Schema",
                        "Required value: schemas are required",
                    )
                )
                continue
            for cause in structural_errors(schema):
                causes.append(
                    errors.FieldCause(
                        f"spec.versions[{index}].schema.{cause.field}", cause.message, cause.reason
                    )
                )
        if causes:
            raise errors.invalid("CustomResourceDefinition", "apiextensions.k8s.io", name, causes)
        types = resources_from_crd(body)
        spec = body["spec"]
        body["status"] = {
            "acceptedNames": copy.deepcopy(spec["names"]),
            "storedVersions": [v["name"] for v in spec["versions"] if v.get("storage")],
            "conditions": [
                {
                    "type": "NamesAccepted",
                    "status": "True",
                    "reason": "NoConflicts",
                    "message": "no conflicts found",
                    "lastTransitionTime": body["metadata"]["creationTimestamp"],
                },
                {
                    "type": "Established",
                    "status": "True",
                    "reason": "InitialNamesAccepted",
                    "message": "the initial names have been accepted",
                    "lastTransitionTime": body["metadata"]["creationTimestamp"],
                },
            ],
        }
        return types

    def before_create(self, store: ObjectStore, rtype: ResourceType, body: dict[str, Any]) -> None:
        if rtype.storage_key == CRD_RESOURCE.storage_key:
            self._admit(body)

    def after_create(self, store: ObjectStore, rtype: ResourceType, body: dict[str, Any]) -> None:
        if rtype.storage_key == CRD_RESOURCE.storage_key:
            self.registry.set_crd(body["metadata"]["name"], resources_from_crd(body))

    def before_update(
        self, store: ObjectStore, rtype: ResourceType, current: dict[str, Any], new: dict[str, Any]
    ) -> None:
        if rtype.storage_key == CRD_RESOURCE.storage_key:
            types = self._admit(new)
            self.registry.set_crd(new["metadata"]["name"], types)

    def after_remove(self, store: ObjectStore, rtype: ResourceType, body: dict[str, Any]) -> None:
        if rtype.storage_key != CRD_RESOURCE.storage_key:
            return
        spec = body["spec"]
        storage = (spec["group"], spec["names"]["plural"])
        served = store.registry.by_storage(storage)
        if served is not None:
            for _storage, key, _obj in [item for item in store.all_objects() if item[0] == storage]:
                store.set_finalizers(served, key[0], key[1], [])
                if store.find(served, key[0], key[1]) is not None:
                    store.delete(served, key[0], key[1])
        self.registry.remove_crd(body["metadata"]["name"])


class NamespaceHook(StoreHook):
    """Namespaces are Active when created; deleting one deletes its content and waits for it to go."""

    def before_create(self, store: ObjectStore, rtype: ResourceType, body: dict[str, Any]) -> None:
        if rtype.storage_key == NAMESPACE_RESOURCE.storage_key:
            body["spec"] = {"finalizers": [NAMESPACE_CONTENT_FINALIZER]}
            body["status"] = {"phase": "Active"}

    def before_delete(self, store: ObjectStore, rtype: ResourceType, body: dict[str, Any]) -> None:
        if rtype.storage_key != NAMESPACE_RESOURCE.storage_key or body["metadata"].get("deletionTimestamp"):
            return
        name = body["metadata"]["name"]
        if _content(store, name):
            finalizers = list(body["metadata"].get("finalizers") or [])
            store.set_finalizers(rtype, None, name, [*finalizers, NAMESPACE_CONTENT_FINALIZER])
            terminating = copy.deepcopy(store.get(rtype, None, name))
            terminating["status"] = {"phase": "Terminating"}
            store.replace(rtype, None, name, terminating, subresource="status")
            for storage, key, _obj in _content(store, name):
                served = store.registry.by_storage(storage)
                if served is not None and store.find(served, key[0], key[1]) is not None:
                    store.delete(served, key[0], key[1])
            if not _content(store, name):  # all gone at once: the namespace itself goes the normal way
                store.set_finalizers(rtype, None, name, finalizers)

    def after_remove(self, store: ObjectStore, rtype: ResourceType, body: dict[str, Any]) -> None:
        namespace = body["metadata"].get("namespace")
        if namespace is None or not rtype.namespaced:
            return
        ns = store.find(NAMESPACE_RESOURCE, None, namespace)
        if ns is None or not ns["metadata"].get("deletionTimestamp") or _content(store, namespace):
            return
        remaining = [f for f in ns["metadata"].get("finalizers") or [] if f != NAMESPACE_CONTENT_FINALIZER]
        store.set_finalizers(NAMESPACE_RESOURCE, None, namespace, remaining)


def _content(store: ObjectStore, namespace: str) -> list[tuple[Any, Any, Any]]:
    return [item for item in store.all_objects() if item[1][0] == namespace]
