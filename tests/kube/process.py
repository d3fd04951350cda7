"""Run an operator (``kopf run`` or ``ecap operator run``) as a child process against the emulator.

The process gets KUBECONFIG pointing at the emulator and logs to a file; ``stop`` ends it with SIGINT
(kopf's graceful stop) and ``problems`` lists what a test must treat as failures: tracebacks and kopf's
"Unhandled exception" or "Handler ... failed" lines.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Final

from .client import wait_for

PROBLEM_PATTERNS: Final = (
    re.compile(r"Traceback \(most recent call last\)"),
    re.compile(r"Unhandled exception", re.I),
    re.compile(r"Handler '[^']+' failed with an exception"),
    re.compile(r"\bCRITICAL\b"),
)


class OperatorProcess:
    """A child process with its combined output in ``log_path``; use as a context manager."""

    def __init__(
        self,
        command: Sequence[str],
        kubeconfig: Path,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.command = list(command)
        self.log_path = log_path
        self.env = {**os.environ, "KUBECONFIG": str(kubeconfig), "PYTHONUNBUFFERED": "1", **(env or {})}
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None
        self._mark = 0

    def start(self) -> OperatorProcess:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=self.cwd
            )
        return self

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGINT, then SIGKILL if it has not exited within ``timeout``; returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        return self.process.returncode

    def __enter__(self) -> OperatorProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def mark(self) -> None:
        """Look only at what is logged from now on in ``problems`` (one shared operator, many tests)."""
        self._mark = len(self.log())

    def problems(self) -> list[str]:
        """Log lines (since the last ``mark``) that show an unhandled exception or a failed handler."""
        recent = self.log()[self._mark :]
        return [line for line in recent.splitlines() if any(p.search(line) for p in PROBLEM_PATTERNS)]

    def wait_for_log(self, pattern: str, timeout: float) -> str:
        """Wait until a log line matches ``pattern`` (a regex); fails early if the process died."""
        compiled = re.compile(pattern)

        def found() -> str | None:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(
                    f"the operator exited with {self.process.returncode}:\n{self.log()[-4000:]}"
                )
            return next((line for line in self.log().splitlines() if compiled.search(line)), None)

        return wait_for(
            found, timeout, f"log line /{pattern}/", interval=0.1, describe=lambda: self.log()[-2000:]
        )

    def tail(self, chars: int = 4000) -> str:
        return self.log()[-chars:]


def elapsed_since(start: float) -> float:
    return time.monotonic() - start
