"""``ecap segment run`` end to end: a real transactions table in; segments, report and CR status out."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from deltalake import DeltaTable, write_deltalake
from pyspark.sql import SparkSession

from ecap.cli import main
from ecap.segmentation.rfm import SEGMENTS
from ecap.segmentation.runner import CUSTOMER_SEGMENTS_SCHEMA, run_segmentation
from ecap.segmentation.synthetic import shop_transactions
from ecap_operator.api import load_resources
from tests.kube.client import KubeClient

AS_OF = "2026-11-01"
API = "ecap.io/v1alpha1"


def _resources(path: Path, lake: Path, name: str = "nightly-rfm-clv") -> Path:
    path.write_text(
        f"""apiVersion: ecap.io/v1alpha1
kind: SegmentationRun
metadata: {{name: {name}}}
spec:
  lake: {lake}
  clv: {{horizonDays: 365, annualDiscountRate: 0.1, timeUnitDays: 7}}
"""
    )
    return path


@pytest.fixture
def shop_lake(lake: Path) -> Path:
    """400 customers, about 2,000 orders over 22 months, with repeat buyers."""
    table = shop_transactions(
        400,
        2000,
        dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
        np.random.default_rng(42),
    )
    write_deltalake(str(lake / "transactions"), table)
    return lake


@pytest.fixture
def cr(
    kube: KubeClient,
    kube_namespace: str,
    segmentation_crd: str,
    kubeconfig_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[[], dict[str, Any]]:
    """A SegmentationRun CR in the API emulator, named by the job's environment; returns its getter."""
    body = {"apiVersion": API, "kind": "SegmentationRun", "metadata": {"name": "nightly-rfm-clv"}, "spec": {}}
    kube.create(API, segmentation_crd, body, kube_namespace)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig_path))
    monkeypatch.setenv("ECAP_RESOURCE_KIND", "SegmentationRun")
    monkeypatch.setenv("ECAP_RESOURCE_NAMESPACE", kube_namespace)
    monkeypatch.setenv("ECAP_RESOURCE_NAME", "nightly-rfm-clv")
    return lambda: kube.get(API, segmentation_crd, "nightly-rfm-clv", kube_namespace)


@pytest.mark.slow
def test_segment_run_writes_table_report_json_and_cr_status(
    spark: SparkSession,
    shop_lake: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    cr: Callable[[], dict[str, Any]],
) -> None:
    resources = _resources(tmp_path / "run.yaml", Path("/nonexistent"))  # --lake overrides spec.lake
    argv = ["segment", "run", "-f", str(resources), "--lake", str(shop_lake), "--as-of", AS_OF, "--json"]
    assert main(argv) == 0
    (result,) = json.loads(capsys.readouterr().out)
    assert result["runId"] == "nightly-rfm-clv-20261101" and result["asOf"] == AS_OF
    assert result["customers"] == 400 and sum(result["segments"].values()) == 400
    assert set(result["segments"]) <= set(SEGMENTS) and len(result["segments"]) >= 6
    assert result["bgnbd"]["converged"] and result["gammaGamma"]["converged"]
    assert result["meanClv"] > 0 and result["clvError"] is None
    shares = result["summary"]
    assert sum(s["share"] for s in shares) == pytest.approx(1.0)
    assert sum(s["revenueShare"] for s in shares) == pytest.approx(1.0)

    table = DeltaTable(str(shop_lake / "customer_segments"))
    assert table.metadata().partition_columns == ["as_of"]
    written = pa.schema(table.schema().to_arrow())
    assert [(f.name, f.type, f.nullable) for f in written] == [
        (f.name, f.type, f.nullable) for f in CUSTOMER_SEGMENTS_SCHEMA
    ]
    rows = table.to_pyarrow_table()
    assert rows.num_rows == 400 and pc.count_distinct(rows["customer_id"]).as_py() == 400
    alive = rows["probability_alive"].to_numpy()
    assert np.all((alive >= 0) & (alive <= 1))
    # Champions are worth more than the Lost, by the model as well as by the rules.
    clv_by_segment = {s["segment"]: s["meanClv"] for s in shares}
    if "Champions" in clv_by_segment and "Lost" in clv_by_segment:
        assert clv_by_segment["Champions"] > clv_by_segment["Lost"]

    report = Path(result["report"])
    assert report.name == "index.html" and report.parent == shop_lake / "reports" / "nightly-rfm-clv-20261101"
    page = report.read_text()
    for image in ("segments.png", "rfm_heatmap.png", "clv_distribution.png"):
        png = report.parent / image
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
        assert f'src="{image}"' in page
    assert "Champions" in page or "Loyal Customers" in page

    status = cr()["status"]
    assert status["phase"] == "Succeeded" and status["customers"] == 400
    assert status["runId"] == "nightly-rfm-clv-20261101" and status["segments"] == result["segments"]
    assert status["meanClv"] == result["meanClv"] and status["report"] == result["report"]
    assert any(c["type"] == "Ready" and c["status"] == "True" for c in status["conditions"])


@pytest.mark.slow
def test_rerun_replaces_its_rows_and_another_date_adds_a_partition(
    spark: SparkSession, shop_lake: Path, tmp_path: Path
) -> None:
    (resource,) = load_resources(_resources(tmp_path / "run.yaml", shop_lake))
    first = run_segmentation(spark, resource, as_of=AS_OF, write_report=False)
    second = run_segmentation(spark, resource, as_of=AS_OF, write_report=False)
    assert first.run_id == second.run_id and first.segments == second.segments
    table = DeltaTable(str(shop_lake / "customer_segments"))
    assert table.to_pyarrow_table().num_rows == 400  # replaced, not duplicated
    later = run_segmentation(spark, resource, as_of="2026-11-15", write_report=False)
    assert later.run_id == "nightly-rfm-clv-20261115"
    rows = DeltaTable(str(shop_lake / "customer_segments")).to_pyarrow_table()
    assert rows.num_rows == 800
    assert sorted(set(rows["run_id"].to_pylist())) == ["nightly-rfm-clv-20261101", "nightly-rfm-clv-20261115"]
    # Two weeks later with no new orders everyone's recency grew by 14 days.
    by_run = {
        run: dict(zip(part["customer_id"].to_pylist(), part["recency_days"].to_pylist(), strict=True))
        for run in ("nightly-rfm-clv-20261101", "nightly-rfm-clv-20261115")
        for part in [rows.filter(pc.equal(rows["run_id"], run))]
    }
    early, late = by_run["nightly-rfm-clv-20261101"], by_run["nightly-rfm-clv-20261115"]
    assert all(late[c] == early[c] + 14 for c in early)


def test_failed_run_exits_non_zero_and_marks_the_cr_failed(
    spark: SparkSession, tmp_path: Path, cr: Callable[[], dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    resources = _resources(tmp_path / "run.yaml", tmp_path / "no-lake")
    assert main(["segment", "run", "-f", str(resources), "--as-of", AS_OF]) == 1
    assert "no transactions table" in capsys.readouterr().err
    status = cr()["status"]
    assert status["phase"] == "Failed"
    (ready,) = status["conditions"]
    assert ready["status"] == "False" and "no transactions table" in ready["message"]


def test_no_orders_before_the_as_of_date_is_a_clear_error(
    spark: SparkSession, shop_lake: Path, tmp_path: Path
) -> None:
    (resource,) = load_resources(_resources(tmp_path / "run.yaml", shop_lake))
    with pytest.raises(Exception, match="no orders on or before 2020-01-01"):
        run_segmentation(spark, resource, as_of="2020-01-01", write_report=False)
