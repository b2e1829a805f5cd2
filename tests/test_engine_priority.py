"""Non-preemptive priority classes (``touchpoints.*.priority``, ``experiment=priority``) against
Cobham's formula for M/M/c, and the event-driven node against the FIFO fast path.

Tolerances come from the engine's own reported 95% CI half-widths over independent
replications: each comparison allows ``Q`` standard errors (``se = half / t_0.975``), ``Q``
the two-sided Student-t quantile at a family-wise false-alarm rate of 0.2% (Bonferroni over
the comparisons of this file, slow ones included). Seeds are one per case, never tuned.
"""

from __future__ import annotations

import numpy as np
import pytest
from erlang_reference import cobham, erlang_a, erlang_c
from scipy import stats

from cxsim.engine import simulate
from cxsim.engine.priority import ABANDONED, ARRIVALS, WAIT_SUM, WAITED, PriorityQueueNode
from cxsim.engine.run import Replication
from cxsim.engine.stats import F
from cxsim.spec import compose_scenario

REPS = 20
# agents, arrivals/min, services/min, priority share, horizon (d), warm-up (d)
CASES = [
    (10, 9.0, 1.0, 0.3, 1.25, 0.25),  # rho 0.9
    (5, 4.7, 1.0, 0.5, 5.0, 0.5),  # rho 0.94, few agents: class 2 relaxes slowly
    (3, 1.8, 1.0, 0.5, 1.25, 0.25),  # rho 0.6, light
]
SLOW_CASES = [
    (5, 4.7, 1.0, 0.5, 40.0, 1.0),  # rho 0.94 again, long: class 2 within a few percent
    (20, 19.0, 1.0, 0.2, 10.0, 0.5),  # rho 0.95, many agents
]
# Comparisons with a tolerance: per Cobham case 2 classes x (mean wait, P(wait)), and the
# overall mean wait of the default ones; head starts 4 (huge) + 2 (none) + 1 (2 min); the
# default scenario's 4 figures; abandonment 2 classes + overall.
N_COMPARISONS = 4 * (len(CASES) + len(SLOW_CASES)) + len(CASES) + 7 + 4 + 3
FAMILY_ALPHA = 0.002
T95 = stats.t.ppf(0.975, REPS - 1)
Q = stats.t.ppf(1 - FAMILY_ALPHA / (2 * N_COMPARISONS), REPS - 1)


def overrides(c, lam, mu, share, horizon, warmup, seed, reps=REPS):
    return ["experiment=priority", f"queue.agents={c}", f"queue.arrival_rate={lam}",
            f"queue.service_rate={mu}", f"queue.priority_share={share}", f"horizon={horizon}",
            f"warmup={warmup}", f"replications={reps}", f"seed={seed}"]


def near(sim: float, half: float, exact: float, what: str) -> None:
    se = half / T95
    assert se > 0, what
    assert abs(sim - exact) <= Q * se, (
        f"{what}: simulated {sim:.5f} ± {half:.5f} vs exact {exact:.5f} "
        f"({(sim - exact) / se:+.1f} se, allowed {Q:.1f})")


def check_cobham(m: dict, c: int, lam: float, mu: float, share: float) -> None:
    exact = cobham(c, [lam * share, lam * (1 - share)], mu)
    for k in ("1", "2"):
        i = int(k) - 1
        near(m["mean_wait_by_class"][k], m["mean_wait_by_class_ci"][k], exact["mean_wait"][i],
             f"class {k} mean wait")
        # P(wait) is Erlang C's for both classes (PASTA; the order of service does not change
        # the number in service)
        near(m["p_wait_by_class"][k], m["p_wait_by_class_ci"][k], exact["p_wait"][i],
             f"class {k} P(wait)")


def _cases(cases, offset):
    return [pytest.param(i + offset, case, id="c{}-l{}-m{}-p{}-h{}".format(*case))
            for i, case in enumerate(cases)]


@pytest.mark.parametrize(("index", "case"), _cases(CASES, 0))
def test_priority_classes_match_cobham(index, case):
    c, lam, mu, share, horizon, warmup = case
    m = simulate(compose_scenario(overrides(*case, seed=2000 + index))).metrics
    check_cobham(m, c, lam, mu, share)
    # the touchpoint reports the same figures, and both classes wait as long as FIFO in all
    phone = m["touchpoints"]["phone"]
    assert phone["mean_wait_by_class"] == m["mean_wait_by_class"]
    near(m["mean_wait"], m["mean_wait_ci"], erlang_c(c, lam, mu, 0)["mean_wait"], "mean wait")


@pytest.mark.slow
@pytest.mark.parametrize(("index", "case"), _cases(SLOW_CASES, 100))
def test_priority_classes_match_cobham_long(index, case):
    c, lam, mu, share, _, _ = case
    m = simulate(compose_scenario(overrides(*case, seed=2000 + index))).metrics
    check_cobham(m, c, lam, mu, share)


def test_class_sums_add_up_to_the_touchpoint():
    s = compose_scenario([*overrides(10, 11.0, 1.0, 0.3, 0.5, 0.1, seed=1, reps=2),
                          "queue.patience_rate=0.5"])
    result = simulate(s)
    for r in result.replications:
        by_class = r.class_sums["phone"].sum(axis=0)
        total = r.touchpoint_sums[0].sum(axis=-1)
        assert by_class[ARRIVALS] == total[F["arrivals"]]
        assert by_class[WAITED] == total[F["waited"]]
        assert by_class[ABANDONED] == total[F["abandoned"]]
        assert by_class[WAIT_SUM] == pytest.approx(total[F["wait_sum"]], rel=1e-12)
        assert r.class_sums["phone"][0, ARRIVALS] == pytest.approx(0.3 * total[F["arrivals"]],
                                                                   rel=0.05)


def test_class_one_abandons_less():
    """Overloaded with impatient callers (Erlang A, rho 1.1): the priority class waits little
    and so abandons little. With exponential patience (rate theta, independent of the wait
    offered) each class abandons with probability theta x its mean wait (P(patience < V) =
    theta E[min(V, patience)]), checked on the replications' differences; overall abandonment
    is Erlang A's (the order of service leaves the same work undone)."""
    c, lam, mu, theta = 10, 11.0, 1.0, 0.5
    result = simulate(compose_scenario([*overrides(c, lam, mu, 0.3, 1.25, 0.25, seed=2100),
                                        f"queue.patience_rate={theta}"]))
    m = result.metrics
    ab, half = m["abandonment_by_class"], m["abandonment_by_class_ci"]
    assert ab["1"] + half["1"] < ab["2"] - half["2"]
    sums = np.stack([r.class_sums["phone"] for r in result.replications])  # (rep, class, f)
    d = (sums[..., ABANDONED] - theta * sums[..., WAIT_SUM]) / sums[..., ARRIVALS]
    for k in range(2):
        se = d[:, k].std(ddof=1) / np.sqrt(REPS)
        assert abs(d[:, k].mean()) <= Q * se, (k, d[:, k].mean(), se)
    near(m["abandon_rate"], m["abandon_rate_ci"], erlang_a(c, lam, mu, theta, 0)["abandon_rate"],
         "overall abandonment")


def _head_start(h: float, seed: int, *extra: str) -> dict:
    case = (10, 9.0, 1.0, 0.3, 1.25, 0.25)
    return simulate(compose_scenario([
        *overrides(*case, seed=seed), *extra,
        f"touchpoints.phone.priority=[{{flag: 0.3, head_start_min: {h}}}]"])).metrics


def test_a_huge_head_start_is_strict_priority():
    """A head start longer than the run orders every class-1 customer before every class-2
    one: the very same schedule as strict priority, draw for draw."""
    strict = simulate(compose_scenario(overrides(10, 9.0, 1.0, 0.3, 1.25, 0.25,
                                                 seed=2200))).metrics
    huge = _head_start(1e7, 2200)
    for key in ("mean_wait_by_class", "p_wait_by_class", "mean_wait_by_class_ci"):
        assert huge[key] == strict[key], key
    check_cobham(huge, 10, 9.0, 1.0, 0.3)


def test_no_head_start_is_fifo():
    """Head start 0 for every class is FIFO: each class waits Erlang C's mean wait."""
    m = _head_start(0.0, 2300)
    exact = erlang_c(10, 9.0, 1.0, 0)["mean_wait"]
    for k in ("1", "2"):
        near(m["mean_wait_by_class"][k], m["mean_wait_by_class_ci"][k], exact,
             f"class {k} mean wait")


def test_a_head_start_lies_between_fifo_and_strict():
    """A 2-minute head start: class 1 waits less than under FIFO but more than under strict
    priority; the mean wait over both classes stays FIFO's (the conservation law)."""
    m = _head_start(2.0, 2400)
    w = m["mean_wait_by_class"]
    exact = cobham(10, [2.7, 6.3], 1.0)["mean_wait"]
    fifo = erlang_c(10, 9.0, 1.0, 0)["mean_wait"]
    half = m["mean_wait_by_class_ci"]
    assert exact[0] + half["1"] < w["1"] < fifo - half["1"]
    assert fifo + half["2"] < w["2"] < exact[1] - half["2"]
    near(m["mean_wait"], m["mean_wait_ci"], fifo, "mean wait over both classes")


ONE_CLASS = "touchpoints.phone.priority=[{flag: 0.0}]"  # everyone in class 2: one FIFO class
FIFO_CASES = {  # experiment=erlang: Erlang C, Erlang A overloaded, shifts, an unserved backlog
    "erlang-c": ["queue.agents=5", "queue.arrival_rate=4.5"],
    "erlang-a": ["queue.agents=10", "queue.arrival_rate=11", "queue.patience_rate=0.5"],
    "shifts": ["queue.arrival_rate=8", "queue.patience_rate=0.3",
               "touchpoints.phone.shifts=[{start_hour: 0, end_hour: 24, agents: 6}, "
               "{start_hour: 7.5, end_hour: 13, agents: 4}, {start_hour: 11, end_hour: 20.25, "
               "agents: 3, days: weekdays}]"],
    # an inbox swamped, answered in office hours: what one agent has not answered a week past
    # the horizon (18:00, off duty) is never answered (unserved, when the agenda drains)
    "inbox-backlog": ["touchpoints.phone.kind=async", "warmup=0", "horizon=0.75",
                      "touchpoints.phone.shifts=[{start_hour: 9, end_hour: 17, agents: 1}]"],
}


@pytest.mark.parametrize("extra", FIFO_CASES.values(), ids=FIFO_CASES.keys())
def test_one_class_follows_the_fifo_path(extra):
    """With one class the event-driven node serves the very customers the Kiefer-Wolfowitz
    recursion serves, at the same times: a single queue's figures agree to rounding (sums are
    added in another order). Routing and redials draw when the call ends rather than at
    arrival, which changes nothing here (every call resolves, nobody retries or redials;
    redials through a priority queue: test_engine_redial)."""
    base = ["experiment=erlang", "horizon=1.5", "warmup=0.25", "replications=3", "seed=9",
            *extra]
    fifo = simulate(compose_scenario(base))
    s = compose_scenario([*base, ONE_CLASS])
    assert isinstance(Replication(s, 0).nodes[0], PriorityQueueNode)
    prio = simulate(s)
    a, b = fifo.metrics["touchpoints"]["phone"], prio.metrics["touchpoints"]["phone"]
    for key in ("volume", "p_wait", "mean_wait", "asa", "service_level", "abandon_rate",
                "occupancy", "aht"):
        assert b[key] == pytest.approx(a[key], abs=2e-6), key
    assert prio.metrics["needs"] == pytest.approx(fifo.metrics["needs"], abs=2e-6)
    assert b["mean_wait_by_class"]["2"] == pytest.approx(a["mean_wait"], abs=2e-6)
    for ra, rb in zip(fifo.replications, prio.replications, strict=True):
        assert np.allclose(ra.touchpoint_sums, rb.touchpoint_sums, rtol=1e-9, atol=1e-6)
        assert ra.episodes_ended == rb.episodes_ended
    if "touchpoints.phone.kind=async" in extra:  # the case tests what it means to
        assert fifo.replications[0].touchpoint_sums[0, F["unserved"]].sum() > 1000


ASSISTED = ("chat_agents", "phone_front", "phone_specialists", "email_inbox", "social_inbox",
            "store_desk")


def test_one_class_matches_fifo_in_the_default_scenario():
    """Every agent touchpoint of the default scenario (shifts, opening hours, transfers,
    recontacts, repeats, behaviour) through the event-driven node with one class: the same
    figures within Monte Carlo error (the paths part once draws are used in another order)."""
    base = ["population.customers=20000", "population.staffed_for=40000", "horizon=8",
            "warmup=1", f"replications={REPS}", "seed=2500"]
    fifo = simulate(compose_scenario(base)).metrics
    prio = simulate(compose_scenario(
        [*base, *(f"touchpoints.{tp}.priority=[{{flag: 0.0}}]" for tp in ASSISTED)])).metrics
    assert prio["touchpoints"]["phone_front"]["p_wait_by_class"]["2"] is not None
    for tree, key in (("", "mean_wait"), ("", "service_level"), ("", "abandon_rate"),
                      ("needs", "resolved_rate")):
        a, b = (fifo[tree] if tree else fifo), (prio[tree] if tree else prio)
        se = np.hypot(a[f"{key}_ci"], b[f"{key}_ci"]) / T95
        assert abs(a[key] - b[key]) <= Q * se, (key, a[key], b[key], se)


def test_dropping_abandoned_customers_from_the_heap_changes_nothing(monkeypatch):
    """Swamped (rho 2), class 2 abandons in droves: the waiting heap is rebuilt without them
    now and then, which must not change a single figure."""
    import cxsim.engine.priority as priority

    s = compose_scenario([*overrides(10, 20.0, 1.0, 0.7, 0.3, 0.05, seed=3, reps=2),
                          "queue.patience_rate=0.2"])
    monkeypatch.setattr(priority, "COMPACT_AT", 8)
    often = simulate(s).metrics
    monkeypatch.setattr(priority, "COMPACT_AT", 10**12)
    assert simulate(s).metrics == often
    assert often["abandonment_by_class"]["2"] > 0.9
