"""Staffing: from shifts or an interval table to agents on duty, minute by minute, and to
individual duty intervals.

Time is in minutes from Monday 00:00 of the first simulated week. Staffing is a step
function over the 10,080 minutes of the week: shifts start and end on whole minutes (a
07:30-08:30 shift is on duty for exactly that hour), an interval table sets the agents of
each 15-, 30- or 60-minute interval of each weekday, and the two add up. Validation
(:mod:`cxsim.spec.validate`) refuses what this cannot represent, never rounds it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cxsim.spec import Scenario, Shift, SpecError
from cxsim.spec.config import Objective
from cxsim.spec.kinds import (
    DAY_SETS,
    KINDS,
    MINUTES_PER_DAY,
    MINUTES_PER_HOUR,
    MINUTES_PER_WEEK,
)
from cxsim.spec.schema import IntervalStaffing, Touchpoint

WEEK = int(MINUTES_PER_WEEK)
DAY = int(MINUTES_PER_DAY)


def shift_minutes(hour: float) -> int:
    """A shift edge in hours as whole minutes after midnight (validated to be one)."""
    return int(round(hour * MINUTES_PER_HOUR))


def weekly_agents(shifts: Sequence[Shift], table: IntervalStaffing | None = None) -> np.ndarray:
    """Agents on duty in each of the 10,080 minutes of the week: the shifts', to the minute,
    plus the interval table's.

    >>> week = weekly_agents([Shift(start_hour=7.5, end_hour=8.5, agents=3, days="mon")])
    >>> int(week.sum()) / 60, int(week[449]), int(week[450]), int(week[509]), int(week[510])
    (3.0, 0, 3, 3, 0)
    """
    agents = np.zeros(WEEK, dtype=np.int64)
    for sh in shifts:
        lo, hi = shift_minutes(sh.start_hour), shift_minutes(sh.end_hour)
        for day in DAY_SETS[sh.days]:
            agents[day * DAY + lo:day * DAY + hi] += sh.agents
    if table is not None and table.agents:
        rows = np.asarray(table.agents, dtype=np.int64)  # 7 x intervals of the day
        agents += np.repeat(rows.reshape(-1), table.interval_min)
    return agents


def touchpoint_agents(tp: Touchpoint) -> np.ndarray:
    """A touchpoint's agents on duty minute by minute over the week (:func:`weekly_agents`),
    its agent groups' together."""
    agents = weekly_agents(tp.shifts, tp.staffing)
    for g in tp.groups.values():
        agents += weekly_agents(g.shifts, g.staffing)
    return agents


def is_staffed(tp: Touchpoint) -> bool:
    """Whether the touchpoint has any staffing declared (shifts or an interval table, its own
    or its groups')."""
    return bool(tp.shifts) or bool(tp.staffing.agents) or any(
        g.shifts or g.staffing.agents for g in tp.groups.values())




def duty_intervals(weekly: np.ndarray, until_min: float) -> list[tuple[float, float, int]]:
    """Split the staffing step function into one duty interval per agent, sorted by start:
    ``(start, stop, j)``.

    Agent *j* is on duty whenever at least *j* agents are scheduled ("layers"), so constant
    staffing gives one unbroken interval per agent, and a rise from 5 to 8 agents adds three
    agents while the first five carry on. An interval ending at ``until_min`` is open-ended.
    """
    n_min = int(np.ceil(until_min))
    reps = -(-n_min // WEEK)
    level = np.tile(weekly, reps)[:n_min]
    # Runs of constant staffing (a few hundred a week), then the layers over the runs.
    cuts = np.concatenate(([0], np.flatnonzero(np.diff(level)) + 1, [n_min]))
    run_level = level[cuts[:-1]]
    intervals: list[tuple[float, float, int]] = []
    for j in range(1, int(run_level.max(initial=0)) + 1):
        on = np.concatenate(([False], run_level >= j, [False])).astype(np.int8)
        edges = np.flatnonzero(np.diff(on))
        for a, b in zip(edges[::2], edges[1::2], strict=True):
            start, end = int(cuts[a]), int(cuts[b])
            intervals.append((float(start), float("inf") if end == n_min else float(end), j))
    intervals.sort()
    return intervals


def staffed_minutes(weekly: np.ndarray, start_min: float, end_min: float) -> float:
    """Agent-minutes on duty between ``start_min`` and ``end_min``."""
    cum = np.concatenate(([0], np.cumsum(weekly)))

    def upto(t: float) -> float:  # agent-minutes from time 0 to t
        weeks, m = divmod(t, WEEK)
        i = int(m)
        return weeks * cum[-1] + cum[i] + (m - i) * (weekly[i] if i < WEEK else 0)

    return float(upto(end_min) - upto(start_min)) if end_min > start_min else 0.0


def interval_staffed_minutes(weekly: np.ndarray, start_min: float, end_min: float,
                             interval_min: int) -> np.ndarray:
    """Agent-minutes on duty between the two times in each ``interval_min`` interval of the
    week (the bins of the per-interval figures), summed over the weeks."""
    lo, hi = int(np.ceil(start_min)), int(np.floor(end_min))
    minutes = np.arange(lo, hi)
    per_minute = np.bincount(minutes % WEEK, minlength=WEEK) * weekly.astype(float)
    out = per_minute.reshape(-1, interval_min).sum(axis=1)
    # Fractions of a minute at either end (window edges at fractional minutes).
    for t, w in ((start_min, lo - start_min), (end_min, end_min - hi)):
        if w > 0:
            out[int(t) % WEEK // interval_min] += w * weekly[int(t) % WEEK]
    return out


def agent_hours(s: Scenario) -> float:
    """Agent-hours on duty over the horizon, every staffed touchpoint together.

    >>> from cxsim.spec import compose_scenario
    >>> agent_hours(compose_scenario(["experiment=erlang"]))  # 10 agents x 48 h
    480.0
    """
    end = s.horizon * MINUTES_PER_DAY
    minutes = sum(
        staffed_minutes(touchpoint_agents(tp), 0.0, end)
        for tp in s.touchpoints.values()
        if is_staffed(tp)
    )
    return minutes / MINUTES_PER_HOUR


def staffing_cost(s: Scenario, cost_per_agent_hour: float, bot_cost_per_day: float) -> float:
    """What the contact centre costs over the horizon: agent-hours on duty x their cost, plus
    each bot's ``bot_cost_per_day`` x its containment x the days.

    >>> from cxsim.spec import compose_scenario
    >>> staffing_cost(compose_scenario(["experiment=erlang"]), 30.0, 0.0)  # 480 h x 30
    14400.0
    """
    bots = sum(tp.containment for tp in s.touchpoints.values() if KINDS[tp.kind].bot)
    return agent_hours(s) * cost_per_agent_hour + bots * bot_cost_per_day * s.horizon


def staffing_objective(s: Scenario, metrics: dict, objective: Objective) -> dict[str, float]:
    """A search's objective: what the staffing costs, plus penalties for missed targets.

    ``staffing_cost`` (:func:`staffing_cost` over the horizon), ``penalty = penalty_per_point
    x (100 max(0, SL target - SL) + 100 max(0, CES - CES target))`` with SL the live-queue
    service level and CES the mean answer, both from ``metrics`` (a missing one misses its
    target entirely), and ``objective = staffing_cost + penalty``. Raises
    :class:`~cxsim.spec.SpecError` naming a bad ``objective`` value.

    >>> from cxsim.spec import compose_scenario
    >>> s = compose_scenario(["experiment=erlang"])
    >>> staffing_objective(s, {"service_level": 0.75, "ces": 3.0},
    ...                    Objective(cost_per_agent_hour=30, service_level_target=0.8))
    {'agent_hours': 480.0, 'staffing_cost': 14400.0, 'penalty': 5000.0, 'objective': 19400.0}
    """
    o = objective
    for key in ("cost_per_agent_hour", "bot_cost_per_day", "penalty_per_point"):
        if not getattr(o, key) >= 0:
            raise SpecError(f"objective.{key}", getattr(o, key), "must be >= 0")
    if o.service_level_target is not None and not 0 <= o.service_level_target <= 1:
        raise SpecError("objective.service_level_target", o.service_level_target,
                        "a service level is a share in [0, 1]")
    if o.ces_target is not None and not 1 <= o.ces_target <= 7:
        raise SpecError("objective.ces_target", o.ces_target, "a mean CES lies in [1, 7]")
    hours = agent_hours(s)
    cost = staffing_cost(s, o.cost_per_agent_hour, o.bot_cost_per_day)
    points = 0.0
    if o.service_level_target is not None:
        sl = metrics.get("service_level")
        points += 100 * max(0.0, o.service_level_target - (0.0 if sl is None else sl))
    if o.ces_target is not None:
        ces = metrics.get("ces")
        points += 100 * max(0.0, (7.0 if ces is None else ces) - o.ces_target)
    penalty = o.penalty_per_point * points
    return {
        "agent_hours": round(hours, 6),
        "staffing_cost": round(cost, 6),
        "penalty": round(penalty, 6),
        "objective": round(cost + penalty, 6),
    }
