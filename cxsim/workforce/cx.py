"""What staffing does to customers: the CX trade-off by simulation, and CX targets.

A WFM tool sizes a queue for a service level; what the customers then feel (their effort,
their NPS, whether they leave and what their lifetime value becomes) is outside its reach.
Here, for each service-level target of a list, every queue is staffed per interval by
Erlang A on the load its pilot run measured, and the whole scenario is simulated with the
outcomes model on, over a horizon long enough for churn and the periodic NPS survey to show
(months, not the staffing week), with the same seed at every level (common random numbers:
the levels differ by their staffing, not their luck). Each level gives agent-hours and
cost per week beside the customers' figures with their CIs over replications; the cost of one
point of NPS is the slope of cost against population NPS over the levels.

CX targets choose the level: the cheapest whose mean CES is at most ``ces_max`` and whose
population NPS is at least ``nps_min``, each at the plan's one-sided confidence; with a cost
per churned customer (the lifetime value lost), the level whose staff cost plus lost value is
least. The staffing search then runs at that service level.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from cxsim.engine import simulate
from cxsim.spec import Scenario
from cxsim.spec.kinds import MINUTES_PER_DAY, MINUTES_PER_MONTH
from cxsim.workforce.requirements import Targets, requirement
from cxsim.workforce.simulated import Measured, measured, staffed, unit_table

# The customers' figures of each level, as metrics.json names them (top level: live queues
# pooled, customers' outcomes), each with its ``_ci``.
CX_FIGURES = ("service_level", "abandon_rate", "ces", "nps_population", "churn_rate", "ltv")
DAYS_PER_WEEK = 7


@dataclass(frozen=True)
class CxTargets:
    """What the customers must feel, ``None``: no target. ``ces_max``: mean customer effort
    score at most; ``nps_min``: the population's NPS at least; ``ltv_per_churn``: the value
    lost with each churned customer, weighed against the staff's cost."""

    ces_max: float | None = None
    nps_min: float | None = None
    ltv_per_churn: float | None = None

    @property
    def any(self) -> bool:
        return any(v is not None for v in dataclasses.astuple(self))


def level_tables(s: Scenario, pilots: dict[str, Measured], targets: Targets,
                 level: float) -> tuple[dict[str, np.ndarray], float]:
    """Each unit's agents per interval (7 x intervals of the day) by Erlang A on its
    measured load at service level ``level``, and their agent-hours a week. An interval whose
    target no count reaches, or that the pilot did not measure, keeps the scenario's
    staffing there."""
    t = dataclasses.replace(targets, service_level=level)
    tables, hours = {}, 0.0
    for queue, m in pilots.items():
        lam = np.where(m.observed, np.nan_to_num(m.arrival_rate), 0.0)
        r = requirement(lam, m.service_rate, t, patience_rate=m.patience_rate)
        own = unit_table(s, queue)
        agents = np.where(r.feasible & m.observed, r.agents, own)
        tables[queue] = agents
        hours += float(agents.sum()) * (MINUTES_PER_DAY / lam.shape[1]) / 60
    return tables, hours


def cx_curve(s: Scenario, pilots: dict[str, Measured], targets: Targets,
             levels: Sequence[float], cost_per_hour: float, *, horizon_days: float,
             ltv_per_churn: float | None = None,
             note: Callable[[str], None] = lambda _msg: None) -> list[dict]:
    """One row per service-level target: agent-hours and cost a week, and
    :data:`CX_FIGURES` with their ``_ci`` simulated over ``horizon_days`` with the outcomes
    model on; with ``ltv_per_churn``, the churned customers a week, the value they take and
    the total (staff plus lost value)."""
    if not s.behaviour.enabled:
        raise ValueError("the CX trade-off needs the outcomes model (behaviour.enabled)")
    long = dataclasses.replace(s, horizon=float(horizon_days),
                               warmup=min(s.warmup, horizon_days / 4))
    rows = []
    for level in sorted(levels):
        tables, hours = level_tables(s, pilots, targets, level)
        m = simulate(staffed(long, tables)).metrics
        row: dict = {"service_level_target": level, "agent_hours_per_week": hours,
                     "cost_per_week": hours * cost_per_hour}
        for k in CX_FIGURES:
            row[k], row[f"{k}_ci"] = m.get(k), m.get(f"{k}_ci")
        churned = (row["churn_rate"] or 0.0) * s.population.customers * DAYS_PER_WEEK \
            * MINUTES_PER_DAY / MINUTES_PER_MONTH
        row["churned_per_week"] = churned
        if ltv_per_churn is not None:
            row["lost_value_per_week"] = churned * ltv_per_churn
            row["total_cost_per_week"] = row["cost_per_week"] + row["lost_value_per_week"]
        note(f"CX trade-off: service level {level:g}: {hours:.0f} agent-h/week, "
             f"NPS {_fmt(row['nps_population'])}, CES {_fmt(row['ces'])}")
        rows.append(row)
    return rows


def cost_per_nps_point(rows: Sequence[dict]) -> float | None:
    """The staff cost a week of one point of population NPS: the least-squares slope of cost
    against NPS over the levels (None when NPS does not move)."""
    pts = [(r["nps_population"], r["cost_per_week"]) for r in rows
           if r.get("nps_population") is not None]
    if len(pts) < 2:
        return None
    x, y = np.array(pts, float).T
    if np.ptp(x) <= 0:
        return None
    return float(np.polyfit(x, y, 1)[0])


@dataclass(frozen=True)
class CxChoice:
    """The service level the CX targets ask for, or why none does."""

    level: float | None
    reason: str


def choose_level(rows: Sequence[dict], cx: CxTargets, confidence: float,
                 replications: int) -> CxChoice:
    """The cheapest level meeting the CX targets at ``confidence`` (one-sided, over
    ``replications``); with ``ltv_per_churn``, among those, the least total cost."""
    q = stats.t.ppf(confidence, replications - 1) / stats.t.ppf(0.975, replications - 1)

    def bound(row: dict, key: str, sign: float) -> float:
        x, half = row.get(key), row.get(f"{key}_ci")
        return math.nan if x is None else x + sign * q * (half or 0.0)

    ok = [r for r in rows
          if (cx.ces_max is None or bound(r, "ces", +1) <= cx.ces_max)
          and (cx.nps_min is None or bound(r, "nps_population", -1) >= cx.nps_min)]
    if not ok:
        best = max(rows, key=lambda r: r["service_level_target"])
        misses = [f"{name} {target:g} (at service level {best['service_level_target']:g}: "
                  f"{_fmt(best.get(key))} ± {_fmt(best.get(f'{key}_ci'))})"
                  for name, key, target in (("ces_max", "ces", cx.ces_max),
                                            ("nps_min", "nps_population", cx.nps_min))
                  if target is not None]
        return CxChoice(None, "no service-level target of tradeoff_levels reaches "
                              + " and ".join(misses))
    key = "total_cost_per_week" if cx.ltv_per_churn is not None else "cost_per_week"
    pick = min(ok, key=lambda r: r[key])
    why = ("least staff cost plus lost lifetime value" if cx.ltv_per_churn is not None
           else "cheapest level meeting the CX targets")
    return CxChoice(pick["service_level_target"], why)


def cx_tradeoff(s: Scenario, queues: Sequence[str], targets: Targets, cx: CxTargets,
                levels: Sequence[float], cost_per_hour: float, *, horizon_days: float,
                confidence: float, note: Callable[[str], None] = lambda _msg: None) -> dict:
    """``staffing.json``'s ``cx_tradeoff``: a pilot run with the scenario's staffing, the
    curve over ``levels`` and, with CX targets, the service level they ask for
    (``chosen_service_level``: None, and ``why``, when none reaches them)."""
    pilot = simulate(s).metrics
    pilots = {q: measured(s, pilot, q) for q in queues}
    rows = cx_curve(s, pilots, targets, levels, cost_per_hour, horizon_days=horizon_days,
                    ltv_per_churn=cx.ltv_per_churn, note=note)
    doc = {"horizon_days": horizon_days, "targets": dataclasses.asdict(cx), "levels": rows,
           "cost_per_nps_point_per_week": cost_per_nps_point(rows),
           "chosen_service_level": None, "why": "no CX target"}
    if cx.any:
        choice = choose_level(rows, cx, confidence, s.replications)
        doc["chosen_service_level"], doc["why"] = choice.level, choice.reason
        if choice.level is not None:
            note(f"CX targets: service level {choice.level:g} ({choice.reason})")
    return doc


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}"


__all__ = ["CX_FIGURES", "CxChoice", "CxTargets", "choose_level", "cost_per_nps_point",
           "cx_curve", "cx_tradeoff", "level_tables"]
