"""What the missing controllers would do, done by the tests: Strimzi, the Spark Operator, kubelet/Job
controllers. Each writes only the ``status`` of a child, through the status subresource, as they do."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from tests.kube.client import KubeClient, wait_for

ECAP: Final = "ecap.io/v1alpha1"
STRIMZI: Final = "kafka.strimzi.io/v1beta2"
SPARK: Final = "sparkoperator.k8s.io/v1beta2"
NOW: Final = "2026-12-01T00:00:00Z"
ECAP_PLURALS: Final = {
    "KafkaTopic": "kafkatopics",
    "DataProducer": "dataproducers",
    "StreamingPipeline": "streamingpipelines",
    "DeltaTable": "deltatables",
    "SegmentationRun": "segmentationruns",
}


def condition(obj: Mapping[str, Any] | None, type_: str) -> dict[str, Any] | None:
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == type_:
            return dict(cond)
    return None


class Controllers:
    """Plays Strimzi's topic operator, the Spark Operator and the Deployment/Job controllers."""

    def __init__(self, kube: KubeClient, namespace: str) -> None:
        self.kube = kube
        self.namespace = namespace

    def strimzi_topic_ready(self, name: str, namespace: str | None = None) -> dict[str, Any]:
        ns = namespace or self.namespace
        topic = self.kube.get(STRIMZI, "kafkatopics", name, ns)
        return self.kube.patch_status(
            STRIMZI,
            "kafkatopics",
            name,
            {
                "observedGeneration": topic["metadata"]["generation"],
                "topicName": topic["spec"].get("topicName", name),
                "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": NOW}],
            },
            ns,
        )

    def strimzi_topic_failed(self, name: str, reason: str, message: str) -> dict[str, Any]:
        topic = self.kube.get(STRIMZI, "kafkatopics", name, self.namespace)
        return self.kube.patch_status(
            STRIMZI,
            "kafkatopics",
            name,
            {
                "observedGeneration": topic["metadata"]["generation"],
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "False",
                        "reason": reason,
                        "message": message,
                        "lastTransitionTime": NOW,
                    }
                ],
            },
            self.namespace,
        )

    def spark_state(self, name: str, state: str, error: str | None = None) -> dict[str, Any]:
        application_state: dict[str, Any] = {"state": state}
        if error is not None:
            application_state["errorMessage"] = error
        status = {
            "applicationState": application_state,
            "driverInfo": {
                "podName": f"{name}-driver",
                "webUIPort": 4040,
            },  # always set by the Spark Operator
            "sparkApplicationId": f"spark-{name}",
            "lastSubmissionAttemptTime": NOW,
        }
        return self.kube.patch_status(SPARK, "sparkapplications", name, status, self.namespace)

    def schedule(self, name: str) -> dict[str, Any]:
        return self.kube.patch_status(
            SPARK,
            "scheduledsparkapplications",
            name,
            {"scheduleState": "Scheduled", "nextRun": NOW},
            self.namespace,
        )

    def deployment_available(self, name: str, available: int) -> dict[str, Any]:
        deployment = self.kube.get("apps/v1", "deployments", name, self.namespace)
        return self.kube.patch_status(
            "apps/v1",
            "deployments",
            name,
            {
                "observedGeneration": deployment["metadata"]["generation"],
                "replicas": deployment["spec"].get("replicas", 1),
                "availableReplicas": available,
                "readyReplicas": available,
            },
            self.namespace,
        )

    def deployment_stuck(self, name: str) -> dict[str, Any]:
        deployment = self.kube.get("apps/v1", "deployments", name, self.namespace)
        return self.kube.patch_status(
            "apps/v1",
            "deployments",
            name,
            {
                "observedGeneration": deployment["metadata"]["generation"],
                "availableReplicas": 0,
                "conditions": [
                    {
                        "type": "Progressing",
                        "status": "False",
                        "reason": "ProgressDeadlineExceeded",
                        "message": "ReplicaSet has timed out progressing: ImagePullBackOff",
                    }
                ],
            },
            self.namespace,
        )

    def job_complete(self, name: str) -> dict[str, Any]:
        return self.kube.patch_status(
            "batch/v1",
            "jobs",
            name,
            {
                "succeeded": 1,
                "conditions": [{"type": "Complete", "status": "True", "lastTransitionTime": NOW}],
            },
            self.namespace,
        )

    def job_failed(self, name: str, message: str, at: str = NOW) -> dict[str, Any]:
        """The Job controller gave up on the Job (its pods failed past backoffLimit) at ``at``."""
        return self.kube.patch_status(
            "batch/v1",
            "jobs",
            name,
            {
                "failed": 2,
                "conditions": [
                    {
                        "type": "Failed",
                        "status": "True",
                        "reason": "BackoffLimitExceeded",
                        "message": message,
                        "lastTransitionTime": at,
                    }
                ],
            },
            self.namespace,
        )

    # -- reading ECAP objects ---------------------------------------------------------------------

    def ecap(self, kind: str, name: str) -> dict[str, Any]:
        return self.kube.get(ECAP, ECAP_PLURALS[kind], name, self.namespace)

    def wait_condition(
        self, kind: str, name: str, type_: str, status: str, timeout: float = 20.0, reason: str | None = None
    ) -> dict[str, Any]:
        """Wait until the ECAP object's condition has ``status`` (and ``reason``); returns the condition."""

        def check() -> dict[str, Any] | None:
            cond = condition(self.ecap(kind, name), type_)
            if cond is not None and cond["status"] == status and (reason is None or cond["reason"] == reason):
                return cond
            return None

        return wait_for(
            check,
            timeout,
            f"{kind}/{name} {type_}={status}" + (f" ({reason})" if reason else ""),
            interval=0.1,
            describe=lambda: self.ecap(kind, name).get("status"),
        )

    def wait_child(
        self, api_version: str, plural: str, name: str, namespace: str | None = None, timeout: float = 20.0
    ) -> dict[str, Any]:
        ns = namespace or self.namespace
        return wait_for(
            lambda: self.kube.find(api_version, plural, name, ns),
            timeout,
            f"{plural}/{name} in {ns}",
            interval=0.1,
        )

    def wait_gone(
        self, api_version: str, plural: str, name: str, namespace: str | None = None, timeout: float = 20.0
    ) -> None:
        ns = namespace or self.namespace
        wait_for(
            lambda: self.kube.find(api_version, plural, name, ns) is None,
            timeout,
            f"{plural}/{name} in {ns} to be deleted",
            interval=0.1,
            describe=lambda: (self.kube.find(api_version, plural, name, ns) or {}).get("metadata"),
        )
