"""Fitting the micro-data model: sampling, the summary document, the bias-corrected figures.

The summary's parameter names are those of ``truth.json`` (:func:`cxsim.spec.theta_of`), with
``name[level]`` for per-segment, per-reason and per-cutpoint values, so a fit of simulated data
can be checked against the truth that produced it.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from cxsim import outcomes
from cxsim.calibrate import store
from cxsim.calibrate.diagnostics import diagnose
from cxsim.calibrate.micro.draws import (
    POPULATION_DRAWS,
    DrawModel,
    describe,
    parameter_draws,
    population_draws,
    population_figures,
    retention_check,
    subsample,
)
from cxsim.calibrate.micro.model import anchor_reason, build_model, centred_churn
from cxsim.calibrate.micro.prepare import Prepared, prepare
from cxsim.calibrate.reproducible import exact_arithmetic
from cxsim.data import ObservedData
from cxsim.spec import SpecError
from cxsim.spec.config import AnchorConfig, Priors, ProcessConfig, SamplerConfig
from cxsim.spec.kinds import DAYS_PER_MONTH

SAMPLERS = ("nutpie", "pymc")


def check_priors(values: dict[str, float], prefix: str) -> None:
    """Every scale and shape of the priors must be positive."""
    for name, value in values.items():
        if name.endswith(("_sd", "_a", "_b", "_median")) and not value > 0:
            raise SpecError(f"{prefix}.{name}", value, "a scale or shape must be > 0")


@dataclass
class FitSettings:
    """How to fit: sampler, anchor of the satisfaction scale, the company's process. The
    defaults are those of the apps' config (:class:`cxsim.spec.config.FitConfig`)."""

    draws: int = SamplerConfig.draws
    tune: int = SamplerConfig.tune
    chains: int = SamplerConfig.chains
    seed: int = SamplerConfig.seed
    sampler: str = SamplerConfig.name
    target_accept: float | None = SamplerConfig.target_accept  # None: see sampler_options
    anchor_segment: str | None = AnchorConfig.segment  # None: the largest segment
    anchor_base: float = AnchorConfig.satisfaction_base
    churn_period_days: float = ProcessConfig.churn_period_days
    fatigue_days: float = ProcessConfig.fatigue_days
    progress: bool = True
    priors: Priors = field(default_factory=Priors)

    @classmethod
    def from_config(cls, cfg: Any, progress: bool) -> FitSettings:
        """The settings of an app's typed config (``sampler``, ``anchor``, ``process``,
        ``priors``: :class:`cxsim.spec.config.FitConfig` or ``CheckConfig``), checked:
        raises :class:`cxsim.spec.SpecError` naming the key at fault."""
        s = cfg.sampler
        if s.draws < 10 or s.tune < 0 or s.chains < 2:
            raise SpecError("sampler", {"draws": s.draws, "tune": s.tune, "chains": s.chains},
                            "need draws >= 10, tune >= 0 and chains >= 2 (R-hat compares "
                            "chains)")
        if s.name not in SAMPLERS:
            raise SpecError("sampler.name", s.name, f"must be one of {', '.join(SAMPLERS)}")
        if s.target_accept is not None and not 0 < s.target_accept < 1:
            raise SpecError("sampler.target_accept", s.target_accept, "must lie in (0, 1)")
        check_priors(asdict(cfg.priors), "priors")
        return cls(draws=s.draws, tune=s.tune, chains=s.chains, seed=s.seed, sampler=s.name,
                   target_accept=s.target_accept, anchor_segment=cfg.anchor.segment,
                   anchor_base=cfg.anchor.satisfaction_base,
                   churn_period_days=cfg.process.churn_period_days,
                   fatigue_days=cfg.process.fatigue_days, progress=progress,
                   priors=replace(cfg.priors))

    def model_hash(self) -> str:
        """The model's hash: its code and what shapes it, not how it is sampled."""
        return store.micro_identity(self.anchor_segment, self.anchor_base,
                                    self.churn_period_days, self.fatigue_days,
                                    asdict(self.priors))


def anchor_of(data: ObservedData, settings: FitSettings) -> str:
    if settings.anchor_segment is not None:
        return settings.anchor_segment
    return str(data.customers["segment"].value_counts().sort_index().idxmax())


def sampler_options(settings: FitSettings, centred: bool) -> dict[str, Any]:
    """``pm.sample`` options for a model whose churn intercepts are ``centred`` or not
    (:func:`~cxsim.calibrate.micro.model.centred_churn`), chosen by measurement
    (docs/calibrate.md, "Sampling geometry", has the figures). Once the churn intercepts are
    centred (the data pin them), nutpie adapts a low-rank mass matrix, which follows the
    correlated cutpoints, slopes and weights, at target_accept 0.9; with little data the
    funnel of the non-centred hierarchy is better served by the diagonal one at 0.8."""
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


def summarise(tree: Any, data: ObservedData, prep: Prepared, anchor: str,
              settings: FitSettings) -> dict[str, Any]:
    """The ``summary.json`` document of a micro-data fit."""
    post = tree["posterior"].to_dataset()
    diagnostics, failed = diagnose(post, tree["sample_stats"])
    draws = parameter_draws(post)
    model = DrawModel(prep, subsample(draws, POPULATION_DRAWS,
                                      np.random.default_rng(settings.seed)),
                      anchor, settings.anchor_base)
    population = population_figures(data, model)
    raw = prep.raw
    fixed_weight = f"moment_weight[{prep.reasons[anchor_reason(prep)]}]"
    return {
        "model": "micro",
        "parameters": {name: describe(v) for name, v in draws.items() if name != fixed_weight},
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
        "model_hash": settings.model_hash(),
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
    figures = population_draws(data, DrawModel(prep, p, anchor, settings.anchor_base))
    months = settings.churn_period_days / DAYS_PER_MONTH
    base_churn = outcomes.churn_hazard(settings.anchor_base, p[f"churn_logit[{anchor}]"],
                                       p["churn_relationship"])
    figures = {k: v for k, v in figures.items() if not k.startswith("_")}
    figures["churn_per_month"] = 100 * base_churn / months
    return {k: dict(zip(("q05", "q50", "q95"), np.percentile(v, [5, 50, 95]).tolist(),
                        strict=True)) for k, v in figures.items()}
