"""Transactions tables in the real schema from plain arrays: for tests and the benchmark.

Segmentation reads only customer_id, event_time and total_amount; the other columns are filled with
plausible constants so the table is a valid ``TRANSACTIONS_SCHEMA`` table that other readers accept.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from ecap.schemas import CURRENCY, TRANSACTIONS_SCHEMA


def transactions_table(
    customer_ids: pa.Array | Sequence[str],
    event_times_us: npt.NDArray[np.int64],
    amount_cents: npt.NDArray[np.int64],
    first_id: int = 0,
) -> pa.Table:
    """One order per element: customer, UTC time in epoch microseconds, total in cents."""
    n = len(event_times_us)
    times = pa.array(np.asarray(event_times_us, dtype=np.int64), pa.timestamp("us", tz="UTC"))
    money = cents_to_money(np.asarray(amount_cents, dtype=np.int64))
    ids = np.arange(first_id, first_id + n)
    columns: dict[str, pa.Array] = {
        "transaction_id": pa.array([f"txn_{i:010d}" for i in ids]) if n < 200_000 else _ids("txn_", ids),
        "customer_id": pa.array(customer_ids, pa.string()),
        "event_time": times,
        "event_date": pc.cast(times, pa.date32()),
        "total_amount": money,
        "subtotal": money,
        "currency": pa.array(np.full(n, CURRENCY, dtype=object), pa.string()),
    }
    arrays = [columns[f.name] if f.name in columns else pa.nulls(n, f.type) for f in TRANSACTIONS_SCHEMA]
    return pa.Table.from_arrays(arrays, schema=TRANSACTIONS_SCHEMA)


def cents_to_money(cents: npt.NDArray[np.int64]) -> pa.Array:
    """Exact decimal(12,2) from integer cents: the unscaled 128-bit values, built without Python objects."""
    words = np.empty((len(cents), 2), dtype=np.int64)  # little-endian int128: low word, sign-extended high
    words[:, 0] = cents
    words[:, 1] = np.where(cents < 0, -1, 0)
    return pa.Array.from_buffers(pa.decimal128(12, 2), len(cents), [None, pa.py_buffer(words.tobytes())])


def _ids(prefix: str, numbers: npt.NDArray[np.int64]) -> pa.Array:
    """``prefix`` + zero-padded number, vectorised (millions of ids in well under a second)."""
    digits = pc.utf8_lpad(pa.array(numbers).cast(pa.string()), 10, "0")
    return pc.binary_join_element_wise(pa.scalar(prefix), digits, "")


def customer_ids(numbers: npt.NDArray[np.int64]) -> pa.Array:
    """``cust_000042``-style ids (DOMAIN.md), vectorised."""
    digits = pc.utf8_lpad(pa.array(np.asarray(numbers, dtype=np.int64)).cast(pa.string()), 6, "0")
    return pc.binary_join_element_wise(pa.scalar("cust_"), digits, "")


def orders(rows: Sequence[tuple[str, str | dt.datetime, str | float]]) -> pa.Table:
    """A small table from (customer_id, ISO time or datetime, amount) tuples, for hand-made cases."""
    times = []
    cents = []
    for _, when, amount in rows:
        moment = dt.datetime.fromisoformat(when.replace("Z", "+00:00")) if isinstance(when, str) else when
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        times.append(int(moment.timestamp() * 1_000_000))
        cents.append(int((Decimal(str(amount)) * 100).to_integral_value()))
    return transactions_table(
        [r[0] for r in rows], np.asarray(times, dtype=np.int64), np.asarray(cents, dtype=np.int64)
    )


def shop_transactions(
    customers: int,
    transactions: int,
    start: dt.datetime,
    end: dt.datetime,
    rng: np.random.Generator,
    first_customer: int = 0,
) -> pa.Table:
    """About ``transactions`` orders by ``customers`` customers with heavy-tailed purchase counts.

    Orders per customer are 1 + negative-binomial(0.3): about a third buy once, a few buy very often.
    Each customer's first order is uniform over the period, later ones uniform after it; order totals
    are log-normal around a per-customer level.
    """
    if customers < 1 or transactions < customers:
        raise ValueError("need at least one customer and one order per customer")
    extra_mean = transactions / customers - 1
    shape = 0.3
    counts = 1 + (
        rng.negative_binomial(shape, shape / (shape + extra_mean), customers) if extra_mean > 0 else 0
    )
    counts = np.asarray(counts, dtype=np.int64)
    owner = np.repeat(np.arange(customers, dtype=np.int64), counts)
    start_us = int(start.timestamp() * 1_000_000)
    span_us = int((end - start).total_seconds() * 1_000_000)
    first = start_us + (rng.random(customers) * span_us * 0.98).astype(np.int64)
    is_first = np.zeros(len(owner), dtype=bool)
    is_first[np.concatenate([[0], np.cumsum(counts)[:-1]])] = True
    later = first[owner] + (rng.random(len(owner)) * (start_us + span_us - first[owner])).astype(np.int64)
    times = np.where(is_first, first[owner], later)
    level = rng.lognormal(3.6, 0.7, customers)
    cents = np.maximum(100, (level[owner] * rng.lognormal(0.0, 0.45, len(owner)) * 100).astype(np.int64))
    return transactions_table(customer_ids(owner + first_customer), times, cents)
