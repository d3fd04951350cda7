"""Completed checkouts become exactly one order each, with consistent money and the DOMAIN payment mix."""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

import pytest

from ecap import schemas

from .conftest import Dataset


def test_each_checkout_has_exactly_one_transaction(shop: Dataset) -> None:
    checkouts: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in shop.events["user-events"]:
        if event["event_type"] == "complete_checkout":
            checkouts[event["session_id"]].append(event)
    orders: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for tx in shop.events["transactions"]:
        orders[tx["session_id"]].append(tx)
    assert len(orders) > 2000
    assert set(orders) == set(checkouts)
    for session_id, txs in orders.items():
        events = checkouts[session_id]
        assert len(txs) == len(events)
        for tx, event in zip(
            sorted(txs, key=lambda t: t["timestamp"]),
            sorted(events, key=lambda e: e["timestamp"]),
            strict=True,
        ):
            assert tx["customer_id"] == event["customer_id"]
            assert tx["channel"] == event["channel"] and tx["device"] == event["device"]
            assert tx["location"] == event["location"]
            assert tx["timestamp"] >= event["timestamp"]


def test_line_items_come_from_the_cart(shop: Dataset) -> None:
    """Items are what was added (and not removed) since the session's previous checkout."""
    sessions: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in shop.events["user-events"]:
        sessions[event["session_id"]].append(event)
    orders = {t["session_id"]: t for t in shop.events["transactions"] if t["injected_fraud"] is None}
    checked = 0
    for session_id, events in sessions.items():
        tx = orders.get(session_id)
        if tx is None or sum(e["event_type"] == "complete_checkout" for e in events) != 1:
            continue
        cart: set[str] = set()
        for event in sorted(events, key=lambda e: e["sequence"]):
            if event["event_type"] == "add_to_cart":
                cart.add(event["product_id"])
            elif event["event_type"] == "remove_from_cart":
                cart.discard(event["product_id"])
            elif event["event_type"] == "complete_checkout":
                break
        if cart:
            checked += 1
            assert {item["product_id"] for item in tx["items"]} <= cart
    assert checked > 1000


def test_money_adds_up_to_the_cent(shop: Dataset, fraud_shop: Dataset) -> None:
    ranges = schemas.CATEGORY_PRICE_RANGES
    for tx in shop.events["transactions"] + fraud_shop.events["transactions"]:
        items = tx["items"]
        assert items
        subtotal = sum(Decimal(str(i["unit_price"])) * i["quantity"] for i in items)
        for item in items:
            lo, hi = ranges[item["category"]]
            assert lo <= item["unit_price"] <= hi and item["quantity"] >= 1
        money = [Decimal(str(tx[k])) for k in ("subtotal", "discount", "tax", "total_amount")]
        assert all(m == m.quantize(Decimal("0.01")) for m in money)
        assert money[0] == subtotal
        assert money[0] - money[1] + money[2] == money[3]
        assert money[1] >= 0 and money[2] >= 0 and money[3] > 0
        assert tx["currency"] == "USD"


def test_payment_mix(fraud_shop: Dataset) -> None:
    normal = [t for t in fraud_shop.events["transactions"] if t["injected_fraud"] is None]
    counts = Counter(t["payment_method"] for t in normal)
    shares = {k: v / len(normal) for k, v in counts.items()}
    assert shares == pytest.approx(schemas.PAYMENT_METHODS, abs=0.015)


def test_repeat_purchases_are_heavy_tailed(shop: Dataset) -> None:
    per_customer = Counter(
        t["customer_id"] for t in shop.events["transactions"] if t["injected_fraud"] is None
    )
    counts = sorted(per_customer.values(), reverse=True)
    buyers = len(counts)
    assert all(c.startswith("cust_") for c in per_customer)
    assert sum(1 for c in counts if c == 1) / buyers > 0.35  # many buy once
    assert sum(1 for c in counts if c <= 2) / buyers > 0.6  # most buy once or twice
    assert sum(counts[: buyers // 10]) / sum(counts) > 0.28  # the top decile places a large share
    assert counts[0] >= 10  # and a few buy often
    assert len(shop.generator.population.customer_ids) >= buyers
