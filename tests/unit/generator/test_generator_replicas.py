"""Replicas of one producer (``instance``): the same shop, each with its own deterministic event stream."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from ecap.generator import GeneratorError, ShopGenerator, decode

from .conftest import make_spec

NOON = datetime(2026, 3, 4, 12, tzinfo=UTC)
EVENING = datetime(2026, 3, 4, 18, tzinfo=UTC)


def _values(generator: ShopGenerator) -> list[bytes]:
    return [v for chunk in generator.replay(NOON, EVENING, 20_000) for b in chunk for v in b.values]


def test_instance_zero_is_the_stream_of_the_seed() -> None:
    spec = make_spec(customers=600, products=80)
    assert _values(ShopGenerator(spec, instance=0)) == _values(ShopGenerator(spec))


def test_each_instance_is_deterministic_and_different_from_the_others() -> None:
    spec = make_spec(customers=600, products=80)
    one, two = _values(ShopGenerator(spec, instance=1)), _values(ShopGenerator(spec, instance=2))
    assert one == _values(ShopGenerator(spec, instance=1))
    base = set(_values(ShopGenerator(spec)))
    assert not base & set(one) and not base & set(two) and not set(one) & set(two)


def test_instances_share_the_catalog_and_the_customers() -> None:
    spec = make_spec(customers=600, products=80)
    base, replica = ShopGenerator(spec), ShopGenerator(spec, instance=3)
    assert replica.catalog.product_ids == base.catalog.product_ids
    assert replica.catalog.names == base.catalog.names
    assert np.array_equal(replica.catalog.price_cents, base.catalog.price_cents)
    assert replica.population.customer_ids == base.population.customer_ids
    assert replica.population.device_json == base.population.device_json
    # Both sell to the same customers: a customer's orders from two replicas add up in RFM.
    orders = decode(ShopGenerator(spec, instance=3).replay(NOON, EVENING, 20_000))["transactions"]
    base_orders = decode(ShopGenerator(spec).replay(NOON, EVENING, 20_000))["transactions"]
    shared = {o["customer_id"] for o in orders} & {o["customer_id"] for o in base_orders}
    assert len(shared) >= 5


def test_a_negative_instance_is_refused() -> None:
    with pytest.raises(GeneratorError, match="instance must be 0 or more"):
        ShopGenerator(make_spec(customers=100, products=20), instance=-1)
