"""The roster's integer programme against exhaustive search and an independent coverage count.

The references here share nothing with ``cxsim.workforce.shifts``: shift patterns are laid out
minute by minute over the week and counted per interval, and the optimum of a tiny instance
is found by trying every combination of agent counts.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from cxsim.workforce.roster import solve_roster
from cxsim.workforce.shifts import Break, RosterRuleError, ShiftType

WEEK = 7 * 1440


def minute_coverage(plans, interval_min: int) -> np.ndarray:
    """Agents on duty per interval of the week from (agents, day, start, length, breaks as
    (offset, length)) plans, counted minute by minute (the week wraps at Sunday midnight)."""
    minutes = np.zeros(WEEK)
    for agents, day, start, length, breaks in plans:
        on = np.ones(length, dtype=bool)
        for offset, blen in breaks:
            on[offset:offset + blen] = False
        idx = (day * 1440 + start + np.flatnonzero(on)) % WEEK
        np.add.at(minutes, idx, agents)
    return minutes.reshape(-1, interval_min).mean(axis=1)


def roster_coverage(roster, group: str) -> np.ndarray:
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    plans = [(s.agents, days.index(s.day), s.start_min, s.end_min - s.start_min,
              [(b0 - s.start_min, b1 - b0) for b0, b1, _ in s.breaks])
             for s in roster.shifts if s.group == group]
    return minute_coverage(plans, roster.interval_min)


TINY_TYPES = [
    ShiftType("long", "g", 240, 8 * 60, 10 * 60, 60, days="mon",
              breaks=(Break(30, 60, 120, step_min=60),), cost_per_hour=10.0),
    ShiftType("short", "g", 180, 9 * 60, 11 * 60, 120, days="mon", cost_per_hour=12.0),
]


def _tiny_patterns():
    """(cost, coverage) of every concrete shift the tiny rules allow, built independently."""
    out = []
    for start in (480, 540, 600):
        for offset in (60, 120):
            cov = minute_coverage([(1, 0, start, 240, [(offset, 30)])], 60)
            out.append((3.5 * 10.0, cov))  # 4 h less the unpaid half hour
    for start in (540, 660):
        out.append((3 * 12.0, minute_coverage([(1, 0, start, 180, [])], 60)))
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_tiny_instance_matches_exhaustive_search(seed):
    rng = np.random.default_rng(seed)
    need = np.zeros(168, dtype=int)
    need[9:14] = rng.integers(0, 3, 5)  # Monday 09:00-14:00
    patterns = _tiny_patterns()
    costs = np.array([c for c, _ in patterns])
    cover = np.array([v for _, v in patterns])  # patterns x intervals
    counts = np.array(list(itertools.product(range(4), repeat=len(patterns))))
    ok = np.all(counts @ cover >= need - 1e-9, axis=1)
    best = float((counts[ok] @ costs).min())
    for solver in ("highs", "cpsat"):
        r = solve_roster({"g": need}, TINY_TYPES, interval_min=60, solver=solver, mip_gap=0.0)
        assert r.status == "optimal" and r.cost == pytest.approx(best)
        assert r.bound == pytest.approx(best, rel=1e-9) and r.gap == pytest.approx(0, abs=1e-9)
        assert np.all(r.coverage[0] >= need)
        np.testing.assert_allclose(r.coverage[0], roster_coverage(r, "g"))


def _week(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(48) / 2
    curve = np.clip(np.sin((t - 6.5) / 14 * np.pi), 0, None)
    base = {"a": 9, "b": 4}
    return {g: np.rint(np.outer(rng.uniform(0.5, 1.0, 7), curve) * k
                       + rng.integers(0, 2, (7, 48)) * (curve > 0)).astype(int)
            for g, k in base.items()}


def _week_types():
    lunch, coffee = Break(30, 180, 270, paid=False), Break(15, 60, 120, paid=True, step_min=15)
    out = []
    for g in ("a", "b"):
        out += [ShiftType(f"{g}_full", g, 480, 6 * 60, 13 * 60, 60, breaks=(coffee, lunch),
                          cost_per_hour=20.0),
                ShiftType(f"{g}_part", g, 240, 7 * 60, 17 * 60, 60, cost_per_hour=18.0,
                          part_time=True, max_agents=3),
                ShiftType(f"{g}_night", g, 480, 20 * 60, 22 * 60, 60, days="sun",
                          breaks=(lunch,), cost_per_hour=25.0)]
    return out


def test_week_covers_the_requirement_within_the_reported_gap():
    need = _week(7)
    need["a"][6, 44:] = 2  # Sunday night, covered only by shifts ending on Monday morning
    need["a"][0, :4] = 1
    types = _week_types()
    r = solve_roster(need, types, interval_min=30, mip_gap=1e-3, max_part_time_share=0.25)
    for g, group in enumerate(r.groups):
        assert np.all(r.coverage[g] >= need[group].ravel())
        np.testing.assert_allclose(r.coverage[g], roster_coverage(r, group))
    assert r.lp_bound <= r.bound + 1e-6 <= r.cost + 1e-6
    assert r.gap == pytest.approx((r.cost - r.bound) / r.cost)
    assert r.status != "optimal" or r.gap <= 1e-3 + 1e-12
    assert r.cost == pytest.approx(sum(s.cost for s in r.shifts))
    rate = {t.name: t.cost_per_hour for t in types}
    for s in r.shifts:
        unpaid = sum(e - b for b, e, paid in s.breaks if not paid)
        assert s.paid_hours == pytest.approx((s.end_min - s.start_min - unpaid) / 60)
        assert s.cost == pytest.approx(s.agents * s.paid_hours * rate[s.shift_type])
    part = sum(s.agents * s.paid_hours for s in r.shifts if s.shift_type.endswith("_part")
               and s.group == "a")
    assert part <= 0.25 * sum(s.agents * s.paid_hours for s in r.shifts if s.group == "a") + 1e-9
    per_day: dict[tuple, int] = {}
    for s in r.shifts:
        per_day[(s.shift_type, s.day)] = per_day.get((s.shift_type, s.day), 0) + s.agents
    assert all(v <= 3 for (t, _), v in per_day.items() if t.endswith("_part"))
    assert any(s.end_min > 1440 and s.day == "sun" for s in r.shifts)


def test_scenario_shifts_reproduce_the_coverage_by_the_hour():
    need = _week(3)
    r = solve_roster(need, _week_types(), interval_min=30, mip_gap=1e-3)
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    sets = {"all": range(7), "weekdays": range(5), "weekends": (5, 6),
            **{d: (i,) for i, d in enumerate(days)}}
    for g, group in enumerate(r.groups):
        minutes = np.zeros(WEEK)
        entries = r.scenario_shifts(group)
        for sh in entries:
            assert 0 <= sh["start_hour"] < sh["end_hour"] <= 24
            for day in sets[sh["days"]]:
                lo = day * 1440 + round(sh["start_hour"] * 60)
                minutes[lo:lo + round((sh["end_hour"] - sh["start_hour"]) * 60)] += sh["agents"]
        np.testing.assert_allclose(minutes.reshape(-1, 30).mean(axis=1), r.coverage[g])
        assert len({(e["start_hour"], e["end_hour"], e["agents"], e["days"])
                    for e in entries}) == len(entries)
    row = r.table()[0]
    assert set(row) == {"shift", "shift_type", "group", "day", "start", "end", "breaks",
                        "agents", "paid_hours", "cost"}


def test_both_solvers_reach_the_same_optimum():
    """Proven optima (gap 0) agree; one Monday keeps the proof to a fraction of a second."""
    need = _week(5)["a"]
    need[1:] = 0
    types = [dataclasses.replace(t, days="mon") for t in _week_types() if t.group == "a"]
    costs = [solve_roster({"a": need}, types, interval_min=30, solver=s, mip_gap=0.0).cost
             for s in ("highs", "cpsat")]
    assert costs[0] == pytest.approx(costs[1])


def _refused(need, types, **kwargs) -> str:
    with pytest.raises(RosterRuleError) as err:
        solve_roster(need, types, **kwargs)
    return str(err.value)


def test_infeasible_rules_name_the_rule_at_fault():
    need = {"a": np.ones((7, 48), dtype=int), "b": np.zeros((7, 48), dtype=int)}
    need["b"][2, 20] = 1
    day = ShiftType("day", "a", 480, 0, 23 * 60, 30)
    msg = _refused(need, [ShiftType("marathon", "a", 1500), day])
    assert "shift type 'marathon' (group 'a'): length_min 1500 must be in 1..1440 (a shift " \
           "longer than the day)" in msg
    assert "group 'b' has no shift type (it needs up to 1 agents)" in msg
    msg = _refused(need, [day, ShiftType("late", "b", 240, 18 * 60, 19 * 60)])
    assert "group 'b': no shift type covers wed 10:00-10:30, which needs 1" in msg
    msg = _refused(need, [day, ShiftType("x", "b", 240, min_agents=4, max_agents=2)])
    assert "shift type 'x' (group 'b'): min_agents 4 > max_agents 2" in msg
    msg = _refused({"a": np.full((7, 48), 5)}, [ShiftType("day", "a", 480, 0, 23 * 60, 30,
                                                          max_agents=3)])
    # Monday 00:00 is reached by Sunday's late shifts too: 3 + 3 agents.
    assert "allow at most 3 agents at mon 07:00-07:30, which needs 5 (and 237 more" in msg
    msg = _refused(need, [day, ShiftType("y", "c", 240)])
    assert "shift type 'y' (group 'c'): group 'c' has no requirement (groups: a, b)" in msg
    msg = _refused({"a": need["a"]}, [ShiftType("z", "a", 240, breaks=(Break(30, 200, 230),))])
    assert "breaks[0]: a 30-minute break starting 200..230 min in does not fit" in msg
    msg = _refused({"a": need["a"]}, [ShiftType("w", "a", 480, breaks=(
        Break(30, 120, 240), Break(15, 200, 300)))])
    assert "break windows 120..240 and 200..300 min in overlap" in msg
    msg = _refused({"a": need["a"]}, [ShiftType("v", "a", 480, days="monday")])
    assert "days 'monday' must be among all, weekdays" in msg


def test_bad_requirement_and_options():
    types = [ShiftType("day", "a", 480, 0, 23 * 60, 30)]
    assert "interval_min must divide the day" in _refused({"a": np.ones(336)}, types,
                                                          interval_min=7)
    assert "requirement['a'] must be 336 numbers (7 x 48 intervals of 30 min); got shape " \
           "(48,)" in _refused({"a": np.ones(48)}, types)
    need = np.ones(336)
    need[50] = 1.5
    assert "requirement['a'] at tue 01:00-01:30 must be a whole number >= 0; got 1.5" in \
        _refused({"a": need}, types)
    tight = [ShiftType("day", "a", 480, 0, 23 * 60, 30, min_agents=1, max_agents=1),
             ShiftType("part", "a", 240, 0, 23 * 60, 30, part_time=True)]
    msg = _refused({"a": np.full(336, 2)}, tight, max_part_time_share=0.0)
    assert "the rules admit no roster" in msg
    for kwargs, match in [({"solver": "gurobi"}, "solver must be one of highs, cpsat"),
                          ({"time_limit_s": 0}, "time_limit_s must be a finite number > 0"),
                          ({"max_part_time_share": 1.5}, "max_part_time_share must be in")]:
        with pytest.raises(ValueError, match=match):
            solve_roster({"a": np.ones(336)}, types, **kwargs)
