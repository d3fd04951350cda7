"""The shopper's journey: first-event weights and a full transition matrix over event types.

Sessions are simulated many at a time: every step draws the next event type of all open sessions
with one vectorised lookup. Rows whose probabilities DOMAIN.md fixes (search, add_to_cart,
begin_checkout) are the same for every visitor segment; more engaged segments stay longer because
the exit probability of the other rows shrinks for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from ecap import schemas

from .errors import GeneratorError

EVENT_TYPES: Final[tuple[str, ...]] = schemas.USER_EVENT_TYPES
EXIT: Final = len(EVENT_TYPES)
N_STATES: Final = EXIT + 1
T: Final[dict[str, int]] = {name: i for i, name in enumerate(EVENT_TYPES)}

FIRST_EVENT_WEIGHTS: Final[dict[str, float]] = {
    "page_view": 0.40,
    "product_view": 0.25,
    "search": 0.10,
    "add_to_cart": 0.08,
    "login": 0.04,
    "begin_checkout": 0.05,
    "wishlist_add": 0.03,
    "remove_from_cart": 0.02,
    "complete_checkout": 0.02,
    "review_write": 0.01,
    "contact_support": 0.01,
    "newsletter_signup": 0.01,
    "account_create": 0.01,
    "logout": 0.01,
}

# Next-event probabilities; "exit" ends the session. Each row sums to 1.
TRANSITIONS: Final[dict[str, dict[str, float]]] = {
    "page_view": {
        "page_view": 0.24, "product_view": 0.30, "search": 0.12, "login": 0.04, "add_to_cart": 0.01,
        "wishlist_add": 0.01, "newsletter_signup": 0.01, "account_create": 0.01, "contact_support": 0.01,
        "exit": 0.25,
    },
    "product_view": {
        "product_view": 0.28, "add_to_cart": 0.12, "wishlist_add": 0.05, "page_view": 0.11, "search": 0.10,
        "review_write": 0.02, "exit": 0.32,
    },
    "search": {"product_view": 0.40, "search": 0.15, "page_view": 0.08, "add_to_cart": 0.05, "exit": 0.32},
    "add_to_cart": {
        "begin_checkout": 0.25, "product_view": 0.25, "add_to_cart": 0.06, "page_view": 0.06, "search": 0.06,
        "remove_from_cart": 0.05, "wishlist_add": 0.02, "exit": 0.25,
    },
    "begin_checkout": {
        "complete_checkout": 0.60, "remove_from_cart": 0.05, "product_view": 0.05, "page_view": 0.05,
        "exit": 0.25,
    },
    "complete_checkout": {"page_view": 0.15, "product_view": 0.10, "logout": 0.10, "exit": 0.65},
    "login": {"page_view": 0.38, "product_view": 0.22, "search": 0.15, "add_to_cart": 0.02, "exit": 0.23},
    "wishlist_add": {"product_view": 0.35, "page_view": 0.15, "add_to_cart": 0.15, "exit": 0.35},
    "remove_from_cart": {"product_view": 0.30, "begin_checkout": 0.20, "page_view": 0.10, "exit": 0.40},
    "review_write": {"page_view": 0.30, "product_view": 0.30, "exit": 0.40},
    "contact_support": {"page_view": 0.30, "logout": 0.10, "exit": 0.60},
    "newsletter_signup": {"page_view": 0.50, "product_view": 0.20, "exit": 0.30},
    "account_create": {"login": 0.30, "page_view": 0.30, "product_view": 0.20, "exit": 0.20},
    "logout": {"page_view": 0.05, "exit": 0.95},
}  # fmt: skip
FIXED_ROWS: Final = ("search", "add_to_cart", "begin_checkout")
# Exit probability scale per visitor segment (new, returning, loyal, power): lower = longer sessions.
SEGMENT_EXIT_SCALE: Final = (1.0, 0.8, 0.6, 0.45)
MAX_SESSION_EVENTS: Final = 32
# Gap between consecutive events of a session: lognormal seconds, clipped.
GAP_MEDIAN_S: Final = 20.0
GAP_SIGMA: Final = 0.9
GAP_MIN_MS: Final = 1_000
GAP_MAX_MS: Final = 120_000
MAX_SESSION_MS: Final = MAX_SESSION_EVENTS * GAP_MAX_MS
QUIET_HOURS: Final = (2, 4)
"""Local hours [2, 4) in which normal customers never complete a checkout (time_anomaly owns them)."""

# Event types that concern one product (the event carries product_id and category).
PRODUCT_EVENTS: Final = frozenset(
    T[n] for n in ("product_view", "add_to_cart", "wishlist_add", "remove_from_cart", "review_write")
)


def first_event_probabilities() -> npt.NDArray[np.float64]:
    weights = np.asarray([FIRST_EVENT_WEIGHTS[name] for name in EVENT_TYPES], dtype=np.float64)
    return np.asarray(weights / weights.sum(), dtype=np.float64)


def transition_matrix(exit_scale: float = 1.0) -> npt.NDArray[np.float64]:
    """(N_STATES, N_STATES) row-stochastic matrix; the exit state is absorbing."""
    matrix = np.zeros((N_STATES, N_STATES), dtype=np.float64)
    for src, row in TRANSITIONS.items():
        total = sum(row.values())
        if abs(total - 1.0) > 1e-9:
            raise GeneratorError(f"transition row {src!r} sums to {total}, not 1")
        for dst, p in row.items():
            matrix[T[src], EXIT if dst == "exit" else T[dst]] = p
        if src not in FIXED_ROWS and exit_scale != 1.0:
            stay = 1.0 - matrix[T[src], EXIT]
            new_exit = matrix[T[src], EXIT] * exit_scale
            matrix[T[src], :EXIT] *= (1.0 - new_exit) / stay
            matrix[T[src], EXIT] = new_exit
    matrix[EXIT, EXIT] = 1.0
    return matrix


SEGMENT_MATRICES: Final = np.stack([transition_matrix(s) for s in SEGMENT_EXIT_SCALE])
SEGMENT_CUMULATIVE: Final = np.cumsum(SEGMENT_MATRICES, axis=2)
FIRST_CUMULATIVE: Final = np.cumsum(first_event_probabilities())


def expected_counts(segment: int) -> npt.NDArray[np.float64]:
    """Expected number of events of each type in a session of a segment (no length cap)."""
    q = SEGMENT_MATRICES[segment][:EXIT, :EXIT]
    visits = np.linalg.solve(np.eye(EXIT) - q.T, first_event_probabilities())
    return np.asarray(visits, dtype=np.float64)


@dataclass(frozen=True)
class Journeys:
    """Events of many sessions, grouped by session in order: session index, event type, step."""

    session: npt.NDArray[np.int64]
    event_type: npt.NDArray[np.int64]
    sequence: npt.NDArray[np.int64]
    starts: npt.NDArray[np.int64]
    """Offset of each session's first event (length n_sessions + 1)."""


def _draw(cumulative: npt.NDArray[np.float64], u: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """Index of the first cumulative weight above u, row by row."""
    index = np.minimum((cumulative < u[:, None]).sum(axis=1), cumulative.shape[1] - 1)
    return np.asarray(index, dtype=np.int64)


def simulate(rng: np.random.Generator, segments: npt.NDArray[np.int64]) -> Journeys:
    """Walk every session's Markov chain until it exits or reaches MAX_SESSION_EVENTS."""
    n = segments.size
    sessions_per_step: list[npt.NDArray[np.int64]] = []
    types_per_step: list[npt.NDArray[np.int64]] = []
    alive = np.arange(n, dtype=np.int64)
    state = _draw(np.broadcast_to(FIRST_CUMULATIVE, (n, EXIT)), rng.random(n))
    for _ in range(MAX_SESSION_EVENTS):
        sessions_per_step.append(alive)
        types_per_step.append(state)
        nxt = _draw(SEGMENT_CUMULATIVE[segments[alive], state], rng.random(alive.size))
        keep = nxt != EXIT
        alive, state = alive[keep], nxt[keep]
        if alive.size == 0:
            break
    session = np.concatenate(sessions_per_step) if sessions_per_step else np.zeros(0, dtype=np.int64)
    event_type = np.concatenate(types_per_step) if types_per_step else np.zeros(0, dtype=np.int64)
    steps = (
        np.concatenate([np.full(s.size, k, dtype=np.int64) for k, s in enumerate(sessions_per_step)])
        if sessions_per_step
        else np.zeros(0, dtype=np.int64)
    )
    order = np.lexsort((steps, session))
    counts = np.bincount(session, minlength=n)
    return Journeys(
        session=session[order],
        event_type=event_type[order],
        sequence=steps[order],
        starts=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
    )


def gaps_ms(rng: np.random.Generator, n: int) -> npt.NDArray[np.int64]:
    """Think time before each event (the first event of a session ignores it)."""
    raw = rng.lognormal(np.log(GAP_MEDIAN_S * 1000.0), GAP_SIGMA, size=n)
    return np.clip(raw, GAP_MIN_MS, GAP_MAX_MS).astype(np.int64)


@dataclass(frozen=True)
class ConvertingJourneys:
    """Pre-simulated journeys that reach a completed checkout, per visitor segment.

    A shop that emits only transactions never shows the ~90 % of sessions that end without an order,
    so it keeps each session with its segment's conversion probability and takes its journey from
    this sample instead of walking the chain: the same distribution, a tenth of the work.
    """

    event_type: npt.NDArray[np.int64]
    starts: npt.NDArray[np.int64]
    """Offset of each journey in ``event_type`` (length n_journeys + 1)."""
    by_segment: list[npt.NDArray[np.int64]]
    """Journey indices of each segment."""
    conversion: npt.NDArray[np.float64]
    """Share of each segment's sessions that complete at least one checkout."""

    def draw(self, rng: np.random.Generator, segments: npt.NDArray[np.int64]) -> Journeys:
        chosen = np.empty(segments.size, dtype=np.int64)
        for seg, pool in enumerate(self.by_segment):
            mask = segments == seg
            chosen[mask] = pool[rng.integers(0, pool.size, size=int(mask.sum()))]
        lengths = self.starts[chosen + 1] - self.starts[chosen]
        out_starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        total = int(out_starts[-1])
        session = np.repeat(np.arange(segments.size, dtype=np.int64), lengths)
        sequence = np.arange(total, dtype=np.int64) - out_starts[session]
        source = self.starts[chosen][session] + sequence
        return Journeys(
            session=session, event_type=self.event_type[source], sequence=sequence, starts=out_starts
        )


def converting_journeys(rng: np.random.Generator, sessions_per_segment: int = 40_000) -> ConvertingJourneys:
    """Walk ``sessions_per_segment`` sessions of each segment and keep those with a checkout."""
    checkout = T["complete_checkout"]
    types: list[npt.NDArray[np.int64]] = []
    lengths: list[npt.NDArray[np.int64]] = []
    by_segment: list[npt.NDArray[np.int64]] = []
    conversion = np.zeros(len(SEGMENT_EXIT_SCALE), dtype=np.float64)
    n_journeys = 0
    for seg in range(len(SEGMENT_EXIT_SCALE)):
        j = simulate(rng, np.full(sessions_per_segment, seg, dtype=np.int64))
        converted = np.zeros(sessions_per_segment, dtype=bool)
        converted[j.session[j.event_type == checkout]] = True
        keep = np.flatnonzero(converted)
        conversion[seg] = keep.size / sessions_per_segment
        for s in keep.tolist():
            types.append(j.event_type[j.starts[s] : j.starts[s + 1]])
        lengths.append(np.diff(j.starts)[keep])
        by_segment.append(np.arange(n_journeys, n_journeys + keep.size, dtype=np.int64))
        n_journeys += keep.size
    all_lengths = np.concatenate(lengths)
    return ConvertingJourneys(
        event_type=np.concatenate(types).astype(np.int64),
        starts=np.concatenate([[0], np.cumsum(all_lengths)]).astype(np.int64),
        by_segment=by_segment,
        conversion=conversion,
    )
