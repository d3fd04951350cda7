"""The vectorised serialisation (byte pieces, numpy money) gives exactly the per-record reference text."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import numpy as np

from ecap import schemas
from ecap.generator import ShopGenerator, decode
from ecap.generator.calendar import CATEGORIES
from ecap.generator.catalog import Catalog
from ecap.generator.encode import money_column, rfc3339_chars, texts, uuids
from ecap.generator.orders import Order

from .conftest import make_spec

# The per-record serialisers the generator used before it built records from byte pieces: the reference
# text, written plainly, that the vectorised form must reproduce byte for byte.


def money(cents: int) -> str:
    """A JSON number with exactly two decimals, from integer cents."""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def transaction_json(
    order: Order,
    event_id: str,
    transaction_id: str,
    timestamp: str,
    customer_id: str,
    catalog: Catalog,
    location_json: str,
) -> str:
    """The wire ``transactions`` record of an order (field order as in ``schemas``)."""
    items = ",".join(
        f'{{"product_id":"{catalog.product_ids[p]}","category":"{CATEGORIES[int(catalog.category[p])]}",'
        f'"unit_price":{money(price)},"quantity":{qty}}}'
        for p, price, qty in order.items
    )
    subtotal = order.subtotal_cents
    tax = order.tax_cents
    total = money(subtotal - order.discount_cents + tax)
    label = "null" if order.label is None else f'"{order.label}"'
    return (
        f'{{"event_id":"{event_id}","transaction_id":"{transaction_id}","customer_id":"{customer_id}",'
        f'"session_id":"{order.session_id}","timestamp":"{timestamp}","items":[{items}],'
        f'"subtotal":{money(subtotal)},"discount":{money(order.discount_cents)},"tax":{money(tax)},'
        f'"total_amount":{total},"currency":"{schemas.CURRENCY}","payment_method":"{order.payment}",'
        f'"channel":"{order.channel}","location":{location_json},"device":{order.device_json},'
        f'"injected_fraud":{label}}}'
    )


def update_json(
    catalog: Catalog,
    event_id: str,
    product: int,
    update_type: str,
    timestamp: str,
    previous_price_cents: int | None,
) -> str:
    """The wire ``product-updates`` record carrying the product's full current state."""
    previous = "null" if previous_price_cents is None else money(previous_price_cents)
    category = CATEGORIES[int(catalog.category[product])]
    price = money(int(catalog.price_cents[product]))
    status = schemas.PRODUCT_STATUSES[int(catalog.status[product])]
    return (
        f'{{"event_id":"{event_id}","product_id":"{catalog.product_ids[product]}","update_type":"{update_type}",'
        f'"timestamp":"{timestamp}","name":{catalog.name_json[product]},"category":"{category}",'
        f'"price":{price},"previous_price":{previous},"stock":{int(catalog.stock[product])},'
        f'"status":"{status}","description":{catalog.descriptions[product]}}}'
    )


def test_money_column_matches_money_for_every_magnitude_and_sign() -> None:
    edges = [0, 1, 9, 10, 99, 100, 101, 999, 1000, 123_456, -1, -99, -100, -123_456, 10**15 + 7]
    drawn = np.random.default_rng(5).integers(-(10**10), 10**10, size=2000).tolist()
    cents = np.asarray(edges + drawn, dtype=np.int64)
    texts, lengths = money_column(cents)
    expected = [money(c).encode() for c in cents.tolist()]
    assert texts.tolist() == expected
    assert lengths.tolist() == [len(e) for e in expected]


def _orders(generator: ShopGenerator) -> list[Order]:
    """Hand-made orders covering one to seven items, discounts, every label and an away city."""
    pop, cat = generator.population, generator.catalog
    session_ids = uuids(np.random.default_rng(3), 9)
    labels = [None, "velocity_attack", None, "amount_anomaly", "location_anomaly", None, "card_testing",
              "time_anomaly", "device_anomaly"]  # fmt: skip
    orders = []
    for k, label in enumerate(labels):
        customer = 17 * k
        items = [(int(p), int(cat.price_cents[p]), 1 + (p % 3)) for p in range(3 * k, 3 * k + 1 + k % 7)]
        orders.append(
            Order(
                ts_ms=1_772_409_600_000 + 61_001 * k,
                customer=customer,
                session_id=session_ids[k],
                city=(int(pop.city[customer]) + k) % len(pop.location_json),
                device_json=pop.device_json[customer + 1 if label == "device_anomaly" else customer],
                channel=generator._channels[k % len(generator._channels)],
                segment=k % 4,
                items=items,
                discount_cents=k * 137,
                payment=["credit_card", "paypal", "debit_card", "apple_pay"][k % 4],
                label=label,
            )
        )
    return orders


def test_transaction_bytes_equal_the_reference_json() -> None:
    generator = ShopGenerator(make_spec(customers=400, products=60))
    orders = _orders(generator)
    ids = uuids(copy.deepcopy(generator._rng), 2 * len(orders))
    generator._emit_orders(orders)
    [batch] = [b for b in generator._drain(None) if b.stream == "transactions"]
    pop = generator.population
    expected = [
        transaction_json(
            o,
            ids[2 * k],
            ids[2 * k + 1],
            np.datetime_as_string(np.datetime64(o.ts_ms, "ms"), unit="ms") + "Z",
            pop.customer_ids[o.customer],
            generator.catalog,
            pop.location_json[o.city],
        ).encode()
        for k, o in enumerate(orders)
    ]
    assert batch.value_list() == expected
    assert batch.key_list() == [pop.customer_ids[o.customer].encode() for o in orders]
    assert batch.timestamps_ms.tolist() == [o.ts_ms for o in orders]


def test_product_update_bytes_equal_the_reference_json() -> None:
    generator = ShopGenerator(make_spec(topics={"productUpdates": "product-updates"}, products=40))
    cat = generator.catalog
    kinds = ["price_change", "stock_update", "description_update", "status_change"]
    products = list(range(3, 35, 3))
    n = len(products)
    ts = 1_772_409_600_000 + 7_777 * np.arange(n, dtype=np.int64)
    for k, p in enumerate(products):
        cat.price_cents[p] = 99 + 12_345 * k
        cat.stock[p] = [0, 1, 499, 20_000][k % 4]
        cat.status[p] = k % 3
        cat.set_description(p, k)
    previous = [(-1 if k % 2 else 1_000 * k + 99) for k in range(n)]
    ids = uuids(copy.deepcopy(generator._rng), n)
    generator._emit_product_updates(
        ts,
        products,
        [k % 4 for k in range(n)],
        previous,
        [int(cat.price_cents[p]) for p in products],
        [int(cat.stock[p]) for p in products],
        [int(cat.status[p]) for p in products],
        [cat.descriptions[p] for p in products],
    )
    [batch] = generator._drain(None)
    expected = [
        update_json(
            cat,
            ids[k],
            p,
            kinds[k % 4],
            np.datetime_as_string(np.datetime64(int(ts[k]), "ms"), unit="ms") + "Z",
            None if previous[k] < 0 else previous[k],
        ).encode()
        for k, p in enumerate(products)
    ]
    assert batch.stream == "product-updates"
    assert batch.value_list() == expected
    assert batch.key_list() == [cat.product_ids[p].encode() for p in products]


def test_customer_ids_of_different_widths_serialise_like_uniform_ones() -> None:
    """Above 1M customers ids differ in width: the event head then takes the slower general path."""
    spec = make_spec(topics={"userEvents": "user-events"}, customers=600)
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    uniform = ShopGenerator(spec)
    mixed = ShopGenerator(spec)
    renamed = {
        cid: f"cust_{1_000_000 + i}" for i, cid in enumerate(mixed.population.customer_ids) if i % 3 == 0
    }
    mixed.population.customer_ids[:] = [renamed.get(cid, cid) for cid in mixed.population.customer_ids]
    mixed._build_user_event_tables()
    assert mixed._ue_id_chars is None and uniform._ue_id_chars is not None
    expected = decode(uniform.replay(start, start + timedelta(hours=3), 20_000))["user-events"]
    got = decode(mixed.replay(start, start + timedelta(hours=3), 20_000))["user-events"]
    assert len(got) > 500 and any(e["customer_id"] in renamed.values() for e in got)
    for event in expected:
        event["customer_id"] = renamed.get(event["customer_id"], event["customer_id"])
    assert got == expected


def test_packed_values_lie_in_record_order_front_to_back() -> None:
    """A consumer reads the value buffer sequentially (cheaper than offsets permuted over it)."""
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    generator = ShopGenerator(make_spec())
    for chunk in generator.replay_packed(start, start + timedelta(hours=4), 40_000):
        for batch in chunk:
            assert np.all(np.diff(batch.timestamps_ms) >= 0)
            assert batch.value_starts[0] == 0 and batch.value_ends[-1] == len(batch.values)
            assert np.array_equal(batch.value_starts[1:], batch.value_ends[:-1])


def test_rfc3339_chars_match_numpy_for_narrow_wide_and_pre_1970_spans() -> None:
    rng = np.random.default_rng(9)
    day = 86_400_000
    for lo, hi in ((1_772_409_600_000, 1_772_409_600_000 + 900_000), (0, 3 * day), (-(10**12), 10**13)):
        ms = rng.integers(lo, hi, size=3000)
        chars = rfc3339_chars(ms)
        assert chars is not None
        assert texts(chars) == np.datetime_as_string(ms.astype("datetime64[ms]"), unit="ms").tolist()
    assert rfc3339_chars(np.asarray([-(10**15)], dtype=np.int64)) is None  # year outside 0000-9999
