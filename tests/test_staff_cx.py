"""The CX trade-off of ``cxsim-staff``: what staffing buys in customer experience, and CX
targets choosing the service level.

The curve's direction is a property of the model, checked beyond noise: more agents (a
higher service-level target) mean shorter waits, so lower effort and a higher NPS; the
difference between the two extreme levels, under common random numbers, must exceed ``Q``
combined standard errors (family-wise 0.2% over the file's comparisons). The choice of level
is a pure function, checked on rows made by hand.
"""

from __future__ import annotations

import math

import pytest
from apprun import run_app
from scipy import stats

from cxsim.spec import compose_scenario
from cxsim.workforce import Targets
from cxsim.workforce.cx import CxTargets, choose_level, cost_per_nps_point, cx_tradeoff

REPS = 5
T95 = stats.t.ppf(0.975, REPS - 1)
Q = stats.norm.ppf(1 - 0.002 / (2 * 3))


@pytest.fixture(scope="module")
def curve():
    s = compose_scenario(["horizon=8", "warmup=1", f"replications={REPS}", "interval_min=60"])
    return cx_tradeoff(s, ["phone_front", "chat_agents"],
                       Targets(service_level=0.8, sl_threshold=1 / 3),
                       CxTargets(nps_min=20.0, ltv_per_churn=500.0), [0.6, 0.95], 30.0,
                       horizon_days=60, confidence=0.9)


def test_more_staff_buys_shorter_waits_lower_effort_and_a_higher_nps(curve):
    low, high = curve["levels"]
    assert high["agent_hours_per_week"] > low["agent_hours_per_week"]
    for key, sign in (("service_level", +1), ("nps_population", +1), ("ces", -1),
                      ("abandon_rate", -1)):
        d = sign * (high[key] - low[key])
        se = math.hypot(high[f"{key}_ci"], low[f"{key}_ci"]) / T95
        if key in ("nps_population", "ces", "service_level"):
            assert d > Q * se, f"{key}: {low[key]} -> {high[key]} (se {se:.4f})"
        else:
            assert d > 0, key
    # The cost of an NPS point is the cost difference over the NPS difference (two points).
    slope = (high["cost_per_week"] - low["cost_per_week"]) / (
        high["nps_population"] - low["nps_population"])
    assert curve["cost_per_nps_point_per_week"] == pytest.approx(slope, rel=1e-9)
    assert high["lost_value_per_week"] == pytest.approx(high["churned_per_week"] * 500.0)


def row(level, cost, nps, ces, total=None):
    return {"service_level_target": level, "cost_per_week": cost, "nps_population": nps,
            "nps_population_ci": 0.2, "ces": ces, "ces_ci": 0.05,
            "total_cost_per_week": total}


ROWS = [row(0.6, 100, 25.0, 3.9, 1000), row(0.8, 150, 26.5, 3.7, 990),
        row(0.9, 200, 27.2, 3.6, 995)]


def test_the_cheapest_level_meeting_the_cx_targets_is_chosen():
    assert choose_level(ROWS, CxTargets(nps_min=26.0), 0.9, 10).level == 0.8
    # 26.5 - q x 0.2 / t95 is just above 26.3 at 90%: met; at nps_min 26.45 it is not.
    assert choose_level(ROWS, CxTargets(nps_min=26.45), 0.9, 10).level == 0.9
    assert choose_level(ROWS, CxTargets(ces_max=3.65), 0.9, 10).level == 0.9
    assert choose_level(ROWS, CxTargets(ltv_per_churn=1.0), 0.9, 10).level == 0.8
    assert cost_per_nps_point(ROWS) == pytest.approx(110 / 2.526667, rel=1e-5)  # Sxy / Sxx


def test_unreachable_cx_targets_say_which_and_how_far():
    choice = choose_level(ROWS, CxTargets(nps_min=40.0), 0.9, 10)
    assert choice.level is None
    assert "nps_min 40" in choice.reason and "27.20" in choice.reason


def test_app_refuses_unreachable_and_misplaced_cx_targets(tmp_path):
    done = run_app("staff", "horizon=3", "warmup=1", "replications=3", "interval_min=60",
                   "targets.nps_min=90", "tradeoff_levels=[0.6,0.8]", "cx_horizon=20",
                   "queues=[phone_front]", out=tmp_path / "a", timeout=300)
    assert done.returncode == 2, done.stderr
    assert "nps_min 90" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "a" / "staffing.json").exists()
    done = run_app("staff", "experiment=erlang", "targets.ces_max=3", out=tmp_path / "b",
                   timeout=120)
    assert done.returncode == 2
    assert "targets.ces_max" in done.stderr and "behaviour.enabled" in done.stderr
