"""Windowed KPIs as mergeable per-micro-batch partials.

Design: each micro-batch aggregates its own rows per tumbling window into rows keyed by
``(window_seconds, window_start)``; the runner MERGEs them into the ``kpis`` Delta table through
:func:`merge_kpis`, which adds the additive parts and recomputes the ratios. Distinct counts
(sessions, customers) are not additive - one session spans several micro-batches - so they are kept
as HyperLogLog sketches, which union exactly like sets and stay a few KB however busy the window.
Top products are not mergeable from per-batch top lists either, so the per-product revenue map is
kept and the top 5 derived from it. Compared with a watermarked streaming aggregation this never
drops a late event (it just updates an older window) and needs no aggregation state store.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import pyarrow as pa
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from ecap.schemas import TS

from .errors import AnalyticsInputError, require_columns, require_utc_session
from .spark_types import spark_schema

TOP_PRODUCTS: Final = 5
HLL_LG_CONFIG_K: Final = 12
"""2^12 buckets: about 1.6 % standard error at scale, exact-ish for small windows."""
KEY: Final = ("window_seconds", "window_start")
COMPLETED_CHECKOUT: Final = "complete_checkout"

REVENUE: Final = pa.decimal128(18, 2)
TOP_PRODUCT: Final = pa.struct([pa.field("product_id", pa.string()), pa.field("revenue", REVENUE)])
KPI_SCHEMA: Final = pa.schema(
    [
        pa.field("window_seconds", pa.int32(), nullable=False),
        pa.field("window_start", TS, nullable=False),
        pa.field("window_end", TS),
        pa.field("revenue", REVENUE),
        pa.field("orders", pa.int64()),
        pa.field("items_sold", pa.int64()),
        pa.field("average_order_value", pa.decimal128(12, 2)),
        pa.field("active_sessions", pa.int64()),
        pa.field("converted_sessions", pa.int64()),
        pa.field("active_customers", pa.int64()),
        pa.field("conversion_rate", pa.float64()),
        pa.field("top_products", pa.list_(TOP_PRODUCT)),
        pa.field("product_revenue", pa.map_(pa.string(), REVENUE)),
        pa.field("sessions_sketch", pa.binary()),
        pa.field("converted_sessions_sketch", pa.binary()),
        pa.field("customers_sketch", pa.binary()),
    ]
)
KPI_COLUMNS: Final = [field.name for field in KPI_SCHEMA]
PARTS: Final = (
    "revenue",
    "orders",
    "items_sold",
    "product_revenue",
    "sessions_sketch",
    "converted_sessions_sketch",
    "customers_sketch",
)


LINE: Final = "struct<product_id:string,revenue:decimal(18,2)>"


def window_start_of(time: Column, seconds: Column) -> Column:
    """Start of the tumbling window of ``seconds`` holding ``time`` (aligned to the epoch, like window())."""
    micros = F.unix_micros(time)
    size = seconds.cast("long") * 1_000_000
    return F.timestamp_micros(micros - F.pmod(micros, size))


def _sum_lines(lines: Column) -> Column:
    """array<(product_id, revenue)> with repeats -> map product_id -> summed revenue, without a shuffle."""
    empty = F.create_map().cast("map<string,decimal(18,2)>")
    return F.aggregate(
        F.filter(lines, lambda line: line["product_id"].isNotNull()),
        empty,
        lambda acc, line: F.map_concat(
            F.map_filter(acc, lambda k, _v: k != line["product_id"]),
            F.create_map(
                line["product_id"],
                (F.coalesce(F.element_at(acc, line["product_id"]), F.lit(0)) + line["revenue"]).cast(
                    "decimal(18,2)"
                ),
            ),
        ),
    )


def _facts(transactions: DataFrame | None, user_events: DataFrame | None) -> DataFrame:
    """One row per order or event with what each KPI needs, before windows are assigned."""
    facts: list[DataFrame] = []
    if transactions is not None:
        require_columns(
            transactions, ("customer_id", "session_id", "event_time", "total_amount", "items"), "transactions"
        )
        items = F.coalesce(F.col("items"), F.array().cast(transactions.schema["items"].dataType))
        facts.append(
            transactions.select(
                "event_time",
                F.col("total_amount").cast("decimal(18,2)").alias("amount"),
                F.lit(1).cast("long").alias("order"),
                F.aggregate(
                    items, F.lit(0).cast("long"), lambda acc, i: acc + F.coalesce(i["quantity"], F.lit(0))
                ).alias("items"),
                F.transform(
                    items,
                    lambda i: F.struct(
                        i["product_id"].alias("product_id"),
                        (i["unit_price"] * i["quantity"]).cast("decimal(18,2)").alias("revenue"),
                    ),
                ).alias("lines"),
                F.col("customer_id"),
                F.lit(None).cast("string").alias("session_id"),
                F.lit(None).cast("string").alias("converted_session_id"),
            )
        )
    if user_events is not None:
        require_columns(user_events, ("session_id", "customer_id", "event_type", "event_time"), "user events")
        facts.append(
            user_events.select(
                "event_time",
                F.lit(None).cast("decimal(18,2)").alias("amount"),
                F.lit(0).cast("long").alias("order"),
                F.lit(0).cast("long").alias("items"),
                F.array().cast(f"array<{LINE}>").alias("lines"),
                F.col("customer_id"),
                F.col("session_id"),
                F.when(F.col("event_type") == COMPLETED_CHECKOUT, F.col("session_id")).alias(
                    "converted_session_id"
                ),
            )
        )
    all_facts = facts[0]
    for more in facts[1:]:
        all_facts = all_facts.unionByName(more)
    return all_facts


def _derive(parts: DataFrame) -> DataFrame:
    """Ratios and top lists from the mergeable parts; recomputed after every merge."""
    schema = spark_schema(KPI_SCHEMA)
    sessions = F.coalesce(F.hll_sketch_estimate("sessions_sketch"), F.lit(0))
    converted = F.least(F.coalesce(F.hll_sketch_estimate("converted_sessions_sketch"), F.lit(0)), sessions)
    by_revenue_desc = F.array_sort(
        F.map_entries(F.coalesce(F.col("product_revenue"), F.create_map().cast("map<string,decimal(18,2)>"))),
        lambda a, b: (
            F.when(a["value"] > b["value"], -1)
            .when(a["value"] < b["value"], 1)
            .when(a["key"] < b["key"], -1)
            .when(a["key"] > b["key"], 1)
            .otherwise(0)
        ),
    )
    derived = parts.select(
        *KEY,
        (F.col("window_start") + F.make_dt_interval(secs=F.col("window_seconds"))).alias("window_end"),
        F.coalesce(F.col("revenue"), F.lit(0)).alias("revenue"),
        F.coalesce(F.col("orders"), F.lit(0)).alias("orders"),
        F.coalesce(F.col("items_sold"), F.lit(0)).alias("items_sold"),
        F.when(F.col("orders") > 0, F.col("revenue") / F.col("orders")).alias("average_order_value"),
        sessions.alias("active_sessions"),
        converted.alias("converted_sessions"),
        F.coalesce(F.hll_sketch_estimate("customers_sketch"), F.lit(0)).alias("active_customers"),
        F.when(sessions > 0, converted.cast("double") / sessions).alias("conversion_rate"),
        F.transform(
            F.slice(by_revenue_desc, 1, TOP_PRODUCTS),
            lambda e: F.struct(e["key"].alias("product_id"), e["value"].alias("revenue")),
        ).alias("top_products"),
        "product_revenue",
        "sessions_sketch",
        "converted_sessions_sketch",
        "customers_sketch",
    )
    return derived.select([F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields])


def kpi_partials(
    transactions: DataFrame | None, user_events: DataFrame | None, window_seconds: Sequence[int]
) -> DataFrame:
    """One micro-batch -> KPI rows (KPI_SCHEMA) for every window of every size the batch touches."""
    if transactions is None and user_events is None:
        raise AnalyticsInputError("kpi_partials: give transactions, user events or both")
    if not window_seconds or any(s <= 0 for s in window_seconds):
        raise AnalyticsInputError(
            f"kpi_partials: window sizes must be positive seconds, got {list(window_seconds)}"
        )
    facts = _facts(transactions, user_events)
    sizes = facts.sparkSession.createDataFrame(
        [(int(s),) for s in sorted(set(window_seconds))], "window_seconds int"
    )
    windowed = facts.crossJoin(F.broadcast(sizes)).withColumn(
        "window_start", window_start_of(F.col("event_time"), F.col("window_seconds"))
    )
    counted = windowed.groupBy(*KEY).agg(
        F.sum("amount").cast("decimal(18,2)").alias("revenue"),
        F.sum("order").alias("orders"),
        F.sum("items").alias("items_sold"),
        _sum_lines(F.flatten(F.collect_list("lines"))).alias("product_revenue"),
        F.hll_sketch_agg("session_id", HLL_LG_CONFIG_K).alias("sessions_sketch"),
        F.hll_sketch_agg("converted_session_id", HLL_LG_CONFIG_K).alias("converted_sessions_sketch"),
        F.hll_sketch_agg("customer_id", HLL_LG_CONFIG_K).alias("customers_sketch"),
    )
    return _derive(counted)


def merge_kpis(existing: DataFrame | None, partials: DataFrame) -> DataFrame:
    """Current kpis rows + new partials -> merged rows to upsert on (window_seconds, window_start).

    Only keys present in ``partials`` come out, so the runner may pass the whole table or just the
    matching rows. Additive parts add, so each batch must be merged once.
    """
    require_columns(partials, KPI_COLUMNS, "kpi partials")
    if existing is None:
        return partials.select(*KPI_COLUMNS)
    require_columns(existing, KPI_COLUMNS, "kpis")
    keys = partials.select(*KEY).distinct()
    relevant = existing.join(F.broadcast(keys), list(KEY), "left_semi")
    both = relevant.select(*KEY, *PARTS).unionByName(partials.select(*KEY, *PARTS))
    entries = F.transform(
        F.map_entries(F.col("product_revenue")),
        lambda e: F.struct(e["key"].alias("product_id"), e["value"].alias("revenue")),
    )
    summed = both.groupBy(*KEY).agg(
        F.sum("revenue").alias("revenue"),
        F.sum("orders").alias("orders"),
        F.sum("items_sold").alias("items_sold"),
        _sum_lines(F.flatten(F.collect_list(entries))).alias("product_revenue"),
        F.hll_union_agg("sessions_sketch").alias("sessions_sketch"),
        F.hll_union_agg("converted_sessions_sketch").alias("converted_sessions_sketch"),
        F.hll_union_agg("customers_sketch").alias("customers_sketch"),
    )
    return _derive(summed)


SCALAR_METRICS: Final = (
    "revenue",
    "orders",
    "average_order_value",
    "active_sessions",
    "active_customers",
    "conversion_rate",
)
TOP_PRODUCT_METRIC: Final = "top_product_revenue"


def _record(metric: Column, value: Column, dimensions: Column) -> Column:
    return F.struct(
        metric.alias("metric"),
        F.col("window_start").alias("window_start"),
        F.col("window_end").alias("window_end"),
        value.cast("double").alias("value"),
        dimensions.alias("dimensions"),
    )


def analytics_result_record_array() -> Column:
    """Per KPI row, its analytics-results records (one per scalar metric, one per top product)."""
    window = F.col("window_seconds").cast("string")
    scalars = F.array(
        *[
            _record(F.lit(name), F.col(name), F.create_map(F.lit("window_seconds"), window))
            for name in SCALAR_METRICS
        ]
    )
    tops = F.transform(
        F.coalesce(F.col("top_products"), F.array().cast(f"array<{LINE}>")),
        lambda top, i: _record(
            F.lit(TOP_PRODUCT_METRIC),
            top["revenue"],
            F.create_map(
                F.lit("window_seconds"),
                window,
                F.lit("product_id"),
                top["product_id"],
                F.lit("rank"),
                (i + 1).cast("string"),
            ),
        ),
    )
    return F.concat(scalars, tops)


def analytics_result_records(kpis: DataFrame) -> DataFrame:
    """KPI rows -> analytics-results records: metric, window_start, window_end, value, dimensions."""
    require_columns(kpis, ("window_seconds", "window_start", "window_end", "top_products"), "kpis")
    return kpis.select(F.explode(analytics_result_record_array()).alias("r")).select("r.*")


def _message(record: Column) -> Column:
    """One analytics-results record -> struct(key: metric, value: wire JSON)."""
    return F.struct(
        record["metric"].alias("key"),
        F.to_json(
            F.struct(
                record["metric"].alias("metric"),
                rfc3339(record["window_start"]).alias("window_start"),
                rfc3339(record["window_end"]).alias("window_end"),
                record["value"].alias("value"),
                record["dimensions"].alias("dimensions"),
            ),
            {"ignoreNullFields": "false"},
        ).alias("value"),
    )


def analytics_result_message_array() -> Column:
    """Per KPI row, the Kafka messages (key, value) of its records: collected with the row itself."""
    return F.transform(analytics_result_record_array(), _message)


def rfc3339(time: Column) -> Column:
    """A UTC instant as the wire writes it: 2026-11-27T18:03:11.123Z (session time zone must be UTC)."""
    return F.date_format(time, "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'")


def analytics_result_messages(records: DataFrame) -> DataFrame:
    """analytics-results records -> Kafka ``key`` (metric) and ``value`` (wire JSON)."""
    require_columns(
        records, ("metric", "window_start", "window_end", "value", "dimensions"), "analytics records"
    )
    require_utc_session(records, "analytics_result_messages")
    record = F.struct("metric", "window_start", "window_end", "value", "dimensions")
    return records.select(_message(record).alias("m")).select("m.key", "m.value")
