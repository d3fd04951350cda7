"""Example resources as the API server would hand them to the operator (namespace, uid, generation)."""

from __future__ import annotations

import copy
from typing import Any

from tests.fixtures.upstream import PROJECT_ROOT, iter_documents

EXAMPLES = PROJECT_ROOT / "manifests" / "examples" / "platform.yaml"
NAMESPACE = "shop"


def bodies() -> list[dict[str, Any]]:
    out = []
    for index, doc in enumerate(iter_documents(EXAMPLES)):
        body = copy.deepcopy(doc)
        meta = body.setdefault("metadata", {})
        meta.setdefault("namespace", NAMESPACE)
        meta["uid"] = f"00000000-0000-0000-0000-{index:012d}"
        meta["generation"] = 1
        meta["labels"] = {"team": "analytics"}
        meta["annotations"] = {
            "kubectl.kubernetes.io/last-applied-configuration": "{}",
            "kopf.zalando.org/last-handled-configuration": "{}",
            "example.com/owner": "analytics",
        }
        out.append(body)
    return out


def body(kind: str, name: str | None = None) -> dict[str, Any]:
    return next(b for b in bodies() if b["kind"] == kind and (name is None or b["metadata"]["name"] == name))


def topic_bodies() -> dict[str, dict[str, Any]]:
    return {b["metadata"]["name"]: b for b in bodies() if b["kind"] == "KafkaTopic"}
