"""Product updates keep prices in range, and orders pay the price in force after the catalog's own updates."""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from faker import Faker

from ecap import schemas
from ecap.generator import ShopGenerator, decode
from ecap.generator.catalog import build_catalog

from .conftest import make_spec


@pytest.fixture(scope="module")
def busy_catalog() -> dict[str, list[dict[str, object]]]:
    """A tiny catalog with many updates, so orders often follow a price change."""
    spec = make_spec(products=24, customers=600, product_update_share=0.2, fraud={"rate": 0.02})
    start = datetime(2026, 9, 7, tzinfo=UTC)
    return ShopGenerator(spec).events(start, start + timedelta(days=2), 6000)


def test_catalog_build_is_realistic() -> None:
    catalog = build_catalog(np.random.default_rng(1), Faker(), 400)
    assert catalog.product_ids[123] == "prod_000123"
    counts = Counter(int(c) for c in catalog.category)
    assert len(counts) == len(schemas.CATEGORY_PRICE_RANGES)
    for i, (lo, hi) in enumerate(schemas.CATEGORY_PRICE_RANGES.values()):
        prices = catalog.price_cents[catalog.category == i] / 100
        assert prices.min() >= lo and prices.max() <= hi
    assert len(set(catalog.names)) > 300


def test_updates_carry_full_state_within_ranges(busy_catalog: dict[str, list[dict[str, object]]]) -> None:
    updates = busy_catalog["product-updates"]
    kinds = Counter(u["update_type"] for u in updates)
    assert set(kinds) == set(schemas.PRODUCT_UPDATE_TYPES)
    for update in updates:
        lo, hi = schemas.CATEGORY_PRICE_RANGES[str(update["category"])]
        assert lo <= float(update["price"]) <= hi  # type: ignore[arg-type]
        if update["update_type"] == "price_change":
            assert update["previous_price"] is not None and update["previous_price"] != update["price"]
        else:
            assert update["previous_price"] is None
        if update["status"] != "active":
            assert update["stock"] == 0
    # Every product is announced once at the start (the compacted topic's first full picture).
    first: dict[object, dict[str, object]] = {}
    for update in updates:
        first.setdefault(update["product_id"], update)
    assert len(first) == 24
    statuses = {u["status"] for u in updates}
    assert "out_of_stock" in statuses


def test_orders_pay_the_price_in_force(busy_catalog: dict[str, list[dict[str, object]]]) -> None:
    history: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for update in busy_catalog["product-updates"]:
        history[str(update["product_id"])].append((str(update["timestamp"]), float(update["price"])))  # type: ignore[arg-type]
    for entries in history.values():
        entries.sort()
    after_change = 0
    for tx in busy_catalog["transactions"]:
        for item in tx["items"]:  # type: ignore[attr-defined]
            entries = history[item["product_id"]]
            pos = bisect.bisect_right(entries, (str(tx["timestamp"]), float("inf")))
            assert pos > 0
            assert item["unit_price"] == entries[pos - 1][1], (
                tx["timestamp"],
                item,
                entries[pos - 2 : pos + 1],
            )
            after_change += pos > 1
    assert after_change > 100


def test_sold_products_are_active(busy_catalog: dict[str, list[dict[str, object]]]) -> None:
    """Shoppers browse the catalog as of their 15-minute window: even with a status change every few
    hours per product, almost nothing sold is out of stock or discontinued at the moment of the order."""
    status: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for update in busy_catalog["product-updates"]:
        status[str(update["product_id"])].append((str(update["timestamp"]), str(update["status"])))
    sold_inactive = 0
    sold = 0
    for tx in busy_catalog["transactions"]:
        for item in tx["items"]:  # type: ignore[attr-defined]
            entries = sorted(status[item["product_id"]])
            pos = bisect.bisect_right(entries, (str(tx["timestamp"]), "~"))
            sold += 1
            sold_inactive += entries[pos - 1][1] != "active"
    assert sold > 200
    assert sold_inactive / sold < 0.08


def test_update_only_producer_emits_at_the_rate() -> None:
    spec = make_spec(topics={"productUpdates": "p"}, products=100)
    start = datetime(2026, 9, 7, tzinfo=UTC)
    events = decode(ShopGenerator(spec).replay(start, start + timedelta(days=1), 5000))
    assert set(k for k, v in events.items() if v) == {"product-updates"}
    assert len(events["product-updates"]) - 100 == pytest.approx(5000, rel=0.05)
