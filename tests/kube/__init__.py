"""A Kubernetes API emulator for tests, built on kmock: no real API server can run on our machines.

Test infrastructure only (never imported by product code). Pieces, from the bottom up:

- ``registry``: served resources (built-in kinds, CRDs registered through the API);
- ``store``: objects, resourceVersion/uid/generation, finalizers, garbage collection, watch history;
- ``schema``/``patching``/``selectors``: CRD schema checks, patch formats, label/field selectors;
- ``lifecycle``: CRD and namespace behaviour; ``emulator``: the HTTP API (a kmock handler);
- ``server``: runs it on 127.0.0.1:<port> in a thread and writes a kubeconfig;
- ``client``: a small synchronous client for tests; ``process``: an operator as a child process.

Start one with the ``kube_api`` fixture (tests/fixtures/kube.py) or ``EmulatorServer()``.
"""

from .client import KubeApiError, KubeClient, WaitTimeout, load_manifests, wait_for
from .emulator import KubeEmulator
from .process import OperatorProcess
from .server import EmulatorServer, kubeconfig

__all__ = [
    "EmulatorServer",
    "KubeApiError",
    "KubeClient",
    "KubeEmulator",
    "OperatorProcess",
    "WaitTimeout",
    "kubeconfig",
    "load_manifests",
    "wait_for",
]
