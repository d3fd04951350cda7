"""Sessions follow the journey of DOMAIN.md: first-event weights, transitions, segments, conversion."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import numpy as np
import pytest

from ecap import schemas
from ecap.generator import sessions

from .conftest import Dataset


def _by_session(shop: Dataset) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in shop.events["user-events"]:
        out[event["session_id"]].append(event)
    for events in out.values():
        events.sort(key=lambda e: e["sequence"])
    return out


@pytest.fixture(scope="module")
def journeys(shop: Dataset) -> dict[str, list[dict[str, Any]]]:
    return _by_session(shop)


def test_every_row_of_the_transition_matrix_is_a_distribution() -> None:
    for scale in sessions.SEGMENT_EXIT_SCALE:
        matrix = sessions.transition_matrix(scale)
        assert np.allclose(matrix.sum(axis=1), 1.0)
        assert (matrix >= 0).all()
    # Every event type is reachable from the first event or another type.
    reachable = (sessions.first_event_probabilities() > 0) | (sessions.SEGMENT_MATRICES[0][:-1, :-1] > 0).any(
        0
    )
    assert reachable.all()


def test_first_events_follow_the_weights(journeys: dict[str, list[dict[str, Any]]]) -> None:
    firsts = Counter(events[0]["event_type"] for events in journeys.values() if events[0]["sequence"] == 1)
    total = sum(firsts.values())
    expected = dict(zip(schemas.USER_EVENT_TYPES, sessions.first_event_probabilities(), strict=True))
    assert total > 20_000
    for event_type, p in expected.items():
        assert firsts[event_type] / total == pytest.approx(p, abs=0.01), event_type


@pytest.mark.parametrize(
    ("src", "dst", "p"),
    [
        ("search", "product_view", 0.40),
        ("add_to_cart", "begin_checkout", 0.25),
        ("begin_checkout", "complete_checkout", 0.60),
    ],
)
def test_domain_transitions(journeys: dict[str, list[dict[str, Any]]], src: str, dst: str, p: float) -> None:
    pairs: Counter[str] = Counter()
    for events in journeys.values():
        for a, b in zip(events, events[1:], strict=False):
            if a["event_type"] == src:
                pairs[b["event_type"]] += 1
        if events[-1]["event_type"] == src:
            pairs["exit"] += 1
    total = sum(pairs.values())
    assert total > 1000
    # Checkouts in the local quiet hours are cut, which lowers begin -> complete slightly.
    assert pairs[dst] / total == pytest.approx(p, abs=0.03)


def test_visitor_segments_and_session_lengths(journeys: dict[str, list[dict[str, Any]]]) -> None:
    lengths: dict[str, list[int]] = defaultdict(list)
    for events in journeys.values():
        segment = {e["visitor_segment"] for e in events}
        assert len(segment) == 1
        lengths[segment.pop()].append(len(events))
    n = sum(len(v) for v in lengths.values())
    shares = {s: len(v) / n for s, v in lengths.items()}
    assert shares == pytest.approx({"new": 0.35, "returning": 0.40, "loyal": 0.20, "power": 0.05}, abs=0.015)
    means = [np.mean(lengths[s]) for s in schemas.VISITOR_SEGMENTS]
    assert means == sorted(means) and means[-1] > 1.5 * means[0]


def test_sessions_are_consistent_and_convert_at_a_plausible_rate(
    journeys: dict[str, list[dict[str, Any]]],
) -> None:
    converted = 0
    for events in journeys.values():
        assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))
        assert len({(e["customer_id"], e["channel"], e["device"]["device_id"]) for e in events}) == 1
        times = [e["timestamp"] for e in events]
        assert times == sorted(times)
        converted += any(e["event_type"] == "complete_checkout" for e in events)
    rate = converted / len(journeys)
    assert 0.03 < rate < 0.2


def test_product_events_name_a_product_and_searches_a_query(shop: Dataset) -> None:
    product_types = {"product_view", "add_to_cart", "wishlist_add", "remove_from_cart", "review_write"}
    categories = set(schemas.CATEGORY_PRICE_RANGES)
    for event in shop.events["user-events"]:
        if event["event_type"] in product_types:
            assert event["product_id"].startswith("prod_") and event["category"] in categories
            assert event["page"] == f"/products/{event['product_id']}"
        else:
            assert event["product_id"] is None
        if event["event_type"] == "search":
            assert event["search_query"] and event["category"] in categories
        else:
            assert event["search_query"] is None
