"""RFM segmentation in Spark, exactly as DOMAIN.md defines it, without collapsing onto one partition.

Per customer as of a date (orders after it ignored): ``recency_days`` = whole days between the UTC date
of the last order and the as-of date, ``frequency`` = number of orders, ``monetary`` = sum of
``total_amount``. Each metric is ranked with SQL ``RANK()`` semantics in the order worst -> best
(recency_days descending, frequency ascending, monetary ascending) and scored
``1 + min(4, floor(5 * (rank - 1) / (n - 1)))`` (1 when n = 1), computed in exact integer arithmetic.
``FM = round-half-up((F + M) / 2)``; the segment comes from the R x FM grid below.

A global ``RANK()`` over an unpartitioned window moves every customer to one task. ``distributed_rank``
gets the same numbers without that: few distinct values (recency days, order counts) are counted per
value and ranked on the driver, then broadcast-joined; many distinct values (money) are cut into
value-range buckets whose boundaries come from the data, ranked within each bucket in parallel, and
shifted by the number of rows in the earlier buckets.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final, Literal

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


def orders_until(transactions: DataFrame, as_of: dt.date) -> DataFrame:
    """Orders whose UTC date is on or before the as-of date, with that date as ``order_date``."""
    return transactions.withColumn("order_date", utc_date(F.col("event_time"))).where(
        F.col("order_date") <= F.lit(as_of)
    )


def rfm_metrics(transactions: DataFrame, as_of: dt.date) -> DataFrame:
    """customer_id, recency_days, frequency, monetary (decimal) per customer as of the date."""
    orders = orders_until(transactions, as_of)
    return orders.groupBy("customer_id").agg(
        F.date_diff(F.lit(as_of), F.max("order_date")).cast("int").alias("recency_days"),
        F.count(F.lit(1)).cast("long").alias("frequency"),
        F.sum("total_amount").cast(MONEY_TYPE).alias("monetary"),
    )


def _order_expr(order: MetricOrder) -> Column:
    return F.col(order.column).asc() if order.ascending else F.col(order.column).desc()


def _rank_by_values(
    df: DataFrame, order: MetricOrder, rank_col: str, rows: list[tuple[object, int]]
) -> DataFrame:
    """Rank from per-value counts computed on the driver, broadcast-joined back."""
    ordered = sorted(rows, key=lambda row: row[0], reverse=not order.ascending)  # type: ignore[arg-type,return-value]
    ranks: list[int] = []
    seen = 0
    for _, count in ordered:
        ranks.append(seen + 1)
        seen += count
    value_type = df.schema[order.column].dataType
    table = pa.table({"_value": [value for value, _ in ordered], rank_col: pa.array(ranks, pa.int64())})
    rank_df = df.sparkSession.createDataFrame(table).select(
        F.col("_value").cast(value_type).alias("_value"), F.col(rank_col)
    )
    joined = df.join(F.broadcast(rank_df), df[order.column].eqNullSafe(rank_df["_value"]), "left")
    return joined.drop("_value")


def _rank_by_buckets(df: DataFrame, order: MetricOrder, rank_col: str, buckets: int) -> DataFrame:
    """Rank within value-range buckets in parallel, then add the rows of all earlier buckets."""
    sign = 1.0 if order.ascending else -1.0
    key = (F.col(order.column).cast("double") * F.lit(sign)).alias("_key")
    probabilities = [i / buckets for i in range(1, buckets)]
    bounds = sorted(set(df.select(key).approxQuantile("_key", probabilities, 1.0 / (4 * buckets))))
    # A monotone function of the value: equal values always land in the same bucket.
    bucket = sum((F.when(key > F.lit(b), 1).otherwise(0) for b in bounds), F.lit(0)).cast("int")
    with_bucket = df.withColumn("_bucket", bucket)
    sizes = dict((row["_bucket"], row["count"]) for row in with_bucket.groupBy("_bucket").count().collect())
    offsets: list[int] = []
    seen = 0
    for index in range(len(bounds) + 1):
        offsets.append(seen)
        seen += int(sizes.get(index, 0))
    window = Window.partitionBy("_bucket").orderBy(_order_expr(order))
    offset = F.element_at(F.array(*[F.lit(o) for o in offsets]), F.col("_bucket") + 1)
    return with_bucket.withColumn(rank_col, (F.rank().over(window) + offset).cast("long")).drop("_bucket")


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

    Nulls are not ranked: the column must have none (RFM metrics never do). Cache ``df`` first: this
    runs a few small jobs over it.
    """
    order = MetricOrder(column, ascending)
    rank_col = rank_col or f"{column}_rank"
    if strategy not in ("auto", "values", "buckets"):
        raise SegmentationError(f"rank strategy must be auto, values or buckets, got {strategy!r}")
    if strategy != "buckets":
        limit = max_driver_values if strategy == "auto" else None
        counts = df.groupBy(column).count()
        rows = (counts.limit(limit + 1) if limit is not None else counts).collect()
        if any(row[column] is None for row in rows):
            raise SegmentationError(f"cannot rank {column!r}: it holds nulls")
        if limit is None or len(rows) <= limit:
            return _rank_by_values(df, order, rank_col, [(row[column], int(row["count"])) for row in rows])
    partitions = int(df.sparkSession.conf.get("spark.sql.shuffle.partitions") or "4")
    return _rank_by_buckets(df, order, rank_col, buckets or max(4, 4 * partitions))


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
    n = metrics.count()
    ranked = metrics
    for order, name in zip(RFM_ORDERS, ("r", "f", "m"), strict=True):
        ranked = distributed_rank(
            ranked,
            order.column,
            order.ascending,
            rank_col=f"_{name}_rank",
            strategy=strategy,
            max_driver_values=max_driver_values,
        )
    scored = (
        ranked.withColumn("r_score", _score_expr("_r_rank", n))
        .withColumn("f_score", _score_expr("_f_rank", n))
        .withColumn("m_score", _score_expr("_m_rank", n))
        .drop("_r_rank", "_f_rank", "_m_rank")
        .withColumn("fm_score", F.expr("CAST((f_score + m_score + 1) div 2 AS INT)"))
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
