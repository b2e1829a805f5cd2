"""Cohort retention: the sBG model of Fader & Hardie (2007) fitted with PyMC, and projections.

Data: a frame with columns ``cohort,period,surviving`` (:func:`cxsim.data.load_cohorts`; the
two published cohorts of Fader & Hardie (2007, Table 1) ship as
:data:`cxsim.data.FADER_HARDIE_2007`).

Model (:func:`build_model`), for each cohort c independently (likelihood of
:mod:`cxsim.calibrate.cohort.sbg`)::

    log alpha_c ~ Normal(0, prior_sd),   log beta_c ~ Normal(0, prior_sd)   (prior_sd = 3)
    counts of cohort c ~ sBG(alpha_c, beta_c)

What the priors mean: on the log scale they are nearly flat over the range that matters
(the density at log alpha = +-3, i.e. alpha = 0.05 or 20, is 0.61 of its peak), so they are
close to the scale-free p(alpha) proportional to 1/alpha, softly cut to alpha, beta in about
[0.003, 360] (95%). They say nothing of the mean churn probability E(theta) = alpha / (alpha +
beta) or of the polarisation 1 / (alpha + beta + 1) beyond that: with hundreds of customers
per cohort the likelihood decides. ``map`` in the summary is the maximum of the exact
likelihood (:func:`cxsim.calibrate.cohort.sbg.fit_mle`), i.e. the posterior mode under flat
priors on (log alpha, log beta), computed by optimisation, not from the draws.

Sampler: PyMC's own NUTS (``nuts_sampler="pymc"``), asked for explicitly so that installing
nutpie does not silently change it: on a 4-parameter model it was measured faster than nutpie
(docs/calibrate.md, "Cohort retention").

Projections are of *expected* counts n_0 S(t) (parameter uncertainty only, no binomial noise),
posterior mean and 94% HDI (:func:`cxsim.metrics.hdi`) per period, with the retention rate
r_t and the discounted expected residual lifetime (DERL, :func:`cxsim.calibrate.cohort.sbg.derl`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cxsim import metrics
from cxsim.calibrate.cohort import sbg
from cxsim.calibrate.diagnostics import diagnose

if TYPE_CHECKING:
    import pymc as pm
    import xarray as xr

__all__ = ["build_model", "cohort_counts", "fit_cohorts", "sample_posterior", "summarize"]

PRIOR_SD = 3.0
SAMPLER = "pymc"


def cohort_counts(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Survivor counts n_0..n_T of each cohort (in frame order), as float arrays."""
    out = {}
    for name, group in frame.groupby("cohort", sort=False):
        g = group.sort_values("period")
        if not np.array_equal(g["period"].to_numpy(), np.arange(len(g))):
            raise ValueError(f"cohort {name}: periods must be 0..T without gaps")
        out[str(name)] = g["surviving"].to_numpy(dtype=float)
    if not out:
        raise ValueError("no cohorts in the frame")
    return out


# --- the Bayesian fit -----------------------------------------------------------------------


def build_model(frame: pd.DataFrame, prior_sd: float = PRIOR_SD) -> pm.Model:
    """PyMC model: per-cohort log alpha, log beta ~ Normal(0, prior_sd) and the sBG likelihood
    as a ``pm.Potential`` (cohorts of different lengths padded with zero counts).

    Deterministics ``alpha`` and ``beta`` (dims ``cohort``) carry the parameters.
    """
    import pymc as pm
    import pytensor.tensor as pt

    counts = cohort_counts(frame)
    names = list(counts)
    last = np.array([len(n) - 1 for n in counts.values()])
    t_max = int(last.max())
    lost = np.zeros((len(names), t_max))
    for c, n in enumerate(counts.values()):
        lost[c, : len(n) - 1] = n[:-1] - n[1:]
    at_end = np.array([n[-1] for n in counts.values()])
    t = np.arange(1, t_max + 1, dtype=float)
    with pm.Model(coords={"cohort": names}) as model:
        log_alpha = pm.Normal("log_alpha", 0.0, prior_sd, dims="cohort")
        log_beta = pm.Normal("log_beta", 0.0, prior_sd, dims="cohort")
        alpha = pm.Deterministic("alpha", pt.exp(log_alpha), dims="cohort")
        beta = pm.Deterministic("beta", pt.exp(log_beta), dims="cohort")
        a, b = alpha[:, None], beta[:, None]
        log_r = -pt.log1p(a / (b + t - 1.0))  # log r_t, (cohort, t)
        log_s = pt.concatenate([pt.zeros((len(names), 1)), pt.cumsum(log_r, axis=1)], axis=1)
        log_p = log_s[:, :-1] + pt.log(a) - pt.log(a + b + t - 1.0)  # log P(T = t)
        pm.Potential("sbg_loglik", pt.sum(lost * log_p)
                     + pt.sum(at_end * log_s[np.arange(len(names)), last]))
    return model


def sample_posterior(frame: pd.DataFrame, draws: int = 1000, chains: int = 4,
                     seed: int | None = None, *, tune: int = 1000,
                     prior_sd: float = PRIOR_SD, sampler: str = SAMPLER,
                     progressbar: bool = True,
                     target_accept: float | None = None) -> xr.DataTree:
    """NUTS draws of :func:`build_model` (``pm.sample``, ``nuts_sampler=sampler``), as an ArviZ
    ``DataTree`` with groups ``posterior`` and ``sample_stats``; ``target_accept`` None is the
    sampler's default."""
    import pymc as pm

    from cxsim.calibrate.reproducible import exact_arithmetic

    with build_model(frame, prior_sd), exact_arithmetic():
        return pm.sample(draws=draws, tune=tune, chains=chains, random_seed=seed,
                         nuts_sampler=sampler, progressbar=progressbar,
                         **({} if target_accept is None else {"target_accept": target_accept}))


def _hdi(values: np.ndarray, prob: float) -> tuple[list[float], list[float]]:
    """HDI over the (chain, draw) axes of ``values`` (chain, draw, k)."""
    low, high = metrics.hdi(values.reshape(-1, values.shape[-1]), prob)
    return np.atleast_1d(low).tolist(), np.atleast_1d(high).tolist()


def _floats(a: np.ndarray) -> list[float]:
    return [float(x) for x in np.asarray(a).ravel()]


def _projection(n: np.ndarray, a: np.ndarray, b: np.ndarray, horizon: int, prob: float,
                discount_rate: float) -> dict[str, Any]:
    """One cohort's projection from draws a, b (chain, draw) over periods 0..horizon."""
    periods = np.arange(horizon + 1)
    expected = n[0] * np.exp(sbg.log_survival(a, b, horizon))  # (chain, draw, period)
    low, high = _hdi(expected, prob)
    rate = sbg.retention_rate(a[..., None], b[..., None], periods[1:])
    value = sbg.derl(a[..., None], b[..., None], periods, discount_rate)
    derl_low, derl_high = _hdi(value, prob)
    observed = [float(x) for x in n] + [None] * (horizon + 1 - len(n))
    return {
        "period": periods.tolist(),
        "surviving_observed": observed,
        "surviving_mean": _floats(expected.mean(axis=(0, 1))),
        "surviving_low": low,
        "surviving_high": high,
        "retention_rate": [None, *_floats(rate.mean(axis=(0, 1)))],
        "derl": {"discount_rate": float(discount_rate), "renewals": periods.tolist(),
                 "mean": _floats(value.mean(axis=(0, 1))), "hdi_low": derl_low,
                 "hdi_high": derl_high},
    }


def summarize(frame: pd.DataFrame, posterior: xr.DataTree, forecast_periods: int = 5, *,
              hdi_prob: float = 0.94, discount_rate: float = 0.1) -> dict[str, Any]:
    """The summary document of a fit (JSON-ready: plain lists, floats, ``None``; no NaN).

    ``parameters``: per parameter (``alpha``/``beta``, or ``alpha[<cohort>]`` with several
    cohorts) the posterior ``mean``, ``sd``, ``hdi_low``/``hdi_high`` (``hdi_prob``) and
    ``map`` (the MLE). ``diagnostics``: max rank R-hat, min bulk ESS, divergences.
    ``projection[cohort]``: periods 0..T + forecast_periods with expected survivors n_0 S(t)
    (mean, HDI), the retention rate r_t (posterior mean; ``None`` at period 0) and DERL of a
    customer active at each period. ``fit_for_forecasting`` is False, with ``failed_checks``,
    when R-hat > 1.01, bulk ESS < 400, any divergence, or an MLE on its search bound.
    """
    counts = cohort_counts(frame)
    post = posterior["posterior"].to_dataset()[["alpha", "beta"]]
    several = len(counts) > 1
    parameters, failed, mle = {}, [], {}
    for name, n in counts.items():
        fit = mle[name] = sbg.fit_mle(n)
        if fit.at_bound:
            failed.append(f"MLE of cohort {name} on its search bound: heterogeneity not "
                          "identified")
        for var in ("alpha", "beta"):
            draws = post[var].sel(cohort=name).values
            low, high = metrics.hdi(draws.reshape(-1), hdi_prob)
            parameters[f"{var}[{name}]" if several else var] = {
                "mean": float(draws.mean()), "sd": float(draws.std(ddof=1)),
                "hdi_low": low, "hdi_high": high, "map": getattr(fit, var),
            }
    diagnostics, gates = diagnose(post, posterior["sample_stats"])
    failed += gates
    projection = {
        name: _projection(n, post["alpha"].sel(cohort=name).values,
                          post["beta"].sel(cohort=name).values,
                          len(n) - 1 + forecast_periods, hdi_prob, discount_rate)
        for name, n in counts.items()
    }
    return {
        "model": "sbg",
        "parameters": parameters,
        "map_loglik": {name: fit.loglik for name, fit in mle.items()},
        "diagnostics": diagnostics,
        "fit_for_forecasting": not failed,
        "failed_checks": failed,
        "projection": projection,
    }


def fit_cohorts(frame: pd.DataFrame, forecast_periods: int = 5, draws: int = 1000,
                chains: int = 4, seed: int | None = None, *, tune: int = 1000,
                prior_sd: float = PRIOR_SD, hdi_prob: float = 0.94, discount_rate: float = 0.1,
                sampler: str = SAMPLER, progressbar: bool = True) -> dict[str, Any]:
    """Fit the sBG model to every cohort of ``frame`` (from :func:`load_cohorts`) and return
    the summary document of :func:`summarize`, plus the ``settings`` used."""
    if forecast_periods < 0 or draws < 1 or chains < 1:
        raise ValueError("forecast_periods must be >= 0, draws and chains >= 1")
    posterior = sample_posterior(frame, draws, chains, seed, tune=tune, prior_sd=prior_sd,
                                 sampler=sampler, progressbar=progressbar)
    doc = summarize(frame, posterior, forecast_periods, hdi_prob=hdi_prob,
                    discount_rate=discount_rate)
    doc["settings"] = {"draws": draws, "chains": chains, "tune": tune, "seed": seed,
                       "sampler": sampler, "prior_sd": prior_sd, "hdi_prob": hdi_prob,
                       "discount_rate": discount_rate, "forecast_periods": forecast_periods}
    return doc
