"""Seasonal events are computed for any year; hour and weekend multipliers follow DOMAIN.md."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from ecap.generator import calendar


@pytest.mark.parametrize(
    ("year", "friday", "monday"),
    [
        (2024, date(2024, 11, 29), date(2024, 12, 2)),
        (2025, date(2025, 11, 28), date(2025, 12, 1)),
        (2026, date(2026, 11, 27), date(2026, 11, 30)),
        (2030, date(2030, 11, 29), date(2030, 12, 2)),
    ],
)
def test_black_friday_is_the_day_after_the_fourth_thursday(year: int, friday: date, monday: date) -> None:
    assert calendar.black_friday(year) == friday
    assert calendar.cyber_monday(year) == monday
    assert friday.weekday() == 4 and monday.weekday() == 0


def _epoch_day(day: date) -> int:
    return (day - date(1970, 1, 1)).days


def _multipliers(day: date) -> dict[str, float]:
    row = calendar.category_multipliers(np.asarray([_epoch_day(day)]))[0]
    return dict(zip(calendar.CATEGORIES, row.tolist(), strict=True))


@pytest.mark.parametrize("year", [2025, 2026])
def test_seasonal_category_multipliers(year: int) -> None:
    bf = _multipliers(calendar.black_friday(year))
    assert bf["Electronics"] == bf["Clothing"] == bf["Home & Garden"] == 8.0
    assert bf["Books"] == 1.0
    cm = _multipliers(calendar.cyber_monday(year))
    assert cm["Electronics"] == 8.0 and cm["Home & Garden"] == 8.0
    xmas = _multipliers(date(year, 12, 18))
    assert xmas["Toys"] == xmas["Electronics"] == xmas["Jewelry"] == 6.0 and xmas["Clothing"] == 1.0
    valentine = _multipliers(date(year, 2, 13))
    assert valentine["Jewelry"] == valentine["Beauty"] == 4.0 and valentine["Toys"] == 1.0
    school = _multipliers(date(year, 8, 20))
    assert school["Books"] == school["Electronics"] == school["Clothing"] == 3.0
    assert set(_multipliers(date(year, 6, 10)).values()) == {1.0}
    # The Thursday before Black Friday is an ordinary day.
    thursday = calendar.black_friday(year).toordinal() - 1
    assert set(_multipliers(date.fromordinal(thursday)).values()) == {1.0}


def test_hour_profile_shape_and_normalisation() -> None:
    profile = calendar.HOUR_PROFILE
    assert profile.mean() == pytest.approx(1.0)
    raw = calendar.RAW_HOUR_PROFILE
    assert raw[3] == 0.3 and raw[10] == 1.5 and raw[12] == raw[13] == 2.0 and raw[20] == 2.0 and raw[7] == 1.0


def test_volume_multiplier_weekend_and_seasonal_lift() -> None:
    hour = calendar.HOUR_MS
    wednesday_noon = _epoch_day(date(2026, 3, 4)) * calendar.DAY_MS + 12 * hour
    saturday_noon = _epoch_day(date(2026, 3, 7)) * calendar.DAY_MS + 12 * hour
    bf_noon = _epoch_day(date(2026, 11, 27)) * calendar.DAY_MS + 12 * hour
    v = calendar.volume_multipliers(np.asarray([wednesday_noon, saturday_noon, bf_noon]))
    assert v[1] / v[0] == pytest.approx(1.5)
    lift = 1 - 0.18 - 0.22 - 0.14 + 8 * (0.18 + 0.22 + 0.14)
    assert v[2] / v[0] == pytest.approx(lift)
    flat = calendar.volume_multipliers(
        np.asarray([wednesday_noon, saturday_noon, bf_noon]), daily=False, weekly=False, seasonal=False
    )
    assert flat.tolist() == [1.0, 1.0, 1.0]


def test_category_mix_shifts_to_promoted_categories() -> None:
    ordinary = calendar.category_mix(np.asarray([_epoch_day(date(2026, 6, 10)) * calendar.DAY_MS]))[0]
    valentine = calendar.category_mix(np.asarray([_epoch_day(date(2026, 2, 12)) * calendar.DAY_MS]))[0]
    jewelry = calendar.CATEGORY_INDEX["Jewelry"]
    assert ordinary.sum() == pytest.approx(1.0) and valentine.sum() == pytest.approx(1.0)
    assert valentine[jewelry] > 2.5 * ordinary[jewelry]
