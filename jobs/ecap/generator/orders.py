"""Orders: baskets, money in integer cents, customer order history and the transaction wire record."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

from ecap import schemas

from .geography import CITIES, DEFAULT_TAX_RATE, TAX_RATES

PAYMENT_NAMES: Final[tuple[str, ...]] = tuple(schemas.PAYMENT_METHODS)
PAYMENT_CUMULATIVE: Final = np.cumsum(np.asarray(list(schemas.PAYMENT_METHODS.values()), dtype=np.float64))
# Tax rates in basis points per city, so tax is computed exactly on integer cents.
TAX_BASIS_POINTS: Final = np.asarray(
    [round(TAX_RATES.get(c.country, DEFAULT_TAX_RATE) * 10_000) for c in CITIES], dtype=np.int64
)
TAX_BASIS_POINTS_LIST: Final[list[int]] = TAX_BASIS_POINTS.tolist()
QUANTITY_CUMULATIVE: Final = np.cumsum([0.85, 0.12, 0.03])  # quantity 1, 2, 3 per add to cart
DISCOUNT_MIN_SUBTOTAL_CENTS: Final = 2_000
DISCOUNT_SHARE: Final = 0.25
DISCOUNT_PERCENTS: Final = (5, 10, 15, 20)


@dataclass
class Order:
    """One transaction; synthetic (fraud) orders also carry their short session's events."""

    ts_ms: int
    customer: int
    session_id: str
    city: int
    device_json: str
    channel: str
    segment: int
    items: list[tuple[int, int, int]]
    """(product index, unit price cents, quantity)."""
    discount_cents: int
    payment: str
    label: str | None = None
    session_events: list[tuple[int, int, int]] = field(default_factory=list)
    """(event type index, product index or -1, epoch ms) of a synthetic session, in order."""

    subtotal_cents: int = field(init=False)
    tax_cents: int = field(init=False)
    """Tax on (subtotal - discount) at the city's rate, rounded half up to the cent."""
    total_cents: int = field(init=False)

    def __post_init__(self) -> None:
        # Items, discount and city are settled when an order is created: compute the money once.
        subtotal = 0
        for _, price, qty in self.items:
            subtotal += price * qty
        self.subtotal_cents = subtotal
        taxable = subtotal - self.discount_cents
        self.tax_cents = (taxable * TAX_BASIS_POINTS_LIST[self.city] + 5_000) // 10_000
        self.total_cents = taxable + self.tax_cents


@dataclass
class OrderHistory:
    """What the shop knows of each customer's past orders (drives fraud targeting)."""

    count: npt.NDArray[np.int64]
    spend_cents: npt.NDArray[np.int64]
    last_ts_ms: npt.NDArray[np.int64]

    @classmethod
    def empty(cls, n_customers: int) -> OrderHistory:
        return cls(
            count=np.zeros(n_customers, dtype=np.int64),
            spend_cents=np.zeros(n_customers, dtype=np.int64),
            last_ts_ms=np.full(n_customers, -1, dtype=np.int64),
        )

    def record_many(self, orders: list[Order]) -> None:
        if not orders:
            return
        customers = np.asarray([o.customer for o in orders], dtype=np.int64)
        np.add.at(self.count, customers, 1)
        np.add.at(self.spend_cents, customers, np.asarray([o.total_cents for o in orders], dtype=np.int64))
        np.maximum.at(self.last_ts_ms, customers, np.asarray([o.ts_ms for o in orders], dtype=np.int64))

    def record(self, order: Order) -> None:
        self.count[order.customer] += 1
        self.spend_cents[order.customer] += order.total_cents
        self.last_ts_ms[order.customer] = max(int(self.last_ts_ms[order.customer]), order.ts_ms)

    def usual_spend_cents(self, customer: int) -> float:
        count = int(self.count[customer])
        return float(self.spend_cents[customer]) / count if count else 0.0


_PAYMENT_CUTS: Final[list[float]] = PAYMENT_CUMULATIVE[:-1].tolist()


def draw_payment(u: float) -> str:
    return PAYMENT_NAMES[bisect.bisect_right(_PAYMENT_CUTS, u)]


def draw_payments(rng: np.random.Generator, n: int) -> list[str]:
    index = np.searchsorted(PAYMENT_CUMULATIVE[:-1], rng.random(n), side="right")
    return [PAYMENT_NAMES[i] for i in index.tolist()]


def draw_quantities(rng: np.random.Generator, n: int) -> list[int]:
    """Units per add to cart: mostly 1, sometimes 2 or 3."""
    return (1 + np.searchsorted(QUANTITY_CUMULATIVE[:-1], rng.random(n), side="right")).tolist()  # type: ignore[no-any-return]


def discount_percents(rng: np.random.Generator, n: int) -> list[int]:
    """Promotion percentage offered to each of n orders (0 for most); applied by ``normal_discount``."""
    offered = rng.random(n) < DISCOUNT_SHARE
    percent = np.asarray(DISCOUNT_PERCENTS)[rng.integers(0, len(DISCOUNT_PERCENTS), size=n)]
    return np.where(offered, percent, 0).tolist()  # type: ignore[no-any-return]


def normal_discount(subtotal_cents: int, percent: int) -> int:
    """A promotion applies to the larger baskets only; never more than 20 %."""
    return 0 if subtotal_cents < DISCOUNT_MIN_SUBTOTAL_CENTS else subtotal_cents * percent // 100
