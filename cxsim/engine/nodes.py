"""Touchpoint nodes: where an episode spends time and what comes out of it.

Each node has ``visit(ep, t) -> (t_done, outcome, target)``: the customer arrives at ``t``;
the node decides when the visit ends and how (see the outcome codes), and the journey router
(:mod:`cxsim.engine.journey`) decides what follows. Visits to a node arrive in time order.

Only agent queues are contended. A FIFO queue needs no event per call: because no later
arrival can overtake an earlier one, the start of service of a customer is fixed the moment
they arrive, by the Kiefer-Wolfowitz recursion over the agents' next free times (a heap).
Abandonment is then known too: a customer whose wait would exceed their patience leaves at
``t + patience`` and never holds an agent. This is exact for FIFO service with customer-bound
service times and patience; a node with priorities or skills would use SimPy events instead
behind the same ``visit`` interface.
"""

from __future__ import annotations

from heapq import heappop, heappush, heapreplace
from typing import TYPE_CHECKING

import numpy as np

from cxsim.engine.staffing import HOURS_PER_WEEK, duty_intervals, weekly_agents
from cxsim.engine.stats import (
    KIND_ABANDONED,
    KIND_CONTAINED,
    KIND_ESCALATED,
    KIND_FAILED,
    KIND_LOOPED,
    KIND_RESOLVED,
    KIND_TRANSFERRED,
    KIND_UNRESOLVED,
    KIND_UNSERVED,
    TouchpointStats,
)
from cxsim.engine.streams import durations, generator, uniforms
from cxsim.spec import Duration, Scenario, Touchpoint

if TYPE_CHECKING:
    from cxsim.engine.journey import Episode, JourneyRouter

INF = float("inf")
# Visit outcomes.
RESOLVED, FAILED, ABANDONED, UNRESOLVED, HANDOFF = 1, 2, 3, 4, 5
# Bot outcomes kept on the episode.
BOT_NONE, BOT_CONTAINED, BOT_ESCALATED, BOT_LOOPED = 0, 1, 2, 3
UNIT_EXPONENTIAL = Duration(mean_min=1.0, cv=1.0, dist="exponential")
SLACK_MIN = 7 * 24 * 60  # agents keep their schedule a week past the horizon so late waits end


class Node:
    """What every touchpoint node shares: identity, opening hours, statistics, streams."""

    kind = ""

    def __init__(
        self, idx: int, name: str, tp: Touchpoint, s: Scenario, rep: int, stats: TouchpointStats
    ) -> None:
        self.idx, self.name, self.tp = idx, name, tp
        self.steps = tp.steps
        self.lead_min = tp.travel_min
        self.stats = stats
        self.visits = stats.visits  # the buffer each visit appends to
        self.uniform = uniforms(generator(s.seed, rep, f"tp:{name}:route"))
        self.set_open_hours(np.ones(HOURS_PER_WEEK, dtype=bool))
        self.channel = -1  # set by the router
        self.router: JourneyRouter  # set by the router

    def set_open_hours(self, weekly: np.ndarray) -> None:
        """Which of the 168 hours of the week a customer can choose this touchpoint."""
        self.open_hours = tuple(bool(x) for x in weekly)
        self.always_open = all(self.open_hours)

    def is_open(self, t: float) -> bool:
        return self.always_open or self.open_hours[int(t // 60.0) % HOURS_PER_WEEK]


class SelfServiceNode(Node):
    """Knowledge base or app help: uncontended, contains a share of needs."""

    kind = "self_service"

    def __init__(self, idx, name, tp, s, rep, stats):
        super().__init__(idx, name, tp, s, rep, stats)
        self.duration = durations(tp.duration, generator(s.seed, rep, f"tp:{name}:duration"))
        self.containment = tp.containment

    def visit(self, ep: Episode, t: float) -> tuple[float, int, Node | None]:
        done = t + self.duration()
        if self.uniform() < self.containment:
            self.visits.extend((t, KIND_CONTAINED, 0.0, 0.0, 0))
            return done, RESOLVED, None
        self.visits.extend((t, KIND_FAILED, 0.0, 0.0, 0))
        return done, FAILED, None


class BotNode(SelfServiceNode):
    """A chatbot: contains, escalates to agents (maybe with context) or loops."""

    kind = "bot"

    def __init__(self, idx, name, tp, s, rep, stats):
        super().__init__(idx, name, tp, s, rep, stats)
        self.escalation = tp.escalation if tp.escalate_to else 0.0
        self.loop_min = tp.loop_min
        self.target: Node | None = None  # set by the router

    def visit(self, ep: Episode, t: float) -> tuple[float, int, Node | None]:
        done = t + self.duration()
        if self.uniform() < self.containment:
            ep.bot = BOT_CONTAINED
            self.visits.extend((t, KIND_CONTAINED, 0.0, 0.0, 0))
            return done, RESOLVED, None
        if self.uniform() < self.escalation:
            ep.bot = BOT_ESCALATED
            self.visits.extend((t, KIND_ESCALATED, 0.0, 0.0, 0))
            return done, HANDOFF, self.target
        ep.bot = BOT_LOOPED
        self.visits.extend((t, KIND_LOOPED, 0.0, 0.0, 0))
        return done + self.loop_min, FAILED, None


class QueueNode(Node):
    """Agents serving a FIFO queue by shifts (phone, chat, social, e-mail inbox, store desk)."""

    kind = "queue"

    def __init__(self, idx, name, tp, s, rep, stats):
        super().__init__(idx, name, tp, s, rep, stats)
        weekly = weekly_agents(tp.shifts)
        self.weekly_agents = weekly
        # An inbox takes messages at any hour; live queues and stores only while staffed.
        self.set_open_hours(np.ones_like(weekly, bool) if tp.kind == "async" else weekly > 0)
        self._duty = duty_intervals(weekly, s.horizon * 1440.0 + SLACK_MIN)
        self._next_duty = 0
        self._free: list[tuple[float, float]] = []  # (free from, off duty at) per agent
        self.handle = durations(tp.handle, generator(s.seed, rep, f"tp:{name}:handle"))
        self.patience = durations(UNIT_EXPONENTIAL, generator(s.seed, rep, f"tp:{name}:patience"))
        # Customers of an inbox, or of a queue with patience_factor 0, never abandon.
        self.never_abandons = tp.kind == "async" or tp.patience_factor == 0
        self.patience_by_segment: list[float] = []  # mean patience, set by the router
        self.fcr = tp.fcr
        self.fcr_or_transfer = tp.fcr + tp.transfer_prob
        self.carryover = tp.context_carryover
        self.target: Node | None = None  # transfer target, set by the router

    def _service_start(self, t: float) -> float:
        """Earliest time an on-duty agent can take a customer arriving at ``t``; that agent
        is left on top of the heap. ``inf`` when no agent will ever come."""
        free, duty, k = self._free, self._duty, self._next_duty
        while k < len(duty) and duty[k][0] <= t:
            heappush(free, duty[k])
            k += 1
        while True:
            if not free:
                if k == len(duty):
                    start = INF
                    break
                heappush(free, duty[k])
                k += 1
                continue
            f, off = free[0]
            start = f if f > t else t
            if start >= off:  # this agent's duty ended before they could take the call
                heappop(free)
            elif k < len(duty) and duty[k][0] < start:  # someone starts duty sooner
                heappush(free, duty[k])
                k += 1
            else:
                break
        self._next_duty = k
        return start

    def visit(self, ep: Episode, t: float) -> tuple[float, int, Node | None]:
        r = self.router
        repeat = 0
        if ep.explained:
            carry = r.carryover if self.carryover is None else self.carryover
            if self.uniform() >= carry:
                repeat = 1
                ep.repeats += 1
        ep.explained = True
        handle = self.handle() * r.handle_factor[ep.reason] + repeat * r.repeat_min
        start = self._service_start(t)
        wait = start - t
        mean_patience = self.patience_by_segment[ep.segment]
        if mean_patience != INF:
            # Drawn for every arrival, waiting or not, so that streams stay aligned across
            # scenarios (common random numbers).
            patience = self.patience() * mean_patience
            if ep.intolerant:
                patience *= r.intolerant_patience
            if wait > patience:
                ep.wait += patience
                self.visits.extend((t, KIND_ABANDONED, patience, 0.0, 0))
                return t + patience, ABANDONED, None
        if start == INF:  # never staffed again and the customer never gives up
            self.visits.extend((t, KIND_UNSERVED, 0.0, 0.0, 0))
            return INF, UNRESOLVED, None
        end = start + handle
        free = self._free
        heapreplace(free, (end, free[0][1]))
        ep.wait += wait
        ep.handle += handle
        u = self.uniform()
        if u < self.fcr:
            self.visits.extend((t, KIND_RESOLVED, wait, handle, repeat))
            return end, RESOLVED, None
        if u < self.fcr_or_transfer and self.target is not None:
            self.visits.extend((t, KIND_TRANSFERRED, wait, handle, repeat))
            return end, HANDOFF, self.target
        self.visits.extend((t, KIND_UNRESOLVED, wait, handle, repeat))
        return end, UNRESOLVED, None


NODE_KINDS = {
    "self_service": SelfServiceNode,
    "bot": BotNode,
    "queue": QueueNode,
    "async": QueueNode,
    "store": QueueNode,
}
