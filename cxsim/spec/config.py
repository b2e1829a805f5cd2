"""What the apps can be told, typed: the config schemas of cxsim-simulate, -whatif, -fit
and -check, registered in Hydra's ConfigStore, with the dataclasses the rooms read from them
(the behaviour model's priors, the calibration gates' thresholds). A misspelt key or a wrong
type is refused while Hydra composes, before anything runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from cxsim.spec.schema import Scenario
from cxsim.spec.validate import SpecError


def ranged(default: Any, **rule: Any) -> Any:
    """A field with a range (``ge``, ``gt``, ``le``, ``lt``) or ``choices``, checked by
    :func:`to_typed` (types are Hydra's; ranges are what types cannot say)."""
    return field(default=default, metadata={"rule": rule})


def _broken(value: Any, rule: dict) -> str | None:
    """Why ``value`` breaks ``rule``, or None (None values are "not set" and pass)."""
    if value is None:
        return None
    if "choices" in rule:
        return None if value in rule["choices"] else \
            "must be one of " + ", ".join(rule["choices"])
    if isinstance(value, float) and not math.isfinite(value):
        return "must be a finite number"
    for op, ok, text in (("ge", value >= rule.get("ge", value), ">="),
                         ("gt", "gt" not in rule or value > rule["gt"], ">"),
                         ("le", value <= rule.get("le", value), "<="),
                         ("lt", "lt" not in rule or value < rule["lt"], "<")):
        if op in rule and not ok:
            return f"must be {text} {rule[op]:g}"
    return None


def check_ranges(obj: Any, path: str = "") -> None:
    """Raise :class:`~cxsim.spec.SpecError` for the first field of the typed config ``obj``
    (dataclasses, nested) outside its :func:`ranged` rule, named by its dotted key."""
    if not is_dataclass(obj):
        return
    for f in fields(obj):
        value = getattr(obj, f.name)
        rule = f.metadata.get("rule")
        if rule is not None and (why := _broken(value, rule)) is not None:
            raise SpecError(f"{path}{f.name}", value, why)
        check_ranges(value, f"{path}{f.name}.")


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
    figures: bool = True  # also write PNG figures (service level, ASA, abandonment by hour...)
    currency: str = "EUR"  # the money of revenue, LTV and costs, as labels show it
    progress: bool = True  # progress bar on long runs (periodic lines when not a terminal)
    export_observed: bool = False  # also contacts.csv and observed/ (exports of replication 0)
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
    draws: int = ranged(200, ge=1)  # posterior draws propagated (at most the posterior's)
    force: bool = False  # also use a posterior not fit for forecasting, or of another model
    drivers: bool = False  # also rank levers by their effect on LTV (a tornado plot)
    # relative size of each lever's move in the driver analysis
    driver_step: float = ranged(0.2, gt=0, lt=1)


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
    # The bundled data only by name (the defaults name them): a run never falls back to them.
    dir: str | None = "example"  # micro: an observed-data directory, or the bundled example
    path: str | None = "fader_hardie_2007"  # cohort: a CSV of cohort,period,surviving


@dataclass
class SamplerConfig:
    draws: int = ranged(1000, ge=1)  # per chain
    tune: int = ranged(1000, ge=0)
    chains: int = ranged(4, ge=1)
    seed: int = ranged(1, ge=0)
    # nutpie | pymc (the micro model; the cohort model uses PyMC's)
    name: str = ranged("nutpie", choices=("nutpie", "pymc"))
    # None: chosen by the model's geometry (micro.fit)
    target_accept: float | None = ranged(None, gt=0, lt=1)


@dataclass
class AnchorConfig:
    """The origin of the latent satisfaction scale (docs/calibrate.md, "Identification")."""

    segment: str | None = None  # None: the largest segment
    satisfaction_base: float = 0.5


@dataclass
class ProcessConfig:
    """The company's own process: known, not fitted."""

    # >= 1 day: the fit makes one churn check per period of the observation (<= 1e8 minutes)
    churn_period_days: float = ranged(30.0, ge=1)
    fatigue_days: float = ranged(30.0, gt=0)


@dataclass
class FitConfig:
    """``cxsim-fit``'s config."""

    model: str = ranged("micro", choices=("micro", "cohort"))
    data: DataConfig = field(default_factory=DataConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    anchor: AnchorConfig = field(default_factory=AnchorConfig)
    process: ProcessConfig = field(default_factory=ProcessConfig)
    priors: Priors = field(default_factory=Priors)
    forecast_periods: int = ranged(5, ge=0, le=10_000)  # cohort: periods projected past the data
    # cohort: per period, for the discounted expected lifetime
    discount_rate: float = ranged(0.1, gt=0, le=10)
    progress: bool = True


@dataclass
class SbcConfig:
    """Simulation-based calibration on a reduced model (see :mod:`cxsim.calibrate.sbc`)."""

    n_sims: int = ranged(200, ge=1)
    customers: int = ranged(300, ge=1)  # population of each simulated data set
    horizon_days: float = ranged(61.0, gt=0)
    draws: int = ranged(500, ge=10)  # per chain
    tune: int = ranged(500, ge=0)
    chains: int = ranged(2, ge=1)
    ranks: int = ranged(99, ge=9)  # L: thinned posterior draws per fit; ranks run 0..L
    n_jobs: int = ranged(2, ge=1)  # worker processes (each compiles the model once)
    seed: int = ranged(20261122, ge=0)
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

    mode: str = ranged("check", choices=("check", "sbc", "backtest"))
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
    n_sims: int | None = ranged(None, ge=1)  # mode=sbc: shorthand for sbc.n_sims
    progress: bool = True


# -- cxsim-calibrate: a contact log in, a calibrated scenario out -------------------------


@dataclass
class LogConfig:
    """The contact log and how to read it (docs/contact_logs.md)."""

    path: str | None = None  # the log file (required)
    mapping: str = "canonical"  # a shipped mapping's name or a mapping YAML file
    # Overrides of the mapping's keys, as in the mapping file: log.columns.arrival=Started
    columns: dict[str, Any] = field(default_factory=dict)
    overrides: Any = None  # any other mapping keys (times, values, policy...), a mapping
    roster: str | None = None  # a roster file: staffing from it (staffing=roster)
    roster_mapping: str = "roster"


@dataclass
class ValidationConfig:
    """Simulate the calibrated scenario and compare it with the log by hour of day."""

    enabled: bool = True
    replications: int = 5
    # > 0: calibrate on all but the last N days and validate on those N days (their own
    # arrival volumes, everything else from the calibration)
    holdout_days: int = 0


@dataclass
class ObservedExportConfig:
    """The observed-data directory of cxsim-fit, built from the log's contacts (``write``)."""

    write: bool = False
    surveys: str | None = None  # a survey export, read through surveys_mapping
    surveys_mapping: str = "surveys_example"
    customers: str | None = None  # a CRM export, read through customers_mapping
    customers_mapping: str = "crm_example"
    window_min: float = 10080.0  # a need's contacts each start within this of the last


@dataclass
class CalibrateConfig:
    """``cxsim-calibrate``'s config."""

    log: LogConfig = field(default_factory=LogConfig)
    interval_min: int = 60  # 15, 30 or 60: arrivals and staffing in calibration.json
    by: str = "queue"  # a touchpoint per queue | reason | channel, or all contacts pooled
    staffing: str = "distinct"  # distinct | busy | roster | effective: what the shifts take
    sl_threshold_min: float = 0.5  # the service level's answer time (minutes)
    level: float = 0.95
    seed: int = 20261122
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    observed: ObservedExportConfig = field(default_factory=ObservedExportConfig)
    progress: bool = True


@dataclass
class StaffTargets:
    """``cxsim-staff``'s service targets, for every queue it staffs; None switches one off."""

    service_level: float | None = 0.8  # share answered within threshold_s, at least
    threshold_s: float = 20.0  # seconds, for the service level
    asa_s: float | None = None  # answered calls' mean wait in seconds, at most
    abandon_rate: float | None = None  # share abandoning, at most
    occupancy: float | None = None  # busy share of agents on duty, at most
    ces_max: float | None = None  # mean customer effort score, at most (outcomes model)
    nps_min: float | None = None  # the population's NPS, at least
    ltv_per_churn: float | None = None  # value lost with each churned customer


@dataclass
class StaffBreak:
    """A break ``length_min`` long, starting ``earliest_min``-``latest_min`` into the shift."""

    length_min: int = 30
    earliest_min: int = 180
    latest_min: int = 300
    paid: bool = False


@dataclass
class StaffShiftType:
    """An allowed shift (:class:`cxsim.workforce.ShiftType`): its length, its starts (minutes
    after 00:00 every ``start_step_min``), days, breaks, cost per paid hour, bounds."""

    length_min: int = 510
    earliest_start_min: int = 0
    latest_start_min: int = 1410
    start_step_min: int = 30
    days: str = "all"
    breaks: list[StaffBreak] = field(default_factory=list)
    cost_per_hour: float = 30.0
    min_agents: int = 0
    max_agents: int | None = None
    part_time: bool = False


@dataclass
class StaffConfig(SimulateConfig):
    """``cxsim-staff``'s config: a scenario, the targets, the allowed shifts, the search."""

    targets: StaffTargets = field(default_factory=StaffTargets)
    queues: list[str] = field(default_factory=list)  # empty: every live queue with staff
    confidence: float = 0.9  # one-sided confidence with which an interval meets its targets
    max_rounds: int = 30  # simulation rounds of the requirement search, per queue
    max_replications: int | None = None  # doubled up to this while decisions are unresolved
    repair_rounds: int = 6  # roster re-solves after a re-simulation finds short intervals
    shift_types: dict[str, StaffShiftType] = field(default_factory=dict)
    max_part_time_share: float | None = 0.3
    mip_gap: float = 0.01
    time_limit_s: float = 60.0
    tradeoff_levels: list[float] = field(default_factory=lambda: [0.6, 0.7, 0.8, 0.85, 0.9,
                                                                   0.95])
    cx_horizon: float = 91.0  # days simulated per level of the CX trade-off (churn, NPS)
    figures: bool = True


SCHEMAS = {"simulate": SimulateConfig, "whatif": WhatIfConfig, "fit": FitConfig,
           "check": CheckConfig, "calibrate": CalibrateConfig, "staff": StaffConfig}


def register() -> None:
    """Each app's schema as option NAME of the ``schema`` group: an app's YAML selects it in
    its defaults list (cxsim-whatif reuses simulate.yaml's tree with ``override schema:
    whatif``)."""
    store = ConfigStore.instance()
    for name, node in SCHEMAS.items():
        store.store(group="schema", name=name, node=node, package="_global_")


def did_you_mean(name: str, valid: Any) -> str:
    """' (did you mean X?)' from the valid names close to ``name``, or the valid names
    themselves when few and none is close.

    >>> did_you_mean("agnets", ["agents", "arrival_rate"])
    ' (did you mean agents?)'
    """
    import difflib

    valid = sorted(str(v) for v in valid)
    close = difflib.get_close_matches(name, valid, n=3, cutoff=0.6)
    if close:
        return f" (did you mean {' or '.join(close)}?)"
    return f" (valid: {', '.join(valid)})" if len(valid) <= 12 else ""


def _field_types(cls: type) -> dict[str, Any]:
    import typing

    return typing.get_type_hints(cls)


def unknown_override(schema: type, key: str) -> str | None:
    """Why the dotted ``key`` of an override names no field of the app ``schema`` (a
    dataclass), with "did you mean", or None when it may be one. Mapping levels (named
    touchpoints, segments) accept any name - the composed config knows those - and what lies
    below them is checked again.

    >>> unknown_override(SimulateConfig, "horizn")
    'horizn: no such key (did you mean horizon?)'
    >>> unknown_override(SimulateConfig, "touchpoints.phone_front.fcr") is None
    True
    >>> unknown_override(SimulateConfig, "population.custmers")
    'population.custmers: no such key (did you mean population.customers?)'
    """
    import types
    import typing

    kind: Any = schema
    done: list[str] = []
    for part in key.split("."):
        origin = typing.get_origin(kind)
        if origin in (typing.Union, types.UnionType):  # X | None
            args = [a for a in typing.get_args(kind) if a is not type(None)]
            kind = args[0] if len(args) == 1 else Any
            origin = typing.get_origin(kind)
        if origin is dict:
            kind = typing.get_args(kind)[1]
        elif is_dataclass(kind):
            fields = _field_types(kind)
            if part not in fields:
                prefix = ".".join(done)
                hint = did_you_mean(part, fields)
                if prefix and hint.startswith(" (did you mean"):
                    hint = hint.replace("mean ", f"mean {prefix}.").replace(
                        " or ", f" or {prefix}.")
                return f"{'.'.join([*done, part])}: no such key{hint}"
            kind = fields[part]
        else:
            return None  # a list, Any or a plain value: the composed config decides
        done.append(part)
    return None


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
        *parents, leaf = extra[0].split(".")
        node: Any = obj
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else getattr(node, part, None)
        valid = node.__dataclass_fields__ if is_dataclass(node) else []
        raise SpecError(extra[0], extra[1], "unknown key: not part of this app's config"
                        + did_you_mean(leaf, valid))
    check_ranges(obj)
    return obj
