"""Customer lifetime value: BG/NBD purchases and Gamma-Gamma spend, fitted by maximum likelihood.

Pure numpy/scipy over a per-customer summary (the arrays the driver collects), so the same code serves
``ecap segment run`` and ``ecap clv fit``. Notation of Fader, Hardie & Lee (2005):

* x = repeat purchases, t_x = time of the last purchase, T = age (all from the first purchase, in
  the run's time unit), m = mean spend of the repeat purchases.
* BG/NBD: while alive, purchases follow Poisson(lambda), lambda ~ Gamma(r, alpha); after each repeat
  purchase the customer drops out with probability p, p ~ Beta(a, b). Per customer
  ``L = B(a, b+x)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+T)^(r+x))
  + [x > 0] B(a+1, b+x-1)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+t_x)^(r+x))``.
* Gamma-Gamma: m | x ~ Gamma(p x, nu x), nu ~ Gamma(q, v); fitted on customers with x > 0,
  ``L = G(px+q)/(G(px) G(q)) * v^q * m^(px-1) * x^(px) / (v + x m)^(px+q)``; the conditional mean
  spend is ``p (v + x m) / (p x + q - 1)`` (for x = 0 the population mean ``p v / (q - 1)``).
* CLV over a horizon of H days with time unit u days and annual discount rate d: K = ceil(H / u)
  periods ending at t_k = min(k u, H) / u units,
  ``CLV = E[spend] * sum_k (E[Y(t_k)] - E[Y(t_{k-1})]) * (1 + d)^(-(t_k u) / 365)``: the purchases
  expected in each period, valued at the expected spend and discounted from the period's end.

Parameters are optimised on the log scale (all must be positive) with L-BFGS-B, falling back to
Nelder-Mead when it does not converge; likelihoods use gammaln/betaln so large counts do not overflow.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from scipy import optimize, special

from . import FitError, SummaryError

FloatArray = npt.NDArray[np.float64]
LOG_BOUND: Final = 30.0  # |log parameter| limit: keeps exp() finite while searching
REPEAT_BUCKETS: Final = 8  # fit-quality histogram: 0..6 repeat purchases and "7+"


@dataclass(frozen=True)
class BgNbdParams:
    r: float
    alpha: float
    a: float
    b: float


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    v: float


@dataclass(frozen=True)
class FitReport:
    """How an optimisation ended: what a user needs to trust (or distrust) the parameters."""

    log_likelihood: float
    converged: bool
    method: str
    iterations: int
    message: str
    customers: int


@dataclass(frozen=True)
class BgNbdFit:
    params: BgNbdParams
    report: FitReport

    def to_dict(self) -> dict[str, Any]:
        return {"params": asdict(self.params), **asdict(self.report)}


@dataclass(frozen=True)
class GammaGammaFit:
    params: GammaGammaParams
    report: FitReport
    excluded: int = 0
    """Customers with repeat purchases left out because their mean repeat spend was not positive."""

    def to_dict(self) -> dict[str, Any]:
        return {"params": asdict(self.params), **asdict(self.report), "excluded": self.excluded}


@dataclass(frozen=True)
class CustomerSummary:
    """Per-customer arrays in one time unit; validated on construction."""

    frequency: FloatArray
    recency: FloatArray
    T: FloatArray  # noqa: N815 - the model's own name for a customer's age
    monetary_value: FloatArray = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        n = len(self.frequency)
        if len(self.recency) != n or len(self.T) != n:
            raise SummaryError("frequency, recency and T must have the same length")
        if len(self.monetary_value) not in (0, n):
            raise SummaryError("monetary_value must have one value per customer")
        for name in ("frequency", "recency", "T"):
            values = getattr(self, name)
            if not np.all(np.isfinite(values)):
                raise SummaryError(f"{name} holds missing or infinite values")
        if np.any(self.frequency < 0) or np.any(self.frequency != np.floor(self.frequency)):
            raise SummaryError("frequency must be a whole number >= 0 (repeat purchases)")
        if np.any(self.recency < 0) or np.any(self.recency > self.T + 1e-9):
            raise SummaryError("recency must be within 0..T")
        if np.any((self.frequency == 0) & (self.recency != 0)):
            raise SummaryError("customers without repeat purchases must have recency 0")

    @property
    def has_monetary(self) -> bool:
        return len(self.monetary_value) == len(self.frequency)


# ---------------------------------------------------------------- BG/NBD


def bgnbd_log_likelihood(params: BgNbdParams, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:  # noqa: N803
    """Log-likelihood of each customer's (x, t_x, T) under BG/NBD."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    base = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    still_alive = special.betaln(a, b + x) - special.betaln(a, b) - (r + x) * np.log(alpha + T)
    repeat = x > 0
    dropped_out = np.full_like(still_alive, -np.inf)
    xr = x[repeat]
    dropped_out[repeat] = (
        special.betaln(a + 1, b + xr - 1) - special.betaln(a, b) - (r + xr) * np.log(alpha + t_x[repeat])
    )
    return np.asarray(base + np.logaddexp(still_alive, dropped_out), dtype=np.float64)


def _minimise(
    negative_mean_ll: Any, start: FloatArray, customers: int, total_weight: float
) -> tuple[FloatArray, FitReport]:
    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(start)
    result = optimize.minimize(negative_mean_ll, start, method="L-BFGS-B", bounds=bounds)
    method = "L-BFGS-B"
    if not result.success or not np.isfinite(result.fun):
        result = optimize.minimize(
            negative_mean_ll,
            result.x if np.all(np.isfinite(result.x)) else start,
            method="Nelder-Mead",
            options={"maxiter": 20_000, "xatol": 1e-8, "fatol": 1e-12},
        )
        method = "L-BFGS-B, then Nelder-Mead"
    if not np.isfinite(result.fun):
        raise FitError(f"the likelihood is not finite at the optimum ({result.message})")
    report = FitReport(
        log_likelihood=float(-result.fun * total_weight),
        converged=bool(result.success),
        method=method,
        iterations=int(result.nit),
        message=str(result.message),
        customers=customers,
    )
    return np.asarray(result.x, dtype=np.float64), report


def _weights(n: int, weights: FloatArray | None) -> FloatArray:
    if weights is None:
        return np.ones(n)
    if len(weights) != n or np.any(weights < 0):
        raise SummaryError("weights must be one non-negative number per customer")
    return np.asarray(weights, dtype=np.float64)


def fit_bgnbd(
    x: FloatArray,
    t_x: FloatArray,
    T: FloatArray,  # noqa: N803
    weights: FloatArray | None = None,
) -> BgNbdFit:
    """Maximum-likelihood r, alpha, a, b. ``weights`` counts identical customers (rows of a unique())."""
    summary = CustomerSummary(np.asarray(x, float), np.asarray(t_x, float), np.asarray(T, float))
    w = _weights(len(summary.frequency), weights)
    total = float(w.sum())
    if total == 0:
        raise FitError("BG/NBD needs at least one customer")
    if not np.any((summary.frequency > 0) & (w > 0)):
        raise FitError("BG/NBD needs customers with repeat purchases; every frequency is 0")

    def negative_mean_ll(log_params: FloatArray) -> float:
        params = BgNbdParams(*np.exp(log_params))
        ll = bgnbd_log_likelihood(params, summary.frequency, summary.recency, summary.T)
        return float(-(w @ ll) / total)

    best, report = _minimise(negative_mean_ll, np.zeros(4), len(summary.frequency), total)
    return BgNbdFit(BgNbdParams(*map(float, np.exp(best))), report)


def probability_alive(params: BgNbdParams, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:  # noqa: N803
    """P(still active | x, t_x, T); 1 for customers who never bought again."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    out = np.ones_like(np.asarray(x, dtype=np.float64))
    repeat = x > 0
    xr = x[repeat]
    log_odds_dead = (
        math.log(a)
        - np.log(b + xr - 1)
        + (r + xr) * (np.log(alpha + T[repeat]) - np.log(alpha + t_x[repeat]))
    )
    out[repeat] = special.expit(-log_odds_dead)
    return out


def conditional_expected_purchases(
    params: BgNbdParams,
    t: float | FloatArray,
    x: FloatArray,
    t_x: FloatArray,
    T: FloatArray,  # noqa: N803
) -> FloatArray:
    """E[purchases in (T, T + t] | x, t_x, T] (FHL 2005 eq. 10); t is one period or one per customer.

    The hypergeometric term ``((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)`` is evaluated
    in Euler's form ``(1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)``, z = t/(alpha+T+t), whose series
    stays tame for large x where the direct form multiplies a vanishing power by a huge series.
    """
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    t = np.asarray(t, dtype=np.float64)
    if np.any(t < 0):
        raise SummaryError("the prediction period must not be negative")
    z = t / (alpha + T + t)
    hyper = np.power(1 - z, a - 1) * special.hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z)
    numerator = (a + b + x - 1) / (a - 1) * (1 - hyper)
    odds_dead = np.zeros_like(numerator)
    repeat = x > 0
    xr = x[repeat]
    odds_dead[repeat] = np.exp(
        math.log(a)
        - np.log(b + xr - 1)
        + (r + xr) * (np.log(alpha + T[repeat]) - np.log(alpha + t_x[repeat]))
    )
    return np.asarray(numerator / (1 + odds_dead), dtype=np.float64)


def repeat_count_probabilities(params: BgNbdParams, t: FloatArray, max_count: int) -> FloatArray:
    """P(X(t) = x) for x = 0..max_count-1 for each age t (FHL 2005 eq. 8); shape (len(t), max_count)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    t = np.asarray(t, dtype=np.float64)[:, None]
    xs = np.arange(max_count, dtype=np.float64)[None, :]
    log_share = r * (np.log(alpha) - np.log(alpha + t))  # log (alpha/(alpha+t))^r
    log_odds = special.xlogy(xs, t) - xs * np.log(alpha + t)  # log (t/(alpha+t))^x
    nbd = special.gammaln(r + xs) - special.gammaln(r) - special.gammaln(xs + 1)
    alive = np.exp(special.betaln(a, b + xs) - special.betaln(a, b) + nbd + log_share + log_odds)
    # sum_{j<x} NBD(j): cumulative sum of the NBD pmf terms shifted by one.
    pmf = np.exp(nbd + log_share + log_odds)
    below = np.cumsum(pmf, axis=1) - pmf
    with np.errstate(invalid="ignore"):
        dropped = np.where(
            xs > 0,
            np.exp(special.betaln(a + 1, b + xs - 1) - special.betaln(a, b)) * (1 - below),
            0.0,
        )
    return np.asarray(alive + dropped, dtype=np.float64)


def expected_repeat_histogram(
    params: BgNbdParams, T: FloatArray, buckets: int = REPEAT_BUCKETS
) -> FloatArray:  # noqa: N803
    """Expected number of customers with 0, 1, .., buckets-2 and ``buckets-1`` or more repeat purchases."""
    probs = repeat_count_probabilities(params, np.asarray(T, dtype=np.float64), buckets - 1).sum(axis=0)
    return np.append(probs, len(T) - probs.sum())


def actual_repeat_histogram(x: FloatArray, buckets: int = REPEAT_BUCKETS) -> FloatArray:
    clipped = np.minimum(np.asarray(x, dtype=np.int64), buckets - 1)
    return np.bincount(clipped, minlength=buckets).astype(np.float64)


def simulate_bgnbd(
    params: BgNbdParams,
    T: FloatArray,  # noqa: N803
    rng: np.random.Generator,
) -> tuple[FloatArray, FloatArray]:
    """Repeat purchases x and last purchase time t_x for customers of ages T, drawn from BG/NBD."""
    T = np.asarray(T, dtype=np.float64)  # noqa: N806
    n = len(T)
    rate = rng.gamma(params.r, 1.0 / params.alpha, n)
    dropout = rng.beta(params.a, params.b, n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    now = np.zeros(n)
    active = np.ones(n, dtype=bool)
    while active.any():
        idx = np.flatnonzero(active)
        with np.errstate(divide="ignore"):
            now[idx] += rng.exponential(1.0 / rate[idx])
        bought = now[idx] <= T[idx]
        buyers = idx[bought]
        x[buyers] += 1
        t_x[buyers] = now[buyers]
        died = rng.random(len(buyers)) < dropout[buyers]
        active[idx[~bought]] = False
        active[buyers[died]] = False
    return x, t_x


# ---------------------------------------------------------------- Gamma-Gamma


def gamma_gamma_log_likelihood(params: GammaGammaParams, x: FloatArray, m: FloatArray) -> FloatArray:
    """Log-likelihood of each repeat customer's mean spend m over x > 0 purchases."""
    p, q, v = params.p, params.q, params.v
    px = p * x
    return np.asarray(
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * math.log(v)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(v + x * m),
        dtype=np.float64,
    )


def fit_gamma_gamma(x: FloatArray, m: FloatArray, weights: FloatArray | None = None) -> GammaGammaFit:
    """Maximum-likelihood p, q, v on the customers with repeat purchases and positive mean spend."""
    x = np.asarray(x, dtype=np.float64)
    m = np.asarray(m, dtype=np.float64)
    w = _weights(len(x), weights)
    repeat = x > 0
    usable = repeat & np.isfinite(m) & (m > 0)
    excluded = int(w[repeat & ~usable].sum())
    xs, ms, ws = x[usable], m[usable], w[usable]
    total = float(ws.sum())
    if total < 2:
        raise FitError(
            "Gamma-Gamma needs customers with repeat purchases and a positive mean repeat spend; "
            f"found {int(total)}"
        )

    def negative_mean_ll(log_params: FloatArray) -> float:
        ll = gamma_gamma_log_likelihood(GammaGammaParams(*np.exp(log_params)), xs, ms)
        return float(-(ws @ ll) / total)

    best, report = _minimise(negative_mean_ll, np.zeros(3), int(usable.sum()), total)
    return GammaGammaFit(GammaGammaParams(*map(float, np.exp(best))), report, excluded)


def expected_average_spend(params: GammaGammaParams, x: FloatArray, m: FloatArray) -> FloatArray:
    """E[spend per purchase | x, m]: a credibility blend of the population mean and the customer's own."""
    p, q, v = params.p, params.q, params.v
    x = np.asarray(x, dtype=np.float64)
    m = np.where(x > 0, np.asarray(m, dtype=np.float64), 0.0)
    denominator = p * x + q - 1
    if np.any(denominator <= 0):
        raise FitError(f"Gamma-Gamma q = {q:.4g} <= 1: the population mean spend is infinite")
    return np.asarray(p * (v + x * m) / denominator, dtype=np.float64)


# ---------------------------------------------------------------- CLV


def period_ends(horizon_days: int, time_unit_days: int) -> FloatArray:
    """t_k = min(k u, H) / u for k = 1..ceil(H / u), in time units."""
    periods = math.ceil(horizon_days / time_unit_days)
    ends = np.minimum(np.arange(1, periods + 1) * time_unit_days, horizon_days)
    return np.asarray(ends / time_unit_days, dtype=np.float64)


def customer_lifetime_value(
    bgnbd: BgNbdParams,
    avg_spend: FloatArray,
    x: FloatArray,
    t_x: FloatArray,
    T: FloatArray,  # noqa: N803
    horizon_days: int,
    time_unit_days: int,
    annual_discount_rate: float,
) -> FloatArray:
    """Discounted value of the purchases expected over the horizon (see the module docstring)."""
    ends = period_ends(horizon_days, time_unit_days)
    value = np.zeros_like(np.asarray(x, dtype=np.float64))
    previous = np.zeros_like(value)
    for t_k in ends:
        current = conditional_expected_purchases(bgnbd, float(t_k), x, t_x, T)
        discount = (1 + annual_discount_rate) ** (-(t_k * time_unit_days) / 365.0)
        value += (current - previous) * discount
        previous = current
    return np.asarray(value * avg_spend, dtype=np.float64)
