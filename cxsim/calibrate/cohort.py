"""Cohort retention: the sBG model of Fader & Hardie (2007) fitted with PyMC, and projections.

Data: a CSV with columns ``cohort,period,surviving`` (see :func:`load_cohorts`); the two
published cohorts of Fader & Hardie (2007, Table 1) ship as :data:`FADER_HARDIE_2007`.

Model (:func:`build_model`), for each cohort c independently::

    log alpha_c ~ Normal(0, prior_sd),   log beta_c ~ Normal(0, prior_sd)   (prior_sd = 3)
    counts of cohort c ~ sBG(alpha_c, beta_c)       (likelihood of :mod:`cxsim.calibrate.sbg`)

What the priors mean: on the log scale they are nearly flat over the range that matters
(the density at log alpha = +-3, i.e. alpha = 0.05 or 20, is 0.61 of its peak), so they are
close to the scale-free p(alpha) proportional to 1/alpha, softly cut to alpha, beta in about
[0.003, 360] (95%). They say nothing of the mean churn probability E(theta) = alpha / (alpha +
beta) or of the polarisation 1 / (alpha + beta + 1) beyond that: with hundreds of customers
per cohort the likelihood decides. ``map`` in the summary is the maximum of the exact
likelihood (:func:`cxsim.calibrate.sbg.fit_mle`), i.e. the posterior mode under flat priors on
(log alpha, log beta), computed by optimisation, not from the draws.

Sampler: PyMC's own NUTS (``nuts_sampler="pymc"``), asked for explicitly so that installing
nutpie does not silently change it. Measured on the two published cohorts (7 years), 4 chains
x (1000 tune + 1000 draws), 2 cores, PyMC 6.4: PyMC NUTS 5.5 s with a warm PyTensor cache
(20.5 s cold), min bulk ESS 1760, ~320 ESS/s; nutpie 0.16.11 9.5 s warm or cold (its numba
build is not cached), min bulk ESS 1043, ~110 ESS/s. A 4-parameter model is all overhead, and
PyMC's is the smaller; nutpie is also not a dependency of cxsim.

Projections are of *expected* counts n_0 S(t) (parameter uncertainty only, no binomial noise),
posterior mean and 94% HDI (``az.hdi``) per period, with the retention rate r_t and the
discounted expected residual lifetime (DERL, :func:`cxsim.calibrate.sbg.derl`).
"""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cxsim.calibrate import sbg
from cxsim.calibrate.diagnostics import diagnose
from cxsim.data.csvio import decode
from cxsim.data.errors import DataError

if TYPE_CHECKING:
    import pymc as pm
    import xarray as xr

__all__ = ["FADER_HARDIE_2007", "build_model", "fit_cohorts", "load_cohorts",
           "sample_posterior", "summarize"]

FADER_HARDIE_2007 = Path(__file__).parent / "data" / "fader_hardie_2007.csv"
COLUMNS = ("cohort", "period", "surviving")
PRIOR_SD = 3.0
SAMPLER = "pymc"
_INT = re.compile(r"[+-]?\d{1,18}(?:\.0*)?")  # "7" or "7.0" (a float-typed export)
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


# --- loading --------------------------------------------------------------------------------


def _records(file: str, text: str) -> list[tuple[int, list[str]]]:
    """(first line, fields) of each non-blank CSV record."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    out, start = [], 1
    try:
        for rec in reader:
            if rec and not (len(rec) == 1 and not rec[0].strip()):
                out.append((start, rec))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise DataError(file, f"malformed CSV in the record starting here: {exc}",
                        row=start) from None
    return out


def _header(file: str, line: int, fields: list[str]) -> dict[str, int]:
    names = [f.strip() for f in fields]
    for i, n in enumerate(names):
        if n in names[:i]:
            raise DataError(file, "duplicate column in the header", row=line, column=n, value=n)
    for n in names:
        if n not in COLUMNS:
            raise DataError(file, "unknown column (expected: cohort, period, surviving)",
                            row=line, column=n, value=n)
    for n in COLUMNS:
        if n not in names:
            raise DataError(file, "missing column in the header", row=line, column=n)
    return {n: names.index(n) for n in COLUMNS}


def _int(file: str, line: int, column: str, text: str) -> int:
    s = text.strip()
    if not s:
        raise DataError(file, "missing value", row=line, column=column, value=text)
    if not _INT.fullmatch(s):
        reason = "must be an integer" if _NUMBER.fullmatch(s) else "not a number"
        raise DataError(file, reason, row=line, column=column, value=text)
    value = int(s.split(".")[0])
    if value < 0:
        raise DataError(file, "must be >= 0", row=line, column=column, value=text)
    return value


def _check_cohort(file: str, name: str, rows: list[tuple[int, int, int, str, str]]
                  ) -> list[DataError]:
    """Problems of one cohort's rows (line, period, surviving, period text, surviving text)."""
    rows = sorted(rows, key=lambda r: r[1])
    line, period, n, ptext, ntext = rows[0]
    if period != 0:
        return [DataError(file, f"cohort {name} has no period 0 (its size); its periods start "
                          f"at {period}", row=line, column="period", value=ptext)]
    problems = []
    if n == 0:
        problems.append(DataError(file, f"cohort {name}: the size (period 0) must be > 0",
                                  row=line, column="surviving", value=ntext))
    if len(rows) == 1:
        problems.append(DataError(file, f"cohort {name} has only period 0: at least period 1 "
                                  "is needed to fit it", row=line, column="period", value=ptext))
    for prev, cur in zip(rows, rows[1:], strict=False):
        if cur[1] != prev[1] + 1:
            problems.append(DataError(file, f"gap in the periods of cohort {name}: period "
                                      f"{prev[1] + 1} is missing", row=cur[0], column="period",
                                      value=cur[3]))
        elif cur[2] > prev[2]:
            problems.append(DataError(file, f"surviving must not increase: cohort {name} has "
                                      f"{prev[2]} at period {prev[1]} (line {prev[0]})",
                                      row=cur[0], column="surviving", value=cur[4]))
    return problems


def load_cohorts(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a cohort survival file: columns ``cohort,period,surviving`` (any order).

    ``surviving`` at period 0 is the cohort size (> 0); later periods count the customers still
    active; periods run 0, 1, 2, ... without gaps; counts are non-negative integers and never
    increase. Rows may come in any order; one or more cohorts. Returns a frame with columns
    ``cohort`` (str), ``period``, ``surviving`` (int64), sorted by cohort (in order of first
    appearance) and period. A bad file raises one :class:`cxsim.data.DataError` naming the
    file, line, column and value: the first bad header or cell in file order; failing those,
    the earliest line where a cohort's structure breaks (no period 0, a gap, a rise).

    >>> frame = load_cohorts(FADER_HARDIE_2007)
    >>> frame.shape, frame.groupby("cohort", sort=False)["surviving"].last().to_dict()
    ((26, 3), {'regular': 173, 'high_end': 394})
    """
    file = os.fspath(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise DataError(file, f"cannot read the file: {exc.strerror or exc}") from None
    records = _records(file, decode(file, raw))
    if not records:
        raise DataError(file, "empty file: no header row")
    index = _header(file, *records[0])
    width, seen = len(records[0][1]), {}
    cohorts: dict[str, list[tuple[int, int, int, str, str]]] = {}
    for line, rec in records[1:]:
        if len(rec) != width:
            short = len(rec) < width
            names = sorted(index, key=index.get)
            raise DataError(file, f"row has {len(rec)} fields, the header has {width}",
                            row=line, column=names[len(rec)] if short else None,
                            value=None if short else rec[width])
        name = rec[index["cohort"]].strip()
        if not name:
            raise DataError(file, "missing cohort name", row=line, column="cohort",
                            value=rec[index["cohort"]])
        ptext, ntext = rec[index["period"]], rec[index["surviving"]]
        period = _int(file, line, "period", ptext)
        n = _int(file, line, "surviving", ntext)
        if (name, period) in seen:
            raise DataError(file, f"duplicate row for cohort {name}, period {period} (first at "
                            f"line {seen[name, period]})", row=line, column="period", value=ptext)
        seen[name, period] = line
        cohorts.setdefault(name, []).append((line, period, n, ptext, ntext))
    if not cohorts:
        raise DataError(file, "no data rows after the header")
    problems = [p for name, rows in cohorts.items() for p in _check_cohort(file, name, rows)]
    if problems:
        raise min(problems, key=lambda p: (p.row, COLUMNS.index(p.column or "cohort")))
    frame = pd.DataFrame(
        [(name, p, n) for name, rows in cohorts.items() for _, p, n, _, _ in rows],
        columns=list(COLUMNS),
    )
    frame["order"] = frame["cohort"].map({c: i for i, c in enumerate(cohorts)})
    frame = frame.sort_values(["order", "period"]).drop(columns="order")
    return frame.astype({"period": "int64", "surviving": "int64"}).reset_index(drop=True)


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
                     progressbar: bool = True) -> xr.DataTree:
    """NUTS draws of :func:`build_model` (``pm.sample``, ``nuts_sampler=sampler``), as an ArviZ
    ``DataTree`` with groups ``posterior`` and ``sample_stats``."""
    import pymc as pm

    from cxsim.calibrate.reproducible import exact_arithmetic

    with build_model(frame, prior_sd), exact_arithmetic():
        return pm.sample(draws=draws, tune=tune, chains=chains, random_seed=seed,
                         nuts_sampler=sampler, progressbar=progressbar)


def _hdi(values: np.ndarray, prob: float) -> tuple[list[float], list[float]]:
    """HDI over the (chain, draw) axes of ``values`` (chain, draw, k), by ``az.hdi``."""
    import arviz as az
    import xarray as xr

    bounds = az.hdi(xr.DataArray(values, dims=("chain", "draw", "k")), prob=prob)
    return (bounds.sel(ci_bound="lower").values.tolist(),
            bounds.sel(ci_bound="upper").values.tolist())


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
    import arviz as az

    counts = cohort_counts(frame)
    post = posterior["posterior"].to_dataset()[["alpha", "beta"]]
    hdi = az.hdi(post, prob=hdi_prob)
    several = len(counts) > 1
    parameters, failed, mle = {}, [], {}
    for name, n in counts.items():
        fit = mle[name] = sbg.fit_mle(n)
        if fit.at_bound:
            failed.append(f"MLE of cohort {name} on its search bound: heterogeneity not "
                          "identified")
        for var in ("alpha", "beta"):
            draws = post[var].sel(cohort=name).values
            bound = hdi[var].sel(cohort=name)
            parameters[f"{var}[{name}]" if several else var] = {
                "mean": float(draws.mean()), "sd": float(draws.std(ddof=1)),
                "hdi_low": float(bound.sel(ci_bound="lower")),
                "hdi_high": float(bound.sel(ci_bound="upper")),
                "map": getattr(fit, var),
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
