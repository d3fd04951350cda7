"""Purchase attribution: a stream-stream interval join of session starts to purchases.

Both sides carry a watermark and the join condition bounds event time, so Spark can drop join
state once the watermark passes (``session_start + lookback``): the same function runs as its own
streaming query and on static DataFrames. A left outer join from the purchase side means a purchase
whose session start never arrives is still written (after the watermark) with null session columns
rather than silently missing from the attribution table.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from ecap.schemas import TS

from .errors import AnalyticsInputError, require_columns

FIRST_SEQUENCE: Final = 1
"""``sequence`` of a session's first event on the wire (the journey's first step)."""
DEFAULT_LOOKBACK_FACTOR: Final = 4
"""Without an explicit lookback a purchase is matched to a session started up to 4 attribution
windows earlier, so slow conversions are still reported (as outside the window)."""

ATTRIBUTION_SCHEMA: Final = pa.schema(
    [
        pa.field("transaction_id", pa.string(), nullable=False),
        pa.field("session_id", pa.string()),
        pa.field("customer_id", pa.string()),
        pa.field("channel", pa.string()),
        pa.field("session_start", TS),
        pa.field("purchase_time", TS),
        pa.field("minutes_to_purchase", pa.float64()),
        pa.field("converted_within_window", pa.bool_()),
    ]
)


def session_starts(user_events: DataFrame) -> DataFrame:
    """Each session's first event -> session_id, session_customer_id, session_channel, session_start.

    A stateless filter (no aggregation), so it can feed a stream-stream join.
    """
    require_columns(
        user_events, ("session_id", "customer_id", "channel", "event_time", "sequence"), "user events"
    )
    return user_events.where(F.col("sequence") == FIRST_SEQUENCE).select(
        "session_id",
        F.col("customer_id").alias("session_customer_id"),
        F.col("channel").alias("session_channel"),
        F.col("event_time").alias("session_start"),
    )


def attribute_purchases(
    user_events: DataFrame,
    transactions: DataFrame,
    attribution_window_minutes: int,
    watermark_seconds: int,
    lookback_minutes: int | None = None,
) -> DataFrame:
    """Attribute each purchase to the session (and its channel) that led to it.

    Output (ATTRIBUTION_SCHEMA): transaction_id, session_id, customer_id, channel, session_start,
    purchase_time, minutes_to_purchase, converted_within_window (purchase no later than
    ``attribution_window_minutes`` after the session's first event).
    """
    if attribution_window_minutes <= 0 or watermark_seconds < 0:
        raise AnalyticsInputError(
            f"attribution: window must be > 0 minutes and watermark >= 0 seconds, "
            f"got {attribution_window_minutes} and {watermark_seconds}"
        )
    lookback = (
        lookback_minutes
        if lookback_minutes is not None
        else DEFAULT_LOOKBACK_FACTOR * attribution_window_minutes
    )
    if lookback < attribution_window_minutes:
        raise AnalyticsInputError(
            f"attribution: lookback_minutes ({lookback}) must cover "
            f"the attribution window ({attribution_window_minutes})"
        )
    require_columns(
        transactions, ("transaction_id", "session_id", "customer_id", "event_time"), "transactions"
    )
    delay = f"{watermark_seconds} seconds"
    starts = session_starts(user_events).withWatermark("session_start", delay)
    purchases = transactions.select(
        "transaction_id",
        F.col("session_id").alias("purchase_session_id"),
        "customer_id",
        F.col("event_time").alias("purchase_time"),
    ).withWatermark("purchase_time", delay)
    joined = purchases.join(
        starts,
        (F.col("purchase_session_id") == F.col("session_id"))
        & (F.col("purchase_time") >= F.col("session_start"))
        & (F.col("purchase_time") <= F.col("session_start") + F.expr(f"INTERVAL {lookback} MINUTES")),
        "leftOuter",
    )
    minutes = (F.unix_micros("purchase_time") - F.unix_micros("session_start")) / F.lit(60_000_000.0)
    return joined.select(
        "transaction_id",
        F.col("purchase_session_id").alias("session_id"),
        F.coalesce(F.col("customer_id"), F.col("session_customer_id")).alias("customer_id"),
        F.col("session_channel").alias("channel"),
        "session_start",
        "purchase_time",
        minutes.alias("minutes_to_purchase"),
        F.coalesce(minutes <= attribution_window_minutes, F.lit(False)).alias("converted_within_window"),
    )
