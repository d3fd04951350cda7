"""Fixtures of the chart tests: one Chart driver and the renders most tests share."""

from __future__ import annotations

from pathlib import Path

import pytest

from .chart import VALUES_DIR, Chart, Rendered


@pytest.fixture(scope="session")
def chart(helm_bin: Path, helm_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Chart:
    return Chart(helm_bin, helm_env, tmp_path_factory.mktemp("chart"))


@pytest.fixture(scope="session")
def default_render(chart: Chart) -> Rendered:
    return chart.template()


@pytest.fixture(scope="session")
def custom_render(chart: Chart) -> Rendered:
    return chart.template(values_files=[VALUES_DIR / "custom.yaml"])
