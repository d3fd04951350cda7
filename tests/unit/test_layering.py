"""The layering the style guide asks for: handlers -> builders -> api, and jobs see only the api.

A builder that imported kopf or a client could no longer be tested as a pure function, and a job that
imported the operator's internals would drag a Kubernetes client into every Spark executor.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OPERATOR = ROOT / "operator" / "ecap_operator"
JOBS = ROOT / "jobs" / "ecap"

# package folder -> (module prefixes it must never import, files excused with the reason)
RULES: dict[Path, tuple[tuple[str, ...], dict[str, str]]] = {
    OPERATOR / "api": (
        (
            "kopf",
            "kubernetes",
            "ecap_operator.builders",
            "ecap_operator.handlers",
            "ecap_operator.kube",
            "ecap_operator.reconcile",
            "ecap",
        ),
        {},
    ),
    OPERATOR / "builders": (
        ("kopf", "kubernetes", "ecap_operator.handlers", "ecap_operator.kube", "ecap_operator.reconcile"),
        {},
    ),
    JOBS: (
        (
            "ecap_operator.builders",
            "ecap_operator.handlers",
            "ecap_operator.kube",
            "ecap_operator.reconcile",
            "kopf",
        ),
        {"commands/operator.py": "`ecap operator run` starts the operator itself"},
    ),
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def forbidden(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize("package", sorted(RULES), ids=lambda p: str(p.relative_to(ROOT)))
def test_layers_import_only_downwards(package: Path) -> None:
    prefixes, excused = RULES[package]
    files = sorted(package.rglob("*.py"))
    assert files, f"{package} has no modules"
    offenders = []
    for path in files:
        if str(path.relative_to(package)) in excused:
            continue
        bad = sorted(name for name in imported_modules(path) if forbidden(name, prefixes))
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {bad}")
    assert offenders == []


def test_the_rule_catches_a_forbidden_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import kopf\nfrom ecap_operator.kube import KubeApi\nfrom . import sibling\n")
    assert sorted(n for n in imported_modules(module) if forbidden(n, RULES[OPERATOR / "builders"][0])) == [
        "ecap_operator.kube",
        "kopf",
    ]
