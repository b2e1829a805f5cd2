"""The vectorised Erlang formulas and the requirement against independent references.

References: ``tests/erlang_reference.py`` (per-parameter loops over the truncated state
distribution, itself checked against exact rationals, a CTMC solve and Ciw), pyworkforce's
ErlangC / ErlangA (its own birth-death sums and uniformisation), and, for the answered calls'
mean wait that neither reports, a per-k sum written here. All deterministic: the random
parameter sets come from a seed fixed before the tests were written.
"""

from __future__ import annotations

import numpy as np
import pytest
from pyworkforce.queuing import ErlangA, ErlangC
from scipy.special import digamma

from cxsim.workforce import (
    Targets,
    erlang_a_figures,
    erlang_b,
    erlang_c,
    erlang_c_figures,
    requirement,
)

try:
    from tests.erlang_reference import _erlang_a_state_distribution, erlang_a
    from tests.erlang_reference import erlang_b as ref_b
    from tests.erlang_reference import erlang_c as ref_c
except ImportError:  # pragma: no cover - depends on pytest's import mode
    from erlang_reference import _erlang_a_state_distribution, erlang_a
    from erlang_reference import erlang_b as ref_b
    from erlang_reference import erlang_c as ref_c

KEYS = ("p_wait", "mean_wait", "service_level", "abandon_rate")
RTOL, ATOL = 1e-9, 1e-12

# (agents, arrival rate, service rate, patience rate, SL threshold): loads up to rho 1.5,
# counts up to 2000, patience from 1000x to 1/20 of the handle time.
FIXED = [
    (1, 0.5, 1.0, 0.2, 0.5), (10, 9.0, 1.0, 0.5, 1 / 3), (10, 9.5, 1.0, 0.05, 1 / 3),
    (12, 11.9, 1.0, 0.01, 0.0), (30, 45.0, 1.0, 1.0, 0.2), (50, 49.0, 1.0, 0.001, 1.0),
    (100, 98.0, 0.5, 0.02, 0.5), (200, 150.0, 0.8, 2.0, 0.1), (500, 495.0, 1.0, 0.1, 1 / 3),
    (2000, 1990.0, 1.0, 0.05, 1 / 6), (3, 20.0, 1.0, 20.0, 0.05), (80, 40.0, 0.25, 0.25, 2.0),
]


def _random_sets(n: int, seed: int = 20) -> list[tuple]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        c = int(rng.integers(1, 400))
        mu = 10 ** rng.uniform(-1, 0.5)
        out.append((c, rng.uniform(0.5, 1.5) * c * mu, mu, mu * 10 ** rng.uniform(-2, 1.3),
                    rng.uniform(0, 3) / mu))
    return out


CASES = FIXED + _random_sets(60)


def _columns(cases):
    return [np.array(col) for col in zip(*cases, strict=True)]


def test_erlang_a_matches_reference_in_one_call():
    c, lam, mu, theta, s = _columns(CASES)
    got = erlang_a_figures(c, lam, mu, theta, s)
    for key in KEYS:
        ref = [erlang_a(*case)[key] for case in CASES]
        np.testing.assert_allclose(getattr(got, key), ref, rtol=RTOL, atol=ATOL, err_msg=key)


def test_erlang_c_matches_reference():
    stable = [(c, lam, mu, s) for c, lam, mu, _, s in CASES if lam < c * mu]
    stable += [(c, 0.9 * c, 1.0, 0.25) for c in (1, 7, 300, 3000)]
    c, lam, mu, s = _columns(stable)
    got = erlang_c_figures(c, lam, mu, s)
    for key in KEYS:
        ref = [ref_c(*case)[key] for case in stable]
        np.testing.assert_allclose(getattr(got, key), ref, rtol=RTOL, atol=ATOL, err_msg=key)
    np.testing.assert_allclose(got.asa, got.mean_wait)  # nobody abandons
    np.testing.assert_allclose(erlang_c(c, lam / mu), got.p_wait, rtol=1e-14)
    loads = lam / mu
    ref = [ref_b(int(k), a) for k, a in zip(c, loads, strict=True)]
    np.testing.assert_allclose(erlang_b(c, loads), ref, rtol=1e-12)


def test_grid_broadcast_equals_elementwise():
    """336 intervals x 1..60 agents in one call give the per-element values."""
    rng = np.random.default_rng(3)
    lam = rng.uniform(0.5, 40.0, 336)[:, None]
    agents = np.arange(1, 61)[None, :]
    grid = erlang_a_figures(agents, lam, 1 / 3, 0.2, 1 / 3)
    assert grid.service_level.shape == (336, 60)
    for i, k in [(0, 0), (17, 30), (335, 59), (200, 12)]:
        one = erlang_a_figures(int(agents[0, k]), float(lam[i, 0]), 1 / 3, 0.2, 1 / 3)
        for key in (*KEYS, "asa", "occupancy"):
            assert getattr(grid, key)[i, k] == pytest.approx(float(getattr(one, key)), rel=1e-13)


def _answered_wait(c, lam, mu, theta) -> float:
    """Mean wait of answered calls from the state distribution, k by k: a caller with k ahead
    is answered with probability x/(x+k+1) (x = c mu/theta) and then has waited on average
    (psi(x+k+2) - psi(x+1))/theta (the derivative of the Laplace transform of V_k)."""
    pi = _erlang_a_state_distribution(c, lam, mu, theta)
    k = np.arange(pi.size - c)
    x = c * mu / theta
    answered = x / (x + k + 1)
    waited = pi[c:] @ (answered * (digamma(x + k + 2) - digamma(x + 1)) / theta)
    return waited / (pi[:c].sum() + pi[c:] @ answered)


def test_asa_of_answered_calls_matches_per_k_sum():
    # Where few wait, the reference's truncation (tail mass 1e-15) limits its own accuracy.
    cases = [case for case in CASES if erlang_a(*case)["p_wait"] > 1e-4]
    c, lam, mu, theta, s = _columns(cases)
    got = erlang_a_figures(c, lam, mu, theta, s).asa
    ref = [_answered_wait(*case[:4]) for case in cases]
    np.testing.assert_allclose(got, ref, rtol=1e-9)


def test_identities_and_limits():
    c, lam, mu, theta, _ = _columns(CASES)
    f = erlang_a_figures(c, lam, mu, theta, np.inf)
    # Everyone answered is answered within an infinite threshold; busy agents carry the rest.
    np.testing.assert_allclose(f.service_level, 1 - f.abandon_rate, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(f.occupancy, lam * (1 - f.abandon_rate) / (c * mu), rtol=1e-9)
    assert np.all(f.asa <= f.mean_wait / np.maximum(1 - f.abandon_rate, 1e-300) + 1e-12)
    # Erlang A tends to Erlang C as patience grows.
    a, cc = erlang_a_figures(12, 10.0, 1.0, 1e-9, 0.3), erlang_c_figures(12, 10.0, 1.0, 0.3)
    for key in ("p_wait", "service_level", "asa"):
        assert float(getattr(a, key)) == pytest.approx(float(getattr(cc, key)), rel=1e-6)


def test_edges():
    f = erlang_c_figures([0, 5, 10, 4], [0.0, 0.0, 10.0, 5.0], 1.0, 0.5)
    assert f.p_wait.tolist() == [1.0, 0.0, 1.0, 1.0]  # c=0 with no calls: nobody to answer
    assert f.service_level[1] == 1.0 and f.occupancy[1] == 0.0 and np.isnan(f.occupancy[0])
    assert np.isinf(f.asa[2]) and f.service_level[2] == 0.0 and f.occupancy[2] == 1.0
    g = erlang_a_figures(0, 3.0, 1.0, 0.5, 1.0)  # nobody to answer: all abandon after 2 min
    assert (float(g.abandon_rate), float(g.mean_wait), float(g.service_level)) == (1.0, 2.0, 0.0)
    assert np.isnan(g.asa) and np.isnan(g.occupancy)
    h = erlang_a_figures(8, 30.0, 1.0, 2.0, [0.0, np.inf])  # heavy overload, impatient
    assert h.service_level[0] == pytest.approx(1 - float(h.p_wait[0]), abs=1e-15)
    assert h.occupancy[1] <= 1.0


@pytest.mark.parametrize("call,match", [
    (lambda: erlang_c_figures(-1, 1.0, 1.0, 0.1), "agents must be whole numbers >= 0; got -1"),
    (lambda: erlang_c_figures(2.5, 1.0, 1.0, 0.1), "agents must be whole numbers >= 0; got 2.5"),
    (lambda: erlang_c_figures(True, 1.0, 1.0, 0.1), "agents must be whole numbers"),
    (lambda: erlang_c_figures(3, -1.0, 1.0, 0.1), "arrival_rate must be finite and >= 0"),
    (lambda: erlang_c_figures(3, 1.0, 0.0, 0.1), "service_rate must be > 0; got 0.0"),
    (lambda: erlang_a_figures(3, 1.0, 1.0, np.nan, 0.1), "patience_rate must be finite"),
    (lambda: erlang_a_figures(3, 1.0, 1.0, 1.0, -0.1), "sl_threshold must be >= 0"),
    (lambda: erlang_b(3, "x"), "load must be numeric"),
])
def test_bad_input_names_argument_and_value(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_against_pyworkforce():
    """The same inputs through pyworkforce (calls per interval, AHT and patience in minutes)."""
    for calls, aht, patience, thr, agents in [(100, 3.0, 5.0, 1 / 3, (8, 10, 13)),
                                              (450, 4.0, 2.0, 0.5, (55, 60, 70)),
                                              (30, 6.0, 30.0, 1.0, (6, 9))]:
        lam, mu, theta = calls / 30, 1 / aht, 1 / patience
        pa = ErlangA(transactions=calls, aht=aht, asa=thr, interval=30, patience=patience)
        pc = ErlangC(transactions=calls, aht=aht, asa=thr, interval=30)
        fa = erlang_a_figures(np.array(agents), lam, mu, theta, thr)
        fc = erlang_c_figures(np.array(agents), lam, mu, thr)
        for i, c in enumerate(agents):
            for mine, theirs in [(fa.p_wait, pa.waiting_probability(c)),
                                 (fa.abandon_rate, pa.abandonment_probability(c)),
                                 (fa.mean_wait, pa.average_speed_of_answer(c)),
                                 (fa.service_level, pa.service_level(c)),
                                 (fa.occupancy, pa.achieved_occupancy(c))]:
                assert mine[i] == pytest.approx(theirs, rel=1e-9, abs=1e-12)
            if c > calls / 30 * aht:  # pyworkforce's Erlang C refuses unstable counts
                for mine, theirs in [(fc.p_wait, pc.waiting_probability(c)),
                                     (fc.service_level, pc.service_level(c)),
                                     (fc.occupancy, pc.achieved_occupancy(c))]:
                    assert mine[i] == pytest.approx(theirs, rel=1e-9, abs=1e-12)


def test_figures_are_monotone_in_agents():
    """What the requirement's bisection relies on (to rounding: occupancy near 1 in heavy
    overload with patient callers carries ~1e-11)."""
    rng = np.random.default_rng(4)
    c = np.arange(0, 121)[None, :]
    lam = rng.uniform(0.1, 80, 60)[:, None]
    mu = 10 ** rng.uniform(-0.5, 0.5, 60)[:, None]
    theta = mu * 10 ** rng.uniform(-2, 1, 60)[:, None]
    f = erlang_a_figures(c, lam, mu, np.where(np.arange(60)[:, None] < 10, 0.0, theta),
                         rng.uniform(0, 2, 60)[:, None])
    slack = 1e-10
    assert np.all(np.diff(f.service_level, axis=1) >= -slack)
    for key in ("p_wait", "abandon_rate", "occupancy", "mean_wait", "asa"):
        v = getattr(f, key)[:, 1:]  # without c = 0 (nan); unstable Erlang C waits: inf
        d = np.diff(np.where(np.isinf(v), 1e300, v), axis=1)
        assert np.all(d <= slack), key


# --------------------------------------------------------------------------- requirement
def _brute_force(c_max, lam, mu, theta, targets) -> int:
    """Smallest count meeting every target, count by count, with the reference's figures."""
    for c in range(c_max + 1):
        if lam == 0:
            return c
        if c == 0 or (theta == 0 and lam >= c * mu):
            continue
        f = erlang_a(c, lam, mu, theta, targets.sl_threshold)
        answered = 1 - f["abandon_rate"]
        checks = [
            targets.service_level is None or f["service_level"] >= targets.service_level,
            targets.abandon_rate is None or f["abandon_rate"] <= targets.abandon_rate,
            targets.occupancy is None or lam * answered / (c * mu) <= targets.occupancy,
            targets.asa is None or (f["mean_wait"] if theta == 0 else
                                    _answered_wait(c, lam, mu, theta)) <= targets.asa,
        ]
        if all(checks):
            return c
    return -1


TARGET_SETS = [
    Targets(service_level=0.8, sl_threshold=1 / 3),
    Targets(service_level=0.9, sl_threshold=0.5, abandon_rate=0.02),
    Targets(asa=0.25, occupancy=0.85),
    Targets(service_level=0.5, sl_threshold=1.0, occupancy=0.95),
]


@pytest.mark.parametrize("targets", TARGET_SETS, ids=range(len(TARGET_SETS)))
@pytest.mark.parametrize("theta", [0.0, 0.4])
def test_requirement_equals_scalar_search(targets, theta):
    lam = np.array([0.0, 0.05, 0.7, 3.0, 9.0, 14.5, 31.0])
    got = requirement(lam, 0.8, targets, patience_rate=theta, max_agents=80)
    want = [_brute_force(80, x, 0.8, theta, targets) for x in lam]
    assert got.agents.tolist() == want
    assert got.feasible.all() and (got.reason == "").all()


def test_requirement_is_monotone_in_load_and_keeps_shape():
    lam = np.linspace(0.0, 60.0, 7 * 48).reshape(7, 48)
    t = Targets(service_level=0.8, sl_threshold=1 / 3, abandon_rate=0.05)
    for theta in (0.0, 0.3):
        r = requirement(lam, 0.25, t, patience_rate=theta, min_agents=1)
        assert r.agents.shape == (7, 48) and r.figures.service_level.shape == (7, 48)
        assert np.all(np.diff(r.agents.ravel()) >= 0) and r.agents.min() == 1
        busy = lam > 0
        assert np.all(r.figures.service_level[busy] >= 0.8)
        assert np.all(r.figures.abandon_rate[busy] <= 0.05)
        assert np.isnan(r.figures.p_wait[~busy]).all()  # no calls, nothing to measure


def test_requirement_without_the_shared_table_gives_the_same(monkeypatch):
    import cxsim.workforce.requirements as module

    lam = np.linspace(0.0, 50.0, 40)
    t = Targets(service_level=0.9, sl_threshold=0.25, asa=0.1)
    want = requirement(lam, 0.5, t, patience_rate=0.2)
    monkeypatch.setattr(module, "_TABLE_CELLS", 10)  # every step runs its own recursion
    got = requirement(lam, 0.5, t, patience_rate=0.2)
    assert got.agents.tolist() == want.agents.tolist()
    np.testing.assert_allclose(got.figures.asa, want.figures.asa, rtol=1e-12)


def test_infeasible_targets_are_reported_per_interval():
    lam = np.array([0.0, 2.0, 50.0])
    r = requirement(lam, 1.0, Targets(service_level=1.0, sl_threshold=0.0))
    assert r.agents.tolist() == [0, -1, -1] and r.feasible.tolist() == [True, False, False]
    assert "service_level 1 within 0 min is unreachable" in r.reason[1]
    # Infinite threshold: Erlang C answers everyone eventually, Erlang A never does.
    assert requirement(lam, 1.0, Targets(service_level=1.0, sl_threshold=np.inf)).feasible.all()
    r = requirement(lam, 1.0, Targets(service_level=1.0, sl_threshold=np.inf),
                    patience_rate=0.5)
    assert r.reason[1].endswith("some calls always abandon")
    r = requirement(lam, 1.0, Targets(abandon_rate=0.0), patience_rate=0.5)
    assert r.feasible.tolist() == [True, False, False] and "finite patience" in r.reason[2]
    assert "asa 0 is unreachable" in requirement(lam, 1.0, Targets(asa=0.0)).reason[1]
    r = requirement(lam, 1.0, Targets(service_level=0.8, sl_threshold=0.2), max_agents=40)
    assert r.agents.tolist() == [0, 4, -1]
    assert r.reason[2] == "service_level >= 0.8 is not met by max_agents=40 (reaches 0)"
    assert np.isinf(r.figures.asa[2])  # figures at the cap


@pytest.mark.parametrize("kwargs,match", [
    ({"targets": Targets(service_level=0.8), "max_agents": -1}, "max_agents must be an integer"),
    ({"targets": Targets(service_level=0.8), "min_agents": 5, "max_agents": 3},
     "min_agents must be <= max_agents=3; got 5"),
    ({"targets": {"service_level": 0.8}}, "targets must be a Targets"),
])
def test_requirement_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        requirement([1.0], 1.0, **kwargs)


@pytest.mark.parametrize("kwargs,match", [
    ({"service_level": 1.2}, r"targets.service_level must be a number in \[0.0, 1.0\]; got 1.2"),
    ({"occupancy": 0.0}, r"targets.occupancy must be a number in \(0.0, 1.0\]; got 0.0"),
    ({"asa": -1}, "targets.asa must be"),
    ({"service_level": 0.8, "sl_threshold": -5}, "targets.sl_threshold must be a number >= 0"),
    ({}, "set at least one of"),
])
def test_targets_are_checked(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Targets(**kwargs)
