"""The per-customer CLV summary computed in Spark, against a hand-worked example."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import SparkSession

from ecap.segmentation import SegmentationError
from ecap.segmentation.summary import clv_summary
from ecap.segmentation.synthetic import orders

ROWS = [
    # P: purchase days 06-02 (two orders, 15.00), 06-09 (20.00), 06-23 (30.00); 07-05 is after as-of.
    ("P", "2026-06-02T10:00:00Z", "10.00"),
    ("P", "2026-06-02T18:00:00Z", "5.00"),
    ("P", "2026-06-09T09:00:00Z", "20.00"),
    ("P", "2026-06-23T09:00:00Z", "30.00"),
    ("P", "2026-07-05T09:00:00Z", "100.00"),
    # Q: one order.
    ("Q", "2026-06-16T09:00:00Z", "12.00"),
    # R: two orders on the as-of day itself: one purchase day, no repeat.
    ("R", "2026-06-30T01:00:00Z", "3.00"),
    ("R", "2026-06-30T23:00:00Z", "4.00"),
]


def test_summary_follows_the_repeat_purchase_day_convention(spark: SparkSession) -> None:
    summary = clv_summary(spark.createDataFrame(orders(ROWS)), dt.date(2026, 6, 30), time_unit_days=7)
    got = {
        r["customer_id"]: (r["frequency"], r["recency"], r["T"], r["monetary_value"])
        for r in summary.collect()
    }
    assert got == {
        # 2 repeat days; last - first = 21 days = 3 weeks; as-of - first = 28 days = 4 weeks; (20 + 30) / 2.
        "P": (2.0, 3.0, 4.0, 25.0),
        "Q": (0.0, 0.0, 2.0, 0.0),
        "R": (0.0, 0.0, 0.0, 0.0),
    }
    days = clv_summary(spark.createDataFrame(orders(ROWS)), dt.date(2026, 6, 30), time_unit_days=1)
    assert {r["customer_id"]: r["T"] for r in days.collect()}["P"] == 28.0


def test_time_unit_must_be_positive(spark: SparkSession) -> None:
    with pytest.raises(SegmentationError, match="at least one day"):
        clv_summary(spark.createDataFrame(orders(ROWS)), dt.date(2026, 6, 30), time_unit_days=0)
