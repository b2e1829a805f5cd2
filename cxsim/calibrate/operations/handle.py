"""Handle times: lognormal, gamma and exponential fitted by maximum likelihood, chosen by AIC.

On n positive handle times x (minutes; services of zero length are counted apart, as
``zero_share``: pick-ups hung up at once, which no continuous law models):

* lognormal: mu = mean(log x), sigma^2 = mean((log x - mu)^2); exact intervals (Student t for
  mu, chi-square for sigma); the mean exp(mu + sigma^2/2) by Cox's method,
  ``mu + s^2/2 +- z sqrt(s^2/n + s^4/(2(n-1)))`` (s^2 the unbiased variance of log x);
* gamma: the shape k solves ``log k - digamma(k) = log mean(x) - mean(log x)`` (Newton from
  Minka's start), scale = mean / k; intervals from the Fisher information; the mean is
  mean(x), with ``se(log mean) = 1 / sqrt(n k)``;
* exponential: mean = mean(x), exact interval from ``2 n mean / mu ~ chi2(2 n)``.

``aic = 2 p - 2 loglik`` chooses; real centres are usually lognormal (Brown et al. 2005).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from cxsim.calibrate.operations.cis import finite, interval_json
from cxsim.calibrate.operations.fits import Fit, akaike_weights, best_of, ks_distance, log_wald

CANDIDATES = ("lognormal", "gamma", "exponential")


def _z(level: float) -> float:
    return float(stats.norm.ppf((1 + level) / 2))


def fit_lognormal(x: np.ndarray, level: float = 0.95) -> Fit:
    n, logx = x.size, np.log(x)
    mu, var = float(logx.mean()), float(logx.var())
    s2 = var * n / (n - 1)
    a = 1 - level
    t = float(stats.t.ppf(1 - a / 2, n - 1))
    sig_lo = np.sqrt((n - 1) * s2 / stats.chi2.ppf(1 - a / 2, n - 1))
    sig_hi = np.sqrt((n - 1) * s2 / stats.chi2.ppf(a / 2, n - 1))
    z = _z(level)
    half = z * np.sqrt(s2 / n + s2**2 / (2 * (n - 1)))
    sigma = np.sqrt(var)
    loglik = float(-logx.sum() - n * np.log(sigma) - n / 2 * np.log(2 * np.pi) - n / 2)
    return Fit("lognormal", {"mu": mu, "sigma": float(sigma)},
               {"mu": (mu - t * np.sqrt(s2 / n), mu + t * np.sqrt(s2 / n)),
                "sigma": (float(sig_lo), float(sig_hi))},
               float(np.exp(mu + var / 2)),
               (float(np.exp(mu + s2 / 2 - half)), float(np.exp(mu + s2 / 2 + half))),
               float(np.sqrt(np.expm1(var))),
               (float(np.sqrt(np.expm1(sig_lo**2))), float(np.sqrt(np.expm1(sig_hi**2)))),
               loglik, 2)


def gamma_shape(s: float) -> float:
    """The gamma MLE shape k from ``s = log mean(x) - mean(log x)`` (> 0)."""
    k = (3 - s + np.sqrt((s - 3) ** 2 + 24 * s)) / (12 * s)
    for _ in range(50):
        step = (np.log(k) - special.digamma(k) - s) / (1 / k - special.polygamma(1, k))
        k_new = k - step
        if k_new <= 0:
            k_new = k / 2
        if abs(k_new - k) < 1e-12 * k:
            return float(k_new)
        k = k_new
    return float(k)


def fit_gamma(x: np.ndarray, level: float = 0.95) -> Fit:
    n, mean, mlog = x.size, float(x.mean()), float(np.log(x).mean())
    k = gamma_shape(np.log(mean) - mlog)
    theta = mean / k
    info = n * np.array([[special.polygamma(1, k), 1 / theta], [1 / theta, k / theta**2]])
    cov = np.linalg.inv(info)
    z = _z(level)
    k_ci = log_wald(k, np.sqrt(cov[0, 0]) / k, z)
    loglik = float((k - 1) * np.log(x).sum() - x.sum() / theta - n * k * np.log(theta)
                   - n * special.gammaln(k))
    return Fit("gamma", {"shape": k, "scale_min": theta},
               {"shape": k_ci, "scale_min": log_wald(theta, np.sqrt(cov[1, 1]) / theta, z)},
               mean, log_wald(mean, 1 / np.sqrt(n * k), z), float(1 / np.sqrt(k)),
               (float(1 / np.sqrt(k_ci[1])), float(1 / np.sqrt(k_ci[0]))), loglik, 2)


def fit_exponential(x: np.ndarray, level: float = 0.95) -> Fit:
    n, mean = x.size, float(x.mean())
    a = 1 - level
    ci = (2 * n * mean / stats.chi2.ppf(1 - a / 2, 2 * n), 2 * n * mean / stats.chi2.ppf(a / 2,
                                                                                       2 * n))
    return Fit("exponential", {"mean_min": mean}, {"mean_min": ci}, mean, ci, 1.0, (1.0, 1.0),
               float(-n * np.log(mean) - n), 1)


FITTERS = {"lognormal": fit_lognormal, "gamma": fit_gamma, "exponential": fit_exponential}


@dataclass
class HandleTime:
    """Handle-time fits of one queue: ``best`` by AIC among ``fits``."""

    n: int
    n_zero: int
    fits: dict[str, Fit]
    sample_mean: float
    sample_mean_ci: tuple[float, float]
    level: float

    @property
    def best(self) -> Fit:
        return best_of(self.fits)

    @property
    def zero_share(self) -> float:
        return self.n_zero / (self.n + self.n_zero) if self.n + self.n_zero else float("nan")

    def to_json(self) -> dict:
        best = self.best
        return {
            **best.to_json(), "n": self.n, "zero_length": self.n_zero,
            "zero_share": finite(self.zero_share), "level": self.level,
            "sample_mean_min": finite(self.sample_mean),
            "sample_mean_ci": interval_json(*self.sample_mean_ci),
            "candidates": {name: {**f.to_json(), "akaike_weight": w}
                           for (name, f), w in zip(self.fits.items(),
                                                   akaike_weights(self.fits).values(),
                                                   strict=True)},
        }


def handle_time(minutes: np.ndarray, level: float = 0.95, min_n: int = 2) -> HandleTime | None:
    """Fit the handle times ``minutes`` (NaN = no service, ignored); None if fewer than
    ``min_n`` positive ones."""
    x = np.asarray(minutes, float)
    x = x[~np.isnan(x)]
    if (x < 0).any():
        raise ValueError("handle times must be >= 0")
    pos = np.sort(x[x > 0])
    if pos.size < min_n:
        return None
    fits = {}
    # identical times (or a single one) have no spread for a two-parameter law to fit
    for name in CANDIDATES if np.ptp(np.log(pos)) > 1e-9 else ("exponential",):
        f = FITTERS[name](pos, level)
        f.ks = ks_distance(pos, f.dist.cdf(pos))
        fits[name] = f
    t = float(stats.t.ppf((1 + level) / 2, pos.size - 1)) * pos.std(ddof=1) / np.sqrt(pos.size)
    t = t if np.isfinite(t) else np.nan
    mean = float(pos.mean())
    return HandleTime(pos.size, int((x == 0).sum()), fits, mean, (mean - t, mean + t), level)
