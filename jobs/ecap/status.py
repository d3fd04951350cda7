"""Report a job's outcome to the custom resource that started it (its ``status`` subresource).

The operator names the resource in env ECAP_RESOURCE_KIND / ECAP_RESOURCE_NAMESPACE / ECAP_RESOURCE_NAME.
Without them (a local run) reporting is a logged no-op. A failed report is logged as an error and
returned as False: the job's data output is already written and stays valid either way.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any, Final

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from ecap_operator.api import GROUP, KINDS, VERSION

log = logging.getLogger(__name__)

ENV_KIND: Final = "ECAP_RESOURCE_KIND"
ENV_NAMESPACE: Final = "ECAP_RESOURCE_NAMESPACE"
ENV_NAME: Final = "ECAP_RESOURCE_NAME"
MERGE_PATCH: Final = "application/merge-patch+json"


def _api() -> client.CustomObjectsApi:
    """In a pod: the service account; elsewhere: the kubeconfig (KUBECONFIG or ~/.kube/config)."""
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        config.load_incluster_config()  # type: ignore[no-untyped-call]
    else:
        # Read KUBECONFIG now: the client's default is captured when it is first imported.
        config.load_kube_config(config_file=os.environ.get("KUBECONFIG"))  # type: ignore[no-untyped-call]
    return client.CustomObjectsApi()


def reports_to(kind: str, name: str, env: Mapping[str, str] | None = None) -> bool:
    """Whether to report for this resource: the environment names it, or names none (logged no-op).

    A file may hold several resources while a pod reports to one CR: the others are not patched.
    """
    env = os.environ if env is None else env
    if not env.get(ENV_KIND) or not env.get(ENV_NAME):
        return True
    return env.get(ENV_KIND) == kind and env.get(ENV_NAME) == name


def report_status(status: Mapping[str, Any], env: Mapping[str, str] | None = None) -> bool:
    """Merge-patch ``status`` into the CR named by the environment; True when it was written."""
    env = os.environ if env is None else env
    kind, namespace, name = env.get(ENV_KIND), env.get(ENV_NAMESPACE), env.get(ENV_NAME)
    if not (kind and name):
        log.info("no %s/%s in the environment: status not reported (local run)", ENV_KIND, ENV_NAME)
        return False
    if kind not in KINDS:
        log.error("cannot report status: %s=%r is not an ECAP kind (%s)", ENV_KIND, kind, ", ".join(KINDS))
        return False
    namespace = namespace or "default"
    try:
        _api().patch_namespaced_custom_object_status(
            group=GROUP,
            version=VERSION,
            namespace=namespace,
            plural=KINDS[kind].plural,
            name=name,
            body={"status": dict(status)},
            _content_type=MERGE_PATCH,
        )
    except ApiException as err:
        log.error(
            "status of %s %s/%s not reported: API answered %s %s",
            kind,
            namespace,
            name,
            err.status,
            err.reason,
        )
        return False
    except (ConfigException, urllib3.exceptions.HTTPError, OSError) as err:
        log.error(
            "status of %s %s/%s not reported: cannot reach the Kubernetes API: %s", kind, namespace, name, err
        )
        return False
    log.info("status of %s %s/%s reported: phase %s", kind, namespace, name, status.get("phase"))
    return True
