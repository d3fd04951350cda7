"""Parsing and quality rules on tiny DataFrames: each broken record is named by the rule it breaks."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest
from pyspark.sql import SparkSession

from ecap.pipeline.parsing import fill_local_time, parse_and_validate
from ecap_operator.api.streaming_pipeline import QualitySettings
from tests.fixtures.pipeline import product_update, rfc3339, transaction, user_event

KAFKA_TIME = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
EVENT_TIME = KAFKA_TIME - timedelta(minutes=5)
RAW_DDL = "topic string, partition int, offset bigint, timestamp timestamp, key binary, value binary"


def _rules(spark: SparkSession, stream: str, values: list[bytes | None]) -> list[list[str]]:
    rows = [("t", 0, i, KAFKA_TIME, b"k", v) for i, v in enumerate(values)]
    out = parse_and_validate(spark.createDataFrame(rows, RAW_DDL), stream, QualitySettings()).toArrow()
    ordered = out.sort_by("source_offset")
    return [sorted(r) for r in ordered["_failed_rules"].to_pylist()]


def _tx(**changes: Any) -> bytes:
    event = transaction(1, EVENT_TIME)
    event.update(changes)
    return json.dumps(event).encode()


TRANSACTION_CASES: list[tuple[bytes | None, list[str]]] = [
    (_tx(), []),
    (None, ["empty_value"]),
    (b"\xff\xfe", ["invalid_utf8"]),
    (b"[1, 2]", ["malformed_json"]),
    (b'{"transaction_id": ', ["malformed_json"]),
    (_tx(total_amount="lots"), ["required:total_amount", "wrong_type"]),
    (_tx(customer_id=None), ["required:customer_id"]),
    (_tx(customer_id="c42"), ["format:customer_id"]),
    (_tx(currency="EUR"), ["format:currency"]),
    (_tx(timestamp="27/11/2026 12:00"), ["format:timestamp"]),
    (_tx(payment_method="cash"), ["format:payment_method"]),
    (_tx(tax=4.001, total_amount=44.001), ["format:money"]),
    (
        _tx(total_amount=-1, subtotal=-1, tax=0),
        ["business:subtotal_mismatch", "range:subtotal", "range:total_amount"],
    ),
    (_tx(total_amount=50.0), ["business:total_mismatch"]),
    (
        _tx(items=[{"product_id": "prod_00001", "category": "Books", "unit_price": 20.0, "quantity": 0}]),
        ["business:subtotal_mismatch", "range:quantity"],
    ),
    (
        _tx(items=[{"product_id": "prod_00001", "category": "Books", "unit_price": 2.0, "quantity": 20}]),
        ["range:unit_price"],
    ),
    (
        _tx(
            subtotal=200000.0,
            tax=0.0,
            total_amount=200000.0,
            items=[{"product_id": "prod_00001", "category": "Jewelry", "unit_price": 5000.0, "quantity": 40}],
        ),
        ["business:max_amount"],
    ),
    (_tx(timestamp=rfc3339(KAFKA_TIME + timedelta(hours=1))), ["business:future_event"]),
    (_tx(timestamp=rfc3339(KAFKA_TIME - timedelta(days=4000))), ["business:too_old"]),
    (
        _tx(
            location={
                "city": "X",
                "country": "FR",
                "region": "EU",
                "latitude": 95.0,
                "longitude": 0.0,
                "timezone": "Mars/Olympus",
            }
        ),
        ["format:timezone", "range:latitude"],
    ),
]


@pytest.fixture(scope="module")
def transaction_rules(spark: SparkSession) -> list[list[str]]:
    """All cases in one DataFrame: one Spark job instead of one per case."""
    return _rules(spark, "transactions", [value for value, _ in TRANSACTION_CASES])


@pytest.mark.parametrize("case", range(len(TRANSACTION_CASES)))
def test_transaction_rules(transaction_rules: list[list[str]], case: int) -> None:
    value, expected = TRANSACTION_CASES[case]
    assert transaction_rules[case] == sorted(expected), value


def test_user_event_and_product_update_rules(spark: SparkSession) -> None:
    good = user_event(1, EVENT_TIME)
    bad_type = dict(good, event_type="teleport", sequence=-1)
    assert _rules(spark, "user-events", [json.dumps(good).encode(), json.dumps(bad_type).encode()]) == [
        [],
        ["format:event_type", "range:sequence"],
    ]
    update = product_update(1, EVENT_TIME)
    too_cheap = dict(update, price=1.0)
    unknown_status = dict(update, status="gone", stock=-3)
    assert _rules(
        spark, "product-updates", [json.dumps(v).encode() for v in (update, too_cheap, unknown_status)]
    ) == [[], ["range:price"], ["format:status", "range:stock"]]


def test_valid_rows_have_table_columns_and_local_time(spark: SparkSession) -> None:
    rows = [("t", 2, 7, KAFKA_TIME, b"k", _tx())]
    out = fill_local_time(
        parse_and_validate(spark.createDataFrame(rows, RAW_DDL), "transactions", QualitySettings()).toArrow()
    )
    row = out.to_pylist()[0]
    assert row["transaction_id"] == "txn_000001"
    assert str(row["total_amount"]) == "44.00"
    assert row["event_date"].isoformat() == "2026-11-27"
    # 11:55 UTC is 12:55 in Paris on a Friday (ISO day 5).
    assert (row["local_hour"], row["local_day_of_week"]) == (12, 5)
    assert (row["source_topic"], row["source_partition"], row["source_offset"]) == ("t", 2, 7)
    assert row["_raw_value"] is None  # raw bytes are kept for quarantined rows only


def test_local_time_follows_each_rows_zone_and_daylight_saving() -> None:
    utc = pa.timestamp("us", tz="UTC")
    summer, winter = datetime(2026, 7, 3, 23, 30, tzinfo=UTC), datetime(2026, 1, 9, 23, 30, tzinfo=UTC)
    rows = pa.table(
        {
            "event_time": pa.array([summer, winter, summer, summer, summer, None], utc),
            "timezone": ["America/New_York", "America/New_York", "Mars/Base", None, "Factory", "Asia/Tokyo"],
            "local_hour": pa.nulls(6, pa.int32()),
            "local_day_of_week": pa.nulls(6, pa.int32()),
        }
    )
    out = fill_local_time(rows)
    # New York is UTC-4 in July and UTC-5 in January; unknown, missing and Factory zones read UTC.
    assert out["local_hour"].to_pylist() == [19, 18, 23, 23, 23, None]
    # 2026-07-03 is a Friday (ISO 5), 2026-01-09 a Friday too.
    assert out["local_day_of_week"].to_pylist() == [5, 5, 5, 5, 5, None]
    assert out.schema == rows.schema
