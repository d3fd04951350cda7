"""Cities belong to their real country and timezone; coordinates agree with the zone's offset."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from ecap.generator.geography import CITIES, NA, distance_km, distance_matrix_km

from .conftest import Dataset

# IANA area prefixes each region's zones may use.
REGION_ZONES = {
    "North America": ("America/", "Pacific/Honolulu"),
    "Latin America": ("America/",),
    "Europe": ("Europe/",),
    "Middle East & Africa": ("Asia/", "Africa/"),
    "Asia Pacific": ("Asia/", "Australia/", "Pacific/"),
}


def test_city_table_is_real_and_varied() -> None:
    assert 60 <= len(CITIES) <= 120
    assert len({(c.name, c.country) for c in CITIES}) == len(CITIES)
    assert len({c.country for c in CITIES}) >= 40
    assert len({c.region for c in CITIES}) == 5
    for city in CITIES:
        assert -90 <= city.latitude <= 90 and -180 <= city.longitude <= 180
        assert city.timezone.startswith(REGION_ZONES[city.region]), city
        # A zone's standard offset is close to the longitude's solar time (within 3 h: China, Spain...).
        offset = datetime(2026, 1, 15, 12, tzinfo=UTC).astimezone(ZoneInfo(city.timezone)).utcoffset()
        assert offset is not None
        assert abs(offset.total_seconds() / 3600 - city.longitude / 15) <= 3.0, city


def test_known_distances() -> None:
    by_name = {c.name: c for c in CITIES}
    assert distance_km(by_name["London"], by_name["Paris"]) == pytest.approx(344, abs=15)
    assert distance_km(by_name["New York"], by_name["Los Angeles"]) == pytest.approx(3936, abs=40)
    matrix = distance_matrix_km()
    i, j = CITIES.index(by_name["Sydney"]), CITIES.index(by_name["Tokyo"])
    assert matrix[i, j] == pytest.approx(distance_km(by_name["Sydney"], by_name["Tokyo"]), rel=1e-6)
    assert NA == by_name["Toronto"].region


def test_events_carry_the_table_locations_and_customers_stay_home(shop: Dataset) -> None:
    table = {c.name: c for c in CITIES}
    homes: dict[str, set[str]] = {}
    fraud_sessions = {t["session_id"] for t in shop.events["transactions"] if t["injected_fraud"]}
    for event in shop.events["user-events"] + shop.events["transactions"]:
        loc = event["location"]
        city = table[loc["city"]]
        assert (loc["country"], loc["region"], loc["timezone"]) == (city.country, city.region, city.timezone)
        assert (loc["latitude"], loc["longitude"]) == (city.latitude, city.longitude)
        if event["session_id"] not in fraud_sessions:
            homes.setdefault(event["customer_id"], set()).add(loc["city"])
    assert all(len(cities) == 1 for cities in homes.values())
    spread = Counter(next(iter(c)) for c in homes.values())
    assert len(spread) >= 50
