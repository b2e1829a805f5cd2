"""The cheapest roster covering a requirement: shift scheduling as a set-covering integer
programme, solved by HiGHS (``scipy.optimize.milp``) or OR-Tools CP-SAT.

For candidate shifts s (:mod:`cxsim.workforce.shifts`) with cost ``c_s`` and ``a_is`` minutes
spanned in interval i of their group, and placements k of each break b of shift s taking
``d_isbk`` minutes off, choose whole numbers of agents ``x_s`` and ``w_sbk`` to

    minimise  sum_s c_s x_s
    subject to  sum_s a_is x_s - sum_sbk d_isbk w_sbk >= r_i * interval_min   every group, i
                sum_k w_sbk = x_s                                     every shift s, break b
                min_t <= sum_{s of type t, day d} x_s <= max_t        every shift type t, day d
                sum_{s part-time} p_s x_s <= share * sum_s p_s x_s    per group (paid minutes p)
                0 <= x_s, w_sbk <= u_s

HiGHS is the default: ``benchmarks/roster.py`` measured both solvers on weeks of 30-minute
intervals with 3 groups (figures in ``docs/staffing.md``); it needs nothing beyond SciPy.
CP-SAT (``solver="cpsat"``) needs the ``ortools`` package and integer data, so costs enter it
in cents per hour. Every result carries the solver's proven lower bound on the optimal cost,
the LP relaxation's bound, and the relative gap ``(cost - bound) / cost``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from cxsim.workforce.shifts import (
    DAY_NAMES,
    DAY_SETS,
    MIN_PER_DAY,
    Candidates,
    RosterRuleError,
    ShiftType,
    candidates,
)

__all__ = ["Roster", "RosterShift", "solve_roster"]

SOLVERS = ("highs", "cpsat")


def _clock(minute: int) -> str:
    minute %= MIN_PER_DAY
    return f"{minute // 60:02d}:{minute % 60:02d}"


@dataclass(frozen=True)
class RosterShift:
    """``agents`` people on one shift: from ``start_min`` to ``end_min`` minutes after 00:00
    of ``day`` (``end_min`` > 1440 runs past midnight), off duty during ``breaks``
    ((start_min, end_min, paid) on the same clock)."""

    shift_id: str
    shift_type: str
    group: str
    day: str
    start_min: int
    end_min: int
    breaks: tuple[tuple[int, int, bool], ...]
    agents: int
    paid_hours: float
    cost: float

    def duty(self) -> list[tuple[str, int, int]]:
        """Stretches on duty as (day, start_min, end_min) within one day each: split at the
        breaks (paid or not, the agent is off the queue) and at midnight."""
        cuts = [self.start_min, *(x for s, e, _ in self.breaks for x in (s, e)), self.end_min]
        day = DAY_NAMES.index(self.day)
        out = []
        for a, b in list(zip(cuts[::2], cuts[1::2], strict=True)):
            while b > a:
                d = a // MIN_PER_DAY
                end = min(b, (d + 1) * MIN_PER_DAY)
                out.append((DAY_NAMES[(day + d) % 7], a - d * MIN_PER_DAY, end - d * MIN_PER_DAY))
                a = end
        return out


@dataclass(frozen=True)
class Roster:
    """A solved roster: its shifts, the coverage it gives (agents on duty, averaged over each
    interval; groups x intervals of the week, beside ``requirement``), its cost, the solver's
    lower ``bound`` on the optimal cost, the LP relaxation's ``lp_bound``, ``gap`` =
    (cost - bound) / cost, and the solver's ``status`` ("optimal" or "feasible": stopped at the
    time limit with a roster in hand)."""

    shifts: tuple[RosterShift, ...]
    groups: tuple[str, ...]
    interval_min: int
    requirement: NDArray[np.int64]
    coverage: NDArray[np.float64]
    cost: float
    bound: float
    lp_bound: float
    gap: float
    status: str
    solver: str
    seconds: float
    n_candidates: int

    def scenario_shifts(self, group: str) -> list[dict]:
        """The group's roster as scenario staffing: ``{"start_hour", "end_hour", "agents",
        "days"}`` entries (the fields of ``cxsim.spec.Shift``), one per stretch on duty, equal
        stretches added up, and the same stretch on every day of a day set ("weekdays",
        "weekends", "all") written once for the set."""
        if group not in self.groups:
            raise ValueError(f"group must be one of {', '.join(self.groups)}; got {group!r}")
        merged: dict[tuple[str, int, int], int] = {}
        for sh in self.shifts:
            if sh.group == group:
                for piece in sh.duty():
                    merged[piece] = merged.get(piece, 0) + sh.agents
        days_of: dict[tuple[int, int, int], set[int]] = {}
        for (d, a, b), agents in merged.items():
            days_of.setdefault((a, b, agents), set()).add(DAY_NAMES.index(d))
        sets = {frozenset(v): k for k, v in DAY_SETS.items() if len(v) > 1}
        out = []
        for (a, b, agents), days in days_of.items():
            name = sets.get(frozenset(days))
            for d in [None] if name else sorted(days):
                out.append({"start_hour": a / 60, "end_hour": b / 60, "agents": agents,
                            "days": name or DAY_NAMES[d]})
        order = {name: i for i, name in enumerate((*DAY_NAMES, "weekdays", "weekends", "all"))}
        return sorted(out, key=lambda e: (-len(DAY_SETS[e["days"]]), order[e["days"]],
                                          e["start_hour"], e["end_hour"]))

    def table(self) -> list[dict]:
        """One row per shift (for ``roster.csv``): times as HH:MM, breaks spelled out."""
        return [{"shift": sh.shift_id, "shift_type": sh.shift_type, "group": sh.group,
                 "day": sh.day, "start": _clock(sh.start_min), "end": _clock(sh.end_min),
                 "breaks": "; ".join(f"{_clock(s)}-{_clock(e)} {'paid' if p else 'unpaid'}"
                                     for s, e, p in sh.breaks),
                 "agents": sh.agents, "paid_hours": sh.paid_hours, "cost": sh.cost}
                for sh in self.shifts]


# --------------------------------------------------------------------------- the programme
@dataclass(frozen=True)
class _Programme:
    cost: NDArray[np.float64]
    upper: NDArray[np.int64]
    rows: sparse.csr_array  # integer coefficients
    lower: NDArray[np.float64]
    upper_rows: NDArray[np.float64]


def _programme(c: Candidates, shift_types: Sequence[ShiftType],
               max_part_time_share: float | None) -> _Programme:
    """Columns: the shifts, then the break placements (``shifts`` module doc)."""
    n_cols = c.cover.shape[1]
    need = c.requirement.ravel() * c.interval_min
    busy = need > 0  # rows without need constrain nothing
    blocks = [sparse.csr_array(c.cover)[busy]]
    lower, upper = [need[busy].astype(float)], [np.full(int(busy.sum()), np.inf)]

    def rows(matrix, lo, hi):
        blocks.append(sparse.csr_array(matrix, shape=(matrix.shape[0], n_cols)))
        lower.append(np.full(matrix.shape[0], lo, dtype=float) if np.isscalar(lo) else lo)
        upper.append(np.full(matrix.shape[0], hi, dtype=float) if np.isscalar(hi) else hi)

    # Each break of a shift is placed once per agent: sum_k w_sbk - x_s = 0.
    pairs, which = np.unique(np.stack([c.break_shift, c.break_index], axis=1), axis=0,
                             return_inverse=True)
    if pairs.size:
        k = np.arange(c.break_shift.size)
        link = sparse.coo_array(
            (np.concatenate([np.ones(k.size), -np.ones(len(pairs))]),
             (np.concatenate([which, np.arange(len(pairs))]),
              np.concatenate([c.n_shifts + k, pairs[:, 0]]))), shape=(len(pairs), n_cols))
        rows(link, 0.0, 0.0)
    for t, st in enumerate(shift_types):
        if st.min_agents == 0 and st.max_agents is None:
            continue
        days = np.unique(c.day[c.type_index == t])
        member = np.zeros((days.size, n_cols))
        for r, day in enumerate(days):
            member[r, :c.n_shifts] = (c.type_index == t) & (c.day == day)
        rows(member, float(st.min_agents),
             np.inf if st.max_agents is None else float(st.max_agents))
    if max_part_time_share is not None:
        # (part-time - share) * paid <= 0 per group, in thousandths so CP-SAT gets integers.
        share = round(max_part_time_share * 1000)
        part = np.array([shift_types[t].part_time for t in c.type_index], dtype=np.int64)
        group = np.array([c.groups.index(shift_types[t].group) for t in c.type_index])
        weight = np.zeros((len(c.groups), n_cols))
        for g in range(len(c.groups)):
            weight[g, :c.n_shifts] = np.where(group == g, (1000 * part - share) * c.paid_min, 0)
        rows(weight, -np.inf, 0.0)
    owner = np.concatenate([np.arange(c.n_shifts), c.break_shift])
    return _Programme(
        cost=np.concatenate([c.cost, np.zeros(c.break_shift.size)]), upper=c.upper[owner],
        rows=sparse.vstack(blocks, format="csr"), lower=np.concatenate(lower),
        upper_rows=np.concatenate(upper),
    )


def _solve_highs(p: _Programme, time_limit_s: float, mip_gap: float, log: bool):
    res = milp(p.cost, integrality=np.ones(p.cost.size), bounds=Bounds(0, p.upper),
               constraints=LinearConstraint(p.rows, p.lower, p.upper_rows),
               options={"time_limit": time_limit_s, "mip_rel_gap": mip_gap, "disp": log})
    if res.x is None:
        return None, "infeasible" if res.status == 2 else res.message, np.nan
    status = "optimal" if res.status == 0 else "feasible"
    return np.round(res.x).astype(np.int64), status, float(res.mip_dual_bound)


def _solve_cpsat(p: _Programme, c: Candidates, shift_types, time_limit_s, mip_gap, log,
                 workers: int):
    try:
        from ortools.sat.python import cp_model
    except ImportError as err:  # pragma: no cover - ortools ships with the dev extra
        raise ValueError("solver 'cpsat' needs the ortools package (pip install ortools)") \
            from err
    rate_cents = np.array([round(100 * shift_types[t].cost_per_hour) for t in c.type_index])
    weight = np.zeros(p.cost.size, dtype=np.int64)
    weight[:c.n_shifts] = c.paid_min * rate_cents  # cost x 6000
    model = cp_model.CpModel()
    x = [model.new_int_var(0, int(u), f"x{j}") for j, u in enumerate(p.upper)]
    rows = p.rows
    for i in range(rows.shape[0]):
        s = slice(rows.indptr[i], rows.indptr[i + 1])
        expr = cp_model.LinearExpr.weighted_sum([x[j] for j in rows.indices[s]],
                                                [int(v) for v in rows.data[s]])
        lo, hi = p.lower[i], p.upper_rows[i]
        model.add_linear_constraint(expr, int(lo) if np.isfinite(lo) else cp_model.INT_MIN,
                                    int(hi) if np.isfinite(hi) else cp_model.INT_MAX)
    model.minimize(cp_model.LinearExpr.weighted_sum(x, [int(w) for w in weight]))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit_s)
    solver.parameters.relative_gap_limit = float(mip_gap)
    solver.parameters.num_workers = int(workers)
    solver.parameters.log_search_progress = bool(log)
    code = solver.solve(model)
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None, "infeasible" if code == cp_model.INFEASIBLE else solver.status_name(code), \
            np.nan
    status = "optimal" if code == cp_model.OPTIMAL else "feasible"
    return (np.array([solver.value(v) for v in x], dtype=np.int64), status,
            solver.best_objective_bound / 6000.0)


def solve_roster(
    requirement: Mapping[str, ArrayLike],
    shift_types: Sequence[ShiftType],
    *,
    interval_min: int = 30,
    solver: str = "highs",
    time_limit_s: float = 60.0,
    mip_gap: float = 0.01,
    max_part_time_share: float | None = None,
    workers: int = 1,
    log: bool = False,
) -> Roster:
    """The cheapest roster of ``shift_types`` covering ``requirement`` (agents per interval of
    the week, per group: 7 x 1440/interval_min numbers each).

    Stops at ``time_limit_s`` or once the gap to the bound is below ``mip_gap`` (the times
    each takes are measured in ``docs/staffing.md``); ``workers`` are
    CP-SAT's threads (HiGHS runs on one); ``log`` prints the solver's progress lines. Rules no
    roster can satisfy raise :class:`~cxsim.workforce.shifts.RosterRuleError` naming the
    group, shift type or interval at fault.

    >>> need = np.zeros((7, 24), dtype=int)
    >>> need[:5, 9:17] = 3  # three agents 09:00-17:00 on weekdays, hourly intervals
    >>> day = ShiftType("day", "phone", 480, 7 * 60, 10 * 60, 60, days="weekdays",
    ...                 cost_per_hour=20.0)
    >>> r = solve_roster({"phone": need}, [day], interval_min=60)
    >>> r.status, r.cost, r.gap
    ('optimal', 2400.0, 0.0)
    >>> [(s.shift_id, s.agents) for s in r.shifts][:2]
    [('day/mon/09:00', 3), ('day/tue/09:00', 3)]
    >>> r.scenario_shifts("phone")
    [{'start_hour': 9.0, 'end_hour': 17.0, 'agents': 3, 'days': 'weekdays'}]
    """
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {', '.join(SOLVERS)}; got {solver!r}")
    for name, value, lo in (("time_limit_s", time_limit_s, 0.0), ("mip_gap", mip_gap, 0.0)):
        if not isinstance(value, int | float) or not np.isfinite(value) or value < lo \
                or (name == "time_limit_s" and value == 0):
            raise ValueError(f"{name} must be a finite number > 0 (gap >= 0); got {value!r}")
    if max_part_time_share is not None and not 0 <= max_part_time_share <= 1:
        raise ValueError(f"max_part_time_share must be in [0, 1]; got {max_part_time_share!r}")
    started = time.perf_counter()
    c = candidates(requirement, shift_types, interval_min)
    p = _programme(c, shift_types, max_part_time_share)
    lp = milp(p.cost, bounds=Bounds(0, p.upper),
              constraints=LinearConstraint(p.rows, p.lower, p.upper_rows))
    if lp.status == 2:
        raise RosterRuleError(["the rules admit no roster covering the requirement (infeasible "
                               "even without whole agents): check min_agents, max_agents and "
                               "max_part_time_share"])
    if solver == "highs":
        x, status, bound = _solve_highs(p, time_limit_s, mip_gap, log)
    else:
        x, status, bound = _solve_cpsat(p, c, shift_types, time_limit_s, mip_gap, log, workers)
    if x is None and status == "infeasible":
        raise RosterRuleError(["the rules admit no roster in whole agents (the LP relaxation "
                               "has one): check min_agents, max_agents and max_part_time_share"])
    if x is None:
        raise RosterRuleError([f"no roster found within time_limit_s={time_limit_s:g} "
                               f"(solver {solver}: {status}); allow more time or coarsen the "
                               "start and break grids"])
    return _roster(c, shift_types, x, status, bound, float(lp.fun), solver,
                   time.perf_counter() - started)


def _agents_plans(c: Candidates, x: NDArray[np.int64], s: int) -> dict[tuple, int]:
    """Shift column s's agents by break plan: the i-th agent takes the i-th placement (in
    time order) of every break, so each agent holds one placement of each."""
    per_break = []
    for b in np.unique(c.break_index[c.break_shift == s]):
        cols = np.flatnonzero((c.break_shift == s) & (c.break_index == b))
        cols = cols[np.argsort(c.break_start[cols])]
        per_break.append(np.repeat(cols, x[c.n_shifts + cols]))
    plans: dict[tuple, int] = {}
    for i in range(int(x[s])):
        plan = tuple(sorted((int(c.break_start[k[i]]), int(c.break_end[k[i]])) for k in per_break))
        plans[plan] = plans.get(plan, 0) + 1
    return plans


def _roster(c: Candidates, shift_types, x, status, bound, lp_bound, solver, seconds) -> Roster:
    coverage = (c.cover @ x).reshape(len(c.groups), c.n_intervals) / c.interval_min
    if np.any(coverage < c.requirement - 1e-9):  # pragma: no cover - a solver tolerance bug
        raise RuntimeError(f"solver {solver} returned a roster below the requirement")
    chosen = []
    for s in np.flatnonzero(x[:c.n_shifts]):
        st = shift_types[c.type_index[s]]
        paid_by_start = {b.earliest_min: b.paid for b in st.breaks}
        day, start = DAY_NAMES[c.day[s]], int(c.start_min[s])
        for plan, agents in _agents_plans(c, x, s).items():
            breaks = tuple((a, e, paid_by_start[k])
                           for (a, e), k in zip(plan, sorted(paid_by_start), strict=True))
            tag = "".join(f"/{_clock(a).replace(':', '')}" for a, _ in plan)
            chosen.append(RosterShift(
                shift_id=f"{st.name}/{day}/{_clock(start)}{tag}", shift_type=st.name,
                group=st.group, day=day, start_min=start, end_min=start + st.length_min,
                breaks=breaks, agents=agents, paid_hours=float(c.paid_min[s] / 60),
                cost=float(agents * c.cost[s]),
            ))
    chosen.sort(key=lambda r: (c.groups.index(r.group), DAY_NAMES.index(r.day), r.start_min,
                               r.shift_id))
    cost = float(c.cost @ x[:c.n_shifts])
    return Roster(
        shifts=tuple(chosen), groups=c.groups, interval_min=c.interval_min,
        requirement=c.requirement, coverage=coverage, cost=cost, bound=bound,
        lp_bound=lp_bound, gap=(cost - bound) / cost if cost > 0 else 0.0, status=status,
        solver=solver, seconds=seconds, n_candidates=int(c.cover.shape[1]),
    )
