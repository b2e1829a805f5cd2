"""Staffing: from shifts to agents on duty, hour by hour, and to individual duty intervals.

Time is in minutes from Monday 00:00 of the first simulated week.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cxsim.spec import Scenario, Shift, SpecError
from cxsim.spec.config import Objective
from cxsim.spec.kinds import (
    DAY_SETS,
    HOURS_PER_DAY,
    HOURS_PER_WEEK,
    KINDS,
    MINUTES_PER_DAY,
    MINUTES_PER_HOUR,
)


def weekly_agents(shifts: Sequence[Shift]) -> np.ndarray:
    """Agents on duty in each of the 168 hours of the week (fractional shift hours are rounded
    to the hour they start in)."""
    agents = np.zeros(HOURS_PER_WEEK, dtype=np.int64)
    for sh in shifts:
        hours = np.arange(int(sh.start_hour), int(np.ceil(sh.end_hour)))
        for day in DAY_SETS[sh.days]:
            agents[day * HOURS_PER_DAY + hours] += sh.agents
    return agents


def duty_intervals(weekly: np.ndarray, until_min: float) -> list[tuple[float, float, int]]:
    """Split the staffing step function into one duty interval per agent, sorted by start:
    ``(start, stop, j)``.

    Agent *j* is on duty whenever at least *j* agents are scheduled ("layers"), so constant
    staffing gives one unbroken interval per agent, and a rise from 5 to 8 agents adds three
    agents while the first five carry on. An interval ending at ``until_min`` is open-ended.
    """
    n_hours = int(np.ceil(until_min / MINUTES_PER_HOUR))
    reps = -(-n_hours // HOURS_PER_WEEK)
    level = np.tile(weekly, reps)[:n_hours]
    intervals: list[tuple[float, float, int]] = []
    for j in range(1, int(level.max(initial=0)) + 1):
        on = np.concatenate(([False], level >= j, [False])).astype(np.int8)
        edges = np.flatnonzero(np.diff(on))
        for start, end in zip(edges[::2], edges[1::2], strict=True):
            stop = float("inf") if end == n_hours else end * MINUTES_PER_HOUR
            intervals.append((start * MINUTES_PER_HOUR, stop, j))
    intervals.sort()
    return intervals


def staffed_minutes(weekly: np.ndarray, start_min: float, end_min: float) -> float:
    """Agent-minutes on duty between ``start_min`` and ``end_min``."""
    h = MINUTES_PER_HOUR
    minutes = np.arange(np.floor(start_min / h) * h, end_min, h)
    lo = np.maximum(minutes, start_min)
    hi = np.minimum(minutes + h, end_min)
    hours = (minutes // h).astype(np.int64) % HOURS_PER_WEEK
    return float(np.sum(weekly[hours] * np.clip(hi - lo, 0, None)))


def agent_hours(s: Scenario) -> float:
    """Agent-hours on duty over the horizon, every staffed touchpoint together.

    >>> from cxsim.spec import compose_scenario
    >>> agent_hours(compose_scenario(["experiment=erlang"]))  # 10 agents x 48 h
    480.0
    """
    end = s.horizon * MINUTES_PER_DAY
    minutes = sum(
        staffed_minutes(weekly_agents(tp.shifts), 0.0, end)
        for tp in s.touchpoints.values()
        if tp.shifts
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
