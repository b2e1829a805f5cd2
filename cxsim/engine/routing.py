"""Skills-based routing: a queue whose agents are groups holding skills, on the event-driven
path of :mod:`cxsim.engine.priority`.

A contact needs one skill (by its reason or its customer's segment: ``touchpoints.<name>
.skills``). On arrival it goes to an idle agent of a group holding that skill: the first such
group in declaration order with an agent free, the longest idle there (``routing:
group_order``), or the longest idle agent of any such group (``longest_idle``). Otherwise it
waits in its skill's queue (priority classes order it, as in a priority queue). A contact
that has waited its primary group's ``overflow_after_s`` (the primary group: the first that
holds its skill) becomes eligible to that group's ``overflow_to`` group as well, and on along
the chain (validated acyclic). A freeing agent takes the first waiting contact of the first
skill it holds that has one (the agent's own order of skills), then the first of those
overflowed to its group; otherwise it waits, idle, for the next arrival.

A contact sits in its skill's heap and in the overflow heaps it reached; whichever serves it
first marks it, and the others drop it when it comes to their top (lazy deletion).
Per-skill sums (as per class) and per-group served calls and busy minutes by interval of the
week are kept beside the touchpoint's statistics.
"""

from __future__ import annotations

from heapq import heapify, heappop, heappush

import numpy as np

from cxsim.engine.episode import Episode
from cxsim.engine.node import SLACK_MIN, WEEK, NodeContext
from cxsim.engine.nodes import GROUP_NODES
from cxsim.engine.priority import WAITING, ClassStats, PriorityQueueNode, Waiting
from cxsim.engine.queue import QueueNode
from cxsim.engine.staffing import duty_intervals, weekly_agents
from cxsim.engine.stats import FIELDS, KIND_ABANDONED, KIND_UNSERVED, F


class SkillWaiting(Waiting):
    """A waiting contact and the skill it needs."""

    __slots__ = ("skill",)


class GroupStats:
    """Per agent group: calls served and their busy agent-minutes, of the calls arriving in
    the window [``lo``, ``hi``), the busy minutes by interval of the week (``interval_min``
    wide)."""

    def __init__(self, lo: float, hi: float, groups: int, interval_min: int,
                 sl_threshold: float) -> None:
        self.lo, self.hi, self.width = lo, hi, interval_min
        self.sl_threshold = sl_threshold
        self.served = [0.0] * groups
        self.busy = np.zeros((groups, WEEK // interval_min))
        # The contacts whose primary group (the first holding their skill) is each group, by
        # interval of arrival, in the touchpoint's FIELDS: what staffing that group answers for.
        self.primary = np.zeros((groups, len(FIELDS), WEEK // interval_min))

    def contact(self, t: float, g: int, kind: int, wait: float) -> None:
        """A contact of primary group ``g`` arriving at ``t`` came to ``kind`` after ``wait``
        (an abandoned one's patience)."""
        if not self.lo <= t < self.hi:
            return
        row = self.primary[g]
        i = int(t // self.width) % row.shape[1]
        row[F["arrivals"], i] += 1
        if kind == KIND_ABANDONED:
            row[F["abandoned"], i] += 1
            row[F["waited"], i] += 1
            row[F["wait_sum"], i] += wait
        elif kind == KIND_UNSERVED:
            row[F["unserved"], i] += 1
            row[F["waited"], i] += 1
        else:
            row[F["served"], i] += 1
            row[F["wait_sum"], i] += wait
            row[F["answer_wait_sum"], i] += wait
            row[F["waited"], i] += wait > 0
            row[F["within_sl"], i] += wait <= self.sl_threshold

    def add(self, t: float, g: int, start: float, end: float) -> None:
        """A call arriving at ``t`` served by group ``g`` from ``start`` to ``end`` (counted,
        as every figure, when it arrives in the window)."""
        if not self.lo <= t < self.hi:
            return
        self.served[g] += 1
        a, b = max(start, self.lo), min(end, self.hi)
        width, bins = self.width, self.busy.shape[1]
        while a < b:
            edge = (a // width + 1) * width
            part = min(b, edge) - a
            self.busy[g, int(a // width) % bins] += part
            a += part

    def array(self) -> np.ndarray:
        """(group, 1 + intervals): served, then busy minutes per interval of the week."""
        return np.column_stack([self.served, self.busy])


class SkillQueueNode(PriorityQueueNode):
    """Agents in groups with skills serving one queue (see the module doc)."""

    def __init__(self, ctx: NodeContext) -> None:
        super().__init__(ctx)
        tp, shared = ctx.tp, ctx.shared
        names = list(tp.groups)
        groups = list(tp.groups.values())
        skills = sorted({x for g in groups for x in g.skills})
        self.skill_names = skills
        index = {x: i for i, x in enumerate(skills)}
        # Which skills each group's agents take, in their order; which groups hold a skill.
        self.skills_of = [tuple(index[x] for x in g.skills) for g in groups]
        self.holders = [tuple(k for k, g in enumerate(groups) if x in g.skills)
                        for x in skills]
        self.primary_of = [h[0] for h in self.holders]  # each skill's first holder
        self.overflow_to = [-1 if g.overflow_to is None else names.index(g.overflow_to)
                            for g in groups]
        self.overflow_after = [g.overflow_after_s / 60.0 for g in groups]
        self.longest_idle = tp.routing == "longest_idle"
        # Every agent of every group: one duty list, agent ids numbered group after group.
        self.group_of: list[int] = []
        duty = []
        for k, g in enumerate(groups):
            offset = len(self.group_of)
            layers = duty_intervals(weekly_agents(g.shifts, g.staffing),
                                    shared.horizon_min + SLACK_MIN)
            agents = max((j for *_, j in layers), default=0)
            self.group_of += [k] * (agents + 1)  # layer j of the group: agent offset + j
            duty += [(a, b, offset + j) for a, b, j in layers for _ in range(self.chats)]
        duty.sort()
        self._duty = duty
        self._idle_by_group: list[list] = [[] for _ in groups]
        self._by_skill: list[list] = [[] for _ in skills]
        self._overflowed: list[list] = [[] for _ in groups]
        self._skill_select = (tp.skills.by, dict(tp.skills.map), tp.skills.default)
        self.skill_stats = ClassStats(ctx.stats.lo, ctx.stats.hi, len(skills))
        self.group_stats = GroupStats(ctx.stats.lo, ctx.stats.hi, len(groups),
                                      ctx.stats.interval_min, ctx.stats.sl_threshold)

    def attach(self, router) -> None:
        super().attach(router)
        by, mapping, default = self._skill_select
        index = {x: i for i, x in enumerate(self.skill_names)}
        names = router.reasons if by == "reason" else router.segments
        self._skill_of = [index[mapping.get(n, default)] for n in names]
        self._by_reason = by == "reason"

    def _waiting_one(self, ep: Episode, t: float, cls: int, handle: float, repeat: int,
                     patience: float) -> Waiting:
        w = SkillWaiting(ep, t, cls, handle, repeat, patience)
        w.skill = self._skill_of[ep.reason if self._by_reason else ep.segment]
        return w

    # -- who serves an arrival, and who an agent serves next ----------------------------------

    def _idle_agent(self, g: int, t: float) -> tuple | None:
        """The longest idle agent of group ``g`` on duty at ``t`` (left on top), if any."""
        idle = self._idle_by_group[g]
        while idle:
            if idle[0][1] > t:
                return idle[0]
            heappop(idle)  # their duty ended while idle
        return None

    def _route(self, w: Waiting, t: float) -> bool:
        best = None
        for g in self.holders[w.skill]:
            head = self._idle_agent(g, t)
            if head is not None and (best is None or head[0] < best[0][0]):
                best = (head, g)
                if not self.longest_idle:
                    break
        if best is None:
            return False
        _, off, agent = heappop(self._idle_by_group[best[1]])
        self._serve(w, t, off, agent)
        return True

    def _enqueue(self, w: Waiting, t: float) -> None:
        heappush(self._by_skill[w.skill], (*self._key(w), w))
        first = self.holders[w.skill][0]
        if self.overflow_to[first] >= 0:
            self.router.at(t + self.overflow_after[first], self._overflow, w.ep,
                           (w, self.overflow_to[first]))

    def _overflow(self, _ep: Episode, t: float, arg: tuple) -> None:
        """``w`` has waited long enough for group ``g`` to take it too."""
        w, g = arg
        if w.state != WAITING:
            return
        head = self._idle_agent(g, t)
        if head is not None:
            _, off, agent = heappop(self._idle_by_group[g])
            self._serve(w, t, off, agent)
            return
        heappush(self._overflowed[g], (*self._key(w), w))
        nxt = self.overflow_to[g]
        if nxt >= 0:
            self.router.at(t + self.overflow_after[g], self._overflow, w.ep, (w, nxt))

    def _free_agent(self, t: float, off: float, agent: int) -> None:
        if t >= off:
            return  # their duty is over
        g = self.group_of[agent]
        # Its skills' queues in its own order, then the contacts overflowed to its group;
        # a contact served from another heap, or gone, is dropped on reaching the top.
        for heap in (*(self._by_skill[k] for k in self.skills_of[g]), self._overflowed[g]):
            while heap:
                w = heappop(heap)[-1]
                if w.state == WAITING:
                    self._serve(w, t, off, agent)
                    return
        heappush(self._idle_by_group[g], (t, off, agent))

    # -- statistics ----------------------------------------------------------------------

    def _serve(self, w: Waiting, t: float, off: float, agent: int) -> int:
        kind = super()._serve(w, t, off, agent)
        self.skill_stats.add(w.t, w.skill, kind, t - w.t)
        self.group_stats.add(w.t, self.group_of[agent], t, t + w.handle)
        self.group_stats.contact(w.t, self.primary_of[w.skill], kind, t - w.t)
        return kind

    def _abandon(self, ep: Episode, t: float, w: Waiting) -> None:
        if w.state == WAITING:
            self.skill_stats.add(w.t, w.skill, KIND_ABANDONED, w.patience)
            self.group_stats.contact(w.t, self.primary_of[w.skill], KIND_ABANDONED, w.patience)
        super()._abandon(ep, t, w)

    def _unserved(self, w: Waiting) -> None:
        super()._unserved(w)
        self.skill_stats.add(w.t, w.skill, KIND_UNSERVED, 0.0)
        self.group_stats.contact(w.t, self.primary_of[w.skill], KIND_UNSERVED, 0.0)

    def _entries(self) -> int:
        return sum(map(len, self._by_skill)) + sum(map(len, self._overflowed))

    def _compact(self) -> None:
        for heap in (*self._by_skill, *self._overflowed):
            heap[:] = [x for x in heap if x[-1].state == WAITING]
            heapify(heap)

    def _still_waiting(self) -> list[Waiting]:
        # Every waiting contact is in its skill's heap (once); overflow heaps hold copies.
        return [x[-1] for x in sorted((x for heap in self._by_skill for x in heap
                                       if x[-1].state == WAITING), key=lambda x: x[:3])]

    def close(self) -> None:
        super().close()
        for heap in (*self._by_skill, *self._overflowed):
            heap.clear()


GROUP_NODES[QueueNode] = SkillQueueNode  # queues, inboxes and stores with agent groups
