"""Staffing per interval, from agent activity or from a roster.

A log tells who served when, not who was on duty. So from agent activity two figures, both
named for what they are:

* ``busy_agents``: the time-weighted number of agents serving contacts in the interval
  (agent-minutes of service / interval minutes). Staffed agents are at least this many while
  they serve (an agent who is idle, on a break or on another queue is not seen), so it is a
  **lower bound** on the agents staffed, up to calls run on past a shift's end;
* ``distinct_agents``: the agents who served at least one contact during the interval. It
  **over-counts** agents on duty the whole interval (one who served a call and left, or took
  a single call from another desk, counts fully).

A roster file (agent shifts, or shifts with a number of agents) gives ``staffed_agents``
directly: the time-weighted number on duty.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cxsim.calibrate.operations.cis import finite
from cxsim.data.contacts.canonical import MIN_PER_DAY, WEEKDAYS, Calendar


def time_weighted(starts: np.ndarray, ends: np.ndarray, edges: np.ndarray,
                  weights: np.ndarray | None = None) -> np.ndarray:
    """``sum_i w_i |[s_i, e_i) & [edges_k, edges_k+1)|`` for each bin k, in O(n log n).

    >>> time_weighted(np.array([0.0, 30.0]), np.array([90.0, 45.0]), np.array([0.0, 60, 120]))
    array([75., 30.])
    """
    s, e = np.asarray(starts, float), np.asarray(ends, float)
    w = np.ones(s.size) if weights is None else np.asarray(weights, float)

    def covered(points: np.ndarray, g: np.ndarray) -> np.ndarray:
        # sum_i w_i max(0, g - points_i)
        order = np.argsort(points)
        p, ww = points[order], w[order]
        cw = np.concatenate(([0.0], np.cumsum(ww)))
        cwp = np.concatenate(([0.0], np.cumsum(ww * p)))
        k = np.searchsorted(p, g, side="right")
        return cw[k] * g - cwp[k]

    total = covered(s, edges) - covered(e, edges)
    return np.diff(total)


def distinct_per_interval(agent: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                          interval_min: float, n_intervals: int) -> np.ndarray:
    """Number of distinct agents with a service overlapping each interval."""
    codes = pd.factorize(agent)[0]
    k0 = np.floor(starts / interval_min).astype(np.int64)
    k1 = np.maximum(np.ceil(ends / interval_min).astype(np.int64) - 1, k0)
    span = k1 - k0 + 1
    first = np.repeat(k0, span)
    offset = np.arange(span.sum()) - np.repeat(np.cumsum(span) - span, span)
    k = first + offset
    who = np.repeat(codes, span)
    ok = (k >= 0) & (k < n_intervals)
    pairs = np.unique(who[ok].astype(np.int64) * n_intervals + k[ok])
    return np.bincount(pairs % n_intervals, minlength=n_intervals).astype(float)


@dataclass
class Staffing:
    """Agents per calendar interval (``(n_days, slots)`` arrays; NaN on missing days)."""

    interval_min: int
    busy: np.ndarray | None
    distinct: np.ndarray | None
    staffed: np.ndarray | None
    calendar: Calendar

    def by_weekday(self, a: np.ndarray) -> np.ndarray:
        """(7, slots) means over the observed days of each weekday."""
        weekday = self.calendar.weekday(np.arange(self.calendar.n_days))
        out = np.full((7, a.shape[1]), np.nan)
        for w in range(7):
            rows = a[(weekday == w) & self.calendar.observed]
            if len(rows):
                out[w] = rows.mean(axis=0)
        return out

    def to_json(self) -> dict:
        doc: dict = {"interval_min": self.interval_min, "weekdays": list(WEEKDAYS),
                     "interval_start_min": [k * self.interval_min for k in
                                            range(int(MIN_PER_DAY // self.interval_min))]}
        named = (("busy_agents", self.busy, "agent activity: time-weighted agents serving "
                  "(a lower bound on agents staffed)"),
                 ("distinct_agents", self.distinct, "agent activity: agents who served at "
                  "least one contact (an over-count of agents staffed)"),
                 ("staffed_agents", self.staffed, "the roster: time-weighted agents on duty"))
        for key, a, what in named:
            if a is not None:
                doc[key] = {"mean_by_weekday": [[finite(x) for x in row]
                                                for row in self.by_weekday(a)], "source": what}
        return doc


def _grid(calendar: Calendar, interval_min: int) -> np.ndarray:
    return np.arange(calendar.n_days * int(MIN_PER_DAY // interval_min) + 1) * float(
        interval_min)


def _daily(values: np.ndarray, calendar: Calendar) -> np.ndarray:
    a = values.reshape(calendar.n_days, -1)
    a[~calendar.observed] = np.nan
    return a


def staffing_from_activity(agent: np.ndarray, start: np.ndarray, end: np.ndarray,
                           calendar: Calendar, interval_min: int = 60) -> Staffing:
    """Busy and distinct agents per interval from services (agent id, start, end minutes);
    services without an agent id are left out."""
    ok = pd.notna(agent) & ~np.isnan(start) & ~np.isnan(end)
    agent, start, end = np.asarray(agent)[ok], start[ok], end[ok]
    edges = _grid(calendar, interval_min)
    busy = time_weighted(start, end, edges) / interval_min
    distinct = distinct_per_interval(agent, start, end, interval_min, edges.size - 1)
    return Staffing(interval_min, _daily(busy, calendar), _daily(distinct, calendar), None,
                    calendar)


def staffing_from_roster(start: np.ndarray, end: np.ndarray, agents: np.ndarray | None,
                         calendar: Calendar, interval_min: int = 60) -> np.ndarray:
    """(n_days, slots) time-weighted agents on duty from roster shifts (minutes)."""
    edges = _grid(calendar, interval_min)
    on = time_weighted(start, end, edges, agents) / interval_min
    return _daily(on, calendar)
