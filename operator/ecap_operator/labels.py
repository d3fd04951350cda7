"""Names, labels and annotations of the children the operator creates."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Final

PART_OF: Final = "ecap"
MANAGED_BY: Final = "ecap-operator"

NAME: Final = "app.kubernetes.io/name"
INSTANCE: Final = "app.kubernetes.io/instance"
COMPONENT: Final = "app.kubernetes.io/component"
PART_OF_KEY: Final = "app.kubernetes.io/part-of"
MANAGED_BY_KEY: Final = "app.kubernetes.io/managed-by"
KIND_KEY: Final = "ecap.io/kind"
NAME_KEY: Final = "ecap.io/name"
OWNER_NAMESPACE_KEY: Final = "ecap.io/owner-namespace"
"""On children in another namespace (Strimzi topics): where the claiming resource lives."""
OWNER_ANNOTATION: Final = "ecap.io/owner"
"""``<namespace>/<name>`` of the ecap.io resource that claims a child it cannot own by reference."""
CONFIG_HASH_ANNOTATION: Final = "ecap.io/config-hash"

# Annotations of the parent that are never copied to children: kopf's bookkeeping and kubectl's.
IGNORED_ANNOTATION_PREFIXES: Final[tuple[str, ...]] = (
    "kopf.zalando.org/",
    "kubectl.kubernetes.io/",
    "deployment.kubernetes.io/",
)
IGNORED_LABEL_PREFIXES: Final[tuple[str, ...]] = ("kopf.zalando.org/",)

_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def short_hash(text: str, length: int = 8) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def fit(name: str, limit: int) -> str:
    """``name`` if it fits, else a prefix plus a hash of the whole, so distinct names stay distinct."""
    if len(name) <= limit:
        return name
    digest = short_hash(name)
    return f"{name[: limit - len(digest) - 1].rstrip('-.')}-{digest}"


def child_name(parent: str, suffix: str = "", limit: int = 253) -> str:
    """A child's name: ``<parent>-<suffix>`` within Kubernetes' limit for that kind."""
    return fit(f"{parent}-{suffix}" if suffix else parent, limit)


def dns1035(name: str) -> str:
    """Services need a leading letter; resource names may start with a digit."""
    return name if name[:1].isalpha() else f"ecap-{name}"


def label_value(value: str) -> str:
    """A valid label value (at most 63 characters, alphanumeric at both ends)."""
    fitted = fit(value, 63)
    if not _LABEL_VALUE.match(fitted):
        raise ValueError(f"cannot use {value!r} as a label value")
    return fitted


def kind_slug(kind: str) -> str:
    """``DataProducer`` -> ``data-producer`` (the app.kubernetes.io/name of its children)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", kind).lower()


def selector_labels(kind: str, name: str, component: str) -> dict[str, str]:
    """The labels that select one child workload's pods; stable for the object's whole life."""
    return {KIND_KEY: kind, NAME_KEY: label_value(name), COMPONENT: component}


def child_labels(
    kind: str, name: str, component: str, parent_labels: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Parent labels (minus kopf's), then ours: ours always win."""
    labels = {
        k: v
        for k, v in (parent_labels or {}).items()
        if not any(k.startswith(prefix) for prefix in IGNORED_LABEL_PREFIXES)
    }
    labels.update(
        {
            NAME: kind_slug(kind),
            INSTANCE: label_value(name),
            COMPONENT: component,
            PART_OF_KEY: PART_OF,
            MANAGED_BY_KEY: MANAGED_BY,
            KIND_KEY: kind,
            NAME_KEY: label_value(name),
        }
    )
    return labels


def child_annotations(parent_annotations: Mapping[str, str] | None) -> dict[str, str]:
    """Parent annotations without kopf's and kubectl's bookkeeping (last-applied-configuration, ...)."""
    return {
        k: v
        for k, v in (parent_annotations or {}).items()
        if not any(k.startswith(prefix) for prefix in IGNORED_ANNOTATION_PREFIXES)
    }
