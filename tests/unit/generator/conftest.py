"""Generated datasets shared by the generator tests (built once per session, small and seeded)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from ecap.generator import EventBatch, ShopGenerator, decode
from ecap_operator.api.data_producer import DataProducerSpec

ALL_TOPICS = {
    "transactions": "transactions",
    "userEvents": "user-events",
    "productUpdates": "product-updates",
}


def make_spec(**overrides: Any) -> DataProducerSpec:
    body: dict[str, Any] = {"topics": ALL_TOPICS, "seed": 7, "customers": 2500, "products": 300}
    body.update(overrides)
    return DataProducerSpec.model_validate(body)


@dataclass
class Dataset:
    generator: ShopGenerator
    chunks: list[list[EventBatch]]
    events: dict[str, list[dict[str, Any]]]


def replay(spec: DataProducerSpec, start: datetime, end: datetime, events_per_day: int) -> Dataset:
    generator = ShopGenerator(spec)
    chunks = list(generator.replay(start, end, events_per_day))
    return Dataset(generator, chunks, decode(chunks))


@pytest.fixture(scope="session")
def shop() -> Dataset:
    """Four weeks of the whole shop: sessions, orders, catalog updates, 1 % fraud."""
    spec = make_spec(fraud={"rate": 0.01})
    return replay(spec, datetime(2026, 2, 2, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC), 4000)


@pytest.fixture(scope="session")
def fraud_shop() -> Dataset:
    """Three months of orders only, with 3 % injected fraud of every type."""
    spec = make_spec(topics={"transactions": "transactions"}, customers=3000, fraud={"rate": 0.03}, seed=11)
    return replay(spec, datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC), 300)
