"""A staffing plan for a scenario: each queue's simulated requirement, the cheapest roster that
covers it, re-simulated and repaired, and the tables and documents ``cxsim-staff`` writes.

The roster (:func:`cxsim.workforce.roster.solve_roster`) covers the requirement interval by
interval, but its shift edges and breaks change how queues carry over; so the roster is
simulated in its turn (same seed, the scenario's shifts replaced by the roster's duty
stretches), and wherever an interval then misses its targets the requirement there is raised
by one and the roster solved again, ``repair_rounds`` times at most.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from cxsim.engine.staffing import agent_hours
from cxsim.spec import Scenario, Shift, validate
from cxsim.spec.kinds import MINUTES_PER_DAY
from cxsim.workforce.requirements import Targets, requirement
from cxsim.workforce.roster import Roster, solve_roster
from cxsim.workforce.shifts import ShiftType
from cxsim.workforce.simulated import (
    FIGURES,
    Measured,
    QueueRequirement,
    measure,
    meets,
    simulated_requirement,
    split_unit,
    staffed,
)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass
class QueuePlan:
    """One queue's requirement, roster and the roster's simulated figures."""

    need: QueueRequirement
    roster: Roster | None
    rostered: Measured | None  # the roster re-simulated
    rostered_met: NDArray[np.bool_] | None
    repairs: int
    cover: NDArray[np.int64] | None = None  # the requirement the last roster covers


def opened_by_requirement(need: QueueRequirement) -> NDArray[np.bool_]:
    """The intervals whose targets the roster must meet: those where the pilot run saw calls.
    Where the scenario's line is closed (no calls in the pilot) the requirement is no agents;
    a shift's edge reaching there opens the line to a handful of calls, whose figures say
    nothing about the roster (and raising the requirement there only moves the edge)."""
    return need.pilot.observed & (np.nan_to_num(need.pilot.arrival_rate) > 0)


def short_intervals(p: QueuePlan, targets: Targets, confidence: float) -> list[dict]:
    """The intervals the re-simulated roster still misses, each with its figures and why: its
    mean meets the targets but not at ``confidence`` (the replications cannot resolve it:
    noise, not staffing), or its mean misses too."""
    if p.roster is None or p.rostered_met is None:
        return []
    m, width = p.rostered, p.need.agents.shape[1]
    on_mean = meets(m, targets, 0.5)
    opened = ~opened_by_requirement(p.need)
    rows = []
    short = ~meets(m, targets, confidence) & p.need.met
    for d, i in zip(*np.nonzero(short), strict=True):
        why = (f"the mean meets the targets, the one-sided {confidence:g} bound does not "
               f"({m.replications} replications): within noise" if on_mean[d, i]
               else "the mean misses the targets")
        if opened[d, i]:
            why = ("the line is closed there in the scenario (no calls in the pilot run); a "
                   "shift's edge opens it: not repaired; " + why)
        rows.append({
            "weekday": WEEKDAYS[d], "interval_start_min": int(i * (MINUTES_PER_DAY // width)),
            "requirement": int(p.need.agents[d, i]),
            "covered_for": None if p.cover is None else int(p.cover[d, i]),
            "rostered": _cell(p.roster.coverage[0, d * width + i]),
            "volume": _cell(m.mean["volume"][d, i]),
            "service_level": _cell(m.mean["service_level"][d, i]),
            "service_level_ci": _cell(m.half["service_level"][d, i]),
            "abandon_rate": _cell(m.mean["abandon_rate"][d, i]), "why": why})
    return rows


def rostered(s: Scenario, queue: str, roster: Roster) -> Scenario:
    """``s`` with ``queue`` (a queue or ``queue.group``) staffed by the roster's duty stretches
    (breaks and midnights cut)."""
    tps = dict(s.touchpoints)
    shifts = [Shift(**e) for e in roster.scenario_shifts(queue)]
    name, group = split_unit(queue)
    tp = tps[name]
    if group is None:
        tps[name] = dataclasses.replace(tp, shifts=shifts,
                                        staffing=dataclasses.replace(tp.staffing, agents=[]))
    else:
        g = tp.groups[group]
        groups = {**tp.groups, group: dataclasses.replace(
            g, shifts=shifts, staffing=dataclasses.replace(g.staffing, agents=[]))}
        tps[name] = dataclasses.replace(tp, groups=groups)
    return validate(dataclasses.replace(s, touchpoints=tps))


def plan_queue(s: Scenario, queue: str, targets: Targets, shift_types: Sequence[ShiftType],
               *, confidence: float, max_rounds: int, repair_rounds: int,
               max_replications: int | None = None,
               max_part_time_share: float | None, mip_gap: float, time_limit_s: float,
               note: Callable[[str], None], guards: Sequence[str] = ()) -> QueuePlan:
    """Requirement by simulation (``guards``: units whose targets it must keep, see
    :func:`simulated_requirement`), then the roster, re-simulated and repaired."""
    need = simulated_requirement(s, queue, targets, confidence=confidence,
                                 max_rounds=max_rounds, max_replications=max_replications,
                                 on_round=lambda msg: note(f"{queue}: {msg}"), guards=guards)
    types = [dataclasses.replace(t, group=queue) for t in shift_types]
    if not types:
        return QueuePlan(need, None, None, None, 0)
    cover = need.agents.copy()
    roster = result = covered = None
    met = None
    repairs = -1
    while repairs < repair_rounds:
        repairs += 1
        covered = cover
        roster = solve_roster({queue: cover}, types, interval_min=s.interval_min,
                              mip_gap=mip_gap, time_limit_s=time_limit_s,
                              max_part_time_share=max_part_time_share)
        result = measure(rostered(s, queue, roster), queue)
        met = meets(result, targets, confidence) | ~need.met | ~opened_by_requirement(need)
        note(f"{queue}: roster {roster.cost:,.0f} (gap {roster.gap:.2%}), "
             f"{int((~met).sum())} intervals short in re-simulation")
        if met.all():
            break
        # The roster often covers a short interval above its requirement already (a shift
        # spans whole stretches of the day): raising the requirement by one there would
        # change nothing. A short interval needs one agent more than the roster gave it.
        given = np.floor(roster.coverage[0].reshape(cover.shape) + 1e-9).astype(np.int64)
        cover = np.where(met, cover, np.maximum(cover, given) + 1)
    return QueuePlan(need, roster, result, met, repairs, covered)


def tradeoff(plans: dict[str, QueuePlan], targets: Targets, levels: Sequence[float],
             interval_min: int, cost_per_hour: float) -> list[dict]:
    """Agent-hours a week and their cost against the service-level target, by Erlang A (or
    Erlang C without abandonment) on each queue's measured load; the simulated point is the
    plan's own. Rows: level, model, agent_hours_per_week, cost_per_week."""
    rows = []
    for level in levels:
        t = dataclasses.replace(targets, service_level=level)
        hours = 0.0
        for plan in plans.values():
            m = plan.need.pilot
            lam = np.where(m.observed, np.nan_to_num(m.arrival_rate), 0.0)
            r = requirement(lam, m.service_rate, t, patience_rate=m.patience_rate)
            hours += float(np.where(r.feasible, r.agents, 0).sum()) * interval_min / 60
        rows.append({"service_level": level, "model": "erlang",
                     "agent_hours_per_week": hours, "cost_per_week": hours * cost_per_hour})
    return rows


def _cell(x: float) -> float | None:
    return None if not np.isfinite(x) else round(float(x), 6)


def requirement_rows(plans: dict[str, QueuePlan], interval_min: int) -> list[dict]:
    """``requirement.csv``: one row per queue and interval of the week."""
    rows = []
    for queue, plan in plans.items():
        n = plan.need
        for d in range(7):
            for i in range(n.agents.shape[1]):
                rows.append({
                    "weekday": WEEKDAYS[d], "interval_start_min": i * interval_min,
                    "group": queue, "agents": int(n.agents[d, i]),
                    "erlang_c": int(n.erlang_c[d, i]), "erlang_a": int(n.erlang_a[d, i]),
                    "rostered": (None if plan.roster is None
                                 else _cell(plan.roster.coverage[0, d * n.agents.shape[1] + i])),
                    "arrival_rate": _cell(n.pilot.arrival_rate[d, i]),
                    "service_level": _cell(n.final.mean["service_level"][d, i]),
                    "service_level_ci": _cell(n.final.half["service_level"][d, i]),
                    "abandon_rate": _cell(n.final.mean["abandon_rate"][d, i]),
                    "met": bool(n.met[d, i]), "reason": n.reason[d, i]})
    return rows


def staffing_document(s: Scenario, plans: dict[str, QueuePlan], targets: Targets,
                      confidence: float, cost_per_hour: float, curve: list[dict]) -> dict:
    """``staffing.json``: agent-hours and cost of the requirement, of Erlang C and A, of the
    roster, and per interval the targets met with their figures and CIs."""
    width = s.interval_min
    week_hours = 7 * MINUTES_PER_DAY / 60

    def hours(a: NDArray, where: NDArray) -> float:
        return float(np.clip(a, 0, None)[where].sum()) * width / 60

    doc: dict = {"interval_min": width, "confidence": confidence,
                 "targets": dataclasses.asdict(targets), "queues": {}, "tradeoff": curve}
    for queue, p in plans.items():
        n = p.need
        seen = n.pilot.observed  # the totals compare the measured intervals only
        q: dict = {
            "rounds": n.rounds,
            "requirement_agent_hours_per_week": hours(n.agents, seen),
            "erlang_c_agent_hours_per_week": hours(n.erlang_c, seen),
            "erlang_a_agent_hours_per_week": hours(n.erlang_a, seen),
            "requirement_cost_per_week": hours(n.agents, seen) * cost_per_hour,
            "kept_agent_hours_per_week": hours(n.agents, ~seen),  # unmeasured: as scenario
            "patience_rate_per_min": n.pilot.patience_rate,
            "service_rate_per_min": n.pilot.service_rate,
            "intervals_met": int((n.met & n.pilot.observed).sum()),
            "intervals_not_measured": int((~n.pilot.observed).sum()),
            "intervals_not_met": [
                {"weekday": WEEKDAYS[d], "interval_start_min": int(i * width),
                 "reason": n.reason[d, i]} for d, i in zip(*np.nonzero(~n.met), strict=True)
                if n.pilot.observed[d, i]],
            "by_interval": {k: [_cell(v) for v in n.final.mean[k].ravel()] for k in FIGURES}
            | {f"{k}_ci": [_cell(v) for v in n.final.half[k].ravel()] for k in FIGURES}
            | {"agents": n.agents.ravel().tolist(), "met": n.met.ravel().tolist()},
            "one_less": {k: [_cell(v) for v in n.one_less[k].ravel()] for k in n.one_less}
            | {f"{k}_ci": [_cell(v) for v in n.one_less_half[k].ravel()]
               for k in n.one_less_half},
        }
        if p.roster is not None:
            r = p.roster
            q["roster"] = {
                "cost_per_week": r.cost, "bound": r.bound, "lp_bound": r.lp_bound,
                "gap": r.gap, "status": r.status, "seconds": r.seconds, "repairs": p.repairs,
                "paid_hours_per_week": float(sum(x.agents * x.paid_hours for x in r.shifts)),
                "targets_met_in_resimulation": bool(p.rostered_met.all()),
                "intervals_short": int((~p.rostered_met).sum()),
                "short_intervals": short_intervals(p, targets, confidence),
                "service_level": [_cell(v) for v in p.rostered.mean["service_level"].ravel()],
                "service_level_ci": [_cell(v)
                                     for v in p.rostered.half["service_level"].ravel()],
                "abandon_rate": [_cell(v) for v in p.rostered.mean["abandon_rate"].ravel()],
            }
        doc["queues"][queue] = q
    doc["scenario_agent_hours_over_horizon"] = agent_hours(s)
    doc["hours_per_week"] = week_hours
    return doc


def override_document(base_experiment: str | None, overrides: dict,
                      plans: dict[str, QueuePlan]) -> dict:
    """The scenario override (an ``experiment`` config) staffing each queue by its roster
    (or, without shift types, by the requirement as an interval table)."""
    tps: dict = {}
    for queue, p in plans.items():
        if p.roster is not None:
            entry = {"shifts": p.roster.scenario_shifts(queue), "staffing": {"agents": []}}
        else:
            width = int(MINUTES_PER_DAY) // p.need.agents.shape[1]
            entry = {"shifts": [], "staffing": {"interval_min": width,
                                                "agents": p.need.agents.tolist()}}
        name, group = split_unit(queue)
        if group is None:
            tps[name] = entry
        else:  # an agent group of the queue
            tps.setdefault(name, {}).setdefault("groups", {})[group] = entry
    body = _merge(overrides, {"touchpoints": tps})
    defaults = ([base_experiment] if base_experiment else []) + ["_self_"]
    return {"defaults": defaults, **body}


def _merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


__all__ = ["QueuePlan", "override_document", "plan_queue", "requirement_rows", "rostered",
           "staffing_document", "staffed", "tradeoff"]
