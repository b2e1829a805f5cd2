"""Customer-experience and contact-centre KPIs as pure, vectorised functions.

Conventions (formulas from DOMAIN.md, "How it is measured"):
* NPS and CSAT use the 0-100 scale of DOMAIN.md (NPS in -100..100); every other
  rate (FCR, service level, abandonment, churn, retention) is a fraction in [0, 1].
* Sample metrics take 1-D arrays (one element per answer, contact or need) and
  return a Python ``float``; an empty sample (or empty subset) gives ``nan``.
* Model-level helpers (``nps_from_shares``, ``churn_rate``, ``ratio_ci``, ``ltv``,
  ``mean_ci``) broadcast and return a ``float`` for scalar results, else an array.
* Bad input raises ``ValueError`` naming the argument and the offending value.
"""

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtri, stdtrit

FloatOrArray = float | NDArray[np.float64]


def _arr(x: ArrayLike, name: str, ndim: int | None = None, nonneg: bool = False) -> NDArray:
    """Numeric/boolean array, optionally of a given ndim; ``nonneg``: float, finite, >= 0."""
    a = np.asarray(x)
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric or boolean, got dtype {a.dtype}")
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {a.shape}")
    if nonneg:
        a = a.astype(float)
        _reject(a, ~(np.isfinite(a) & (a >= 0)), name, "finite and >= 0")
    return a


def _reject(a: NDArray, bad: NDArray, name: str, expected: str) -> None:
    if np.any(bad):
        raise ValueError(f"{name} must be {expected}; got {a[bad].flat[0].item()!r}")


def _int_param(value: int, name: str, lo: int, hi: int | None = None) -> int:
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool)
    if not ok or value < lo or (hi is not None and value > hi):
        raise ValueError(f"{name} must be an integer in {lo}..{hi or ''}; got {value!r}")
    return int(value)


def _ints(x: ArrayLike, name: str, lo: int, hi: int) -> NDArray:
    a = _arr(x, name, ndim=1)
    if a.dtype.kind == "b":
        raise ValueError(f"{name} must be integer scores, got booleans")
    if a.dtype.kind == "f":
        _reject(a, ~np.isfinite(a) | (a != np.round(a)), name, "integers")
    _reject(a, (a < lo) | (a > hi), name, f"in {lo}..{hi}")
    return a


def _flags(x: ArrayLike, name: str) -> NDArray[np.bool_]:
    a = _arr(x, name, ndim=1)
    if a.dtype.kind != "b":
        _reject(a, (a != 0) & (a != 1), name, "booleans or 0/1")
    return a.astype(bool)


def _masked(x: ArrayLike, flags: ArrayLike, name: str, fname: str) -> tuple[NDArray, NDArray]:
    """Times and flags of equal 1-D shape; times must be finite and >= 0 where flagged."""
    a = _arr(x, name, ndim=1).astype(float)
    f = _flags(flags, fname)
    if a.shape != f.shape:
        raise ValueError(f"{name} {a.shape} and {fname} {f.shape} must have the same shape")
    _arr(a[f], f"{name} (where {fname})", nonneg=True)
    return a, f


def _count_pair(k: ArrayLike, n: ArrayLike, kname: str, nname: str) -> tuple[NDArray, NDArray]:
    """Broadcast non-negative counts k <= n (e.g. successes <= trials)."""
    k, n = _arr(k, kname, nonneg=True), _arr(n, nname, nonneg=True)
    try:
        k, n = np.broadcast_arrays(k, n)
    except ValueError:
        raise ValueError(f"{kname} {k.shape} and {nname} {n.shape} do not broadcast") from None
    _reject(k, k > n, kname, f"<= {nname}")
    return k, n


def _div(a: NDArray, b: NDArray) -> NDArray:
    return np.divide(a, b, out=np.full(np.shape(a), np.nan), where=b > 0)


def _share(flags: NDArray[np.bool_]) -> float:
    return float("nan") if flags.size == 0 else int(np.count_nonzero(flags)) / flags.size


def _mean(a: NDArray) -> float:
    return float("nan") if a.size == 0 else float(a.mean())


def _out(a: NDArray) -> FloatOrArray:
    return float(a) if np.ndim(a) == 0 else np.asarray(a, dtype=float)


def _level(level: float) -> float:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1); got {level!r}")
    return (1.0 + level) / 2.0


def nps(scores: ArrayLike) -> float:
    """Net Promoter Score of 0-10 integer answers.

    NPS = 100 * (#promoters (9-10) - #detractors (0-6)) / #answers, in -100..100;
    passives (7-8) only count in the denominator. ``nan`` if there are no answers.

    >>> nps([10, 10, 9, 9, 9, 8, 7, 7, 6, 0])  # 5 promoters, 3 passives, 2 detractors
    30.0
    """
    s = _ints(scores, "scores", 0, 10)
    if s.size == 0:
        return float("nan")
    return 100.0 * (int(np.count_nonzero(s >= 9)) - int(np.count_nonzero(s <= 6))) / s.size


def nps_from_shares(p_promoter: ArrayLike, p_detractor: ArrayLike) -> FloatOrArray:
    """NPS implied by promoter/detractor probabilities: 100 * (p_promoter - p_detractor).

    Broadcasts (e.g. posterior draws x segments). Each share must be in [0, 1] and
    p_promoter + p_detractor <= 1 (passives take the rest).

    >>> nps_from_shares(0.5, 0.25)
    25.0
    >>> nps_from_shares([0.75, 0.125], [0.25, 0.5])
    array([ 50. , -37.5])
    """
    p, d = (
        _arr(p_promoter, "p_promoter", nonneg=True),
        _arr(p_detractor, "p_detractor", nonneg=True),
    )
    _reject(p, p > 1, "p_promoter", "in [0, 1]")
    _reject(d, d > 1, "p_detractor", "in [0, 1]")
    try:
        total = p + d
    except ValueError:
        raise ValueError(
            f"p_promoter {p.shape} and p_detractor {d.shape} do not broadcast"
        ) from None
    _reject(total, total > 1 + 1e-12, "p_promoter + p_detractor", "<= 1")
    return _out(100.0 * (p - d))


def csat(answers: ArrayLike, positive_threshold: int = 4, scale_max: int = 5) -> float:
    """Customer satisfaction: CSAT = 100 * #positive answers / #answers.

    Boolean answers are yes/no (True = positive); otherwise answers are integers on
    1..scale_max and an answer is positive when >= positive_threshold. ``nan`` if empty.

    >>> csat([5, 4, 4, 5, 2])  # 4 of 5 positive
    80.0
    >>> csat([True, False, True, True])
    75.0
    """
    scale_max = _int_param(scale_max, "scale_max", 2)
    positive_threshold = _int_param(positive_threshold, "positive_threshold", 1, scale_max)
    a = _arr(answers, "answers", ndim=1)
    if a.dtype.kind == "b":
        positive = a
    else:
        positive = _ints(a, "answers", 1, scale_max) >= positive_threshold
    return 100.0 * int(np.count_nonzero(positive)) / a.size if a.size else float("nan")


def mean_ces(scores: ArrayLike, scale: int = 7) -> float:
    """Mean Customer Effort Score on a 1..scale integer scale (lower = less effort).

    CES = sum(scores) / #answers; ``nan`` if empty.

    >>> mean_ces([2, 3, 4])
    3.0
    >>> mean_ces([1, 5], scale=5)
    3.0
    """
    scale = _int_param(scale, "scale", 2)
    return _mean(_ints(scores, "scores", 1, scale).astype(float))


def fcr(resolved_first_contact: ArrayLike) -> float:
    """First-contact resolution: FCR = #needs solved at the first contact / #needs.

    One element per need (problem); 1 - FCR is the repeat-contact rate. ``nan`` if empty.

    >>> fcr([True, True, False, True])
    0.75
    """
    return _share(_flags(resolved_first_contact, "resolved_first_contact"))


def aht(handle_times: ArrayLike) -> float:
    """Average handling time: AHT = sum(handle_times) / #served contacts.

    Pass the handle times of served contacts only (any time unit). ``nan`` if empty.

    >>> aht([3.0, 5.0, 4.0])
    4.0
    """
    return _mean(_arr(handle_times, "handle_times", ndim=1, nonneg=True))


def asa(waits: ArrayLike, answered: ArrayLike) -> float:
    """Average speed of answer: ASA = mean(waits[answered]).

    Waits of unanswered (abandoned) contacts are ignored and may be nan/inf.
    ``nan`` if no contact was answered.

    >>> asa([10, 30, 50], [True, True, False])
    20.0
    """
    w, ans = _masked(waits, answered, "waits", "answered")
    return _mean(w[ans])


def service_level(waits: ArrayLike, answered: ArrayLike, threshold: float) -> float:
    """Service level: SL = #(answered and wait <= threshold) / #arrivals.

    Abandoned contacts stay in the denominator (they count against SL), the
    convention of contact centres and of Erlang C's P(W <= t). Waits of unanswered
    contacts are ignored. ``nan`` if there are no arrivals.

    >>> service_level([10, 30, 50, 5], [True, True, False, True], threshold=20)
    0.5
    """
    w, ans = _masked(waits, answered, "waits", "answered")
    if not (np.isfinite(threshold) and threshold >= 0):
        raise ValueError(f"threshold must be finite and >= 0; got {threshold!r}")
    return _share(ans & (np.where(ans, w, np.inf) <= threshold))


def abandonment_rate(abandoned: ArrayLike) -> float:
    """Abandonment rate = #abandoned / #arrivals; ``nan`` if empty.

    >>> abandonment_rate([False, False, True, False])
    0.25
    """
    return _share(_flags(abandoned, "abandoned"))


def mean_ttr(ttr: ArrayLike, resolved: ArrayLike) -> float:
    """Mean time to resolution of resolved needs: mean(ttr[resolved]).

    TTRs of unresolved needs are ignored (may be nan/inf). ``nan`` if none resolved.

    >>> mean_ttr([2.0, 4.0, float("nan")], [True, True, False])
    3.0
    """
    t, res = _masked(ttr, resolved, "ttr", "resolved")
    return _mean(t[res])


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
