"""A small synchronous API client for tests: what a user or a missing controller does, over HTTP.

It speaks to any Kubernetes API (the emulator in practice), raises ``KubeApiError`` with the server's
``Status`` on failure, and resolves kinds to plural names through discovery so manifests can be applied
as files. ``wait_for`` is the one polling loop, always with a deadline.
"""

from __future__ import annotations

import builtins
import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final, TypeVar

import requests
import yaml

from .errors import KubeEmulatorError
from .patching import JSON_PATCH, MERGE_PATCH

T = TypeVar("T")
CORE_GROUPS: Final = ("", "v1")


class KubeApiError(KubeEmulatorError):
    """A non-2xx answer; ``status`` is the Kubernetes Status body when the server sent one."""

    def __init__(self, code: int, status: Mapping[str, Any]) -> None:
        self.code = code
        self.status = dict(status)
        self.reason = str(status.get("reason", ""))
        super().__init__(f"{code} {self.reason}: {status.get('message', status)}")

    @property
    def causes(self) -> list[dict[str, Any]]:
        return list((self.status.get("details") or {}).get("causes") or [])


class WaitTimeout(KubeEmulatorError, AssertionError):
    """A condition did not hold before its deadline; the message says what was last seen."""


def wait_for(
    check: Callable[[], T | None],
    timeout: float,
    what: str,
    interval: float = 0.05,
    describe: Callable[[], object] | None = None,
) -> T:
    """Poll ``check`` until it returns a truthy value (returned), or fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() >= deadline:
            seen = f"; last seen: {describe()}" if describe is not None else ""
            raise WaitTimeout(f"timed out after {timeout} s waiting for {what}{seen}")
        time.sleep(interval)


def split_api_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


class KubeClient:
    """Synchronous client bound to one API server URL (no authentication)."""

    def __init__(self, base_url: str, timeout: float = 15.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self._plurals: dict[tuple[str, str], tuple[str, bool]] = {}

    # -- addressing -------------------------------------------------------------------------------

    def path(
        self,
        api_version: str,
        plural: str,
        namespace: str | None = None,
        name: str | None = None,
        subresource: str | None = None,
    ) -> str:
        group, version = split_api_version(api_version)
        parts = ["api", version] if not group else ["apis", group, version]
        if namespace is not None:
            parts += ["namespaces", namespace]
        parts.append(plural)
        if name is not None:
            parts.append(name)
        if subresource is not None:
            parts.append(subresource)
        return "/" + "/".join(parts)

    def resource_of(self, api_version: str, kind: str) -> tuple[str, bool]:
        """(plural, namespaced) for a kind, from discovery (cached; refreshed when unknown)."""
        key = (api_version, kind)
        if key not in self._plurals:
            group, version = split_api_version(api_version)
            url = f"/api/{version}" if not group else f"/apis/{group}/{version}"
            for resource in self.request("GET", url).get("resources", []):
                if "/" not in resource["name"]:
                    self._plurals[(api_version, resource["kind"])] = (
                        resource["name"],
                        resource["namespaced"],
                    )
        if key not in self._plurals:
            raise KubeApiError(
                404, {"reason": "NotFound", "message": f"no resource for {kind} in {api_version}"}
            )
        return self._plurals[key]

    # -- raw requests -----------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        data = None if body is None else json.dumps(body)
        headers = {"Content-Type": content_type} if data is not None else {}
        response = self.session.request(
            method, self.base_url + path, data=data, params=params, headers=headers, timeout=self.timeout
        )
        try:
            payload = response.json()
        except ValueError:
            payload = {"message": response.text}
        if response.status_code >= 400:
            raise KubeApiError(response.status_code, payload if isinstance(payload, dict) else {})
        return payload if isinstance(payload, dict) else {"items": payload}

    # -- objects ----------------------------------------------------------------------------------

    def create(
        self,
        api_version: str,
        plural: str,
        body: Mapping[str, Any],
        namespace: str | None = None,
        params: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        return self.request("POST", self.path(api_version, plural, namespace), dict(body), params)

    def get(self, api_version: str, plural: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        return self.request("GET", self.path(api_version, plural, namespace, name))

    def find(
        self, api_version: str, plural: str, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        """The object, or None when it does not exist."""
        try:
            return self.get(api_version, plural, name, namespace)
        except KubeApiError as err:
            if err.code == 404:
                return None
            raise

    def list(
        self,
        api_version: str,
        plural: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[dict[str, Any]]:
        params = {
            k: v for k, v in (("labelSelector", label_selector), ("fieldSelector", field_selector)) if v
        }
        return list(self.request("GET", self.path(api_version, plural, namespace), params=params)["items"])

    def patch(
        self,
        api_version: str,
        plural: str,
        name: str,
        patch: Any,
        namespace: str | None = None,
        subresource: str | None = None,
        content_type: str = MERGE_PATCH,
    ) -> dict[str, Any]:
        return self.request(
            "PATCH",
            self.path(api_version, plural, namespace, name, subresource),
            patch,
            content_type=content_type,
        )

    def patch_status(
        self,
        api_version: str,
        plural: str,
        name: str,
        status: Mapping[str, Any],
        namespace: str | None = None,
    ) -> dict[str, Any]:
        """What a controller does to report state: a merge patch of ``status`` via the subresource."""
        return self.patch(
            api_version, plural, name, {"status": dict(status)}, namespace, subresource="status"
        )

    def json_patch(
        self,
        api_version: str,
        plural: str,
        name: str,
        ops: builtins.list[dict[str, Any]],
        namespace: str | None = None,
    ) -> dict[str, Any]:
        return self.patch(api_version, plural, name, ops, namespace, content_type=JSON_PATCH)

    def replace(
        self,
        api_version: str,
        plural: str,
        name: str,
        body: Mapping[str, Any],
        namespace: str | None = None,
        subresource: str | None = None,
    ) -> dict[str, Any]:
        return self.request("PUT", self.path(api_version, plural, namespace, name, subresource), dict(body))

    def delete(
        self,
        api_version: str,
        plural: str,
        name: str,
        namespace: str | None = None,
        propagation: str | None = None,
    ) -> dict[str, Any]:
        params = {"propagationPolicy": propagation} if propagation else None
        return self.request("DELETE", self.path(api_version, plural, namespace, name), params=params)

    # -- manifests --------------------------------------------------------------------------------

    def apply(self, body: Mapping[str, Any], namespace: str | None = None) -> dict[str, Any]:
        """Create the object, or merge-patch it when it exists (what ``kubectl apply`` amounts to here)."""
        plural, namespaced = self.resource_of(body["apiVersion"], body["kind"])
        ns = (namespace or body.get("metadata", {}).get("namespace") or "default") if namespaced else None
        name = body["metadata"]["name"]
        if self.find(body["apiVersion"], plural, name, ns) is None:
            return self.create(body["apiVersion"], plural, body, ns)
        return self.patch(
            body["apiVersion"], plural, name, {k: v for k, v in body.items() if k != "status"}, ns
        )

    def apply_file(self, path: Path, namespace: str | None = None) -> builtins.list[dict[str, Any]]:
        return [self.apply(doc, namespace) for doc in load_manifests([path])]

    def register_crds(self, paths: Iterable[Path], timeout: float = 10.0) -> builtins.list[str]:
        """Create (or update) the CRDs in ``paths`` and wait until each is served; returns their names."""
        names = []
        for doc in load_manifests(paths):
            if doc.get("kind") != "CustomResourceDefinition":
                continue
            self.apply(doc)
            names.append(doc["metadata"]["name"])
            group, version = doc["spec"]["group"], doc["spec"]["versions"][0]["name"]
            plural = doc["spec"]["names"]["plural"]

            def served(group: str = group, version: str = version, plural: str = plural) -> bool:
                resources = self.request("GET", f"/apis/{group}/{version}").get("resources", [])
                return any(r["name"] == plural for r in resources)

            wait_for(served, timeout, f"CRD {doc['metadata']['name']} to be served")
        return names

    # -- namespaces and watching ------------------------------------------------------------------

    def create_namespace(self, name: str, labels: Mapping[str, str] | None = None) -> dict[str, Any]:
        return self.create("v1", "namespaces", {"metadata": {"name": name, "labels": dict(labels or {})}})

    def watch(
        self,
        api_version: str,
        plural: str,
        namespace: str | None = None,
        resource_version: str | None = None,
        timeout_seconds: int = 5,
        label_selector: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Events of a watch stream until the server ends it after ``timeout_seconds``."""
        params = {"watch": "true", "timeoutSeconds": str(timeout_seconds), "allowWatchBookmarks": "true"}
        if resource_version is not None:
            params["resourceVersion"] = resource_version
        if label_selector:
            params["labelSelector"] = label_selector
        with self.session.get(
            self.base_url + self.path(api_version, plural, namespace),
            params=params,
            stream=True,
            timeout=timeout_seconds + self.timeout,
        ) as response:
            if response.status_code >= 400:
                raise KubeApiError(response.status_code, response.json())
            for line in response.iter_lines():
                if line:
                    yield json.loads(line)


def load_manifests(paths: Iterable[Path]) -> Iterator[dict[str, Any]]:
    """Every non-empty YAML document in the files, in order."""
    for path in paths:
        for doc in yaml.safe_load_all(Path(path).read_text()):
            if doc:
                yield doc
