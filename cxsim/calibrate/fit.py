"""Fitting the micro-data model: sampling, the summary document, the bias-corrected figures.

The summary's parameter names are those of ``truth.json`` (:func:`cxsim.spec.theta_of`), with
``name[level]`` for per-segment, per-reason and per-cutpoint values, so a fit of simulated data
can be checked against the truth that produced it.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import sparse

from cxsim import outcomes
from cxsim.calibrate.diagnostics import diagnose
from cxsim.calibrate.micro import EFFORT_TERMS, Priors, anchor_reason, build_model, centred_churn
from cxsim.calibrate.prepare import Prepared, Queries, population_queries, prepare
from cxsim.calibrate.reproducible import exact_arithmetic
from cxsim.data import ObservedData

SCALARS = (*EFFORT_TERMS, "resolved_bonus", "effort_weight", "ttr_weight", "survey_fatigue",
           "memory", "nps_slope", "response_base", "response_extremity", "churn_relationship",
           "churn_mu", "churn_between")
VECTORS = {"ces_cutpoints": "ces_cut", "csat_cutpoints": "csat_cut", "nps_cutpoints": "nps_cut",
           "satisfaction_base": "free_segment", "churn_logit": "segment",
           "moment_weight": "reason"}
HDI_PROB = 0.94
POPULATION_DRAWS = 400  # posterior draws used for the bias-corrected population figures


@dataclass
class FitSettings:
    """How to fit: sampler, anchor of the satisfaction scale, the company's process."""

    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    seed: int = 1
    sampler: str = "nutpie"
    target_accept: float | None = None  # NUTS step-size target; None: see sampler_options
    anchor_segment: str | None = None  # default: the largest segment
    anchor_base: float = 0.5
    churn_period_days: float = 30.0
    fatigue_days: float = 30.0
    progress: bool = True
    priors: Priors = field(default_factory=Priors)


def anchor_of(data: ObservedData, settings: FitSettings) -> str:
    if settings.anchor_segment is not None:
        return settings.anchor_segment
    return str(data.customers["segment"].value_counts().sort_index().idxmax())


def sampler_options(settings: FitSettings, centred: bool) -> dict[str, Any]:
    """``pm.sample`` options for a model whose churn intercepts are ``centred`` or not
    (:func:`~cxsim.calibrate.micro.centred_churn`), chosen by measurement (docs/calibrate.md,
    "Sampling geometry"). Once the churn intercepts are centred (the data pin them), nutpie
    adapts a low-rank mass matrix, which follows the correlated cutpoints, slopes and weights
    (at 10k-50k answers: 6-25x the ESS/s of the diagonal one), at target_accept 0.9 (0.8 left
    1-2 divergences in 2000 draws); with little data the funnel of the non-centred hierarchy
    is better served by the diagonal one at 0.8 (on the bundled example low-rank diverged 11
    times in 4000 draws, diagonal 4)."""
    target = settings.target_accept
    if target is None:
        target = 0.9 if centred else 0.8
    options: dict[str, Any] = {"nuts_sampler": settings.sampler, "target_accept": target}
    if settings.sampler == "nutpie":
        options["cores"] = min(settings.chains, 2)
        options["nuts_sampler_kwargs"] = {"adaptation": "low_rank" if centred else "diag"}
    return options


def sample(data: ObservedData, settings: FitSettings) -> tuple[Any, Prepared, str]:
    """Draw from the posterior of the micro-data model: (DataTree, prepared arrays, anchor)."""
    import pymc as pm

    prep = prepare(data, settings.churn_period_days, settings.fatigue_days)
    anchor = anchor_of(data, settings)
    centred = centred_churn(prep, settings.priors)
    model = build_model(prep, anchor, settings.anchor_base, settings.priors, centred=centred)
    with exact_arithmetic():
        tree = pm.sample(draws=settings.draws, tune=settings.tune, chains=settings.chains,
                         random_seed=settings.seed, model=model, progressbar=settings.progress,
                         compute_convergence_checks=False, **sampler_options(settings, centred))
    return tree, prep, anchor


def _hdi(x: np.ndarray, prob: float = HDI_PROB) -> tuple[float, float]:
    """Narrowest interval holding ``prob`` of the draws ``x`` (1-D)."""
    s = np.sort(np.asarray(x, float))
    k = int(np.floor(prob * s.size))
    widths = s[k:] - s[: s.size - k]
    i = int(np.argmin(widths))
    return float(s[i]), float(s[i + k])


def _describe(draws: np.ndarray) -> dict[str, float]:
    low, high = _hdi(draws)
    return {"mean": float(draws.mean()), "sd": float(draws.std(ddof=1)), "hdi_low": low,
            "hdi_high": high}


def parameter_draws(post: Any) -> dict[str, np.ndarray]:
    """Flat draws (chain*draw,) of every reported parameter, under truth.json's names."""
    out: dict[str, np.ndarray] = {}
    for name in SCALARS:
        out[name] = post[name].values.reshape(-1)
    for name, dim in VECTORS.items():
        da = post[name]
        for level in da[dim].values.tolist():
            out[f"{name}[{level}]"] = da.sel({dim: level}).values.reshape(-1)
    return out


def _pair_matrix(q: Queries) -> sparse.csr_matrix:
    """(pairs x queries) indicator: contributions @ M sums each query's pairs."""
    n = q.pair_query.size
    return sparse.csr_matrix((np.ones(n), (np.arange(n), q.pair_query)),
                             shape=(n, q.customer.size))


class DrawModel:
    """The outcomes model at posterior draws (axis 0), over the observed episodes."""

    def __init__(self, prep: Prepared, p: dict[str, np.ndarray], anchor: str,
                 anchor_base: float) -> None:
        self.prep, self.p = prep, p
        col = {k: v[:, None] for k, v in p.items()}
        self.col = col
        self.base = np.stack([np.full(len(p["memory"]), anchor_base) if g == anchor
                              else p[f"satisfaction_base[{g}]"] for g in prep.segments], axis=1)
        moment = np.stack([p[f"moment_weight[{r}]"] for r in prep.reasons], axis=1)
        self.effort = outcomes.effort(prep.steps, np.expm1(prep.log_wait), prep.repeats,
                                      prep.switches, *(col[t] for t in EFFORT_TERMS))
        self.dev = outcomes.satisfaction(0.0, prep.resolved, self.effort,
                                         np.expm1(prep.log_hours), col["resolved_bonus"],
                                         col["effort_weight"], col["ttr_weight"],
                                         col["survey_fatigue"] * prep.fatigue)
        self.log_memory = np.log(col["memory"])
        self.alpha = 1.0 - np.exp(self.log_memory * moment[:, prep.ep_reason])
        self.wcum = moment @ prep.prefix_counts.T  # (draws, episodes)

    def relationship(self, q: Queries) -> np.ndarray:
        """R at each query (draws, queries)."""
        j = q.pair_episode
        exponent = self.wcum[:, q.last_episode[q.pair_query]] - self.wcum[:, j]
        contrib = self.alpha[:, j] * self.dev[:, j] * np.exp(self.log_memory * exponent)
        return self.base[:, q.segment] + (_pair_matrix(q).T @ contrib.T).T

    def p_matrix(self, name: str, levels: list[str]) -> np.ndarray:
        return np.stack([self.p[f"{name}[{lv}]"] for lv in levels], axis=1)

    def cutpoints(self, name: str, n: int) -> np.ndarray:
        return np.stack([self.p[f"{name}[{k}]"] for k in range(n)], axis=1)[:, None, :]


def _population_draws(data: ObservedData, model: DrawModel) -> dict[str, np.ndarray]:
    """Per posterior (or prior) draw: NPS, CES, CSAT everyone would give, and the mean answer
    distributions (``_nps_p``, ``_ces_p``)."""
    rounds = np.unique(data.surveys.loc[data.surveys["kind"] == "periodic", "sent_min"])
    q, _ = population_queries(data, rounds)
    rel = model.relationship(q)
    nps_p = outcomes.ordinal_probs(model.col["nps_slope"] * rel,
                                   model.cutpoints("nps_cutpoints", 10)).mean(axis=1)
    ces_p = outcomes.ordinal_probs(model.effort, model.cutpoints("ces_cutpoints", 6)).mean(axis=1)
    sat = model.base[:, model.prep.ep_segment] + model.dev
    csat_p = outcomes.ordinal_probs(sat, model.cutpoints("csat_cutpoints", 4)).mean(axis=1)
    return {"nps": 100 * (nps_p[:, 9:].sum(-1) - nps_p[:, :7].sum(-1)),
            "ces": (ces_p * np.arange(1, 8)).sum(-1), "csat": 100 * csat_p[:, 3:].sum(-1),
            "_nps_p": nps_p, "_ces_p": ces_p}


def population_figures(data: ObservedData, model: DrawModel) -> dict[str, Any]:
    """What *every* customer would answer (the selection corrected): NPS of every active
    customer at each periodic survey round, mean CES and CSAT over every episode, with 94%
    HDIs over draws, and the answer distributions for the plots."""
    d = _population_draws(data, model)
    return {
        "nps": _describe(d["nps"]), "ces": _describe(d["ces"]), "csat": _describe(d["csat"]),
        "distributions": {"nps": d["_nps_p"].mean(0).tolist(), "ces": d["_ces_p"].mean(0).tolist()},
    }


def retention_check(prep: Prepared, model: DrawModel) -> dict[str, list[float]]:
    """Share of customers still active after each churn check: observed against the model's
    expected hazards for the same customers at risk (posterior mean and 94% HDI)."""
    q = prep.churn_q
    logit = model.p_matrix("churn_logit", prep.segments)
    h = outcomes.churn_hazard(model.relationship(q), logit[:, q.segment],
                              model.col["churn_relationship"])
    checks = np.searchsorted(prep.check_times, prep.churn_q_time)
    k = prep.check_times.size
    expected = np.stack([h[:, checks == i].sum(1) for i in range(k)], axis=1)
    h0 = outcomes.churn_hazard(model.base, logit, model.col["churn_relationship"])
    expected += (h0[:, :, None] * prep.churn0_at_risk[None]).sum(1)
    at_risk = np.bincount(checks, minlength=k) + prep.churn0_at_risk.sum(0)
    observed = np.bincount(checks, weights=prep.churned, minlength=k) + prep.churn0_churned.sum(0)
    model_curve = np.cumprod(1 - expected / at_risk, axis=1)
    lows, highs = zip(*(_hdi(model_curve[:, i]) for i in range(k)), strict=True)
    return {"days": (prep.check_times / 1440).tolist(),
            "observed": np.cumprod(1 - observed / at_risk).tolist(),
            "model_mean": model_curve.mean(0).tolist(), "model_low": list(lows),
            "model_high": list(highs)}


def summarise(tree: Any, data: ObservedData, prep: Prepared, anchor: str,
              settings: FitSettings) -> dict[str, Any]:
    """The ``summary.json`` document of a micro-data fit."""
    post = tree["posterior"].to_dataset()
    diagnostics, failed = diagnose(post, tree["sample_stats"])
    draws = parameter_draws(post)
    rng = np.random.default_rng(settings.seed)
    n = len(draws["memory"])
    pick = rng.choice(n, size=min(n, POPULATION_DRAWS), replace=False)
    model = DrawModel(prep, {k: v[pick] for k, v in draws.items()}, anchor,
                      settings.anchor_base)
    population = population_figures(data, model)
    raw = prep.raw
    fixed_weight = f"moment_weight[{prep.reasons[anchor_reason(prep)]}]"
    return {
        "model": "micro",
        "parameters": {name: _describe(v) for name, v in draws.items() if name != fixed_weight},
        "fixed": {f"satisfaction_base[{anchor}]": settings.anchor_base, fixed_weight: 1.0,
                  "churn_period_days": settings.churn_period_days,
                  "fatigue_days": settings.fatigue_days},
        "diagnostics": diagnostics,
        "fit_for_forecasting": not failed,
        "failed_checks": failed,
        "population": population,
        "retention": retention_check(prep, model),
        "respondents": {"nps": raw["nps_respondents"], "ces": raw["ces_respondents"],
                        "csat": raw["csat_respondents"], "responses": raw["responses"]},
        "data": {"customers": prep.n_customers, "episodes": int(prep.steps.size),
                 "surveys_answered": raw["responses"]},
        "settings": {k: v for k, v in asdict(settings).items() if k != "priors"},
        "priors": asdict(settings.priors),
    }


def fit_micro(data: ObservedData, settings: FitSettings | None = None) -> tuple[Any, dict]:
    """Sample and summarise: (posterior DataTree, summary document)."""
    settings = settings or FitSettings()
    tree, prep, anchor = sample(data, settings)
    return tree, summarise(tree, data, prep, anchor, settings)


def prior_check(data: ObservedData, settings: FitSettings | None = None,
                draws: int = 200) -> dict[str, dict[str, float]]:
    """Prior predictive check: what the priors alone say of the population's NPS, CES, CSAT
    and monthly churn on this data (5%, 50% and 95% quantiles over prior draws)."""
    import pymc as pm

    settings = settings or FitSettings()
    prep = prepare(data, settings.churn_period_days, settings.fatigue_days)
    anchor = anchor_of(data, settings)
    model = build_model(prep, anchor, settings.anchor_base, settings.priors)
    with warnings.catch_warnings():
        # The Potential *is* the likelihood: ignoring it is what a prior check means.
        warnings.filterwarnings("ignore", message="The effect of Potentials")
        prior = pm.sample_prior_predictive(draws=draws, model=model, random_seed=settings.seed)
    p = parameter_draws(prior["prior"].to_dataset())
    figures = _population_draws(data, DrawModel(prep, p, anchor, settings.anchor_base))
    months = settings.churn_period_days / 30.0
    base_churn = outcomes.churn_hazard(settings.anchor_base, p[f"churn_logit[{anchor}]"],
                                       p["churn_relationship"])
    figures = {k: v for k, v in figures.items() if not k.startswith("_")}
    figures["churn_per_month"] = 100 * base_churn / months
    return {k: dict(zip(("q05", "q50", "q95"), np.percentile(v, [5, 50, 95]).tolist(),
                        strict=True)) for k, v in figures.items()}
