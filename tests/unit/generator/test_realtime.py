"""Live mode: consecutive windows from the given clock, at the declared base rate times the multipliers."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from ecap.generator import GeneratorError, ShopGenerator, calendar
from ecap.generator.geography import utc_offsets_ms

from .conftest import make_spec

WEDNESDAY_NOON_UTC = datetime(2026, 3, 4, 12, tzinfo=UTC).timestamp()


def _expected_multiplier(generator: ShopGenerator, epoch_ms: int) -> float:
    local = epoch_ms + utc_offsets_ms(epoch_ms)
    return float(generator.population.city_shares() @ calendar.volume_multipliers(local))


def test_windows_follow_the_clock_and_the_rate() -> None:
    generator = ShopGenerator(make_spec(customers=3000))
    chunks = generator.realtime(rate=1000.0, now=lambda: WEDNESDAY_NOON_UTC, interval_s=0.5)
    start = int(WEDNESDAY_NOON_UTC * 1000)
    total = 0
    snapshot = generator.catalog.size
    for i in range(20):
        chunk = next(chunks)
        assert generator.window_end_ms == start + (i + 1) * 500
        for batch in chunk:
            assert all(start + i * 500 <= ts < start + (i + 1) * 500 for ts in batch.timestamps_ms)
            total += len(batch.values)
    expected = 1000.0 * 10 * _expected_multiplier(generator, start)
    # Warm start: sessions already open at the start contribute their later events from the first window.
    assert total - snapshot == pytest.approx(expected, rel=0.15)


def test_same_clock_same_stream() -> None:
    def first_chunks(seed: int) -> list[list[bytes]]:
        gen = ShopGenerator(make_spec(seed=seed, customers=500))
        stream = gen.realtime(rate=500.0, now=lambda: WEDNESDAY_NOON_UTC)
        return [[v for b in next(stream) for v in b.values] for _ in range(3)]

    assert first_chunks(5) == first_chunks(5)


def test_night_traffic_is_lower_than_lunch_traffic() -> None:
    """At 03:00 in Europe and the Americas' evening the mixture is lower than at European lunch."""

    def events_in(moment: datetime) -> int:
        gen = ShopGenerator(make_spec(topics={"userEvents": "u"}, customers=3000))
        stream = gen.realtime(rate=1000.0, now=lambda: moment.timestamp(), interval_s=2.0)
        return sum(len(b.values) for _ in range(5) for b in next(stream))

    lunch = events_in(datetime(2026, 3, 4, 12, tzinfo=UTC))
    night = events_in(datetime(2026, 3, 4, 3, tzinfo=UTC))
    gen = ShopGenerator(make_spec(customers=3000))
    ratio = _expected_multiplier(gen, int(datetime(2026, 3, 4, 12, tzinfo=UTC).timestamp() * 1000)) / (
        _expected_multiplier(gen, int(datetime(2026, 3, 4, 3, tzinfo=UTC).timestamp() * 1000))
    )
    assert ratio > 1.1
    assert lunch / night == pytest.approx(ratio, rel=0.2)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda g: next(g.realtime(rate=0.0)), "rate must be positive"),
        (lambda g: next(g.realtime(rate=10.0, interval_s=0)), "interval_s must be positive"),
        (
            lambda g: next(g.replay(datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC), 10)),
            "must be after start",
        ),
        (
            lambda g: next(g.replay(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC), 0)),
            "events_per_day must be positive",
        ),
    ],
)
def test_bad_input_is_a_clear_error(call: object, message: str) -> None:
    generator = ShopGenerator(make_spec(customers=50, products=20))
    with pytest.raises(GeneratorError, match=message):
        call(generator)  # type: ignore[operator]


def test_naive_datetimes_are_utc() -> None:
    a = ShopGenerator(make_spec(customers=200, products=30))
    b = ShopGenerator(make_spec(customers=200, products=30))
    naive = list(a.replay(datetime(2026, 1, 1), datetime(2026, 1, 1, 6), 2000))
    aware = list(b.replay(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 6, tzinfo=UTC), 2000))
    assert [x.values for c in naive for x in c] == [x.values for c in aware for x in c]
    assert np.all(
        np.diff([ts for c in naive for x in c for ts in x.timestamps_ms if x.stream == "user-events"]) >= 0
    )


def test_injected_fraud_stays_inside_short_live_windows() -> None:
    generator = ShopGenerator(make_spec(customers=300, fraud={"rate": 0.3}))
    stream = generator.realtime(rate=400.0, now=lambda: WEDNESDAY_NOON_UTC, interval_s=1.0)
    start = int(WEDNESDAY_NOON_UTC * 1000)
    labels = []
    for i in range(70):  # orders come ~30 s after their window (the session before them fits in it)
        for batch in next(stream):
            assert all(start + i * 1000 <= ts < start + (i + 1) * 1000 for ts in batch.timestamps_ms)
            if batch.stream == "transactions":
                labels += [b'"injected_fraud":null' not in v for v in batch.values]
    assert sum(labels) >= 5
