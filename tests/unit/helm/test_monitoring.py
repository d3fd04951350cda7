"""Alerts (promtool check + unit tests), dashboards and scrape objects against the metrics contract."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from .chart import VALUES_DIR, Chart, Rendered
from .contract import Metric, load_contract, metrics_in, unknown_labels

PROMTOOL_TESTS = Path(__file__).parent / "promtool" / "alerts_test.yaml"


@pytest.fixture(scope="module")
def contract() -> dict[str, Metric]:
    metrics = load_contract()
    assert len(metrics) >= 19, "README.md Metrics table not found or incomplete"
    return metrics


def run_promtool(promtool_bin: Path, folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(promtool_bin), *args], cwd=folder, capture_output=True, text=True, timeout=120, check=False
    )


def write_rules(rendered: Rendered, folder: Path) -> Path:
    (prom_rule,) = rendered.of_kind("PrometheusRule")
    path = folder / "rules.yaml"
    path.write_text(yaml.safe_dump(prom_rule["spec"], sort_keys=False))
    return path


def run_alert_tests(promtool_bin: Path, rendered: Rendered, folder: Path) -> subprocess.CompletedProcess[str]:
    write_rules(rendered, folder)
    shutil.copy(PROMTOOL_TESTS, folder / PROMTOOL_TESTS.name)
    return run_promtool(promtool_bin, folder, "test", "rules", PROMTOOL_TESTS.name)


@pytest.mark.parametrize(
    "values_file", [None, VALUES_DIR / "all-features.yaml"], ids=["defaults", "all-features"]
)
def test_should_pass_promtool_check_rules(
    chart: Chart, promtool_bin: Path, tmp_path: Path, values_file: Path | None
) -> None:
    rendered = chart.template(values_files=[values_file] if values_file else [])
    write_rules(rendered, tmp_path)
    result = run_promtool(promtool_bin, tmp_path, "check", "rules", "rules.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rendered.alert_rules())} rules found" in result.stdout


def test_should_fire_each_alert_exactly_as_its_promtool_cases_expect(
    default_render: Rendered, promtool_bin: Path, tmp_path: Path
) -> None:
    result = run_alert_tests(promtool_bin, default_render, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_should_fail_the_promtool_cases_when_a_threshold_changes(
    chart: Chart, promtool_bin: Path, tmp_path: Path
) -> None:
    """The alert tests can fail: at a 0.1 % threshold the 0.5 % quarantine case fires too."""
    rendered = chart.template(
        {"monitoring": {"prometheusRule": {"alerts": {"pipelineQuarantine": {"threshold": 0.001}}}}}
    )
    result = run_alert_tests(promtool_bin, rendered, tmp_path)
    assert result.returncode != 0
    assert "EcapPipelineQuarantineHigh" in result.stdout + result.stderr


def test_should_have_a_firing_and_a_quiet_promtool_case_for_every_alert(default_render: Rendered) -> None:
    cases = yaml.safe_load(PROMTOOL_TESTS.read_text())["tests"]
    fired: set[str] = set()
    quiet: set[str] = set()
    for case in cases:
        for check in case["alert_rule_test"]:
            expected_labels = [alert["exp_labels"] for alert in check["exp_alerts"]]
            (fired if expected_labels else quiet).add(check["alertname"])
            # A case whose expectation lists fewer alerts than the input would fire is a quiet case too.
            if expected_labels and len({s["series"] for s in case["input_series"]}) > 1:
                quiet.add(check["alertname"])
    alerts = set(default_render.alert_rules())
    assert len(alerts) == 11
    assert alerts - fired == set(), "alerts without a case where they fire"
    assert alerts - quiet == set(), "alerts without a case where they stay quiet"


def test_should_build_alerts_only_from_contract_metrics(
    default_render: Rendered, contract: dict[str, Metric]
) -> None:
    for name, rule in default_render.alert_rules().items():
        used = metrics_in(rule["expr"], contract)
        if name == "EcapOperatorDown":
            assert "up{" in rule["expr"]
            continue
        assert used, f"{name} reads no ecap metric"
        assert used <= set(contract), f"{name} reads metrics outside the contract: {used - set(contract)}"
        assert not unknown_labels(rule["expr"], contract), f"{name} groups by labels no metric has"


def test_should_give_every_alert_a_severity_summary_and_description(default_render: Rendered) -> None:
    for name, rule in default_render.alert_rules().items():
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}, name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name
        assert re.fullmatch(r"\d+[smh]", rule["for"]), name


def _panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    panels: list[dict[str, Any]] = []
    for panel in board["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))
    return panels


def test_should_ship_dashboards_for_the_grafana_sidecar(default_render: Rendered) -> None:
    config_maps = [
        cm for cm in default_render.of_kind("ConfigMap") if "grafana_dashboard" in cm["metadata"]["labels"]
    ]
    assert config_maps and all(cm["metadata"]["labels"]["grafana_dashboard"] == "1" for cm in config_maps)
    boards = default_render.dashboards()
    assert "ecap-overview.json" in boards
    for board in boards.values():
        assert board["uid"] and board["title"] and board["schemaVersion"] >= 36


def test_should_select_the_data_source_through_a_variable(default_render: Rendered) -> None:
    for file_name, board in default_render.dashboards().items():
        variables = {v["name"]: v for v in board["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource"
        assert variables["datasource"]["query"] == "prometheus"
        for panel in _panels(board):
            if panel["type"] == "row":
                continue
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, (
                file_name,
                panel["title"],
            )
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == "${datasource}", (file_name, panel["title"])


def test_should_query_only_contract_metrics_on_dashboards(
    default_render: Rendered, contract: dict[str, Metric]
) -> None:
    shown: set[str] = set()
    for file_name, board in default_render.dashboards().items():
        ids = [p["id"] for p in _panels(board)]
        assert len(ids) == len(set(ids)), f"{file_name}: duplicate panel ids"
        for panel in _panels(board):
            if panel["type"] == "row":
                continue
            assert panel["targets"], f"{file_name}: panel {panel['title']!r} has no query"
            assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
            for target in panel["targets"]:
                used = metrics_in(target["expr"], contract)
                where = f"{file_name}: {panel['title']!r}: {target['expr']}"
                assert used, f"{where} reads no ecap metric"
                assert used <= set(contract), f"{where} reads {used - set(contract)}, not in the contract"
                assert not unknown_labels(target["expr"], contract), f"{where} groups by unknown labels"
                shown |= used
    assert set(contract) - shown == set(), "contract metrics no dashboard shows"


def test_should_detect_a_query_outside_the_contract(contract: dict[str, Metric]) -> None:
    """The contract checks can fail: a misspelt metric and an undeclared label are caught."""
    assert metrics_in("rate(ecap_producer_event_total[5m])", contract) - set(contract) == {
        "ecap_producer_event_total"
    }
    assert unknown_labels("sum by (table) (rate(ecap_pipeline_records_in_total[5m]))", contract) == {"table"}
    assert metrics_in("rate(ecap_pipeline_freshness_seconds_bucket[5m])", contract) == {
        "ecap_pipeline_freshness_seconds"
    }


def test_should_scrape_the_operator_service_by_its_labels_and_port(default_render: Rendered) -> None:
    monitor = default_render.one("ServiceMonitor")
    service = default_render.one("Service", "ecap-operator-metrics")
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] in {p["name"] for p in service["spec"]["ports"]}
    container_ports = {p["name"]: p["containerPort"] for p in default_render.operator_container["ports"]}
    assert container_ports["metrics"] == 9090
    assert default_render.operator_env["ECAP_OPERATOR_METRICS_PORT"] == "9090"


def test_should_scrape_producers_and_pipeline_drivers_by_part_of_and_component(
    default_render: Rendered,
) -> None:
    monitors = {m["metadata"]["name"]: m for m in default_render.of_kind("PodMonitor")}
    assert set(monitors) == {"ecap-producers", "ecap-pipelines"}
    for name, component in (("ecap-producers", "producer"), ("ecap-pipelines", "streaming-pipeline")):
        spec = monitors[name]["spec"]
        assert spec["selector"]["matchLabels"] == {
            "app.kubernetes.io/part-of": "ecap",
            "app.kubernetes.io/component": component,
        }
        assert spec["namespaceSelector"] == {"any": True}
        assert spec["podMetricsEndpoints"][0]["port"] == "metrics"
    executor_filter = monitors["ecap-pipelines"]["spec"]["selector"]["matchExpressions"]
    assert executor_filter == [{"key": "spark-role", "operator": "NotIn", "values": ["executor"]}]


def _exposed(registry: Any) -> dict[str, str]:
    """Metric name (counters with _total, as scraped) -> type, from a prometheus_client registry."""
    exposed: dict[str, str] = {}
    for family in registry.collect():
        name = f"{family.name}_total" if family.type == "counter" else family.name
        exposed[name] = family.type
    return exposed


@pytest.mark.parametrize("area", ["producer", "pipeline"])
def test_should_declare_exactly_the_metrics_the_workloads_expose(
    contract: dict[str, Metric], area: str
) -> None:
    """The contract is what the real producer and pipeline code registers, names and types both ways."""
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()
    if area == "producer":
        from ecap.producer.metrics import ProducerCollector

        registry.register(ProducerCollector())
        prefixes: tuple[str, ...] = ("ecap_producer_",)
    else:
        from ecap.pipeline.metrics import PipelineMetrics

        PipelineMetrics(registry)
        prefixes = ("ecap_pipeline_", "ecap_fraud_")
    exposed = _exposed(registry)
    declared = {name: metric.type for name, metric in contract.items() if name.startswith(prefixes)}
    assert exposed == declared


def test_should_list_every_alert_in_the_readme(default_render: Rendered) -> None:
    readme = (Path(__file__).resolve().parents[3] / "helm" / "ecap" / "README.md").read_text()
    section = readme.split("## Alerts", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| (Ecap[A-Za-z]+) \|", section, re.MULTILINE))
    assert listed == set(default_render.alert_rules())
