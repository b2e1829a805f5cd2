"""Misspecified worlds: customers who behave in a way the micro-data model does not contain.

Each variant is a small subclass of the engine's :class:`~cxsim.engine.reactions.Reactions`
overriding one plug-in point of the outcomes model (``felt``, ``respond`` or ``hazard``); the
engine runs it in place of the model's reactions (``Replication(..., reactions=cls)``). A
variant's own random numbers come from a stream of its own, so every other stream - and with
it the common random numbers between scenarios - stays as it is. Chosen by name
(``backtest.variant``) from :data:`VARIANTS`:

- ``none``: the model itself (a well-specified world);
- ``mood``: a persistent per-customer mood, N(0, 0.5) on the satisfaction scale, added to the
  satisfaction of every episode (a latent random effect the model has not);
- ``answer_response``: unhappy customers answer surveys more: the model's response logit
  minus 1.0 x (signal - segment baseline), so that response depends on the answer the customer
  would give, not only on the experience's extremity;
- ``peak_end``: churn driven by the worst and the last episode since the previous check, as
  their mean, in place of the smoothed relationship (customers with no episode in the period
  keep their relationship).
"""

from __future__ import annotations

import numpy as np

from cxsim.engine.reactions import Reactions
from cxsim.engine.streams import generator
from cxsim.spec import Scenario

MOOD_SD = 0.5
ANSWER_SLOPE = 1.0


class Mood(Reactions):
    def __init__(self, s: Scenario, segment: np.ndarray, active: np.ndarray, rep: int) -> None:
        super().__init__(s, segment, active, rep)
        self.mood = generator(s.seed, rep, "variant:mood").normal(0.0, MOOD_SD, segment.size)

    def felt(self, cust: np.ndarray, sat: np.ndarray, t: np.ndarray) -> np.ndarray:
        return sat + self.mood[cust]


class AnswerResponse(Reactions):
    def respond(self, signal: np.ndarray, center: np.ndarray) -> np.ndarray:
        p = super().respond(signal, center)
        with np.errstate(divide="ignore", over="ignore"):  # p of 0 or 1 stays 0 or 1
            logit = np.log(p) - np.log1p(-p) - ANSWER_SLOPE * (np.asarray(signal) - center)
            return 1.0 / (1.0 + np.exp(-logit))


class PeakEnd(Reactions):
    def __init__(self, s: Scenario, segment: np.ndarray, active: np.ndarray, rep: int) -> None:
        super().__init__(s, segment, active, rep)
        self.worst = np.full(segment.size, np.inf)
        self.last = np.full(segment.size, np.nan)

    def felt(self, cust: np.ndarray, sat: np.ndarray, t: np.ndarray) -> np.ndarray:
        self.worst[cust] = np.minimum(self.worst[cust], sat)
        self.last[cust] = sat
        return sat

    def hazard(self, act: np.ndarray, t: float) -> np.ndarray:
        saved = self.relationship[act].copy()
        seen = np.isfinite(self.worst[act])
        self.relationship[act[seen]] = 0.5 * (self.worst[act[seen]] + self.last[act[seen]])
        try:
            return super().hazard(act, t)
        finally:  # the period starts afresh; the relationship itself is untouched
            self.relationship[act] = saved
            self.worst[:] = np.inf


VARIANTS: dict[str, type[Reactions]] = {"none": Reactions, "mood": Mood,
                                        "answer_response": AnswerResponse, "peak_end": PeakEnd}
