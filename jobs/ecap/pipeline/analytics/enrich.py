"""Enrichment: transactions and user events with the product and customer dimensions and local time.

Temporal patterns live in the customer's local time (DOMAIN.md), so the features come from the
row's own IANA time zone, not the cluster's.
"""

from __future__ import annotations

from typing import Final

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from .errors import require_columns
from .products import empty_products
from .profiles import empty_profiles

# Part of day by local hour: [start, end) -> name.
PARTS_OF_DAY: Final = (
    (0, 6, "night"),
    (6, 12, "morning"),
    (12, 17, "afternoon"),
    (17, 22, "evening"),
    (22, 24, "late_evening"),
)
TRANSACTION_REQUIRED: Final = ("transaction_id", "customer_id", "event_time", "items", "timezone")
EVENT_REQUIRED: Final = ("event_id", "customer_id", "product_id", "event_time", "timezone")


def local_wall_clock(df: DataFrame, time_col: str, tz_col: str) -> Column:
    """The instant as the wall clock reads where the row happened (timestamp_ntz)."""
    session_zone = df.sparkSession.conf.get("spark.sql.session.timeZone") or "UTC"
    zone = F.coalesce(F.col(tz_col), F.lit("UTC"))
    return F.convert_timezone(F.lit(session_zone), zone, F.col(time_col).cast("timestamp_ntz"))


def part_of_day(hour: Column) -> Column:
    expr = F.when(F.lit(False), F.lit(None))
    for start, end, name in PARTS_OF_DAY:
        expr = expr.when((hour >= start) & (hour < end), F.lit(name))
    return expr


def add_local_time_features(
    df: DataFrame, time_col: str = "event_time", tz_col: str = "timezone"
) -> DataFrame:
    """Add local_time, local_hour, local_day_of_week (ISO 1=Mon..7=Sun), is_weekend, part_of_day."""
    require_columns(df, (time_col, tz_col), "local time features")
    local = local_wall_clock(df, time_col, tz_col)
    return (
        df.withColumn("local_time", local)
        .withColumn("local_hour", F.hour("local_time").cast("int"))
        .withColumn("local_day_of_week", (F.weekday("local_time") + 1).cast("int"))
        .withColumn("is_weekend", F.col("local_day_of_week") >= 6)
        .withColumn("part_of_day", part_of_day(F.col("local_hour")))
    )


def customer_dimension(profiles: DataFrame) -> DataFrame:
    """customer_profiles -> the customer attributes other rows are enriched with."""
    return profiles.select(
        "customer_id",
        F.col("first_order_time").alias("customer_first_seen"),
        F.coalesce(F.col("orders"), F.lit(0)).cast("long").alias("customer_orders_before"),
        F.col("home_country").alias("customer_home_country"),
    )


def product_dimension(products: DataFrame) -> DataFrame:
    return products.select(
        "product_id",
        F.col("name").alias("product_name"),
        F.col("category").alias("product_category"),
        F.col("price").alias("current_price"),
    )


def enrich_transactions(
    transactions: DataFrame, products: DataFrame | None, profiles: DataFrame | None
) -> DataFrame:
    """One batch of transactions with product, customer and local-time attributes (all columns kept)."""
    require_columns(transactions, TRANSACTION_REQUIRED, "transactions")
    dim_products = product_dimension(products if products is not None else empty_products(transactions))
    customers = customer_dimension(profiles if profiles is not None else empty_profiles(transactions))

    lines = transactions.select("transaction_id", F.posexplode("items").alias("pos", "item")).select(
        "transaction_id", "pos", "item.*"
    )
    lines = (
        lines.join(dim_products, "product_id", "left")
        .withColumn("line_total", (F.col("unit_price") * F.col("quantity")).cast("decimal(14,2)"))
        # One line per position even if the batch repeats a transaction, so items never double.
        .groupBy("transaction_id", "pos")
        .agg(
            F.first(
                F.struct(
                    *[
                        c
                        for c in (
                            "product_id",
                            "category",
                            "unit_price",
                            "quantity",
                            "product_name",
                            "product_category",
                            "current_price",
                            "line_total",
                        )
                    ]
                )
            ).alias("line")
        )
    )
    per_tx = lines.groupBy("transaction_id").agg(
        F.transform(F.array_sort(F.collect_list(F.struct("pos", "line"))), lambda s: s["line"]).alias(
            "enriched_items"
        ),
        F.max_by(
            F.coalesce(F.col("line.product_category"), F.col("line.category")), F.col("line.line_total")
        ).alias("primary_category"),
    )
    in_batch = Window.partitionBy("customer_id").orderBy("event_time", "transaction_id")
    enriched = (
        transactions.join(per_tx, "transaction_id", "left")
        .join(customers, "customer_id", "left")
        .withColumn(
            "customer_order_number",
            (F.coalesce(F.col("customer_orders_before"), F.lit(0)) + F.row_number().over(in_batch)).cast(
                "long"
            ),
        )
        .withColumn("is_new_customer", F.col("customer_order_number") == 1)
        .withColumn(
            "customer_first_seen",
            F.least(
                F.col("customer_first_seen"), F.min("event_time").over(Window.partitionBy("customer_id"))
            ),
        )
        .withColumn(
            "customer_home_country",
            F.coalesce(
                F.col("customer_home_country"),
                F.first("country").over(
                    in_batch.rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
                ),
            ),
        )
        .withColumn("is_home_country", F.col("country") == F.col("customer_home_country"))
        .drop("customer_orders_before")
    )
    if "region" not in enriched.columns:
        enriched = enriched.withColumn("region", F.lit(None).cast("string"))
    return add_local_time_features(enriched)


def enrich_user_events(
    events: DataFrame, products: DataFrame | None, profiles: DataFrame | None
) -> DataFrame:
    """One batch of user events with product, customer and local-time attributes (all columns kept)."""
    require_columns(events, EVENT_REQUIRED, "user events")
    dim_products = product_dimension(products if products is not None else empty_products(events))
    customers = customer_dimension(profiles if profiles is not None else empty_profiles(events))
    enriched = events.join(dim_products, "product_id", "left").join(customers, "customer_id", "left")
    return add_local_time_features(enriched)
