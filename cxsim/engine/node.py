"""What every touchpoint node is: its context, the settings it shares, its interface.

Each node has ``visit(ep, t) -> (t_done, outcome, target)``: the customer arrives at ``t``;
the node decides when the visit ends and how (the ``VISIT_*`` codes of
:mod:`cxsim.spec.kinds`), and the journey router (:mod:`cxsim.engine.journey`) decides what
follows. Visits to a node arrive in time order.

A node gets everything it needs when it is built (:class:`NodeContext`): its touchpoint, its
channel index, the node it hands over to (built first), its statistics and the settings it
shares with the router (:class:`Shared`). The node classes are in :mod:`cxsim.engine.nodes`
(self-service, bots, and which class serves which kind), :mod:`cxsim.engine.queue` (the FIFO
agent queue), :mod:`cxsim.engine.priority` and :mod:`cxsim.engine.routing` (the event-driven
queues).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cxsim.engine.episode import Episode
from cxsim.engine.stats import TouchpointStats
from cxsim.engine.streams import generator, uniforms
from cxsim.spec import Scenario, Touchpoint
from cxsim.spec.kinds import (
    KINDS,
    MINUTES_PER_DAY,
    MINUTES_PER_WEEK,
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
