"""Temporal multipliers in local time: hour of day, weekend, and seasonal shopping events of any year.

All functions are pure and vectorised over numpy arrays of local times, so the generator can shape
the traffic of a hundred cities in one call. Seasonal events are computed from the calendar (Black
Friday is the day after the fourth Thursday of November), never from a list of years.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache
from typing import Final

import numpy as np
import numpy.typing as npt

from ecap import schemas

CATEGORIES: Final[tuple[str, ...]] = tuple(schemas.CATEGORY_PRICE_RANGES)
CATEGORY_INDEX: Final[dict[str, int]] = {name: i for i, name in enumerate(CATEGORIES)}

# Share of each category in an ordinary day's shopping (before seasonal multipliers).
BASE_CATEGORY_SHARE: Final[dict[str, float]] = {
    "Electronics": 0.18,
    "Clothing": 0.22,
    "Books": 0.10,
    "Home & Garden": 0.14,
    "Sports": 0.10,
    "Beauty": 0.10,
    "Toys": 0.08,
    "Jewelry": 0.08,
}
BASE_SHARE: Final = np.asarray([BASE_CATEGORY_SHARE[c] for c in CATEGORIES], dtype=np.float64)

NIGHT: Final = 0.3  # 00-06
BUSINESS: Final = 1.5  # 09-17
LUNCH: Final = 2.0  # 12-14 (inside business hours; the larger one wins)
EVENING: Final = 2.0  # 19-22, browsing after work
WEEKEND: Final = 1.5


def _raw_hour_profile() -> npt.NDArray[np.float64]:
    profile = np.ones(24, dtype=np.float64)
    profile[0:6] = NIGHT
    profile[9:17] = BUSINESS
    profile[12:14] = LUNCH
    profile[19:22] = EVENING
    return profile


RAW_HOUR_PROFILE: Final = _raw_hour_profile()
# Normalised to a mean of 1 over the day, so an ordinary weekday carries the declared daily volume.
HOUR_PROFILE: Final = RAW_HOUR_PROFILE / RAW_HOUR_PROFILE.mean()

BLACK_FRIDAY_MULTIPLIER: Final = 8.0
CHRISTMAS_MULTIPLIER: Final = 6.0
VALENTINES_MULTIPLIER: Final = 4.0
BACK_TO_SCHOOL_MULTIPLIER: Final = 3.0
DAY_MS: Final = 86_400_000
HOUR_MS: Final = 3_600_000
_EPOCH: Final = date(1970, 1, 1)


def black_friday(year: int) -> date:
    """The day after the fourth Thursday of November."""
    first = date(year, 11, 1)
    first_thursday = first + timedelta(days=(3 - first.weekday()) % 7)
    return first_thursday + timedelta(days=22)


def cyber_monday(year: int) -> date:
    """The Monday after Black Friday."""
    return black_friday(year) + timedelta(days=3)


def seasonal_events(year: int) -> dict[str, tuple[date, date, float, tuple[str, ...]]]:
    """Each seasonal event of a year: (first day, last day inclusive, multiplier, categories)."""
    bf, cm = black_friday(year), cyber_monday(year)
    return {
        "black_friday": (bf, bf, BLACK_FRIDAY_MULTIPLIER, ("Electronics", "Clothing", "Home & Garden")),
        "cyber_monday": (cm, cm, BLACK_FRIDAY_MULTIPLIER, ("Electronics", "Clothing", "Home & Garden")),
        "christmas_run_up": (
            date(year, 12, 1),
            date(year, 12, 24),
            CHRISTMAS_MULTIPLIER,
            ("Toys", "Electronics", "Jewelry"),
        ),
        "valentines": (date(year, 2, 7), date(year, 2, 14), VALENTINES_MULTIPLIER, ("Jewelry", "Beauty")),
        "back_to_school": (
            date(year, 8, 1),
            date(year, 8, 31),
            BACK_TO_SCHOOL_MULTIPLIER,
            ("Books", "Electronics", "Clothing"),
        ),
    }


@lru_cache(maxsize=64)
def _year_table(year: int) -> tuple[int, npt.NDArray[np.float64]]:
    """(epoch day of Jan 1, (days_in_year, n_categories) multipliers); overlapping events take the max."""
    start = date(year, 1, 1)
    n_days = (date(year + 1, 1, 1) - start).days
    table = np.ones((n_days, len(CATEGORIES)), dtype=np.float64)
    for first, last, multiplier, categories in seasonal_events(year).values():
        rows = slice((first - start).days, (last - start).days + 1)
        for category in categories:
            col = CATEGORY_INDEX[category]
            table[rows, col] = np.maximum(table[rows, col], multiplier)
    table.setflags(write=False)
    return (start - _EPOCH).days, table


def category_multipliers(local_epoch_days: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """(n, n_categories) seasonal multipliers for local calendar days given as days since 1970-01-01."""
    days = np.asarray(local_epoch_days, dtype=np.int64)
    years = days.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    out = np.ones((days.size, len(CATEGORIES)), dtype=np.float64)
    flat_days, flat_years = days.ravel(), years.ravel()
    for year in np.unique(flat_years):
        first_day, table = _year_table(int(year))
        mask = flat_years == year
        out[mask] = table[flat_days[mask] - first_day]
    return out.reshape(*days.shape, len(CATEGORIES))


def volume_multipliers(
    local_epoch_ms: npt.NDArray[np.int64], *, daily: bool = True, weekly: bool = True, seasonal: bool = True
) -> npt.NDArray[np.float64]:
    """Traffic multiplier at local times: hour profile x weekend x seasonal lift of the category mix."""
    local = np.asarray(local_epoch_ms, dtype=np.int64)
    out = np.ones(local.shape, dtype=np.float64)
    days = local // DAY_MS
    if daily:
        out *= HOUR_PROFILE[(local // HOUR_MS) % 24]
    if weekly:
        weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        out *= np.where(weekday >= 5, WEEKEND, 1.0)
    if seasonal:
        out *= category_multipliers(days) @ BASE_SHARE
    return out


def category_mix(local_epoch_ms: npt.NDArray[np.int64], *, seasonal: bool = True) -> npt.NDArray[np.float64]:
    """(n, n_categories) probability of shopping each category at local times (rows sum to 1)."""
    local = np.asarray(local_epoch_ms, dtype=np.int64)
    if not seasonal:
        return np.broadcast_to(BASE_SHARE, (*local.shape, len(CATEGORIES))).copy()
    weights = category_multipliers(local // DAY_MS) * BASE_SHARE
    return np.asarray(weights / weights.sum(axis=-1, keepdims=True), dtype=np.float64)


def local_hour(local_epoch_ms: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    return np.asarray((np.asarray(local_epoch_ms, dtype=np.int64) // HOUR_MS) % 24, dtype=np.int64)
