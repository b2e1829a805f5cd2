"""``cxsim-check``: calibration regression checks for CI, and simulation-based calibration.

    cxsim-check data.dir=DIR baseline=FILE hydra.run.dir=OUT
    cxsim-check baseline=FILE update_baseline=true
    cxsim-check mode=sbc n_sims=200 hydra.run.dir=OUT

``mode=check`` fits the reference data with fixed seeds and runs the gates of
:mod:`cxsim.calibrate.check`; it writes ``report.json``, ``report.txt`` (the table it prints)
and ``summary.json``. Exit code 0 when every gate passes, 1 when one fails (named in the table
and on stderr), 2 on bad input (config, data, baseline file). ``update_baseline=true`` rewrites
the baseline, and only when every other gate passes. A baseline of another model is refused
before any sampling. ``mode=sbc`` runs :mod:`cxsim.calibrate.sbc` (resumable in its run
directory).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hydra
from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from cxsim.apps.common import USER_ERROR, fail, run_dir, write_json
from cxsim.calibrate.check import Thresholds
from cxsim.calibrate.micro import Priors
from cxsim.data import DataError
from cxsim.fileio import atomic_write_text
from cxsim.spec import config_dir

GATE_FAILED = 1


@dataclass
class DataConfig:
    dir: str | None = None


@dataclass
class SamplerConfig:
    draws: int = 2000
    tune: int = 1000
    chains: int = 4
    seed: int = 1
    target_accept: float = 0.95


@dataclass
class AnchorConfig:
    segment: str | None = None
    satisfaction_base: float = 0.5


@dataclass
class ProcessConfig:
    churn_period_days: float = 30.0
    fatigue_days: float = 30.0


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
class CheckConfig:
    mode: str = "check"
    data: DataConfig = field(default_factory=DataConfig)
    baseline: str | None = None
    update_baseline: bool = False
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    anchor: AnchorConfig = field(default_factory=AnchorConfig)
    process: ProcessConfig = field(default_factory=ProcessConfig)
    priors: Priors = field(default_factory=Priors)
    gates: Thresholds = field(default_factory=Thresholds)
    sbc: SbcConfig = field(default_factory=SbcConfig)
    n_sims: int | None = None  # mode=sbc: shorthand for sbc.n_sims
    progress: bool = True


ConfigStore.instance().store(group="schema", name="check", node=CheckConfig, package="_global_")
_started = False  # set once the task runs: a Hydra exit before that is a config error


def settings_of(cfg: DictConfig, progress: bool) -> Any:
    from cxsim.calibrate.fit import FitSettings

    return FitSettings(
        draws=cfg.sampler.draws, tune=cfg.sampler.tune, chains=cfg.sampler.chains,
        seed=cfg.sampler.seed, target_accept=cfg.sampler.target_accept,
        anchor_segment=cfg.anchor.segment,
        anchor_base=cfg.anchor.satisfaction_base,
        churn_period_days=cfg.process.churn_period_days, fatigue_days=cfg.process.fatigue_days,
        progress=progress, priors=Priors(**OmegaConf.to_container(cfg.priors)))


def micro_hash(settings: Any) -> str:
    """``cxsim-fit``'s model hash of these settings: code, priors, anchor and process."""
    from dataclasses import asdict

    from cxsim.apps.fit import model_hash

    shape = {"anchor_segment": settings.anchor_segment, "anchor_base": settings.anchor_base,
             "churn_period_days": settings.churn_period_days,
             "fatigue_days": settings.fatigue_days}
    return model_hash("micro", {**shape, "priors": asdict(settings.priors)})


def _read_baseline(path: Path) -> dict:
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        fail(f"baseline = {path}: no such file (make one with update_baseline=true)")
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        fail(f"baseline = {path}: not a JSON document ({e})")
    if not isinstance(doc, dict) or doc.get("kind") != "cxsim-check baseline" \
            or not isinstance(doc.get("items"), dict):
        fail(f"baseline = {path}: not a cxsim-check baseline (no kind/items)")
    return doc


def _check_priors(values: dict, prefix: str) -> None:
    for name, value in values.items():
        if name.endswith(("_sd", "_a", "_b", "_median")) and not value > 0:
            fail(f"{prefix}.{name} = {value}: a scale or shape must be > 0")


def _validate(cfg: DictConfig) -> None:
    if cfg.sampler.draws < 10 or cfg.sampler.tune < 0 or cfg.sampler.chains < 2 \
            or not 0 < cfg.sampler.target_accept < 1:
        fail(f"sampler = {OmegaConf.to_container(cfg.sampler)}: need draws >= 10, "
             "chains >= 2 (R-hat compares chains) and 0 < target_accept < 1")
    _check_priors(OmegaConf.to_container(cfg.priors), "priors")
    if cfg.update_baseline and not cfg.baseline:
        fail("update_baseline=true needs baseline=FILE (where to write it)")


def _finish(out: Path, gates: list, doc: dict) -> int:
    from cxsim.calibrate.check import as_dicts, table

    failed = [g.name for g in gates if g.passed is False]
    doc = {**doc, "passed": not failed, "failed_gates": failed, "gates": as_dicts(gates)}
    text = table(gates)
    write_json(out / "report.json", doc)
    atomic_write_text(out / "report.txt", text + "\n")
    print(text)
    if failed:
        print(f"cxsim-check: FAILED gate(s): {', '.join(failed)} (see {out / 'report.json'})",
              file=sys.stderr)
        return GATE_FAILED
    print(f"cxsim-check: every gate passed ({out / 'report.json'})")
    return 0


def run_check(cfg: DictConfig, out: Path, progress: bool) -> int:
    import numpy as np

    from cxsim.apps.fit import data_hash
    from cxsim.calibrate import check
    from cxsim.calibrate.fit import POPULATION_DRAWS, DrawModel, parameter_draws, sample, summarise
    from cxsim.data import load_observed
    from cxsim.data.synthetic import example_path

    _validate(cfg)
    settings = settings_of(cfg, progress)
    thresholds = Thresholds(**OmegaConf.to_container(cfg.gates))
    directory = Path(cfg.data.dir) if cfg.data.dir else example_path()
    baseline_path = Path(cfg.baseline) if cfg.baseline else None
    baseline = (_read_baseline(baseline_path)
                if baseline_path is not None and not cfg.update_baseline else None)
    mhash = micro_hash(settings)
    doc: dict[str, Any] = {"model_hash": mhash, "data_dir": str(directory),
                           "baseline": str(baseline_path) if baseline_path else None,
                           "config": OmegaConf.to_container(cfg, resolve=True)}
    gate = check.hash_gate(mhash, baseline)
    if gate.passed is False:  # nothing else is comparable: refuse before sampling
        gate.note += " - if the model change is deliberate, run with update_baseline=true"
        return _finish(out, [gate], doc)
    data = load_observed(directory)  # bad data stop here (exit 2)
    doc["data_hash"] = data_hash([p for p in directory.iterdir() if p.suffix == ".csv"])
    print(f"cxsim-check: fitting {directory} ({len(data.customers)} customers, "
          f"{len(data.episodes)} episodes), seed {settings.seed}, {settings.chains} chains x "
          f"{settings.draws} draws")
    tree, prep, anchor = sample(data, settings)
    summary = summarise(tree, data, prep, anchor, settings)
    summary["model_hash"], summary["data_hash"] = mhash, doc["data_hash"]
    write_json(out / "summary.json", summary)
    draws = parameter_draws(tree["posterior"].to_dataset())
    names = list(summary["parameters"])
    gates = [gate, *check.diagnostics_gates(tree, names, thresholds)]
    truth = data.truth.get("parameters", {}) if data.truth else {}
    gates.append(check.recovery_gate(draws, summary["parameters"], truth, thresholds))
    gates.extend(check.drift_gates(summary, baseline, thresholds))
    rng = np.random.default_rng(np.random.SeedSequence(settings.seed, spawn_key=(1,)))
    n = len(draws["memory"])
    pick = rng.choice(n, size=min(n, POPULATION_DRAWS), replace=False)
    model = DrawModel(prep, {k: v[pick] for k, v in draws.items()}, anchor, settings.anchor_base)
    gates.extend(check.ppc_gates(prep, model, thresholds, seed=settings.seed))
    doc["thresholds"] = OmegaConf.to_container(cfg.gates)
    code = _finish(out, gates, doc)
    if cfg.update_baseline:
        if code:
            print(f"cxsim-check: baseline NOT written to {baseline_path}: a gate failed",
                  file=sys.stderr)
        else:
            write_json(baseline_path, check.baseline_of(summary, mhash, doc["data_hash"]))
            print(f"cxsim-check: baseline written to {baseline_path}")
    return code


def sbc_settings(cfg: DictConfig) -> Any:
    from cxsim.calibrate.sbc import SbcSettings

    sbc = OmegaConf.to_container(cfg.sbc)
    if cfg.n_sims is not None:
        sbc["n_sims"] = int(cfg.n_sims)
    priors = OmegaConf.to_container(cfg.priors)
    fit_priors = sbc.pop("fit_priors")
    unknown = sorted(set(fit_priors) - set(priors))
    if unknown:
        fail(f"sbc.fit_priors.{unknown[0]}: not a prior (one of {', '.join(priors)})")
    _check_priors(fit_priors, "sbc.fit_priors")
    if sbc["n_sims"] < 1 or sbc["ranks"] < 9 or sbc["chains"] < 1 or sbc["n_jobs"] < 1:
        fail(f"sbc = {sbc}: need n_sims >= 1, ranks >= 9, chains >= 1, n_jobs >= 1")
    return SbcSettings(**sbc, anchor_base=cfg.anchor.satisfaction_base,
                       churn_period_days=cfg.process.churn_period_days,
                       fatigue_days=cfg.process.fatigue_days, priors=Priors(**priors),
                       fit_priors=Priors(**{**priors, **fit_priors}))


def run_sbc(cfg: DictConfig, out: Path, progress: bool) -> int:
    """Simulation-based calibration into the run directory (resumable there)."""
    from dataclasses import asdict

    from cxsim.calibrate.sbc import analyse, run_sbc
    from cxsim.plots import check as plots

    _validate(cfg)
    s = sbc_settings(cfg)
    manifest = out / "sbc_settings.json"
    if manifest.exists():
        old = json.loads(manifest.read_text())
        if old.get("key") != s.key():
            fail(f"{out} holds an SBC run of other settings ({manifest}): choose another "
                 "hydra.run.dir, or the same settings to resume it")
    write_json(manifest, {"key": s.key(), "settings": asdict(s)})
    t0 = time.perf_counter()
    results = run_sbc(s, out, progress)
    analysis = analyse(results, s.ranks)
    analysis["wall_seconds_this_run"] = time.perf_counter() - t0
    analysis["fit_seconds_mean"] = float(sum(r["seconds"] for r in results) / len(results))
    write_json(out / "sbc.json", analysis)
    plots.rank_histograms(results, analysis, out / "sbc_ranks.png")
    plots.ecdf_differences(results, analysis, out / "sbc_ecdf.png")
    lo90, hi90 = analysis["band90"]
    c90 = [v["cover90"] for v in analysis["parameters"].values()]
    c50 = [v["cover50"] for v in analysis["parameters"].values()]
    print(f"cxsim-check sbc: {analysis['n_sims']} simulations, {len(c90)} parameters; min "
          f"uniformity p {analysis['min_p_uniform']:.3g} (Bonferroni threshold "
          f"{analysis['uniformity_threshold']:.2g}); 90% coverage {min(c90):.3f}-{max(c90):.3f} "
          f"(99% band {lo90:.3f}-{hi90:.3f}); 50% coverage {min(c50):.3f}-{max(c50):.3f}")
    if not analysis["calibrated"]:
        print(f"cxsim-check sbc: NOT CALIBRATED - ranks not uniform: "
              f"{', '.join(analysis['rejected']) or 'none'}; coverage outside the family "
              f"band: {', '.join(analysis['outside_family_band']) or 'none'}", file=sys.stderr)
        return GATE_FAILED
    print(f"cxsim-check sbc: calibrated ({out / 'sbc.json'})")
    return 0


def run(cfg: DictConfig) -> int:
    global _started
    _started = True
    if cfg.mode not in ("check", "sbc"):
        fail(f"mode = {cfg.mode!r}: must be check or sbc")
    out = run_dir()
    progress = bool(cfg.progress) and sys.stderr.isatty()
    try:
        if cfg.mode == "sbc":
            return run_sbc(cfg, out, progress)
        return run_check(cfg, out, progress)
    except DataError as e:
        fail(str(e))
    except (FileNotFoundError, NotADirectoryError) as e:
        fail(f"cannot read the data: {e}")


@hydra.main(config_path=str(config_dir()), config_name="check", version_base="1.3")
def _main(cfg: DictConfig) -> None:
    code = run(cfg)
    if code:
        raise SystemExit(code)


def main() -> None:
    """Console-script entry point: Hydra's own exit on a bad config becomes exit code 2."""
    try:
        _main()
    except SystemExit as e:
        if e.code == 1 and not _started:
            raise SystemExit(USER_ERROR) from None
        raise


if __name__ == "__main__":
    main()
