"""Abandonment: its rate among contacts offered to the queue, and its hazard by wait.

``abandon_rate = abandoned / offered`` (offered: abandoned, served or transferred), with the
exact (Clopper-Pearson) interval. The hazard in a wait bin [a, b) is read two ways, from the
customers still waiting at a (``at_risk``): ``share = abandoned in [a, b) / at_risk`` (the
chance of leaving in the bin once there, with its exact interval) and ``per_min =
abandoned in [a, b) / minutes waited in [a, b)`` (the rate, with the exact Poisson interval).
A constant ``per_min`` across bins is exponential patience; real logs rise and fall (Brown et
al. 2005 saw peaks after the announcements that tell callers their wait).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cxsim.calibrate.operations.cis import binomial_ci, finite, interval_json, poisson_ci

WAIT_EDGES_MIN = (0.0, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 12.0, 20.0, 30.0, 60.0, np.inf)


@dataclass
class Abandonment:
    """Abandonment of one queue; hazard arrays are per wait bin."""

    offered: int
    abandoned: int
    edges_min: np.ndarray
    at_risk: np.ndarray
    events: np.ndarray
    exposure_min: np.ndarray
    level: float

    @property
    def rate(self) -> float:
        return self.abandoned / self.offered if self.offered else float("nan")

    def to_json(self) -> dict:
        lo, hi = binomial_ci(self.abandoned, self.offered, self.level)
        s_lo, s_hi = binomial_ci(self.events, self.at_risk, self.level)
        r_lo, r_hi = poisson_ci(self.events, self.exposure_min, self.level)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(self.at_risk > 0, self.events / self.at_risk, np.nan)
            per_min = np.where(self.exposure_min > 0, self.events / self.exposure_min, np.nan)

        def col(a: np.ndarray) -> list:
            return [finite(x) for x in a]

        return {
            "rate": finite(self.rate), "ci": interval_json(float(lo), float(hi)),
            "abandoned": self.abandoned, "offered": self.offered, "level": self.level,
            "hazard": {"wait_from_min": col(self.edges_min[:-1]),
                       "wait_to_min": col(self.edges_min[1:]),
                       "at_risk": self.at_risk.astype(int).tolist(),
                       "abandoned": self.events.astype(int).tolist(),
                       "share": col(share), "share_ci_low": col(s_lo), "share_ci_high": col(s_hi),
                       "per_min": col(per_min), "per_min_ci_low": col(r_lo),
                       "per_min_ci_high": col(r_hi)},
        }


def abandonment(wait: np.ndarray, abandoned: np.ndarray,
                edges_min: tuple[float, ...] = WAIT_EDGES_MIN, level: float = 0.95
                ) -> Abandonment:
    """Rate and hazard by wait bin from each offered contact's ``wait`` (minutes) and
    ``abandoned`` flag; bins past the longest wait are dropped."""
    w, a = np.asarray(wait, float), np.asarray(abandoned, bool)
    edges = np.asarray(edges_min, float)
    if edges[0] != 0 or np.any(np.diff(edges) <= 0):
        raise ValueError("wait bin edges must start at 0 and increase")
    ws = np.sort(w)
    at_risk = w.size - np.searchsorted(ws, edges[:-1], side="left")
    events = np.histogram(w[a], bins=edges)[0]
    # minutes waited inside [lo, hi) by everyone: sum of clip(w - lo, 0, hi - lo)
    csum = np.concatenate(([0.0], np.cumsum(ws)))

    def integral(x: np.ndarray) -> np.ndarray:  # sum_i min(w_i, x)
        k = np.searchsorted(ws, x, side="left")
        return csum[k] + (w.size - k) * np.where(np.isfinite(x), x, 0.0)

    lo, hi = edges[:-1], edges[1:]
    hi_int = np.where(np.isfinite(hi), integral(hi), csum[-1])
    exposure = hi_int - integral(lo)
    last = int(np.searchsorted(edges, ws[-1], side="right")) if w.size else 1
    keep = slice(0, max(min(last, edges.size - 1), 1))
    return Abandonment(int(w.size), int(a.sum()), edges[: keep.stop + 1], at_risk[keep],
                       events[keep], exposure[keep], level)
