"""Staffing: from shifts to agents on duty, hour by hour, and to individual duty intervals.

Time is in minutes from Monday 00:00 of the first simulated week.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cxsim.spec import Scenario, Shift

HOURS_PER_WEEK = 168
DAYS = {
    "all": range(7),
    "weekdays": range(5),
    "weekends": (5, 6),
    "mon": (0,),
    "tue": (1,),
    "wed": (2,),
    "thu": (3,),
    "fri": (4,),
    "sat": (5,),
    "sun": (6,),
}


def weekly_agents(shifts: Sequence[Shift]) -> np.ndarray:
    """Agents on duty in each of the 168 hours of the week (fractional shift hours are rounded
    to the hour they start in)."""
    agents = np.zeros(HOURS_PER_WEEK, dtype=np.int64)
    for sh in shifts:
        hours = np.arange(int(sh.start_hour), int(np.ceil(sh.end_hour)))
        for day in DAYS[sh.days]:
            agents[day * 24 + hours] += sh.agents
    return agents


def duty_intervals(weekly: np.ndarray, until_min: float) -> list[tuple[float, float]]:
    """Split the staffing step function into one duty interval per agent, sorted by start.

    Agent *j* is on duty whenever at least *j* agents are scheduled ("layers"), so constant
    staffing gives one unbroken interval per agent, and a rise from 5 to 8 agents adds three
    agents while the first five carry on. An interval ending at ``until_min`` is open-ended.
    """
    n_hours = int(np.ceil(until_min / 60.0))
    reps = -(-n_hours // HOURS_PER_WEEK)
    level = np.tile(weekly, reps)[:n_hours]
    intervals: list[tuple[float, float]] = []
    for j in range(1, int(level.max(initial=0)) + 1):
        on = np.concatenate(([False], level >= j, [False])).astype(np.int8)
        edges = np.flatnonzero(np.diff(on))
        for start, end in zip(edges[::2], edges[1::2], strict=True):
            stop = float("inf") if end == n_hours else end * 60.0
            intervals.append((start * 60.0, stop))
    intervals.sort()
    return intervals


def staffed_minutes(weekly: np.ndarray, start_min: float, end_min: float) -> float:
    """Agent-minutes on duty between ``start_min`` and ``end_min``."""
    minutes = np.arange(np.floor(start_min / 60) * 60, end_min, 60.0)
    lo = np.maximum(minutes, start_min)
    hi = np.minimum(minutes + 60.0, end_min)
    hours = (minutes // 60).astype(np.int64) % HOURS_PER_WEEK
    return float(np.sum(weekly[hours] * np.clip(hi - lo, 0, None)))


def agent_hours(s: Scenario) -> float:
    """Agent-hours on duty over the horizon, every staffed touchpoint together.

    >>> from cxsim.spec import compose_scenario
    >>> agent_hours(compose_scenario(["experiment=erlang"]))  # 10 agents x 48 h
    480.0
    """
    end = s.horizon * 24 * 60
    minutes = sum(
        staffed_minutes(weekly_agents(tp.shifts), 0.0, end)
        for tp in s.touchpoints.values()
        if tp.shifts
    )
    return minutes / 60.0


def staffing_cost(s: Scenario, cost_per_agent_hour: float, bot_cost_per_day: float) -> float:
    """What the contact centre costs over the horizon: agent-hours on duty x their cost, plus
    each bot's ``bot_cost_per_day`` x its containment x the days.

    >>> from cxsim.spec import compose_scenario
    >>> staffing_cost(compose_scenario(["experiment=erlang"]), 30.0, 0.0)  # 480 h x 30
    14400.0
    """
    bots = sum(tp.containment for tp in s.touchpoints.values() if tp.kind == "bot")
    return agent_hours(s) * cost_per_agent_hour + bots * bot_cost_per_day * s.horizon
