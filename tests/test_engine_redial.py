"""Redials: a customer who abandons a queue calls the same queue again (probability r, after a
delay, at most L times in a row), counted apart from first attempts.

Ground truth: with a stationary queue in which each attempt abandons with the same
probability a (fresh patience per attempt, a redial delay long against the queue's memory),
offered calls per unique caller are sum_{k=0..L} (a r)^k. Tolerances are Monte Carlo errors
over replications (a family-wise 0.002 level, Bonferroni over the file's comparisons).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from cxsim.engine import simulate
from cxsim.engine.stats import F
from cxsim.spec import PriorityClass, compose_scenario
from cxsim.spec.kinds import ABANDONED, EPISODE_OUTCOMES, IN_SYSTEM, RESOLVED

CASES = [(0.6, 2), (1.0, 1), (0.9, 4)]  # redial probability r, limit L
REPS = 10
N_COMPARISONS = len(CASES) + 1  # + through a priority queue
Q = stats.t.ppf(1 - 0.002 / (2 * N_COMPARISONS), REPS - 1)


def scenario(r: float, limit: int, horizon: float = 1.25, warmup: float = 0.25,
             reps: int = REPS, seed: int = 5):
    # Overloaded (rho 1.1) so that a good share abandons; the redial delay (mean 30 min) is
    # long against the queue's relaxation (minutes), so attempts are nearly independent.
    return compose_scenario([
        "experiment=erlang", "queue.agents=10", "queue.arrival_rate=11", "queue.service_rate=1",
        "queue.patience_rate=0.5", f"horizon={horizon}", f"warmup={warmup}",
        f"replications={reps}", f"seed={seed}",
        f"touchpoints.phone.redial.prob={r}", f"touchpoints.phone.redial.limit={limit}",
        "touchpoints.phone.redial.delay.mean_min=30",
        "touchpoints.phone.redial.delay.dist=exponential"])


def offered_per_caller(result, r: float, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """Per replication: offered calls per unique caller, and sum_k (a r)^k."""
    ratio, expected = [], []
    for rep in result.replications:
        sums = rep.touchpoint_sums[0].sum(axis=-1)
        offered, redials = sums[F["arrivals"]], sums[F["redials"]]
        a = sums[F["abandoned"]] / offered
        ratio.append(offered / (offered - redials))
        expected.append(sum((a * r) ** k for k in range(limit + 1)))
    return np.array(ratio), np.array(expected)


@pytest.mark.parametrize("r, limit", CASES)
def test_redials_raise_offered_volume_by_the_expected_factor(r, limit):
    result = simulate(scenario(r, limit, seed=int(100 * r) + limit))
    ratio, expected = offered_per_caller(result, r, limit)
    d = ratio - expected
    se = d.std(ddof=1) / math.sqrt(REPS)
    assert abs(d.mean()) <= Q * se, (
        f"offered/unique {np.mean(ratio):.4f} vs sum (a r)^k {np.mean(expected):.4f} "
        f"({d.mean() / se:+.1f} se, allowed {Q:.1f})")
    assert np.mean(ratio) - 1 > 20 * se  # redials do raise the volume, far beyond noise
    # metrics.json splits the volume into unique callers and redials.
    m = result.metrics["touchpoints"]["phone"]
    assert m["unique_callers"] + m["redials"] == pytest.approx(m["volume"], rel=1e-9)
    assert m["redial_share"] == pytest.approx(1 - 1 / np.mean(ratio), abs=3 * Q * se)


def test_every_contact_is_served_abandoned_or_given_up():
    limit = 2
    result = simulate(scenario(0.8, limit, horizon=0.5, warmup=0.0, reps=2), keep_rows=True)
    for rep in result.replications:
        sums = rep.touchpoint_sums[0].sum(axis=-1)
        arrivals, redials = sums[F["arrivals"]], sums[F["redials"]]
        served, abandoned = sums[F["served"]], sums[F["abandoned"]]
        assert arrivals == served + abandoned + sums[F["unserved"]]
        rows = rep.episodes
        outcome = rows["outcome"].astype(str)
        n = {k: int((outcome == EPISODE_OUTCOMES[k]).sum()) for k in (RESOLVED, ABANDONED,
                                                                     IN_SYSTEM)}
        assert arrivals - redials == len(rows)  # one first attempt per caller
        assert rows["contacts"].sum() == arrivals  # a redial is a contact of its episode
        assert rows["contacts"].max() == 1 + limit  # the limit is reached, never passed
        # An abandoned call was redialled, ended its episode, or awaits a redial at the end.
        pending = abandoned - redials - n[ABANDONED]
        assert 0 <= pending <= n[IN_SYSTEM]
        assert 0 <= served - n[RESOLVED] <= n[IN_SYSTEM]  # fcr 1: served means resolved
        assert n[RESOLVED] + n[ABANDONED] + n[IN_SYSTEM] == len(rows)  # nobody else gives up


def test_redials_off_draw_nothing():
    # prob 0 (the default) and a limit of 0 are the same scenario, draw for draw.
    off = simulate(scenario(0.0, 3, horizon=0.3, warmup=0.05, reps=2)).metrics
    zero = simulate(scenario(0.9, 0, horizon=0.3, warmup=0.05, reps=2)).metrics
    base = simulate(compose_scenario([
        "experiment=erlang", "queue.agents=10", "queue.arrival_rate=11", "queue.service_rate=1",
        "queue.patience_rate=0.5", "horizon=0.3", "warmup=0.05", "replications=2",
        "seed=5"])).metrics
    assert off == base
    assert {k: v for k, v in zero.items() if k != "touchpoints"} == \
        {k: v for k, v in base.items() if k != "touchpoints"}
    assert "redials" not in off["touchpoints"]["phone"]


def test_redials_through_a_priority_queue():
    """A queue with priority classes (30% flagged, drawn again at every attempt) tells the
    router of an abandonment when it happens, with the attempt's redial count: the offered
    volume per caller is still sum_k (a r)^k (a: the share of attempts abandoning, over both
    classes), and the limit is reached, never passed."""
    r, limit = 0.9, 2
    s = scenario(r, limit, seed=77)
    s.touchpoints["phone"].priority = [PriorityClass(flag=0.3)]
    result = simulate(s, keep_rows=True)
    ratio, expected = offered_per_caller(result, r, limit)
    d = ratio - expected
    se = d.std(ddof=1) / math.sqrt(REPS)
    assert abs(d.mean()) <= Q * se, (np.mean(ratio), np.mean(expected), d.mean() / se)
    assert result.episodes["contacts"].max() == 1 + limit
    m = result.metrics["touchpoints"]["phone"]
    assert m["unique_callers"] + m["redials"] == pytest.approx(m["volume"], rel=1e-9)
    assert m["abandonment_by_class"]["1"] < m["abandonment_by_class"]["2"]
