"""The journey router: which touchpoint an episode goes to next, and how it ends.

An *episode* is one need of one customer, from the moment it arises until it is resolved,
given up, or still open at the horizon. The customer picks an entry touchpoint of the need's
journey by their segment's channel preference (among touchpoints open at that hour); a bot
may escalate and an agent may transfer (handoffs, where context may be lost: a repeated
explanation); after a failure (not contained, bot loop, abandoned queue) a tolerant customer
falls back to another touchpoint, and after an unresolved contact they contact again later.
Pain-point-intolerant customers give up at the first obstacle.
"""

from __future__ import annotations

from collections.abc import Callable

import simpy

from cxsim.engine.episodes import EpisodeLog
from cxsim.engine.nodes import (
    ABANDONED,
    FAILED,
    HANDOFF,
    INF,
    RESOLVED,
    Node,
)
from cxsim.engine.streams import Uniforms, generator
from cxsim.spec import Scenario

# Episode outcomes.
IN_SYSTEM, RESOLVED_EP, ABANDONED_EP, GAVE_UP = 0, 1, 2, 3
OUTCOMES = ("in_system", "resolved", "abandoned", "gave_up")
# Pain-point-intolerant customers (DOMAIN.md: they "give up at the slightest obstacle") wait
# a third as long as others of their segment before hanging up.
INTOLERANT_PATIENCE = 1.0 / 3.0


class Episode:
    """One need of one customer travelling through touchpoints (a mutable record)."""

    __slots__ = (
        "id",
        "customer",
        "segment",
        "reason",
        "t0",
        "intolerant",
        "tried",
        "contacts",
        "wait",
        "handle",
        "steps",
        "transfers",
        "repeats",
        "switches",
        "bot",
        "explained",
        "channel",
        "first_channel",
        "channels",
        "touchpoints",
    )

    def __init__(
        self, id: int, customer: int, segment: int, reason: int, t0: float, intolerant: bool
    ) -> None:
        self.id, self.customer, self.segment, self.reason = id, customer, segment, reason
        self.t0, self.intolerant = t0, intolerant
        self.tried = 0  # bitmask of touchpoints tried
        self.contacts = self.transfers = self.repeats = self.switches = self.steps = 0
        self.bot = 0
        self.wait = self.handle = 0.0
        self.explained = False
        self.channel = self.first_channel = -1
        self.channels = self.touchpoints = 0  # bitmasks


class JourneyRouter:
    """Moves episodes between nodes; owns the SimPy environment's follow-up events."""

    def __init__(
        self, s: Scenario, nodes: list[Node], env: simpy.Environment, rep: int, log: EpisodeLog
    ) -> None:
        self.env, self.nodes, self.log = env, nodes, log
        self.by_name = {n.name: n for n in nodes}
        self.channels = sorted({n.tp.channel for n in nodes})
        ch_index = {c: i for i, c in enumerate(self.channels)}
        for n in nodes:
            n.channel = ch_index[n.tp.channel]
            n.router = self
            target = n.tp.escalate_to or n.tp.transfer_to
            if target is not None:
                n.target = self.by_name[target]
        self.segments = list(s.segments)
        self.reasons = list(s.journeys)
        self.entries = [[self.by_name[t] for t in j.touchpoints] for j in s.journeys.values()]
        self.reason_steps = [j.steps for j in s.journeys.values()]
        self.handle_factor = [j.handle_factor for j in s.journeys.values()]
        # weights[segment][reason][k]: preference for the k-th entry touchpoint of a journey.
        self.weights = [
            [[g.preference.get(n.tp.channel, 0.0) for n in entries] for entries in self.entries]
            for g in s.segments.values()
        ]
        self.patience_mean = [
            INF if g.patience_min is None else g.patience_min for g in s.segments.values()
        ]
        self.intolerant_patience = INTOLERANT_PATIENCE
        self.retry_prob = [g.retry_prob for g in s.segments.values()]
        h = s.handoffs
        self.carryover = h.context_carryover
        self.repeat_min = h.repeat_explanation_min
        self.retry_delay = h.retry_delay_min
        self.recontact_delay = h.recontact_delay_hour * 60.0
        self.max_contacts = h.max_contacts
        self.end = s.horizon * 1440.0
        self.uniform = Uniforms(generator(s.seed, rep, "router"))
        self.open_episodes = 0

    # -- scheduling ---------------------------------------------------------------------
    def _at(self, t: float, ep: Episode, fn: Callable, *args) -> None:
        """Call ``fn(ep, t, *args)`` at time ``t``, or leave ``ep`` open if past the horizon."""
        if t >= self.end:
            self.finish(ep, t, IN_SYSTEM)
            return
        ev = self.env.timeout(t - self.env.now)
        ev.callbacks.append(lambda _ev: fn(ep, t, *args))

    # -- journey ------------------------------------------------------------------------
    def arrive(self, ep: Episode, t: float) -> None:
        """A new need arises."""
        self.open_episodes += 1
        self.choose(ep, t)

    def choose(self, ep: Episode, t: float, again: bool = False) -> None:
        """Pick an entry touchpoint by preference; ``again`` allows touchpoints already tried
        (a recontact after an unresolved answer), otherwise it is a fallback to a new one."""
        entries = self.entries[ep.reason]
        weights = self.weights[ep.segment][ep.reason]
        total = 0.0
        options: list[tuple[float, Node]] = []
        for node, w in zip(entries, weights, strict=True):
            if w > 0 and (again or not ep.tried >> node.idx & 1) and node.is_open(t):
                total += w
                options.append((total, node))
        if not options:
            self.finish(ep, t, GAVE_UP)
            return
        pick = self.uniform() * total
        node = options[-1][1]
        for cum, candidate in options:
            if pick < cum:
                node = candidate
                break
        if ep.contacts and node.channel != ep.channel:
            ep.switches += 1
        self.enter(ep, t, node)

    def enter(self, ep: Episode, t: float, node: Node) -> None:
        """Go to ``node``: at once, or after travelling there (a store)."""
        if node.lead_min > 0:
            self._at(t + node.lead_min, ep, self.visit, node)
        else:
            self.visit(ep, t, node)

    def visit(self, ep: Episode, t: float, node: Node) -> None:
        ep.contacts += 1
        ep.steps += node.steps
        ep.tried |= 1 << node.idx
        ep.touchpoints |= 1 << node.idx
        ep.channels |= 1 << node.channel
        if ep.first_channel < 0:
            ep.first_channel = node.channel
        ep.channel = node.channel
        done, outcome, target = node.visit(ep, t)
        if outcome == RESOLVED:
            ep.steps += self.reason_steps[ep.reason]
            self._at_end(ep, done, RESOLVED_EP)
        elif outcome == HANDOFF:
            if target.is_open(done):
                ep.transfers += 1
                self._at(done, ep, self.visit, target)
            else:  # nobody to hand over to at this hour: a failed bot, an unresolved call
                self._fallback(ep, done, GAVE_UP, again=node.kind != "bot")
        elif outcome == FAILED or outcome == ABANDONED:
            self._fallback(ep, done, ABANDONED_EP if outcome == ABANDONED else GAVE_UP, again=False)
        else:  # served but unresolved: contact again later
            self._fallback(ep, done, GAVE_UP, again=True)

    def _fallback(self, ep: Episode, t: float, outcome: int, again: bool) -> None:
        keen = self.uniform() < self.retry_prob[ep.segment]
        if ep.intolerant or not keen or ep.contacts >= self.max_contacts:
            self._at_end(ep, t, outcome)
            return
        delay = self.recontact_delay if again else self.retry_delay
        self._at(t + delay, ep, self.choose, again)

    def _at_end(self, ep: Episode, t: float, outcome: int) -> None:
        self.finish(ep, t, outcome if t < self.end else IN_SYSTEM)

    def finish(self, ep: Episode, t: float, outcome: int) -> None:
        self.open_episodes -= 1
        self.log.record(ep, min(t, self.end), outcome)
