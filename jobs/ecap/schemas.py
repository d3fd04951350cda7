"""The data contract: wire topics and event fields, and the Delta tables every job shares.

Producers write these JSON fields, the pipeline parses exactly them, the backfill and segmentation
read and write the same tables. Change a field here and every side sees it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pyarrow as pa

# ---------------------------------------------------------------- topics (DOMAIN.md)


@dataclass(frozen=True)
class TopicDefaults:
    name: str
    partitions: int
    retention_ms: int
    cleanup_policy: str
    compression: str
    key_field: str


DAY_MS: Final = 86_400_000
TOPICS: Final[dict[str, TopicDefaults]] = {
    t.name: t
    for t in (
        TopicDefaults("transactions", 6, 7 * DAY_MS, "delete", "lz4", "customer_id"),
        TopicDefaults("user-events", 12, 3 * DAY_MS, "delete", "lz4", "session_id"),
        TopicDefaults("product-updates", 3, 30 * DAY_MS, "compact", "gzip", "product_id"),
        TopicDefaults("fraud-alerts", 2, 90 * DAY_MS, "delete", "gzip", "transaction_id"),
        TopicDefaults("analytics-results", 4, 14 * DAY_MS, "delete", "gzip", "metric"),
    )
}
DLQ_SUFFIX: Final = ".dlq"
DLQ_RETENTION_MS: Final = 30 * DAY_MS

# Kafka headers a dead-lettered record carries (values are UTF-8).
DLQ_HEADER_REASON: Final = "ecap.dlq.reason"
DLQ_HEADER_ERROR_CODE: Final = "ecap.dlq.error_code"
DLQ_HEADER_SOURCE_TOPIC: Final = "ecap.dlq.source_topic"
DLQ_HEADER_FAILED_AT: Final = "ecap.dlq.failed_at"

# The ground-truth fraud label the generator injects. Detection code must never read it; it is
# carried through to the tables only so that precision and recall can be measured.
LABEL_FIELD: Final = "injected_fraud"

# ---------------------------------------------------------------- wire events (JSON, one per record)
#
# Timestamps are RFC 3339 UTC strings with milliseconds and a Z ("2026-11-27T18:03:11.123Z").
# Money is a JSON number with at most 2 decimals; it becomes decimal(12,2) in tables.
#
# transactions (key customer_id):
#   event_id, transaction_id, customer_id, session_id, timestamp,
#   items: [{product_id, category, unit_price, quantity}],
#   subtotal, discount, tax, total_amount, currency, payment_method, channel,
#   location: {city, country, region, latitude, longitude, timezone},
#   device: {device_id, device_type, os}, injected_fraud (null or a fraud type)
# user-events (key session_id):
#   event_id, session_id, customer_id, event_type, timestamp, sequence, visitor_segment,
#   channel, product_id (null), category (null), search_query (null), page,
#   location: {city, country, region, latitude, longitude, timezone}, device: {device_id, device_type, os}
# product-updates (key product_id):
#   event_id, product_id, update_type, timestamp, name, category, price, previous_price,
#   stock, status, description
# fraud-alerts (key transaction_id):
#   alert_id, transaction_id, customer_id, score, reasons[], severity, timestamp
# analytics-results (key metric):
#   metric, window_start, window_end, value, dimensions{}

PAYMENT_METHODS: Final = {"credit_card": 0.60, "debit_card": 0.25, "paypal": 0.10, "apple_pay": 0.05}
CHANNELS: Final = ("web", "mobile_app", "mobile_web", "marketplace")
DEVICE_TYPES: Final = ("desktop", "mobile", "tablet")
CURRENCY: Final = "USD"
USER_EVENT_TYPES: Final = (
    "page_view",
    "product_view",
    "search",
    "add_to_cart",
    "login",
    "begin_checkout",
    "wishlist_add",
    "remove_from_cart",
    "complete_checkout",
    "review_write",
    "contact_support",
    "newsletter_signup",
    "account_create",
    "logout",
)
PRODUCT_UPDATE_TYPES: Final = ("price_change", "stock_update", "description_update", "status_change")
PRODUCT_STATUSES: Final = ("active", "out_of_stock", "discontinued")
VISITOR_SEGMENTS: Final = ("new", "returning", "loyal", "power")
FRAUD_TYPES: Final = (
    "velocity_attack",
    "card_testing",
    "amount_anomaly",
    "location_anomaly",
    "time_anomaly",
    "device_anomaly",
)
CATEGORY_PRICE_RANGES: Final[dict[str, tuple[float, float]]] = {
    "Electronics": (50.0, 2000.0),
    "Clothing": (15.0, 300.0),
    "Books": (5.0, 50.0),
    "Home & Garden": (10.0, 500.0),
    "Sports": (20.0, 800.0),
    "Beauty": (8.0, 150.0),
    "Toys": (10.0, 250.0),
    "Jewelry": (20.0, 5000.0),
}

# ---------------------------------------------------------------- Delta tables (names under the lake)

MONEY: Final = pa.decimal128(12, 2)
TS: Final = pa.timestamp("us", tz="UTC")

LOCATION_FIELDS: Final = [
    pa.field("city", pa.string()),
    pa.field("country", pa.string()),
    pa.field("region", pa.string()),
    pa.field("latitude", pa.float64()),
    pa.field("longitude", pa.float64()),
    pa.field("timezone", pa.string()),
]

LINE_ITEM: Final = pa.struct(
    [
        pa.field("product_id", pa.string()),
        pa.field("category", pa.string()),
        pa.field("unit_price", MONEY),
        pa.field("quantity", pa.int32()),
    ]
)

# Kafka provenance kept on every clean row: where it came from, for audits and exactly-once checks.
SOURCE_FIELDS: Final = [
    pa.field("source_topic", pa.string()),
    pa.field("source_partition", pa.int32()),
    pa.field("source_offset", pa.int64()),
    pa.field("ingested_at", TS),
]

TRANSACTIONS_SCHEMA: Final = pa.schema(
    [
        pa.field("transaction_id", pa.string(), nullable=False),
        pa.field("customer_id", pa.string(), nullable=False),
        pa.field("session_id", pa.string()),
        pa.field("event_time", TS, nullable=False),
        pa.field("event_date", pa.date32(), nullable=False),
        pa.field("items", pa.list_(LINE_ITEM)),
        pa.field("item_count", pa.int32()),
        pa.field("subtotal", MONEY),
        pa.field("discount", MONEY),
        pa.field("tax", MONEY),
        pa.field("total_amount", MONEY, nullable=False),
        pa.field("currency", pa.string()),
        pa.field("payment_method", pa.string()),
        pa.field("channel", pa.string()),
        pa.field("device_id", pa.string()),
        pa.field("device_type", pa.string()),
        *LOCATION_FIELDS,
        pa.field("local_hour", pa.int32()),
        pa.field("local_day_of_week", pa.int32()),
        pa.field(LABEL_FIELD, pa.string()),
        *SOURCE_FIELDS,
    ]
)

USER_EVENTS_SCHEMA: Final = pa.schema(
    [
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("session_id", pa.string(), nullable=False),
        pa.field("customer_id", pa.string()),
        pa.field("event_type", pa.string(), nullable=False),
        pa.field("event_time", TS, nullable=False),
        pa.field("event_date", pa.date32(), nullable=False),
        pa.field("sequence", pa.int32()),
        pa.field("visitor_segment", pa.string()),
        pa.field("channel", pa.string()),
        pa.field("product_id", pa.string()),
        pa.field("category", pa.string()),
        pa.field("search_query", pa.string()),
        pa.field("page", pa.string()),
        pa.field("device_id", pa.string()),
        pa.field("device_type", pa.string()),
        *LOCATION_FIELDS,
        pa.field("local_hour", pa.int32()),
        *SOURCE_FIELDS,
    ]
)

PRODUCTS_SCHEMA: Final = pa.schema(
    [
        pa.field("product_id", pa.string(), nullable=False),
        pa.field("name", pa.string()),
        pa.field("category", pa.string()),
        pa.field("price", MONEY),
        pa.field("stock", pa.int64()),
        pa.field("status", pa.string()),
        pa.field("description", pa.string()),
        pa.field("updated_at", TS),
    ]
)

# Table folder names under the lake root.
TABLE_TRANSACTIONS: Final = "transactions"
TABLE_USER_EVENTS: Final = "user_events"
TABLE_PRODUCTS: Final = "products"
TABLE_PRODUCT_UPDATES: Final = "product_updates"
TABLE_QUARANTINE: Final = "quarantine"
TABLE_DATA_QUALITY: Final = "data_quality"
TABLE_KPIS: Final = "kpis"
TABLE_FRAUD_ALERTS: Final = "fraud_alerts"
TABLE_ATTRIBUTION: Final = "attribution"
TABLE_CUSTOMER_SEGMENTS: Final = "customer_segments"
