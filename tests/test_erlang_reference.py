"""Validate the analytic queueing oracle in ``erlang_reference`` against external facts.

Everything here is deterministic except the Ciw cross-check, which uses fixed seeds and a
tolerance of four standard errors over independent replications.
"""

from __future__ import annotations

import math
import random
import time
from fractions import Fraction

import numpy as np
import pytest
from scipy import integrate, linalg, stats

try:  # works whether or not ``tests`` is a package
    from tests.erlang_reference import erlang_a, erlang_b, erlang_c
except ImportError:  # pragma: no cover - depends on pytest's import mode
    from erlang_reference import erlang_a, erlang_b, erlang_c

KEYS = {"p_wait", "mean_wait", "service_level", "abandon_rate"}


# --------------------------------------------------------------------------- helpers
def _exact_erlang_c(c: int, lam: float, mu: float) -> float:
    """Erlang C from the direct sum formula in exact rational arithmetic.

    C = [a^c/c! * c/(c-a)] / [sum_{k<c} a^k/k! + a^c/c! * c/(c-a)], all terms scaled by c!.
    """
    a = Fraction(lam) / Fraction(mu)
    fact_c = math.factorial(c)
    head = sum(a**k * Fraction(fact_c, math.factorial(k)) for k in range(c))
    top = a**c * Fraction(c) / (c - a)
    return float(top / (head + top))


def _exact_erlang_b(c: int, a: Fraction) -> float:
    terms = [a**k / math.factorial(k) for k in range(c + 1)]
    return float(terms[-1] / sum(terms))


def _ctmc_stationary(c: int, lam: float, mu: float, theta: float, n_max: int) -> np.ndarray:
    """Stationary law of the truncated M/M/c+M chain by a global linear solve of pi Q = 0.

    Independent of the product form used by ``erlang_a``: builds the generator and
    replaces one balance equation by the normalisation.
    """
    n = np.arange(n_max + 1)
    death = np.minimum(n, c) * mu + np.maximum(n - c, 0) * theta
    q = np.zeros((n_max + 1, n_max + 1))
    q[n[:-1], n[:-1] + 1] = lam
    q[n[1:], n[1:] - 1] = death[1:]
    q[n, n] = -q.sum(axis=1)
    a_mat = q.T.copy()
    a_mat[-1, :] = 1.0
    rhs = np.zeros(n_max + 1)
    rhs[-1] = 1.0
    pi = linalg.solve(a_mat, rhs)
    assert pi[-1] < 1e-14, "truncation too tight for the independent CTMC"
    return pi


def _absorbing_chain(c: int, mu: float, theta: float, k_max: int, s: float):
    """Per-k quantities from the waiting customer's absorbing CTMC, solved numerically.

    Transient states j = 0..k_max (customers ahead); from j: to j-1 at rate c*mu + j*theta
    (to "served" when j = 0), own abandonment at rate theta. Returns P(served | k),
    P(abandon | k), E[min(T, patience) | k] and P(served by time s | k) using
    ``scipy.linalg.expm`` on the generator augmented with an absorbing "served" state.
    """
    size = k_max + 1
    j = np.arange(size)
    sub = np.zeros((size, size))
    sub[j, j] = -(c * mu + (j + 1) * theta)
    sub[j[1:], j[1:] - 1] = c * mu + j[1:] * theta
    to_served = np.zeros(size)
    to_served[0] = c * mu
    neg = -sub
    p_served = linalg.solve(neg, to_served)
    p_abandon = linalg.solve(neg, np.full(size, theta))
    mean_wait = linalg.solve(neg, np.ones(size))
    gen = np.zeros((size + 1, size + 1))
    gen[:size, :size] = sub
    gen[:size, size] = to_served
    served_by_s = linalg.expm(gen * s)[:size, size]
    return p_served, p_abandon, mean_wait, served_by_s


def _independent_erlang_a(c, lam, mu, theta, s, n_max):
    pi = _ctmc_stationary(c, lam, mu, theta, n_max)
    p_served, p_abandon, mean_wait, served_by_s = _absorbing_chain(c, mu, theta, n_max - c, s)
    pq = pi[c:]
    q_len = float(np.arange(pq.size) @ pq)
    busy = float(np.minimum(np.arange(pi.size), c) @ pi)
    metrics = {
        "p_wait": float(pq.sum()),
        "mean_wait": float(pq @ mean_wait),
        "service_level": float(pi[:c].sum() + pq @ served_by_s),
        "abandon_rate": float(pq @ p_abandon),
    }
    return metrics, q_len, busy, (p_served, p_abandon, mean_wait)


# ---------------------------------------------------------------------- Erlang C facts
def test_erlang_c_textbook_value():
    r = erlang_c(10, 9.0, 1.0, 0.0)
    assert set(r) == KEYS
    assert r["p_wait"] == pytest.approx(0.6687, abs=5e-5)
    assert r["mean_wait"] == pytest.approx(0.6687315241, abs=1e-10)  # C / (c mu - lambda) = C
    assert r["service_level"] == pytest.approx(1 - r["p_wait"], abs=1e-15)
    assert r["abandon_rate"] == 0.0


@pytest.mark.parametrize(
    ("c", "lam", "mu"),
    [(1, 0.5, 1.0), (2, 1.5, 1.0), (3, 2.5, 0.875), (10, 9.0, 1.0), (25, 22.0, 1.0),
     (7, 3.0, 0.5), (100, 95.0, 1.0), (50, 49.5, 1.0), (1000, 950.0, 1.0)],
)  # fmt: skip
def test_erlang_c_matches_exact_direct_sum(c, lam, mu):
    assert erlang_c(c, lam, mu, 0.2)["p_wait"] == pytest.approx(
        _exact_erlang_c(c, lam, mu), rel=1e-12
    )


@pytest.mark.parametrize(("c", "a"), [(0, 3.0), (1, 0.5), (5, 4.0), (30, 41.5), (200, 180.0)])
def test_erlang_b_recursion_matches_direct_sum(c, a):
    assert erlang_b(c, a) == pytest.approx(_exact_erlang_b(c, Fraction(a)), rel=1e-12)


@pytest.mark.parametrize("rho", [0.1, 0.5, 0.9, 0.99])
def test_erlang_c_small_systems_closed_forms(rho):
    mu, s = 2.0, 0.3
    one = erlang_c(1, rho * mu, mu, s)  # M/M/1: P(wait) = rho, E[W] = rho / (mu - lambda)
    assert one["p_wait"] == pytest.approx(rho, rel=1e-13)
    assert one["mean_wait"] == pytest.approx(rho / (mu - rho * mu), rel=1e-13)
    assert one["service_level"] == pytest.approx(
        1 - rho * math.exp(-(mu - rho * mu) * s), rel=1e-13
    )
    two = erlang_c(2, 2 * rho * mu, mu, s)  # M/M/2: P(wait) = 2 rho^2 / (1 + rho)
    assert two["p_wait"] == pytest.approx(2 * rho**2 / (1 + rho), rel=1e-13)


@pytest.mark.parametrize(("c", "lam"), [(3, 2.0), (10, 9.5), (40, 36.0)])
def test_erlang_c_mean_wait_is_integral_of_wait_tail(c, lam):
    mu = 1.0
    r = erlang_c(c, lam, mu, 0.0)
    tail, _ = integrate.quad(
        lambda s: 1.0 - erlang_c(c, lam, mu, s)["service_level"], 0, np.inf, epsabs=1e-13
    )
    assert r["mean_wait"] == pytest.approx(tail, rel=1e-9)
    assert erlang_c(c, lam, mu, np.inf)["service_level"] == 1.0


@pytest.mark.parametrize(("c", "lam", "mu"), [(10, 10.0, 1.0), (10, 12.0, 1.0), (1, 3.0, 2.0)])
def test_erlang_c_rejects_unstable_load(c, lam, mu):
    with pytest.raises(ValueError, match="unstable"):
        erlang_c(c, lam, mu, 0.1)
    with pytest.raises(ValueError, match="unstable"):
        erlang_a(c, lam, mu, 0.0, 0.1)


@pytest.mark.parametrize(
    "args",
    [(0, 1.0, 1.0, 0.1), (3, -1.0, 1.0, 0.1), (3, 1.0, 0.0, 0.1), (3, 1.0, 1.0, -0.5),
     (3, math.nan, 1.0, 0.1)],
)  # fmt: skip
def test_erlang_c_rejects_bad_arguments(args):
    with pytest.raises(ValueError):
        erlang_c(*args)


def test_erlang_a_rejects_bad_arguments():
    with pytest.raises(ValueError):
        erlang_a(3, 1.0, 1.0, -0.1, 0.1)
    with pytest.raises(TypeError):
        erlang_a(3.0, 1.0, 1.0, 0.1, 0.1)
    with pytest.raises(ValueError):
        erlang_a(-1, 1.0, 1.0, 0.1, 0.1)


# --------------------------------------------------------- Erlang A: limits and identities
def test_erlang_a_theta_zero_delegates_to_erlang_c():
    assert erlang_a(10, 9.0, 1.0, 0.0, 0.25) == erlang_c(10, 9.0, 1.0, 0.25)


@pytest.mark.parametrize(
    ("c", "lam", "mu", "s"), [(1, 0.6, 1.0, 0.5), (10, 9.0, 1.0, 0.2), (50, 47.5, 1.0, 1 / 3)]
)
def test_erlang_a_tends_to_erlang_c_as_patience_grows(c, lam, mu, s):
    ref = erlang_c(c, lam, mu, s)
    errors = []
    for theta in (1e-4, 1e-6, 1e-8):
        r = erlang_a(c, lam, mu, theta, s)
        errors.append(max(abs(r[k] - ref[k]) for k in ("p_wait", "mean_wait", "service_level")))
        assert r["abandon_rate"] == pytest.approx(theta * r["mean_wait"], rel=1e-12)
    assert errors[-1] < 1e-5 * max(1.0, ref["mean_wait"])
    assert errors[0] > errors[1] > errors[2]  # O(theta) convergence


# (c, lambda, mu, theta, S): rho = lambda / (c mu) from 0.5 to 1.5, theta above/below mu.
ERLANG_A_CASES = [
    (1, 0.8, 1.0, 0.3, 0.5, 120),
    (3, 1.5, 1.0, 1.0, 0.2, 60),
    (10, 9.0, 1.0, 0.5, 1 / 3, 120),
    (10, 10.0, 1.0, 0.2, 0.2, 220),
    (5, 3.0, 0.5, 2.0, 1.0, 80),
    (20, 26.0, 1.0, 0.25, 0.1, 260),
    (50, 65.0, 1.0, 0.1, 1 / 3, 560),
    (4, 6.0, 1.0, 1.5, 0.25, 80),
]


@pytest.mark.parametrize(("c", "lam", "mu", "theta", "s", "n_max"), ERLANG_A_CASES)
def test_erlang_a_little_and_flow_identities(c, lam, mu, theta, s, n_max):
    r = erlang_a(c, lam, mu, theta, s)
    assert set(r) == KEYS
    _, q_len, busy, _ = _independent_erlang_a(c, lam, mu, theta, s, n_max)
    # Little on the queue: E[wait over all arrivals] = E[queue length] / lambda.
    assert r["mean_wait"] == pytest.approx(q_len / lam, rel=1e-9)
    # Abandonment flow: lambda * P(abandon) = theta * E[queue length].
    assert r["abandon_rate"] == pytest.approx(theta * q_len / lam, rel=1e-9)
    # Service flow: lambda * P(served) = mu * E[busy agents].
    assert 1 - r["abandon_rate"] == pytest.approx(mu * busy / lam, rel=1e-9)
    # Service-level end points: S = 0 -> not waiting; S = inf -> not abandoning.
    assert erlang_a(c, lam, mu, theta, 0.0)["service_level"] == pytest.approx(
        1 - r["p_wait"], abs=1e-13
    )
    assert erlang_a(c, lam, mu, theta, np.inf)["service_level"] == pytest.approx(
        1 - r["abandon_rate"], abs=1e-13
    )
    grid = [erlang_a(c, lam, mu, theta, x)["service_level"] for x in (0.0, s / 2, s, 2 * s)]
    assert all(np.diff(grid) > 0)


@pytest.mark.parametrize(("c", "lam", "mu", "theta", "s", "n_max"), ERLANG_A_CASES)
def test_erlang_a_matches_independent_ctmc_and_expm(c, lam, mu, theta, s, n_max):
    """Closed forms (telescoped products, incomplete beta) vs linear solves and expm."""
    r = erlang_a(c, lam, mu, theta, s)
    ind, _, _, (p_served, p_abandon, mean_wait) = _independent_erlang_a(c, lam, mu, theta, s, n_max)
    m = np.arange(1, p_served.size + 1)
    np.testing.assert_allclose(p_served, c * mu / (c * mu + m * theta), rtol=1e-10)
    np.testing.assert_allclose(p_abandon + p_served, 1.0, rtol=1e-12)
    np.testing.assert_allclose(mean_wait, m / (c * mu + m * theta), rtol=1e-10)
    for key in KEYS:
        assert r[key] == pytest.approx(ind[key], rel=1e-8, abs=1e-13), key


@pytest.mark.parametrize(("c", "a"), [(1, 0.7), (5, 4.0), (10, 12.0), (30, 27.0)])
def test_erlang_a_patience_equal_to_service_is_infinite_server(c, a):
    """theta = mu: everybody leaves at rate mu, so the number in system is Poisson(a)."""
    mu, s = 1.5, 0.4
    lam = a * mu
    r = erlang_a(c, lam, mu, mu, s)
    pois = stats.poisson(a)
    n = np.arange(c, c + 400)
    q_len = float((n - c) @ pois.pmf(n))
    assert r["p_wait"] == pytest.approx(pois.sf(c - 1), rel=1e-10)
    assert r["mean_wait"] == pytest.approx(q_len / lam, rel=1e-10)
    assert r["abandon_rate"] == pytest.approx(mu * q_len / lam, rel=1e-10)


def test_erlang_a_zero_agents_everyone_abandons():
    r = erlang_a(0, 3.0, 1.0, 0.5, 1.0)
    assert r == pytest.approx(
        {"p_wait": 1.0, "mean_wait": 2.0, "service_level": 0.0, "abandon_rate": 1.0}
    )


def test_erlang_a_is_fast_up_to_fifty_agents_and_overload():
    start = time.perf_counter()
    for c in (1, 5, 10, 25, 50):
        for rho in np.linspace(0.5, 1.3, 9):
            for theta in (0.05, 0.5, 2.0):
                r = erlang_a(c, rho * c, 1.0, theta, 1 / 3)
                assert 0.0 <= r["service_level"] <= 1.0
                assert 0.0 <= r["abandon_rate"] <= r["p_wait"] <= 1.0
    assert time.perf_counter() - start < 2.0


# ------------------------------------------------------------- Ciw simulation cross-check
def _ciw_replication(ciw, seed, c, lam, mu, theta, s, horizon, warmup, margin):
    ciw.seed(seed)
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=lam)],
        service_distributions=[ciw.dists.Exponential(rate=mu)],
        number_of_servers=[c],
        reneging_time_distributions=[ciw.dists.Exponential(rate=theta)],
    )
    sim = ciw.Simulation(network)
    sim.simulate_until_max_time(horizon)
    # Arrivals in [warmup, horizon - margin] have all left by the horizon (margin >> 1/mu).
    recs = [r for r in sim.get_all_records() if warmup <= r.arrival_date < horizon - margin]
    wait = np.array([r.waiting_time for r in recs])
    abandoned = np.array([r.record_type == "renege" for r in recs])
    assert set(r.record_type for r in recs) <= {"service", "renege"}
    return {
        "p_wait": float(np.mean(wait > 0)),
        "mean_wait": float(wait.mean()),
        "service_level": float(np.mean(~abandoned & (wait <= s))),
        "abandon_rate": float(abandoned.mean()),
    }


def test_erlang_a_agrees_with_ciw_simulation():
    ciw = pytest.importorskip("ciw")
    c, lam, mu, theta, s = 4, 4.4, 1.0, 0.5, 0.25  # rho = 1.1: only patience keeps it stable
    reps = 16
    seeds = [int(x) for x in np.random.SeedSequence(20240917).generate_state(reps)]
    saved_random, saved_rng = random.getstate(), getattr(ciw, "rng", None)
    try:
        runs = [
            _ciw_replication(ciw, sd, c, lam, mu, theta, s, 4000.0, 100.0, 60.0) for sd in seeds
        ]
    finally:  # ciw.seed touches the stdlib global RNG; leave no trace
        random.setstate(saved_random)
        if saved_rng is not None:
            ciw.rng = saved_rng
    ref = erlang_a(c, lam, mu, theta, s)
    for key in KEYS:
        values = np.array([run[key] for run in runs])
        mean, se = values.mean(), values.std(ddof=1) / math.sqrt(reps)
        assert 0 < se < 0.01, (key, se)
        assert abs(ref[key] - mean) <= 4 * se, (key, ref[key], mean, se)
