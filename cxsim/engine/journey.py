"""The journey router: which touchpoint an episode goes to next, and how it ends.

An *episode* is one need of one customer, from the moment it arises until it is resolved,
given up, or still open at the horizon. The customer picks an entry touchpoint of the need's
journey by their segment's channel preference (among touchpoints open at that minute); a bot
may escalate and an agent may transfer (handoffs, where context may be lost: a repeated
explanation); after a failure (not contained, bot loop, abandoned queue) a tolerant customer
falls back to another touchpoint, and after an unresolved contact they contact again later.
Pain-point-intolerant customers give up at the first obstacle.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from heapq import heappop, heappush
from itertools import accumulate, count

import numpy as np

from cxsim.engine.episode import Episode
from cxsim.engine.episodes import EpisodeLog
from cxsim.engine.nodes import WEEK, Node
from cxsim.engine.reactions import Reactions
from cxsim.engine.streams import generator, uniforms
from cxsim.spec import Scenario
from cxsim.spec.kinds import (
    ABANDONED,
    GAVE_UP,
    IN_SYSTEM,
    MINUTES_PER_DAY,
    MINUTES_PER_HOUR,
    RESOLVED,
    VISIT_ABANDONED,
    VISIT_FAILED,
    VISIT_HANDOFF,
    VISIT_PENDING,
    VISIT_RESOLVED,
)


class JourneyRouter:
    """Moves episodes between nodes; owns the agenda of follow-ups."""

    def __init__(self, s: Scenario, nodes: list[Node], channels: list[str], rep: int,
                 log: EpisodeLog, reactions: Reactions | None = None) -> None:
        """``nodes`` in touchpoint order and the ``channels`` their indices refer to (as
        :func:`cxsim.engine.nodes.build_nodes` makes them); ``reactions`` hears of every
        finished episode (None: behaviour off)."""
        self.nodes, self.channels, self.log = nodes, channels, log
        self.reactions = reactions
        self.by_name = {n.name: n for n in nodes}
        segments = list(s.segments.values())
        self.segments = list(s.segments)
        self.reasons = list(s.journeys)
        self.reason_steps = [j.steps for j in s.journeys.values()]
        # options[segment][reason]: (entry touchpoint, preference weight) for every entry point
        # of the journey that the segment would use at all.
        self.options = [
            [tuple((self.by_name[t], w) for t in j.touchpoints
                   if (w := g.preference.get(s.touchpoints[t].channel, 0.0)) > 0)
             for j in s.journeys.values()]
            for g in segments
        ]
        # closed[minute of week]: bitmask of the touchpoints a customer cannot choose then.
        # None when every touchpoint is always open (no minute to work out).
        mask = np.zeros(WEEK, dtype=np.int64 if len(nodes) < 63 else object)
        for n in nodes:
            mask[~n.open_mask] += n.bit
        self.closed = mask.tolist() if any(not n.always_open for n in nodes) else None
        # choices[segment][reason][excluded touchpoints]: (touchpoints, cumulative weights),
        # filled as met (few distinct masks) so a choice is a lookup and a bisection.
        self.choices: list[list[dict[int, tuple]]] = [[{} for _ in g] for g in self.options]
        self.retry_prob = [g.retry_prob for g in segments]
        h = s.handoffs
        self.retry_delay = h.retry_delay_min
        self.recontact_delay = h.recontact_delay_hour * MINUTES_PER_HOUR
        self.max_contacts = h.max_contacts
        self.end = s.horizon * MINUTES_PER_DAY
        self.uniform = uniforms(generator(s.seed, rep, "router"))
        # Follow-ups (fallbacks, recontacts, handoffs, travel) as (time, order, fn, episode,
        # arg), run by the replication's pump: cheaper than a SimPy event each.
        self.agenda: list[tuple] = []
        self._order = count().__next__
        for n in nodes:  # a node with events of its own puts them on the agenda
            n.attach(self)

    def _at(self, t: float, ep: Episode, fn: Callable, arg: object) -> None:
        """Call ``fn(ep, t, arg)`` at time ``t``, or leave ``ep`` open if past the horizon."""
        if t >= self.end:
            self.finish(ep, t, IN_SYSTEM)
            return
        heappush(self.agenda, (t, self._order(), fn, ep, arg))

    def at(self, t: float, fn: Callable, ep: Episode | None, arg: object) -> None:
        """A node's own event: call ``fn(ep, t, arg)`` at ``t``, even past the horizon (what
        is left then runs in :meth:`drain`)."""
        heappush(self.agenda, (t, self._order(), fn, ep, arg))

    def drain(self) -> None:
        """After the horizon: run what is left on the agenda in time order (only nodes' own
        events: follow-ups past the horizon are never scheduled), then close every node."""
        agenda = self.agenda
        while agenda:
            t, _, fn, ep, arg = heappop(agenda)
            fn(ep, t, arg)
        for n in self.nodes:
            n.close()

    def choose(self, ep: Episode, t: float, again: bool = False) -> None:
        """Pick an entry touchpoint by preference among those open at ``t``; ``again`` allows
        touchpoints already tried (a recontact after an unresolved answer), otherwise it is a
        fresh choice or a fallback to a new one."""
        excluded = 0 if again else ep.touchpoints
        if self.closed is not None:
            excluded |= self.closed[int(t % WEEK)]
        table = self.choices[ep.segment][ep.reason]
        choice = table.get(excluded)
        if choice is None:
            opts = [(n, w) for n, w in self.options[ep.segment][ep.reason] if not excluded & n.bit]
            choice = table[excluded] = (tuple(n for n, _ in opts),
                                        tuple(accumulate(w for _, w in opts)))
        nodes, cum = choice
        if len(nodes) == 1:
            node = nodes[0]
        elif nodes:
            node = nodes[bisect_right(cum, self.uniform() * cum[-1])]
        else:
            self.finish(ep, t, GAVE_UP)
            return
        if ep.contacts and node.channel != ep.channel:
            ep.switches += 1
        if node.lead_min > 0:  # travel to a store first
            self._at(t + node.lead_min, ep, self.visit, node)
        else:
            self.visit(ep, t, node)

    def visit(self, ep: Episode, t: float, node: Node) -> None:
        """``ep`` arrives at ``node`` at ``t``; route it on by the visit's outcome."""
        ep.contacts += 1
        ep.steps += node.steps
        ep.touchpoints |= node.bit
        ep.channels |= node.channel_bit
        if ep.first_channel < 0:
            ep.first_channel = node.channel
        ep.channel = node.channel
        done, outcome, target = node.visit(ep, t)
        if outcome != VISIT_PENDING:
            self.visited(ep, done, outcome, target, node)

    def visited(self, ep: Episode, done: float, outcome: int, target: Node | None,
                node: Node) -> None:
        """``ep``'s visit to ``node`` ended at ``done`` with ``outcome`` (handed to ``target``):
        route it on. Called by :meth:`visit`, or later by a node whose visit was
        ``VISIT_PENDING``, at ``done``."""
        if outcome == VISIT_RESOLVED:
            ep.steps += self.reason_steps[ep.reason]
            self.finish(ep, done, RESOLVED if done < self.end else IN_SYSTEM)
        elif outcome == VISIT_HANDOFF:
            if target.is_open(done):
                ep.transfers += 1
                self._at(done, ep, self.visit, target)
            else:  # nobody to hand over to at this hour: a failed bot, an unresolved call
                self._fallback(ep, done, GAVE_UP, again=node.assisted)
        elif outcome == VISIT_ABANDONED:
            # Redial the same queue (a draw only where redials are on), up to its limit.
            if (node.redial_prob > 0 and not ep.intolerant and ep.redials < node.redial_limit
                    and node.redial_uniform() < node.redial_prob):
                self._at(done + node.redial_delay(), ep, self.redial, (node, ep.redials + 1))
                return
            self._fallback(ep, done, ABANDONED, False)
        elif outcome == VISIT_FAILED:
            self._fallback(ep, done, ABANDONED if outcome == VISIT_ABANDONED else GAVE_UP,
                           False)
        else:  # served but unresolved: contact again later
            self._fallback(ep, done, GAVE_UP, again=True)

    def redial(self, ep: Episode, t: float, arg: tuple[Node, int]) -> None:
        """``ep`` calls ``node`` again after abandoning it, its ``k``-th redial in a row; a
        closed line is a failed redial (the customer falls back as after abandoning)."""
        node, k = arg
        if not node.is_open(t):
            self._fallback(ep, t, ABANDONED, False)
            return
        node.stats.redials.append(t)
        # ep.redials is k only while this visit runs (a first attempt sees 0), so that the
        # router's hot path never resets it.
        ep.redials = k
        self.visit(ep, t, node)
        ep.redials = 0

    def _fallback(self, ep: Episode, t: float, outcome: int, again: bool) -> None:
        keen = self.uniform() < self.retry_prob[ep.segment]
        if ep.intolerant or not keen or ep.contacts >= self.max_contacts:
            self.finish(ep, t, outcome if t < self.end else IN_SYSTEM)
            return
        delay = self.recontact_delay if again else self.retry_delay
        self._at(t + delay, ep, self.choose, again)

    def finish(self, ep: Episode, t: float, outcome: int) -> None:
        if t > self.end:
            t = self.end
        self.log.record(ep, t, outcome)
        if self.reactions is not None and outcome != IN_SYSTEM:
            self.reactions.episode_done(t, ep.id, ep.customer, ep.segment, ep.reason,
                                        outcome == RESOLVED, ep.wait, ep.steps, ep.repeats,
                                        ep.switches, ep.t0)
