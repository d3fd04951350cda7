"""The human summary of `ecap up` renders what the JSON summary holds (built from the real result types)."""

from __future__ import annotations

import datetime as dt
import io

from rich.console import Console

from ecap.segmentation.runner import SegmentationResult, SegmentSummary
from ecap.up.render import print_summary
from ecap.up.summary import TopicFlow, UpSummary


def summary(balanced: bool = True) -> UpSummary:
    result = SegmentationResult(
        run_id="nightly-20261130",
        name="nightly",
        as_of=dt.date(2026, 11, 30),
        output_path="/lake/customer_segments",
        customers=3,
        segments={"Champions": 1, "Lost": 2},
        summary=[
            SegmentSummary("Champions", 1, 1 / 3, 0.8, 123.456),
            SegmentSummary("Lost", 2, 2 / 3, 0.2, None),
        ],
        mean_clv=41.15,
        completed_at=dt.datetime(2026, 11, 30, 4, tzinfo=dt.UTC),
        report_path="/lake/reports/nightly-20261130/index.html",
    )
    produced = 10 if balanced else 11
    return UpSummary(
        file="platform.yaml",
        lake="/lake",
        bootstrap="127.0.0.1:9092",
        interrupted=False,
        elapsed_seconds=12.0,
        flows=[TopicFlow("transactions", "transactions", produced, 1, 7, 2, 1)],
        produced={"transactions": {"delivered": produced, "dead_lettered": 1, "failed": 0}},
        pipeline={},
        tables={
            "transactions": {
                "path": "/lake/transactions",
                "version": 2,
                "rows": 7,
                "files": 3,
                "size_bytes": 4096,
            }
        },
        quality={
            "validity_rate": 0.8,
            "completeness": 0.95,
            "zscore_outliers": 1,
            "iqr_outliers": 2,
            "rule_failures": {"malformed_json": 2},
        },
        fraud={"alerts": 1, "by_severity": {"high": 1}, "injected_fraud": 1, "precision": 1.0, "recall": 1.0},
        kpis=[
            {
                "window_seconds": 3600,
                "window_start": "2026-11-30T23:00:00Z",
                "revenue": 50.73,
                "orders": 1,
                "average_order_value": 50.73,
                "active_sessions": 7,
                "conversion_rate": 1 / 7,
                "top_products": [{"product_id": "prod_000479", "revenue": 50.73}],
            }
        ],
        segmentation=[result.to_dict()],
        maintenance=[],
    )


def rendered(data: UpSummary) -> str:
    out = io.StringIO()
    print_summary(Console(file=out, width=200, color_system=None), data)
    return out.getvalue()


def test_every_section_is_shown() -> None:
    text = rendered(summary())
    for expected in (
        "transactions",
        "yes",
        "validity 80.0 %",
        "malformed_json 2",
        "precision 100.0 %",
        "conversion 14.3 %",
        "prod_000479",
        "Champions",
        "123.46",
        "80.0 %",
        "Mean CLV 41.15",
        "/lake/reports/nightly-20261130/index.html",
        "done",
    ):
        assert expected in text, expected


def test_an_unbalanced_topic_is_flagged() -> None:
    assert "NO" in rendered(summary(balanced=False))
