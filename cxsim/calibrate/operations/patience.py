"""Patience from waits with right-censoring (Brown et al. 2005, JASA 100:36-50).

A customer who abandoned after waiting w has patience exactly w; one who was served after
waiting w had patience of at least w (right-censored). So:

* **Kaplan-Meier**: ``S(t) = prod_{t_j <= t} (1 - d_j / n_j)`` over the abandonment times t_j
  (d_j abandons, n_j customers still waiting at t_j, censored ones included), with Greenwood's
  variance ``Var log S = sum d_j / (n_j (n_j - d_j))`` and the log-log interval
  ``S^exp(+-z sqrt(V) / log S)`` (it stays in [0, 1]);
* **parametric MLE** over both kinds: ``loglik = sum_abandoned log f(w) + sum_served log S(w)``
  for the exponential, Weibull and lognormal laws, maximised over log-parameters (BFGS);
  intervals are Wald on the log scale from the observed information (a finite-difference
  Hessian), the mean's by the delta method. An abandon at a zero wait is taken as
  interval-censored in [0, ``resolution_min``] (the export's clock step): a Weibull or
  lognormal density at 0 is 0 or infinite, and every candidate must see the same data for
  their AICs to compare. With fewer than ``MIN_ABANDONED_2P`` (5) abandonments only the
  exponential is fitted; a fit whose optimiser did not converge is left out of the choice;
* fit quality: ``km_gap``, the largest gap between the fitted survival and KM's at KM's
  steps;
* an **empirical table**: the waits at which the KM curve reaches 5%, 10%, ... of customers
  gone, up to where the data reach (with heavy censoring, a few tens of percent). Beyond it,
  only a parametric tail can say.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special, stats

from cxsim.calibrate.operations.cis import finite
from cxsim.calibrate.operations.fits import Fit, akaike_weights, best_of, log_wald

CANDIDATES = ("exponential", "weibull", "lognormal")
TABLE_QUANTILES = tuple(np.round(np.arange(0.05, 0.951, 0.05), 2))
# Fewer abandonments than this cannot shape a two-parameter law: the exponential alone is fit.
MIN_ABANDONED_2P = 5


@dataclass
class KaplanMeier:
    """The KM survival curve of patience at its abandonment times (a step function)."""

    time_min: np.ndarray
    survival: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    at_risk: np.ndarray
    events: np.ndarray

    def at(self, t: np.ndarray) -> np.ndarray:
        """S(t), right-continuous."""
        i = np.searchsorted(self.time_min, t, side="right") - 1
        return np.where(i >= 0, self.survival[np.maximum(i, 0)], 1.0)

    def quantile_table(self, quantiles: tuple[float, ...] = TABLE_QUANTILES) -> dict:
        """Waits by which a share q of customers would have abandoned (where KM reaches q),
        with the interval from the KM band."""

        def first(curve: np.ndarray, q: float) -> float | None:
            hit = np.flatnonzero(curve <= 1 - q + 1e-12)
            return float(self.time_min[hit[0]]) if hit.size else None

        # the lower survival band reaches 1 - q first: the early end of the quantile's interval
        rows = [(float(q), first(self.survival, q), first(self.ci_low, q),
                 first(self.ci_high, q)) for q in quantiles]
        rows = [r for r in rows if r[1] is not None]
        return {"quantile": [r[0] for r in rows], "wait_min": [r[1] for r in rows],
                "ci_low": [r[2] for r in rows], "ci_high": [r[3] for r in rows],
                "reaches": finite(1 - self.survival[-1]) if self.survival.size else 0.0}

    def to_json(self, max_points: int = 400) -> dict:
        keep = np.unique(np.linspace(0, self.time_min.size - 1, max_points).astype(int)) \
            if self.time_min.size > max_points else np.arange(self.time_min.size)
        return {"time_min": self.time_min[keep].tolist(),
                "survival": self.survival[keep].tolist(),
                "ci_low": self.ci_low[keep].tolist(), "ci_high": self.ci_high[keep].tolist(),
                "at_risk": self.at_risk[keep].astype(int).tolist(),
                **({"thinned_from": int(self.time_min.size)} if keep.size < self.time_min.size
                   else {})}


def _grouped(wait: np.ndarray, abandoned: np.ndarray) -> tuple[np.ndarray, ...]:
    """Unique waits with their abandon and censored counts."""
    t, inv = np.unique(wait, return_inverse=True)
    d = np.bincount(inv, weights=abandoned.astype(float), minlength=t.size)
    c = np.bincount(inv, weights=(~abandoned).astype(float), minlength=t.size)
    return t, d, c


def kaplan_meier(wait: np.ndarray, abandoned: np.ndarray, level: float = 0.95) -> KaplanMeier:
    """KM of patience from ``wait`` (minutes) and ``abandoned`` (exact where True)."""
    t, d, c = _grouped(wait, abandoned)
    n = np.cumsum((d + c)[::-1])[::-1]
    ev = d > 0
    t, d, n = t[ev], d[ev], n[ev]
    s = np.cumprod(1 - d / n)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.cumsum(np.where(n > d, d / (n * (n - d)), 0.0))
        z = float(stats.norm.ppf((1 + level) / 2))
        spread = z * np.sqrt(v) / np.log(s)
        lo, hi = s ** np.exp(-spread), s ** np.exp(spread)
    gone = s <= 0
    lo, hi = np.where(gone, 0.0, lo), np.where(gone, np.where(np.isnan(hi), 0.0, hi), hi)
    return KaplanMeier(t, s, np.minimum(lo, hi), np.maximum(lo, hi), n, d)


def _loglik(dist: str, p: np.ndarray, t: np.ndarray, d: np.ndarray, c: np.ndarray,
            res: float) -> float:
    """Censored log-likelihood of grouped data; p = log-parameters (mu for lognormal)."""
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        return _loglik_terms(dist, p, t, d, c, res)


def _loglik_terms(dist: str, p: np.ndarray, t: np.ndarray, d: np.ndarray, c: np.ndarray,
                  res: float) -> float:
    zero = t <= 0
    tt = np.where(zero, res, t)
    if dist == "exponential":
        rate = np.exp(p[0])
        log_f, log_s = p[0] - rate * tt, -rate * tt
        log_f0 = np.log(-np.expm1(-rate * res))
    elif dist == "weibull":
        k, lam = np.exp(p)
        u = (tt / lam) ** k
        log_f = np.log(k / lam) + (k - 1) * np.log(tt / lam) - u
        log_s = -u
        log_f0 = np.log(-np.expm1(-((res / lam) ** k)))
    else:
        mu, sigma = p[0], np.exp(p[1])
        zz = (np.log(tt) - mu) / sigma
        log_f = -0.5 * zz**2 - np.log(sigma * tt) - 0.5 * np.log(2 * np.pi)
        log_s = special.log_ndtr(-zz)
        log_f0 = special.log_ndtr((np.log(res) - mu) / sigma)
    log_f = np.where(zero, log_f0, log_f)
    log_s = np.where(zero, 0.0, log_s)
    return float(np.sum(d * log_f) + np.sum(c * log_s))


def _hessian(fun, p: np.ndarray, h: float = 1e-4) -> np.ndarray:
    k = p.size
    out = np.zeros((k, k))
    for i in range(k):
        for j in range(k):
            e_i, e_j = np.eye(k)[i] * h, np.eye(k)[j] * h
            out[i, j] = (fun(p + e_i + e_j) - fun(p + e_i - e_j) - fun(p - e_i + e_j)
                         + fun(p - e_i - e_j)) / (4 * h * h)
    return out


def _moments(dist: str, p: np.ndarray) -> tuple[float, float]:
    """Mean (minutes) and CV of the law with log-parameters p."""
    if dist == "exponential":
        return float(np.exp(-p[0])), 1.0
    if dist == "weibull":
        k, lam = np.exp(p)
        g1, g2 = special.gamma(1 + 1 / k), special.gamma(1 + 2 / k)
        return float(lam * g1), float(np.sqrt(max(g2 / g1**2 - 1, 0.0)))
    sigma2 = float(np.exp(2 * p[1]))
    return float(np.exp(p[0] + sigma2 / 2)), float(np.sqrt(np.expm1(sigma2)))


def _start(dist: str, t: np.ndarray, d: np.ndarray, c: np.ndarray) -> np.ndarray:
    rate = max(d.sum(), 0.5) / max(float(np.sum(t * (d + c))), 1e-9)
    if dist == "exponential":
        return np.array([np.log(rate)])
    if dist == "weibull":
        return np.array([0.0, -np.log(rate)])
    return np.array([-np.log(rate), 0.0])


def fit_censored(dist: str, wait: np.ndarray, abandoned: np.ndarray, level: float = 0.95,
                 resolution_min: float = 1 / 60) -> Fit:
    """The censored MLE of patience law ``dist`` (see the module doc)."""
    t, d, c = _grouped(wait, abandoned)

    def neg(p: np.ndarray) -> float:
        value = -_loglik(dist, p, t, d, c, resolution_min)
        return value if np.isfinite(value) else 1e300

    res = optimize.minimize(neg, _start(dist, t, d, c), method="BFGS",
                            options={"gtol": 1e-9 * max(1.0, float(d.sum() + c.sum()))})
    p = res.x
    cov = np.linalg.pinv(_hessian(neg, p))
    z = float(stats.norm.ppf((1 + level) / 2))
    se = np.sqrt(np.maximum(np.diag(cov), 0.0))
    mean, cv = _moments(dist, p)
    grad = np.array([(_moments(dist, p + e)[0] - _moments(dist, p - e)[0]) / 2e-6
                     for e in np.eye(p.size) * 1e-6])
    se_log_mean = float(np.sqrt(max(grad @ cov @ grad, 0.0))) / mean
    cgrad = np.array([(_moments(dist, p + e)[1] - _moments(dist, p - e)[1]) / 2e-6
                      for e in np.eye(p.size) * 1e-6])
    se_log_cv = float(np.sqrt(max(cgrad @ cov @ cgrad, 0.0))) / cv if cv > 0 else np.nan
    if dist == "exponential":
        params = {"mean_min": mean}
        cis = {"mean_min": log_wald(mean, se[0], z)}
    elif dist == "weibull":
        k, lam = np.exp(p)
        params = {"shape": float(k), "scale_min": float(lam)}
        cis = {"shape": log_wald(k, se[0], z), "scale_min": log_wald(lam, se[1], z)}
    else:
        sigma = float(np.exp(p[1]))
        params = {"mu": float(p[0]), "sigma": sigma}
        cis = {"mu": (float(p[0] - z * se[0]), float(p[0] + z * se[0])),
               "sigma": log_wald(sigma, se[1], z)}
    return Fit(dist, params, cis, mean, log_wald(mean, se_log_mean, z), cv,
               log_wald(cv, se_log_cv, z), -float(res.fun), p.size,
               extra={"converged": bool(res.success) or res.status == 2})


@dataclass
class Patience:
    """Patience of one queue: KM, the parametric fits (``best`` by AIC), the table."""

    n: int
    abandoned: int
    km: KaplanMeier
    fits: dict[str, Fit]
    level: float

    @property
    def censored_share(self) -> float:
        return 1 - self.abandoned / self.n if self.n else float("nan")

    @property
    def best(self) -> Fit:
        return best_of(self.fits)

    def to_json(self) -> dict:
        weights = akaike_weights(self.fits)
        return {**self.best.to_json(), "n": self.n, "abandoned": self.abandoned,
                "censored_share": finite(self.censored_share), "level": self.level,
                "candidates": {k: {**f.to_json(), "akaike_weight": weights[k]}
                               for k, f in self.fits.items()},
                "table": self.km.quantile_table(), "kaplan_meier": self.km.to_json()}


def patience(wait: np.ndarray, abandoned: np.ndarray, level: float = 0.95,
             resolution_min: float = 1 / 60) -> Patience | None:
    """Patience from the waits of customers who abandoned (exact) or were served (censored);
    None without any abandonment (nothing to fit: patience exceeds every wait seen)."""
    w = np.asarray(wait, float)
    a = np.asarray(abandoned, bool)
    if w.shape != a.shape or np.isnan(w).any() or (w < 0).any():
        raise ValueError("waits must be finite, >= 0 and one per abandoned flag")
    if not a.any():
        return None
    km = kaplan_meier(w, a, level)
    laws = CANDIDATES if a.sum() >= MIN_ABANDONED_2P else ("exponential",)
    fits = {name: fit_censored(name, w, a, level, resolution_min) for name in laws}
    fits = {k: f for k, f in fits.items() if f.extra["converged"] or k == "exponential"}
    for f in fits.values():  # the fit's survival against KM's, where KM has data
        f.extra["km_gap"] = float(np.max(np.abs(f.dist.sf(km.time_min) - km.survival)))
    return Patience(int(w.size), int(a.sum()), km, fits, level)

