"""Enrichment with the product and customer dimensions and local-time features."""

from __future__ import annotations

from decimal import Decimal

from pyspark.sql import SparkSession

from ecap.pipeline.analytics.enrich import add_local_time_features, enrich_transactions, enrich_user_events
from ecap.pipeline.analytics.profiles import PROFILE_SCHEMA
from ecap.pipeline.analytics.spark_types import spark_schema
from tests.fixtures.analytics import RowsToFrame, assert_rows, utc

PRODUCTS = [
    {
        "product_id": "p1",
        "name": "Lamp",
        "category": "Home & Garden",
        "price": 25.0,
        "stock": 3,
        "status": "active",
        "description": "",
        "updated_at": "2026-03-01T00:00:00",
    },
    {
        "product_id": "p2",
        "name": "Novel",
        "category": "Books",
        "price": 12.0,
        "stock": 9,
        "status": "active",
        "description": "",
        "updated_at": "2026-03-01T00:00:00",
    },
]


def test_local_time_features_follow_the_rows_zone(transactions_frame: RowsToFrame) -> None:
    rows = transactions_frame(
        [
            # Saturday 23:30 UTC is Sunday 00:30 in Berlin (CET) and Saturday 18:30 in New York (EST)
            {
                "transaction_id": "a",
                "customer_id": "c",
                "event_time": "2026-03-07T23:30:00",
                "timezone": "Europe/Berlin",
            },
            {
                "transaction_id": "b",
                "customer_id": "c",
                "event_time": "2026-03-07T23:30:00",
                "timezone": "America/New_York",
            },
            # Monday 03:00 UTC is Monday 12:00 in Tokyo; a missing zone reads as UTC
            {
                "transaction_id": "c",
                "customer_id": "c",
                "event_time": "2026-03-09T03:00:00",
                "timezone": "Asia/Tokyo",
            },
            {
                "transaction_id": "d",
                "customer_id": "c",
                "event_time": "2026-03-09T03:00:00",
                "timezone": None,
            },
        ]
    )
    features = add_local_time_features(rows).select(
        "transaction_id", "local_hour", "local_day_of_week", "is_weekend", "part_of_day"
    )
    assert_rows(
        features,
        [
            ("a", 0, 7, True, "night"),
            ("b", 18, 6, True, "evening"),
            ("c", 12, 1, False, "afternoon"),
            ("d", 3, 1, False, "night"),
        ],
    )


def line(product: str, category: str, price: float, quantity: int) -> tuple[str, str, Decimal, int]:
    return (product, category, Decimal(str(price)), quantity)


def test_transactions_get_products_customer_history_and_batch_order(
    spark: SparkSession, transactions_frame: RowsToFrame, products_frame: RowsToFrame
) -> None:
    tx = transactions_frame(
        [
            {
                "transaction_id": "t1",
                "customer_id": "c1",
                "event_time": "2026-03-02T12:00:00",
                "country": "DE",
                "items": [line("p1", "Home & Garden", 20.0, 1), line("p2", "Books", 12.0, 3)],
            },
            {
                "transaction_id": "t2",
                "customer_id": "c1",
                "event_time": "2026-03-02T13:00:00",
                "country": "FR",
                "items": [line("p9", "Toys", 30.0, 1)],
            },
            {
                "transaction_id": "t3",
                "customer_id": "c2",
                "event_time": "2026-03-02T12:00:00",
                "country": "FR",
                "items": [line("p2", "Books", 12.0, 1)],
            },
        ]
    )
    profiles = spark.createDataFrame(
        [
            (
                "c1",
                4,
                4,
                Decimal("100.00"),
                [],
                utc("2026-01-05T10:00:00"),
                None,
                None,
                None,
                None,
                "DE",
                [],
                [],
            )
        ],
        spark_schema(PROFILE_SCHEMA),
    )
    enriched = enrich_transactions(tx, products_frame(PRODUCTS), profiles)
    assert_rows(
        enriched.select(
            "transaction_id",
            "customer_first_seen",
            "customer_order_number",
            "is_new_customer",
            "customer_home_country",
            "is_home_country",
            "primary_category",
            "region",
        ),
        [
            ("t1", utc("2026-01-05T10:00:00"), 5, False, "DE", True, "Books", "Europe"),
            ("t2", utc("2026-01-05T10:00:00"), 6, False, "DE", False, "Toys", "Europe"),
            ("t3", utc("2026-03-02T12:00:00"), 1, True, "FR", True, "Books", "Europe"),
        ],
    )
    items = {r["transaction_id"]: r["enriched_items"] for r in enriched.collect()}
    assert [
        (i["product_id"], i["product_name"], i["current_price"], i["line_total"]) for i in items["t1"]
    ] == [
        ("p1", "Lamp", Decimal("25.00"), Decimal("20.00")),
        ("p2", "Novel", Decimal("12.00"), Decimal("36.00")),
    ]
    # a product the dimension does not know yet keeps its line, with null dimension columns
    assert [(i["product_id"], i["product_name"], i["product_category"]) for i in items["t2"]] == [
        ("p9", None, None)
    ]
    assert enriched.count() == 3 and set(tx.columns) <= set(enriched.columns)


def test_user_events_get_product_and_customer_columns(
    user_events_frame: RowsToFrame, products_frame: RowsToFrame
) -> None:
    events = user_events_frame(
        [
            {
                "event_id": "e1",
                "session_id": "s1",
                "customer_id": "c1",
                "event_type": "product_view",
                "product_id": "p1",
                "event_time": "2026-03-02T12:00:00",
            },
            {
                "event_id": "e2",
                "session_id": "s1",
                "customer_id": None,
                "event_type": "search",
                "product_id": None,
                "event_time": "2026-03-02T12:01:00",
            },
        ]
    )
    enriched = enrich_user_events(events, products_frame(PRODUCTS), None)
    assert_rows(
        enriched.select(
            "event_id",
            "product_name",
            "product_category",
            "current_price",
            "customer_orders_before",
            "local_hour",
        ),
        [("e1", "Lamp", "Home & Garden", Decimal("25.00"), None, 13), ("e2", None, None, None, None, 13)],
    )
