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
    """Shoppers browse the catalog as of their 15-minute slice: even with a status change every few
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


def test_picks_follow_the_catalog_of_their_moment() -> None:
    """A long window's shoppers see the catalog of their own slice: a product discontinued (or
    repriced) at a moment is no longer (or differently) picked from that moment on, and not before."""
    catalog = build_catalog(np.random.default_rng(3), Faker(), 200)
    category = int(catalog.category[0])
    same = np.flatnonzero(catalog.category == category)
    target = float(catalog.price_cents[same[0]])
    categories = np.asarray([category], dtype=np.int64)
    targets = np.asarray([target])
    first = int(catalog.pick(categories, targets)[0])
    change_ms = 1_000_000
    catalog.set_status(first, 2, change_ms)  # discontinued
    before = np.asarray([change_ms], dtype=np.int64)  # a moment sees the changes strictly before it
    at = np.asarray([change_ms + 1], dtype=np.int64)
    assert int(catalog.pick(categories, targets, before)[0]) == first
    assert int(catalog.pick(categories, targets, at)[0]) != first
    assert int(catalog.pick(categories, targets)[0]) == first  # the base state: before any change
    # Many picks over several moments at once: each as of its own moment.
    moments = np.asarray([change_ms, change_ms + 1, change_ms + 5, 0], dtype=np.int64)
    picked = catalog.pick(np.repeat(categories, 4), np.repeat(targets, 4), moments)
    assert [p == first for p in picked.tolist()] == [True, False, False, True]
    # A price change moves a product in the price order from its moment on.
    other = int(catalog.pick(categories, targets, at)[0])
    catalog.set_price(other, int(catalog.price_cents[other]) * 3, change_ms + 10)
    assert int(catalog.pick(categories, targets, np.asarray([change_ms + 11]))[0]) != other
    assert int(catalog.pick(categories, targets, np.asarray([change_ms + 10]))[0]) == other
    # Folding the changes into the base state gives the same picks as the moments did.
    catalog.forget_before(change_ms + 11)
    assert int(catalog.pick(categories, targets)[0]) not in (first, other)


def plain_pick_index(
    category: np.ndarray, status: np.ndarray, price: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The pick index built the plain way, category by category: (members, prices, keys, starts, ends)."""
    from ecap.generator.catalog import _CATEGORY_KEY_SPAN, ACTIVE

    index = []
    for cat in range(len(schemas.CATEGORY_PRICE_RANGES)):
        members = np.flatnonzero((category == cat) & (status == ACTIVE))
        if members.size == 0:
            members = np.flatnonzero(category == cat)
        if members.size == 0:
            members = np.arange(category.size)
        order = np.argsort(price[members], kind="stable")
        index.append(members[order])
    members = np.concatenate(index)
    prices = price[members].astype(np.float64)
    sizes = np.asarray([m.size for m in index], dtype=np.int64)
    ends = np.cumsum(sizes)
    keys = prices + _CATEGORY_KEY_SPAN * np.repeat(np.arange(len(index)), sizes)
    return members, prices, keys, ends - sizes, ends


@pytest.mark.parametrize(
    ("seed", "price_unit", "empty_category"),
    [(0, 100, False), (1, 100, False), (2, 2**50, False), (3, 100, True)],
)
def test_pick_index_matches_the_per_category_build(seed: int, price_unit: int, empty_category: bool) -> None:
    """The one-sort index equals the plain per-category one, ties and all-inactive categories included
    (and prices too large for one int64 sort key, and a category without any product)."""
    from ecap.generator.catalog import _PickIndex

    rng = np.random.default_rng(seed)
    n = 300
    category = rng.integers(0, len(schemas.CATEGORY_PRICE_RANGES), size=n).astype(np.int64)
    category[: len(schemas.CATEGORY_PRICE_RANGES)] = np.arange(len(schemas.CATEGORY_PRICE_RANGES))
    if empty_category:
        category[category == 2] = 3  # category 2 has no product: it sells the whole catalog
    status = rng.integers(0, 3, size=n).astype(np.int64)
    status[category == 1] = 2  # a category with no active product sells all of its products
    price = rng.integers(1, 40, size=n).astype(np.int64) * price_unit  # many ties
    fast = _PickIndex.build(category, status, price)
    plain = plain_pick_index(category, status, price)
    for name, expected in zip(("members", "prices", "keys", "starts", "ends"), plain, strict=True):
        np.testing.assert_array_equal(getattr(fast, name), expected)
