"""Render the ecap chart with the real helm binary and look objects up in the result."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[3]
CHART_DIR = PROJECT_ROOT / "helm" / "ecap"
VALUES_DIR = Path(__file__).parent / "values"
RELEASE = "ecap"
NAMESPACE = "ecap-system"


# libyaml's safe loader when PyYAML has it: renders are parsed dozens of times per run.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class HelmFailed(AssertionError):
    """helm exited non-zero; the message carries its stderr."""


@dataclass(frozen=True)
class Rendered:
    """The objects one `helm template` produced, in order."""

    objects: list[dict[str, Any]]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def find(self, kind: str, name: str | None = None, namespace: str | None = None) -> list[dict[str, Any]]:
        return [
            o
            for o in self.of_kind(kind)
            if (name is None or o["metadata"]["name"] == name)
            and (namespace is None or o["metadata"].get("namespace") == namespace)
        ]

    def one(self, kind: str, name: str | None = None, namespace: str | None = None) -> dict[str, Any]:
        found = self.find(kind, name, namespace)
        assert len(found) == 1, f"expected one {kind} {name or ''} {namespace or ''}, got {len(found)}"
        return found[0]

    @property
    def operator_deployment(self) -> dict[str, Any]:
        return self.one("Deployment")

    @property
    def operator_container(self) -> dict[str, Any]:
        containers: list[dict[str, Any]] = self.operator_deployment["spec"]["template"]["spec"]["containers"]
        return next(c for c in containers if c["name"] == "operator")

    @property
    def operator_env(self) -> dict[str, Any]:
        """Operator container env as name -> value (or the valueFrom mapping)."""
        return {e["name"]: e.get("value", e.get("valueFrom")) for e in self.operator_container["env"]}

    def alert_rules(self) -> dict[str, dict[str, Any]]:
        """Alert name -> rule of the chart's PrometheusRule (empty when it is not rendered)."""
        rules: dict[str, dict[str, Any]] = {}
        for prom_rule in self.of_kind("PrometheusRule"):
            for group in prom_rule["spec"]["groups"]:
                for rule in group["rules"]:
                    rules[rule["alert"]] = rule
        return rules

    def dashboards(self) -> dict[str, dict[str, Any]]:
        """Dashboard file name -> parsed JSON, from every ConfigMap the chart renders for Grafana."""
        boards: dict[str, dict[str, Any]] = {}
        for config_map in self.of_kind("ConfigMap"):
            if "grafana_dashboard" in config_map["metadata"].get("labels", {}):
                for key, text in config_map["data"].items():
                    boards[key] = json.loads(text)
        return boards


class Chart:
    """The chart directory driven through a helm binary with an isolated HELM_* environment."""

    def __init__(self, helm_bin: Path, env: Mapping[str, str], work_dir: Path) -> None:
        self.helm_bin = helm_bin
        self.env = dict(env)
        self.work_dir = work_dir

    def run(
        self, args: Sequence[str], values: Mapping[str, Any] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run helm; ``values`` go in on stdin as a values file (``-f -``)."""
        command = [str(self.helm_bin), *args]
        stdin = None
        if values is not None:
            command += ["-f", "-"]
            stdin = yaml.safe_dump(dict(values))
        return subprocess.run(
            command, input=stdin, capture_output=True, text=True, env=self.env, cwd=self.work_dir, timeout=120
        )

    def template(
        self,
        values: Mapping[str, Any] | None = None,
        *,
        values_files: Sequence[Path] = (),
        namespace: str = NAMESPACE,
        extra_args: Sequence[str] = (),
    ) -> Rendered:
        result = self.template_result(
            values, values_files=values_files, namespace=namespace, extra_args=extra_args
        )
        if result.returncode != 0:
            raise HelmFailed(f"helm template failed:\n{result.stderr}")
        return Rendered([doc for doc in yaml.load_all(result.stdout, Loader=_SafeLoader) if doc])

    def template_result(
        self,
        values: Mapping[str, Any] | None = None,
        *,
        values_files: Sequence[Path] = (),
        namespace: str = NAMESPACE,
        extra_args: Sequence[str] = (),
    ) -> subprocess.CompletedProcess[str]:
        args = ["template", RELEASE, str(CHART_DIR), "--namespace", namespace, *extra_args]
        for path in values_files:
            args += ["--values", str(path)]
        return self.run(args, values)

    def lint(self, values_files: Sequence[Path] = ()) -> subprocess.CompletedProcess[str]:
        args = ["lint", "--strict", str(CHART_DIR)]
        for path in values_files:
            args += ["--values", str(path)]
        return self.run(args)
