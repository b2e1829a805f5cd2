"""Non-preemptive priority classes on an agent queue: an event-driven queue node.

A FIFO queue (:class:`~cxsim.engine.queue.QueueNode`) fixes a customer's start of service the
moment they arrive. With priorities it cannot: a later class-1 arrival overtakes a class-2
customer already waiting. :class:`PriorityQueueNode` (chosen by
:func:`~cxsim.engine.nodes.build_nodes` for a touchpoint that declares ``priority`` classes)
therefore answers every visit ``VISIT_PENDING`` and keeps events of its own on the journey
router's agenda, the heap of its follow-ups, so that everything runs in time order: an agent
coming on duty, an agent freeing (a call ends), a customer's patience running out. When a
customer is served or abandons, the node tells the router
(:meth:`~cxsim.engine.journey.JourneyRouter.visited`) at that time. Events past the horizon
run when the router drains its agenda at the end of the run; customers still waiting then (no
agent will come and they never give up) are recorded unserved, as the FIFO node records them.

The next customer served is the waiting one of the highest class (first listed), the earliest
arrival within a class; with a head start (``head_start_min`` of any class) it is the one of
smallest arrival time - head start. A call in service is never interrupted. Repeats, handle
times, patience and routing draw from the FIFO node's streams (route, handle, patience), in
the same order for each arrival, so that a scenario whose customers all fall in one class
matches the FIFO node in distribution (not draw for draw: routing is drawn at service start);
the classes' flags draw from a stream of their own (``priority``). Shifts work as in the FIFO
node: an agent takes a call only while on duty and finishes the call in hand when it ends.

Per-class sums (arrivals, waits, abandonment) are kept in :class:`ClassStats`, beside the
touchpoint's own statistics, which count every visit as the FIFO node does.
"""

from __future__ import annotations

from heapq import heapify, heappop, heappush
from itertools import count
from typing import TYPE_CHECKING

import numpy as np

from cxsim.engine.episode import Episode
from cxsim.engine.node import INF, NAN, NodeContext
from cxsim.engine.nodes import PRIORITY_NODES
from cxsim.engine.queue import QueueNode
from cxsim.engine.stats import (
    KIND_ABANDONED,
    KIND_UNSERVED,
)
from cxsim.engine.streams import uniforms
from cxsim.spec.kinds import (
    VISIT_ABANDONED,
    VISIT_PENDING,
    VISIT_UNRESOLVED,
)

if TYPE_CHECKING:
    from cxsim.engine.journey import JourneyRouter
    from cxsim.engine.nodes import Node

# What is summed per class, over the visits arriving in the measurement window.
CLASS_FIELDS = ("arrivals", "waited", "wait_sum", "abandoned", "served", "unserved")
ARRIVALS, WAITED, WAIT_SUM, ABANDONED, SERVED, UNSERVED = range(len(CLASS_FIELDS))
# A waiting customer's state.
WAITING, IN_SERVICE, GONE = 0, 1, 2
# Rebuild the waiting heap once it holds this many customers who have gone, and more of them
# than of those still waiting (a low class whose abandoned customers never reach the top).
COMPACT_AT = 1024


class ClassStats:
    """Sums per priority class (1 = served first; the last takes everyone else) of the visits
    arriving in the window [``lo``, ``hi``): :data:`CLASS_FIELDS`. An abandoned visit's wait
    is its patience, an unserved one's 0, as in :mod:`cxsim.engine.stats`."""

    def __init__(self, lo: float, hi: float, classes: int) -> None:
        self.lo, self.hi = lo, hi
        self.rows = [[0.0] * len(CLASS_FIELDS) for _ in range(classes)]

    def add(self, t: float, cls: int, kind: int, wait: float) -> None:
        if not self.lo <= t < self.hi:
            return
        row = self.rows[cls]
        row[ARRIVALS] += 1
        if kind == KIND_ABANDONED:
            row[ABANDONED] += 1
            row[WAITED] += 1
            row[WAIT_SUM] += wait
        elif kind == KIND_UNSERVED:
            row[UNSERVED] += 1
            row[WAITED] += 1
        else:
            row[SERVED] += 1
            row[WAIT_SUM] += wait
            if wait > 0:
                row[WAITED] += 1

    def array(self) -> np.ndarray:
        """The sums as a (class, field) array, fields in :data:`CLASS_FIELDS` order."""
        return np.array(self.rows, float)


def class_figures(sums: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class figures from sums over (..., class, field): mean wait, P(wait) and
    abandonment, each over all of the class's arrivals."""
    arrivals = sums[..., ARRIVALS]
    with np.errstate(invalid="ignore", divide="ignore"):
        def ratio(field: int) -> np.ndarray:
            return np.where(arrivals > 0, sums[..., field] / np.where(arrivals > 0, arrivals, 1),
                            np.nan)

        return {"mean_wait_by_class": ratio(WAIT_SUM), "p_wait_by_class": ratio(WAITED),
                "abandonment_by_class": ratio(ABANDONED)}


class Waiting:
    """A customer in a priority queue, from arrival to service start or abandonment."""

    __slots__ = ("ep", "t", "cls", "handle", "repeat", "redials", "patience", "state")

    def __init__(self, ep: Episode, t: float, cls: int, handle: float, repeat: int,
                 patience: float) -> None:
        self.ep, self.t, self.cls, self.handle, self.repeat = ep, t, cls, handle, repeat
        self.redials = ep.redials  # the router reads it when told of an abandonment
        self.patience, self.state = patience, WAITING


class PriorityQueueNode(QueueNode):
    """Agents serving a queue by non-preemptive priority classes (see the module doc)."""

    def __init__(self, ctx: NodeContext) -> None:
        super().__init__(ctx)
        classes = list(ctx.tp.priority)
        self.classes = classes
        self.n_classes = len(classes) + 1  # the last: those matching no class
        # Order of service: (class, arrival) when strict, (arrival - head start, 0) otherwise.
        self.strict = all(c.head_start_min is None for c in classes)
        self.head_start = [float(c.head_start_min or 0.0) for c in classes] + [0.0]
        if any(c.flag is not None for c in classes):
            self.flag_uniform = uniforms(ctx.stream("priority"))
        self.class_stats = ClassStats(ctx.stats.lo, ctx.stats.hi, self.n_classes)
        self._waiting: list[tuple] = []  # heap of (key, key, order, Waiting)
        self._gone = 0  # customers in the heap who have left it (abandoned)
        self._idle: list[tuple[float, float, int]] = []  # (free from, off duty at, agent)
        self._order = count().__next__
        self._select: list[tuple[int, int, float | None]] = []
        self.router: JourneyRouter | None = None

    def attach(self, router: JourneyRouter) -> None:
        """Keep the router (its agenda takes this node's events, its ``visited`` the
        outcomes), resolve the classes' names and schedule the first agent's duty."""
        self.router = router
        segments = {name: i for i, name in enumerate(router.segments)}
        reasons = {name: i for i, name in enumerate(router.reasons)}
        self._select = [(-1 if c.segment is None else segments[c.segment],
                         -1 if c.reason is None else reasons[c.reason], c.flag)
                        for c in self.classes]
        if self._duty:
            router.at(self._duty[0][0], self._on_duty, None, None)

    def class_of(self, ep: Episode) -> int:
        """The class (0 first) of an arrival: the first it matches. Every flagged class draws
        for every arrival, so that the streams stay aligned across scenarios."""
        found = len(self._select)
        for k, (segment, reason, flag) in enumerate(self._select):
            hit = (segment < 0 or segment == ep.segment) and (reason < 0 or reason == ep.reason)
            if flag is not None:
                hit = self.flag_uniform() < flag and hit
            if hit and k < found:
                found = k
        return found

    def visit(self, ep: Episode, t: float) -> tuple[float, int, Node | None]:
        repeat, _, handle, patience = self._arrival_draws(ep)  # as the FIFO queue's
        w = self._waiting_one(ep, t, self.class_of(ep), handle, repeat, patience)
        if not self._route(w, t):
            self._enqueue(w, t)
            if patience != INF:
                self.router.at(t + patience, self._abandon, ep, w)
        return NAN, VISIT_PENDING, None

    def _waiting_one(self, ep: Episode, t: float, cls: int, handle: float, repeat: int,
                     patience: float) -> Waiting:
        return Waiting(ep, t, cls, handle, repeat, patience)

    def _key(self, w: Waiting) -> tuple[float, float, int]:
        """Order of service: (class, arrival) when strict, (arrival - head start, 0)
        otherwise; ties by arrival order."""
        if self.strict:
            return w.cls, w.t, self._order()
        return w.t - self.head_start[w.cls], 0.0, self._order()

    def _route(self, w: Waiting, t: float) -> bool:
        """Serve ``w`` at once if an agent is on duty and free (then nobody is waiting)."""
        idle = self._idle
        while idle:
            _, off, agent = heappop(idle)
            if off > t:
                self._serve(w, t, off, agent)
                return True
        return False

    def _enqueue(self, w: Waiting, t: float) -> None:
        heappush(self._waiting, (*self._key(w), w))

    # -- events --------------------------------------------------------------------------

    def _on_duty(self, _ep: None, t: float, _arg: None) -> None:
        """Agents whose duty starts by ``t`` take a waiting customer or wait for one."""
        duty, k = self._duty, self._next_duty
        while k < len(duty) and duty[k][0] <= t:
            _, off, agent = duty[k]
            k += 1
            self._free_agent(t, off, agent)
        self._next_duty = k
        if k < len(duty):
            self.router.at(duty[k][0], self._on_duty, None, None)

    def _free_agent(self, t: float, off: float, agent: int) -> None:
        """An agent is free at ``t``: serve the first customer waiting, or wait (on duty)."""
        if t >= off:
            return  # their duty is over
        waiting = self._waiting
        while waiting:
            w = heappop(waiting)[-1]
            if w.state == WAITING:
                self._serve(w, t, off, agent)
                return
            self._gone -= 1
        heappush(self._idle, (t, off, agent))

    def _serve(self, w: Waiting, t: float, off: float, agent: int) -> int:
        """``agent`` (on duty until ``off``) takes ``w`` at ``t``; its call ends an event.
        Returns the kind of visit it comes to."""
        w.state = IN_SERVICE
        ep, handle = w.ep, w.handle
        wait, end = t - w.t, t + handle
        ep.wait += wait
        ep.handle += handle
        kind, outcome, target = self._outcome()
        self.visits.extend((w.t, kind, wait, handle, w.repeat))
        self.class_stats.add(w.t, w.cls, kind, wait)
        if self.contacts is not None:
            self.contacts.append((ep.id, ep.customer, ep.reason, w.t, t, t, end, kind, agent))
        self.router.at(end, self._done, ep, (off, agent, outcome, target))
        return kind

    def _done(self, ep: Episode, t: float, arg: tuple) -> None:
        """A call ends: the router routes the customer on, the agent takes the next one."""
        off, agent, outcome, target = arg
        self.router.visited(ep, t, outcome, target, self)
        self._free_agent(t, off, agent)

    def _abandon(self, ep: Episode, t: float, w: Waiting) -> None:
        """``w``'s patience runs out at ``t``: they hang up, unless already served."""
        if w.state != WAITING:
            return
        w.state = GONE
        ep.wait += w.patience
        self.visits.extend((w.t, KIND_ABANDONED, w.patience, 0.0, 0))
        self.class_stats.add(w.t, w.cls, KIND_ABANDONED, w.patience)
        if self.contacts is not None:
            self.contacts.append((ep.id, ep.customer, ep.reason, w.t, t, NAN, NAN,
                                  KIND_ABANDONED, -1))
        self._tell(w, t, VISIT_ABANDONED)
        self._gone += 1
        if self._gone > COMPACT_AT and 2 * self._gone > self._entries():
            self._compact()
            self._gone = 0

    def _entries(self) -> int:
        """How many customers the waiting heaps hold, gone ones included."""
        return len(self._waiting)

    def _compact(self) -> None:
        """Rebuild the waiting heaps without the customers who have gone."""
        self._waiting = [x for x in self._waiting if x[-1].state == WAITING]
        heapify(self._waiting)

    def _tell(self, w: Waiting, t: float, outcome: int) -> None:
        """Tell the router how ``w``'s visit ended, with the redial count it arrived with
        (the router's redial path reads it, and resets it only during a visit)."""
        ep = w.ep
        ep.redials = w.redials
        self.router.visited(ep, t, outcome, None, self)
        ep.redials = 0

    def close(self) -> None:
        """After the drained agenda: whoever still waits will never be served (no agent will
        come, they never give up), recorded unserved as the FIFO node records them."""
        for w in self._still_waiting():
            w.state = GONE
            self._unserved(w)
            self._tell(w, INF, VISIT_UNRESOLVED)
        self._waiting.clear()
        self._gone = 0

    def _still_waiting(self) -> list[Waiting]:
        """The customers still waiting, in their order of service."""
        return [x[-1] for x in sorted(self._waiting, key=lambda x: x[:3])
                if x[-1].state == WAITING]

    def _unserved(self, w: Waiting) -> None:
        self.visits.extend((w.t, KIND_UNSERVED, 0.0, 0.0, 0))
        self.class_stats.add(w.t, w.cls, KIND_UNSERVED, 0.0)


PRIORITY_NODES[QueueNode] = PriorityQueueNode  # queues, inboxes and stores with classes
