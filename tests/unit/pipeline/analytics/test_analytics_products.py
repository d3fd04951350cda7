"""Folding product updates into the product dimension."""

from __future__ import annotations

from decimal import Decimal

from pyspark.sql import DataFrame, Row, SparkSession

from ecap.pipeline.analytics.products import fold_product_updates
from tests.fixtures.analytics import RowsToFrame, assert_rows, utc

UPDATE_COLUMNS = (
    "event_id string, product_id string, update_type string, event_time timestamp, name string, "
    "category string, price decimal(12,2), stock long, status string, description string"
)


def updates(spark: SparkSession, rows: list[tuple[object, ...]]) -> DataFrame:
    return spark.createDataFrame([(r[0], r[1], r[2], utc(str(r[3])), *r[4:]) for r in rows], UPDATE_COLUMNS)


def test_each_update_type_moves_only_its_field_and_latest_wins(
    spark: SparkSession, products_frame: RowsToFrame
) -> None:
    current = products_frame(
        [
            {
                "product_id": "p1",
                "name": "Lamp",
                "category": "Home & Garden",
                "price": 20.0,
                "stock": 5,
                "status": "active",
                "description": "old",
                "updated_at": "2026-03-01T00:00:00",
            },
            {
                "product_id": "p2",
                "name": "Book",
                "category": "Books",
                "price": 9.0,
                "stock": 1,
                "status": "active",
                "description": "d",
                "updated_at": "2026-03-01T00:00:00",
            },
        ]
    )
    batch = updates(
        spark,
        [
            # a stock update carrying a stale price must not move the price
            (
                "e1",
                "p1",
                "stock_update",
                "2026-03-02T10:00:00",
                "Lamp",
                "Home & Garden",
                Decimal("1.00"),
                7,
                None,
                None,
            ),
            (
                "e2",
                "p1",
                "price_change",
                "2026-03-02T09:00:00",
                None,
                None,
                Decimal("25.00"),
                None,
                None,
                None,
            ),
            (
                "e3",
                "p1",
                "price_change",
                "2026-03-02T11:00:00",
                None,
                None,
                Decimal("22.50"),
                None,
                None,
                None,
            ),
            (
                "e4",
                "p1",
                "status_change",
                "2026-03-02T12:00:00",
                None,
                None,
                None,
                None,
                "out_of_stock",
                None,
            ),
            ("e5", "p1", "description_update", "2026-03-02T08:00:00", None, None, None, None, None, "new"),
            # older than p2's row: ignored, p2 does not come back
            (
                "e6",
                "p2",
                "price_change",
                "2026-02-01T00:00:00",
                None,
                None,
                Decimal("1.00"),
                None,
                None,
                None,
            ),
            # unknown product: seeded from every field it carries
            (
                "e7",
                "p3",
                "price_change",
                "2026-03-02T10:00:00",
                "Ball",
                "Sports",
                Decimal("30.00"),
                4,
                "active",
                "x",
            ),
        ],
    )
    folded = fold_product_updates(current, batch)
    assert_rows(
        folded,
        [
            Row(
                product_id="p1",
                name="Lamp",
                category="Home & Garden",
                price=Decimal("22.50"),
                stock=7,
                status="out_of_stock",
                description="new",
                updated_at=utc("2026-03-02T12:00:00"),
            ),
            Row(
                product_id="p3",
                name="Ball",
                category="Sports",
                price=Decimal("30.00"),
                stock=4,
                status="active",
                description="x",
                updated_at=utc("2026-03-02T10:00:00"),
            ),
        ],
    )
    # replaying the batch on top of the merged state changes nothing
    merged = current.where("product_id = 'p2'").unionByName(folded)
    assert fold_product_updates(merged, batch).count() == 0


def test_first_batch_without_a_table(spark: SparkSession) -> None:
    batch = updates(
        spark,
        [
            (
                "e1",
                "p9",
                "stock_update",
                "2026-03-02T10:00:00",
                "Ring",
                "Jewelry",
                Decimal("99.00"),
                2,
                None,
                None,
            )
        ],
    )
    assert_rows(
        fold_product_updates(None, batch),
        [
            Row(
                product_id="p9",
                name="Ring",
                category="Jewelry",
                price=Decimal("99.00"),
                stock=2,
                status=None,
                description=None,
                updated_at=utc("2026-03-02T10:00:00"),
            )
        ],
    )
