"""The operator's one exception root; handlers turn these into conditions and kopf errors."""

from __future__ import annotations


class OperatorError(Exception):
    """Anything the operator reports about a resource it cannot reconcile (yet)."""


class InvalidSpecError(OperatorError):
    """The spec does not validate against the API model; the message names the field."""


class TopicNotFoundError(OperatorError):
    """A referenced ecap.io KafkaTopic does not exist (yet) in the resource's namespace."""


class PartitionDecreaseError(OperatorError):
    """Kafka cannot remove partitions; the Strimzi topic is left as it is."""


class ChildConflictError(OperatorError):
    """A child object with our name exists but belongs to someone else; it is never taken over."""


class KubeConfigError(OperatorError):
    """No usable kubeconfig or in-cluster service account: the operator cannot start."""


class KubeApiError(OperatorError):
    """The Kubernetes API answered with an error we do not handle as part of reconciliation."""

    def __init__(self, status: int, reason: str, body: str = "") -> None:
        super().__init__(f"Kubernetes API error {status} {reason}: {body[:500]}")
        self.status = status
        self.reason = reason
        self.body = body
