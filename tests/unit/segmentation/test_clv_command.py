"""``ecap clv fit`` on user-supplied summaries: the CDNOW file, holdout columns, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ecap.cli import main
from ecap.segmentation import clv

from .test_clv import cdnow_file


def test_fit_prints_parameters_and_fit_quality_for_cdnow(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["clv", "fit", "--summary", str(cdnow_file("cdnow_customers_summary_with_transactions.csv"))])
        == 0
    )
    out = capsys.readouterr().out
    assert "r=0.2426 alpha=4.4135 a=0.7929 b=2.4259" in out
    assert "p=6.2488 q=3.7446 v=15.4475" in out
    assert "converged" in out and "7+" in out


def test_fit_json_has_parameters_histogram_and_convergence(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["clv", "fit", "--summary", str(cdnow_file("cdnow_customers_summary.csv")), "--json"]) == 0
    fit = json.loads(capsys.readouterr().out)
    assert fit["customers"] == 2357 and fit["bgnbd"]["converged"] is True
    assert fit["bgnbd"]["params"]["r"] == pytest.approx(0.243, rel=5e-3)
    histogram = {row["repeatPurchases"]: row for row in fit["repeatHistogram"]}
    assert histogram["0"]["actual"] == 1411 and abs(histogram["0"]["expected"] - 1411) < 10
    assert "gammaGamma" not in fit  # no monetary column in this file


def _purchase_times(params: clv.BgNbdParams, horizon: float, rng: np.random.Generator) -> list[float]:
    """One customer's repeat purchase times in (0, horizon] under BG/NBD, drawn event by event."""
    rate = rng.gamma(params.r, 1 / params.alpha)
    dropout = rng.beta(params.a, params.b)
    times: list[float] = []
    now = 0.0
    while True:
        now += rng.exponential(1 / rate)
        if now > horizon:
            return times
        times.append(now)
        if rng.random() < dropout:
            return times


def test_holdout_columns_are_checked_against_predictions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    true = clv.BgNbdParams(r=0.3, alpha=3.0, a=0.9, b=3.0)
    rng = np.random.default_rng(5)
    rows = ["frequency_cal,recency_cal,T_cal,frequency_holdout,duration_holdout"]
    for _ in range(3000):
        calibration = rng.uniform(20, 40)
        times = _purchase_times(true, calibration + 20, rng)
        before = [t for t in times if t <= calibration]
        rows.append(
            f"{len(before)},{max(before, default=0):.4f},{calibration:.4f},{len(times) - len(before)},20"
        )
    path = tmp_path / "cal.csv"
    path.write_text("\n".join(rows))
    assert main(["clv", "fit", "--summary", str(path), "--json"]) == 0
    fit = json.loads(capsys.readouterr().out)
    hold = fit["holdout"]
    assert hold["predictedTotal"] == pytest.approx(hold["actualTotal"], rel=0.1)
    by_frequency = hold["byCalibrationFrequency"]
    assert len(by_frequency) >= 5
    # Customers who bought more in calibration buy more in the holdout, in the data and in the model.
    assert by_frequency[-1]["actualMean"] > by_frequency[0]["actualMean"]
    assert by_frequency[-1]["predictedMean"] > by_frequency[0]["predictedMean"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("frequency,recency\n1,2\n", "missing column(s) T"),
        ("frequency,recency,T\n1,5,4\n", "recency must be within 0..T"),
        ("frequency,recency,T\n-1,0,4\n", "whole number"),
        ("frequency,recency,T\n1,,4\n", "empty value"),
        ("frequency,recency,T\n1,abc,4\n", "not numeric"),
    ],
)
def test_bad_summaries_get_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    assert main(["clv", "fit", "--summary", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_missing_file_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["clv", "fit", "--summary", str(tmp_path / "nope.csv")]) == 2
    assert "no such file" in capsys.readouterr().err
