"""Uncertainty of a figure: confidence half-widths (over replications or trials) and the
highest-density interval of posterior draws.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import ndtri, stdtrit

from cxsim.metrics._checks import FloatOrArray, _arr, _count_pair, _div, _level, _out, _reject

HDI_PROB = 0.94  # the posterior intervals cxsim reports (ArviZ's convention)


def ratio_ci(successes: ArrayLike, trials: ArrayLike, level: float = 0.95) -> FloatOrArray:
    """Half-width of a normal-approximation (Wald) CI for a proportion.

    hw = z_{(1+level)/2} * sqrt(p (1 - p) / trials), p = successes / trials; CI = p +/- hw.
    Wald, not Wilson, so it is centred on the estimate like ``mean_ci``; fine when
    trials*p and trials*(1-p) are >= ~10, but it collapses to 0 at p in {0, 1}. Assumes
    independent trials: for a KPI computed per replication, use ``mean_ci`` across
    replications. Broadcasts; ``nan`` where trials == 0.

    >>> round(ratio_ci(50, 100), 4)
    0.098
    """
    z = float(ndtri(_level(level)))
    k, n = _count_pair(successes, trials, "successes", "trials")
    p = _div(k, n)
    return _out(z * np.sqrt(_div(p * (1 - p), n)))


def mean_ci(values_per_replication: ArrayLike, level: float = 0.95) -> FloatOrArray:
    """Half-width of a Student-t CI for the mean over independent replications.

    hw = t_{(1+level)/2, n-1} * s / sqrt(n), s the sample standard deviation (ddof=1)
    over the last axis (n replications; leading axes are kept). ``nan`` if n < 2;
    nan values propagate.

    >>> round(mean_ci([1.0, 2.0, 3.0]), 3)  # t_{0.975, 2} = 4.303, s = 1
    2.484
    """
    q = _level(level)
    v = _arr(values_per_replication, "values_per_replication").astype(float)
    if v.ndim == 0:
        raise ValueError("values_per_replication must have a replication axis; got a scalar")
    _reject(v, np.isinf(v), "values_per_replication", "finite or nan")
    n = v.shape[-1]
    if n < 2:
        return _out(np.full(v.shape[:-1], np.nan))
    return _out(stdtrit(n - 1, q) * v.std(axis=-1, ddof=1) / np.sqrt(n))


def hdi(draws: ArrayLike, prob: float = HDI_PROB) -> tuple[FloatOrArray, FloatOrArray]:
    """Highest-density interval of ``draws`` along the first axis: the narrowest interval
    holding ``prob`` of them, ``(low, high)`` each shaped like ``draws.shape[1:]``.

    With the n draws sorted, the interval runs from draw i to draw i + floor(prob * n),
    i minimising its width (the first such i) - ArviZ's ``hdi(method="nearest")``.

    >>> hdi(np.arange(100.0), 0.9)
    (0.0, 90.0)
    >>> low, high = hdi(np.column_stack([np.arange(100.0), np.arange(100.0) ** 2]), 0.9)
    >>> low.tolist(), high.tolist()
    ([0.0, 0.0], [90.0, 8100.0])
    """
    if not 0.0 < prob < 1.0:
        raise ValueError(f"prob must be in (0, 1); got {prob!r}")
    s = np.sort(_arr(draws, "draws").astype(float), axis=0)
    if s.ndim == 0 or s.shape[0] < 2:
        raise ValueError(f"draws needs at least 2 draws on its first axis; got shape {s.shape}")
    n = s.shape[0]
    k = min(int(np.floor(prob * n)), n - 1)
    i = np.argmin(s[k:] - s[: n - k], axis=0)
    low = np.take_along_axis(s, i[None, ...], axis=0)[0]
    high = np.take_along_axis(s, (i + k)[None, ...], axis=0)[0]
    return _out(low), _out(high)
