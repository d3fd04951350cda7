"""RFM segmentation in Spark, exactly as DOMAIN.md defines it, without collapsing onto one partition.

Per customer as of a date (orders after it ignored): ``recency_days`` = whole days between the UTC date
of the last order and the as-of date, ``frequency`` = number of orders, ``monetary`` = sum of
``total_amount``. Each metric is ranked with SQL ``RANK()`` semantics in the order worst -> best
(recency_days descending, frequency ascending, monetary ascending) and scored
``1 + min(4, floor(5 * (rank - 1) / (n - 1)))`` (1 when n = 1), computed in exact integer arithmetic.
``FM = round-half-up((F + M) / 2)``; the segment comes from the R x FM grid below.

A global ``RANK()`` over an unpartitioned window moves every customer to one task. ``rank_columns``
gets the same numbers without that, with two small jobs over the (cached) metrics: one counts rows and
estimates distinct values; one counts rows per distinct value or per bucket for all metrics at once
(grouping sets). Few distinct values (recency days, order counts) are ranked on the driver and
broadcast-joined back; many (money) are cut into value-range buckets with boundaries from a sample,
ranked within each bucket in parallel, and shifted by the number of rows in the earlier buckets.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Final, Literal

import numpy as np
import pyarrow as pa
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F  # noqa: N812 - the conventional PySpark alias

from . import SegmentationError

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

# Above this many distinct values a metric is ranked in value-range buckets rather than on the driver.
MAX_DRIVER_VALUES: Final = 50_000
# Keys sampled to place bucket boundaries (balance only: ranks are exact whatever the boundaries).
SAMPLE_ROWS: Final = 20_000
SAMPLE_SEED: Final = 20_261_130

RankStrategy = Literal["auto", "values", "buckets"]


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


def _order_expr(order: MetricOrder) -> Column:
    return F.col(order.column).asc() if order.ascending else F.col(order.column).desc()


def _sort_key(order: MetricOrder) -> Column:
    """A double that grows from worst to best: monotone in the metric, so ties stay equal."""
    value = F.col(order.column).cast("double")
    return value if order.ascending else -value


@dataclass(frozen=True)
class _RankPlan:
    order: MetricOrder
    rank_col: str
    bounds: tuple[float, ...] | None
    """Bucket boundaries of the sort key; None ranks from per-value counts on the driver."""

    @property
    def group_col(self) -> str:
        return self.order.column if self.bounds is None else f"_bucket_{self.order.column}"

    def bucket(self) -> Column:
        assert self.bounds is not None  # noqa: S101 - only called for bucket plans
        key = _sort_key(self.order)
        # Number of boundaries below the key: monotone, so equal values share a bucket.
        return sum((F.when(key > F.lit(b), 1).otherwise(0) for b in self.bounds), F.lit(0)).cast("int")


def _plan(
    df: DataFrame,
    targets: list[tuple[MetricOrder, str]],
    strategy: RankStrategy,
    buckets: int,
    max_driver_values: int,
) -> tuple[int, list[_RankPlan]]:
    """Row count and distinct-value estimates in one pass; bucket boundaries from a small sample.

    Boundaries only balance the work: any increasing boundaries give exact ranks, so a seeded
    sample of about ``SAMPLE_ROWS`` keys is enough and much cheaper than exact or streaming quantiles.
    """
    aggregates = [F.count(F.lit(1)).alias("_n")]
    aggregates += [
        F.approx_count_distinct(o.column).alias(f"_distinct{i}") for i, (o, _) in enumerate(targets)
    ]
    stats = df.agg(*aggregates).collect()[0]
    n = int(stats["_n"])
    by_values = [
        strategy == "values" or (strategy == "auto" and stats[f"_distinct{i}"] <= max_driver_values) or n == 0
        for i in range(len(targets))
    ]
    bounds: dict[int, tuple[float, ...]] = {}
    sampled = [i for i, values in enumerate(by_values) if not values]
    if sampled:
        fraction = min(1.0, SAMPLE_ROWS / n)
        keys = [_sort_key(targets[i][0]).alias(f"_key{i}") for i in sampled]
        rows = df.select(*keys).sample(fraction=fraction, seed=SAMPLE_SEED).toArrow()
        probabilities = np.arange(1, buckets) / buckets
        for i in sampled:
            column = rows[f"_key{i}"].to_numpy() if rows.num_rows else np.zeros(0)
            quantiles = np.quantile(column, probabilities) if len(column) else np.zeros(0)
            bounds[i] = tuple(sorted({float(q) for q in quantiles}))
    plans = [_RankPlan(order, rank_col, bounds.get(i)) for i, (order, rank_col) in enumerate(targets)]
    return n, plans


def _group_counts(df: DataFrame, plans: list[_RankPlan]) -> list[dict[object, int]]:
    """A second pass: rows per distinct value (value plans) or per bucket (bucket plans), all at once."""
    columns = [F.col(p.order.column) if p.bounds is None else p.bucket().alias(p.group_col) for p in plans]
    names = [p.group_col for p in plans]
    grouped = df.select(*columns).groupingSets([[name] for name in names], *names)
    rows = grouped.agg(F.count(F.lit(1)).alias("_count"), F.grouping_id().alias("_set")).collect()
    width = len(names)
    everything = (1 << width) - 1
    counts: list[dict[object, int]] = [{} for _ in plans]
    for row in rows:
        for index, name in enumerate(names):
            if row["_set"] == everything ^ (1 << (width - 1 - index)):
                if row[name] is None:
                    raise SegmentationError(f"cannot rank {plans[index].order.column!r}: it holds nulls")
                counts[index][row[name]] = int(row["_count"])
    return counts


def _rank_by_values(df: DataFrame, plan: _RankPlan, counts: dict[object, int]) -> DataFrame:
    """Rank per distinct value computed on the driver (few values), broadcast-joined back."""
    ordered = sorted(counts, key=lambda value: value, reverse=not plan.order.ascending)  # type: ignore[arg-type,return-value]
    ranks: list[int] = []
    seen = 0
    for value in ordered:
        ranks.append(seen + 1)
        seen += counts[value]
    value_type = df.schema[plan.order.column].dataType
    table = pa.table({"_value": ordered, plan.rank_col: pa.array(ranks, pa.int64())})
    rank_df = df.sparkSession.createDataFrame(table).select(
        F.col("_value").cast(value_type).alias("_value"), F.col(plan.rank_col)
    )
    joined = df.join(F.broadcast(rank_df), df[plan.order.column] == rank_df["_value"], "left")
    return joined.drop("_value")


def _rank_by_buckets(df: DataFrame, plan: _RankPlan, sizes: dict[object, int]) -> DataFrame:
    """Rank within value-range buckets in parallel, then add the rows of all earlier buckets."""
    assert plan.bounds is not None  # noqa: S101 - a bucket plan
    offsets: list[int] = []
    seen = 0
    for index in range(len(plan.bounds) + 1):
        offsets.append(seen)
        seen += sizes.get(index, 0)
    window = Window.partitionBy(plan.group_col).orderBy(_order_expr(plan.order))
    offset = F.element_at(F.array(*[F.lit(o) for o in offsets]), F.col(plan.group_col) + 1)
    return (
        df.withColumn(plan.group_col, plan.bucket())
        .withColumn(plan.rank_col, (F.rank().over(window) + offset).cast("long"))
        .drop(plan.group_col)
    )


def _prepare(
    df: DataFrame,
    targets: list[tuple[MetricOrder, str]],
    strategy: RankStrategy,
    buckets: int | None,
    max_driver_values: int,
) -> tuple[int, list[tuple[_RankPlan, dict[object, int]]]]:
    if strategy not in ("auto", "values", "buckets"):
        raise SegmentationError(f"rank strategy must be auto, values or buckets, got {strategy!r}")
    if buckets is None:
        partitions = int(df.sparkSession.conf.get("spark.sql.shuffle.partitions") or "4")
        buckets = max(8, 4 * partitions)
    n, plans = _plan(df, targets, strategy, buckets, max_driver_values)
    return n, list(zip(plans, _group_counts(df, plans), strict=True))


def rank_columns(
    df: DataFrame,
    targets: list[tuple[MetricOrder, str]],
    strategy: RankStrategy = "auto",
    buckets: int | None = None,
    max_driver_values: int = MAX_DRIVER_VALUES,
) -> tuple[DataFrame, int]:
    """``df`` plus one ``RANK()`` column per (metric order, rank column), and the row count.

    Two small jobs over ``df`` (cache it first) plan and count; the ranks themselves are computed in
    the returned DataFrame without any single-partition step.
    """
    n, prepared = _prepare(df, targets, strategy, buckets, max_driver_values)
    ranked = df
    for plan, counts in prepared:
        if plan.bounds is None:
            ranked = _rank_by_values(ranked, plan, counts)
        else:
            ranked = _rank_by_buckets(ranked, plan, counts)
    return ranked, n


def _score_by_values(
    df: DataFrame, plan: _RankPlan, counts: dict[object, int], n: int, score_col: str
) -> DataFrame:
    """Scores from value thresholds found on the driver: no join, four comparisons per row.

    The score only grows from worst to best value, so ``score = 1 + #{s in 2..5: value at least as
    good as the first value whose rank earns s}``.
    """
    ordered = sorted(counts, key=lambda value: value, reverse=not plan.order.ascending)  # type: ignore[arg-type,return-value]
    thresholds: dict[int, object] = {}
    seen = 0
    for value in ordered:
        for level in range(2, score_from_rank(seen + 1, n) + 1):
            thresholds.setdefault(level, value)
        seen += counts[value]
    column = F.col(plan.order.column)
    value_type = df.schema[plan.order.column].dataType
    score = F.lit(1)
    for _, value in sorted(thresholds.items()):
        bound = F.lit(value).cast(value_type)
        reached = column >= bound if plan.order.ascending else column <= bound
        score = score + F.when(reached, 1).otherwise(0)
    return df.withColumn(score_col, score.cast("int"))


def score_columns(
    df: DataFrame,
    targets: list[tuple[MetricOrder, str]],
    strategy: RankStrategy = "auto",
    buckets: int | None = None,
    max_driver_values: int = MAX_DRIVER_VALUES,
) -> DataFrame:
    """``df`` plus one 1-5 score column per (metric order, score column), from the ranks' definition."""
    n, prepared = _prepare(df, targets, strategy, buckets, max_driver_values)
    scored = df
    for plan, counts in prepared:
        if plan.bounds is None:
            scored = _score_by_values(scored, plan, counts, n, plan.rank_col)
        else:
            rank_col = f"_rank_{plan.order.column}"
            ranked = _rank_by_buckets(scored, replace(plan, rank_col=rank_col), counts)
            scored = ranked.withColumn(plan.rank_col, _score_expr(rank_col, n)).drop(rank_col)
    return scored


def distributed_rank(
    df: DataFrame,
    column: str,
    ascending: bool = True,
    rank_col: str | None = None,
    strategy: RankStrategy = "auto",
    buckets: int | None = None,
    max_driver_values: int = MAX_DRIVER_VALUES,
) -> DataFrame:
    """``df`` plus ``rank_col`` equal to ``RANK() OVER (ORDER BY column [DESC])``, computed in parallel.

    The column must hold no nulls (RFM metrics never do).
    """
    targets = [(MetricOrder(column, ascending), rank_col or f"{column}_rank")]
    return rank_columns(df, targets, strategy, buckets, max_driver_values)[0]


def _score_expr(rank_col: str, n: int) -> Column:
    if n <= 1:
        return F.lit(1)
    # Integer division: floor(5 * percent_rank) without binary-float rounding at the quintile edges.
    return F.expr(f"CAST(1 + least(4, (5 * ({rank_col} - 1)) div {n - 1}) AS INT)")


def _segment_map() -> Column:
    """R*10 + FM -> segment, generated from the grid so every cell appears exactly once."""
    pairs: list[Column] = []
    for r_index, r_score in enumerate(GRID_R_ORDER):
        for fm_index, name in enumerate(SEGMENT_GRID[r_index]):
            pairs += [F.lit(r_score * 10 + fm_index + 1), F.lit(name)]
    return F.create_map(*pairs)


def _lookup(mapping: dict[int, str] | dict[str, str], key: Column) -> Column:
    pairs: list[Column] = []
    for k, v in mapping.items():
        pairs += [F.lit(k), F.lit(v)]
    return F.element_at(F.create_map(*pairs), key)


def score_rfm(
    metrics: DataFrame,
    strategy: RankStrategy = "auto",
    max_driver_values: int = MAX_DRIVER_VALUES,
) -> DataFrame:
    """Scores, code, segment, value tier and action for every row of ``rfm_metrics`` output.

    Other columns of ``metrics`` are kept. Cache ``metrics`` first: ranking runs a few small jobs.
    """
    missing = [c for c in RFM_METRIC_COLUMNS if c not in metrics.columns]
    if missing:
        raise SegmentationError(f"RFM metrics lack column(s) {', '.join(missing)}")
    targets = [(order, f"{name}_score") for order, name in zip(RFM_ORDERS, ("r", "f", "m"), strict=True)]
    scored = score_columns(metrics, targets, strategy, max_driver_values=max_driver_values).withColumn(
        "fm_score", F.expr("CAST((f_score + m_score + 1) div 2 AS INT)")
    )
    return (
        scored.withColumn(
            "rfm_code", F.concat(F.col("r_score").cast("string"), F.col("f_score"), F.col("m_score"))
        )
        .withColumn("segment", F.element_at(_segment_map(), F.col("r_score") * 10 + F.col("fm_score")))
        .withColumn("value_tier", _lookup(VALUE_TIERS, F.col("m_score")))
        .withColumn("action", _lookup(ACTIONS, F.col("segment")))
    )


def compute_rfm(transactions: DataFrame, as_of: dt.date, strategy: RankStrategy = "auto") -> DataFrame:
    """Transactions -> one scored RFM row per customer (metrics cached while ranking)."""
    metrics = rfm_metrics(transactions, as_of).cache()
    return score_rfm(metrics, strategy=strategy)
