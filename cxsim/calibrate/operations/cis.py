"""Exact intervals for counts and proportions, and the per-contact quantities of a log."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

SERVED_OUTCOMES = ("served", "transferred")


def poisson_ci(count: np.ndarray | int, exposure: np.ndarray | float, level: float = 0.95
               ) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) interval for a Poisson rate ``count / exposure``:
    ``[Gamma(count).ppf(a/2), Gamma(count + 1).ppf(1 - a/2)] / exposure``, a = 1 - level; the
    lower end is 0 when count = 0. NaN where exposure is 0. Coverage is at least ``level``.

    >>> lo, hi = poisson_ci(10, 2.0)
    >>> round(float(lo), 3), round(float(hi), 3)
    (2.398, 9.195)
    """
    k = np.asarray(count, dtype=float)
    e = np.asarray(exposure, dtype=float)
    a = 1.0 - level
    lo = np.where(k > 0, stats.gamma.ppf(a / 2, np.maximum(k, 1e-300)), 0.0)
    hi = stats.gamma.ppf(1 - a / 2, k + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(e > 0, lo / e, np.nan), np.where(e > 0, hi / e, np.nan)


def binomial_ci(k: np.ndarray | int, n: np.ndarray | int, level: float = 0.95
                ) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Clopper-Pearson) interval for a proportion k / n; NaN where n = 0.

    >>> lo, hi = binomial_ci(3, 10)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.0667, 0.6525)
    """
    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    a = 1.0 - level
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = np.where(k > 0, stats.beta.ppf(a / 2, np.maximum(k, 1e-300), n - k + 1), 0.0)
        hi = np.where(k < n, stats.beta.ppf(1 - a / 2, k + 1, np.maximum(n - k, 1e-300)), 1.0)
    return np.where(n > 0, lo, np.nan), np.where(n > 0, hi, np.nan)


def waits(f: pd.DataFrame) -> np.ndarray:
    """Minutes each contact waited in the queue (0 if it never queued)."""
    return (f["queue_exit"] - f["queue_entry"]).fillna(0.0).to_numpy()


def handle_times(f: pd.DataFrame) -> np.ndarray:
    """Minutes of service (NaN where there was none)."""
    return (f["service_end"] - f["service_start"]).to_numpy()


def interval_json(lo: float, hi: float) -> list[float | None]:
    return [finite(lo), finite(hi)]


def finite(x: float) -> float | None:
    """A float for JSON: None for NaN or infinity."""
    x = float(x)
    return x if np.isfinite(x) else None
