"""Patience laws beyond the exponential: the engine's M/M/c+G queue against an independent
event-driven reference simulator written here (it shares no code with the engine: a waiting
line scanned at each service completion, not the engine's Kiefer-Wolfowitz recursion).

Both sides are Monte Carlo: a figure passes when the engine's mean over replications and the
reference's differ by less than Q combined standard errors (Q: a family-wise 0.002 level over
every comparison of the file, Bonferroni).
"""

from __future__ import annotations

import heapq
import math
from collections import deque

import numpy as np
import pytest
from erlang_reference import erlang_a
from scipy import stats

from cxsim.engine import simulate
from cxsim.engine.streams import weibull_shape
from cxsim.spec import SpecError, compose_scenario

C, LAM, MU, MEAN_PATIENCE = 5, 5.0, 1.0, 2.0  # rho 1: abandonment does the work
HORIZON_D, WARMUP_D = 1.0, 0.125
REPS, REF_REPS = 8, 8
TABLE = [0.25, 0.5, 4.0, 8.0]  # an empirical patience table (rescaled to the mean)
LAWS = {  # name: (overrides, the reference's unit-mean patience draw)
    "weibull-cv2": (["touchpoints.phone.patience.dist=weibull",
                     "touchpoints.phone.patience.cv=2.0"], ("weibull", 2.0)),
    "lognormal-cv0.3": (["touchpoints.phone.patience.dist=lognormal",
                         "touchpoints.phone.patience.cv=0.3"], ("lognormal", 0.3)),
    "empirical": (["touchpoints.phone.patience.dist=empirical",
                   f"touchpoints.phone.patience.values=[{','.join(map(str, TABLE))}]"],
                  ("empirical", None)),
}
METRICS = ("abandon_rate", "mean_wait", "p_wait")
Q = stats.norm.ppf(1 - 0.002 / (2 * len(LAWS) * len(METRICS)))


def unit_patience(law: str, cv: float | None, rng: np.random.Generator) -> float:
    """One patience of mean 1, by textbook formulas (numpy's samplers, own parameters)."""
    if law == "weibull":
        k = weibull_shape(cv)
        return rng.weibull(k) / math.gamma(1 + 1 / k)
    if law == "lognormal":
        s2 = math.log(1 + cv * cv)
        return rng.lognormal(-s2 / 2, math.sqrt(s2))
    return TABLE[rng.integers(len(TABLE))] / (sum(TABLE) / len(TABLE))


def reference(law: str, cv: float | None, seed: int) -> dict[str, float]:
    """Per-arrival figures of M/M/C+G over [warm-up, horizon), every arrival followed to the
    end of its wait (no censoring)."""
    rng = np.random.default_rng(seed)
    end, warm = HORIZON_D * 1440, WARMUP_D * 1440
    busy, line, done = 0, deque(), []  # line: (arrival, deadline); done: departures
    n = abandoned = waited = 0
    wait_sum = 0.0

    def record(arrival: float, wait: float, gave_up: bool) -> None:
        nonlocal n, abandoned, waited, wait_sum
        if warm <= arrival < end:
            n += 1
            abandoned += gave_up
            waited += wait > 0
            wait_sum += wait

    next_arrival = rng.exponential(1 / LAM)
    while next_arrival < end or line:
        if done and (done[0] <= next_arrival or next_arrival >= end):
            now = heapq.heappop(done)
            busy -= 1
            while line:  # the first customer still there takes the free agent
                arrival, deadline = line.popleft()
                if deadline > now:
                    record(arrival, now - arrival, False)
                    busy += 1
                    heapq.heappush(done, now + rng.exponential(1 / MU))
                    break
                record(arrival, deadline - arrival, True)
            continue
        now = next_arrival
        patience = MEAN_PATIENCE * unit_patience(law, cv, rng)
        if busy < C:
            busy += 1
            record(now, 0.0, False)
            heapq.heappush(done, now + rng.exponential(1 / MU))
        else:
            line.append((now, now + patience))
        next_arrival = now + rng.exponential(1 / LAM)
    return {"abandon_rate": abandoned / n, "mean_wait": wait_sum / n, "p_wait": waited / n}


def engine(extra: list[str], seed: int) -> dict:
    return simulate(compose_scenario([
        "experiment=erlang", f"queue.agents={C}", f"queue.arrival_rate={LAM}",
        f"queue.service_rate={MU}", f"queue.patience_rate={1 / MEAN_PATIENCE}",
        f"horizon={HORIZON_D}", f"warmup={WARMUP_D}", f"replications={REPS}", f"seed={seed}",
        *extra])).metrics


@pytest.mark.parametrize("name", list(LAWS))
def test_patience_law_matches_reference_simulator(name):
    extra, (law, cv) = LAWS[name]
    sim = engine(extra, seed=31 + list(LAWS).index(name))
    ref = np.array([[r[m] for m in METRICS]
                    for r in (reference(law, cv, seed) for seed in range(REF_REPS))])
    t95 = stats.t.ppf(0.975, REPS - 1)
    exp_law = erlang_a(C, LAM, MU, 1 / MEAN_PATIENCE, 0.0)
    for j, m in enumerate(METRICS):
        se_sim = sim[f"{m}_ci"] / t95
        se_ref = ref[:, j].std(ddof=1) / math.sqrt(REF_REPS)
        se = math.hypot(se_sim, se_ref)
        assert abs(sim[m] - ref[:, j].mean()) <= Q * se, (
            f"{name} {m}: engine {sim[m]:.5f} vs reference {ref[:, j].mean():.5f} "
            f"({(sim[m] - ref[:, j].mean()) / se:+.1f} se, allowed {Q:.1f})")
    # The law matters: the abandonment differs from exponential patience (Erlang A) by far
    # more than the test's tolerance, so a law silently drawn exponential would fail.
    se = sim["abandon_rate_ci"] / t95
    assert abs(sim["abandon_rate"] - exp_law["abandon_rate"]) > 2 * Q * se


def test_default_patience_is_erlang_a():
    # The default law stays exponential: Erlang A holds (cheap sanity; test_engine_erlang
    # covers it in depth).
    sim = engine([], seed=41)
    ref = erlang_a(C, LAM, MU, 1 / MEAN_PATIENCE, 0.0)
    se = sim["abandon_rate_ci"] / stats.t.ppf(0.975, REPS - 1)
    assert abs(sim["abandon_rate"] - ref["abandon_rate"]) <= Q * se


def test_weibull_shape_gives_the_cv():
    for cv in (0.1, 0.5, 1.0, 2.0, 5.0):
        k = weibull_shape(cv)
        got = math.sqrt(math.gamma(1 + 2 / k) / math.gamma(1 + 1 / k) ** 2 - 1)
        assert got == pytest.approx(cv, rel=1e-9)
    assert weibull_shape(1.0) == pytest.approx(1.0, rel=1e-9)  # the exponential


def test_empirical_handle_time_is_drawn_from_its_table():
    values = [1.0, 3.0]
    sim = engine(["touchpoints.phone.handle.dist=empirical",
                  f"touchpoints.phone.handle.values=[{values[0]},{values[1]}]",
                  "queue.patience_rate=0", "queue.agents=8"], seed=43)
    # AHT over ~6,000 calls a replication: binomial mix of the two values.
    half = sim["aht_ci"]
    assert abs(sim["aht"] - 2.0) <= Q * half / stats.t.ppf(0.975, REPS - 1)


@pytest.mark.parametrize("override, key", [
    ("touchpoints.phone.patience.dist=gamma", "touchpoints.phone.patience.dist"),
    ("touchpoints.phone.patience.dist=empirical", "touchpoints.phone.patience.values"),
    ("touchpoints.phone.patience.values=[1,-2]", None),
    ("touchpoints.phone.handle.dist=empirical", "touchpoints.phone.handle.values"),
    ("touchpoints.phone.redial.prob=1.5", "touchpoints.phone.redial.prob"),
    ("touchpoints.phone.redial.limit=-1", "touchpoints.phone.redial.limit"),
])
def test_bad_laws_are_refused_with_their_key(override, key):
    extra = [override]
    if key is None:
        extra.append("touchpoints.phone.patience.dist=empirical")
        key = "touchpoints.phone.patience.values[1]"
    with pytest.raises(SpecError) as err:
        compose_scenario(["experiment=erlang", *extra])
    assert err.value.key == key
