"""Touchpoint nodes: where an episode spends time and what comes out of it.

Each node has ``visit(ep, t) -> (t_done, outcome, target)``: the customer arrives at ``t``;
the node decides when the visit ends and how (the ``VISIT_*`` codes of
:mod:`cxsim.spec.kinds`), and the journey router (:mod:`cxsim.engine.journey`) decides what
follows. Visits to a node arrive in time order.

A node gets everything it needs when it is built (:class:`NodeContext`): its touchpoint, its
channel index, the node it hands over to (built first), its statistics and the settings it
shares with the router (:class:`Shared`). Which class serves a touchpoint is chosen by its
kind (:data:`NODE_CLASSES`, :func:`register`): a second queue node class slots in there.

Only agent queues are contended. A FIFO queue needs no event per call: because no later
arrival can overtake an earlier one, the start of service of a customer is fixed the moment
they arrive, by the Kiefer-Wolfowitz recursion over the agents' next free times (a heap).
Abandonment is then known too: a customer whose wait would exceed their patience leaves at
``t + patience`` and never holds an agent. This is exact for FIFO service with customer-bound
service times and patience. A queue with priority classes cannot do this (a later arrival
overtakes): :mod:`cxsim.engine.priority` answers ``VISIT_PENDING`` and puts events of its own
on the router's agenda instead, behind the same ``visit`` interface.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from heapq import heappop, heappush, heapreplace
from typing import Any

import numpy as np

from cxsim.engine.episode import Episode
from cxsim.engine.staffing import (
    duty_intervals,
    interval_staffed_minutes,
    staffed_minutes,
    touchpoint_agents,
)
from cxsim.engine.stats import (
    CALLBACK,
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
from cxsim.engine.streams import durations, generator, patiences, uniforms
from cxsim.spec import Duration, Scenario, Touchpoint
from cxsim.spec.kinds import (
    BOT_CONTAINED,
    BOT_ESCALATED,
    BOT_LOOPED,
    KINDS,
    MINUTES_PER_DAY,
    MINUTES_PER_WEEK,
    VISIT_ABANDONED,
    VISIT_FAILED,
    VISIT_HANDOFF,
    VISIT_RESOLVED,
    VISIT_UNRESOLVED,
    KindTraits,
    register_kind,
)

INF = float("inf")
NAN = float("nan")
WEEK = int(MINUTES_PER_WEEK)
# Agents keep their schedule a week past the horizon, so that late waits end.
SLACK_MIN = 7 * MINUTES_PER_DAY
# Pain-point-intolerant customers ("give up at the slightest obstacle", docs/domain.md) wait
# a third as long as others of their segment before hanging up.
INTOLERANT_PATIENCE = 1.0 / 3.0


@dataclass(frozen=True)
class Shared:
    """What every node reads of the scenario beyond its own touchpoint: the handoff
    settings, each contact reason's handle factor, each segment's mean patience (``inf``:
    never abandons), and the replication's seed."""

    carryover: float
    repeat_min: float
    handle_factor: tuple[float, ...]
    patience_min: tuple[float, ...]
    intolerant_patience: float
    horizon_min: float
    seed: int
    rep: int

    @classmethod
    def of(cls, s: Scenario, rep: int) -> Shared:
        h = s.handoffs
        return cls(
            carryover=h.context_carryover, repeat_min=h.repeat_explanation_min,
            handle_factor=tuple(j.handle_factor for j in s.journeys.values()),
            patience_min=tuple(INF if g.patience_min is None else g.patience_min
                               for g in s.segments.values()),
            intolerant_patience=INTOLERANT_PATIENCE, horizon_min=s.horizon * MINUTES_PER_DAY,
            seed=s.seed, rep=rep)


@dataclass(frozen=True)
class NodeContext:
    """Everything a node is built from."""

    idx: int  # position among the scenario's touchpoints (its bit in the episode's mask)
    name: str
    tp: Touchpoint
    channel: int  # index among the scenario's channels, sorted (its bit in the mask)
    stats: TouchpointStats
    target: Node | None  # the node it hands over to, if it ever does
    shared: Shared

    def stream(self, purpose: str) -> np.random.Generator:
        """This touchpoint's own random stream for ``purpose`` (route, duration, ...)."""
        return generator(self.shared.seed, self.shared.rep, f"tp:{self.name}:{purpose}")


class Node:
    """What every touchpoint node shares: identity, opening hours, statistics, streams."""

    redial_prob = 0.0  # only queues are redialled

    def __init__(self, ctx: NodeContext) -> None:
        tp = ctx.tp
        self.idx, self.name, self.tp = ctx.idx, ctx.name, tp
        self.assisted = KINDS[tp.kind].assisted
        self.steps = tp.steps
        self.lead_min = tp.travel_min
        self.stats = ctx.stats
        self.visits = ctx.stats.visits  # the buffer each visit appends to
        self.uniform = uniforms(ctx.stream("route"))
        self.channel = ctx.channel
        self.bit, self.channel_bit = 1 << ctx.idx, 1 << ctx.channel
        self.target = ctx.target
        self.set_open_minutes(np.ones(WEEK, dtype=bool))
        # One tuple per contact when the replication keeps rows (the engine's contact log,
        # cxsim.engine.contacts): (episode, customer, reason, arrival, queue exit, service
        # start, service end, kind, agent); None: not kept.
        self.contacts: list[tuple] | None = None

    def set_open_minutes(self, weekly: np.ndarray) -> None:
        """In which of the 10,080 minutes of the week a customer can choose this touchpoint."""
        self.open_mask = np.asarray(weekly, bool)
        self.open_minutes = self.open_mask.tolist()
        self.always_open = bool(self.open_mask.all())

    def is_open(self, t: float) -> bool:
        return self.always_open or self.open_minutes[int(t % WEEK)]

    def staffed_minutes(self, start_min: float, end_min: float) -> float:
        """Agent-minutes on duty between the two times (none: nobody staffs it)."""
        return 0.0

    def staffed_by_interval(self, start_min: float, end_min: float,
                            interval_min: int) -> np.ndarray:
        """Agent-minutes on duty between the two times per interval of the week."""
        return np.zeros(WEEK // interval_min)

    def visit(self, ep: Episode, t: float) -> tuple[float, int, Node | None]:
        raise NotImplementedError

    def attach(self, router: Any) -> None:
        """The journey router (:class:`~cxsim.engine.journey.JourneyRouter`) exists: a node
        with events of its own keeps it (see :mod:`cxsim.engine.priority`)."""

    def close(self) -> None:
        """The run is over and its agenda drained: record what is still open."""


class SelfServiceNode(Node):
    """Knowledge base or app help: uncontended, contains a share of needs."""

    def __init__(self, ctx: NodeContext) -> None:
        super().__init__(ctx)
        self.duration = durations(ctx.tp.duration, ctx.stream("duration"))
        self.containment = ctx.tp.containment

    def visit(self, ep: Episode, t: float) -> tuple[float, int, Node | None]:
        done = t + self.duration()
        kind = KIND_CONTAINED if self.uniform() < self.containment else KIND_FAILED
        self.visits.extend((t, kind, 0.0, 0.0, 0))
        if self.contacts is not None:
            self.contacts.append((ep.id, ep.customer, ep.reason, t, NAN, t, done, kind, -1))
        return done, VISIT_RESOLVED if kind == KIND_CONTAINED else VISIT_FAILED, None


class BotNode(SelfServiceNode):
    """A chatbot: contains, escalates to agents (maybe with context) or loops."""

    def __init__(self, ctx: NodeContext) -> None:
        super().__init__(ctx)
        self.escalation = ctx.tp.escalation if ctx.tp.escalate_to else 0.0
        self.loop_min = ctx.tp.loop_min

    def visit(self, ep: Episode, t: float) -> tuple[float, int, Node | None]:
        done = t + self.duration()
        if self.uniform() < self.containment:
            ep.bot, kind, end, outcome, target = BOT_CONTAINED, KIND_CONTAINED, done, \
                VISIT_RESOLVED, None
        elif self.uniform() < self.escalation:
            ep.bot, kind, end, outcome, target = BOT_ESCALATED, KIND_ESCALATED, done, \
                VISIT_HANDOFF, self.target
        else:
            ep.bot, kind, end, outcome, target = BOT_LOOPED, KIND_LOOPED, done + self.loop_min, \
                VISIT_FAILED, None
        self.visits.extend((t, kind, 0.0, 0.0, 0))
        if self.contacts is not None:
            self.contacts.append((ep.id, ep.customer, ep.reason, t, NAN, t, end, kind, -1))
        return end, outcome, target


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

    def visit(self, ep: Episode, t: float) -> tuple[float, int, Node | None]:
        repeat, explained = 0, ep.explained
        if explained:
            if self.uniform() >= self.carryover:
                repeat = 1
                ep.repeats += 1
        ep.explained = True
        handle = self.handle() * self.handle_factor[ep.reason] + repeat * self.repeat_min
        start = self._service_start(t)
        wait = start - t
        # Who waits is counted for the wait announced to later callers.
        counted = wait > 0 and self.callback_after != INF and start != INF
        if counted and self._takes_callback(t):
            heappush(self._in_queue, start)
            return self._call_back(ep, t, start, handle, repeat, explained)
        mean_patience = self.patience_by_segment[ep.segment]
        if mean_patience != INF:
            # Drawn for every arrival, waiting or not, so that streams stay aligned across
            # scenarios (common random numbers).
            patience = self.patience() * mean_patience
            if ep.intolerant:
                patience *= self.intolerant_patience
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
        u = self.uniform()
        if u < self.fcr:
            kind, outcome, target = KIND_RESOLVED, VISIT_RESOLVED, None
        elif u < self.fcr_or_transfer and self.target is not None:
            kind, outcome, target = KIND_TRANSFERRED, VISIT_HANDOFF, self.target
        else:
            kind, outcome, target = KIND_UNRESOLVED, VISIT_UNRESOLVED, None
        self.visits.extend((t, kind + flag, start - t, handle, repeat))
        if self.contacts is not None:
            self.contacts.append((ep.id, ep.customer, ep.reason, t, t if flag else start,
                                  start, end, kind + flag, agent))
        return end, outcome, target

    def _call_back(self, ep: Episode, t: float, start: float, handle: float, repeat: int,
                   explained: bool) -> tuple[float, int, Node | None]:
        """``ep`` took a call-back: the agent who reaches their place at ``start`` calls.
        Answered, it is served as any call (without a wait on the line); missed, it costs
        the agent an attempt and the need goes unserved, explained to nobody."""
        if self.patience_by_segment[ep.segment] != INF:
            self.patience()  # drawn as for every arrival: streams stay aligned
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


# -- which class serves which kind, and building the nodes of a replication -----------------

NODE_CLASSES: dict[str, type[Node]] = {}


def register(kind: str, cls: type[Node], traits: KindTraits | None = None) -> type[Node]:
    """Serve touchpoints of ``kind`` with ``cls``; ``traits`` register a new kind (see
    :func:`cxsim.spec.kinds.register_kind`), otherwise the kind must exist."""
    if traits is not None:
        if traits.name != kind:
            raise ValueError(f"traits of {traits.name!r} registered as kind {kind!r}")
        register_kind(traits)
    elif kind not in KINDS:
        raise ValueError(f"no touchpoint kind {kind!r}: give its traits")
    NODE_CLASSES[kind] = cls
    return cls


# The node class that serves a touchpoint declaring priority classes, by the class its kind
# has otherwise (cxsim.engine.priority registers its own for QueueNode).
PRIORITY_NODES: dict[type[Node], type[Node]] = {}
# The same for a touchpoint whose agents are groups with skills (cxsim.engine.routing).
GROUP_NODES: dict[type[Node], type[Node]] = {}

for _kind, _cls in (("self_service", SelfServiceNode), ("bot", BotNode), ("queue", QueueNode),
                    ("async", QueueNode), ("store", QueueNode)):
    register(_kind, _cls)


def handoff_target(tp: Touchpoint) -> str | None:
    """The touchpoint ``tp`` may hand a need over to: its escalation or transfer target, if
    it ever uses it (a handoff probability of 0 never reaches it)."""
    if tp.escalate_to is not None and tp.escalation > 0:
        return tp.escalate_to
    if tp.transfer_to is not None and tp.transfer_prob > 0:
        return tp.transfer_to
    return None


def build_nodes(s: Scenario, rep: int, stats: Callable[[Touchpoint], TouchpointStats]
                ) -> tuple[list[Node], list[str]]:
    """The nodes of replication ``rep`` of ``s`` in touchpoint order, each built after the
    node it hands over to (handoffs with a positive probability never loop: validated), and
    the channels (sorted) their indices refer to."""
    names = list(s.touchpoints)
    channels = sorted({tp.channel for tp in s.touchpoints.values()})
    shared = Shared.of(s, rep)
    built: dict[str, Node] = {}

    def build(name: str) -> Node:
        if name not in built:
            tp = s.touchpoints[name]
            target = handoff_target(tp)
            ctx = NodeContext(names.index(name), name, tp, channels.index(tp.channel),
                              stats(tp), None if target is None else build(target), shared)
            cls = NODE_CLASSES[tp.kind]
            # Priority classes or agent groups: an event-driven queue (validated: agents).
            for needed, registry, what in ((tp.groups, GROUP_NODES, "agent groups"),
                                           (tp.priority, PRIORITY_NODES, "priority classes")):
                if needed:
                    if cls not in registry:
                        raise ValueError(f"touchpoint {name}: no node class with {what} for "
                                         f"{cls.__name__}")
                    cls = registry[cls]
                    break
            built[name] = cls(ctx)
        return built[name]

    return [build(name) for name in names], channels
