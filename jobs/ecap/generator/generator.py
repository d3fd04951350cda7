"""The synthetic shop: sessions, orders, catalog updates and injected fraud, as Kafka-ready bytes.

``ShopGenerator`` advances simulated time window by window. In each window it draws session starts
per city from the base rate and the local-time multipliers, walks the journeys, turns completed
checkouts into orders at the catalog's price of that moment, injects fraud, and serialises the
events of the emitted streams. Events that fall after the window (sessions still open) wait in a
buffer, so every yielded chunk holds exactly the events of its window, in time order.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, NamedTuple

import numpy as np
import numpy.typing as npt
from faker import Faker

from ecap import schemas
from ecap_operator.api.data_producer import DataProducerSpec

from . import calendar, sessions
from .catalog import ACTIVE, DISCONTINUED, OUT_OF_STOCK, PRICE_RANGES_CENTS, Catalog, build_catalog
from .encode import money_column, rfc3339_chars, rfc3339_ms, texts, uuid_chars, uuids
from .errors import GeneratorError
from .fraud import BUILDERS, FraudContext, FraudPlanner
from .geography import CITIES, distance_matrix_km, utc_offsets_ms
from .orders import (
    PAYMENT_NAMES,
    Order,
    OrderHistory,
    discount_percents,
    draw_payments,
    draw_quantities,
    normal_discount,
)
from .packed import PackedBatch, pack_pieces
from .population import SEGMENT_WEIGHTS, SEGMENTS, Population, build_population, channel_table

TRANSACTIONS: Final = "transactions"
USER_EVENTS: Final = "user-events"
PRODUCT_UPDATES: Final = "product-updates"
STREAMS: Final = (TRANSACTIONS, USER_EVENTS, PRODUCT_UPDATES)

ObjectArray = npt.NDArray[np.object_]
SEGMENT_CUMULATIVE: Final = np.cumsum(SEGMENT_WEIGHTS)[:-1]
SLICE_MS: Final = 15 * 60_000
"""Granularity at which local-time multipliers are evaluated, and of the catalog shoppers see (as of
their slice's start: a window of many slices does not show its first slice's catalog to all)."""
TARGET_CHUNK_EVENTS: Final = 120_000
"""Replay windows are sized for ~1/4 of this many events at the declared volume (peaks reach ~4x):
large enough that the fixed cost of a window (a few hundred numpy calls) is small per event."""
MAX_FRAUD_MISSES_PER_WINDOW: Final = 6
WARM_UP_MS: Final = 30 * 60_000
WARM_UP_EVENTS: Final = 400_000
"""How far before a live start sessions are simulated so that the start is not a cold one."""
REPLAY_CHUNK_CHOICES_MS: Final = (86_400_000, 21_600_000, 3_600_000, 900_000, 300_000, 60_000, 10_000)
CHECKOUT_TO_ORDER_MS: Final = (50, 1_500)
ITEM_PRICE_SIGMA: Final = 0.2
ITEM_PRICE_SPREAD: Final = 1.5
"""Normal item prices stay within [level / 1.5, level x 1.5] of the customer's price level."""
MAX_BASKET_FACTOR: Final = 2.5
"""A normal basket's subtotal stays under 2.5x the customer's price level (amount_anomaly is >= 5x)."""
MAX_CART_PRODUCTS: Final = 3
MAX_CART_UNITS: Final = 4
UPDATE_TYPE_WEIGHTS: Final = {"price_change": 0.35, "stock_update": 0.35, "description_update": 0.15,
                              "status_change": 0.15}  # fmt: skip
UPDATE_TYPES: Final = tuple(UPDATE_TYPE_WEIGHTS)
UPDATE_TYPE_INDEX: Final = {name: i for i, name in enumerate(UPDATE_TYPES)}
PRICE_CHANGE: Final = UPDATE_TYPE_INDEX["price_change"]
DESCRIPTION_UPDATE: Final = UPDATE_TYPE_INDEX["description_update"]
STATUS_CHANGE: Final = UPDATE_TYPE_INDEX["status_change"]
PRICE_CHANGE_SIGMA: Final = 0.12
EVENT_ID_OPEN: Final = b'{"event_id":"'
SESSION_ID_OPEN: Final = b'","session_id":"'
ID_BLOCK_WIDTH: Final = len(EVENT_ID_OPEN) + 36 + len(SESSION_ID_OPEN) + 36
CUSTOMER_PIECE_TABLE_MAX: Final = 100_000
"""Up to this many customers (~380 B each, ~40 MB at most), their user-event pieces are built once;
above, per window for the customers in it (~0.1 us more per event)."""
USER_EVENT_PIECES: Final = 4
"""A user event is assembled from 4 byte pieces (``ShopGenerator._emit_user_events``)."""
TX_TRANSACTION_ID_OPEN: Final = b'","transaction_id":"'
TX_CUSTOMER_OPEN: Final = b'","customer_id":"'
TX_HEAD_WIDTH: Final = len(EVENT_ID_OPEN) + 36 + len(TX_TRANSACTION_ID_OPEN) + 36 + len(TX_CUSTOMER_OPEN)
TX_TIMESTAMP_OPEN: Final = b'","timestamp":"'
TX_ITEMS_OPEN: Final = b'Z","items":['
TX_MIDDLE_WIDTH: Final = len(SESSION_ID_OPEN) + 36 + len(TX_TIMESTAMP_OPEN) + 23 + len(TX_ITEMS_OPEN)
TX_ITEM_SEPARATOR: Final = b","
TX_AMOUNT_LABELS: Final = (b'],"subtotal":', b',"discount":', b',"tax":', b',"total_amount":')
PU_PRODUCT_OPEN: Final = b'","product_id":"'
PU_HEAD_WIDTH: Final = len(EVENT_ID_OPEN) + 36 + len(PU_PRODUCT_OPEN)
PU_NAME_OPEN: Final = b'Z","name":'
PU_MOMENT_WIDTH: Final = 23 + len(PU_NAME_OPEN)
PU_PREVIOUS_OPEN: Final = b',"previous_price":'
PRODUCT_UPDATE_PIECES: Final = 10
"""A product update is assembled from 10 byte pieces (``ShopGenerator._emit_product_updates``)."""
TRANSACTION_PIECES: Final = 16
"""A transaction is assembled from 16 byte pieces (``ShopGenerator._emit_transactions``)."""
INSTANCE_SEED_TAG: Final = 0x5EED_1257
"""Mixed with the seed and an instance number: the entropy of a replica's own event stream."""


STREAM_PIECES: Final = {
    USER_EVENTS: USER_EVENT_PIECES,
    TRANSACTIONS: TRANSACTION_PIECES,
    PRODUCT_UPDATES: PRODUCT_UPDATE_PIECES,
}


@dataclass
class _UpdateTables:
    """Pieces of product updates that depend on the product (id, name, category: never change), the
    kind of update, or the (stock, status) pair; with the keys as a fixed-width bytes array."""

    product_type_open: ObjectArray
    name_category: ObjectArray
    kind: ObjectArray
    keys: npt.NDArray[np.bytes_]
    key_lengths: npt.NDArray[np.int64]
    stock_status_pieces: ObjectArray

    @classmethod
    def build(cls, catalog: Catalog) -> _UpdateTables:
        ids = [pid.encode() for pid in catalog.product_ids]
        return cls(
            product_type_open=_objects([pid + b'","update_type":"' for pid in ids]),
            name_category=_objects(
                [
                    f'{name},"category":"{calendar.CATEGORIES[c]}","price":'.encode()
                    for name, c in zip(catalog.name_json, catalog.category.tolist(), strict=True)
                ]
            ),
            kind=_objects([f'{kind}","timestamp":"'.encode() for kind in UPDATE_TYPES]),
            keys=np.asarray(ids, dtype=np.bytes_),
            key_lengths=np.fromiter(map(len, ids), dtype=np.int64, count=len(ids)),
            stock_status_pieces=np.empty(0, dtype=object),
        )

    def stock_status(self, largest_state: int) -> ObjectArray:
        """``,"stock":s,"status":"..","description":`` at index stock * statuses + status."""
        statuses = schemas.PRODUCT_STATUSES
        if self.stock_status_pieces.size <= largest_state:
            stocks = max(2 * (largest_state // len(statuses) + 1), 512)
            self.stock_status_pieces = _objects(
                [
                    f',"stock":{stock},"status":"{status}","description":'.encode()
                    for stock in range(stocks)
                    for status in statuses
                ]
            )
        return self.stock_status_pieces


@dataclass(frozen=True)
class _TransactionTails:
    """Pieces of a transaction after its amounts, from small tables: payment method with channel,
    the city's location (with the device's key), the fraud label (closing the record)."""

    payment_channel: dict[tuple[str, str], bytes]
    location: list[bytes]
    label: dict[str | None, bytes]

    @classmethod
    def build(cls, channels: Sequence[str], location_json: Sequence[str]) -> _TransactionTails:
        return cls(
            payment_channel={
                (payment, channel): (
                    f',"currency":"{schemas.CURRENCY}","payment_method":"{payment}","channel":"{channel}",'
                    '"location":'
                ).encode()
                for payment in PAYMENT_NAMES
                for channel in channels
            },
            location=[f'{location},"device":'.encode() for location in location_json],
            label={
                label: f',"injected_fraud":{"null" if label is None else json.dumps(label)}}}'.encode()
                for label in (None, *schemas.FRAUD_TYPES)
            },
        )


@dataclass(frozen=True)
class EventBatch:
    """Serialised records of one stream, ready for ``Producer.produce`` (key, value, timestamp)."""

    stream: str
    """"transactions" | "user-events" | "product-updates"."""
    keys: list[bytes]
    values: list[bytes]
    timestamps_ms: list[int]


class _Buffer:
    """Serialised events waiting for the window that contains their timestamp.

    A record is a row of ``width`` byte pieces whose concatenation is its value (user events are
    assembled from shared fragments that way, without a string per event), with its byte length,
    and its key in a fixed-width bytes array (ids: no NUL bytes) with the key's length. Records
    given as finished text take one piece and pad the row with empty ones.
    """

    def __init__(self, width: int) -> None:
        self.width = width
        self.parts: list[_Records] = []

    def add(self, ts: npt.NDArray[np.int64], keys: list[bytes], values: list[str]) -> None:
        """Records as finished JSON text."""
        if not keys:
            return
        encoded = [v.encode() for v in values]
        rows = np.full((len(encoded), self.width), b"", dtype=object)
        rows[:, 0] = encoded
        self.add_rows(
            _Records(
                np.asarray(ts, dtype=np.int64),
                np.asarray(keys, dtype=np.bytes_),
                np.fromiter(map(len, keys), dtype=np.int64, count=len(keys)),
                rows,
                np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)),
            )
        )

    def add_rows(self, records: _Records) -> None:
        if records.ts.size:
            self.parts.append(records)

    def take_before(self, end_ms: int | None) -> _Records:
        """Remove and return, in time order (stable), the events before ``end_ms`` (all when None).

        The rows are gathered in time order here, so a packed batch's values lie in record order
        (its consumer then reads the buffer front to back: measured ~0.1 s per 1M events cheaper
        to deliver than offsets permuted over it)."""
        if not self.parts:
            empty = np.zeros(0, dtype=np.int64)
            return _Records(
                empty, np.zeros(0, dtype="S1"), empty, np.empty((0, self.width), dtype=object), empty
            )
        parts = self.parts
        records = (
            parts[0]
            if len(parts) == 1
            else _Records(
                np.concatenate([p.ts for p in parts]),
                np.concatenate([p.keys for p in parts]),
                np.concatenate([p.key_lengths for p in parts]),
                np.concatenate([p.rows for p in parts]),
                np.concatenate([p.lengths for p in parts]),
            )
        )
        order = np.argsort(records.ts, kind="stable")
        split = order.size if end_ms is None else int(np.searchsorted(records.ts[order], end_ms, side="left"))
        keep = order[split:]
        self.parts = [records.take(keep)] if keep.size else []
        return records.take(order[:split])


class _Records(NamedTuple):
    ts: npt.NDArray[np.int64]
    keys: npt.NDArray[np.bytes_]
    key_lengths: npt.NDArray[np.int64]
    rows: ObjectArray
    lengths: npt.NDArray[np.int64]

    def take(self, index: npt.NDArray[np.intp]) -> _Records:
        return _Records(
            self.ts[index], self.keys[index], self.key_lengths[index], self.rows[index], self.lengths[index]
        )


def _put(block: npt.NDArray[np.uint8], at: int, piece: bytes | npt.NDArray[np.uint8]) -> int:
    """Write a constant piece or a per-row column of characters into a fixed-width block at ``at``."""
    if isinstance(piece, bytes):
        block[:, at : at + len(piece)] = np.frombuffer(piece, dtype=np.uint8)
        return at + len(piece)
    block[:, at : at + piece.shape[1]] = piece
    return at + int(piece.shape[1])


def _fixed_width_chars(pieces: ObjectArray, lengths: npt.NDArray[np.int64]) -> npt.NDArray[np.uint8] | None:
    """The pieces as rows of an (n, width) array of characters if all are ``width`` long, else None."""
    if lengths.size == 0 or not bool((lengths == lengths[0]).all()):
        return None
    joined = b"".join(pieces.tolist())
    return np.frombuffer(joined, dtype=np.uint8).reshape(lengths.size, int(lengths[0]))


def _byte_lengths(pieces: ObjectArray) -> npt.NDArray[np.int64]:
    return np.fromiter(map(len, pieces.tolist()), dtype=np.int64, count=pieces.size)


def _objects(items: Sequence[object]) -> ObjectArray:
    """A 1-d object array of exactly these objects (numpy would turn a list of bytes into an S array)."""
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def _epoch_ms(moment: datetime) -> int:
    """Naive datetimes are read as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(round(moment.timestamp() * 1000))


class ShopGenerator:
    """A deterministic synthetic shop for a ``DataProducer`` spec (same seed -> same bytes).

    Example::

        gen = ShopGenerator(spec)
        for chunk in gen.replay(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC), 2000):
            for batch in chunk:
                for key, value, ts in zip(batch.keys, batch.values, batch.timestamps_ms):
                    producer.produce(topic_for[batch.stream], value, key, timestamp=ts)
    """

    customer_piece_table_max: int = CUSTOMER_PIECE_TABLE_MAX

    def __init__(self, spec: DataProducerSpec, instance: int = 0) -> None:
        """``instance`` > 0 draws a different event stream over the same shop (replicas of one producer).

        The catalog and the customer population come from ``spec.seed`` alone, so every instance sells
        the same products to the same customers; sessions, orders, updates and fraud differ per instance.
        Instance 0 is the stream of the seed itself.
        """
        if instance < 0:
            raise GeneratorError(f"instance must be 0 or more, got {instance}")
        self.spec = spec
        self.instance = instance
        self.streams: frozenset[str] = frozenset(spec.topics.refs())
        self._sessions_needed = bool(self.streams & {TRANSACTIONS, USER_EVENTS})
        seeds = np.random.SeedSequence(spec.seed).spawn(4)
        if instance:
            seeds[1:] = np.random.SeedSequence([spec.seed, INSTANCE_SEED_TAG, instance]).spawn(3)
        build_rng = np.random.default_rng(seeds[0])
        self._rng = np.random.default_rng(seeds[1])
        faker = Faker()
        faker.seed_instance(spec.seed)
        self.catalog: Catalog = build_catalog(build_rng, faker, spec.products)
        self.population: Population = (
            build_population(build_rng, spec.customers)
            if self._sessions_needed
            else build_population(build_rng, 1)
        )
        self.history = OrderHistory.empty(self.population.size)
        self._city_share = self.population.city_shares()
        self._distances = distance_matrix_km()
        self._channels, self._channel_cum = channel_table()
        self._planner = FraudPlanner(spec.fraud.rate, list(spec.fraud.types), np.random.default_rng(seeds[2]))
        self._buffers = {stream: _Buffer(STREAM_PIECES.get(stream, 1)) for stream in STREAMS}
        self._tx_quantity: ObjectArray = np.empty(0, dtype=object)
        self._tx_heads: ObjectArray | None = None
        self._pu: _UpdateTables | None = None
        self._product_categories: list[int] = self.catalog.category.tolist()
        self._price_ranges: list[tuple[int, int]] = [(lo, hi) for lo, hi in PRICE_RANGES_CENTS.tolist()]
        self._tx_tails = _TransactionTails.build(self._channels, self.population.location_json)
        self._offset_cache: dict[int, npt.NDArray[np.int64]] = {}
        self._window_span = (0, 1)
        self._updates_until: int | None = None
        self._snapshot_sent = False
        self.window_end_ms: int | None = None
        """End (epoch ms, exclusive) of the window of the last yielded chunk."""
        self._build_fragments()
        self._converting = (
            sessions.converting_journeys(np.random.default_rng(seeds[3]))
            if self._sessions_needed and USER_EVENTS not in self.streams
            else None
        )
        self._events_per_session = self._expected_emitted_per_session()

    # ------------------------------------------------------------------ public API

    def replay(self, start: datetime, end: datetime, events_per_day: int) -> Iterator[list[EventBatch]]:
        """Events of [start, end) as fast as possible, in time order, as lists (see ``replay_packed``)."""
        for chunk in self.replay_packed(start, end, events_per_day):
            yield [unpacked(batch) for batch in chunk]

    def replay_packed(
        self, start: datetime, end: datetime, events_per_day: int
    ) -> Iterator[list[PackedBatch]]:
        """Events of [start, end) as fast as possible, chunk by chunk in time order, packed.

        ``events_per_day`` is the volume of an ordinary weekday; weekends and seasonal events scale
        it up, the hour-of-day profile shapes it. Sessions that start before ``end`` are emitted whole
        (a last chunk may hold events a little after ``end``).
        """
        t0, t_end = _epoch_ms(start), _epoch_ms(end)
        if t_end <= t0:
            raise GeneratorError(f"replay: end {end.isoformat()} must be after start {start.isoformat()}")
        if events_per_day <= 0:
            raise GeneratorError(f"replay: events_per_day must be positive, got {events_per_day}")
        per_ms = events_per_day / calendar.DAY_MS
        # Shoppers see the catalog as of their 15-minute slice, whatever the window's length.
        chunk_ms = next(
            (c for c in REPLAY_CHUNK_CHOICES_MS if per_ms * c * 4 <= TARGET_CHUNK_EVENTS),
            REPLAY_CHUNK_CHOICES_MS[-1],
        )
        while t0 < t_end:
            t1 = min(t_end, (t0 // chunk_ms + 1) * chunk_ms)
            chunk = self._window(t0, t1, per_ms)
            if chunk:
                yield chunk
            t0 = t1
        rest = self._drain(None)
        self.window_end_ms = t_end
        if rest:
            yield rest

    def realtime(
        self, rate: float, now: Callable[[], float] = time.time, interval_s: float = 1.0
    ) -> Iterator[list[EventBatch]]:
        """Endless consecutive windows of ``interval_s`` starting at ``now()`` (see ``realtime_packed``)."""
        for chunk in self.realtime_packed(rate, now, interval_s):
            yield [unpacked(batch) for batch in chunk]

    def realtime_packed(
        self, rate: float, now: Callable[[], float] = time.time, interval_s: float = 1.0
    ) -> Iterator[list[PackedBatch]]:
        """Endless consecutive windows of ``interval_s`` starting at ``now()``; the caller paces.

        ``rate`` is the base events/s of an ordinary weekday hour-average; the temporal multipliers of
        the simulated moment apply. After each chunk, ``window_end_ms`` tells when its window ends, so a
        producer sends a chunk once the wall clock has reached its start (and can measure its lag).
        """
        if rate <= 0:
            raise GeneratorError(f"realtime: rate must be positive, got {rate}")
        if interval_s <= 0:
            raise GeneratorError(f"realtime: interval_s must be positive, got {interval_s}")
        step = max(1, int(interval_s * 1000))
        t0 = int(now() * 1000)
        per_ms = rate / 1000.0
        self._warm_up(t0, per_ms)
        while True:
            t1 = t0 + step
            chunk = self._window(t0, t1, per_ms)
            yield chunk
            t0 = t1

    def _warm_up(self, t0: int, events_per_ms: float) -> None:
        """Open the sessions a live shop already has at ``t0`` (their events before ``t0`` are dropped),
        so the first seconds of a live run carry the full rate, not only first clicks."""
        if not self._sessions_needed:
            return
        session_rate, _ = self._rates(events_per_ms)
        # Simulating costs ~1 us per event: bound the warm-up to a few hundred thousand events.
        span = int(min(WARM_UP_MS, max(60_000.0, WARM_UP_EVENTS / max(events_per_ms, 1e-9))))
        orders = self._sessions(t0 - span, t0, session_rate, emit_from=t0)
        self.history.record_many(orders)
        self._emit_orders(orders)

    def events(self, start: datetime, end: datetime, events_per_day: int) -> dict[str, list[dict[str, Any]]]:
        """Decoded events of a replay, per stream (for tests and analysis; slow, small volumes only)."""
        return decode(chunk for chunk in self.replay(start, end, events_per_day))

    # ------------------------------------------------------------------ rates and windows

    def _expected_emitted_per_session(self) -> float:
        per_segment = []
        for seg in range(len(SEGMENTS)):
            counts = sessions.expected_counts(seg)
            emitted = 0.0
            if USER_EVENTS in self.streams:
                emitted += float(counts.sum())
            if TRANSACTIONS in self.streams:
                emitted += float(counts[sessions.T["complete_checkout"]])
            per_segment.append(emitted)
        return float(np.dot(SEGMENT_WEIGHTS, per_segment))

    def _rates(self, events_per_ms: float) -> tuple[float, float]:
        """(sessions per ms, product updates per ms) for a base emitted-events rate."""
        if not self._sessions_needed:
            return 0.0, events_per_ms
        share = self.spec.product_update_share if PRODUCT_UPDATES in self.streams else 0.0
        return events_per_ms * (1.0 - share) / self._events_per_session, events_per_ms * share

    def _window(self, t0: int, t1: int, events_per_ms: float) -> list[PackedBatch]:
        session_rate, update_rate = self._rates(events_per_ms)
        if PRODUCT_UPDATES in self.streams:
            if not self._snapshot_sent:
                self._catalog_snapshot(t0)
            horizon = t1 + (sessions.MAX_SESSION_MS + 60_000 if self._sessions_needed else 0)
            self._product_updates(self._updates_until or t0, horizon, update_rate)
        self.catalog.forget_before(t0)
        self._window_span = (t0, t1)
        if self._sessions_needed:
            orders = self._sessions(t0, t1, session_rate)
            self.history.record_many(orders)
            self._planner.earn(len(orders))
            fraud = self._inject_fraud(t0, t1)
            self._emit_orders(orders + fraud)
        self.window_end_ms = t1
        return self._drain(t1)

    def _drain(self, end_ms: int | None) -> list[PackedBatch]:
        out = []
        for stream in STREAMS:
            records = self._buffers[stream].take_before(end_ms)
            if records.ts.size:
                out.append(
                    pack_pieces(
                        stream, records.rows, records.lengths, records.keys, records.key_lengths, records.ts
                    )
                )
        return out

    def _offsets(self, epoch_ms: int) -> npt.NDArray[np.int64]:
        """Every city's UTC offset during the UTC hour containing ``epoch_ms`` (DST changes on hours)."""
        hour = epoch_ms // calendar.HOUR_MS
        cached = self._offset_cache.get(hour)
        if cached is None:
            if len(self._offset_cache) > 4096:
                self._offset_cache.clear()
            cached = utc_offsets_ms(hour * calendar.HOUR_MS + calendar.HOUR_MS // 2)
            self._offset_cache[hour] = cached
        return cached

    # ------------------------------------------------------------------ product updates

    def _catalog_snapshot(self, t0: int) -> None:
        """Every product's full state once, so the compacted topic knows the whole catalog."""
        cat = self.catalog
        n = cat.size
        self._emit_product_updates(
            np.full(n, t0, dtype=np.int64),
            list(range(n)),
            [UPDATE_TYPE_INDEX["stock_update"]] * n,
            [-1] * n,
            cat.price_cents.tolist(),
            cat.stock.tolist(),
            cat.status.tolist(),
            list(cat.descriptions),
        )
        self._snapshot_sent = True
        self._updates_until = t0

    def _product_updates(self, h0: int, h1: int, rate_per_ms: float) -> None:
        """Generate updates for [h0, h1) and apply them to the catalog in time order."""
        if h1 <= h0:
            return
        self._updates_until = h1
        n = int(self._rng.poisson(rate_per_ms * (h1 - h0)))
        if n == 0:
            return
        rng, cat = self._rng, self.catalog
        ts = np.sort(rng.integers(h0, h1, size=n))
        products = rng.integers(0, cat.size, size=n).tolist()
        kinds = rng.choice(len(UPDATE_TYPES), size=n, p=list(UPDATE_TYPE_WEIGHTS.values())).tolist()
        draws = rng.random((n, 2)).tolist()
        stock_update = UPDATE_TYPE_INDEX["stock_update"]
        # The state as Python lists for the loop (numpy scalars are slow one at a time), written back
        # after it; the price and status histories are kept by the catalog's own methods.
        price, stock, status = cat.price_cents.tolist(), cat.stock.tolist(), cat.status.tolist()
        category, ranges = self._product_categories, self._price_ranges
        active = np.bincount(cat.category[cat.status == ACTIVE], minlength=len(calendar.CATEGORIES)).tolist()
        previous_prices, prices, stocks, statuses, descriptions = [], [], [], [], []
        for i, (p, kind, (u1, u2), ts_ms) in enumerate(zip(products, kinds, draws, ts.tolist(), strict=True)):
            previous = -1
            if kind == STATUS_CHANGE:
                # Flip the status; a category always keeps at least one active product.
                c = category[p]
                if status[p] == ACTIVE:
                    if active[c] <= 1:
                        kind = kinds[i] = stock_update
                    else:
                        status[p] = DISCONTINUED if u1 < 0.2 else OUT_OF_STOCK
                        stock[p] = 0
                        active[c] -= 1
                        cat.set_status(p, status[p], ts_ms)
                else:
                    status[p] = ACTIVE
                    stock[p] = 20 + int(u2 * 480)
                    active[c] += 1
                    cat.set_status(p, ACTIVE, ts_ms)
            if kind == PRICE_CHANGE:
                previous = price[p]
                lo, hi = ranges[category[p]]
                factor = math.exp(PRICE_CHANGE_SIGMA * (2.0 * u1 - 1.0) * 1.7)
                new = int(min(hi, max(lo, (previous * factor) // 100 * 100 + 99)))
                if new == previous:
                    new = max(lo, previous - 100) if previous - 100 >= lo else min(hi, previous + 100)
                price[p] = new
                cat.set_price(p, new, ts_ms)
            elif kind == stock_update:
                stock[p] = 0 if status[p] != ACTIVE else 1 + int(u1 * 499)
            elif kind == DESCRIPTION_UPDATE:
                cat.set_description(p, int(u1 * len(cat.sentences)))
            previous_prices.append(previous)
            prices.append(price[p])
            stocks.append(stock[p])
            statuses.append(status[p])
            descriptions.append(cat.descriptions[p])
        cat.price_cents[:] = price
        cat.stock[:] = stock
        cat.status[:] = status
        self._emit_product_updates(
            ts, products, kinds, previous_prices, prices, stocks, statuses, descriptions
        )

    def _emit_product_updates(
        self,
        ts: npt.NDArray[np.int64],
        products: list[int],
        kinds: list[int],
        previous_prices: list[int],
        prices: list[int],
        stocks: list[int],
        statuses: list[int],
        descriptions: list[str],
    ) -> None:
        """Updates as rows of byte pieces (the product-updates record of ``schemas``): the product's
        state after each update, given per update; -1 as previous price is ``null``. The id and the
        timestamp are fixed-width byte columns, money is formatted by numpy, the rest comes from
        per-product, per-kind and per-(stock, status) tables."""
        n = len(products)
        if n == 0:
            return
        stamps = rfc3339_chars(ts)
        if stamps is None:
            raise GeneratorError("product updates: timestamps must fall in the years 0000-9999")
        head = np.empty((n, PU_HEAD_WIDTH), dtype=np.uint8)
        at = 0
        for piece in (EVENT_ID_OPEN, uuid_chars(self._rng, n), PU_PRODUCT_OPEN):
            at = _put(head, at, piece)
        moment = np.empty((n, PU_MOMENT_WIDTH), dtype=np.uint8)
        _put(moment, _put(moment, 0, stamps), PU_NAME_OPEN)
        product_index = np.asarray(products, dtype=np.int64)
        tables = self._pu_tables()
        previous = np.asarray(previous_prices, dtype=np.int64)
        price_texts, _ = money_column(np.asarray(prices, dtype=np.int64))
        previous_texts, _ = money_column(np.maximum(previous, 0))
        previous_pieces = np.where(previous >= 0, previous_texts.astype(object), b"null")
        state = np.asarray(stocks, dtype=np.int64) * len(schemas.PRODUCT_STATUSES) + np.asarray(
            statuses, dtype=np.int64
        )
        rows = np.empty((n, PRODUCT_UPDATE_PIECES), dtype=object)
        rows[:, 0] = head.view(f"S{PU_HEAD_WIDTH}").ravel()
        rows[:, 1] = tables.product_type_open[product_index]
        rows[:, 2] = tables.kind[np.asarray(kinds, dtype=np.int64)]
        rows[:, 3] = moment.view(f"S{PU_MOMENT_WIDTH}").ravel()
        rows[:, 4] = tables.name_category[product_index]
        rows[:, 5] = price_texts
        rows[:, 6] = PU_PREVIOUS_OPEN
        rows[:, 7] = previous_pieces
        rows[:, 8] = tables.stock_status(int(state.max()))[state]
        rows[:, 9] = [f"{d}}}".encode() for d in descriptions]
        lengths = np.fromiter(map(len, rows.ravel().tolist()), dtype=np.int64, count=rows.size)
        keys = tables.keys[product_index]
        self._buffers[PRODUCT_UPDATES].add_rows(
            _Records(
                ts,
                keys,
                tables.key_lengths[product_index],
                rows,
                lengths.reshape(n, PRODUCT_UPDATE_PIECES).sum(axis=1),
            )
        )

    def _pu_tables(self) -> _UpdateTables:
        if self._pu is None:
            self._pu = _UpdateTables.build(self.catalog)
        return self._pu

    # ------------------------------------------------------------------ sessions

    def _sessions(self, t0: int, t1: int, session_rate: float, emit_from: int | None = None) -> list[Order]:
        """Sessions starting in [t0, t1): their events and the orders of their checkouts.

        With ``emit_from``, events (and checkouts) before that moment are simulated but not kept.
        """
        rng, pop = self._rng, self.population
        slice_starts = np.arange((t0 // SLICE_MS) * SLICE_MS, t1, SLICE_MS, dtype=np.int64)
        slice_starts[0] = t0
        slice_ends = np.append(slice_starts[1:], t1)
        durations = slice_ends - slice_starts
        offsets = np.stack([self._offsets(int(s)) for s in slice_starts])  # (S, C)
        mid_local = ((slice_starts + slice_ends) // 2)[:, None] + offsets
        patterns = self.spec.patterns
        volume = calendar.volume_multipliers(
            mid_local, daily=patterns.daily, weekly=patterns.weekly, seasonal=patterns.seasonal
        )
        expected = session_rate * durations[:, None] * self._city_share[None, :] * volume
        counts = rng.poisson(expected).ravel()
        n = int(counts.sum())
        if n == 0:
            return []
        cell = np.repeat(np.arange(counts.size), counts)
        slice_idx, city = cell // len(CITIES), (cell % len(CITIES)).astype(np.int64)
        start = slice_starts[slice_idx] + (rng.random(n) * durations[slice_idx]).astype(np.int64)
        order = np.argsort(start, kind="stable")
        slice_idx, city, start = slice_idx[order], city[order], start[order]
        offset = offsets[slice_idx, city]

        segment = np.searchsorted(SEGMENT_CUMULATIVE, rng.random(n), side="right").astype(np.int64)
        if self._converting is not None:
            # Only orders are emitted: keep just the sessions that will check out.
            kept = rng.random(n) < self._converting.conversion[segment]
            slice_idx, city, start, offset, segment = (
                slice_idx[kept],
                city[kept],
                start[kept],
                offset[kept],
                segment[kept],
            )
            n = int(kept.sum())
            if n == 0:
                return []
        customer = pop.draw(rng, city, segment)
        mix = calendar.category_mix(start + offset, seasonal=patterns.seasonal) * pop.compatible[customer]
        mix_cum = np.cumsum(mix, axis=1)
        focus = np.minimum(
            (mix_cum < (rng.random(n) * mix_cum[:, -1])[:, None]).sum(axis=1), len(calendar.CATEGORIES) - 1
        ).astype(np.int64)
        dev_type = pop.device_type[customer]
        channel = np.minimum(
            (self._channel_cum[dev_type] < rng.random(n)[:, None]).sum(axis=1), len(self._channels) - 1
        )

        if self._converting is None:
            j = sessions.simulate(rng, segment)
        else:
            j = self._converting.draw(rng, segment)
        m = j.session.size
        ev_session, ev_type, ev_seq = j.session, j.event_type, j.sequence
        gaps = sessions.gaps_ms(rng, m)
        gaps[j.starts[:-1][np.diff(j.starts) > 0]] = 0
        csum = np.cumsum(gaps)
        ev_ts = start[ev_session] + csum - csum[j.starts[ev_session]]

        # Shoppers browse the catalog as of the start of their 15-minute slice (a window may hold many).
        moment = slice_starts[slice_idx]
        ev_product = self._assign_products(rng, ev_session, ev_type, focus, customer, moment)

        # Normal customers do not complete checkouts in the quiet hours: such sessions end before.
        checkout = ev_type == sessions.T["complete_checkout"]
        local_hour = ((ev_ts + offset[ev_session]) // calendar.HOUR_MS) % 24
        quiet = checkout & (local_hour >= sessions.QUIET_HOURS[0]) & (local_hour < sessions.QUIET_HOURS[1])
        if quiet.any():
            cut = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
            np.minimum.at(cut, ev_session[quiet], ev_seq[quiet])
            keep = ev_seq < cut[ev_session]
            ev_session, ev_type, ev_seq = ev_session[keep], ev_type[keep], ev_seq[keep]
            ev_ts, ev_product = ev_ts[keep], ev_product[keep]
            checkout = checkout[keep]
        session_chars = uuid_chars(rng, n)
        if emit_from is not None:
            checkout = checkout & (ev_ts >= emit_from)
        orders = self._checkout_orders(
            rng,
            session_chars,
            ev_session,
            ev_type,
            ev_product,
            ev_ts,
            checkout,
            customer,
            city,
            segment,
            channel,
            focus,
            moment,
        )
        if emit_from is not None:
            shown = ev_ts >= emit_from
            ev_session, ev_type, ev_seq = ev_session[shown], ev_type[shown], ev_seq[shown]
            ev_ts, ev_product = ev_ts[shown], ev_product[shown]
        ev_frag = self._fragments_for(rng, ev_type, ev_product, focus[ev_session])
        if USER_EVENTS in self.streams:
            self._emit_user_events(
                rng,
                session_chars,
                customer,
                city,
                segment,
                channel,
                ev_session,
                ev_type,
                ev_seq,
                ev_ts,
                ev_frag,
            )
        return orders

    def _assign_products(
        self,
        rng: np.random.Generator,
        ev_session: npt.NDArray[np.int64],
        ev_type: npt.NDArray[np.int64],
        focus: npt.NDArray[np.int64],
        customer: npt.NDArray[np.int64],
        moment: npt.NDArray[np.int64],
    ) -> npt.NDArray[np.int64]:
        """Product of each product event (events grouped by session, in order).

        A session's first product event and most product views discover a new product; other product
        events concern the product being looked at, and removing from the cart takes back the last
        product added (without changing what is being looked at). All done with running maxima instead
        of a per-session loop.
        """
        product = np.full(ev_type.size, -1, dtype=np.int64)
        idx = np.flatnonzero(np.isin(ev_type, list(sessions.PRODUCT_EVENTS)))
        if idx.size == 0:
            return product
        sess, types = ev_session[idx], ev_type[idx]
        targets = _item_targets(rng, self.population.price_level_cents[customer[sess]])
        position = np.arange(idx.size)
        first = np.ones(idx.size, dtype=bool)
        first[1:] = sess[1:] != sess[:-1]
        session_start = np.maximum.accumulate(np.where(first, position, -1))
        removal = types == sessions.T["remove_from_cart"]
        discovers = first | ((types == sessions.T["product_view"]) & (rng.random(idx.size) >= 0.25))
        # Only discovering events pick from the catalog (a target is drawn for every event all the same,
        # so the random stream is as before); the others look at the latest discovery of their session.
        found = np.flatnonzero(discovers)
        discovered = self.catalog.pick(focus[sess[found]], targets[found], moment[sess[found]])
        looked_at = discovered[np.cumsum(discovers) - 1]
        last_add = np.maximum.accumulate(np.where(types == sessions.T["add_to_cart"], position, -1))
        takes_back = removal & (last_add >= session_start)
        product[idx] = np.where(takes_back, looked_at[np.maximum(last_add, 0)], looked_at)
        return product

    def _checkout_orders(
        self,
        rng: np.random.Generator,
        session_chars: npt.NDArray[np.uint8],
        ev_session: npt.NDArray[np.int64],
        ev_type: npt.NDArray[np.int64],
        ev_product: npt.NDArray[np.int64],
        ev_ts: npt.NDArray[np.int64],
        checkout: npt.NDArray[np.bool_],
        customer: npt.NDArray[np.int64],
        city: npt.NDArray[np.int64],
        segment: npt.NDArray[np.int64],
        channel: npt.NDArray[np.int64],
        focus: npt.NDArray[np.int64],
        moment: npt.NDArray[np.int64],
    ) -> list[Order]:
        """One order per completed checkout, from what the session put in (and left in) the cart."""
        checkout_idx = np.flatnonzero(checkout)
        if checkout_idx.size == 0:
            return []
        pop, cat = self.population, self.catalog
        buying = ev_session[checkout_idx]
        fallback = cat.pick(
            focus[buying],
            _item_targets(rng, pop.price_level_cents[customer[buying]]),
            moment[buying],
        )
        quantities = draw_quantities(rng, ev_type.size)
        order_offsets = rng.integers(*CHECKOUT_TO_ORDER_MS, size=checkout_idx.size).tolist()
        payments = draw_payments(rng, checkout_idx.size)
        percents = discount_percents(rng, checkout_idx.size)
        levels = self._basket_caps
        add, remove, view = (
            sessions.T["add_to_cart"],
            sessions.T["remove_from_cart"],
            sessions.T["product_view"],
        )
        # Cart state changes only on add/remove events; the last product viewed (the fallback item of an
        # empty cart) comes from a running maximum. A cart is reset at each session and after each
        # checkout (a new cart segment), so only the few cart and checkout events are walked in Python.
        checkout_all = ev_type == sessions.T["complete_checkout"]
        position = np.arange(ev_type.size)
        resets = np.ones(ev_type.size, dtype=bool)
        resets[1:] = (ev_session[1:] != ev_session[:-1]) | checkout_all[:-1]
        segment_start = np.maximum.accumulate(np.where(resets, position, -1))
        last_view = np.maximum.accumulate(np.where(ev_type == view, position, -1))
        viewed_at = np.where(last_view >= segment_start, last_view, -1)[checkout_idx]
        # Per checkout (k): the item of an empty cart, and the session's facts.
        empty_cart_item = np.where(viewed_at >= 0, ev_product[np.maximum(viewed_at, 0)], fallback).tolist()
        checkout_ts = ev_ts[checkout_idx].tolist()
        buyers, buyer_cities = customer[buying].tolist(), city[buying].tolist()
        buyer_segments = segment[buying].tolist()
        buyer_channels = [self._channels[c] for c in channel[buying].tolist()]
        buyer_sessions = texts(session_chars[buying])
        # Only the carts of sessions that check out matter: the others are not walked at all.
        buys = np.zeros(int(ev_session.max()) + 1, dtype=bool)
        buys[buying] = True
        walk = np.flatnonzero(((ev_type == add) | (ev_type == remove) | checkout_all) & buys[ev_session])
        walked = zip(
            walk.tolist(),
            segment_start[walk].tolist(),
            ev_type[walk].tolist(),
            ev_product[walk].tolist(),
            checkout[walk].tolist(),
            strict=True,
        )
        orders = []
        k = 0
        price_at = cat.price_at
        cart: dict[int, int] = {}
        current_segment = -1
        for i, cart_segment, t, p, checks_out in walked:
            if cart_segment != current_segment:
                cart, current_segment = {}, cart_segment
            if t == add:
                if p in cart or len(cart) < MAX_CART_PRODUCTS:
                    cart[p] = min(cart.get(p, 0) + quantities[i], MAX_CART_UNITS)
                continue
            if t == remove:
                cart.pop(p, None)
                continue
            if not checks_out:
                continue
            basket = cart or {empty_cart_item[k]: 1}
            while sum(basket.values()) > MAX_CART_UNITS:
                basket.popitem()
            ts = checkout_ts[k] + order_offsets[k]
            c = buyers[k]
            items = [(p, price_at(p, ts), q) for p, q in basket.items()]
            subtotal = 0
            for _, price, q in items:
                subtotal += price * q
            if subtotal > levels[c]:
                items = _capped(items, levels[c])
                subtotal = sum(price * q for _, price, q in items)
            orders.append(
                Order(
                    ts_ms=ts,
                    customer=c,
                    session_id=buyer_sessions[k],
                    city=buyer_cities[k],
                    device_json=pop.device_json[c],
                    channel=buyer_channels[k],
                    segment=buyer_segments[k],
                    items=items,
                    discount_cents=normal_discount(subtotal, percents[k]),
                    payment=payments[k],
                )
            )
            k += 1
        return orders

    # ------------------------------------------------------------------ fraud

    def _basket_for(self, customer: int, ts: int) -> list[tuple[int, int, int]]:
        """A normal one-item basket of the customer, at the price of that moment."""
        pop, rng = self.population, self._rng
        compatible = np.flatnonzero(pop.compatible[customer])
        category = int(compatible[int(rng.integers(0, compatible.size))])
        target = _item_targets(rng, pop.price_level_cents[customer : customer + 1])
        product = int(self.catalog.pick(np.asarray([category]), target, self._slice_start(ts))[0])
        return [(product, self.catalog.price_at(product, ts), 1)]

    def _slice_start(self, ts: int) -> npt.NDArray[np.int64]:
        """The catalog moment of an order at ``ts`` in the current window: the start of its 15-minute
        slice, kept within the window's slices (the window start for a window of one slice)."""
        t0, t1 = self._window_span
        last = max(t0, (t1 - 1) // SLICE_MS * SLICE_MS)
        return np.asarray([min(max(t0, ts // SLICE_MS * SLICE_MS), last)], dtype=np.int64)

    def _channel_for(self, customer: int) -> str:
        cum = self._channel_cum[int(self.population.device_type[customer])]
        return self._channels[min(int(np.searchsorted(cum, self._rng.random(), side="right")), len(cum) - 1)]

    def _inject_fraud(self, t0: int, t1: int) -> list[Order]:
        ctx = FraudContext(
            rng=self._rng,
            population=self.population,
            catalog=self.catalog,
            history=self.history,
            offsets_ms=self._offsets,
            distances_km=self._distances,
            new_session_id=lambda: uuids(self._rng, 1)[0],
            channel_for=self._channel_for,
            basket=self._basket_for,
        )
        out: list[Order] = []
        misses = 0
        while (incident := self._planner.next_due()) is not None:
            placed = BUILDERS[incident.fraud_type](ctx, incident, t0, t1)
            if placed is None:
                # Nobody eligible in this window (no order history yet, no city at 02-04 local):
                # draw another type; after a few misses wait for the next window.
                self._planner.skip()
                misses += 1
                if misses >= MAX_FRAUD_MISSES_PER_WINDOW:
                    break
                continue
            self._planner.placed()
            for order in placed:
                self.history.record(order)
                if order.label is None:
                    self._planner.earn(1)
            out.extend(placed)
        return out

    # ------------------------------------------------------------------ serialisation

    def _build_fragments(self) -> None:
        """Pre-serialised ``product_id,category,search_query,page`` fragments, indexed per event."""
        cat = self.catalog
        frags = [
            f'"product_id":"{pid}","category":"{calendar.CATEGORIES[int(cat.category[p])]}",'
            f'"search_query":null,"page":"/products/{pid}"'
            for p, pid in enumerate(cat.product_ids)
        ]
        self._search_base = len(frags)
        for c, name in enumerate(calendar.CATEGORIES):
            for term in cat.search_terms[c]:
                query = term.replace(" ", "+")
                frags.append(
                    f'"product_id":null,"category":"{name}","search_query":{json.dumps(term)},'
                    f'"page":"/search?q={query}"'
                )
        self._page_base = len(frags)
        pages = ["/", "/deals", "/new-arrivals"]
        frags += [f'"product_id":null,"category":null,"search_query":null,"page":"{p}"' for p in pages]
        for name in calendar.CATEGORIES:
            slug = name.lower().replace(" & ", "-").replace(" ", "-")
            frags.append(
                f'"product_id":null,"category":"{name}","search_query":null,"page":"/category/{slug}"'
            )
        self._n_pages = len(frags) - self._page_base
        self._type_base = len(frags)
        fixed_pages = {
            "login": "/account/login", "logout": "/account/logout", "account_create": "/account/create",
            "begin_checkout": "/checkout", "complete_checkout": "/checkout/complete",
            "contact_support": "/support", "newsletter_signup": "/newsletter", "search": "/search",
            "page_view": "/",
        }  # fmt: skip
        for name in sessions.EVENT_TYPES:
            page = fixed_pages.get(name, "/cart" if name in ("add_to_cart", "remove_from_cart") else "/")
            frags.append(f'"product_id":null,"category":null,"search_query":null,"page":"{page}"')
        self._fragments = frags
        self._event_type_json = list(sessions.EVENT_TYPES)
        self._mid_table = [[_mid(segment, channel) for channel in self._channels] for segment in SEGMENTS]
        if USER_EVENTS in self.streams:
            self._build_user_event_tables()
        self._basket_caps: list[float] = (self.population.price_level_cents * MAX_BASKET_FACTOR).tolist()

    def _fragments_for(
        self,
        rng: np.random.Generator,
        ev_type: npt.NDArray[np.int64],
        ev_product: npt.NDArray[np.int64],
        ev_focus: npt.NDArray[np.int64],
    ) -> npt.NDArray[np.int64]:
        m = ev_type.size
        frag = self._type_base + ev_type
        search = ev_type == sessions.T["search"]
        frag = np.where(
            search,
            self._search_base
            + ev_focus * len(self.catalog.search_terms[0])
            + rng.integers(0, len(self.catalog.search_terms[0]), size=m),
            frag,
        )
        frag = np.where(
            ev_type == sessions.T["page_view"], self._page_base + rng.integers(0, self._n_pages, size=m), frag
        )
        return np.where(ev_product >= 0, ev_product, frag)

    def _build_user_event_tables(self) -> None:
        """Byte pieces of a user event shared by many events, with their byte lengths (see
        ``_emit_user_events``). The per-customer pieces are built once for a population of up to
        ``customer_piece_table_max`` customers, else per window for the customers in it (memory)."""
        self._ue_type = [f'{name}","timestamp":"'.encode() for name in self._event_type_json]
        self._ue_fragment = _objects([f'{frag},"location":'.encode() for frag in self._fragments])
        self._ue_seq_mid: ObjectArray = np.empty(0, dtype=object)
        self._ue_lengths = {
            "type": np.fromiter(map(len, self._ue_type), dtype=np.int64, count=len(self._ue_type)),
            "fragment": _byte_lengths(self._ue_fragment),
        }
        self._ue_customer_pieces = (
            self._customer_pieces(np.arange(self.population.size))
            if self.population.size <= self.customer_piece_table_max
            else None
        )
        self._ue_id_chars = (
            None
            if self._ue_customer_pieces is None
            else _fixed_width_chars(self._ue_customer_pieces[0], self._ue_customer_pieces[1])
        )

    def _customer_pieces(
        self, customers: npt.NDArray[np.int64]
    ) -> tuple[ObjectArray, npt.NDArray[np.int64], ObjectArray, npt.NDArray[np.int64]]:
        """The two per-customer pieces of these customers, with byte lengths: the customer id (with
        what surrounds it), and the location of the home city with the device (closing the event)."""
        pop = self.population
        locations, homes = pop.location_json, pop.city[customers].tolist()
        ids = _objects(
            [f'","customer_id":"{pop.customer_ids[c]}","event_type":"'.encode() for c in customers.tolist()]
        )
        tails = _objects(
            [
                f'{locations[home]},"device":{pop.device_json[c]}}}'.encode()
                for c, home in zip(customers.tolist(), homes, strict=True)
            ]
        )
        return ids, _byte_lengths(ids), tails, _byte_lengths(tails)

    def _sequence_mid_pieces(self, sequences: int) -> tuple[ObjectArray, npt.NDArray[np.int64]]:
        """``Z","sequence":q,"visitor_segment":..,"channel":..,`` for sequence numbers 1..``sequences``,
        at index (q - 1) * segments * channels + segment * channels + channel."""
        mids = [mid for row in self._mid_table for mid in row]
        if self._ue_seq_mid.size < sequences * len(mids):
            self._ue_seq_mid = _objects(
                [f'Z","sequence":{q + 1},{mid},'.encode() for q in range(sequences) for mid in mids]
            )
            self._ue_lengths["seq_mid"] = _byte_lengths(self._ue_seq_mid)
        return self._ue_seq_mid, self._ue_lengths["seq_mid"]

    def _emit_user_events(
        self,
        rng: np.random.Generator,
        session_chars: npt.NDArray[np.uint8],
        customer: npt.NDArray[np.int64],
        city: npt.NDArray[np.int64],
        segment: npt.NDArray[np.int64],
        channel: npt.NDArray[np.int64],
        ev_session: npt.NDArray[np.int64],
        ev_type: npt.NDArray[np.int64],
        ev_seq: npt.NDArray[np.int64],
        ev_ts: npt.NDArray[np.int64],
        ev_frag: npt.NDArray[np.int64],
    ) -> None:
        """Each event as a row of byte pieces, gathered from tables with numpy: no Python code and no
        string runs per event. The ids, and the event type with the timestamp, are fixed-width byte
        columns; the rest are pieces per customer (id; home location and device), sequence x segment
        x channel, and page fragment."""
        m = ev_type.size
        if m == 0:
            return
        stamps = rfc3339_chars(ev_ts)
        if stamps is None:
            raise GeneratorError("user events: timestamps must fall in the years 0000-9999")
        if not np.array_equal(self.population.city[customer], city):
            raise GeneratorError("user events: a session away from its customer's home city")
        cust = customer[ev_session]
        if self._ue_customer_pieces is None:
            present, cust = np.unique(cust, return_inverse=True)
            id_pieces, id_lengths, tails, tail_lengths = self._customer_pieces(present)
            id_chars = _fixed_width_chars(id_pieces, id_lengths)
        else:
            id_pieces, id_lengths, tails, tail_lengths = self._ue_customer_pieces
            id_chars = self._ue_id_chars
        type_lengths = self._ue_lengths["type"]
        typed_width = int(type_lengths.max()) + 23
        # The head of an event as one fixed-width column: the ids, the customer's piece when all are
        # as wide (customer ids below 1M), then per type its piece and the 23 timestamp characters;
        # the NUL padding after them is dropped when numpy makes the bytes objects.
        id_width = 0 if id_chars is None else int(id_chars.shape[1])
        typed_at = ID_BLOCK_WIDTH + id_width
        head = np.zeros((m, typed_at + typed_width), dtype=np.uint8)
        at = 0
        for piece in (EVENT_ID_OPEN, uuid_chars(rng, m), SESSION_ID_OPEN, session_chars[ev_session]):
            at = _put(head, at, piece)
        if id_chars is not None:
            head[:, ID_BLOCK_WIDTH:typed_at] = id_chars[cust]
        typed = head[:, typed_at:]
        for event_type in np.unique(ev_type).tolist():
            of_type = np.flatnonzero(ev_type == event_type)
            start = int(type_lengths[event_type])
            typed[of_type, :start] = np.frombuffer(self._ue_type[event_type], dtype=np.uint8)
            typed[of_type, start : start + 23] = stamps[of_type]
        n_channels = len(self._channels)
        seq_mid, seq_mid_lengths = self._sequence_mid_pieces(int(ev_seq.max()) + 1)
        seq_mid_index = ev_seq * (len(SEGMENTS) * n_channels) + (segment * n_channels + channel)[ev_session]
        rows = np.empty((m, USER_EVENT_PIECES), dtype=object)
        if id_chars is not None:
            rows[:, 0] = head.view(f"S{head.shape[1]}").ravel()
        else:
            ids_only = np.ascontiguousarray(head[:, :ID_BLOCK_WIDTH]).view(f"S{ID_BLOCK_WIDTH}").ravel()
            typed_only = np.ascontiguousarray(typed).view(f"S{typed_width}").ravel()
            rows[:, 0] = ids_only.astype(object) + id_pieces[cust] + typed_only.astype(object)
        rows[:, 1] = seq_mid[seq_mid_index]
        rows[:, 2] = self._ue_fragment[ev_frag]
        rows[:, 3] = tails[cust]
        byte_lengths = (
            (ID_BLOCK_WIDTH + 23)
            + id_lengths[cust]
            + type_lengths[ev_type]
            + seq_mid_lengths[seq_mid_index]
            + self._ue_lengths["fragment"][ev_frag]
            + tail_lengths[cust]
        )
        keys = session_chars.view("S36").ravel()[ev_session]
        self._buffers[USER_EVENTS].add_rows(
            _Records(ev_ts, keys, np.full(m, 36, dtype=np.int64), rows, byte_lengths)
        )

    def _tx_item_heads(self) -> ObjectArray:
        """``{"product_id":..,"category":..,"unit_price":`` per product (neither ever changes)."""
        if self._tx_heads is None:
            cat = self.catalog
            self._tx_heads = _objects(
                [
                    f'{{"product_id":"{pid}","category":"{calendar.CATEGORIES[c]}","unit_price":'.encode()
                    for pid, c in zip(cat.product_ids, cat.category.tolist(), strict=True)
                ]
            )
        return self._tx_heads

    def _emit_transactions(self, orders: list[Order]) -> None:
        """Each order's ``transactions`` record (as in ``schemas``) as a row of byte pieces: ids,
        session and timestamp as fixed-width byte columns, money formatted by numpy, the rest gathered
        from per-product, per-city and per-customer tables; the only Python per order reads its fields
        and joins its items."""
        n = len(orders)
        pop, rng = self.population, self._rng
        ids = uuid_chars(rng, 2 * n).reshape(n, 72)
        ts = np.fromiter((o.ts_ms for o in orders), dtype=np.int64, count=n)
        stamps = rfc3339_chars(ts)
        if stamps is None:
            raise GeneratorError("transactions: timestamps must fall in the years 0000-9999")
        session_bytes = "".join([o.session_id for o in orders]).encode()
        if len(session_bytes) != 36 * n:
            raise GeneratorError("transactions: a session id that is not a 36-character UUID")
        head = np.empty((n, TX_HEAD_WIDTH), dtype=np.uint8)
        at = 0
        for piece in (EVENT_ID_OPEN, ids[:, :36], TX_TRANSACTION_ID_OPEN, ids[:, 36:], TX_CUSTOMER_OPEN):
            at = _put(head, at, piece)
        middle = np.empty((n, TX_MIDDLE_WIDTH), dtype=np.uint8)
        at = 0
        session_chars = np.frombuffer(session_bytes, dtype=np.uint8).reshape(n, 36)
        for piece in (SESSION_ID_OPEN, session_chars, TX_TIMESTAMP_OPEN, stamps, TX_ITEMS_OPEN):
            at = _put(middle, at, piece)

        counts = np.fromiter((len(o.items) for o in orders), dtype=np.int64, count=n)
        flat = np.asarray([item for o in orders for item in o.items], dtype=np.int64).reshape(-1, 3)
        item_prices, _ = money_column(flat[:, 1])
        quantities = flat[:, 2]
        if self._tx_quantity.size <= int(quantities.max()):
            self._tx_quantity = _objects(
                [f',"quantity":{q}}}'.encode() for q in range(2 * int(quantities.max()) + 1)]
            )
        item_json = (
            self._tx_item_heads()[flat[:, 0]] + item_prices.astype(object) + self._tx_quantity[quantities]
        )
        first = np.cumsum(counts) - counts
        items = item_json[first]
        for extra in range(1, int(counts.max())):
            more = np.flatnonzero(counts > extra)
            items[more] = items[more] + TX_ITEM_SEPARATOR + item_json[first[more] + extra]

        money_cents = np.asarray(
            [(o.subtotal_cents, o.discount_cents, o.tax_cents, o.total_cents) for o in orders], dtype=np.int64
        )
        amounts, _ = money_column(money_cents.T.ravel())
        amount_pieces = amounts.astype(object).reshape(4, n)
        keys = [pop.customer_ids[o.customer].encode() for o in orders]
        tails = self._tx_tails
        rows = np.empty((n, TRANSACTION_PIECES), dtype=object)
        rows[:, 0] = head.view(f"S{TX_HEAD_WIDTH}").ravel()
        rows[:, 1] = _objects(keys)
        rows[:, 2] = middle.view(f"S{TX_MIDDLE_WIDTH}").ravel()
        rows[:, 3] = items
        for column, (label, amount) in enumerate(zip(TX_AMOUNT_LABELS, amount_pieces, strict=True)):
            rows[:, 4 + 2 * column] = label
            rows[:, 5 + 2 * column] = amount
        rows[:, 12] = [tails.payment_channel[(o.payment, o.channel)] for o in orders]
        rows[:, 13] = [tails.location[o.city] for o in orders]
        rows[:, 14] = [o.device_json.encode() for o in orders]
        rows[:, 15] = [tails.label[o.label] for o in orders]
        lengths = np.fromiter(map(len, rows.ravel().tolist()), dtype=np.int64, count=rows.size)
        byte_lengths = lengths.reshape(n, TRANSACTION_PIECES).sum(axis=1)
        key_array = np.asarray(keys, dtype=np.bytes_)
        key_lengths = np.fromiter(map(len, keys), dtype=np.int64, count=n)
        self._buffers[TRANSACTIONS].add_rows(_Records(ts, key_array, key_lengths, rows, byte_lengths))

    def _emit_orders(self, orders: list[Order]) -> None:
        if not orders:
            return
        pop, rng = self.population, self._rng
        if TRANSACTIONS in self.streams:
            self._emit_transactions(orders)
        synthetic = [o for o in orders if o.session_events]
        if USER_EVENTS in self.streams and synthetic:
            ev_ts_l: list[int] = []
            keys_l: list[bytes] = []
            parts: list[tuple[str, str, int, int, int, str, str]] = []
            for o in synthetic:
                head = _head(o.session_id, pop.customer_ids[o.customer])
                mid = _mid(SEGMENTS[o.segment], o.channel)
                tail = _tail(pop.location_json[o.city], o.device_json)
                for q, (t, p, ts_ms) in enumerate(o.session_events):
                    frag = p if p >= 0 else self._type_base + t
                    parts.append((head, mid, t, q + 1, frag, tail, o.session_id))
                    ev_ts_l.append(ts_ms)
            ts_arr = np.asarray(ev_ts_l, dtype=np.int64)
            ids = uuids(rng, len(parts))
            stamps = rfc3339_ms(ts_arr)
            values = []
            for k, (head, mid, t, q, frag, tail, sid) in enumerate(parts):
                event_type, fragment = self._event_type_json[t], self._fragments[frag]
                values.append(
                    f'{{"event_id":"{ids[k]}",{head},"event_type":"{event_type}","timestamp":"{stamps[k]}",'
                    f'"sequence":{q},{mid},{fragment},{tail}}}'
                )
                keys_l.append(sid.encode())
            self._buffers[USER_EVENTS].add(ts_arr, keys_l, values)


def _item_targets(rng: np.random.Generator, levels: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Prices a customer looks for: near their price level (so their orders have a usual size)."""
    spread = np.clip(
        rng.lognormal(0.0, ITEM_PRICE_SIGMA, levels.size), 1 / ITEM_PRICE_SPREAD, ITEM_PRICE_SPREAD
    )
    return np.asarray(levels * spread, dtype=np.float64)


def _capped(items: list[tuple[int, int, int]], max_subtotal: float) -> list[tuple[int, int, int]]:
    """Trim units, then products, until the basket fits the customer's usual budget (one unit stays)."""
    if sum(price * q for _, price, q in items) <= max_subtotal:
        return items
    items = list(items)
    while sum(price * q for _, price, q in items) > max_subtotal:
        product, price, quantity = items[-1]
        if quantity > 1:
            items[-1] = (product, price, quantity - 1)
        elif len(items) > 1:
            items.pop()
        else:
            break
    return items


def _head(session_id: str, customer_id: str) -> str:
    return f'"session_id":"{session_id}","customer_id":"{customer_id}"'


def _mid(segment: str, channel: str) -> str:
    return f'"visitor_segment":"{segment}","channel":"{channel}"'


def _tail(location_json: str, device_json: str) -> str:
    return f'"location":{location_json},"device":{device_json}'


def unpacked(batch: PackedBatch) -> EventBatch:
    """A packed batch as lists of bytes, one object per record (for in-process consumers)."""
    return EventBatch(batch.stream, batch.key_list(), batch.value_list(), batch.timestamps_ms.tolist())


def decode(chunks: Iterable[Sequence[EventBatch]]) -> dict[str, list[dict[str, Any]]]:
    """JSON-decode every record of the chunks, per stream, in emission order."""
    out: dict[str, list[dict[str, Any]]] = {stream: [] for stream in STREAMS}
    for chunk in chunks:
        for batch in chunk:
            out[batch.stream].extend(json.loads(v) for v in batch.values)
    return out
