"""Run a ``KubeEmulator`` over real HTTP in a background thread, and write a kubeconfig for it.

Tests, the operator subprocess, ``kubectl`` and the kubernetes client all reach it the same way: over
``http://127.0.0.1:<port>`` with no authentication.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import kmock
import yaml

from .client import wait_for
from .emulator import KubeEmulator

T = TypeVar("T")


def kubeconfig(server_url: str, namespace: str = "default") -> dict[str, Any]:
    """A kubeconfig with one context pointing at ``server_url`` and an empty (no-auth) user."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "ecap-emulator", "cluster": {"server": server_url}}],
        "users": [{"name": "ecap-emulator", "user": {}}],
        "contexts": [
            {
                "name": "ecap-emulator",
                "context": {"cluster": "ecap-emulator", "user": "ecap-emulator", "namespace": namespace},
            }
        ],
        "current-context": "ecap-emulator",
        "preferences": {},
    }


class EmulatorServer:
    """The emulator served on 127.0.0.1 from its own event loop thread.

    >>> with EmulatorServer() as server:
    ...     server.write_kubeconfig(Path("kubeconfig"))
    """

    def __init__(self, emulator: KubeEmulator | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.emulator = emulator if emulator is not None else KubeEmulator()
        self._host = host
        self._port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None
        self.url = ""

    def start(self, timeout: float = 10.0) -> None:
        self._thread = threading.Thread(target=self._run, name="kube-emulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"the Kubernetes API emulator did not start within {timeout} s")
        if self._failure is not None:
            raise RuntimeError("the Kubernetes API emulator failed to start") from self._failure

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> EmulatorServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as err:  # noqa: BLE001 - reported to the starting thread, not swallowed
            self._failure = err
            self._ready.set()
            raise

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with (
            self.emulator,
            kmock.Server(self.emulator, host=self._host, port=self._port or None) as srv,
        ):
            self.url = str(srv.url).rstrip("/")
            self._ready.set()
            await self._stop.wait()

    def call(self, fn: Callable[[], T], timeout: float = 10.0) -> T:
        """Run ``fn`` on the emulator loop (the only safe place to touch its state); return its result."""
        if self._loop is None:
            raise RuntimeError("the emulator is not running")

        async def run() -> T:
            return fn()

        future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(run(), self._loop)
        return future.result(timeout)

    def watching(self, group: str, plural: str, namespace: str | None) -> int:
        """How many watch streams are open on a resource in a namespace (None: cluster-wide)."""
        return self.call(lambda: self.emulator.active_watches.get((group, plural, namespace), 0))

    def wait_for_watch(self, group: str, plural: str, namespace: str | None, timeout: float = 20.0) -> None:
        """Wait until a client (an operator) watches the resource: from then on it sees every change."""
        wait_for(
            lambda: self.watching(group, plural, namespace) > 0,
            timeout,
            f"a watch on {plural}.{group} in {namespace or 'all namespaces'}",
        )

    def write_kubeconfig(self, path: Path, namespace: str = "default") -> Path:
        path.write_text(yaml.safe_dump(kubeconfig(self.url, namespace), sort_keys=False))
        return path
