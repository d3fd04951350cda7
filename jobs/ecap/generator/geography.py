"""Real cities with their real country, coordinates and IANA timezone.

Every customer lives in one of these cities; temporal patterns are applied in the city's local time
and impossible-travel fraud is measured with the great-circle distance between them. The table is
written by hand (no network) and checked by tests against ``zoneinfo``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

EARTH_RADIUS_KM: Final = 6371.0


@dataclass(frozen=True)
class City:
    name: str
    country: str
    region: str
    latitude: float
    longitude: float
    timezone: str
    weight: float
    """Relative share of the customer population living here (roughly the metro size)."""


NA: Final = "North America"
EU: Final = "Europe"
AP: Final = "Asia Pacific"
LA: Final = "Latin America"
MEA: Final = "Middle East & Africa"

CITIES: Final[tuple[City, ...]] = (
    # North America
    City("New York", "United States", NA, 40.71, -74.01, "America/New_York", 10.0),
    City("Los Angeles", "United States", NA, 34.05, -118.24, "America/Los_Angeles", 8.0),
    City("Chicago", "United States", NA, 41.88, -87.63, "America/Chicago", 6.0),
    City("Houston", "United States", NA, 29.76, -95.37, "America/Chicago", 5.0),
    City("Phoenix", "United States", NA, 33.45, -112.07, "America/Phoenix", 3.5),
    City("Philadelphia", "United States", NA, 39.95, -75.17, "America/New_York", 3.5),
    City("San Francisco", "United States", NA, 37.77, -122.42, "America/Los_Angeles", 4.0),
    City("Seattle", "United States", NA, 47.61, -122.33, "America/Los_Angeles", 3.5),
    City("Denver", "United States", NA, 39.74, -104.99, "America/Denver", 3.0),
    City("Miami", "United States", NA, 25.76, -80.19, "America/New_York", 3.5),
    City("Atlanta", "United States", NA, 33.75, -84.39, "America/New_York", 3.5),
    City("Boston", "United States", NA, 42.36, -71.06, "America/New_York", 3.5),
    City("Dallas", "United States", NA, 32.78, -96.80, "America/Chicago", 4.5),
    City("Anchorage", "United States", NA, 61.22, -149.90, "America/Anchorage", 0.5),
    City("Honolulu", "United States", NA, 21.31, -157.86, "Pacific/Honolulu", 0.7),
    City("Toronto", "Canada", NA, 43.65, -79.38, "America/Toronto", 4.5),
    City("Vancouver", "Canada", NA, 49.28, -123.12, "America/Vancouver", 2.5),
    City("Montreal", "Canada", NA, 45.50, -73.57, "America/Toronto", 3.0),
    City("Calgary", "Canada", NA, 51.05, -114.07, "America/Edmonton", 1.5),
    City("Mexico City", "Mexico", NA, 19.43, -99.13, "America/Mexico_City", 5.0),
    City("Guadalajara", "Mexico", NA, 20.67, -103.35, "America/Mexico_City", 1.5),
    # Latin America
    City("Sao Paulo", "Brazil", LA, -23.55, -46.63, "America/Sao_Paulo", 5.0),
    City("Rio de Janeiro", "Brazil", LA, -22.91, -43.17, "America/Sao_Paulo", 3.0),
    City("Buenos Aires", "Argentina", LA, -34.60, -58.38, "America/Argentina/Buenos_Aires", 3.5),
    City("Santiago", "Chile", LA, -33.45, -70.67, "America/Santiago", 2.0),
    City("Bogota", "Colombia", LA, 4.71, -74.07, "America/Bogota", 2.5),
    City("Lima", "Peru", LA, -12.05, -77.04, "America/Lima", 2.0),
    # Europe
    City("London", "United Kingdom", EU, 51.51, -0.13, "Europe/London", 8.0),
    City("Manchester", "United Kingdom", EU, 53.48, -2.24, "Europe/London", 2.5),
    City("Edinburgh", "United Kingdom", EU, 55.95, -3.19, "Europe/London", 1.0),
    City("Dublin", "Ireland", EU, 53.35, -6.26, "Europe/Dublin", 1.5),
    City("Paris", "France", EU, 48.86, 2.35, "Europe/Paris", 6.0),
    City("Lyon", "France", EU, 45.76, 4.84, "Europe/Paris", 1.5),
    City("Berlin", "Germany", EU, 52.52, 13.40, "Europe/Berlin", 4.0),
    City("Munich", "Germany", EU, 48.14, 11.58, "Europe/Berlin", 2.5),
    City("Hamburg", "Germany", EU, 53.55, 9.99, "Europe/Berlin", 2.0),
    City("Madrid", "Spain", EU, 40.42, -3.70, "Europe/Madrid", 3.5),
    City("Barcelona", "Spain", EU, 41.39, 2.17, "Europe/Madrid", 3.0),
    City("Rome", "Italy", EU, 41.90, 12.50, "Europe/Rome", 3.0),
    City("Milan", "Italy", EU, 45.46, 9.19, "Europe/Rome", 3.0),
    City("Amsterdam", "Netherlands", EU, 52.37, 4.90, "Europe/Amsterdam", 2.0),
    City("Brussels", "Belgium", EU, 50.85, 4.35, "Europe/Brussels", 1.5),
    City("Zurich", "Switzerland", EU, 47.38, 8.54, "Europe/Zurich", 1.2),
    City("Vienna", "Austria", EU, 48.21, 16.37, "Europe/Vienna", 1.5),
    City("Stockholm", "Sweden", EU, 59.33, 18.07, "Europe/Stockholm", 1.5),
    City("Oslo", "Norway", EU, 59.91, 10.75, "Europe/Oslo", 1.0),
    City("Copenhagen", "Denmark", EU, 55.68, 12.57, "Europe/Copenhagen", 1.2),
    City("Helsinki", "Finland", EU, 60.17, 24.94, "Europe/Helsinki", 1.0),
    City("Warsaw", "Poland", EU, 52.23, 21.01, "Europe/Warsaw", 2.0),
    City("Prague", "Czechia", EU, 50.08, 14.44, "Europe/Prague", 1.2),
    City("Lisbon", "Portugal", EU, 38.72, -9.14, "Europe/Lisbon", 1.5),
    City("Athens", "Greece", EU, 37.98, 23.73, "Europe/Athens", 1.5),
    City("Istanbul", "Turkey", EU, 41.01, 28.98, "Europe/Istanbul", 4.0),
    # Middle East & Africa
    City("Dubai", "United Arab Emirates", MEA, 25.20, 55.27, "Asia/Dubai", 2.0),
    City("Riyadh", "Saudi Arabia", MEA, 24.71, 46.68, "Asia/Riyadh", 2.0),
    City("Tel Aviv", "Israel", MEA, 32.09, 34.78, "Asia/Jerusalem", 1.5),
    City("Cairo", "Egypt", MEA, 30.04, 31.24, "Africa/Cairo", 3.0),
    City("Lagos", "Nigeria", MEA, 6.52, 3.38, "Africa/Lagos", 2.5),
    City("Nairobi", "Kenya", MEA, -1.29, 36.82, "Africa/Nairobi", 1.5),
    City("Johannesburg", "South Africa", MEA, -26.20, 28.05, "Africa/Johannesburg", 2.0),
    City("Cape Town", "South Africa", MEA, -33.92, 18.42, "Africa/Johannesburg", 1.2),
    City("Casablanca", "Morocco", MEA, 33.57, -7.59, "Africa/Casablanca", 1.2),
    # Asia Pacific
    City("Tokyo", "Japan", AP, 35.68, 139.69, "Asia/Tokyo", 8.0),
    City("Osaka", "Japan", AP, 34.69, 135.50, "Asia/Tokyo", 3.0),
    City("Seoul", "South Korea", AP, 37.57, 126.98, "Asia/Seoul", 5.0),
    City("Shanghai", "China", AP, 31.23, 121.47, "Asia/Shanghai", 5.0),
    City("Beijing", "China", AP, 39.90, 116.41, "Asia/Shanghai", 4.0),
    City("Shenzhen", "China", AP, 22.54, 114.06, "Asia/Shanghai", 3.0),
    City("Hong Kong", "China", AP, 22.32, 114.17, "Asia/Hong_Kong", 2.5),
    City("Taipei", "Taiwan", AP, 25.03, 121.57, "Asia/Taipei", 2.0),
    City("Singapore", "Singapore", AP, 1.35, 103.82, "Asia/Singapore", 2.5),
    City("Kuala Lumpur", "Malaysia", AP, 3.14, 101.69, "Asia/Kuala_Lumpur", 1.5),
    City("Bangkok", "Thailand", AP, 13.76, 100.50, "Asia/Bangkok", 2.5),
    City("Jakarta", "Indonesia", AP, -6.21, 106.85, "Asia/Jakarta", 3.0),
    City("Manila", "Philippines", AP, 14.60, 120.98, "Asia/Manila", 2.5),
    City("Ho Chi Minh City", "Vietnam", AP, 10.82, 106.63, "Asia/Ho_Chi_Minh", 2.0),
    City("Mumbai", "India", AP, 19.08, 72.88, "Asia/Kolkata", 5.0),
    City("Delhi", "India", AP, 28.70, 77.10, "Asia/Kolkata", 5.0),
    City("Bangalore", "India", AP, 12.97, 77.59, "Asia/Kolkata", 3.5),
    City("Karachi", "Pakistan", AP, 24.86, 67.01, "Asia/Karachi", 2.0),
    City("Dhaka", "Bangladesh", AP, 23.81, 90.41, "Asia/Dhaka", 2.0),
    City("Kathmandu", "Nepal", AP, 27.72, 85.32, "Asia/Kathmandu", 0.5),
    City("Sydney", "Australia", AP, -33.87, 151.21, "Australia/Sydney", 3.5),
    City("Melbourne", "Australia", AP, -37.81, 144.96, "Australia/Melbourne", 3.0),
    City("Brisbane", "Australia", AP, -27.47, 153.03, "Australia/Brisbane", 1.5),
    City("Perth", "Australia", AP, -31.95, 115.86, "Australia/Perth", 1.2),
    City("Adelaide", "Australia", AP, -34.93, 138.60, "Australia/Adelaide", 0.8),
    City("Auckland", "New Zealand", AP, -36.85, 174.76, "Pacific/Auckland", 1.2),
)

# Sales tax / VAT charged on (subtotal - discount), by country; everything else uses the default.
DEFAULT_TAX_RATE: Final = 0.08
TAX_RATES: Final[dict[str, float]] = {
    "United States": 0.07,
    "Canada": 0.13,
    "Mexico": 0.16,
    "Brazil": 0.17,
    "Argentina": 0.21,
    "Chile": 0.19,
    "Colombia": 0.19,
    "Peru": 0.18,
    "United Kingdom": 0.20,
    "Ireland": 0.23,
    "France": 0.20,
    "Germany": 0.19,
    "Spain": 0.21,
    "Italy": 0.22,
    "Netherlands": 0.21,
    "Belgium": 0.21,
    "Switzerland": 0.081,
    "Austria": 0.20,
    "Sweden": 0.25,
    "Norway": 0.25,
    "Denmark": 0.25,
    "Finland": 0.255,
    "Poland": 0.23,
    "Czechia": 0.21,
    "Portugal": 0.23,
    "Greece": 0.24,
    "Turkey": 0.20,
    "United Arab Emirates": 0.05,
    "Saudi Arabia": 0.15,
    "Israel": 0.18,
    "Egypt": 0.14,
    "Nigeria": 0.075,
    "Kenya": 0.16,
    "South Africa": 0.15,
    "Morocco": 0.20,
    "Japan": 0.10,
    "South Korea": 0.10,
    "China": 0.13,
    "Taiwan": 0.05,
    "Singapore": 0.09,
    "Malaysia": 0.10,
    "Thailand": 0.07,
    "Indonesia": 0.11,
    "Philippines": 0.12,
    "Vietnam": 0.10,
    "India": 0.18,
    "Pakistan": 0.18,
    "Bangladesh": 0.15,
    "Nepal": 0.13,
    "Australia": 0.10,
    "New Zealand": 0.15,
}


def location_json(city: City) -> str:
    """The wire ``location`` object of a city, serialised once and reused for every event."""
    return json.dumps(
        {
            "city": city.name,
            "country": city.country,
            "region": city.region,
            "latitude": city.latitude,
            "longitude": city.longitude,
            "timezone": city.timezone,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )


_ZONES: Final[dict[str, ZoneInfo]] = {}


def _zone(name: str) -> ZoneInfo:
    """ZoneInfo objects kept for good (its own cache only holds a few strongly)."""
    zone = _ZONES.get(name)
    if zone is None:
        zone = _ZONES[name] = ZoneInfo(name)
    return zone


def utc_offsets_ms(epoch_ms: int, cities: tuple[City, ...] = CITIES) -> npt.NDArray[np.int64]:
    """Each city's UTC offset (ms) at one instant, daylight saving included."""
    instant = datetime.fromtimestamp(epoch_ms / 1000.0, tz=UTC)
    offsets = []
    for city in cities:
        delta = instant.astimezone(_zone(city.timezone)).utcoffset()
        offsets.append(0 if delta is None else int(delta.total_seconds() * 1000))
    return np.asarray(offsets, dtype=np.int64)


def coordinates_rad(cities: tuple[City, ...] = CITIES) -> npt.NDArray[np.float64]:
    """(n, 2) latitude/longitude in radians, for vectorised distances."""
    return np.radians(np.asarray([(c.latitude, c.longitude) for c in cities], dtype=np.float64))


def distance_km(a: City, b: City) -> float:
    """Great-circle (haversine) distance between two cities."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a.latitude, a.longitude, b.latitude, b.longitude))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


def distance_matrix_km(cities: tuple[City, ...] = CITIES) -> npt.NDArray[np.float64]:
    """Pairwise great-circle distances between all cities."""
    rad = coordinates_rad(cities)
    lat, lon = rad[:, 0][:, None], rad[:, 1][:, None]
    h = np.sin((lat.T - lat) / 2) ** 2 + np.cos(lat) * np.cos(lat.T) * np.sin((lon.T - lon) / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))), dtype=np.float64)
