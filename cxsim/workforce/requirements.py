"""The per-interval requirement: the fewest agents whose Erlang C or Erlang A figures meet
every service target, for whole arrays of intervals at once.

The search is a bisection over agent counts run for all intervals together (about a dozen
vectorised evaluations for any number of intervals). It relies on every figure being
monotone in the count - service level up, ASA, abandonment and occupancy down - which holds
for both models (the tests check it, and check the result against a scalar search count by
count). Targets that no count can meet are reported per interval with the reason, never
raised: a service level of 100% where calls can queue, no abandonment where callers have
finite patience, an ASA of 0, or a load that ``max_agents`` agents cannot carry to target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cxsim.metrics._checks import _arr
from cxsim.workforce.erlang import (
    _TABLE_CELLS,
    QueueFigures,
    _agents,
    _erlang_a,
    _log_e,
    _log_e_table,
    _positive,
    _threshold,
)

__all__ = ["Requirement", "Targets", "requirement"]


@dataclass(frozen=True)
class Targets:
    """Service targets of one queue; ``None`` switches a target off.

    ``service_level``: the share answered within ``sl_threshold`` must be at least this;
    ``asa``: the answered calls' mean wait at most this; ``abandon_rate`` and ``occupancy``:
    at most these. Times in the rates' unit (minutes in cxsim).
    """

    service_level: float | None = None
    sl_threshold: float = 0.0
    asa: float | None = None
    abandon_rate: float | None = None
    occupancy: float | None = None

    def __post_init__(self) -> None:
        for name, lo, hi, lo_open in (("service_level", 0.0, 1.0, False),
                                      ("abandon_rate", 0.0, 1.0, False),
                                      ("occupancy", 0.0, 1.0, True),
                                      ("asa", 0.0, math.inf, False)):
            value = getattr(self, name)
            if value is None:
                continue
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            if not ok or math.isnan(value) or value > hi or value < lo or (lo_open and value == lo):
                side = "(" if lo_open else "["
                raise ValueError(f"targets.{name} must be a number in {side}{lo}, {hi}]; "
                                 f"got {value!r}")
        t = self.sl_threshold
        if not isinstance(t, int | float) or isinstance(t, bool) or math.isnan(t) or t < 0:
            raise ValueError(f"targets.sl_threshold must be a number >= 0; got {t!r}")
        if all(getattr(self, k) is None for k in ("service_level", "asa", "abandon_rate",
                                                  "occupancy")):
            raise ValueError("targets: set at least one of service_level, asa, abandon_rate, "
                             "occupancy")


@dataclass(frozen=True)
class Requirement:
    """The requirement per element of the input's broadcast shape.

    ``agents`` is the smallest count meeting every target (``-1`` where none up to
    ``max_agents`` does); ``feasible`` marks where one does, and ``reason`` says why not
    elsewhere (``""`` where feasible); ``figures`` are the model's figures at ``agents``
    (at ``max_agents`` where infeasible, ``nan`` where no calls arrive).
    """

    agents: NDArray[np.int64]
    feasible: NDArray[np.bool_]
    reason: NDArray[np.object_]
    figures: QueueFigures


def _misses(figures: QueueFigures, targets: Targets, idle: NDArray) -> dict[str, NDArray]:
    """Per target, where it is missed (never in an interval without arrivals)."""
    f, out = figures, {}
    with np.errstate(invalid="ignore"):
        if targets.service_level is not None:
            out["service_level"] = f.service_level < targets.service_level
        if targets.asa is not None:  # nan (nobody answered) misses
            out["asa"] = ~(f.asa <= targets.asa)
        if targets.abandon_rate is not None:
            out["abandon_rate"] = f.abandon_rate > targets.abandon_rate
        if targets.occupancy is not None:  # nan (no agents) does not
            out["occupancy"] = f.occupancy > targets.occupancy
    return {k: v & ~idle for k, v in out.items()}


def _unreachable(targets: Targets, lam, theta) -> NDArray[np.object_]:
    """Targets no count can meet, whatever the load: their reason, or ''."""
    reason = np.full(lam.shape, "", dtype=object)
    busy = lam > 0
    t = targets.sl_threshold
    if targets.service_level == 1.0:
        cannot = busy & ((theta > 0) | math.isfinite(t))
        reason[cannot] = (f"service_level 1 within {t:g} min is unreachable: some calls "
                          + ("always wait longer" if math.isfinite(t) else "always abandon"))
    if targets.asa == 0.0:
        reason[busy & (reason == "")] = "asa 0 is unreachable: some calls always wait"
    if targets.abandon_rate == 0.0:
        reason[busy & (theta > 0) & (reason == "")] = (
            "abandon_rate 0 is unreachable with finite patience: some callers always abandon")
    return reason


def requirement(
    arrival_rate: ArrayLike,
    service_rate: ArrayLike,
    targets: Targets,
    *,
    patience_rate: ArrayLike = 0.0,
    min_agents: ArrayLike = 0,
    max_agents: int = 1000,
) -> Requirement:
    """The fewest agents per element meeting ``targets``: Erlang C where ``patience_rate`` is
    0, Erlang A where it is positive. Arguments broadcast (e.g. 7 x 48 half-hours); an
    element without arrivals needs ``min_agents``.

    >>> lam = np.array([0.0, 2.0, 9.0, 30.0])  # calls per minute in four intervals
    >>> t = Targets(service_level=0.8, sl_threshold=1 / 3)
    >>> requirement(lam, 1.0, t).agents
    array([ 0,  4, 12, 33])
    >>> requirement(lam, 1.0, t, patience_rate=0.5).agents  # abandonment relieves the queue
    array([ 0,  4, 11, 30])
    >>> r = requirement(lam, 1.0, Targets(service_level=1.0, sl_threshold=1 / 3))
    >>> r.agents
    array([ 0, -1, -1, -1])
    >>> print(r.reason[1])
    service_level 1 within 0.333333 min is unreachable: some calls always wait longer
    """
    if isinstance(max_agents, bool) or not isinstance(max_agents, int | np.integer) \
            or max_agents < 0:
        raise ValueError(f"max_agents must be an integer >= 0; got {max_agents!r}")
    if not isinstance(targets, Targets):
        raise ValueError(f"targets must be a Targets; got {type(targets).__name__}")
    lam = _arr(arrival_rate, "arrival_rate", nonneg=True)
    mu = _positive(service_rate, "service_rate")
    theta = _arr(patience_rate, "patience_rate", nonneg=True)
    floor = _agents(min_agents)
    if np.any(floor > max_agents):
        raise ValueError(f"min_agents must be <= max_agents={max_agents}; got {floor.max()}")
    lam, mu, theta, floor = (np.ravel(v) for v in np.broadcast_arrays(lam, mu, theta, floor))
    shape = np.broadcast_shapes(*(np.shape(v) for v in (arrival_rate, service_rate,
                                                        patience_rate, min_agents)))
    t = _threshold(targets.sl_threshold) + np.zeros_like(lam)
    idle = lam == 0
    load = lam / mu

    # A first guess above the usual requirement (square-root staffing with room to spare): one
    # Erlang B recursion per distinct load runs up to the largest guess and serves every step
    # below it; counts beyond (intervals the guess does not serve) run their own.
    guess = np.clip(np.ceil(load + 4 * np.sqrt(load) + 5).astype(np.int64), floor, max_agents)
    loads, inverse = np.unique(load, return_inverse=True)
    depth = int(guess.max(initial=0))
    if loads.size * (depth + 1) > _TABLE_CELLS:
        depth = -1
    table = _log_e_table(np.where(loads > 0, loads, 1.0), max(depth, 0))

    def evaluate(c, sel, with_asa=True) -> QueueFigures:
        near = c <= depth
        log_e = np.empty(c.shape)
        log_e[near] = table[c[near], inverse[sel][near]]
        log_e[~near] = _log_e(c[~near], load[sel][~near])
        log_e = np.where(load[sel] > 0, log_e, np.where(c > 0, np.inf, -np.inf))
        return _erlang_a(c, lam[sel], mu[sel], theta[sel], t[sel], log_e, with_asa)

    def meets(c, sel) -> NDArray[np.bool_]:
        missed = _misses(evaluate(c, sel, targets.asa is not None), targets, idle[sel])
        return ~np.any(list(missed.values()), axis=0)

    everywhere = np.ones(lam.size, dtype=bool)
    reason = _unreachable(targets, lam, theta)
    served = reason == ""
    served[served] = meets(guess[served], served)
    beyond = (reason == "") & ~served  # the guess misses: is max_agents enough?
    if beyond.any():
        at_top = evaluate(np.full(int(beyond.sum()), max_agents), beyond)
        for name, missed in _misses(at_top, targets, idle[beyond]).items():
            short = np.flatnonzero(beyond)[missed & (reason[beyond] == "")]
            value = getattr(at_top, name)[missed & (reason[beyond] == "")]
            reason[short] = [f"{name} {'>=' if name == 'service_level' else '<='} "
                             f"{getattr(targets, name):g} is not met by max_agents="
                             f"{max_agents} (reaches {v:.4g})" for v in value]
    feasible = reason == ""
    # Bisection for all intervals at once: lo misses (or lies below the floor), hi meets.
    hi = np.where(served, guess, np.where(feasible, max_agents, -1))
    lo = np.where(beyond, guess, floor)
    at_floor = served.copy()
    at_floor[served] = meets(floor[served], served)
    hi[at_floor] = floor[at_floor]
    while True:
        open_ = np.flatnonzero(feasible & (hi - lo > 1))
        if not open_.size:
            break
        mid = (lo[open_] + hi[open_]) // 2
        good = meets(mid, open_)
        hi[open_[good]] = mid[good]
        lo[open_[~good]] = mid[~good]
    figures = evaluate(np.where(feasible, hi, max_agents), everywhere)
    for v in figures.__dict__.values():
        v[idle] = np.nan  # no calls: nothing to measure, as the engine reports it
    return Requirement(
        agents=hi.reshape(shape),
        feasible=feasible.reshape(shape),
        reason=reason.reshape(shape),
        figures=QueueFigures(**{k: v.reshape(shape) for k, v in figures.__dict__.items()}),
    )
