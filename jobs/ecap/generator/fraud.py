"""Injected fraud with ground-truth labels, shaped so that each type is recognisable.

Normal behaviour is kept clean on purpose (customers shop from their home city, on their one device,
at amounts near their usual basket, and never check out between 02:00 and 04:00 local time), so
each injected type stands out on the signal DOMAIN.md names:

- velocity_attack: 6-10 orders by one customer within a few minutes (more than the 5 a
  customer may legitimately place in the detector's default window);
- card_testing: 5-15 orders below 3.00 (a near-total discount on a cheap item) within minutes,
  paid by credit card;
- amount_anomaly: one order of 5-20x the customer's average so far (customers with >= 2 orders);
- location_anomaly: an order at home, then 10-60 minutes later one from a city > 5000 km away;
- time_anomaly: an order between 02:00 and 04:00 in the customer's local time;
- device_anomaly: an order from a device the customer (with >= 2 orders) has never used.

A planner turns the configured rate (share of all transactions) into incidents: every normal order
earns ``rate / (1 - rate)`` of credit, an incident is placed once the credit covers its size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from ecap import schemas

from .calendar import CATEGORY_INDEX, DAY_MS, HOUR_MS
from .catalog import PRICE_RANGES_CENTS, Catalog
from .errors import GeneratorError
from .orders import TAX_BASIS_POINTS, Order, OrderHistory, draw_payment
from .population import Population, random_device
from .sessions import QUIET_HOURS, T

BURST_SIZES: Final[dict[str, tuple[int, int]]] = {"velocity_attack": (6, 10), "card_testing": (5, 15)}
AMOUNT_FACTOR_RANGE: Final = (5.0, 20.0)
CARD_TEST_TOTAL_CENTS: Final = (50, 299)
IMPOSSIBLE_TRAVEL_MIN_KM: Final = 5_000.0
MIN_HISTORY: Final = 2
SESSION_GAP_MS: Final = (3_000, 15_000)
ORDER_AFTER_CHECKOUT_MS: Final = 200
SESSION_LEAD_MS: Final = 2 * SESSION_GAP_MS[1] + ORDER_AFTER_CHECKOUT_MS
"""Longest synthetic session before its order (one item: add, begin checkout, complete)."""


@dataclass(frozen=True)
class Incident:
    fraud_type: str
    size: int


class FraudPlanner:
    """Turns a target share of fraudulent transactions into a schedule of incidents."""

    def __init__(self, rate: float, types: list[str], rng: np.random.Generator) -> None:
        unknown = sorted(set(types) - set(schemas.FRAUD_TYPES))
        if unknown:
            raise GeneratorError(f"unknown fraud types {unknown}; valid: {', '.join(schemas.FRAUD_TYPES)}")
        self.rate = rate
        self.types = sorted(set(types), key=schemas.FRAUD_TYPES.index)
        self.rng = rng
        self.credit = 0.0
        self.pending: Incident | None = None

    def earn(self, normal_orders: int) -> None:
        if self.rate > 0:
            self.credit += normal_orders * self.rate / (1.0 - self.rate)

    def next_due(self) -> Incident | None:
        """The next incident once enough credit has accrued (the same one until it is placed)."""
        if self.rate <= 0 or not self.types:
            return None
        if self.pending is None:
            fraud_type = self.types[int(self.rng.integers(0, len(self.types)))]
            lo, hi = BURST_SIZES.get(fraud_type, (1, 1))
            self.pending = Incident(fraud_type, int(self.rng.integers(lo, hi + 1)))
        return self.pending if self.credit >= self.pending.size else None

    def skip(self) -> None:
        """Give up on the pending incident (nobody eligible now); its credit stays for the next one."""
        self.pending = None

    def placed(self) -> None:
        if self.pending is None:
            raise GeneratorError("fraud planner: placed() without a due incident")
        self.credit -= self.pending.size
        self.pending = None


@dataclass
class FraudContext:
    """What incident builders read: the shop's state and a few generator services."""

    rng: np.random.Generator
    population: Population
    catalog: Catalog
    history: OrderHistory
    offsets_ms: Callable[[int], npt.NDArray[np.int64]]
    distances_km: npt.NDArray[np.float64]
    new_session_id: Callable[[], str]
    channel_for: Callable[[int], str]
    basket: Callable[[int, int], list[tuple[int, int, int]]]
    """(customer, epoch ms) -> a normal basket for that customer at that time."""


def _with_history(ctx: FraudContext, minimum: int = MIN_HISTORY) -> npt.NDArray[np.int64]:
    return np.flatnonzero(ctx.history.count >= minimum)


def _session_events(
    items: list[tuple[int, int, int]], checkout_ms: int, rng: np.random.Generator
) -> list[tuple[int, int, int]]:
    """A short, purposeful session: add each item, begin checkout, complete it."""
    n_steps = len(items) + 2
    gaps = rng.integers(*SESSION_GAP_MS, size=n_steps - 1)
    times = checkout_ms - np.concatenate([np.cumsum(gaps[::-1])[::-1], [0]])
    events = [(T["add_to_cart"], product, int(times[k])) for k, (product, _, _) in enumerate(items)]
    events.append((T["begin_checkout"], -1, int(times[-2])))
    events.append((T["complete_checkout"], -1, int(times[-1])))
    return events


def _order(
    ctx: FraudContext,
    customer: int,
    ts_ms: int,
    items: list[tuple[int, int, int]],
    label: str | None,
    *,
    city: int | None = None,
    device_json: str | None = None,
    discount_cents: int = 0,
    payment: str | None = None,
) -> Order:
    pop = ctx.population
    return Order(
        ts_ms=ts_ms,
        customer=customer,
        session_id=ctx.new_session_id(),
        city=int(pop.city[customer]) if city is None else city,
        device_json=pop.device_json[customer] if device_json is None else device_json,
        channel=ctx.channel_for(customer),
        segment=int(pop.tier[customer]),
        items=items,
        discount_cents=discount_cents,
        payment=draw_payment(float(ctx.rng.random())) if payment is None else payment,
        label=label,
        session_events=_session_events(items, ts_ms - ORDER_AFTER_CHECKOUT_MS, ctx.rng),
    )


def _quiet(ctx: FraudContext, city: int, ts: int) -> bool:
    """Whether ``ts`` falls in the local quiet hours (02-04) that only time_anomaly may use."""
    hour = ((ts + int(ctx.offsets_ms(ts)[city])) // HOUR_MS) % 24
    return QUIET_HOURS[0] <= hour < QUIET_HOURS[1]


def _start(ctx: FraudContext, t0: int, t1: int, city: int, span_ms: int = 0) -> int | None:
    """An order time for the window, shifted by SESSION_LEAD_MS so that the short session before
    it starts inside the window, outside the city's quiet hours (for ``span_ms`` after it too);
    None if the window has no such moment."""
    for _ in range(8):
        ts = int(ctx.rng.integers(t0, t1)) + SESSION_LEAD_MS
        if not (_quiet(ctx, city, ts) or _quiet(ctx, city, ts + span_ms)):
            return ts
    return None


def _start_after_history(ctx: FraudContext, customer: int, t0: int, t1: int) -> int | None:
    """Like ``_start``, but after every order the customer already has (at least a minute later).

    The history already holds this window's orders, some of them later than a random moment in it:
    "5-20x the usual spend" and "a never-seen device" only mean something against orders before.
    """
    last = int(ctx.history.last_ts_ms[customer])
    lower = max(t0, last + 60_000 - SESSION_LEAD_MS)
    if lower >= t1:
        return None
    return _start(ctx, lower, t1, int(ctx.population.city[customer]))


def _established_customer(ctx: FraudContext, t0: int, t1: int) -> tuple[int, int] | None:
    """A customer with enough history, and an order time after all of it (None if none fits)."""
    candidates = _with_history(ctx)
    if candidates.size == 0:
        return None
    customer = int(candidates[int(ctx.rng.integers(0, candidates.size))])
    ts = _start_after_history(ctx, customer, t0, t1)
    return None if ts is None else (customer, ts)


def _any_customer(ctx: FraudContext) -> int:
    return int(ctx.rng.integers(0, ctx.population.size))


def velocity_attack(ctx: FraudContext, incident: Incident, t0: int, t1: int) -> list[Order] | None:
    customer = _any_customer(ctx)
    start = _start(ctx, t0, t1, int(ctx.population.city[customer]), span_ms=incident.size * 40_000)
    if start is None:
        return None
    spacing = ctx.rng.integers(10_000, 40_000, size=incident.size)
    times = start + np.cumsum(spacing) - spacing[0]
    return [
        _order(ctx, customer, int(ts), ctx.basket(customer, int(ts)), incident.fraud_type) for ts in times
    ]


def _throwaway_account(ctx: FraudContext) -> int:
    """A "new"-tier account that has never ordered (what card testers register), else anyone."""
    fresh = np.flatnonzero((ctx.history.count == 0) & (ctx.population.tier == 0))
    return int(fresh[int(ctx.rng.integers(0, fresh.size))]) if fresh.size else _any_customer(ctx)


def card_testing(ctx: FraudContext, incident: Incident, t0: int, t1: int) -> list[Order] | None:
    customer = _throwaway_account(ctx)
    start = _start(ctx, t0, t1, int(ctx.population.city[customer]), span_ms=incident.size * 30_000)
    if start is None:
        return None
    spacing = ctx.rng.integers(5_000, 30_000, size=incident.size)
    times = start + np.cumsum(spacing) - spacing[0]
    cheap = ctx.catalog.pick(
        np.full(incident.size, CATEGORY_INDEX["Books"], dtype=np.int64),
        ctx.rng.uniform(500, 1_200, size=incident.size),
    )
    orders = []
    for ts, product in zip(times.tolist(), cheap.tolist(), strict=True):
        price = ctx.catalog.price_at(product, ts)
        target = int(ctx.rng.integers(*CARD_TEST_TOTAL_CENTS))
        # The pre-tax amount that lands the total on the tiny target: a near-total "discount".
        rate = int(TAX_BASIS_POINTS[int(ctx.population.city[customer])])
        taxable = max(1, target * 10_000 // (10_000 + rate))
        orders.append(
            _order(
                ctx,
                customer,
                ts,
                [(product, price, 1)],
                incident.fraud_type,
                payment="credit_card",
                discount_cents=max(0, price - taxable),
            )
        )
    return orders


def amount_anomaly(ctx: FraudContext, incident: Incident, t0: int, t1: int) -> list[Order] | None:
    picked = _established_customer(ctx, t0, t1)
    if picked is None:
        return None
    customer, ts = picked
    usual = ctx.history.usual_spend_cents(customer)
    factor = float(ctx.rng.uniform(*AMOUNT_FACTOR_RANGE))
    target = usual * factor
    # Spend it in the categories that can carry a large ticket, in as few units as possible.
    category = CATEGORY_INDEX["Jewelry"] if ctx.rng.random() < 0.5 else CATEGORY_INDEX["Electronics"]
    max_price = float(PRICE_RANGES_CENTS[category, 1])
    quantity = max(1, int(np.ceil(target / (max_price * 0.9))))
    product = int(ctx.catalog.pick(np.asarray([category]), np.asarray([target / quantity]))[0])
    price = ctx.catalog.price_at(product, ts)
    quantity = max(1, round(target / price))
    return [_order(ctx, customer, ts, [(product, price, quantity)], incident.fraud_type)]


def location_anomaly(ctx: FraudContext, incident: Incident, t0: int, t1: int) -> list[Order] | None:
    candidates = _with_history(ctx, 1)
    if candidates.size == 0:
        return None
    customer = int(candidates[int(ctx.rng.integers(0, candidates.size))])
    home = int(ctx.population.city[customer])
    far = np.flatnonzero(ctx.distances_km[home] > IMPOSSIBLE_TRAVEL_MIN_KM)
    if far.size == 0:
        return None
    first = _start(ctx, t0, t1, home)
    if first is None:
        return None
    second = first + int(ctx.rng.integers(10 * 60_000, 60 * 60_000))
    far = np.asarray([c for c in far.tolist() if not _quiet(ctx, c, second)], dtype=np.int64)
    if far.size == 0:
        return None
    elsewhere = int(far[int(ctx.rng.integers(0, far.size))])
    at_home = _order(ctx, customer, first, ctx.basket(customer, first), None)
    away = _order(ctx, customer, second, ctx.basket(customer, second), incident.fraud_type, city=elsewhere)
    return [at_home, away]


def time_anomaly(ctx: FraudContext, incident: Incident, t0: int, t1: int) -> list[Order] | None:
    """An order at 02:00-04:00 local: choose a city where such a moment falls inside [t0, t1)."""
    candidates = _with_history(ctx, 1)
    if candidates.size == 0:
        return None
    offsets = ctx.offsets_ms(t0)
    local0 = t0 + SESSION_LEAD_MS + offsets
    day = local0 // DAY_MS * DAY_MS
    windows = []
    for shift in (-DAY_MS, 0, DAY_MS):
        lo = np.maximum(day + shift + QUIET_HOURS[0] * HOUR_MS, local0)
        hi = np.minimum(day + shift + QUIET_HOURS[1] * HOUR_MS, t1 + SESSION_LEAD_MS + offsets)
        windows.append((lo, hi))
    cities = ctx.population.city[candidates]
    open_window = np.zeros(candidates.size, dtype=bool)
    for lo, hi in windows:
        open_window |= (hi - lo)[cities] > 0
    eligible = candidates[open_window]
    if eligible.size == 0:
        return None
    customer = int(eligible[int(ctx.rng.integers(0, eligible.size))])
    city = int(ctx.population.city[customer])
    for lo, hi in windows:
        if hi[city] > lo[city]:
            ts = int(ctx.rng.integers(lo[city], hi[city])) - int(offsets[city])
            return [_order(ctx, customer, ts, ctx.basket(customer, ts), incident.fraud_type)]
    return None


def device_anomaly(ctx: FraudContext, incident: Incident, t0: int, t1: int) -> list[Order] | None:
    picked = _established_customer(ctx, t0, t1)
    if picked is None:
        return None
    customer, ts = picked
    _, _, device = random_device(ctx.rng)
    return [_order(ctx, customer, ts, ctx.basket(customer, ts), incident.fraud_type, device_json=device)]


BUILDERS: Final[dict[str, Callable[[FraudContext, Incident, int, int], list[Order] | None]]] = {
    "velocity_attack": velocity_attack,
    "card_testing": card_testing,
    "amount_anomaly": amount_anomaly,
    "location_anomaly": location_anomaly,
    "time_anomaly": time_anomaly,
    "device_anomaly": device_anomaly,
}
