"""The shifted-beta-geometric (sBG) cohort-retention model in NumPy/SciPy.

Fader & Hardie (2007), "How to Project Customer Retention", Journal of Interactive
Marketing 21(1), 76-90. Each customer renews at the end of every period with a constant
probability 1 - theta (churns with probability theta); theta ~ Beta(alpha, beta) across
customers. The period T in which a customer churns (T = 1, 2, ...) then has

    P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta)          (F&H 2007, eq. 5)
    S(t)     = P(T > t) = B(alpha, beta + t) / B(alpha, beta)       (eq. 6)
    r_t      = S(t) / S(t - 1) = (beta + t - 1) / (alpha + beta + t - 1)   (eq. 8)

so the aggregate retention rate r_t rises with t although no customer's own rate changes:
the flighty customers leave first (the "ruse of heterogeneity").

Numerics: a difference of ``betaln`` values cancels catastrophically when alpha and beta are
large against t (the near-homogeneous corner an optimiser can wander into), so everything here
is computed from the exact product S(t) = prod_{i<=t} r_i with
log r_i = -log1p(alpha / (beta + i - 1)) and log P(T = t) = log S(t - 1) + log alpha -
log(alpha + beta + t - 1). Tests check this against the ``betaln`` form of eqs. 5-6.

Counts: ``surviving[t]`` = n_t customers of a cohort still active at period t, n_0 the cohort
size. The log-likelihood (F&H 2007, appendix B), up to the multinomial constant, is

    LL(alpha, beta) = sum_{t=1}^{T} (n_{t-1} - n_t) log P(T = t) + n_T log S(T).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize
from scipy.special import hyp2f1

__all__ = [
    "MLEResult",
    "derl",
    "fit_mle",
    "log_churn_pmf",
    "log_survival",
    "loglik",
    "retention_rate",
]

LOG_BOUNDS = (np.log(1e-6), np.log(1e6))  # search box for log alpha and log beta


def _pair(alpha: ArrayLike, beta: ArrayLike) -> tuple[NDArray, NDArray]:
    a, b = np.broadcast_arrays(np.asarray(alpha, dtype=float), np.asarray(beta, dtype=float))
    if not (np.all(a > 0) and np.all(b > 0)):
        raise ValueError("alpha and beta must be > 0")
    return a, b


def log_survival(alpha: ArrayLike, beta: ArrayLike, periods: int) -> NDArray[np.float64]:
    """log S(t) for t = 0..periods, on a new last axis (S(0) = 1).

    log S(t) = sum_{i=1}^{t} log r_i, log r_i = log(beta + i - 1) - log(alpha + beta + i - 1).

    >>> np.exp(log_survival(1.0, 1.0, 3)).round(4)  # S(t) = 1 / (t + 1) for alpha = beta = 1
    array([1.    , 0.5   , 0.3333, 0.25  ])
    """
    a, b = _pair(alpha, beta)
    i = np.arange(1, int(periods) + 1, dtype=float)
    log_r = -np.log1p(a[..., None] / (b[..., None] + i - 1.0))
    zero = np.zeros((*a.shape, 1))
    return np.concatenate([zero, np.cumsum(log_r, axis=-1)], axis=-1)


def log_churn_pmf(alpha: ArrayLike, beta: ArrayLike, periods: int) -> NDArray[np.float64]:
    """log P(T = t) for t = 1..periods, on a new last axis.

    P(T = t) = S(t - 1) alpha / (alpha + beta + t - 1) = B(alpha + 1, beta + t - 1) / B(alpha, beta)

    >>> np.exp(log_churn_pmf(1.0, 1.0, 3)).round(4)  # 1 / (t (t + 1))
    array([0.5   , 0.1667, 0.0833])
    """
    a, b = _pair(alpha, beta)
    t = np.arange(1, int(periods) + 1, dtype=float)
    log_s = log_survival(a, b, periods)[..., :-1]
    return log_s + np.log(a)[..., None] - np.log(a[..., None] + b[..., None] + t - 1.0)


def retention_rate(alpha: ArrayLike, beta: ArrayLike, t: ArrayLike) -> NDArray[np.float64]:
    """Aggregate retention rate r_t = (beta + t - 1) / (alpha + beta + t - 1), t >= 1 (broadcasts).

    >>> retention_rate(0.704, 1.182, [1, 2, 12]).round(3)
    array([0.627, 0.756, 0.945])
    """
    a, b = _pair(alpha, beta)
    t = np.asarray(t, dtype=float)
    if np.any(t < 1):
        raise ValueError("t must be >= 1")
    return (b + t - 1.0) / (a + b + t - 1.0)


def _counts(surviving: ArrayLike) -> NDArray[np.float64]:
    n = np.asarray(surviving, dtype=float)
    if n.ndim != 1 or n.size < 2:
        raise ValueError("surviving must be 1-D with periods 0..T, T >= 1")
    if not (np.all(np.isfinite(n)) and n[0] > 0 and np.all(n >= 0) and np.all(np.diff(n) <= 0)):
        raise ValueError("surviving must be finite, >= 0, non-increasing, with n_0 > 0")
    return n


def loglik(alpha: ArrayLike, beta: ArrayLike, surviving: ArrayLike) -> NDArray[np.float64]:
    """sBG log-likelihood of one cohort's survivor counts n_0 >= n_1 >= ... >= n_T.

    LL = sum_{t=1}^{T} (n_{t-1} - n_t) log P(T = t) + n_T log S(T); broadcasts over alpha, beta.

    >>> round(float(loglik(1.0, 1.0, [1000, 869, 743, 653, 593, 551, 517, 491])), 1)
    -2115.5
    """
    n = _counts(surviving)
    periods = n.size - 1
    lost = n[:-1] - n[1:]
    ll = log_churn_pmf(alpha, beta, periods) @ lost
    return ll + n[-1] * log_survival(alpha, beta, periods)[..., -1]


def _negloglik_and_grad(log_ab: NDArray, n: NDArray) -> tuple[float, NDArray]:
    """-LL and its gradient in (log alpha, log beta), from the product form.

    d log r_i / d alpha = -A_i, d log r_i / d beta = B_i - A_i, with A_i = 1 / (alpha + beta +
    i - 1), B_i = 1 / (beta + i - 1); d log P(T = t) adds 1 / alpha - A_t (alpha), -A_t (beta).
    """
    a, b = np.exp(log_ab)
    periods = n.size - 1
    lost = n[:-1] - n[1:]
    i = np.arange(1, periods + 1, dtype=float)
    inv_ab, inv_b = 1.0 / (a + b + i - 1.0), 1.0 / (b + i - 1.0)
    log_s = np.concatenate([[0.0], np.cumsum(-np.log1p(a / (b + i - 1.0)))])
    ds_da = np.concatenate([[0.0], np.cumsum(-inv_ab)])
    ds_db = np.concatenate([[0.0], np.cumsum(inv_b - inv_ab)])
    ll = lost @ (log_s[:-1] + np.log(a) + np.log(inv_ab)) + n[-1] * log_s[-1]
    da = lost @ (ds_da[:-1] + 1.0 / a - inv_ab) + n[-1] * ds_da[-1]
    db = lost @ (ds_db[:-1] - inv_ab) + n[-1] * ds_db[-1]
    return -float(ll), -np.array([a * da, b * db])


@dataclass(frozen=True)
class MLEResult:
    """Maximum-likelihood sBG fit of one cohort.

    ``at_bound`` is True when the maximum lies on the search box (alpha or beta at 1e-6 or
    1e6): the data then do not identify the heterogeneity (e.g. a constant retention rate
    drives alpha, beta -> infinity), and the estimate is a limit, not a point.
    """

    alpha: float
    beta: float
    loglik: float
    converged: bool
    at_bound: bool


def fit_mle(surviving: ArrayLike, starts: tuple[tuple[float, float], ...] = ((1.0, 1.0),
            (0.01, 0.01), (10.0, 10.0))) -> MLEResult:
    """Maximise the exact sBG likelihood of one cohort (L-BFGS-B on log alpha, log beta, with
    the analytic gradient), from several starting points (F&H 2007 advise restarting from
    different values to be sure of the maximum); the best optimum wins.

    This is also the posterior mode under flat priors on (log alpha, log beta).

    >>> fit = fit_mle([1000, 869, 743, 653, 593, 551, 517, 491])  # F&H 2007 high end, 7 years
    >>> round(fit.alpha, 3), round(fit.beta, 3), round(fit.loglik, 1)
    (0.668, 3.806, -1611.2)
    """
    n = _counts(surviving)
    best = None
    for a0, b0 in starts:
        res = minimize(_negloglik_and_grad, np.log([a0, b0]), args=(n,), jac=True,
                       method="L-BFGS-B", bounds=[LOG_BOUNDS, LOG_BOUNDS],
                       options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 2000})
        if best is None or res.fun < best.fun:
            best = res
    assert best is not None
    a, b = np.exp(best.x)
    at_bound = bool(np.any(np.isclose(best.x, LOG_BOUNDS[0], atol=1e-6)
                           | np.isclose(best.x, LOG_BOUNDS[1], atol=1e-6)))
    return MLEResult(float(a), float(b), -float(best.fun), bool(best.success), at_bound)


def derl(alpha: ArrayLike, beta: ArrayLike, renewals: ArrayLike,
         discount_rate: float) -> NDArray[np.float64]:
    """Discounted expected residual lifetime of a customer who has made ``renewals`` renewals
    (is active at period ``renewals``), in periods; broadcasts.

    Fader & Hardie (2010), "Customer-Base Valuation in a Contractual Setting: The Perils of
    Ignoring Heterogeneity", Marketing Science 29(1), 85-93, eq. 6, for a customer who has made
    n - 1 renewals:

        DERL(d | alpha, beta, n - 1) = B(alpha, beta + n) / B(alpha, beta + n - 1)
                                       * 2F1(1, beta + n; alpha + beta + n; 1 / (1 + d)).

    With k = renewals = n - 1 the ratio of betas is (beta + k) / (alpha + beta + k). It is the
    posterior mean over theta ~ Beta(alpha, beta + k) (the survivors of k renewals) of the
    individual value (1 - theta)(1 + d) / (d + theta) = sum_{j>=1} (1 - theta)^j / (1 + d)^{j-1}:
    the next renewal counts undiscounted and each later one is discounted once more, so
    equivalently DERL = sum_{j>=1} [S(k + j) / S(k)] / (1 + d)^{j-1}. Multiply by the margin per
    period for the expected residual value. Needs d > 0 (for d = 0 it is finite only if alpha > 1).

    >>> float(derl(1.0, 1.0, 0, 0.1).round(4))  # sum_{j>=1} 1/(j+1) / 1.1^(j-1)
    1.8015
    """
    a, b = _pair(alpha, beta)
    k = np.asarray(renewals, dtype=float)
    if np.any(k < 0) or np.any(k != np.round(k)):
        raise ValueError("renewals must be integers >= 0")
    if not (np.isfinite(discount_rate) and discount_rate > 0):
        raise ValueError(f"discount_rate must be finite and > 0; got {discount_rate!r}")
    z = 1.0 / (1.0 + discount_rate)
    return (b + k) / (a + b + k) * hyp2f1(1.0, b + k + 1.0, a + b + k + 1.0, z)
