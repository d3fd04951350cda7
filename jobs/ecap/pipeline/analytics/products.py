"""Keep the product dimension current from the product-updates stream.

An update only moves the field its type is about (a stock update carrying a stale price must not
roll the price back). Updates not newer than a product's ``updated_at`` are ignored, so folding the
same batch twice changes nothing.
"""

from __future__ import annotations

from typing import Final

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from ecap.schemas import PRODUCTS_SCHEMA

from .errors import require_columns
from .spark_types import spark_schema

PRODUCT_COLUMNS: Final = [field.name for field in PRODUCTS_SCHEMA]
UPDATE_REQUIRED: Final = ("product_id", "update_type", "event_time")
# Which update type moves which field; name and category ride along on any update.
FIELD_UPDATE_TYPE: Final[dict[str, str | None]] = {
    "name": None,
    "category": None,
    "price": "price_change",
    "stock": "stock_update",
    "status": "status_change",
    "description": "description_update",
}


def empty_products(df: DataFrame) -> DataFrame:
    """An empty products table in the session of ``df``."""
    return df.sparkSession.createDataFrame([], spark_schema(PRODUCTS_SCHEMA))


def fold_product_updates(products: DataFrame | None, updates: DataFrame) -> DataFrame:
    """Fold one batch of product updates into the current rows; return the rows to MERGE on product_id."""
    require_columns(updates, UPDATE_REQUIRED, "product updates")
    current = products if products is not None else empty_products(updates)
    require_columns(current, PRODUCT_COLUMNS, "products")
    target = spark_schema(PRODUCTS_SCHEMA)

    ups = updates.select(
        "product_id",
        "update_type",
        "event_time",
        (F.col("event_id") if "event_id" in updates.columns else F.lit(None))
        .cast("string")
        .alias("event_id"),
        *[
            (F.col(name) if name in updates.columns else F.lit(None)).cast(target[name].dataType).alias(name)
            for name in FIELD_UPDATE_TYPE
        ],
    )
    cur = current.select(
        F.col("product_id"),
        F.lit(True).alias("_known"),
        *[F.col(name).alias(f"_cur_{name}") for name in (*FIELD_UPDATE_TYPE, "updated_at")],
    )
    joined = ups.join(cur, "product_id", "left").where(
        F.col("_cur_updated_at").isNull() | (F.col("event_time") > F.col("_cur_updated_at"))
    )
    unknown = F.col("_known").isNull()

    def latest(name: str) -> Column:
        update_type = FIELD_UPDATE_TYPE[name]
        relevant = F.col(name).isNotNull()
        if update_type is not None:
            relevant = relevant & ((F.col("update_type") == update_type) | unknown)
        stamped = F.struct(F.col("event_time"), F.col("event_id"), F.col(name).alias("v"))
        return F.max(F.when(relevant, stamped)).alias(f"_new_{name}")

    folded = joined.groupBy("product_id").agg(
        *[latest(name) for name in FIELD_UPDATE_TYPE],
        F.max("event_time").alias("_new_updated_at"),
    )
    merged = folded.join(cur, "product_id", "left")
    return merged.select(
        "product_id",
        *[
            F.coalesce(F.col(f"_new_{name}.v"), F.col(f"_cur_{name}")).cast(target[name].dataType).alias(name)
            for name in FIELD_UPDATE_TYPE
        ],
        F.greatest(F.col("_new_updated_at"), F.col("_cur_updated_at")).alias("updated_at"),
    ).select(*PRODUCT_COLUMNS)
