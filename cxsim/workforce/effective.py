"""Effective staffing: the agents per interval that make the queue model reproduce the
interval's observed abandonment, for a log that names no agents and comes with no roster.

Each weekday x hour cell is taken as a steady-state Erlang A queue (M/M/c+M, the stationary
independent-period approximation): arrivals at the cell's offered rate, exponential handle
times and patience of the calibrated means. Its abandonment falls with every agent added, so
the agents consistent with the observed abandonment k of n offered are those whose Erlang A
abandonment lies inside k/n's exact (Clopper-Pearson) interval; the estimate is the count
whose abandonment is nearest k/n. With no abandonment (k = 0) the estimate is the fewest
agents consistent with the data, and the upper end is unbounded (None). The approximation is
rough where load changes within the hour or handle times are far from exponential: the
numbers are an effective staffing, not a head count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cxsim.calibrate.operations.cis import binomial_ci
from cxsim.workforce.erlang import erlang_a_figures


@dataclass
class EffectiveStaffing:
    """Agents by weekday x hour (NaN where nothing was offered) and their interval."""

    agents: np.ndarray
    low: np.ndarray
    high: np.ndarray  # NaN where unbounded (no abandonment observed)
    level: float

    def to_json(self) -> dict:
        def clean(a: np.ndarray) -> list:
            return [[None if not np.isfinite(x) else float(x) for x in row] for row in a]

        return {"mean_by_weekday": clean(self.agents), "ci_low": clean(self.low),
                "ci_high": clean(self.high), "level": self.level,
                "source": "effective: Erlang A agents reproducing each weekday x hour's "
                          "abandonment (no agent ids, no roster)"}


def effective_staffing(offered: np.ndarray, abandoned: np.ndarray, days: np.ndarray,
                       handle_mean_min: float, patience_mean_min: float,
                       level: float = 0.95) -> EffectiveStaffing:
    """Effective agents per cell from ``offered[w, h]`` and ``abandoned[w, h]`` summed over
    ``days[w]`` observed days of each weekday (see the module doc)."""
    offered, abandoned = np.asarray(offered, float), np.asarray(abandoned, float)
    days = np.asarray(days, float)[:, None]
    rate = np.where(days > 0, offered / np.maximum(days, 1) / 60.0, 0.0)  # per minute
    mu, theta = 1.0 / handle_mean_min, 1.0 / patience_mean_min
    c_max = int(np.ceil(2 * rate.max(initial=0) / mu)) + 10
    c = np.arange(c_max + 1)
    p = erlang_a_figures(c[None, :], rate.reshape(-1, 1), mu, theta, 0.0).abandon_rate
    p = p.reshape(*rate.shape, c.size)
    lo, hi = binomial_ci(abandoned, offered, level)
    share = np.where(offered > 0, abandoned / np.maximum(offered, 1), np.nan)
    agents = np.full(rate.shape, np.nan)
    low, high = agents.copy(), agents.copy()
    for w, h in zip(*np.nonzero(offered > 0), strict=True):
        curve = p[w, h]
        ok = (curve <= hi[w, h]) & (curve >= lo[w, h])
        fewest = int(np.argmax(curve <= hi[w, h]))  # abandonment falls as agents are added
        low[w, h] = fewest
        if abandoned[w, h] == 0:
            agents[w, h] = fewest
            continue
        high[w, h] = int(np.flatnonzero(ok).max()) if ok.any() else fewest
        agents[w, h] = int(np.argmin(np.abs(curve - share[w, h])))
    return EffectiveStaffing(agents, low, high, level)
