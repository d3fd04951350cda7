"""The per-customer BG/NBD / Gamma-Gamma summary, computed in Spark from the transactions table.

Convention (the one of the ``lifetimes`` library with daily periods): purchases are grouped into UTC
calendar days; a customer's first purchase day starts their clock.

* ``frequency`` = number of distinct purchase days - 1 (repeat purchase days);
* ``recency`` = days from the first to the last purchase day / ``time_unit_days``;
* ``T`` = days from the first purchase day to the as-of date / ``time_unit_days``;
* ``monetary_value`` = mean spend per repeat purchase day (the first day's spend excluded), 0 when
  there is no repeat purchase.

Several orders on one day count as one purchase occasion, as in the published CDNOW analyses.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F  # noqa: N812 - the conventional PySpark alias

from . import SegmentationError
from .rfm import orders_until


def clv_summary(transactions: DataFrame, as_of: dt.date, time_unit_days: int) -> DataFrame:
    """customer_id, frequency, recency, T, monetary_value (doubles) as of the date."""
    if time_unit_days < 1:
        raise SegmentationError(f"time unit must be at least one day, got {time_unit_days}")
    unit = float(time_unit_days)
    days = (
        orders_until(transactions, as_of)
        .groupBy("customer_id", "order_date")
        # Whole cents in 64-bit integers: exact, and much faster than Spark's widened decimal sums.
        .agg(F.sum((F.col("total_amount") * F.lit(100)).cast("long")).alias("day_cents"))
    )
    per_customer = days.groupBy("customer_id").agg(
        F.count(F.lit(1)).alias("purchase_days"),
        F.min("order_date").alias("first_day"),
        F.max("order_date").alias("last_day"),
        F.sum("day_cents").alias("total_cents"),
        F.min_by("day_cents", "order_date").alias("first_day_cents"),
    )
    repeat_days = F.col("purchase_days") - 1
    return per_customer.select(
        "customer_id",
        repeat_days.cast("double").alias("frequency"),
        (F.date_diff("last_day", "first_day") / F.lit(unit)).cast("double").alias("recency"),
        (F.date_diff(F.lit(as_of), "first_day") / F.lit(unit)).cast("double").alias("T"),
        F.when(
            repeat_days > 0,
            (F.col("total_cents") - F.col("first_day_cents")).cast("double") / F.lit(100.0) / repeat_days,
        )
        .otherwise(F.lit(0.0))
        .alias("monetary_value"),
    )
