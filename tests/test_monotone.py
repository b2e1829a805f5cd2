"""Monotone responses over random scenarios, with common random numbers.

Each property compares a scenario with a changed copy under the same seed, replication by
replication. The engine keeps one random stream per purpose, so the pair differs only where
the change itself reaches. These properties hold in expectation, not path by path: a change
moves queues, which moves who abandons and retries. So each example checks that the mean
paired difference is not significantly of the wrong sign. The allowance is a one-sided
Student-t quantile, Bonferroni-corrected over every example of every property (family-wise
false-alarm rate 1%). A strong-effect case then shows that the test can see a real change.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from cxsim.engine import simulate
from cxsim.engine.stats import FIELDS
from cxsim.spec import compose_scenario

REPS = 6
EXAMPLES = 8
PROPERTIES = 4
Q = stats.t.ppf(1 - 0.01 / (EXAMPLES * PROPERTIES), REPS - 1)

scenarios = st.fixed_dictionaries({
    "population.customers": st.integers(1500, 5000),
    "horizon": st.sampled_from([31, 45]),
    "handoffs.context_carryover": st.floats(0.0, 0.7),
    "touchpoints.chatbot.containment": st.floats(0.0, 0.8),
    "touchpoints.phone_front.fcr": st.floats(0.4, 0.8),
    "touchpoints.chat_agents.shifts.0.agents": st.integers(1, 3),
    "segments.mainstream.patience_min": st.floats(1.0, 8.0),
    "seed": st.integers(0, 2**31),
})
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


def per_rep(overrides: dict, extra: list[str], figure: str) -> np.ndarray:
    """``figure`` in each replication: an outcome figure, or the mean wait over every visit
    to every touchpoint (``mean_wait``)."""
    args = [f"{k}={v}" for k, v in overrides.items()]
    s = compose_scenario([*args, f"replications={REPS}", "warmup=1", *extra])
    out = []
    for r in simulate(s).replications:
        if figure == "mean_wait":
            sums = dict(zip(FIELDS, r.touchpoint_sums.sum(axis=(0, 2)), strict=True))
            out.append(sums["wait_sum"] / max(sums["arrivals"], 1))
        else:
            out.append(r.outcome_figures[figure])
    return np.array(out)


def assert_not_lower(better: np.ndarray, worse: np.ndarray, what: str) -> None:
    """``better`` is not significantly below ``worse`` (paired over replications)."""
    d = better - worse
    se = d.std(ddof=1) / np.sqrt(d.size)
    assert d.mean() >= -Q * se - 1e-12, (
        f"{what}: mean paired difference {d.mean():.4g} (se {se:.3g}, allowed -{Q:.1f} se)"
    )


@SETTINGS
@given(scenarios, st.floats(0.1, 0.3))
def test_more_context_never_lowers_satisfaction(sc, more):
    low = per_rep(sc, [], "satisfaction")
    carry = min(1.0, sc["handoffs.context_carryover"] + more)
    high_sc = {**sc, "handoffs.context_carryover": carry}
    high = per_rep(high_sc, [], "satisfaction")
    assert_not_lower(high, low, "satisfaction with more context")


@SETTINGS
@given(scenarios, st.integers(1, 3))
def test_more_agents_never_raise_mean_wait(sc, extra_agents):
    base = per_rep(sc, [], "mean_wait")
    more = {**sc, "touchpoints.chat_agents.shifts.0.agents":
            sc["touchpoints.chat_agents.shifts.0.agents"] + extra_agents}
    assert_not_lower(base, per_rep(more, [], "mean_wait"), "mean wait with more agents")


@SETTINGS
@given(scenarios, st.floats(0.3, 1.5))
def test_higher_churn_hazard_never_raises_retention_or_ltv(sc, shift):
    worse = [f"segments.{g}.churn_logit={v + shift}"
             for g, v in (("digital_first", -3.0), ("mainstream", -3.3), ("traditional", -3.8))]
    for figure in ("retention", "ltv"):
        assert_not_lower(per_rep(sc, [], figure), per_rep(sc, worse, figure),
                         f"{figure} with a higher churn hazard")


def test_the_checks_see_a_real_change():
    """Power: full context at every handoff clearly raises satisfaction and removes repeats."""
    sc = {"population.customers": 4000, "horizon": 31, "seed": 11}
    low = per_rep(sc, ["handoffs.context_carryover=0"], "satisfaction")
    high = per_rep(sc, ["handoffs.context_carryover=1"], "satisfaction")
    d = high - low
    assert d.mean() > Q * d.std(ddof=1) / np.sqrt(d.size)
