"""Streaming operational statistics per touchpoint, binned by interval of the week.

Sums only, never one record per contact for the whole run, so memory stays flat however long
the run; every figure a contact centre reads (volume, ASA, service level, abandonment, AHT,
FCR, occupancy, containment) is a ratio of these sums, per touchpoint, channel, interval of
the week (15, 30 or 60 minutes: the scenario's ``interval_min``) or hour of the day. Only
visits that *arrive* inside the measurement window [warm-up, horizon) are counted, each in
the interval it arrives in; agents' busy time is charged to the intervals it falls in.

A visit costs the engine five numbers appended to :attr:`TouchpointStats.visits`; the buffer
is summed into the interval bins with NumPy (:meth:`TouchpointStats.flush`, called by the
replication at day boundaries once it holds a few thousand visits, and at the end), several
times cheaper than updating a dozen Python counters per visit.
"""

from __future__ import annotations

import numpy as np

from cxsim.spec.kinds import MINUTES_PER_WEEK

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
    "redials",  # arrivals that redial the queue they abandoned (offered - unique callers)
    "callbacks",  # arrivals that took a call-back instead of waiting on the line
    "callback_answered",  # call-backs the customer answered (served)
    "callback_missed",  # call-backs the customer did not answer (the agent's attempt is lost)
    "callback_delay_sum",  # minutes from arrival to the call-back, over call-backs
)
F = {name: i for i, name in enumerate(FIELDS)}
# What a visit came to, as buffered: (t, kind, wait, handle, repeat). Served kinds come last.
KIND_CONTAINED, KIND_FAILED, KIND_ESCALATED, KIND_LOOPED = 0, 1, 2, 3  # self-service, bot
KIND_ABANDONED, KIND_UNSERVED = 4, 5  # queues
KIND_RESOLVED, KIND_TRANSFERRED, KIND_UNRESOLVED = 6, 7, 8  # served
# Added to the kind of a visit that took a call-back: its wait is the delay to the call-back
# (not a wait on the line), a failed call-back is a missed call (not a bot or self-service
# failure), and the agent's time is still busy time.
CALLBACK = 16
# Fields that count the visits of one kind.
COUNTED = (("abandoned", KIND_ABANDONED), ("unserved", KIND_UNSERVED),
           ("resolved", KIND_RESOLVED), ("transferred", KIND_TRANSFERRED),
           ("unresolved", KIND_UNRESOLVED), ("contained", KIND_CONTAINED),
           ("escalated", KIND_ESCALATED), ("looped", KIND_LOOPED), ("failed", KIND_FAILED))


class TouchpointStats:
    """Sums of one touchpoint's visits by interval of the week, fed through a buffer of
    visits."""

    def __init__(self, window_start: float, window_end: float, sl_threshold: float,
                 interval_min: int = 60) -> None:
        self.lo, self.hi = window_start, window_end
        self.sl_threshold = sl_threshold
        self.interval_min = interval_min
        self.bins = int(MINUTES_PER_WEEK) // interval_min
        self.sums = np.zeros((len(FIELDS), self.bins))
        # Since the last flush, flat: arrival time, kind, wait, handle, repeat count of each
        # visit (an abandoned visit's wait is its patience). Flat takes 40 bytes a visit.
        self.visits: list[float] = []
        self.redials: list[float] = []  # arrival times of redials since the last flush

    def flush(self, at_least: int = 1) -> None:
        """Add the buffered visits inside the window to the interval sums and empty the buffer,
        if it holds ``at_least`` visits."""
        if len(self.visits) < 5 * at_least:
            return
        v = np.fromiter(self.visits, float, len(self.visits)).reshape(-1, 5)
        self.visits.clear()
        t = v[:, 0]
        v = v[(t >= self.lo) & (t < self.hi)]
        t, kind, wait, handle, repeat = v.T
        called = kind >= CALLBACK
        calls = bool(called.any())
        if calls:
            kind = np.where(called, kind - CALLBACK, kind)
        n_bins, width = self.bins, self.interval_min
        slot = (t // width % n_bins).astype(np.intp)  # the arrival's interval of the week
        sums = self.sums
        if self.redials:  # every redial is also a visit, so it is flushed with the visits
            r = np.asarray(self.redials)
            self.redials.clear()
            r = r[(r >= self.lo) & (r < self.hi)]
            sums[F["redials"]] += np.bincount((r // width % n_bins).astype(np.intp),
                                              minlength=n_bins)

        def add(field: str, mask: np.ndarray, weights: np.ndarray | None = None) -> None:
            w = None if weights is None else weights[mask]
            sums[F[field]] += np.bincount(slot[mask], w, minlength=n_bins)

        # Visits by kind and interval in one pass; the kinds' counts are rows of it.
        kinds = len(COUNTED)
        by_kind = np.bincount(kind.astype(np.intp) * n_bins + slot,
                              minlength=kinds * n_bins).reshape(kinds, n_bins)
        sums[F["arrivals"]] += by_kind.sum(axis=0)
        sums[F["served"]] += by_kind[KIND_RESOLVED:].sum(axis=0)
        for field, code in COUNTED:
            sums[F[field]] += by_kind[code]
        served = kind >= KIND_RESOLVED
        queued = kind >= KIND_ABANDONED  # waited on the line (every queue visit but call-backs)
        if calls:
            queued &= ~called
            missed = called & (kind == KIND_FAILED)
            sums[F["failed"]] -= np.bincount(slot[missed], minlength=n_bins)
            add("callbacks", called)
            add("callback_answered", called & served)
            add("callback_missed", missed)
            add("callback_delay_sum", called, wait)
        answered = served & queued
        add("waited", queued & ((kind < KIND_RESOLVED) | (wait > 0)))
        add("wait_sum", queued, wait)
        add("answer_wait_sum", answered, wait)
        add("within_sl", answered & (wait <= self.sl_threshold))
        add("handle_sum", served, handle)
        add("repeats", served, repeat)
        busy = served | missed if calls else served  # a missed call-back holds an agent too
        # Agent time spent inside the window (occupancy), charged to the intervals it falls in.
        start = np.maximum(t + wait, self.lo)[busy]
        end = np.minimum(t + wait + handle, self.hi)[busy]
        first = start // width
        for k in range(int(np.max(end // width - first, initial=-1)) + 1):
            edge = (first + k) * width
            part = np.minimum(end, edge + width) - np.maximum(start, edge)
            on = part > 0
            sums[F["busy_sum"]] += np.bincount((first[on] + k).astype(np.intp) % n_bins,
                                               part[on], minlength=n_bins)

    def array(self) -> np.ndarray:
        """All sums as a (field, interval of the week) array, in :data:`FIELDS` order."""
        self.flush()
        return self.sums.copy()
