"""Checks that run before anything starts, so a bad setup fails in a second with what to do."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from pydantic import BaseModel

from ecap.broker import port_is_open
from ecap_operator.api import Resource, ResourceError, check_references, load_resources


class UpError(RuntimeError):
    """``ecap up`` cannot start or go on; the message says what failed and what to do."""


def check_java() -> str:
    """Spark needs a Java runtime (17 or newer); return its path."""
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        raise UpError(
            "Java was not found: Spark needs Java 17 or newer. Install it (Debian/Ubuntu: "
            "`apt-get install openjdk-17-jre-headless`) or set JAVA_HOME."
        )
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise UpError(
            f"Java at {java} does not run ({err}); reinstall it or point JAVA_HOME elsewhere"
        ) from None
    text = out.stderr + out.stdout
    version = text.split('"')[1] if '"' in text else ""
    major = version.split(".")[0] if version else ""
    if major.isdigit() and int(major) < 17:
        raise UpError(f"Java {version} at {java} is too old: Spark 4 needs Java 17 or newer")
    return java


def check_port_free(port: int, what: str, flag: str) -> None:
    if port and port_is_open("127.0.0.1", port):
        raise UpError(
            f"port {port} for {what} is already taken: stop what uses it, or choose another with {flag}"
        )


def check_lake(lake: Path) -> None:
    try:
        lake.mkdir(parents=True, exist_ok=True)
        probe = lake / ".ecap-write-check"
        probe.write_text("ok")
        probe.unlink()
    except OSError as err:
        raise UpError(
            f"the lake folder {lake} is not writable ({err.strerror}); pass another with --lake"
        ) from None


def load_platform(path: Path) -> list[Resource[BaseModel]]:
    """Every resource of the file, validated, with references checked; errors name resource and field."""
    try:
        resources = load_resources(path)
        check_references(resources)
    except ResourceError as err:
        raise UpError(f"bad resource file: {err}") from None
    kinds = {r.kind for r in resources}
    missing = [k for k in ("DataProducer", "StreamingPipeline") if k not in kinds]
    if missing:
        raise UpError(f"{path}: declares no {' and no '.join(missing)}; `ecap up` needs both to run a flow")
    return resources
