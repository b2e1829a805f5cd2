"""Streaming operational statistics per touchpoint, binned by hour of day.

Sums only, never one record per contact, so memory stays flat however long the run; every
figure a contact centre reads (volume, ASA, service level, abandonment, AHT, FCR, occupancy,
containment) is a ratio of these sums, per touchpoint, channel or hour. Only visits that
*arrive* inside the measurement window [warm-up, horizon) are counted.
"""

from __future__ import annotations

import numpy as np

FIELDS = (
    "arrivals",
    "served",
    "abandoned",
    "unserved",
    "waited",
    "wait_sum",
    "answer_wait_sum",
    "within_sl",
    "handle_sum",
    "resolved",
    "transferred",
    "unresolved",
    "repeats",
    "contained",
    "escalated",
    "looped",
    "failed",
    "busy_sum",
)
RESOLVED, FAILED, HANDOFF, UNRESOLVED = 1, 2, 5, 4
BOT_CONTAINED, BOT_ESCALATED = 1, 2


class TouchpointStats:
    """Sums of one touchpoint's visits by hour of day (lists: cheap scalar updates)."""

    def __init__(self, window_start: float, window_end: float) -> None:
        self.lo, self.hi = window_start, window_end
        for f in FIELDS:
            setattr(self, f, [0.0] * 24)

    def _hour(self, t: float) -> int:
        """Hour of day of ``t``, or -1 outside the measurement window."""
        if t < self.lo or t >= self.hi:
            return -1
        return int(t // 60.0) % 24

    def on_self_service(self, t: float, contained: bool) -> None:
        h = self._hour(t)
        if h >= 0:
            self.arrivals[h] += 1
            if contained:
                self.contained[h] += 1
            else:
                self.failed[h] += 1

    def on_bot(self, t: float, outcome: int) -> None:
        h = self._hour(t)
        if h >= 0:
            self.arrivals[h] += 1
            if outcome == BOT_CONTAINED:
                self.contained[h] += 1
            elif outcome == BOT_ESCALATED:
                self.escalated[h] += 1
            else:
                self.looped[h] += 1

    def on_abandoned(self, t: float, patience: float) -> None:
        h = self._hour(t)
        if h >= 0:
            self.arrivals[h] += 1
            self.abandoned[h] += 1
            self.waited[h] += 1
            self.wait_sum[h] += patience

    def on_unserved(self, t: float) -> None:
        h = self._hour(t)
        if h >= 0:
            self.arrivals[h] += 1
            self.unserved[h] += 1
            self.waited[h] += 1

    def on_served(self, t: float, wait: float, handle: float, within_sl: bool, outcome: int,
                  repeat: int) -> None:
        if t < self.lo or t >= self.hi:
            return
        h = int(t // 60.0) % 24
        # Agent time spent inside the window (occupancy), charged to the arrival's hour.
        start = t + wait
        self.busy_sum[h] += max(0.0, min(start + handle, self.hi) - max(start, self.lo))
        self.arrivals[h] += 1
        self.served[h] += 1
        if wait > 0:
            self.waited[h] += 1
            self.wait_sum[h] += wait
            self.answer_wait_sum[h] += wait
        if within_sl:
            self.within_sl[h] += 1
        self.handle_sum[h] += handle
        if repeat:
            self.repeats[h] += repeat
        if outcome == RESOLVED:
            self.resolved[h] += 1
        elif outcome == HANDOFF:
            self.transferred[h] += 1
        else:
            self.unresolved[h] += 1

    def array(self) -> np.ndarray:
        """All sums as a (field, hour) array, in :data:`FIELDS` order."""
        return np.array([getattr(self, f) for f in FIELDS])
