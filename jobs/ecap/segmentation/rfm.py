"""RFM segmentation in Spark, exactly as DOMAIN.md defines it, without collapsing onto one partition.

Per customer as of a date (orders after it ignored): ``recency_days`` = whole days between the UTC date
of the last order and the as-of date, ``frequency`` = number of orders, ``monetary`` = sum of
``total_amount``. Each metric is ranked with SQL ``RANK()`` semantics in the order worst -> best
(recency_days descending, frequency ascending, monetary ascending) and scored
``1 + min(4, floor(5 * (rank - 1) / (n - 1)))`` (1 when n = 1), computed in exact integer arithmetic.
``FM = round-half-up((F + M) / 2)``; the segment comes from the R x FM grid below.

A global ``RANK()`` over an unpartitioned window moves every customer to one task. Scores do not need
the ranks themselves: score s (2..5) is reached exactly when a customer is strictly better than the
value at one sorted position (an order statistic), so ``score_columns`` finds those four values per
metric and compares. Three small jobs over the (cached) metrics do it: a count; a seeded sample that
brackets each position with a value window; and one grouped count (grouping sets, all metrics at once)
of the rows below each window and of every distinct value inside it, which locates each position
exactly (a window that misses is widened and counted again).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F  # noqa: N812 - the conventional PySpark alias

from . import SegmentationError

log = logging.getLogger(__name__)

SCORES: Final = (1, 2, 3, 4, 5)

# The R x FM grid of DOMAIN.md as data: rows are R = 5, 4, 3, 2, 1; columns are FM = 1..5.
SEGMENT_GRID: Final[tuple[tuple[str, ...], ...]] = (
    ("New Customers", "Potential Loyalists", "Potential Loyalists", "Champions", "Champions"),
    ("Promising", "Potential Loyalists", "Potential Loyalists", "Loyal Customers", "Loyal Customers"),
    ("About to Sleep", "About to Sleep", "Need Attention", "Loyal Customers", "Loyal Customers"),
    ("Hibernating", "Hibernating", "At Risk", "At Risk", "Cannot Lose Them"),
    ("Lost", "Hibernating", "At Risk", "At Risk", "Cannot Lose Them"),
)
GRID_R_ORDER: Final = (5, 4, 3, 2, 1)

# Best to worst, the order reports list them in.
SEGMENTS: Final[tuple[str, ...]] = (
    "Champions",
    "Loyal Customers",
    "Potential Loyalists",
    "New Customers",
    "Promising",
    "Need Attention",
    "About to Sleep",
    "At Risk",
    "Cannot Lose Them",
    "Hibernating",
    "Lost",
)

ACTIONS: Final[dict[str, str]] = {
    "Champions": "Reward them with early access and loyalty perks, and ask for reviews and referrals.",
    "Loyal Customers": "Upsell higher-value products and enrol them in the loyalty programme.",
    "Potential Loyalists": "Offer a membership or personalised recommendations to build the habit.",
    "New Customers": "Onboard them well: welcome series, first-use tips and a second-order incentive.",
    "Promising": "Build brand awareness with targeted content and a limited-time offer.",
    "Need Attention": "Re-engage with personalised, time-limited offers based on past purchases.",
    "About to Sleep": "Reactivate with relevant recommendations and a modest discount before they lapse.",
    "At Risk": "Win them back with personalised emails, renewals and a strong incentive.",
    "Cannot Lose Them": "Reach out personally with the best offer; find out why they stopped buying.",
    "Hibernating": "Offer other relevant categories and special discounts; keep contact low-cost.",
    "Lost": "Try one reactivation campaign, then stop spending on them.",
}

# Value tier from the monetary score.
VALUE_TIERS: Final[dict[int, str]] = {5: "platinum", 4: "gold", 3: "silver", 2: "bronze", 1: "bronze"}

RFM_METRIC_COLUMNS: Final = ("customer_id", "recency_days", "frequency", "monetary")
MONEY_TYPE: Final = "decimal(18,2)"

SAMPLE_SEED: Final = 20_261_130

# Metric rows sampled to place the windows that must hold each scoring position (more rows: narrower
# windows, fewer values counted); a window spans this many standard errors of the sample quantile.
QUANTILE_SAMPLE_ROWS: Final = 50_000
WINDOW_SIGMAS: Final = 4.0

Value = int | Decimal
"""A metric value: whole days, an order count or money."""


@dataclass(frozen=True)
class MetricOrder:
    """How one metric is ranked worst -> best."""

    column: str
    ascending: bool


RFM_ORDERS: Final = (
    MetricOrder("recency_days", ascending=False),
    MetricOrder("frequency", ascending=True),
    MetricOrder("monetary", ascending=True),
)


def segment_for(r_score: int, fm_score: int) -> str:
    """The DOMAIN.md segment of an R score and an FM score (both 1..5)."""
    if r_score not in SCORES or fm_score not in SCORES:
        raise SegmentationError(f"scores must be 1..5, got R={r_score} FM={fm_score}")
    return SEGMENT_GRID[GRID_R_ORDER.index(r_score)][fm_score - 1]


def fm_score(f_score: int, m_score: int) -> int:
    """round-half-up((F + M) / 2) in integers: an odd sum's .5 goes up."""
    return (f_score + m_score + 1) // 2


def score_from_rank(rank: int, n: int) -> int:
    """``1 + min(4, floor(5 * (rank - 1) / (n - 1)))``, 1 when n = 1; exact integer arithmetic."""
    if n <= 1:
        return 1
    return 1 + min(4, (5 * (rank - 1)) // (n - 1))


def utc_date(ts: Column) -> Column:
    """The UTC calendar date of a timestamp, whatever the session time zone."""
    return F.date_from_unix_date(F.floor(F.unix_micros(ts) / F.lit(86_400_000_000)).cast("int"))


def as_of_date(value: str | dt.date | None, today: dt.date | None = None) -> dt.date:
    """The reference date: an ISO date string or date; None means today (UTC)."""
    if value is None:
        return today or dt.datetime.now(dt.UTC).date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise SegmentationError(f"as-of date must be YYYY-MM-DD, got {value!r}") from None


def _day_after(as_of: dt.date) -> dt.datetime:
    return dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


def orders_until(transactions: DataFrame, as_of: dt.date) -> DataFrame:
    """Orders whose UTC date is on or before the as-of date, with that date as ``order_date``."""
    return transactions.where(F.col("event_time") < F.lit(_day_after(as_of))).withColumn(
        "order_date", utc_date(F.col("event_time"))
    )


def rfm_metrics(transactions: DataFrame, as_of: dt.date) -> DataFrame:
    """customer_id, recency_days, frequency, monetary (decimal) per customer as of the date.

    Orders are cut at midnight UTC after the as-of date (a timestamp comparison Parquet statistics can
    prune on); only each customer's last order time is turned into a UTC date.
    """
    orders = transactions.where(F.col("event_time") < F.lit(_day_after(as_of)))
    return orders.groupBy("customer_id").agg(
        F.date_diff(F.lit(as_of), utc_date(F.max("event_time"))).cast("int").alias("recency_days"),
        F.count(F.lit(1)).cast("long").alias("frequency"),
        _sum_money("total_amount").alias("monetary"),
    )


def _sum_money(column: str) -> Column:
    """Exact sum of a decimal(p<=16, 2) column, added up as whole cents in 64-bit integers.

    Spark widens a decimal sum to decimal(p+10): past 18 digits it adds java BigDecimals row by row,
    several times slower than this, with the same result.
    """
    cents = (F.col(column) * F.lit(100)).cast("long")
    return (F.sum(cents).cast("decimal(20,0)") / F.lit(100)).cast(MONEY_TYPE)


@dataclass(frozen=True)
class _Window:
    """Metric values from ``low`` to ``high`` (inclusive, worst -> best); None leaves that side open."""

    low: Value | None
    high: Value | None


_Counted = tuple[npt.NDArray[np.int64], pa.Array, npt.NDArray[np.int64]]
"""Per metric: windows reached, the value when inside a window (else null), and rows, per group."""


def score_positions(n: int) -> dict[int, int]:
    """Score level -> the 0-based position (sorted worst first) a value must be strictly better than.

    ``score >= s`` iff ``5 * (rank - 1) >= (s - 1) * (n - 1)`` iff ``rank - 1 >= k_s`` with
    ``k_s = ceil((s - 1) * (n - 1) / 5)``; ``rank - 1`` counts the strictly worse rows, so it reaches
    ``k_s`` exactly when the value is strictly better than the one at position ``k_s - 1``.
    Empty when n <= 1: every score is 1.
    """
    if n <= 1:
        return {}
    return {level: -(-(level - 1) * (n - 1) // 5) - 1 for level in SCORES[1:]}


def _better(first: Value, second: Value, ascending: bool) -> bool:
    return first > second if ascending else first < second


def _windows(
    sorted_sample: pa.Array, positions: set[int], n: int, widen: int, ascending: bool, sigmas: float
) -> list[_Window]:
    """Disjoint value windows that should hold the given positions, from a sample sorted worst first.

    Each window spans ``sigmas`` standard errors of the sample quantile either side (times
    4 ** widen after a miss); overlapping windows are merged so that a value lies in at most one.
    """
    m = len(sorted_sample)
    if m == 0:
        return [_Window(None, None)]
    windows: list[_Window] = []
    for position in sorted(positions):
        p = (position + 0.5) / n
        half = (sigmas * math.sqrt(p * (1 - p) / m) + 1 / m) * 4**widen
        low = None if p - half < 0 else sorted_sample[min(math.floor((p - half) * m), m - 1)].as_py()
        high = None if p + half >= 1 else sorted_sample[min(math.ceil((p + half) * m), m - 1)].as_py()
        windows.append(_Window(low, high))
    merged: list[_Window] = []
    for window in windows:  # positions ascend, so lows never get worse
        last = merged[-1] if merged else None
        if last is None or (
            last.high is not None and window.low is not None and _better(window.low, last.high, ascending)
        ):
            merged.append(window)
            continue
        if last.high is None or window.high is None:
            high = None
        else:
            high = window.high if _better(window.high, last.high, ascending) else last.high
        merged[-1] = _Window(last.low, high)
    return merged


def _compare(df: DataFrame, order: MetricOrder, value: Value, strictly: bool) -> Column:
    """The metric is better than ``value`` (strictly) or at least as good (not strictly)."""
    column = F.col(order.column)
    bound = F.lit(value).cast(df.schema[order.column].dataType)
    if order.ascending:
        return column > bound if strictly else column >= bound
    return column < bound if strictly else column <= bound


def _window_columns(df: DataFrame, order: MetricOrder, windows: list[_Window]) -> tuple[Column, Column]:
    """(how many window lows the value reaches, the value when it lies in a window else null)."""
    region: Column = F.lit(0)
    inside: Column = F.lit(False)
    for window in windows:
        reaches = F.lit(True) if window.low is None else _compare(df, order, window.low, strictly=False)
        within = F.lit(True) if window.high is None else ~_compare(df, order, window.high, strictly=True)
        region = region + F.when(reaches, 1).otherwise(0)
        inside = inside | (reaches & within)
    return region.cast("int"), F.when(inside, F.col(order.column))


def _count_windows(df: DataFrame, plans: list[tuple[MetricOrder, list[_Window]]]) -> list[_Counted]:
    """One job for all metrics (grouping sets): rows per (window lows reached, value inside a window)."""
    columns: list[Column] = []
    for index, (order, windows) in enumerate(plans):
        region, value = _window_columns(df, order, windows)
        columns += [region.alias(f"_region{index}"), value.alias(f"_value{index}")]
    names = [f"_region{i}" for i in range(len(plans))] + [f"_value{i}" for i in range(len(plans))]
    sets = [[f"_region{i}", f"_value{i}"] for i in range(len(plans))]
    grouped = df.select(*columns).groupingSets(sets, *names)
    table = grouped.agg(F.count(F.lit(1)).alias("_count"), F.grouping_id().alias("_set")).toArrow()
    everything = (1 << len(names)) - 1
    counted: list[_Counted] = []
    for index in range(len(plans)):
        # grouping_id() sets one bit per column left out of the set, the first column's bit highest.
        left_in = (1 << (len(names) - 1 - index)) | (1 << (len(plans) - 1 - index))
        rows = table.filter(pc.equal(table["_set"], everything ^ left_in))
        counted.append(
            (
                rows[f"_region{index}"].to_numpy().astype(np.int64),
                rows[f"_value{index}"].combine_chunks(),
                rows["_count"].to_numpy().astype(np.int64),
            )
        )
    return counted


def _locate(counted: _Counted, windows: int, positions: set[int], ascending: bool) -> dict[int, Value]:
    """The value at each position that falls inside a counted window; missed positions are left out."""
    regions, values, counts = counted
    present = values.is_valid().to_numpy(zero_copy_only=False)
    found: dict[int, Value] = {}
    for window in range(1, windows + 1):
        # Rows of window w reach exactly w lows (windows are disjoint); fewer means worse than its low.
        below = int(counts[regions < window].sum())
        mask = present & (regions == window)
        if not mask.any():
            continue
        inside = values.filter(pa.array(mask))
        order = pc.sort_indices(inside, sort_keys=[("", "ascending" if ascending else "descending")])
        through = below + np.cumsum(counts[mask][order.to_numpy()])
        for position in positions:
            if below <= position < through[-1]:
                at = int(np.searchsorted(through, position, side="right"))
                found[position] = inside[order[at].as_py()].as_py()
    return found


def _order_statistics(
    df: DataFrame, targets: list[tuple[MetricOrder, str]], n: int, sample_rows: int, window_sigmas: float
) -> list[dict[int, Value]]:
    """Per metric, the value at every scoring position, found exactly with windows from a sample."""
    wanted = set(score_positions(n).values())
    found: list[dict[int, Value]] = [{} for _ in targets]
    if not wanted:
        return found
    columns = [order.column for order, _ in targets]
    sample = df.select(*columns).sample(fraction=min(1.0, sample_rows / n), seed=SAMPLE_SEED).toArrow()
    ordered = []
    for order, _ in targets:
        values = sample[order.column].combine_chunks()
        direction = "ascending" if order.ascending else "descending"
        ordered.append(values.take(pc.sort_indices(values, sort_keys=[("", direction)])))
    widen = 0
    while pending := [i for i in range(len(targets)) if len(found[i]) < len(wanted)]:
        plans = [
            (
                targets[i][0],
                _windows(
                    ordered[i], wanted - found[i].keys(), n, widen, targets[i][0].ascending, window_sigmas
                ),
            )
            for i in pending
        ]
        for i, (order, windows), counted in zip(pending, plans, _count_windows(df, plans), strict=True):
            found[i].update(_locate(counted, len(windows), wanted - found[i].keys(), order.ascending))
            if windows == [_Window(None, None)] and len(found[i]) < len(wanted):
                raise SegmentationError(
                    f"the rows of {order.column!r} changed between passes: cache the metrics first"
                )
        widen += 1
    log.debug("order statistics of %d rows located in %d window pass(es)", n, widen)
    return found


def score_columns(
    df: DataFrame,
    targets: list[tuple[MetricOrder, str]],
    sample_rows: int = QUANTILE_SAMPLE_ROWS,
    window_sigmas: float = WINDOW_SIGMAS,
) -> DataFrame:
    """``df`` plus one 1-5 score column per (metric order, score column), from the ranks' definition.

    A few small jobs over ``df`` (cache it first) find each metric's order statistics; the scores are
    then four comparisons per row, computed where the rows are.
    """
    stats = df.agg(
        F.count(F.lit(1)).alias("_n"),
        *[F.count(order.column).alias(f"_present{i}") for i, (order, _) in enumerate(targets)],
    ).collect()[0]
    n = int(stats["_n"])
    for index, (order, _) in enumerate(targets):
        if stats[f"_present{index}"] != n:
            raise SegmentationError(f"cannot rank {order.column!r}: it holds nulls")
    positions = score_positions(n)
    statistics = _order_statistics(df, targets, n, sample_rows, window_sigmas)
    scored = df
    for (order, score_col), values in zip(targets, statistics, strict=True):
        score: Column = F.lit(1)
        for position in positions.values():
            score = score + F.when(_compare(df, order, values[position], strictly=True), 1).otherwise(0)
        scored = scored.withColumn(score_col, score.cast("int"))
    return scored


def _segment_of_scores() -> Column:
    """The segment of ``r_score`` and ``fm_score``: one array read, the array generated from the grid."""
    names = [segment_for(r_score, fm) for r_score in SCORES for fm in SCORES]
    return F.element_at(F.array(*map(F.lit, names)), (F.col("r_score") - 1) * 5 + F.col("fm_score"))


def _lookup(mapping: dict[int, str] | dict[str, str], key: Column) -> Column:
    pairs: list[Column] = []
    for k, v in mapping.items():
        pairs += [F.lit(k), F.lit(v)]
    return F.element_at(F.create_map(*pairs), key)


def score_rfm(
    metrics: DataFrame, sample_rows: int = QUANTILE_SAMPLE_ROWS, window_sigmas: float = WINDOW_SIGMAS
) -> DataFrame:
    """Scores, code, segment, value tier and action for every row of ``rfm_metrics`` output.

    Other columns of ``metrics`` are kept. Cache ``metrics`` first: scoring runs a few small jobs.
    """
    missing = [c for c in RFM_METRIC_COLUMNS if c not in metrics.columns]
    if missing:
        raise SegmentationError(f"RFM metrics lack column(s) {', '.join(missing)}")
    targets = [(order, f"{name}_score") for order, name in zip(RFM_ORDERS, ("r", "f", "m"), strict=True)]
    scored = score_columns(metrics, targets, sample_rows, window_sigmas).withColumn(
        "fm_score", F.expr("CAST((f_score + m_score + 1) div 2 AS INT)")
    )
    return (
        scored.withColumn(
            "rfm_code", F.concat(F.col("r_score").cast("string"), F.col("f_score"), F.col("m_score"))
        )
        .withColumn("segment", _segment_of_scores())
        .withColumn("value_tier", _lookup(VALUE_TIERS, F.col("m_score")))
        .withColumn("action", _lookup(ACTIONS, F.col("segment")))
    )


def compute_rfm(
    transactions: DataFrame, as_of: dt.date, sample_rows: int = QUANTILE_SAMPLE_ROWS
) -> DataFrame:
    """Transactions -> one scored RFM row per customer (metrics cached while scoring)."""
    metrics = rfm_metrics(transactions, as_of).cache()
    return score_rfm(metrics, sample_rows)
