"""``customer_profiles``: what the pipeline remembers about each customer between micro-batches.

Fraud detection compares an order with the customer's own history, which lives in earlier batches;
the runner persists these rows (MERGE on customer_id) and passes them back in. Orders that raised an
alert are counted but do not teach the profile (their amount, device and location are not "usual"),
so one fraudulent order cannot make the next one look normal, nor the customer's next genuine order
look like impossible travel.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from ecap.schemas import MONEY, TS

from .errors import require_columns
from .spark_types import spark_schema

RECENT_AMOUNTS_KEPT: Final = 20
"""Trusted order amounts kept for the median "usual" order value."""
KNOWN_DEVICES_KEPT: Final = 20
RECENT_ORDERS_KEPT: Final = 50
RECENT_ORDERS_HORIZON_MINUTES: Final = 120
"""Orders younger than this (relative to the customer's last order) are kept for velocity and card
testing across micro-batch boundaries; must exceed the detection windows."""

RECENT_ORDER: Final = pa.struct([pa.field("event_time", TS), pa.field("amount", MONEY)])
PROFILE_SCHEMA: Final = pa.schema(
    [
        pa.field("customer_id", pa.string(), nullable=False),
        pa.field("orders", pa.int64()),
        pa.field("trusted_orders", pa.int64()),
        pa.field("trusted_amount_total", pa.decimal128(18, 2)),
        pa.field("recent_amounts", pa.list_(MONEY)),
        pa.field("first_order_time", TS),
        pa.field("last_order_time", TS),
        pa.field("last_trusted_time", TS),
        pa.field("last_latitude", pa.float64()),
        pa.field("last_longitude", pa.float64()),
        pa.field("home_country", pa.string()),
        pa.field("known_devices", pa.list_(pa.string())),
        pa.field("recent_orders", pa.list_(RECENT_ORDER)),
    ]
)
PROFILE_COLUMNS: Final = [field.name for field in PROFILE_SCHEMA]
SCORED_REQUIRED: Final = (
    "transaction_id",
    "customer_id",
    "event_time",
    "total_amount",
    "device_id",
    "country",
    "latitude",
    "longitude",
    "is_alert",
)


def empty_profiles(df: DataFrame) -> DataFrame:
    """An empty ``customer_profiles`` table in the session of ``df``."""
    return df.sparkSession.createDataFrame([], spark_schema(PROFILE_SCHEMA))


def usual_amount(amounts: Column) -> Column:
    """Median of an array of amounts (null when empty): robust to the odd big basket."""
    ordered = F.array_sort(amounts)
    size = F.size(ordered)
    low = F.element_at(ordered, ((size + 1) / 2).cast("int"))
    high = F.element_at(ordered, (size / 2).cast("int") + 1)
    return F.when(size > 0, (low.cast("double") + high.cast("double")) / 2)


def update_customer_profiles(profiles: DataFrame | None, scored: DataFrame) -> DataFrame:
    """Profiles before a batch + the batch's scored transactions -> changed rows to MERGE on customer_id."""
    require_columns(scored, SCORED_REQUIRED, "scored transactions")
    before = profiles if profiles is not None else empty_profiles(scored)
    require_columns(before, PROFILE_COLUMNS, "customer profiles")
    schema = spark_schema(PROFILE_SCHEMA)

    trusted = ~F.col("is_alert")
    by_time = Window.partitionBy("customer_id").orderBy("event_time", "transaction_id")
    rows = scored.select(
        "customer_id",
        "event_time",
        F.col("total_amount").cast("decimal(12,2)").alias("amount"),
        "device_id",
        "country",
        "latitude",
        "longitude",
        trusted.alias("trusted"),
        F.row_number().over(by_time).alias("seq"),
    )

    def last_trusted(column: str) -> Column:
        return F.max_by(F.when(F.col("trusted"), F.col(column)), F.when(F.col("trusted"), F.col("seq")))

    batch = rows.groupBy("customer_id").agg(
        F.count(F.lit(1)).alias("b_orders"),
        F.count(F.when(F.col("trusted"), 1)).alias("b_trusted"),
        F.sum(F.when(F.col("trusted"), F.col("amount"))).alias("b_amount"),
        F.array_sort(F.collect_list(F.when(F.col("trusted"), F.struct("seq", "amount")))).alias("b_amounts"),
        F.array_sort(F.collect_list(F.when(F.col("trusted"), F.struct("seq", "device_id")))).alias(
            "b_devices"
        ),
        F.array_sort(F.collect_list(F.struct("event_time", "amount"))).alias("b_recent"),
        F.min("event_time").alias("b_first"),
        F.max("event_time").alias("b_last"),
        F.max(F.when(F.col("trusted"), F.col("event_time"))).alias("b_last_trusted"),
        last_trusted("latitude").alias("b_lat"),
        last_trusted("longitude").alias("b_lon"),
        F.min_by(F.when(F.col("trusted"), F.col("country")), F.when(F.col("trusted"), F.col("seq"))).alias(
            "b_country"
        ),
    )
    joined = batch.join(before, "customer_id", "left")

    amounts = F.concat(
        F.coalesce(F.col("recent_amounts"), F.array().cast(schema["recent_amounts"].dataType)),
        F.transform("b_amounts", lambda s: s["amount"]),
    )
    devices = F.array_distinct(
        F.concat(
            F.reverse(F.filter(F.transform("b_devices", lambda s: s["device_id"]), lambda d: d.isNotNull())),
            F.reverse(F.coalesce(F.col("known_devices"), F.array().cast("array<string>"))),
        )
    )
    new_last = F.greatest(F.col("b_last"), F.col("last_order_time"))
    horizon = new_last - F.expr(f"INTERVAL {RECENT_ORDERS_HORIZON_MINUTES} MINUTES")
    recent = F.filter(
        F.array_sort(
            F.concat(
                F.coalesce(F.col("recent_orders"), F.array().cast(schema["recent_orders"].dataType)),
                F.col("b_recent"),
            )
        ),
        lambda o: o["event_time"] >= horizon,
    )
    # The trusted position moves only when a trusted order in this batch is newer than the stored one.
    moved = F.col("b_last_trusted").isNotNull() & (
        F.col("last_trusted_time").isNull() | (F.col("b_last_trusted") >= F.col("last_trusted_time"))
    )
    return joined.select(
        "customer_id",
        (F.coalesce(F.col("orders"), F.lit(0)) + F.col("b_orders")).alias("orders"),
        (F.coalesce(F.col("trusted_orders"), F.lit(0)) + F.col("b_trusted")).alias("trusted_orders"),
        (F.coalesce(F.col("trusted_amount_total"), F.lit(0)) + F.coalesce(F.col("b_amount"), F.lit(0)))
        .cast(schema["trusted_amount_total"].dataType)
        .alias("trusted_amount_total"),
        F.slice(
            amounts, F.greatest(F.size(amounts) - RECENT_AMOUNTS_KEPT + 1, F.lit(1)), RECENT_AMOUNTS_KEPT
        ).alias("recent_amounts"),
        F.least(F.col("b_first"), F.col("first_order_time")).alias("first_order_time"),
        new_last.alias("last_order_time"),
        F.when(moved, F.col("b_last_trusted"))
        .otherwise(F.col("last_trusted_time"))
        .alias("last_trusted_time"),
        F.when(moved, F.col("b_lat")).otherwise(F.col("last_latitude")).alias("last_latitude"),
        F.when(moved, F.col("b_lon")).otherwise(F.col("last_longitude")).alias("last_longitude"),
        F.coalesce(F.col("home_country"), F.col("b_country")).alias("home_country"),
        F.reverse(F.slice(devices, 1, KNOWN_DEVICES_KEPT)).alias("known_devices"),
        F.slice(
            recent, F.greatest(F.size(recent) - RECENT_ORDERS_KEPT + 1, F.lit(1)), RECENT_ORDERS_KEPT
        ).alias("recent_orders"),
    ).select([F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields])
