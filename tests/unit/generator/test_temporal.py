"""Traffic follows local time (hours, weekends) and the seasonal calendar of the replayed year."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from ecap.generator import calendar

from .conftest import Dataset, make_spec, replay

WEEKDAY_ORDINARY = datetime(2026, 3, 4, tzinfo=UTC)  # a Wednesday with no seasonal event


def _local(event: dict[str, object]) -> datetime:
    stamp = str(event["timestamp"]).replace("Z", "+00:00")
    location = event["location"]
    assert isinstance(location, dict)
    return datetime.fromisoformat(stamp).astimezone(ZoneInfo(location["timezone"]))


def test_hourly_counts_follow_local_time(shop: Dataset) -> None:
    hours = np.zeros(24)
    weekday_days: Counter[bool] = Counter()
    for event in shop.events["user-events"]:
        local = _local(event)
        hours[local.hour] += 1
        weekday_days[local.weekday() >= 5] += 1
    lunch, night = hours[12:14].mean(), hours[3:5].mean()
    assert lunch > 2 * night
    assert lunch / night == pytest.approx(2.0 / 0.3, rel=0.2)
    assert hours[19:22].mean() > 1.3 * hours[17:19].mean()  # evening browsing
    assert hours[9:12].mean() > 1.3 * hours[6:9].mean()  # business hours
    # 8 weekend days vs 20 weekdays in the four weeks, weekend days x1.5.
    assert (weekday_days[True] / 8) / (weekday_days[False] / 20) == pytest.approx(1.5, rel=0.1)


def test_patterns_can_be_switched_off() -> None:
    spec = make_spec(
        topics={"userEvents": "user-events"}, patterns={"daily": False, "weekly": False, "seasonal": False}
    )
    data = replay(spec, WEEKDAY_ORDINARY, WEEKDAY_ORDINARY + timedelta(days=2), 8000)
    hours = np.zeros(24)
    for event in data.events["user-events"]:
        hours[_local(event).hour] += 1
    assert hours[12:14].mean() / hours[2:5].mean() == pytest.approx(1.0, abs=0.25)


def test_daily_volume_matches_events_per_day() -> None:
    data = replay(make_spec(), WEEKDAY_ORDINARY, WEEKDAY_ORDINARY + timedelta(days=1), 20_000)
    total = sum(len(v) for v in data.events.values()) - data.generator.catalog.size  # minus the snapshot
    assert total == pytest.approx(20_000, rel=0.08)


def _daily_orders(year: int) -> tuple[Counter[date], dict[date, Counter[str]]]:
    spec = make_spec(topics={"transactions": "transactions"}, customers=1500, fraud={"rate": 0.0}, seed=year)
    start = datetime(year, 11, 16, tzinfo=UTC)
    data = replay(spec, start, datetime(year, 12, 4, tzinfo=UTC), 250)
    days: Counter[date] = Counter()
    categories: dict[date, Counter[str]] = {}
    for tx in data.events["transactions"]:
        day = _local(tx).date()
        days[day] += 1
        categories.setdefault(day, Counter()).update(item["category"] for item in tx["items"])
    return days, categories


@pytest.mark.parametrize("year", [2025, 2026])
def test_black_friday_and_cyber_monday_peak_on_that_years_dates(year: int) -> None:
    days, categories = _daily_orders(year)
    bf, cm = calendar.black_friday(year), calendar.cyber_monday(year)
    inside = {d: n for d, n in days.items() if date(year, 11, 17) <= d <= date(year, 12, 3)}
    top_two = sorted(inside, key=inside.__getitem__, reverse=True)[:2]
    assert set(top_two) == {bf, cm}
    ordinary = np.mean([inside[date(year, 11, d)] for d in (17, 18, 19)])  # Mon-Wed
    assert inside[bf] > 3 * ordinary
    promoted = {"Electronics", "Clothing", "Home & Garden"}

    def share(day: date) -> float:
        c = categories[day]
        return sum(c[k] for k in promoted) / sum(c.values())

    assert share(bf) > share(date(year, 11, 18)) + 0.15


def test_orders_only_shop_matches_the_full_shop() -> None:
    """Without user-events the shop samples converting journeys only: same orders, far less work."""
    day = (WEEKDAY_ORDINARY, WEEKDAY_ORDINARY + timedelta(days=1))
    only = replay(make_spec(topics={"transactions": "t"}, customers=2000, fraud={"rate": 0.0}), *day, 3000)
    full = replay(make_spec(topics={"transactions": "t", "userEvents": "u"}, customers=2000), *day, 40_000)
    assert len(only.events["transactions"]) == pytest.approx(3000, rel=0.08)

    def profile(txs: list[dict[str, Any]]) -> tuple[float, float]:
        units = [sum(int(i["quantity"]) for i in t["items"]) for t in txs]
        amounts = [float(t["total_amount"]) for t in txs]
        return float(np.mean(units)), float(np.median(amounts))

    units_only, median_only = profile(only.events["transactions"])
    units_full, median_full = profile(full.events["transactions"])
    assert units_only == pytest.approx(units_full, rel=0.1)
    assert median_only == pytest.approx(median_full, rel=0.2)
