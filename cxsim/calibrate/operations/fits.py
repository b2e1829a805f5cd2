"""A fitted duration distribution: parameters with intervals, mean and CV with intervals, fit
quality; and the choice among candidates by AIC."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from cxsim.calibrate.operations.cis import finite, interval_json

DISTRIBUTIONS = ("lognormal", "gamma", "exponential", "weibull")


def frozen(distribution: str, p: dict[str, float]) -> stats.rv_continuous:
    """The SciPy distribution of a fit (minutes)."""
    if distribution == "lognormal":
        return stats.lognorm(s=p["sigma"], scale=np.exp(p["mu"]))
    if distribution == "gamma":
        return stats.gamma(a=p["shape"], scale=p["scale_min"])
    if distribution == "weibull":
        return stats.weibull_min(c=p["shape"], scale=p["scale_min"])
    if distribution == "exponential":
        return stats.expon(scale=p["mean_min"])
    raise ValueError(f"unknown distribution {distribution!r}")


@dataclass
class Fit:
    """A maximum-likelihood fit. ``parameters_ci``: intervals at ``level`` (exact where a
    closed form exists, else Wald on the log scale from the observed information);
    ``aic = 2 p - 2 loglik``; ``ks``: largest gap between the data's ECDF and the fitted CDF
    (uncensored data only)."""

    distribution: str
    parameters: dict[str, float]
    parameters_ci: dict[str, tuple[float, float]]
    mean_min: float
    mean_ci: tuple[float, float]
    cv: float
    cv_ci: tuple[float, float]
    loglik: float
    n_parameters: int
    ks: float | None = None
    extra: dict = field(default_factory=dict)

    @property
    def aic(self) -> float:
        return 2 * self.n_parameters - 2 * self.loglik

    @property
    def dist(self) -> stats.rv_continuous:
        return frozen(self.distribution, self.parameters)

    def to_json(self) -> dict:
        return {
            "distribution": self.distribution,
            "parameters": {k: finite(v) for k, v in self.parameters.items()},
            "parameters_ci": {k: interval_json(*v) for k, v in self.parameters_ci.items()},
            "mean_min": finite(self.mean_min), "mean_ci": interval_json(*self.mean_ci),
            "cv": finite(self.cv), "cv_ci": interval_json(*self.cv_ci),
            "loglik": finite(self.loglik), "aic": finite(self.aic),
            **({"ks": finite(self.ks)} if self.ks is not None else {}), **self.extra,
        }


def best_of(fits: dict[str, Fit]) -> Fit:
    """The fit with the lowest AIC (ties: the first listed)."""
    return min(fits.values(), key=lambda f: f.aic)


def akaike_weights(fits: dict[str, Fit]) -> dict[str, float]:
    """exp(-dAIC/2), normalised: the relative support of each candidate."""
    aic = np.array([f.aic for f in fits.values()])
    w = np.exp(-(aic - aic.min()) / 2)
    return dict(zip(fits, (w / w.sum()).tolist(), strict=True))


def ks_distance(x_sorted: np.ndarray, cdf: np.ndarray) -> float:
    """sup |ECDF - F| of sorted data, given F at the data points."""
    n = x_sorted.size
    i = np.arange(1, n + 1)
    return float(max(np.max(i / n - cdf), np.max(cdf - (i - 1) / n))) if n else float("nan")


def log_wald(estimate: float, se_log: float, z: float) -> tuple[float, float]:
    """exp(log estimate -/+ z se_log): a positive quantity's Wald interval on the log scale."""
    return estimate * float(np.exp(-z * se_log)), estimate * float(np.exp(z * se_log))
