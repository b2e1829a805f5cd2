"""The requirement by simulation: start from Erlang C / Erlang A per interval, then correct the
agent counts with the engine until every interval meets its targets with a stated confidence.

The engine sees what the formulas do not: queues carried from one interval into the next,
callers retrying after abandoning, transfers, mixed patience. Every candidate staffing is
simulated with the same seed (common random numbers), so two candidates differ by their
staffing, not by their luck, and the decision per interval compares the simulation's figures
with the target through a one-sided confidence bound over independent replications: an
interval *meets* a service-level target when ``mean - t_conf * se >= target`` (abandonment,
ASA, occupancy: ``mean + t_conf * se <= target``), ``se`` the standard error over the
replications (the engine's 95% half-width / t_0.975).

The search (:func:`simulated_requirement`):

1. a pilot run with the scenario's own staffing measures each interval's arrival rate, the
   queue's handle rate and its abandonment rate per minute waited (the maximum-likelihood
   estimate of an exponential patience: abandonments / minutes waited); Erlang C (no
   abandonment seen) or Erlang A gives the starting requirement;
2. *up*: the intervals that miss get one agent more (or the Erlang requirement of their newly
   measured load, if larger), until every interval meets;
3. *down*: every other interval tries one agent less (neighbours never together: a queue
   carries over into the next interval); those still meeting keep it, those missing keep
   their count for good. If the cuts kept make the next interval miss, those cuts are put
   back for good; any other miss goes through an up step (one agent more, then locked).
   Alternating until neither half has a cut that holds, or ``max_rounds`` simulations.

Intervals outside the measurement window, or whose targets no count reaches (a service level
of 100% within 0 s, a load beyond ``max_agents``), keep the scenario's staffing and are
reported with the reason.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from cxsim.engine import simulate
from cxsim.engine.staffing import touchpoint_agents, weekly_agents
from cxsim.spec import IntervalStaffing, Scenario, validate
from cxsim.spec.kinds import KINDS, MINUTES_PER_DAY
from cxsim.workforce.requirements import Targets, requirement

DAYS = 7
FIGURES = ("volume", "service_level", "asa", "abandon_rate", "occupancy", "p_wait", "mean_wait")


@dataclass(frozen=True)
class Measured:
    """One queue's per-interval figures from one simulation (7 x intervals of the day each):
    means and 95% half-widths over ``replications``, the arrival rate per minute, and the
    queue's handle and abandonment rates."""

    mean: dict[str, NDArray[np.float64]]
    half: dict[str, NDArray[np.float64]]
    arrival_rate: NDArray[np.float64]
    observed: NDArray[np.bool_]  # intervals with minutes inside the measurement window
    replications: int
    service_rate: float
    patience_rate: float
    # Where the guarded units (agent groups staffed before this one) still meet their targets
    # in the same run; None: no guard.
    guard: NDArray[np.bool_] | None = None

    def lower_upper(self, name: str, confidence: float) -> tuple[NDArray, NDArray]:
        """One-sided ``confidence`` bounds of figure ``name`` per interval."""
        r = self.replications
        se = self.half[name] / stats.t.ppf(0.975, r - 1) if r > 1 else np.zeros_like(
            self.mean[name])
        se = np.where(np.isfinite(se), se, 0.0)
        q = stats.t.ppf(confidence, r - 1) if r > 1 else 0.0
        return self.mean[name] - q * se, self.mean[name] + q * se


def split_unit(unit: str) -> tuple[str, str | None]:
    """A staffing unit: a queue, or one agent group of a queue (``queue.group``)."""
    queue, _, group = unit.partition(".")
    return queue, group or None


def unit_agents(s: Scenario, unit: str) -> NDArray[np.int64]:
    """The unit's agents on duty minute by minute over the week, as the scenario staffs it."""
    queue, group = split_unit(unit)
    tp = s.touchpoints[queue]
    if group is None:
        return touchpoint_agents(tp)
    g = tp.groups[group]
    return weekly_agents(g.shifts, g.staffing)


def unit_table(s: Scenario, unit: str) -> NDArray[np.int64]:
    """The unit's agents per interval of the scenario's ``interval_min`` (7 x intervals of
    the day), as the scenario staffs it: the most on duty in each interval."""
    per_day = int(MINUTES_PER_DAY) // s.interval_min
    return unit_agents(s, unit).reshape(DAYS, per_day, s.interval_min).max(axis=2)


def measure(s: Scenario, queue: str) -> Measured:
    """Simulate ``s`` and read the unit's (a queue's or an agent group's, ``queue.group``)
    per-interval figures from ``by_interval``."""
    return measured(s, simulate(s).metrics, queue)


def measured(s: Scenario, m: dict, unit: str) -> Measured:
    """The unit's per-interval figures from the metrics document ``m`` of a run of ``s``: a
    queue's, or an agent group's (its own agents' occupancy, the waits of the contacts whose
    primary group it is)."""
    queue, group = split_unit(unit)
    b = m["by_interval"][queue]
    window_min = b["window_min"]
    if group is not None:
        b = {**b["groups"][group], "window_min": window_min}
    per_day = int(MINUTES_PER_DAY) // s.interval_min

    def grid(key: str) -> NDArray[np.float64]:
        return np.array([np.nan if v is None else v for v in b[key]], float).reshape(
            DAYS, per_day)

    window = grid("window_min")
    tp = m["touchpoints"][queue]
    volume = grid("volume")
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(window > 0, volume / window, np.nan)
    aht = tp.get("aht")
    abandoned = (tp.get("abandon_rate") or 0.0) * (tp.get("volume") or 0.0)
    waited = (tp.get("mean_wait") or 0.0) * (tp.get("volume") or 0.0)
    return Measured(
        mean={k: grid(k) for k in FIGURES},
        half={k: grid(f"{k}_ci") for k in FIGURES},
        arrival_rate=rate,
        observed=window > 0,
        replications=s.replications,
        service_rate=1.0 / aht if aht else math.nan,
        patience_rate=abandoned / waited if waited > 0 else 0.0,
    )


def meets(m: Measured, t: Targets, confidence: float) -> NDArray[np.bool_]:
    """Where every target is met at ``confidence`` (an interval without calls meets)."""
    ok = np.ones(m.observed.shape, bool)
    checks = (("service_level", t.service_level, True), ("asa", t.asa, False),
              ("abandon_rate", t.abandon_rate, False), ("occupancy", t.occupancy, False))
    for name, target, at_least in checks:
        if target is None:
            continue
        lower, upper = m.lower_upper(name, confidence)
        bound = lower if at_least else upper
        with np.errstate(invalid="ignore"):
            good = bound >= target if at_least else bound <= target
        if name == "asa":  # nobody answered in a busy interval misses
            good = np.where(np.isnan(m.mean[name]) & (m.mean["volume"] > 0), False, good)
        ok &= np.where(np.isnan(bound) & (name != "asa"), True, good)
    return ok | ~(m.mean["volume"] > 0)


def staffed(s: Scenario, tables: dict[str, NDArray[np.int64]]) -> Scenario:
    """``s`` with each unit of ``tables`` (a queue, or ``queue.group``) staffed by that
    interval table alone."""
    tps = dict(s.touchpoints)
    for unit, agents in tables.items():
        width = int(MINUTES_PER_DAY) // agents.shape[1]
        table = IntervalStaffing(interval_min=width, agents=agents.astype(int).tolist())
        name, group = split_unit(unit)
        if group is None:
            tps[name] = dataclasses.replace(tps[name], shifts=[], staffing=table)
        else:
            groups = dict(tps[name].groups)
            groups[group] = dataclasses.replace(groups[group], shifts=[], staffing=table)
            tps[name] = dataclasses.replace(tps[name], groups=groups)
    return validate(dataclasses.replace(s, touchpoints=tps))


@dataclass
class QueueRequirement:
    """One queue's simulated requirement and what led to it (7 x intervals of the day)."""

    queue: str
    agents: NDArray[np.int64]
    erlang_c: NDArray[np.int64]
    erlang_a: NDArray[np.int64]
    met: NDArray[np.bool_]
    reason: NDArray[np.object_]
    final: Measured  # the figures at ``agents``
    one_less: dict[str, NDArray[np.float64]] = field(default_factory=dict)  # last cut tried
    one_less_half: dict[str, NDArray[np.float64]] = field(default_factory=dict)
    rounds: int = 0
    pilot: Measured | None = None


def erlang_start(m: Measured, t: Targets, max_agents: int) -> tuple[NDArray, NDArray, NDArray]:
    """Erlang C and Erlang A requirements of the measured load (-1 where unreachable), and
    the reason per interval."""
    lam = np.where(m.observed, np.nan_to_num(m.arrival_rate), 0.0)
    mu = m.service_rate if math.isfinite(m.service_rate) else 1.0
    c = requirement(lam, mu, t, max_agents=max_agents)
    a = requirement(lam, mu, t, patience_rate=m.patience_rate, max_agents=max_agents)
    return c.agents, a.agents, (a if m.patience_rate > 0 else c).reason


def simulated_requirement(
    s: Scenario,
    queue: str,
    targets: Targets,
    *,
    confidence: float = 0.9,
    max_rounds: int = 30,
    max_agents: int = 1000,
    max_replications: int | None = None,
    on_round: Callable[[str], None] | None = None,
    guards: Sequence[str] = (),
) -> QueueRequirement:
    """The fewest agents per interval of the week whose simulated figures meet ``targets``
    at ``confidence``, every other queue keeping its staffing (see the module docstring).

    ``max_replications`` (default: the scenario's) lets the search refine: while some
    interval's decision is unresolved at the count it chose or one less (its confidence
    bound and the opposite one straddle the target), the replications are doubled, up to
    ``max_replications``, and the search resumes from its counts. ``queue`` may be one agent
    group of a queue (``queue.group``: its figures are those of the contacts whose primary
    group it is); ``guards`` are units (the groups of the queue staffed before it) whose
    targets a count must not break."""
    note = on_round or (lambda _msg: None)
    name, group = split_unit(queue)
    tp = s.touchpoints.get(name)
    if tp is None or not KINDS[tp.kind].assisted or (group is not None
                                                     and group not in tp.groups):
        raise ValueError(f"no agent queue or group {queue!r} in the scenario")
    if not 0.5 <= confidence < 1:
        raise ValueError(f"confidence must be in [0.5, 1); got {confidence!r}")
    top = s.replications if max_replications is None else max_replications
    if top < s.replications:
        raise ValueError(f"max_replications {top} is below the scenario's replications "
                         f"{s.replications}")
    pilot = measure(s, queue)
    note("pilot run: load measured")
    erl_c, erl_a, why = erlang_start(pilot, targets, max_agents)
    start = erl_a if pilot.patience_rate > 0 else erl_c
    reason = np.where(pilot.observed, why, "not measured: outside the simulated window")
    feasible = reason == ""
    # Intervals the search cannot decide keep the scenario's staffing (the most agents on
    # duty in the interval), so that the queue opens, carries over and closes as before.
    current = unit_table(s, queue)
    agents = np.where(feasible, start, current).astype(np.int64)
    search = _Search(s, queue, targets, confidence, max_agents, feasible, note, tuple(guards))
    agents, m = search.run(agents, max_rounds, erlang_raise=True)
    while search.s.replications < top and search.unresolved(agents, m).any():
        reps = min(2 * search.s.replications, top)
        note(f"{int(search.unresolved(agents, m).sum())} intervals unresolved: "
             f"{reps} replications")
        search = search.with_replications(reps)
        agents, m = search.run(agents, max_rounds, erlang_raise=False)
    short = feasible & ~search.meets(m)
    rounds = search.rounds_total
    reason = np.where(short, f"not met after {rounds} simulation rounds (max_rounds)", reason)
    return QueueRequirement(queue, agents, erl_c, erl_a, feasible & ~short, reason, m,
                            search.one_less, search.one_less_half, rounds, pilot)


@dataclass
class _Search:
    """The correction at one number of replications (common random numbers throughout)."""

    s: Scenario
    queue: str
    targets: Targets
    confidence: float
    max_agents: int
    feasible: NDArray[np.bool_]
    note: Callable[[str], None]
    guards: tuple[str, ...] = ()
    rounds_total: int = 0
    one_less: dict[str, NDArray] = field(default_factory=dict)
    one_less_half: dict[str, NDArray] = field(default_factory=dict)

    def with_replications(self, reps: int) -> _Search:
        return dataclasses.replace(self, s=dataclasses.replace(self.s, replications=reps),
                                   one_less={}, one_less_half={})

    def measure(self, candidate: NDArray) -> Measured:
        self.rounds_total += 1
        s = staffed(self.s, {self.queue: candidate})
        if not self.guards:
            return measure(s, self.queue)
        metrics = simulate(s).metrics
        guard = np.ones(self.feasible.shape, bool)
        for unit in self.guards:  # the groups staffed before must keep meeting their targets
            guard &= meets(measured(s, metrics, unit), self.targets, self.confidence)
        return dataclasses.replace(measured(s, metrics, self.queue), guard=guard)

    def meets(self, m: Measured) -> NDArray[np.bool_]:
        ok = meets(m, self.targets, self.confidence)
        if m.guard is not None:
            ok &= m.guard
        return ok | ~self.feasible

    def unresolved(self, agents: NDArray, m: Measured) -> NDArray[np.bool_]:
        """Busy intervals whose count the replications could not settle: at the count
        chosen, or at the one less last tried, the target lies between the two one-sided
        bounds (the figures cannot tell meeting from missing)."""
        busy = self.feasible & (m.mean["volume"] > 0) & (agents > 0)
        # Short at the confidence, yet the optimistic bound meets.
        open_ = meets(m, self.targets, 1 - self.confidence) & ~meets(m, self.targets,
                                                                    self.confidence)
        if self.one_less:
            less = Measured(self.one_less, self.one_less_half, m.arrival_rate, m.observed,
                            m.replications, m.service_rate, m.patience_rate)
            tried = np.isfinite(self.one_less["volume"])
            could_meet = meets(less, self.targets, 1 - self.confidence)
            open_ |= tried & could_meet & ~meets(less, self.targets, self.confidence)
        return busy & open_

    def run(self, agents: NDArray, max_rounds: int, *, erlang_raise: bool
            ) -> tuple[NDArray, Measured]:
        """Up and down steps from ``agents`` (see the module docstring)."""
        t, note, feasible = self.targets, self.note, self.feasible
        locked = ~feasible
        rounds = 0
        m = self.measure(agents)
        rounds += 1
        ok = self.meets(m)
        # Down steps cut one agent in every other interval at a time (a cut's queue carries
        # over into the next interval, so neighbours are never cut together).
        parity = (np.arange(agents.size).reshape(agents.shape) % 2).astype(bool)
        turn, idle_turns, cutting = False, 0, False
        while rounds < max_rounds:
            if not ok.all():  # up: the misses get one agent more (or their Erlang count)
                raise_ = agents + 1
                if erlang_raise and not cutting:
                    again_c, again_a, _ = erlang_start(m, t, self.max_agents)
                    raise_ = np.maximum(raise_, again_a if m.patience_rate > 0 else again_c)
                agents = np.minimum(np.where(ok, agents, raise_), self.max_agents).astype(
                    np.int64)
                if cutting:  # a miss after a cut: that count stays
                    locked |= ~ok
                m = self.measure(agents)
                rounds += 1
                ok = self.meets(m)
                note(f"round {self.rounds_total}: {int((~ok).sum())} intervals short")
                continue
            if idle_turns >= 2:
                break
            cutting = True
            cut = ~locked & (agents > 0) & (m.mean["volume"] > 0) & (parity == turn)
            turn = not turn
            if not cut.any():
                idle_turns += 1
                continue
            trial = np.where(cut, agents - 1, agents)
            mt = self.measure(trial)
            rounds += 1
            for k in FIGURES:
                self.one_less.setdefault(k, np.full(agents.shape, np.nan))[cut] = mt.mean[k][cut]
                self.one_less_half.setdefault(k, np.full(agents.shape, np.nan))[cut] = \
                    mt.half[k][cut]
            holds = cut & self.meets(mt)
            locked |= cut & ~holds  # one less misses: this count stays
            idle_turns = 0 if holds.any() else idle_turns + 1
            if holds.any():
                agents = np.where(holds, agents - 1, agents)
                if not np.array_equal(agents, trial):
                    m = self.measure(agents)
                    rounds += 1
                else:
                    m = mt
                ok = self.meets(m)
                # A queue carries over forwards: a miss right after a cut blames that cut,
                # which is put back for good (the up step handles misses with no cut before).
                flat_miss = ~ok.ravel()
                after = np.zeros_like(flat_miss)
                after[:-1] = flat_miss[1:]
                blamed = (holds.ravel() & after).reshape(agents.shape)
                if blamed.any():
                    agents = np.where(blamed, agents + 1, agents)
                    locked |= blamed
                    m = self.measure(agents)
                    rounds += 1
                    ok = self.meets(m)
            note(f"round {self.rounds_total}: {int(holds.sum())} intervals cut by one")
        return agents, m
