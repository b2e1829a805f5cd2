"""Touchpoint nodes: self-service and bots, which class serves which kind, and building the
nodes of a replication.

The interface every node has (:class:`~cxsim.engine.node.Node`: ``visit(ep, t) -> (t_done,
outcome, target)``) and its context are in :mod:`cxsim.engine.node`; the FIFO agent queue is
:mod:`cxsim.engine.queue`, the event-driven ones :mod:`cxsim.engine.priority` (priority
classes) and :mod:`cxsim.engine.routing` (agent groups with skills). Which class serves a
touchpoint is chosen by its kind (:data:`NODE_CLASSES`, :func:`register`).
"""

from __future__ import annotations

from collections.abc import Callable

from cxsim.engine.episode import Episode
from cxsim.engine.node import (  # noqa: F401  (re-exported: the nodes' shared names)
    INF,
    NAN,
    SLACK_MIN,
    WEEK,
    Node,
    NodeContext,
    Shared,
)
from cxsim.engine.queue import QueueNode
from cxsim.engine.stats import (
    KIND_CONTAINED,
    KIND_ESCALATED,
    KIND_FAILED,
    KIND_LOOPED,
    TouchpointStats,
)
from cxsim.engine.streams import durations
from cxsim.spec import Scenario, Touchpoint
from cxsim.spec.kinds import (
    BOT_CONTAINED,
    BOT_ESCALATED,
    BOT_LOOPED,
    KINDS,
    VISIT_FAILED,
    VISIT_HANDOFF,
    VISIT_RESOLVED,
    KindTraits,
    register_kind,
)

__all__ = ["INF", "NAN", "NODE_CLASSES", "SLACK_MIN", "WEEK", "BotNode", "Node", "NodeContext",
           "QueueNode", "SelfServiceNode", "Shared", "build_nodes", "handoff_target", "register"]


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
