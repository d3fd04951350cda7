"""The chart lints strictly, and every object it renders is one the API server would accept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .chart import VALUES_DIR, Chart
from .validation import ChartObjectValidator

VALUES_FILES = sorted(VALUES_DIR.glob("*.yaml"))


@pytest.fixture(scope="module")
def object_validator(upstream_crds: dict[tuple[str, str], dict[str, Any]]) -> ChartObjectValidator:
    return ChartObjectValidator(upstream_crds)


@pytest.mark.parametrize("values_file", [None, *VALUES_FILES], ids=lambda p: p.stem if p else "defaults")
def test_should_pass_helm_lint_strict(chart: Chart, values_file: Path | None) -> None:
    result = chart.lint([values_file] if values_file else [])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout, result.stdout


@pytest.mark.parametrize("values_file", [None, *VALUES_FILES], ids=lambda p: p.stem if p else "defaults")
def test_should_render_only_valid_objects(
    chart: Chart, object_validator: ChartObjectValidator, values_file: Path | None
) -> None:
    rendered = chart.template(values_files=[values_file] if values_file else [])
    assert rendered.objects, "nothing rendered"
    problems: list[str] = []
    for obj in rendered.objects:
        errors = object_validator.errors(obj)
        if errors:
            problems.append(f"{obj['kind']}/{obj['metadata']['name']}: " + "; ".join(errors))
    assert not problems, "\n".join(problems)


def test_should_validate_monitoring_kinds_against_the_prometheus_operator_crds(
    chart: Chart, upstream_crds: dict[tuple[str, str], dict[str, Any]]
) -> None:
    """The monitoring.coreos.com objects are checked against upstream CRDs, not skipped as unknown."""
    rendered = chart.template(values_files=[VALUES_DIR / "all-features.yaml"])
    kinds = {o["kind"] for o in rendered.objects if o["apiVersion"].startswith("monitoring.coreos.com/")}
    assert kinds == {"ServiceMonitor", "PodMonitor", "PrometheusRule"}
    assert {("monitoring.coreos.com", kind) for kind in kinds} <= set(upstream_crds)


def test_should_catch_an_invalid_object(default_render: Any, object_validator: ChartObjectValidator) -> None:
    """The validation above can fail: a misspelt field in a rendered Deployment is reported."""
    deployment = dict(default_render.operator_deployment)
    deployment["spec"] = {**deployment["spec"], "replica": 1}
    assert object_validator.errors(deployment)
    monitor = dict(default_render.one("ServiceMonitor"))
    monitor["spec"] = {**monitor["spec"], "endpoint": []}
    assert object_validator.errors(monitor)


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"operator": {"replicas": "two"}}, "/operator/replicas"),
        ({"operator": {"watchNamespaces": ["Not_A_Namespace"]}}, "/operator/watchNamespaces/0"),
        ({"operator": {"kopfArg": ["--verbose"]}}, "kopfArg"),
        ({"unknownTopLevel": True}, "unknownTopLevel"),
        ({"images": {"operator": {"pullPolicy": "Sometimes"}}}, "/images/operator/pullPolicy"),
        (
            {"monitoring": {"prometheusRule": {"alerts": {"pipelineQuarantine": {"threshold": 5}}}}},
            "threshold",
        ),
        (
            {"monitoring": {"prometheusRule": {"alerts": {"pipelineConsumerLag": {"for": "ten minutes"}}}}},
            "for",
        ),
        ({"monitoring": {"prometheusRule": {"alerts": {"noSuchAlert": {"enabled": True}}}}}, "noSuchAlert"),
        ({"monitoring": {"podMonitors": {"portName": "a-port-name-that-is-too-long"}}}, "portName"),
    ],
    ids=lambda v: str(v) if isinstance(v, str) else None,
)
def test_should_reject_bad_values(chart: Chart, values: dict[str, Any], complaint: str) -> None:
    result = chart.template_result(values)
    assert result.returncode != 0, f"helm accepted {values}"
    assert "schema" in result.stderr and complaint in result.stderr, result.stderr
