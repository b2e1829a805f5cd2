"""Running a scenario: population, arrivals, the SimPy loop, replications.

Arrivals are Poisson with a piecewise-constant rate (hour of day x day of week), drawn a day
at a time. Neither they nor the router's follow-ups (fallbacks, recontacts, handoffs, travel:
its agenda, a heap) are SimPy events: a pump merges the two in time order and runs them up to
SimPy's next event (a day boundary for reactions, the horizon), then schedules itself for
whichever comes next. SimPy stays the clock; a SimPy event per step would cost more than the
step. A need drawn for a customer who has already left is dropped (thinning), so load falls
as customers churn.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from heapq import heappop

import numpy as np
import pandas as pd
import simpy

from cxsim.engine.contacts import contact_frame
from cxsim.engine.episode import Episode
from cxsim.engine.episodes import EpisodeLog
from cxsim.engine.journey import JourneyRouter
from cxsim.engine.nodes import INF, Node, build_nodes
from cxsim.engine.priority import PriorityQueueNode
from cxsim.engine.reactions import Reactions
from cxsim.engine.routing import SkillQueueNode
from cxsim.engine.stats import TouchpointStats
from cxsim.engine.streams import generator
from cxsim.spec import Scenario
from cxsim.spec.kinds import (
    DAYS_PER_MONTH,
    DAYS_PER_WEEK,
    HOURS_PER_DAY,
    MINUTES_PER_DAY,
    MINUTES_PER_HOUR,
)

# Records (visits, episodes) buffered before they are summed: a flush costs some 20 NumPy calls
# whatever its size, so it waits for a few thousand (or a day, whichever is longer).
FLUSH_AT = 8192


@dataclass
class Population:
    """Customers at the start: segment, pain-point intolerance, still active."""

    segment: np.ndarray
    intolerant: np.ndarray
    active: np.ndarray
    offsets: np.ndarray  # first customer id of each segment
    sizes: np.ndarray

    @classmethod
    def draw(cls, s: Scenario, rep: int) -> Population:
        shares = np.array([g.share for g in s.segments.values()])
        sizes = _apportion(s.population.customers, shares)
        segment = np.repeat(np.arange(len(sizes), dtype=np.int16), sizes)
        intolerance = np.array([g.pain_intolerant for g in s.segments.values()])
        gen = generator(s.seed, rep, "population")
        intolerant = gen.random(segment.size) < intolerance[segment]
        offsets = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        return cls(segment, intolerant, np.ones(segment.size, bool), offsets, sizes)


def _apportion(total: int, shares: np.ndarray) -> np.ndarray:
    """Integer sizes summing to ``total`` in proportion to ``shares`` (largest remainder)."""
    raw = total * shares / shares.sum()
    sizes = np.floor(raw).astype(np.int64)
    sizes[np.argsort(raw - sizes)[::-1][: total - sizes.sum()]] += 1
    return sizes


class Arrivals:
    """Needs as they arise: (time, customer, segment, reason), drawn one day at a time."""

    def __init__(self, s: Scenario, pop: Population, rep: int) -> None:
        self.gen = generator(s.seed, rep, "arrivals")
        needs = np.array([g.needs_per_month for g in s.segments.values()])
        volume = pop.sizes * needs / (DAYS_PER_MONTH * MINUTES_PER_DAY)  # per minute
        self.rate = float(volume.sum())
        self.seg_p = volume / self.rate if self.rate > 0 else np.full(len(needs), 1 / len(needs))
        hourly = np.asarray(s.population.hourly_profile, float)
        weekday = np.asarray(s.population.weekday_profile, float)
        self.hourly = hourly / hourly.mean()
        self.weekday = weekday / weekday.mean()
        self.reason_p = np.array([j.share for j in s.journeys.values()])
        self.pop = pop
        self.days = int(np.ceil(s.horizon))
        self.end = s.horizon * MINUTES_PER_DAY

    def day(self, d: int) -> tuple[list, list, list, list]:
        g = self.gen
        hour = MINUTES_PER_HOUR
        lam = self.rate * hour * self.hourly * self.weekday[d % DAYS_PER_WEEK]
        counts = g.poisson(lam)
        start = d * MINUTES_PER_DAY + hour * np.repeat(np.arange(HOURS_PER_DAY), counts)
        times = np.sort(start + hour * g.random(start.size))
        n = times.size
        seg = np.searchsorted(np.cumsum(self.seg_p), g.random(n) * self.seg_p.sum(), "right")
        seg = np.minimum(seg, len(self.seg_p) - 1)
        cust = self.pop.offsets[seg] + (g.random(n) * self.pop.sizes[seg]).astype(np.int64)
        reason = np.searchsorted(
            np.cumsum(self.reason_p), g.random(n) * self.reason_p.sum(), "right"
        )
        reason = np.minimum(reason, len(self.reason_p) - 1)
        keep = times < self.end
        return (
            times[keep].tolist(),
            cust[keep].tolist(),
            seg[keep].tolist(),
            reason[keep].tolist(),
        )


@dataclass
class ReplicationResult:
    """What one replication measured: sums per touchpoint and episode totals (+ rows)."""

    replication: int
    touchpoint_sums: np.ndarray  # (touchpoint, field, interval of the week)
    staffed_min: np.ndarray  # agent-minutes on duty in the window, per touchpoint
    episode_totals: dict[str, float]
    episodes_ended: list[int]
    arrivals: int
    episodes: pd.DataFrame | None
    outcome_figures: dict[str, float] | None = None  # surveys, churn, value (behaviour on)
    surveys: pd.DataFrame | None = None
    customers: pd.DataFrame | None = None
    contacts: pd.DataFrame | None = None  # the engine's contact log (cxsim.engine.contacts)
    # Agent-minutes on duty in the window per touchpoint and interval of the week.
    staffed_by_interval: np.ndarray | None = None
    # Per touchpoint with priority classes: its (class, field) sums (cxsim.engine.priority).
    class_sums: dict[str, np.ndarray] | None = None
    # Per touchpoint with agent groups: its (skill, field) sums, its (group, 1 + interval)
    # served calls and busy minutes, and its (group, field, interval) sums of the contacts
    # whose primary group each is (cxsim.engine.routing).
    group_sums: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None


class Replication:
    """One independent run of a scenario (its own streams: seed, replication)."""

    def __init__(self, s: Scenario, rep: int, keep_rows: bool = False,
                 reactions: type[Reactions] = Reactions) -> None:
        """``reactions``: how customers react (a subclass plugs in another outcomes model)."""
        self.s, self.rep = s, rep
        self.env = simpy.Environment()
        lo, hi = s.warmup * MINUTES_PER_DAY, s.horizon * MINUTES_PER_DAY
        self.window = (lo, hi)
        self.nodes: list[Node]
        self.nodes, channels = build_nodes(
            s, rep, lambda tp: TouchpointStats(lo, hi, tp.sl_threshold_min, s.interval_min))
        self.log = EpisodeLog(lo, hi, keep_rows)
        if keep_rows:
            for node in self.nodes:
                node.contacts = []
        self.pop = Population.draw(s, rep)
        self.arrivals = Arrivals(s, self.pop, rep)
        self.reactions = None
        if s.behaviour.enabled:
            self.reactions = reactions(s, self.pop.segment, self.pop.active, rep)
        self.router = JourneyRouter(s, self.nodes, channels, rep, self.log, self.reactions)
        self._day = -1
        self._intolerant = self.pop.intolerant.tolist()
        self._times: list[float] = []
        self._i = self._n = 0
        self.n_arrivals = 0

    def _pump(self, _ev: object = None) -> None:
        """Run arrivals and follow-ups in time order up to SimPy's next event (a day boundary,
        the horizon), then wait for whichever comes next. Arrivals go first at equal times."""
        env, router = self.env, self.router
        agenda, arrive = router.agenda, router.choose
        active, intolerant = self.pop.active, self._intolerant
        limit = env.peek()
        while True:
            if self._i == self._n and self._day + 1 < self.arrivals.days:
                self._day += 1
                self._times, self._cust, self._seg, self._reason = self.arrivals.day(self._day)
                self.log.flush(FLUSH_AT)
                for node in self.nodes:
                    node.stats.flush(FLUSH_AT)
                self._i, self._n = 0, len(self._times)
                continue
            times, custs, segs, reasons = self._times, self._cust, self._seg, self._reason
            i, n, k = self._i, self._n, self.n_arrivals
            t_next = times[i] if i < n else INF
            try:
                while True:
                    if agenda and agenda[0][0] < t_next:  # a follow-up
                        t = agenda[0][0]
                        if t > limit:
                            self._wait(t)
                            return
                        _, _, fn, ep, arg = heappop(agenda)
                        fn(ep, t, arg)
                    elif i < n:  # an arrival
                        t = t_next
                        if t > limit:
                            self._wait(t)
                            return
                        cust = custs[i]
                        if active[cust]:
                            k += 1
                            arrive(Episode(k - 1, cust, segs[i], reasons[i], t,
                                           intolerant[cust]), t)
                        i += 1
                        if i == n:
                            break  # on to the next day's arrivals
                        t_next = times[i]
                    else:
                        return  # no arrivals or follow-ups left
            finally:
                self._i, self.n_arrivals = i, k

    def _wait(self, t: float) -> None:
        self.env.timeout(max(0.0, t - self.env.now)).callbacks.append(self._pump)

    def run(self, on_day: Callable[[], None] | None = None) -> ReplicationResult:
        s, env = self.s, self.env
        end = s.horizon * MINUTES_PER_DAY
        reactions = self.reactions

        def daily(_ev: object) -> None:
            if reactions is not None:
                reactions.clock(env.now)
            if on_day is not None:
                on_day()
            if env.now + MINUTES_PER_DAY < end:
                env.timeout(MINUTES_PER_DAY).callbacks.append(daily)

        if reactions is not None or on_day is not None:
            if MINUTES_PER_DAY < end:
                env.timeout(MINUTES_PER_DAY).callbacks.append(daily)
        env.timeout(0).callbacks.append(self._pump)
        env.run(until=end)
        self.router.drain()  # nodes' own events past the horizon (a priority queue's)
        if on_day is not None:  # the last (maybe partial) day
            on_day()
        lo, hi = self.window
        staffed = np.array([n.staffed_minutes(lo, hi) for n in self.nodes])
        by_interval = np.stack([n.staffed_by_interval(lo, hi, s.interval_min)
                                for n in self.nodes])
        router = self.router
        frame = surveys = customers = figures = contacts = None
        if reactions is not None:
            reactions.finish()
            figures = reactions.figures()
        if self.log.keep_rows:
            frame = self.log.frame(router.segments, router.reasons, router.channels,
                                   [n.name for n in self.nodes])
            frame.insert(0, "replication", self.rep)
            contacts = contact_frame(self.nodes, router.channels, router.reasons, end)
            if reactions is not None:
                surveys = reactions.survey_frame()
                customers = reactions.customer_frame(router.segments)
        return ReplicationResult(
            self.rep, np.stack([n.stats.array() for n in self.nodes]), staffed,
            dict(self.log.totals), list(self.log.ended), self.n_arrivals, frame,
            figures, surveys, customers, contacts, by_interval,
            {n.name: n.class_stats.array() for n in self.nodes
             if isinstance(n, PriorityQueueNode) and n.classes} or None,
            {n.name: (n.skill_stats.array(), n.group_stats.array(), n.group_stats.primary)
             for n in self.nodes
             if isinstance(n, SkillQueueNode)} or None,
        )
