"""Customer-base KPIs: churn rate, retention curve and lifetime value. They broadcast over
leading axes (posterior draws, segments) and return a ``float`` for scalar results.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cxsim.metrics._checks import (
    FloatOrArray,
    _arr,
    _count_pair,
    _div,
    _int_param,
    _out,
    _reject,
)


def churn_rate(churned: ArrayLike, at_risk: ArrayLike) -> FloatOrArray:
    """Period churn rate = churned during the period / active at its start.

    Counts (or expected counts) broadcast; retention = 1 - churn. ``nan`` where
    at_risk == 0.

    >>> churn_rate(5, 100)
    0.05
    >>> churn_rate([5, 0], [100, 0])
    array([0.05,  nan])
    """
    return _out(_div(*_count_pair(churned, at_risk, "churned", "at_risk")))


def retention_curve(
    churn_times: ArrayLike, censored_at: ArrayLike, periods: int
) -> NDArray[np.float64]:
    """Share of a closed cohort (all start at t=0) still active at the end of periods 1..periods.

    Customer i churns at churn_times[i] (``np.inf``: never) and is observed until
    censored_at[i] (scalar or per customer; ``np.inf``: never censored); the churn is
    observed iff churn_time <= censored_at. Active at time k means churn_time > k. Then

        R(k) = #(active at k, not censored before k) / #(not censored before k),

    so customers censored before k (censored_at < k, no observed churn) leave that
    period's denominator. Not Kaplan-Meier: under censoring it is biased low; with no
    censoring before the horizon it is the plain survival share. Non-increasing; ``nan``
    if a denominator is 0. For ``ltv`` use ``np.r_[1.0, retention_curve(...)]``.

    >>> retention_curve([0.5, 1.5, 2.5, np.inf], np.inf, periods=3)
    array([0.75, 0.5 , 0.25])
    >>> retention_curve([0.5, np.inf, np.inf, np.inf], [9, 1.5, 9, 9], periods=2).round(3)
    array([0.75 , 0.667])
    """
    t = _arr(churn_times, "churn_times", ndim=1).astype(float)
    _reject(t, ~(t >= 0), "churn_times", ">= 0 (np.inf if no churn)")
    c = _arr(censored_at, "censored_at").astype(float)
    _reject(c, ~(c >= 0), "censored_at", ">= 0 (np.inf if never censored)")
    if c.ndim > 1 or (c.ndim == 1 and c.shape != t.shape):
        raise ValueError(f"censored_at must be scalar or shaped like churn_times; got {c.shape}")
    k = np.arange(1, _int_param(periods, "periods", 1) + 1, dtype=float)
    c = np.broadcast_to(c, t.shape)
    observed = t <= c
    n_excluded = np.searchsorted(np.sort(c[~observed]), k, side="left")  # censored_at < k
    n_churned = np.searchsorted(np.sort(t[observed]), k, side="right")  # churn_time <= k
    den = t.size - n_excluded
    return _div((den - n_churned).astype(float), den)


def ltv(
    revenue_per_period: ArrayLike, survival: ArrayLike, discount_rate_per_period: float
) -> FloatOrArray:
    """Expected discounted lifetime value: LTV = sum_{t=0}^{T-1} r_t * S(t) / (1 + d)^t.

    Timing: revenue r_t is collected at the *start* of each period t the customer is
    active, so period 0 is undiscounted. survival[..., t] = S(t) = P(active at start of
    period t), normally S(0) = 1; it must lie in [0, 1] and not increase along the last
    (time) axis; leading axes (e.g. draws) are kept. Revenue broadcasts against survival:
    scalar, per period (T,), or e.g. per draw (draws, 1).

    >>> ltv(100.0, [1.0, 0.5, 0.25], 0.0)
    175.0
    >>> ltv(100.0, [1.0, 0.5, 0.25], 1.0)  # 100 + 50/2 + 25/4
    131.25
    >>> ltv(10.0, [[1.0, 1.0], [1.0, 0.0]], 0.0)
    array([20., 10.])
    """
    s = _arr(survival, "survival").astype(float)
    if s.ndim == 0 or s.shape[-1] == 0:
        raise ValueError(f"survival needs a non-empty last (time) axis; got shape {s.shape}")
    _reject(s, ~((s >= 0) & (s <= 1)), "survival", "in [0, 1]")
    rise = np.diff(s, axis=-1)
    _reject(rise, rise > 1e-12, "survival", "non-increasing in t (value shown: the rise)")
    r = _arr(revenue_per_period, "revenue_per_period").astype(float)
    _reject(r, ~np.isfinite(r), "revenue_per_period", "finite")
    d = discount_rate_per_period
    if not (np.isfinite(d) and d > -1):
        raise ValueError(f"discount_rate_per_period must be finite and > -1; got {d!r}")
    try:
        flows = r * s
    except ValueError:
        raise ValueError(
            f"revenue_per_period {r.shape} vs survival {s.shape}: no broadcast"
        ) from None
    return _out(flows @ (1.0 + d) ** -np.arange(s.shape[-1], dtype=float))
