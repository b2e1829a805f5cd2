"""The FIFO agent queue: agents serving one queue by shifts, with patience, redials,
call-backs and several chats per agent.

A FIFO queue needs no event per call: because no later arrival can overtake an earlier one,
the start of service of a customer is fixed the moment they arrive, by the Kiefer-Wolfowitz
recursion over the agents' next free times (a heap). Abandonment is then known too: a
customer whose wait would exceed their patience leaves at ``t + patience`` and never holds an
agent. This is exact for FIFO service with customer-bound service times and patience. A
queue with priority classes or agent groups cannot do this (a later arrival overtakes):
:mod:`cxsim.engine.priority` and :mod:`cxsim.engine.routing` answer ``VISIT_PENDING`` and put
events of their own on the router's agenda instead, behind the same ``visit`` interface.
"""

from __future__ import annotations

from heapq import heappop, heappush, heapreplace

import numpy as np

from cxsim.engine.episode import Episode
from cxsim.engine.node import INF, NAN, SLACK_MIN, WEEK, Node, NodeContext
from cxsim.engine.staffing import (
    duty_intervals,
    interval_staffed_minutes,
    staffed_minutes,
    touchpoint_agents,
)
from cxsim.engine.stats import (
    CALLBACK,
    KIND_ABANDONED,
    KIND_FAILED,
    KIND_RESOLVED,
    KIND_TRANSFERRED,
    KIND_UNRESOLVED,
    KIND_UNSERVED,
)
from cxsim.engine.streams import durations, patiences, uniforms
from cxsim.spec import Duration
from cxsim.spec.kinds import (
    KINDS,
    VISIT_ABANDONED,
    VISIT_FAILED,
    VISIT_HANDOFF,
    VISIT_RESOLVED,
    VISIT_UNRESOLVED,
)


class QueueNode(Node):
    """Agents serving a FIFO queue by shifts (phone, chat, social, e-mail inbox, store desk)."""

    def __init__(self, ctx: NodeContext) -> None:
        super().__init__(ctx)
        tp, shared, traits = ctx.tp, ctx.shared, KINDS[ctx.tp.kind]
        weekly = touchpoint_agents(tp)  # agents on duty, minute by minute over the week
        self.weekly_agents = weekly
        # An inbox takes messages at any hour; live queues and stores only while staffed.
        self.set_open_minutes(np.ones_like(weekly, bool) if traits.always_open else weekly > 0)
        # An agent holding up to k chats is k slots of the heap with the same duty.
        self.chats = tp.concurrency.chats
        self._duty = [d for d in duty_intervals(weekly, shared.horizon_min + SLACK_MIN)
                      for _ in range(self.chats)]
        self._next_duty = 0
        stretch = tp.concurrency.stretch
        self.stretch = tuple(stretch) if any(f != 1 for f in stretch) else None
        self._held: dict[int, list[float]] = {}  # agent -> ends of the chats they hold
        self._free: list[tuple[float, float, int]] = []  # (free from, off duty at, agent)
        self.handle = durations(tp.handle, ctx.stream("handle"))
        self.patience = patiences(tp.patience, ctx.stream("patience"))  # mean 1
        # Redials draw from streams of their own, made only when on: a scenario without
        # redials draws exactly the numbers it drew before they existed.
        self.redial_prob = tp.redial.prob if tp.redial.limit > 0 else 0.0
        if self.redial_prob > 0:
            self.redial_limit = tp.redial.limit
            self.redial_uniform = uniforms(ctx.stream("redial"))
            self.redial_delay = durations(tp.redial.delay, ctx.stream("redial_delay"))
        # Call-backs draw from a stream of their own, made only when offered.
        cb = tp.callback
        self.callback_after = INF if cb.offer_wait_s is None else cb.offer_wait_s / 60.0
        if self.callback_after != INF:
            self.callback_accept, self.callback_answer = cb.accept, cb.answer
            self.callback_attempt = cb.attempt_min
            self.callback_uniform = uniforms(ctx.stream("callback"))
            self.aht = _mean_min(tp.handle)
            self.agents_by_minute = weekly.tolist()
            self._in_queue: list[float] = []  # when each customer now waiting leaves the queue
        # Customers of an inbox, or of a queue with patience_factor 0, never abandon.
        if traits.never_abandons or tp.patience_factor == 0:
            self.patience_by_segment = [INF] * len(shared.patience_min)
        else:
            self.patience_by_segment = [tp.patience_factor * p for p in shared.patience_min]
        self.fcr = tp.fcr
        self.fcr_or_transfer = tp.fcr + tp.transfer_prob
        self.carryover = shared.carryover if tp.context_carryover is None \
            else tp.context_carryover
        self.repeat_min = shared.repeat_min
        self.handle_factor = shared.handle_factor
        self.intolerant_patience = shared.intolerant_patience

    def staffed_minutes(self, start_min: float, end_min: float) -> float:
        return staffed_minutes(self.weekly_agents, start_min, end_min)

    def staffed_by_interval(self, start_min: float, end_min: float,
                            interval_min: int) -> np.ndarray:
        return interval_staffed_minutes(self.weekly_agents, start_min, end_min, interval_min)

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
            f, off, _ = free[0]
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

    def _takes_callback(self, t: float) -> bool:
        """Whether a caller arriving at ``t`` who must wait is offered a call-back and takes
        it. The offer rests on the wait announced as an ACD does: the customers ahead (on the
        line or on call-back), plus this one, times the mean handle time, shared by the agents
        on duty."""
        queue = self._in_queue
        while queue and queue[0] <= t:
            heappop(queue)
        agents = self.agents_by_minute[int(t % WEEK)] * self.chats
        announced = (len(queue) + 1) * self.aht / agents if agents else INF
        return announced > self.callback_after and self.callback_uniform() < \
            self.callback_accept

    def _stretched(self, agent: int, start: float, handle: float) -> float:
        """``handle`` stretched by the number of chats ``agent`` holds at ``start``."""
        held = self._held.setdefault(agent, [])
        held[:] = [end for end in held if end > start]
        handle *= self.stretch[len(held)]
        held.append(start + handle)
        return handle

    def _arrival_draws(self, ep: Episode) -> tuple[int, bool, float, float]:
        """What every arrival draws, on every queue path: whether it explains again (context
        lost), its handle time and its patience (``inf``: never abandons), with ``ep``'s
        explained flag as it came. Drawn for every arrival, waiting or not, so that streams
        stay aligned across scenarios (common random numbers)."""
        repeat, explained = 0, ep.explained
        if explained:
            if self.uniform() >= self.carryover:
                repeat = 1
                ep.repeats += 1
        ep.explained = True
        handle = self.handle() * self.handle_factor[ep.reason] + repeat * self.repeat_min
        patience = self.patience_by_segment[ep.segment]
        if patience != INF:
            patience *= self.patience()
            if ep.intolerant:
                patience *= self.intolerant_patience
        return repeat, explained, handle, patience

    def visit(self, ep: Episode, t: float) -> tuple[float, int, Node | None]:
        repeat, explained, handle, patience = self._arrival_draws(ep)
        start = self._service_start(t)
        wait = start - t
        # Who waits is counted for the wait announced to later callers.
        counted = wait > 0 and self.callback_after != INF and start != INF
        if counted and self._takes_callback(t):
            heappush(self._in_queue, start)
            return self._call_back(ep, t, start, handle, repeat, explained)
        if wait > patience:
            if counted:
                heappush(self._in_queue, t + patience)
            ep.wait += patience
            self.visits.extend((t, KIND_ABANDONED, patience, 0.0, 0))
            if self.contacts is not None:
                self.contacts.append((ep.id, ep.customer, ep.reason, t, t + patience, NAN,
                                      NAN, KIND_ABANDONED, -1))
            return t + patience, VISIT_ABANDONED, None
        if start == INF:  # never staffed again and the customer never gives up
            self.visits.extend((t, KIND_UNSERVED, 0.0, 0.0, 0))
            return INF, VISIT_UNRESOLVED, None
        if counted:
            heappush(self._in_queue, start)
        ep.wait += wait
        return self._serve(ep, t, start, handle, repeat, 0)

    def _serve(self, ep: Episode, t: float, start: float, handle: float, repeat: int,
               flag: int) -> tuple[float, int, Node | None]:
        """The agent on top of the heap serves ``ep`` from ``start``; ``flag`` marks a
        call-back (:data:`CALLBACK`), whose customer left the line on arrival."""
        free = self._free
        _, off, agent = free[0]
        if self.stretch is not None:
            handle = self._stretched(agent, start, handle)
        end = start + handle
        heapreplace(free, (end, off, agent))
        ep.handle += handle
        kind, outcome, target = self._outcome()
        self.visits.extend((t, kind + flag, start - t, handle, repeat))
        if self.contacts is not None:
            self.contacts.append((ep.id, ep.customer, ep.reason, t, t if flag else start,
                                  start, end, kind + flag, agent))
        return end, outcome, target

    def _outcome(self) -> tuple[int, int, Node | None]:
        """What a served contact comes to: resolved (``fcr``), transferred, or unresolved."""
        u = self.uniform()
        if u < self.fcr:
            return KIND_RESOLVED, VISIT_RESOLVED, None
        if u < self.fcr_or_transfer and self.target is not None:
            return KIND_TRANSFERRED, VISIT_HANDOFF, self.target
        return KIND_UNRESOLVED, VISIT_UNRESOLVED, None

    def _call_back(self, ep: Episode, t: float, start: float, handle: float, repeat: int,
                   explained: bool) -> tuple[float, int, Node | None]:
        """``ep`` took a call-back: the agent who reaches their place at ``start`` calls.
        Answered, it is served as any call (without a wait on the line); missed, it costs
        the agent an attempt and the need goes unserved, explained to nobody."""
        if self.callback_uniform() < self.callback_answer:
            return self._serve(ep, t, start, handle, repeat, CALLBACK)
        ep.repeats -= repeat
        ep.explained = explained
        free = self._free
        _, off, agent = free[0]
        end = start + self.callback_attempt
        heapreplace(free, (end, off, agent))
        self.visits.extend((t, KIND_FAILED + CALLBACK, start - t, self.callback_attempt, 0))
        if self.contacts is not None:
            self.contacts.append((ep.id, ep.customer, ep.reason, t, t, start, end,
                                  KIND_FAILED + CALLBACK, agent))
        return end, VISIT_FAILED, None


def _mean_min(d: Duration) -> float:
    """The mean of a duration law, minutes."""
    return float(np.mean(d.values)) if d.dist == "empirical" else float(d.mean_min)
