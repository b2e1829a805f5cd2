"""Staffing to the minute and by interval table, and the per-interval figures of metrics.json.

Ground truth: shift arithmetic done minute by minute in the test, the interval table against
the equivalent shifts (the same duty intervals, so bit-identical runs), and the per-interval
figures of an Erlang C world against Erlang C (tests/erlang_reference.py).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from erlang_reference import erlang_c

from cxsim.engine import simulate
from cxsim.engine.staffing import agent_hours, duty_intervals, weekly_agents
from cxsim.spec import IntervalStaffing, Shift, SpecError, compose_scenario

ERLANG = ["experiment=erlang", "queue.agents=10", "queue.arrival_rate=8", "behaviour.enabled=false"]


def test_a_half_hour_shift_is_staffed_to_the_minute_not_widened():
    # The reported bug: 07:30-08:30 x 3 agents became 07:00-09:00 (6 agent-hours).
    week = weekly_agents([Shift(start_hour=7.5, end_hour=8.5, agents=3, days="mon")])
    expected = np.zeros(7 * 1440, int)
    expected[450:510] = 3
    np.testing.assert_array_equal(week, expected)
    assert duty_intervals(week, 1440.0)[0] == (450.0, 510.0, 1)  # (start, stop, agent)
    s = compose_scenario([*ERLANG, "horizon=1",
                          "touchpoints.phone.shifts=[{start_hour:7.5,end_hour:8.5,agents:3}]"])
    assert agent_hours(s) == 3.0


@pytest.mark.parametrize("value", [7.51, 7.3333, 23.999])
def test_a_shift_edge_off_the_minute_is_refused_with_key_and_value(value):
    with pytest.raises(SpecError) as e:
        compose_scenario([*ERLANG, f"touchpoints.phone.shifts.0.start_hour={value}"])
    assert e.value.key == "touchpoints.phone.shifts[0].start_hour"
    assert e.value.value == value
    assert "whole minutes" in e.value.reason


@pytest.mark.parametrize("table, key", [
    ({"interval_min": 20, "agents": [[1] * 72] * 7}, "touchpoints.phone.staffing.interval_min"),
    ({"interval_min": 60, "agents": [[1] * 24] * 6}, "touchpoints.phone.staffing.agents"),
    ({"interval_min": 60, "agents": [[1] * 23] + [[1] * 24] * 6},
     "touchpoints.phone.staffing.agents[0]"),
    ({"interval_min": 60, "agents": [[1] * 23 + [-1]] + [[1] * 24] * 6},
     "touchpoints.phone.staffing.agents[0][23]"),
])
def test_a_malformed_interval_table_is_refused_with_its_key(table, key):
    s = compose_scenario(ERLANG)
    phone = dataclasses.replace(s.touchpoints["phone"], staffing=IntervalStaffing(**table))
    from cxsim.spec import validate

    with pytest.raises(SpecError) as e:
        validate(dataclasses.replace(s, touchpoints={"phone": phone}))
    assert e.value.key == key


def test_an_interval_table_runs_exactly_as_the_same_shifts():
    # 10 agents around the clock on weekdays, 4 on weekend days 08:00-20:00, as shifts and as
    # a 30-minute table: the same duty intervals, so the same run to the last digit.
    shifts = ("touchpoints.phone.shifts=[{start_hour:0,end_hour:24,agents:10,days:weekdays},"
              "{start_hour:8,end_hour:20,agents:4,days:weekends}]")
    a = compose_scenario([*ERLANG, shifts, "horizon=7", "warmup=0.5", "replications=2"])
    rows = [[10] * 48] * 5 + [[0] * 16 + [4] * 24 + [0] * 8] * 2
    phone = dataclasses.replace(a.touchpoints["phone"], shifts=[],
                                staffing=IntervalStaffing(interval_min=30, agents=rows))
    b = dataclasses.replace(a, touchpoints={"phone": phone})
    np.testing.assert_array_equal(weekly_agents(a.touchpoints["phone"].shifts),
                                  weekly_agents([], phone.staffing))
    assert simulate(a).metrics == simulate(b).metrics


def test_per_interval_figures_add_up_and_match_erlang_c():
    c, lam, sl = 10, 8.0, 1 / 3
    s = compose_scenario([*ERLANG, "interval_min=30", "horizon=1", "warmup=0.1",
                          "replications=10", f"queue.sl_threshold={sl}"])
    m = simulate(s).metrics
    b = m["by_interval"]["phone"]
    assert b["interval_min"] == 30 and len(b["volume"]) == 336
    assert b["weekday"][49] == 1 and b["start_min"][49] == 30
    # Volumes per interval add up to the headline volume; window minutes to the window.
    assert sum(v for v in b["volume"] if v) == pytest.approx(m["volume"], rel=1e-9)
    assert sum(b["window_min"]) == pytest.approx(0.9 * 1440)
    assert b["agent_minutes"][10] == pytest.approx(c * 30)
    # Each fully measured interval's figures against the steady state: the 95% CI over
    # replications covers Erlang C in most of them. 43 intervals, neighbours correlated
    # (queues carry over): with independent intervals 95% +- 3.3% (1 sd); the bound allows
    # more than 3 sd of that even if correlation halves the effective count.
    ref = erlang_c(c, lam, 1.0, sl)
    full = [i for i, w in enumerate(b["window_min"]) if w == 30]
    assert len(full) == 43
    for name in ("service_level", "p_wait", "mean_wait"):
        covered = [abs(b[name][i] - ref[name]) <= b[f"{name}_ci"][i] for i in full]
        assert np.mean(covered) >= 0.80, name
    occupancy = np.array([b["occupancy"][i] for i in full])
    assert abs(occupancy.mean() - lam / c) < 0.02  # 43 intervals x 10 reps of ~240 calls
