"""An episode: one need of one customer, from the moment it arises until it is resolved,
given up, or still open at the horizon. A mutable record the nodes and the router update as
the need travels; its outcome codes are :mod:`cxsim.spec.kinds`' (``EPISODE_OUTCOMES``,
``BOT_STATES``). A leaf of the engine: it imports nothing from it.
"""

from __future__ import annotations

from cxsim.spec.kinds import BOT_NONE


class Episode:
    """One need of one customer travelling through touchpoints."""

    __slots__ = (
        "id", "customer", "segment", "reason", "t0", "intolerant", "contacts", "wait",
        "handle", "steps", "transfers", "repeats", "switches", "bot", "explained", "channel",
        "first_channel", "channels", "touchpoints", "redials",
    )

    def __init__(self, id: int, customer: int, segment: int, reason: int, t0: float,
                 intolerant: bool) -> None:
        self.id, self.customer, self.segment, self.reason = id, customer, segment, reason
        self.t0, self.intolerant = t0, intolerant
        self.redials = 0  # during a redial visit: its number in the row of redials, else 0
        self.contacts = self.transfers = self.repeats = self.switches = self.steps = 0
        self.bot = BOT_NONE
        self.wait = self.handle = 0.0
        self.explained = False
        self.channel = self.first_channel = -1
        self.channels = self.touchpoints = 0  # bitmasks of channels and touchpoints visited
