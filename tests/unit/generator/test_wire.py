"""Records match the wire contract of ecap.schemas: exact fields, keys, ids, timestamps, order, bytes."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from ecap import schemas
from ecap.generator import STREAMS, ShopGenerator

from .conftest import Dataset, make_spec

LOCATION = {"city", "country", "region", "latitude", "longitude", "timezone"}
DEVICE = {"device_id", "device_type", "os"}
FIELDS = {
    "transactions": [
        "event_id", "transaction_id", "customer_id", "session_id", "timestamp", "items", "subtotal",
        "discount", "tax", "total_amount", "currency", "payment_method", "channel", "location", "device",
        schemas.LABEL_FIELD,
    ],
    "user-events": [
        "event_id", "session_id", "customer_id", "event_type", "timestamp", "sequence", "visitor_segment",
        "channel", "product_id", "category", "search_query", "page", "location", "device",
    ],
    "product-updates": [
        "event_id", "product_id", "update_type", "timestamp", "name", "category", "price", "previous_price",
        "stock", "status", "description",
    ],
}  # fmt: skip
ITEM = ["product_id", "category", "unit_price", "quantity"]
RFC3339_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
MONEY_TEXT = re.compile(rb'"(?:subtotal|discount|tax|total_amount|unit_price|price)":(-?\d+(?:\.\d+)?)')


def test_exact_field_sets_in_schema_order(shop: Dataset) -> None:
    for stream, fields in FIELDS.items():
        events = shop.events[stream]
        assert events, stream
        for event in events:
            assert list(event) == fields
            if "location" in event:
                assert set(event["location"]) == LOCATION and set(event["device"]) == DEVICE
            if stream == "transactions":
                assert all(list(item) == ITEM for item in event["items"])


def test_enumerated_values_come_from_the_contract(shop: Dataset) -> None:
    for tx in shop.events["transactions"]:
        assert tx["payment_method"] in schemas.PAYMENT_METHODS and tx["channel"] in schemas.CHANNELS
        assert tx["device"]["device_type"] in schemas.DEVICE_TYPES
        assert tx["injected_fraud"] is None or tx["injected_fraud"] in schemas.FRAUD_TYPES
    for event in shop.events["user-events"]:
        assert event["event_type"] in schemas.USER_EVENT_TYPES
        assert event["visitor_segment"] in schemas.VISITOR_SEGMENTS and event["channel"] in schemas.CHANNELS
        assert isinstance(event["sequence"], int)
    for update in shop.events["product-updates"]:
        assert update["update_type"] in schemas.PRODUCT_UPDATE_TYPES
        assert (
            update["status"] in schemas.PRODUCT_STATUSES
            and update["category"] in schemas.CATEGORY_PRICE_RANGES
        )


def test_ids_timestamps_and_money_text(shop: Dataset) -> None:
    event_ids = [e["event_id"] for stream in STREAMS for e in shop.events[stream]]
    assert len(set(event_ids)) == len(event_ids)
    assert all(UUID.match(i) for i in event_ids)
    tx_ids = [t["transaction_id"] for t in shop.events["transactions"]]
    assert len(set(tx_ids)) == len(tx_ids) and all(UUID.match(i) for i in tx_ids)
    for stream in STREAMS:
        assert all(RFC3339_MS.match(e["timestamp"]) for e in shop.events[stream])
    for chunk in shop.chunks:
        for batch in chunk:
            for value in batch.values:
                for number in MONEY_TEXT.findall(value):
                    assert re.fullmatch(rb"\d+\.\d{2}", number), value


def test_keys_and_record_timestamps_match_the_payload(shop: Dataset) -> None:
    for chunk in shop.chunks:
        for batch in chunk:
            key_field = schemas.TOPICS[batch.stream].key_field
            assert len(batch.keys) == len(batch.values) == len(batch.timestamps_ms)
            for key, value, ts in zip(batch.keys, batch.values, batch.timestamps_ms, strict=True):
                record = json.loads(value)
                assert record[key_field].encode() == key
                stamp = datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00"))
                assert int(stamp.timestamp() * 1000) == ts


def test_chunks_are_in_time_order(shop: Dataset) -> None:
    previous_end = 0
    for chunk in shop.chunks:
        stamps = [ts for batch in chunk for ts in batch.timestamps_ms]
        assert min(stamps) >= previous_end
        for batch in chunk:
            assert batch.timestamps_ms == sorted(batch.timestamps_ms)
        previous_end = max(stamps)


def _fingerprint(seed: int) -> list[tuple[str, list[bytes], list[bytes], list[int]]]:
    start = datetime(2026, 11, 26, 20, tzinfo=UTC)
    generator = ShopGenerator(make_spec(seed=seed, customers=400, products=60, fraud={"rate": 0.05}))
    return [
        (b.stream, b.keys, b.values, b.timestamps_ms)
        for chunk in generator.replay(start, start + timedelta(hours=10), 6000)
        for b in chunk
    ]


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    first = _fingerprint(3)
    assert first == _fingerprint(3)
    assert first != _fingerprint(4)


@pytest.mark.parametrize(
    ("topics", "expected"),
    [
        ({"transactions": "t"}, {"transactions"}),
        ({"userEvents": "u"}, {"user-events"}),
        ({"productUpdates": "p"}, {"product-updates"}),
        ({"transactions": "t", "productUpdates": "p"}, {"transactions", "product-updates"}),
    ],
)
def test_only_the_requested_streams_are_emitted(topics: dict[str, str], expected: set[str]) -> None:
    start = datetime(2026, 6, 1, tzinfo=UTC)
    generator = ShopGenerator(make_spec(topics=topics, customers=300, products=50))
    seen = {b.stream for chunk in generator.replay(start, start + timedelta(hours=12), 3000) for b in chunk}
    assert seen == expected
