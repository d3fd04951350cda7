"""The Delta tables the pipeline writes besides the event tables of ``ecap.schemas``.

``product_updates`` keeps every accepted product update (the history behind the ``products``
dimension); ``quarantine`` keeps every record that failed parsing or a rule, with its raw bytes and
reasons; ``data_quality`` has one row per micro-batch and source topic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pyarrow as pa

from ecap.schemas import (
    MONEY,
    PRODUCTS_SCHEMA,
    SOURCE_FIELDS,
    TABLE_DATA_QUALITY,
    TABLE_FRAUD_ALERTS,
    TABLE_KPIS,
    TABLE_PRODUCT_UPDATES,
    TABLE_PRODUCTS,
    TABLE_QUARANTINE,
    TABLE_TRANSACTIONS,
    TABLE_USER_EVENTS,
    TRANSACTIONS_SCHEMA,
    TS,
    USER_EVENTS_SCHEMA,
)

PRODUCT_UPDATES_SCHEMA: Final = pa.schema(
    [
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("product_id", pa.string(), nullable=False),
        pa.field("update_type", pa.string(), nullable=False),
        pa.field("event_time", TS, nullable=False),
        pa.field("event_date", pa.date32(), nullable=False),
        pa.field("name", pa.string()),
        pa.field("category", pa.string()),
        pa.field("price", MONEY),
        pa.field("previous_price", MONEY),
        pa.field("stock", pa.int64()),
        pa.field("status", pa.string()),
        pa.field("description", pa.string()),
        *SOURCE_FIELDS,
    ]
)

QUARANTINE_SCHEMA: Final = pa.schema(
    [
        pa.field("source_topic", pa.string(), nullable=False),
        pa.field("source_partition", pa.int32(), nullable=False),
        pa.field("source_offset", pa.int64(), nullable=False),
        pa.field("kafka_timestamp", TS),
        pa.field("key", pa.string()),
        pa.field("raw_value", pa.string()),
        pa.field("raw_value_base64", pa.string()),
        pa.field("failed_rules", pa.list_(pa.string()), nullable=False),
        pa.field("error", pa.string(), nullable=False),
        pa.field("pipeline", pa.string(), nullable=False),
        pa.field("batch_id", pa.int64(), nullable=False),
        pa.field("quarantined_at", TS, nullable=False),
        pa.field("quarantine_date", pa.date32(), nullable=False),
    ]
)

DATA_QUALITY_SCHEMA: Final = pa.schema(
    [
        pa.field("pipeline", pa.string(), nullable=False),
        pa.field("batch_id", pa.int64(), nullable=False),
        pa.field("topic", pa.string(), nullable=False),
        pa.field("records", pa.int64(), nullable=False),
        pa.field("valid", pa.int64(), nullable=False),
        pa.field("quarantined", pa.int64(), nullable=False),
        pa.field("duplicates", pa.int64(), nullable=False),
        pa.field("clean", pa.int64(), nullable=False),
        pa.field("late", pa.int64(), nullable=False),
        pa.field("validity_rate", pa.float64()),
        pa.field("completeness", pa.float64()),
        pa.field("rule_failures", pa.map_(pa.string(), pa.int64())),
        pa.field("amount_mean", pa.float64()),
        pa.field("amount_stddev", pa.float64()),
        pa.field("amount_q1", pa.float64()),
        pa.field("amount_q3", pa.float64()),
        pa.field("zscore_threshold", pa.float64()),
        pa.field("zscore_outliers", pa.int64()),
        pa.field("iqr_factor", pa.float64()),
        pa.field("iqr_outliers", pa.int64()),
        pa.field("min_event_time", TS),
        pa.field("max_event_time", TS),
        pa.field("computed_at", TS, nullable=False),
    ]
)


@dataclass(frozen=True)
class EventTable:
    """How one source stream lands: its table, schema, identity column and partitioning."""

    stream: str
    table: str
    schema: pa.Schema
    id_column: str


# Stream (wire topic role, as in ecap.schemas.TOPICS) -> its clean table.
EVENT_TABLES: Final[dict[str, EventTable]] = {
    t.stream: t
    for t in (
        EventTable("transactions", TABLE_TRANSACTIONS, TRANSACTIONS_SCHEMA, "transaction_id"),
        EventTable("user-events", TABLE_USER_EVENTS, USER_EVENTS_SCHEMA, "event_id"),
        EventTable("product-updates", TABLE_PRODUCT_UPDATES, PRODUCT_UPDATES_SCHEMA, "event_id"),
    )
}
STREAMS: Final = tuple(EVENT_TABLES)
PARTITION_COLUMN: Final = "event_date"
PRODUCTS_TABLE: Final = TABLE_PRODUCTS
PRODUCTS_TABLE_SCHEMA: Final = PRODUCTS_SCHEMA
QUARANTINE_TABLE: Final = TABLE_QUARANTINE
KPIS_TABLE: Final = TABLE_KPIS
FRAUD_ALERTS_TABLE: Final = TABLE_FRAUD_ALERTS
CUSTOMER_PROFILES_TABLE: Final = "customer_profiles"
"""Fraud detection state per customer (analytics PROFILE_SCHEMA), MERGEd once per batch."""
DATA_QUALITY_TABLE: Final = TABLE_DATA_QUALITY
