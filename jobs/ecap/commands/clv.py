"""``ecap clv fit``: fit BG/NBD and Gamma-Gamma to a per-customer summary a user brings (CSV).

Columns: ``frequency`` (repeat purchases), ``recency``, ``T`` (same time unit), optional
``monetary_value`` (mean repeat spend). The names of Fader and Hardie's CDNOW files are accepted too
(``x``, ``t_x``, ``zbar``). With ``frequency_holdout`` and ``duration_holdout`` columns the fit is also
checked against what customers did in the holdout period.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from rich.console import Console
from rich.table import Table

from ecap.segmentation import SegmentationError, SummaryError, clv

ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "frequency": ("frequency", "x", "frequency_cal"),
    "recency": ("recency", "t_x", "recency_cal"),
    "T": ("T", "T_cal"),
    "monetary_value": ("monetary_value", "zbar", "monetary_value_cal"),
    "frequency_holdout": ("frequency_holdout",),
    "duration_holdout": ("duration_holdout",),
}
BUCKET_LABELS: Final = tuple(str(i) for i in range(clv.REPEAT_BUCKETS - 1)) + (f"{clv.REPEAT_BUCKETS - 1}+",)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("clv", help="customer lifetime value models")
    sub = parser.add_subparsers(dest="clv_command", metavar="ACTION", required=True)
    fit = sub.add_parser("fit", help="fit BG/NBD and Gamma-Gamma to a per-customer summary CSV")
    fit.add_argument(
        "--summary", required=True, type=Path, help="CSV: frequency, recency, T[, monetary_value]"
    )
    fit.add_argument("--json", action="store_true", help="print the fit as JSON")
    fit.set_defaults(handler=fit_command)


@dataclass(frozen=True)
class SummaryFile:
    summary: clv.CustomerSummary
    holdout_frequency: clv.FloatArray | None
    holdout_duration: clv.FloatArray | None


def read_summary(path: Path) -> SummaryFile:
    """The CSV's columns under their canonical names; a clear error names what is missing."""
    try:
        table = pacsv.read_csv(path)
    except FileNotFoundError:
        raise SummaryError(f"{path}: no such file") from None
    except pa.ArrowInvalid as err:
        raise SummaryError(f"{path}: not a readable CSV: {err}") from None

    def column(name: str) -> clv.FloatArray | None:
        for alias in ALIASES[name]:
            if alias in table.column_names:
                values = table[alias]
                if values.null_count:
                    raise SummaryError(f"{path}: column {alias!r} has {values.null_count} empty value(s)")
                try:
                    return np.asarray(values.cast(pa.float64()).to_numpy(), dtype=np.float64)
                except pa.ArrowInvalid:
                    raise SummaryError(f"{path}: column {alias!r} is not numeric") from None
        return None

    required = {name: column(name) for name in ("frequency", "recency", "T")}
    missing = [f"{name} (or {' / '.join(ALIASES[name][1:])})" for name, v in required.items() if v is None]
    if missing:
        raise SummaryError(
            f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(table.column_names)}"
        )
    frequency, recency, age = (v for v in required.values() if v is not None)
    monetary = column("monetary_value")
    summary = clv.CustomerSummary(frequency, recency, age, monetary if monetary is not None else np.zeros(0))
    return SummaryFile(summary, column("frequency_holdout"), column("duration_holdout"))


def fit_summary(data: SummaryFile) -> dict[str, Any]:
    """Both fits plus fit-quality tables, as one JSON-ready dict."""
    s = data.summary
    bg = clv.fit_bgnbd(s.frequency, s.recency, s.T)
    expected = clv.expected_repeat_histogram(bg.params, s.T)
    actual = clv.actual_repeat_histogram(s.frequency)
    out: dict[str, Any] = {
        "customers": len(s.frequency),
        "bgnbd": bg.to_dict(),
        "repeatHistogram": [
            {"repeatPurchases": label, "actual": int(a), "expected": round(float(e), 2)}
            for label, a, e in zip(BUCKET_LABELS, actual, expected, strict=True)
        ],
    }
    if data.holdout_frequency is not None and data.holdout_duration is not None:
        predicted = clv.conditional_expected_purchases(
            bg.params, data.holdout_duration, s.frequency, s.recency, s.T
        )
        groups = np.minimum(s.frequency.astype(np.int64), clv.REPEAT_BUCKETS - 1)
        rows = []
        for bucket, label in enumerate(BUCKET_LABELS):
            chosen = groups == bucket
            if chosen.any():
                rows.append(
                    {
                        "calibrationRepeatPurchases": label,
                        "customers": int(chosen.sum()),
                        "actualMean": round(float(data.holdout_frequency[chosen].mean()), 4),
                        "predictedMean": round(float(predicted[chosen].mean()), 4),
                    }
                )
        out["holdout"] = {
            "actualTotal": round(float(data.holdout_frequency.sum()), 2),
            "predictedTotal": round(float(predicted.sum()), 2),
            "byCalibrationFrequency": rows,
        }
    if s.has_monetary:
        gg = clv.fit_gamma_gamma(s.frequency, s.monetary_value)
        repeat = s.frequency > 0
        spend = clv.expected_average_spend(gg.params, s.frequency[repeat], s.monetary_value[repeat])
        out["gammaGamma"] = gg.to_dict()
        out["spendCheck"] = {
            "observedMeanRepeatSpend": round(float(s.monetary_value[repeat].mean()), 4),
            "expectedMeanSpend": round(float(spend.mean()), 4),
            "populationMeanSpend": round(gg.params.p * gg.params.v / (gg.params.q - 1), 4)
            if gg.params.q > 1
            else None,
        }
    return out


def _print(console: Console, fit: dict[str, Any]) -> None:
    bg = fit["bgnbd"]
    p = bg["params"]
    console.print(
        f"BG/NBD on {fit['customers']:,} customers: r={p['r']:.4f} alpha={p['alpha']:.4f} "
        f"a={p['a']:.4f} b={p['b']:.4f}  log-likelihood {bg['log_likelihood']:.3f}  "
        + ("converged" if bg["converged"] else "[red]NOT converged[/red]")
        + f" ({bg['method']}, {bg['iterations']} iterations)"
    )
    hist = Table(title="Customers by repeat purchases: actual vs model")
    for name in ("Repeat purchases", "Actual", "Expected"):
        hist.add_column(name, justify="right")
    for row in fit["repeatHistogram"]:
        hist.add_row(row["repeatPurchases"], f"{row['actual']:,}", f"{row['expected']:,.1f}")
    console.print(hist)
    if "holdout" in fit:
        hold = fit["holdout"]
        table = Table(
            title=f"Holdout: actual {hold['actualTotal']:,.0f} vs predicted {hold['predictedTotal']:,.1f}"
        )
        for name in ("Calibration repeats", "Customers", "Actual mean", "Predicted mean"):
            table.add_column(name, justify="right")
        for row in hold["byCalibrationFrequency"]:
            table.add_row(
                row["calibrationRepeatPurchases"],
                f"{row['customers']:,}",
                f"{row['actualMean']:.3f}",
                f"{row['predictedMean']:.3f}",
            )
        console.print(table)
    if "gammaGamma" in fit:
        gg = fit["gammaGamma"]
        q = gg["params"]
        console.print(
            f"Gamma-Gamma on {gg['customers']:,} repeat customers: "
            f"p={q['p']:.4f} q={q['q']:.4f} v={q['v']:.4f}  log-likelihood {gg['log_likelihood']:.3f}  "
            + ("converged" if gg["converged"] else "[red]NOT converged[/red]")
            + (f"  ({gg['excluded']} excluded: mean repeat spend <= 0)" if gg["excluded"] else "")
        )
        check = fit["spendCheck"]
        console.print(
            f"mean repeat spend observed {check['observedMeanRepeatSpend']:.2f}, "
            f"model {check['expectedMeanSpend']:.2f}, population mean {check['populationMeanSpend']}"
        )


def fit_command(args: argparse.Namespace) -> int:
    console = Console(stderr=args.json)
    try:
        fit = fit_summary(read_summary(args.summary))
    except SegmentationError as err:
        Console(stderr=True, soft_wrap=True).print(str(err), style="red", markup=False)
        return 2
    if args.json:
        json.dump(fit, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print(console, fit)
    return 0
