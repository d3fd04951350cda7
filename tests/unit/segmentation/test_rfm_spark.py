"""RFM in Spark on tiny real tables: hand-computed answers, ties, edges, and the distributed rank."""

from __future__ import annotations

import datetime as dt
import logging
import operator
import re
from collections.abc import Iterator
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pytest
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F  # noqa: N812

from ecap.lake import read_delta
from ecap.segmentation import SegmentationError
from ecap.segmentation.rfm import compute_rfm, rfm_metrics, score_from_rank, score_rfm
from ecap.segmentation.synthetic import orders
from tests.fixtures.segmentation import WriteOrders

AS_OF = dt.date(2026, 6, 30)

# Hand-computed below: n = 5 customers (F only ordered after the as-of date).
HAND_ORDERS = [
    ("A", "2026-06-30T10:00:00Z", "10.00"),
    ("A", "2026-06-01T08:00:00Z", "20.00"),
    ("B", "2026-06-25T12:00:00Z", "5.00"),
    ("C", "2026-06-25T23:59:59Z", "100.00"),
    ("C", "2026-07-01T00:00:00Z", "999.00"),  # after the as-of date: ignored
    ("D", "2026-01-01T09:00:00Z", "10.00"),
    ("D", "2026-02-01T09:00:00Z", "10.00"),
    ("D", "2026-03-01T09:00:00Z", "10.00"),
    ("E", "2025-12-31T23:30:00Z", "7.50"),
    ("F", "2026-07-02T00:00:00Z", "50.00"),  # only after the as-of date: not a customer yet
]
# recency: E 181, D 121, B 5, C 5 (tie), A 0        -> ranks (desc) E1 D2 B3 C3 A5 -> R 1 2 3 3 5
# frequency: B 1, C 1, E 1 (tie), A 2, D 3          -> ranks B1 C1 E1 A4 D5      -> F 1 1 1 4 5
# monetary: B 5.00, E 7.50, A 30.00, D 30.00 (tie), C 100.00 -> ranks B1 E2 A3 D3 C5 -> M 1 2 3 3 5
# score = 1 + min(4, floor(5 (rank-1) / 4)); FM = (F + M + 1) div 2
HAND_EXPECTED = {
    "A": (0, 2, Decimal("30.00"), 5, 4, 3, 4, "543", "Champions", "silver"),
    "B": (5, 1, Decimal("5.00"), 3, 1, 1, 1, "311", "About to Sleep", "bronze"),
    "C": (5, 1, Decimal("100.00"), 3, 1, 5, 3, "315", "Need Attention", "platinum"),
    "D": (121, 3, Decimal("30.00"), 2, 5, 3, 4, "253", "At Risk", "silver"),
    "E": (181, 1, Decimal("7.50"), 1, 1, 2, 2, "112", "Hibernating", "bronze"),
}
COLUMNS = (
    "recency_days",
    "frequency",
    "monetary",
    "r_score",
    "f_score",
    "m_score",
    "fm_score",
    "rfm_code",
    "segment",
    "value_tier",
)


def _rows(df: DataFrame) -> dict[str, tuple[object, ...]]:
    return {row["customer_id"]: tuple(row[c] for c in COLUMNS) for row in df.collect()}


@pytest.fixture
def other_session_time_zone(spark: SparkSession) -> Iterator[None]:
    """Dates must be UTC dates even when the session is set to another zone."""
    previous = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", "America/Los_Angeles")
    yield
    spark.conf.set("spark.sql.session.timeZone", previous or "UTC")


def test_hand_computed_scores_with_ties_and_orders_after_as_of(
    spark: SparkSession, write_orders: WriteOrders, other_session_time_zone: None
) -> None:
    transactions = read_delta(spark, write_orders(HAND_ORDERS))
    result = compute_rfm(transactions, AS_OF)
    assert _rows(result) == HAND_EXPECTED
    actions = {row["segment"]: row["action"] for row in result.collect()}
    assert actions["Champions"].startswith("Reward")


def test_single_customer_scores_1_and_is_lost(spark: SparkSession) -> None:
    metrics = spark.createDataFrame(
        pa.table({"customer_id": ["solo"], "recency_days": [3], "frequency": [4], "monetary": [12.5]})
    ).withColumn("monetary", F.col("monetary").cast("decimal(18,2)"))
    (row,) = score_rfm(metrics).collect()
    assert (row["r_score"], row["f_score"], row["m_score"], row["rfm_code"], row["segment"]) == (
        1,
        1,
        1,
        "111",
        "Lost",
    )


def test_customers_who_bought_once_all_get_frequency_score_1(spark: SparkSession) -> None:
    day = dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC)
    rows = [(f"c{i}", day + dt.timedelta(days=i), 10 + i) for i in range(12)]
    transactions = spark.createDataFrame(orders(rows))
    result = compute_rfm(transactions, dt.date(2026, 5, 31)).collect()
    assert {row["frequency"] for row in result} == {1}
    assert {row["f_score"] for row in result} == {1}
    # The most recent buyer is the best on recency and, spending most, on money.
    best = max(result, key=lambda row: row["monetary"])
    assert (best["customer_id"], best["r_score"], best["m_score"]) == ("c11", 5, 5)


def _random_metrics(spark: SparkSession, seed: int, n: int = 240) -> DataFrame:
    rng = np.random.default_rng(seed)
    table = pa.table(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "recency_days": rng.integers(0, 40, n).astype(np.int32),  # many ties
            "frequency": rng.geometric(0.4, n).astype(np.int64),
            # A few distinct amounts (ties) plus many distinct ones.
            "monetary": np.where(rng.random(n) < 0.3, 19.99, np.round(rng.lognormal(3, 1, n), 2)),
        }
    )
    return spark.createDataFrame(table).withColumn("monetary", F.col("monetary").cast("decimal(18,2)"))


@pytest.mark.parametrize("seed", [11, 12])
def test_a_customer_better_on_a_metric_never_gets_a_lower_score(spark: SparkSession, seed: int) -> None:
    rows = score_rfm(_random_metrics(spark, seed).cache()).collect()
    assert len(rows) == 240
    for metric, score, better in (
        ("recency_days", "r_score", operator.lt),
        ("frequency", "f_score", operator.gt),
        ("monetary", "m_score", operator.gt),
    ):
        for first in rows:
            for second in rows:
                if better(first[metric], second[metric]):
                    assert first[score] >= second[score], (metric, first, second)
                if first[metric] == second[metric]:
                    assert first[score] == second[score], (metric, first, second)
    assert {row["r_score"] for row in rows} == {1, 2, 3, 4, 5}


def test_ranking_never_moves_all_customers_to_one_partition(spark: SparkSession) -> None:
    metrics = _random_metrics(spark, seed=5).cache()
    plan = score_rfm(metrics)._jdf.queryExecution().executedPlan().toString()
    assert "SinglePartition" not in plan, plan
    # The check itself can fail: a plain RANK() over everything does collapse onto one partition.
    global_rank = metrics.withColumn("r", F.rank().over(Window.orderBy("monetary")))
    assert "SinglePartition" in global_rank._jdf.queryExecution().executedPlan().toString()


def test_metrics_use_the_utc_date_of_each_order(spark: SparkSession, other_session_time_zone: None) -> None:
    # 23:30 UTC on the as-of date is still that date in UTC (it is the day before in Los Angeles
    # only for later hours; 07:30 UTC is the previous day there).
    rows = [
        ("x", "2026-06-30T07:30:00Z", 1),
        ("y", "2026-06-30T23:30:00Z", 1),
        ("z", "2026-07-01T06:00:00Z", 1),
    ]
    metrics = {
        r["customer_id"]: r["recency_days"]
        for r in rfm_metrics(spark.createDataFrame(orders(rows)), AS_OF).collect()
    }
    assert metrics == {"x": 0, "y": 0}


@pytest.mark.parametrize(
    ("seed", "sample_rows", "window_sigmas", "widened"),
    [
        (21, 50_000, 4.0, False),  # the defaults: every row sampled, windows always hit
        # A 10% sample and windows one sampled value wide: they miss, are widened and counted again.
        (21, 24, 0.0, True),
        (22, 24, 0.0, True),
    ],
)
def test_scores_equal_the_formula_applied_to_sql_rank(
    spark: SparkSession,
    caplog: pytest.LogCaptureFixture,
    seed: int,
    sample_rows: int,
    window_sigmas: float,
    widened: bool,
) -> None:
    # 30% of customers share one monetary value: a tie spanning several score levels at once.
    metrics = _random_metrics(spark, seed=seed).cache()
    n = metrics.count()
    reference = metrics.select(
        "customer_id",
        F.rank().over(Window.orderBy(F.col("recency_days").desc())).alias("r"),
        F.rank().over(Window.orderBy("frequency")).alias("f"),
        F.rank().over(Window.orderBy("monetary")).alias("m"),
    ).collect()
    expected = {
        row["customer_id"]: tuple(score_from_rank(row[c], n) for c in ("r", "f", "m")) for row in reference
    }
    with caplog.at_level(logging.DEBUG, logger="ecap.segmentation.rfm"):
        scored = score_rfm(metrics, sample_rows=sample_rows, window_sigmas=window_sigmas)
    (passes,) = re.findall(r"located in (\d+) window pass", caplog.text)
    assert (int(passes) > 1) is widened
    got = {row["customer_id"]: (row["r_score"], row["f_score"], row["m_score"]) for row in scored.collect()}
    assert got == expected


def test_scores_of_customers_with_a_null_metric_are_refused(spark: SparkSession) -> None:
    metrics = _random_metrics(spark, seed=4).withColumn(
        "frequency", F.when(F.col("customer_id") == "c7", None).otherwise(F.col("frequency"))
    )
    with pytest.raises(SegmentationError, match="'frequency': it holds nulls"):
        score_rfm(metrics)
