"""One back-test world: behaviour from the prior, history, fit, forecast, and what happened.

World ``i`` draws its behaviour theta from the prior, as SBC does
(:mod:`cxsim.calibrate.sbc`: the same priors, the same rejection of draws whose data lack the
pilot's layout), and a seed per purpose from ``SeedSequence(seed, spawn_key=(i, attempt))``:

1. **history**: the baseline process for ``history_days``, customers reacting as the world's
   variant says (:mod:`cxsim.backtest.variants`), exported as observed data;
2. **fit**: the micro-data model of ``cxsim-fit`` (same priors, anchor and process, compiled
   once per process with SBC's shared-variable model), and ``cxsim-check``'s posterior
   predictive gates on that fit;
3. **forecast**, for each lever (a scenario of an ``experiments/`` study): the study's baseline
   and changed scenario over ``change_days`` with ``forecast_draws`` posterior draws, exactly
   as ``cxsim-whatif`` runs it (:func:`cxsim.forecast.run.run_study`, common random numbers);
4. **what happened**: the same two scenarios under the world's true behaviour (and variant),
   one replication each with other random numbers (common between the two, so the realised
   change is the change's and one world's chance, as the forecast's draws are).

The change period is a fresh population of the same size under each process, as
``cxsim-whatif`` forecasts it, not a continuation of the history's customers.

Figures (as :data:`cxsim.forecast.propagate.METRICS` defines them): the realised retention,
churn rate, revenue, LTV and population NPS are the engine's own (so a variant's behaviour is
in them); the population CES is the expected answer over every episode under the true
behaviour (effort is the same under every variant).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cxsim.backtest.variants import VARIANTS
from cxsim.calibrate import sbc
from cxsim.calibrate.check import ppc_gates
from cxsim.calibrate.micro.draws import POPULATION_DRAWS, DrawModel, parameter_draws, subsample
from cxsim.calibrate.micro.model import anchor_reason
from cxsim.calibrate.micro.prepare import Prepared, prepare
from cxsim.data.synthetic import observe_replication
from cxsim.engine import Replication
from cxsim.forecast.propagate import Draws, propagate
from cxsim.forecast.run import run_study
from cxsim.forecast.study import Posterior, Study, posterior_draws
from cxsim.spec import Scenario, theta_of, with_theta
from cxsim.spec.config import AnchorConfig, BacktestConfig, Priors, ProcessConfig, Thresholds

# The figures compared: the engine's own (the variant's behaviour is in them), then CES.
ENGINE_FIGURES = ("nps_population", "retention", "churn_rate", "revenue", "ltv")
FIGURES = (*ENGINE_FIGURES, "ces_population")
FORECASTS = ("whatif", "point")  # point: a broken forecast, every draw at the posterior mean


@dataclass
class BacktestSettings:
    """How to run a back-test; the defaults are those of the app's config."""

    worlds: int = BacktestConfig.worlds
    customers: int = BacktestConfig.customers
    history_days: float = BacktestConfig.history_days
    change_days: float = BacktestConfig.change_days
    levers: list[str] = field(default_factory=lambda: list(BacktestConfig().levers))
    variant: str = BacktestConfig.variant
    forecast: str = BacktestConfig.forecast
    draws: int = BacktestConfig.draws
    tune: int = BacktestConfig.tune
    chains: int = BacktestConfig.chains
    forecast_draws: int = BacktestConfig.forecast_draws
    replications: int = BacktestConfig.replications
    n_jobs: int = BacktestConfig.n_jobs
    seed: int = BacktestConfig.seed
    anchor_base: float = AnchorConfig.satisfaction_base  # as cxsim-fit's, like SBC's
    churn_period_days: float = ProcessConfig.churn_period_days
    fatigue_days: float = ProcessConfig.fatigue_days
    priors: Priors = field(default_factory=Priors)

    def sbc(self) -> sbc.SbcSettings:
        """The SBC settings of the history and the fit (SBC's machinery does both)."""
        return sbc.SbcSettings(n_sims=self.worlds, customers=self.customers,
                               horizon_days=self.history_days, draws=self.draws,
                               tune=self.tune, chains=self.chains, n_jobs=self.n_jobs,
                               seed=self.seed, anchor_base=self.anchor_base,
                               churn_period_days=self.churn_period_days,
                               fatigue_days=self.fatigue_days, priors=self.priors,
                               fit_priors=self.priors)

    def key(self) -> str:
        """What a finished world depends on (not worlds, n_jobs)."""
        import hashlib
        import json

        d = {k: v for k, v in dataclasses.asdict(self).items() if k not in ("worlds", "n_jobs")}
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def react(s: Scenario, variant: str) -> Any:
    """Replication 0 of ``s`` (rows kept), customers reacting as ``variant`` says."""
    return Replication(s, 0, keep_rows=True, reactions=VARIANTS[variant]).run()


def history(scenario: Scenario, theta: dict[str, float], seed: int, s: BacktestSettings
            ) -> Any:
    sc = dataclasses.replace(with_theta(scenario, _known(scenario, theta)), seed=int(seed))
    return observe_replication(react(sc, s.variant), sc)


def _known(scenario: Scenario, theta: dict[str, float]) -> dict[str, float]:
    known = theta_of(scenario)
    return {k: v for k, v in theta.items() if k in known}


def fit(prep: Prepared, pilot: Prepared, anchor: str, seed: int, s: BacktestSettings
        ) -> tuple[dict[str, np.ndarray], int]:
    """Posterior draws of the fit of ``prep`` (by name) and its divergent transitions."""
    import nutpie

    compiled = sbc.compiled_model(pilot, anchor, s.sbc())
    names = {v.name for v in compiled.shared_var_keys}
    arrays = {k: v for k, v in sbc.data_arrays(prep).items() if k in names}
    tree = nutpie.sample(compiled.with_data(**arrays), draws=s.draws, tune=s.tune,
                         chains=s.chains, cores=1, seed=int(seed), progress_bar=False)
    post = tree.posterior.to_dataset() if hasattr(tree.posterior, "to_dataset") else tree.posterior
    return parameter_draws(post), int(tree.sample_stats["diverging"].sum())


def ppc(prep: Prepared, draws: dict[str, np.ndarray], anchor: str, seed: int,
        s: BacktestSettings) -> dict[str, float]:
    """``cxsim-check``'s posterior predictive gates on this fit: each tail area, and whether
    any gate failed (at the default ``gates.ppc_level``)."""
    rng = np.random.default_rng(seed)
    model = DrawModel(prep, subsample(draws, POPULATION_DRAWS, rng), anchor, s.anchor_base)
    gates = ppc_gates(prep, model, Thresholds(), seed=int(seed))
    return {**{g.name: g.figure for g in gates}, "flagged": any(not g.passed for g in gates)}


def forecast(study: Study, lever: str, draws: Draws, seed: int) -> np.ndarray:
    """Figures (scenario: baseline, changed; draw; FIGURES) of the forecast, as
    ``cxsim-whatif`` computes them."""
    one = Study(dataclasses.replace(study.baseline, seed=int(seed)),
                {lever: dataclasses.replace(study.scenarios[lever], seed=int(seed))},
                {lever: study.changes[lever]}, study.headline)
    ds = run_study(one, draws)
    return ds["figures"].sel(metric=list(FIGURES)).values


def realised(study: Study, lever: str, theta: dict[str, float], seed: int,
             s: BacktestSettings) -> np.ndarray:
    """Figures (baseline, changed; FIGURES) the world's true behaviour produced."""
    out = []
    for sc in (study.baseline, study.scenarios[lever]):
        sc = dataclasses.replace(with_theta(sc, _known(sc, theta)), seed=int(seed))
        result = react(sc, s.variant)
        truth = Draws({k: np.array([v]) for k, v in theta_of(sc).items()},
                      *_anchor_of(sc, theta))
        ces = propagate(observe_replication(result, sc), sc, truth, truth)
        out.append([*(result.outcome_figures[k] for k in ENGINE_FIGURES),
                     float(ces.figures["ces_population"][0])])
    return np.array(out)


def _anchor_of(sc: Scenario, theta: dict[str, float]) -> tuple[str, float]:
    anchor = sbc.anchor_segment(sc)
    return anchor, float(theta_of(sc)[f"satisfaction_base[{anchor}]"])


def point(draws: Draws) -> Draws:
    """The broken forecast's draws: each one the posterior mean (no behaviour uncertainty)."""
    mean = draws.mean()
    return Draws({k: np.full(draws.size, mean[k]) for k in draws.values}, draws.anchor,
                 draws.anchor_base)


def run_world(i: int, candidates: list[dict[str, float]], scenario: Scenario, pilot: Prepared,
              anchor: str, studies: dict[str, tuple[Study, str]], s: BacktestSettings) -> dict:
    """World ``i``: the first candidate prior draw whose history has the pilot's layout."""
    t0 = time.perf_counter()
    ss = s.sbc()
    for attempt, draw in enumerate(candidates):
        seeds = np.random.SeedSequence(s.seed, spawn_key=(i, attempt)).generate_state(5)
        theta = sbc.theta_of_draw(draw, anchor, ss)
        data = history(scenario, theta, seeds[0], s)
        prep = prepare(data, s.churn_period_days, s.fatigue_days)
        if (prep.segments == pilot.segments and prep.reasons == pilot.reasons
                and anchor_reason(prep) == anchor_reason(pilot)):
            break
    else:
        raise RuntimeError(f"world {i}: no candidate draw gave the pilot's layout")
    fitted, divergences = fit(prep, pilot, anchor, seeds[1], s)
    post = Posterior(Draws(fitted, anchor, s.anchor_base), True, Path("."), "",
                     {"churn_period_days": s.churn_period_days,
                      "fatigue_days": s.fatigue_days})
    levers = {}
    for name, (study, lever) in studies.items():
        draws = posterior_draws(post, study.baseline, s.forecast_draws)
        if s.forecast == "point":
            draws = point(draws)
        with np.errstate(divide="ignore", invalid="ignore"):  # log1p(-h) of h = 1, unused
            f = forecast(study, lever, draws, seeds[2])
            r = realised(study, lever, theta, seeds[3], s)
        levers[name] = {"forecast_baseline": f[0].tolist(), "forecast_changed": f[1].tolist(),
                        "realised_baseline": r[0].tolist(), "realised_changed": r[1].tolist()}
    return {"world": i, "attempt": attempt, "truth": draw, "figures": list(FIGURES),
            "ppc": ppc(prep, fitted, anchor, int(seeds[4]), s), "divergences": divergences,
            "episodes": int(prep.steps.size), "levers": levers,
            "seconds": time.perf_counter() - t0}
