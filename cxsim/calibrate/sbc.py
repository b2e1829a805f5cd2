"""Simulation-based calibration (Talts et al. 2018) of the micro-data model against the engine.

Each simulation i draws theta from the prior (the same :class:`~cxsim.spec.config.Priors`
the fit uses, through the same PyMC model), writes it into the scenario's behaviour parameters
(:func:`cxsim.spec.with_theta`; the anchor segment's ``satisfaction_base`` and the anchor
reason's moment weight are set to what the fit assumes), simulates customers with the engine
and the outcomes model, exports the observed data, fits, and records the rank of the true
value among ``ranks`` thinned posterior draws (0..L) and whether the central 50% and 90%
intervals cover it. If the fit is calibrated the ranks are uniform on 0..L and the intervals
cover at their nominal rates.

The *reduced model* is the whole micro-data model (every parameter free) on small data: a few
hundred customers over two months. The fit fixes the most frequent reason's moment weight
at 1; a simulation whose most frequent reason is not the designated anchor reason (or that
lacks a segment or reason) is discarded and redrawn from the next prior draw. The rejection
depends on the data alone, so the true theta given the accepted data is still distributed as
the posterior, and ranks stay uniform under calibration.

Compile once: the model is built with PyTensor shared variables in place of the data arrays
and of their sufficient statistics (:func:`symbolic_model`), compiled by nutpie once per worker
process and refilled for each simulation (``with_data``); compilation otherwise dominates a
small fit. ``tests/test_sbc.py`` checks that the refilled model's log-density equals the
model built for that data set.

Parallel over ``n_jobs`` processes (joblib); resumable: one JSON per finished simulation in
``sims/`` (atomic writes), skipped when the run is started again with the same settings.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from cxsim.calibrate.micro import model as micro
from cxsim.calibrate.micro.draws import parameter_draws
from cxsim.calibrate.micro.model import anchor_reason, build_model
from cxsim.calibrate.micro.prepare import Prepared, Queries, prepare
from cxsim.fileio import die_with_parent, finished_piece, write_json
from cxsim.progress import Progress
from cxsim.spec.config import AnchorConfig, Priors, ProcessConfig, SbcConfig

FIXED = ("moment_weight",)  # the anchor reason's weight is 1 by construction


@dataclass
class SbcSettings:
    """How to run SBC; the defaults are those of the app's config (:class:`SbcConfig`)."""

    n_sims: int = SbcConfig.n_sims
    customers: int = SbcConfig.customers
    horizon_days: float = SbcConfig.horizon_days
    draws: int = SbcConfig.draws
    tune: int = SbcConfig.tune
    chains: int = SbcConfig.chains
    ranks: int = SbcConfig.ranks
    n_jobs: int = SbcConfig.n_jobs
    seed: int = SbcConfig.seed
    anchor_base: float = AnchorConfig.satisfaction_base
    churn_period_days: float = ProcessConfig.churn_period_days
    fatigue_days: float = ProcessConfig.fatigue_days
    priors: Priors = field(default_factory=Priors)  # to simulate
    fit_priors: Priors = field(default_factory=Priors)  # to fit (differs: miscalibrated)

    def key(self) -> str:
        """What a finished simulation depends on (not n_sims, n_jobs)."""
        d = {k: v for k, v in asdict(self).items() if k not in ("n_sims", "n_jobs")}
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


# -- the model with its data as shared variables ---------------------------------------------

def _arrays_of(obj: Any, prefix: str = "") -> dict[str, np.ndarray]:
    """Every array field of a dataclass, by (prefixed) name; nested Queries flattened."""
    out = {}
    for f in dataclasses.fields(obj):
        x = getattr(obj, f.name)
        if isinstance(x, np.ndarray):
            out[prefix + f.name] = x
        elif isinstance(x, Queries):
            out.update(_arrays_of(x, f"{prefix}{f.name}."))
    return out


def data_arrays(p: Prepared) -> dict[str, np.ndarray]:
    """Every array the model of ``p`` reads, by name: ``p``'s own fields and, as ``gr.NAME``,
    those of its sufficient statistics (:func:`cxsim.calibrate.micro.model.group`)."""
    return {**_arrays_of(p), **_arrays_of(micro.group(p), "gr.")}


def _shared(name: str, x: np.ndarray, readable: bool = False) -> Any:
    """A PyTensor shared variable holding ``x``; ``readable`` ones also read as their value
    through NumPy (``__array__``): the model picks its anchor reason with ``np.bincount``."""
    import pytensor
    from pytensor.tensor.sharedvar import TensorSharedVariable

    class _ValueVar(TensorSharedVariable):
        def __array__(self, dtype=None, copy=None):
            value = self.get_value(borrow=True)
            return value if dtype is None else value.astype(dtype)

    v = pytensor.shared(np.asarray(x), name=name)
    if readable:
        v.__class__ = _ValueVar
    return v


def symbolic_model(pilot: Prepared, anchor: str, anchor_base: float, priors: Priors) -> Any:
    """:func:`~cxsim.calibrate.micro.model.build_model` of ``pilot`` with every data array (and
    every array of its sufficient statistics) a shared variable named as in
    :func:`data_arrays`: refilled with another data set of the same layout (segments, reasons,
    anchor reason), it is that data set's model. The statistics are computed with NumPy inside
    ``build_model``; for the build, ``micro.group`` returns the shared ones instead."""
    kw = {}
    for f in dataclasses.fields(pilot):
        x = getattr(pilot, f.name)
        kw[f.name] = (_shared(f.name, x, readable=f.name == "ep_reason")
                      if isinstance(x, np.ndarray) else x)
    grouped = micro.group(pilot)
    sym_grouped = dataclasses.replace(grouped, **{
        f.name: _shared(f"gr.{f.name}", getattr(grouped, f.name))
        for f in dataclasses.fields(grouped)})
    original = micro.group
    micro.group = lambda _: sym_grouped
    try:  # the geometry is the pilot's: the refilled data sets have its layout and size
        return micro.build_model(Prepared(**kw), anchor, anchor_base, priors,
                                 centred=micro.centred_churn(pilot, priors))
    finally:
        micro.group = original


_COMPILED: dict[str, Any] = {}  # per worker process: settings key -> compiled nutpie model


def compiled_model(pilot: Prepared, anchor: str, s: SbcSettings) -> Any:
    """The nutpie model of the fit priors, compiled once per process."""
    key = s.key()
    if key not in _COMPILED:
        import nutpie

        from cxsim.calibrate.reproducible import exact_arithmetic

        model = symbolic_model(pilot, anchor, s.anchor_base, s.fit_priors)
        with exact_arithmetic():
            _COMPILED[key] = nutpie.compile_pymc_model(model)
    return _COMPILED[key]


# -- one simulation --------------------------------------------------------------------------

def reduced_scenario(s: SbcSettings) -> Any:
    """The default scenario with a small population and a short horizon (composed aside from
    any running Hydra app, whose global state is restored)."""
    from hydra.core.global_hydra import GlobalHydra

    from cxsim.spec import compose_scenario

    gh = GlobalHydra.instance()
    outer = gh.hydra if gh.is_initialized() else None
    gh.clear()
    try:
        return compose_scenario([f"population.customers={s.customers}",
                                 f"horizon={s.horizon_days}", "replications=1"])
    finally:
        gh.clear()
        if outer is not None:
            gh.initialize(outer)


def anchor_segment(scenario: Any) -> str:
    """The fit's anchor: the segment with the largest share."""
    return max(scenario.segments, key=lambda g: scenario.segments[g].share)


def simulate_data(scenario: Any, theta: dict[str, float], seed: int, s: SbcSettings) -> Any:
    """Observed data of ``scenario`` with behaviour ``theta`` and engine seed ``seed``."""
    from cxsim.data.synthetic import observe
    from cxsim.engine import simulate
    from cxsim.spec import theta_of, with_theta

    known = theta_of(scenario)
    sc = with_theta(scenario, {k: v for k, v in theta.items() if k in known})
    sc = dataclasses.replace(sc, seed=int(seed))
    return observe(simulate(sc, keep_rows=True), sc)


def theta_of_draw(draw: dict[str, float], anchor: str, s: SbcSettings) -> dict[str, float]:
    """Scenario behaviour parameters of a prior draw (fit names = truth.json names), with what
    the fit holds fixed: the anchor's baseline and the company's process."""
    return {**draw, f"satisfaction_base[{anchor}]": s.anchor_base,
            "churn_period_days": s.churn_period_days, "fatigue_days": s.fatigue_days}


def run_one(i: int, candidates: list[dict[str, float]], scenario: Any, pilot: Prepared,
            anchor: str, s: SbcSettings, parent: int | None = None) -> dict:
    """Simulation ``i``: the first candidate prior draw whose data match the pilot's layout.
    In a worker (``parent``: the main process's pid), the worker dies with its parent."""
    import nutpie

    if parent is not None:
        die_with_parent(parent)

    t0 = time.perf_counter()
    r_pilot = anchor_reason(pilot)
    for attempt, draw in enumerate(candidates):
        seed = np.random.SeedSequence(s.seed, spawn_key=(i, attempt)).generate_state(2)
        data = simulate_data(scenario, theta_of_draw(draw, anchor, s), seed[0], s)
        prep = prepare(data, s.churn_period_days, s.fatigue_days)
        if (prep.segments == pilot.segments and prep.reasons == pilot.reasons
                and anchor_reason(prep) == r_pilot):
            break
    else:
        raise RuntimeError(f"simulation {i}: no candidate draw gave the pilot's layout")
    compiled = compiled_model(pilot, anchor, s)
    names = {v.name for v in compiled.shared_var_keys}
    arrays = {k: v for k, v in data_arrays(prep).items() if k in names}
    tree = nutpie.sample(compiled.with_data(**arrays), draws=s.draws, tune=s.tune,
                         chains=s.chains, cores=1, seed=int(seed[1]), progress_bar=False)
    post = tree.posterior.to_dataset() if hasattr(tree.posterior, "to_dataset") else tree.posterior
    flat = parameter_draws(post)
    n = len(flat["memory"])
    thin = np.round(np.linspace(0, n - 1, s.ranks)).astype(int)
    ranks, cover50, cover90 = {}, {}, {}
    for name, truth in draw.items():
        x = flat[name]
        ranks[name] = int((x[thin] < truth).sum())
        q = np.quantile(x, [0.05, 0.25, 0.75, 0.95])
        cover50[name] = bool(q[1] <= truth <= q[2])
        cover90[name] = bool(q[0] <= truth <= q[3])
    divergences = int(tree.sample_stats["diverging"].sum())
    return {"sim": i, "attempt": attempt, "truth": draw, "ranks": ranks, "cover50": cover50,
            "cover90": cover90, "divergences": divergences, "episodes": int(prep.steps.size),
            "seconds": time.perf_counter() - t0}


# -- the run ---------------------------------------------------------------------------------

def prior_pool(pilot: Prepared, anchor: str, s: SbcSettings, size: int) -> list[dict]:
    """``size`` prior draws of every fitted parameter (the simulation priors)."""
    import warnings

    import pymc as pm

    model = build_model(pilot, anchor, s.anchor_base, s.priors)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The effect of Potentials")
        prior = pm.sample_prior_predictive(draws=size, model=model, random_seed=s.seed)
    p = parameter_draws(prior["prior"].to_dataset())
    fixed = f"moment_weight[{pilot.reasons[anchor_reason(pilot)]}]"
    keep = [k for k in p if k != fixed]
    return [{k: float(p[k][j]) for k in keep} for j in range(size)]


def pilot_data(scenario: Any, s: SbcSettings) -> tuple[Prepared, str]:
    """The reduced scenario at its default behaviour: the layout every simulation must share."""
    from cxsim.spec import theta_of

    data = simulate_data(scenario, theta_of(scenario), s.seed, s)
    return prepare(data, s.churn_period_days, s.fatigue_days), anchor_segment(scenario)


def run_sbc(s: SbcSettings, directory: Path, progress: bool = False,
            attempts: int = 16) -> list[dict]:
    """Run (or resume) the simulations into ``directory/sims``; every finished result."""
    from joblib import Parallel, delayed

    sims = Path(directory) / "sims"
    sims.mkdir(parents=True, exist_ok=True)
    scenario = reduced_scenario(s)
    pilot, anchor = pilot_data(scenario, s)
    pool = prior_pool(pilot, anchor, s, s.n_sims * attempts)
    todo = [i for i in range(s.n_sims) if _result(sims / f"sim_{i:05d}.json") is None]
    print(f"cxsim-check sbc: {s.n_sims - len(todo)} of {s.n_sims} simulations already done, "
          f"running {len(todo)} on {s.n_jobs} processes")
    jobs = (delayed(run_one)(i, [pool[i + a * s.n_sims] for a in range(attempts)],
                             scenario, pilot, anchor, s, os.getpid()) for i in todo)
    with Progress(len(todo), "sbc", "simulation", progress) as bar:
        for result in Parallel(n_jobs=s.n_jobs, return_as="generator_unordered")(jobs):
            write_json(sims / f"sim_{result['sim']:05d}.json", result)
            bar.update()
    return load_results(directory, s.n_sims)


def _result(path: Path) -> dict | None:
    """The finished simulation in ``path``, or None (missing; corrupt: removed, to be redone)."""
    sim = int(path.stem.split("_")[1])
    return finished_piece(path, lambda doc: doc.get("sim") == sim
                          and isinstance(doc.get("ranks"), dict))


def load_results(directory: Path, n_sims: int | None = None) -> list[dict]:
    files = sorted((Path(directory) / "sims").glob("sim_*.json"))
    results = [r for r in map(_result, files) if r is not None]
    return [r for r in results if n_sims is None or r["sim"] < n_sims]


# -- the statistics --------------------------------------------------------------------------

def coverage_band(n: int, nominal: float, level: float) -> tuple[float, float]:
    """Coverage shares a calibrated model stays within with probability >= 1 - level."""
    lo = stats.binom.ppf(level / 2, n, nominal)
    hi = stats.binom.isf(level / 2, n, nominal)
    return float(lo / n), float(hi / n)


def uniformity_p(ranks: np.ndarray, n_ranks: int, bins: int) -> float:
    """Chi-square test of ranks 0..L binned into ``bins`` equal groups of rank values."""
    edges = np.linspace(0, n_ranks + 1, bins + 1)
    counts = np.histogram(ranks, bins=edges)[0]
    expected = len(ranks) * np.diff(np.floor(edges)) / (n_ranks + 1)
    return float(stats.chisquare(counts, expected).pvalue)


def analyse(results: list[dict], n_ranks: int, level: float = 0.01) -> dict:
    """Per parameter: uniformity p-value (chi-square, Bonferroni over parameters at ``level``)
    and 50%/90% coverage against the binomial band (per parameter at ``level``, and the
    Bonferroni band that every parameter of a calibrated fit stays in with prob. 1 - level)."""
    names = list(results[0]["ranks"])
    n = len(results)
    bins = 20 if n >= 100 else 10
    out: dict[str, Any] = {"n_sims": n, "ranks": n_ranks, "bins": bins, "level": level,
                           "parameters": {}}
    band90, band50 = coverage_band(n, 0.9, level), coverage_band(n, 0.5, level)
    fw90 = coverage_band(n, 0.9, level / len(names))
    fw50 = coverage_band(n, 0.5, level / len(names))
    out.update(band90=band90, band50=band50, family_band90=fw90, family_band50=fw50,
               uniformity_threshold=level / len(names))
    for name in names:
        r = np.array([x["ranks"][name] for x in results])
        c90 = float(np.mean([x["cover90"][name] for x in results]))
        c50 = float(np.mean([x["cover50"][name] for x in results]))
        out["parameters"][name] = {"p_uniform": uniformity_p(r, n_ranks, bins),
                                   "cover90": c90, "cover50": c50}
    par = out["parameters"].values()
    out["min_p_uniform"] = min(v["p_uniform"] for v in par)
    out["rejected"] = [k for k, v in out["parameters"].items()
                       if v["p_uniform"] < out["uniformity_threshold"]]
    out["outside_band90"] = [k for k, v in out["parameters"].items()
                             if not band90[0] <= v["cover90"] <= band90[1]]
    out["outside_band50"] = [k for k, v in out["parameters"].items()
                             if not band50[0] <= v["cover50"] <= band50[1]]
    out["outside_family_band"] = [k for k, v in out["parameters"].items()
                                  if not (fw90[0] <= v["cover90"] <= fw90[1]
                                          and fw50[0] <= v["cover50"] <= fw50[1])]
    out["divergent_fits"] = int(sum(x["divergences"] > 0 for x in results))
    out["calibrated"] = not out["rejected"] and not out["outside_family_band"]
    return out
