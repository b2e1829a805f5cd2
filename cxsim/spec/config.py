"""What the apps can be told, typed: the config schemas of cxsim-simulate, -whatif, -fit
and -check, registered in Hydra's ConfigStore, with the dataclasses the rooms read from them
(the behaviour model's priors, the calibration gates' thresholds). A misspelt key or a wrong
type is refused while Hydra composes, before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, is_dataclass
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from cxsim.spec.schema import Scenario
from cxsim.spec.validate import SpecError

# -- cxsim-simulate and cxsim-whatif: a scenario plus what to do with it ------------------


@dataclass
class Costs:
    """What the contact centre costs: an agent-hour on duty, and each bot per day at
    containment 1 (scaling with its containment)."""

    cost_per_agent_hour: float = 30.0  # wage and overhead of an agent-hour on duty
    bot_cost_per_day: float = 0.0


@dataclass
class Objective(Costs):
    """A search's cost model (:func:`cxsim.engine.staffing.staffing_objective`): the
    staffing cost plus ``penalty_per_point`` per service-level point (1%) short of its target
    and per 0.01 of mean CES over its target (a target of None is not checked)."""

    service_level_target: float | None = None  # live-queue service level to reach (0-1)
    ces_target: float | None = None  # mean CES (1-7) not to exceed
    penalty_per_point: float = 1000.0


@dataclass
class SimulateConfig(Scenario):
    """``cxsim-simulate``'s config: a scenario plus what to write and show."""

    experience_log: bool = False  # also write the per-episode log as episodes.parquet
    progress: bool = True  # progress bar on long runs (periodic lines when not a terminal)
    export_observed: bool = False  # also write observed/ (a CRM-like export of replication 0)
    # In a -m sweep, a job whose directory already holds its complete metrics.json (same
    # overrides, same config) is not simulated again; false recomputes every job.
    resume: bool = True
    # A search's cost model (search=NAME): when set, the job returns its cost as a float,
    # which the Optuna sweeper minimises.
    objective: Objective | None = None
    # A what-if study (study=NAME, experiments/): ``headline`` and ``scenarios``, each a
    # mapping of scenario keys to new values. cxsim-simulate runs the baseline; cxsim-whatif
    # compares them all.
    whatif: Any = None


@dataclass
class WhatIfConfig(SimulateConfig, Costs):
    """``cxsim-whatif``'s config: a study's scenarios, the posterior to propagate, the costs."""

    posterior: str | None = None  # posterior.nc of cxsim-fit (or its directory); None: theta
    draws: int = 200  # posterior draws propagated (at most those in the posterior)
    force: bool = False  # also use a posterior not fit for forecasting, or of another model
    drivers: bool = False  # also rank levers by their effect on LTV (a tornado plot)
    driver_step: float = 0.2  # relative size of each lever's move in the driver analysis


# -- cxsim-fit and cxsim-check: fitting the behaviour model -------------------------------


@dataclass
class Priors:
    """Weakly informative priors (their meaning is documented in docs/calibrate.md)."""

    effort_sd: float = 0.5  # HalfNormal scale of each effort weight (effort units per unit)
    resolved_sd: float = 3.0  # HalfNormal scale of resolved_bonus
    effort_weight_sd: float = 1.0  # HalfNormal scale of effort_weight
    ttr_sd: float = 1.0  # HalfNormal scale of ttr_weight and survey_fatigue
    base_sd: float = 1.0  # Normal sd of a segment baseline around the anchor's
    cutpoint_sd: float = 3.0  # Normal sd of the first cutpoint of an answer scale
    gap_median: float = 0.8  # median gap between neighbouring cutpoints (logits)
    gap_sd: float = 0.75  # LogNormal sd of a gap
    nps_slope_sd: float = 3.0
    moment_sd: float = 0.75  # LogNormal sd of moment weights (log scale; 1 = ordinary)
    memory_a: float = 2.0  # Beta(a, b) on memory
    memory_b: float = 2.0
    response_base_mu: float = -2.0
    response_base_sd: float = 2.0
    response_extremity_sd: float = 2.0
    churn_mu: float = -3.0  # logit of leaving per period: about 5%
    churn_mu_sd: float = 1.5
    churn_between_sd: float = 0.5  # HalfNormal scale of the spread between segments
    churn_relationship_sd: float = 2.0


@dataclass
class Thresholds:
    """Where each calibration gate fails (what each figure is: :mod:`cxsim.calibrate.check`)."""

    max_rhat: float = 1.01
    ess_per_chain: float = 100.0  # min bulk and tail ESS = ess_per_chain * chains
    max_divergent_share: float = 0.001  # divergent transitions allowed, as a share of draws
    min_bfmi: float = 0.3
    recovery_level: float = 0.01  # a calibrated posterior exceeds the allowance this often
    max_shift_sd: float = 0.5  # drift: a mean moved by more than this many baseline sd
    max_width_ratio: float = 1.5  # drift: an HDI wider or narrower by more than this factor
    ppc_level: float = 0.01  # family level of the three posterior predictive checks


@dataclass
class DataConfig:
    dir: str | None = None  # micro: an observed-data directory; None: the bundled example
    path: str | None = None  # cohort: a CSV of cohort,period,surviving; None: Fader & Hardie


@dataclass
class SamplerConfig:
    draws: int = 1000  # per chain
    tune: int = 1000
    chains: int = 4
    seed: int = 1
    name: str = "nutpie"  # nutpie | pymc (the micro model; the cohort model uses PyMC's)
    target_accept: float | None = None  # None: chosen by the model's geometry (micro.fit)


@dataclass
class AnchorConfig:
    """The origin of the latent satisfaction scale (docs/calibrate.md, "Identification")."""

    segment: str | None = None  # None: the largest segment
    satisfaction_base: float = 0.5


@dataclass
class ProcessConfig:
    """The company's own process: known, not fitted."""

    churn_period_days: float = 30.0
    fatigue_days: float = 30.0


@dataclass
class FitConfig:
    """``cxsim-fit``'s config."""

    model: str = "micro"  # micro | cohort
    data: DataConfig = field(default_factory=DataConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    anchor: AnchorConfig = field(default_factory=AnchorConfig)
    process: ProcessConfig = field(default_factory=ProcessConfig)
    priors: Priors = field(default_factory=Priors)
    forecast_periods: int = 5  # cohort: periods projected past the data
    discount_rate: float = 0.1  # cohort: per period, for the discounted expected lifetime
    progress: bool = True


@dataclass
class SbcConfig:
    """Simulation-based calibration on a reduced model (see :mod:`cxsim.calibrate.sbc`)."""

    n_sims: int = 200
    customers: int = 300  # population of each simulated data set
    horizon_days: float = 61.0
    draws: int = 500  # per chain
    tune: int = 500
    chains: int = 2
    ranks: int = 99  # L: thinned posterior draws per fit; ranks run 0..L
    n_jobs: int = 2  # worker processes (each compiles the model once)
    seed: int = 20261122
    # Priors used for *fitting* that differ from those used for simulating (the config's
    # ``priors``): a deliberately miscalibrated fit, e.g. +sbc.fit_priors.memory_a=8.
    fit_priors: dict[str, float] = field(default_factory=dict)


@dataclass
class BacktestConfig:
    """Back-tests of the what-if (see :mod:`cxsim.backtest`); the defaults are the full study
    of docs/backtest.md."""

    worlds: int = 40  # independent worlds, behaviour drawn from the prior
    customers: int = 300  # population of the history and of each forecast scenario
    history_days: float = 61.0  # baseline process, fitted
    change_days: float = 61.0  # after the change: forecast, then simulated
    # Each lever: STUDY:SCENARIO of experiments/ (the study's scenario is the change).
    levers: list[str] = field(default_factory=lambda: [
        "single_customer_view:context_everywhere", "bot_containment:bot_with_escalation"])
    variant: str = "none"  # how customers behave: none | mood | answer_response | peak_end
    forecast: str = "whatif"  # whatif | point (broken on purpose: no behaviour uncertainty)
    draws: int = 300  # per chain, of each world's fit
    tune: int = 300
    chains: int = 2
    forecast_draws: int = 200  # posterior draws propagated by the forecast
    replications: int = 10  # of each forecast scenario (cxsim-whatif's replications)
    n_jobs: int = 2  # worker processes (each compiles the model once)
    seed: int = 20261202


@dataclass
class CheckConfig:
    """``cxsim-check``'s config."""

    mode: str = "check"  # check | sbc | backtest
    data: DataConfig = field(default_factory=DataConfig)
    baseline: str | None = None
    update_baseline: bool = False
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    anchor: AnchorConfig = field(default_factory=AnchorConfig)
    process: ProcessConfig = field(default_factory=ProcessConfig)
    priors: Priors = field(default_factory=Priors)
    gates: Thresholds = field(default_factory=Thresholds)
    sbc: SbcConfig = field(default_factory=SbcConfig)
    backtest: BacktestConfig = field(default_factory=BacktestConfig)
    n_sims: int | None = None  # mode=sbc: shorthand for sbc.n_sims
    progress: bool = True


SCHEMAS = {"simulate": SimulateConfig, "whatif": WhatIfConfig, "fit": FitConfig,
           "check": CheckConfig}


def register() -> None:
    """Each app's schema as option NAME of the ``schema`` group: an app's YAML selects it in
    its defaults list (cxsim-whatif reuses simulate.yaml's tree with ``override schema:
    whatif``)."""
    store = ConfigStore.instance()
    for name, node in SCHEMAS.items():
        store.store(group="schema", name=name, node=node, package="_global_")


def added_key(data: Any, obj: Any, path: str = "") -> tuple[str, Any] | None:
    """The first key of ``data`` (a config as plain containers) that is no field of the
    dataclass at the same place in ``obj``, with its value; None if there is none."""
    if is_dataclass(obj) and isinstance(data, dict):
        for key, value in data.items():
            if key not in obj.__dataclass_fields__:
                return f"{path}{key}", value
            found = added_key(value, getattr(obj, key), f"{path}{key}.")
            if found:
                return found
    elif isinstance(obj, dict) and isinstance(data, dict):
        for key, value in data.items():
            found = added_key(value, obj.get(key), f"{path}{key}.")
            if found:
                return found
    elif isinstance(obj, list) and isinstance(data, list):
        for i, (value, item) in enumerate(zip(data, obj, strict=False)):
            found = added_key(value, item, f"{path.removesuffix('.')}[{i}].")
            if found:
                return found
    return None


def to_typed(cfg: DictConfig) -> Any:
    """The typed object (an app schema's dataclass) of a config composed onto it. A key added
    with ``+`` that is no field of the schema - Hydra lets it through - raises
    :class:`~cxsim.spec.SpecError` naming it, before anything runs."""
    obj = OmegaConf.to_object(cfg)
    extra = added_key(OmegaConf.to_container(cfg), obj)
    if extra is not None:
        raise SpecError(extra[0], extra[1], "unknown key: not part of this app's config")
    return obj
