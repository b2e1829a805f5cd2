"""``cxsim-check``: calibration regression checks for CI, and simulation-based calibration.

    cxsim-check data.dir=DIR baseline=FILE hydra.run.dir=OUT
    cxsim-check baseline=FILE update_baseline=true
    cxsim-check mode=sbc n_sims=200 hydra.run.dir=OUT
    cxsim-check mode=backtest backtest.worlds=40 backtest.variant=mood hydra.run.dir=OUT

``mode=check`` fits the reference data with fixed seeds and runs the gates of
:mod:`cxsim.calibrate.check`; it writes ``report.json``, ``report.txt`` (the table it prints)
and ``summary.json``. Exit code 0 when every gate passes, 1 when one fails (named in the table
and on stderr), 2 on bad input (config, data, baseline file). ``update_baseline=true`` rewrites
the baseline, and only when every other gate passes. A baseline of another model is refused
before any sampling. ``mode=sbc`` runs :mod:`cxsim.calibrate.sbc` (resumable in its run
directory). ``mode=backtest`` runs :mod:`cxsim.backtest` (resumable there too): it writes
``backtest.json`` and ``backtest_pit.png`` and exits 1 when a figure's 50% or 90% coverage
falls outside its binomial 99% band.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from cxsim.apps.common import (
    bars_of,
    console_script,
    data_dir,
    fail,
    heartbeat_of,
    progress_of,
    quiet_sampler,
    run_dir,
    start,
    user_errors,
)
from cxsim.fileio import atomic_write_text, finish_run, write_json
from cxsim.spec.config import to_typed

GATE_FAILED = 1


def _read_baseline(path: Path) -> dict:
    if path.is_dir():
        fail(f"baseline = {path}: is a directory, not a baseline file")
    if path.exists() and not path.is_file():
        fail(f"baseline = {path}: not a regular file")
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        fail(f"baseline = {path}: no such file (make one with update_baseline=true)")
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        fail(f"baseline = {path}: not a JSON document ({e})")
    if not isinstance(doc, dict) or doc.get("kind") != "cxsim-check baseline" \
            or not isinstance(doc.get("items"), dict):
        fail(f"baseline = {path}: not a cxsim-check baseline (no kind/items)")
    for name, item in doc["items"].items():  # the drift gates divide by sd: checked now
        for key in ("mean", "sd", "hdi_low", "hdi_high"):
            value = item.get(key) if isinstance(item, dict) else None
            if not isinstance(value, int | float) or isinstance(value, bool) \
                    or not math.isfinite(value) or (key == "sd" and value <= 0):
                fail(f"baseline = {path}: items.{name}.{key} = {value!r}: must be a finite "
                     f"number{' > 0' if key == 'sd' else ''}")
    return doc


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
    from cxsim.calibrate import check, store
    from cxsim.calibrate.micro.fit import FitSettings, sample, summarise
    from cxsim.data import check_fittable, load_observed, with_row_ids
    from cxsim.data.synthetic import example_path

    typed = to_typed(cfg)
    settings = FitSettings.from_config(typed, progress)
    if cfg.update_baseline and not cfg.baseline:
        fail("update_baseline=true needs baseline=FILE (where to write it)")
    directory = data_dir(cfg.data.dir, example_path(), "check")
    baseline_path = Path(cfg.baseline) if cfg.baseline else None
    baseline = (_read_baseline(baseline_path)
                if baseline_path is not None and not cfg.update_baseline else None)
    mhash = settings.model_hash()
    doc: dict[str, Any] = {"model_hash": mhash, "data_dir": str(directory),
                           "baseline": str(baseline_path) if baseline_path else None,
                           "config": OmegaConf.to_container(cfg, resolve=True)}
    gate = check.hash_gate(mhash, baseline)
    if gate.passed is False:  # nothing else is comparable: refuse before sampling
        gate.note += " - if the model change is deliberate, run with update_baseline=true"
        start(out, ("report.json", "report.txt", "summary.json"))
        return _finish(out, [gate], doc)
    data = load_observed(directory)  # bad data stop here (exit 2)
    check_fittable(data, settings.anchor_segment)
    data = with_row_ids(data)  # the model indexes customers by row
    doc["data_hash"] = store.data_hash(store.csv_files(directory))
    print(f"cxsim-check: fitting {directory} ({len(data.customers)} customers, "
          f"{len(data.episodes)} episodes), seed {settings.seed}, {settings.chains} chains x "
          f"{settings.draws} draws")
    start(out, ("report.json", "report.txt", "summary.json"))
    with heartbeat_of(cfg, "cxsim-check: sampling"), quiet_sampler():
        tree, prep, anchor = sample(data, settings)
    summary = summarise(tree, data, prep, anchor, settings)
    summary["data_hash"] = doc["data_hash"]
    write_json(out / "summary.json", summary)
    gates = [gate, *check.fit_gates(tree, data, prep, anchor, settings, summary, baseline,
                                    typed.gates)]
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
    """The SBC settings of the config, checked (the fit's sampler checks too)."""
    from dataclasses import asdict, replace

    from cxsim.calibrate.micro.fit import FitSettings, check_priors
    from cxsim.calibrate.sbc import SbcSettings

    typed = to_typed(cfg)
    FitSettings.from_config(typed, progress=False)
    sbc = asdict(typed.sbc)
    if cfg.n_sims is not None:
        sbc["n_sims"] = int(cfg.n_sims)
    priors = asdict(typed.priors)
    fit_priors = sbc.pop("fit_priors")
    unknown = sorted(set(fit_priors) - set(priors))
    if unknown:
        fail(f"sbc.fit_priors.{unknown[0]}: not a prior (one of {', '.join(priors)})")
    check_priors(fit_priors, "sbc.fit_priors")
    if sbc["n_sims"] < 1 or sbc["ranks"] < 9 or sbc["chains"] < 1 or sbc["n_jobs"] < 1:
        fail(f"sbc = {sbc}: need n_sims >= 1, ranks >= 9, chains >= 1, n_jobs >= 1")
    return SbcSettings(**sbc, anchor_base=cfg.anchor.satisfaction_base,
                       churn_period_days=cfg.process.churn_period_days,
                       fatigue_days=cfg.process.fatigue_days, priors=typed.priors,
                       fit_priors=replace(typed.priors, **fit_priors))


def run_sbc(cfg: DictConfig, out: Path, progress: bool) -> int:
    """Simulation-based calibration into the run directory (resumable there)."""
    from dataclasses import asdict

    from cxsim.calibrate.sbc import analyse, run_sbc
    from cxsim.plots import check as plots

    s = sbc_settings(cfg)
    manifest = out / "sbc_settings.json"
    if manifest.exists():
        old = json.loads(manifest.read_text())
        if old.get("key") != s.key():
            fail(f"{out} holds an SBC run of other settings ({manifest}): choose another "
                 "hydra.run.dir, or the same settings to resume it")
    start(out, ("sbc.json", "sbc_*.png"))  # the finished simulations stay: they resume
    start(out, ("backtest.json", "backtest_pit.png"))  # finished worlds stay: they resume
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


def backtest_settings(cfg: DictConfig) -> Any:
    """The back-test settings of the config, checked before any work."""
    from dataclasses import asdict

    from cxsim.backtest.variants import VARIANTS
    from cxsim.backtest.world import FORECASTS, BacktestSettings
    from cxsim.calibrate.micro.fit import FitSettings
    from cxsim.spec import config_dir

    typed = to_typed(cfg)
    FitSettings.from_config(typed, progress=False)
    bt = asdict(typed.backtest)
    if bt["variant"] not in VARIANTS:
        fail(f"backtest.variant = {bt['variant']!r}: must be one of {', '.join(VARIANTS)}")
    if bt["forecast"] not in FORECASTS:
        fail(f"backtest.forecast = {bt['forecast']!r}: must be one of {', '.join(FORECASTS)}")
    for key in ("worlds", "customers", "chains", "forecast_draws", "replications", "n_jobs"):
        if bt[key] < 1:
            fail(f"backtest.{key} = {bt[key]}: must be at least 1")
    for key in ("history_days", "change_days", "draws"):
        if not bt[key] >= 10:
            fail(f"backtest.{key} = {bt[key]}: must be at least 10")
    if not bt["levers"]:
        fail("backtest.levers = []: name at least one STUDY:SCENARIO")
    for lever in bt["levers"]:
        study, _, scenario = str(lever).partition(":")
        if not scenario or not (config_dir() / "study" / f"{study}.yaml").exists():
            fail(f"backtest.levers: {lever!r} is not STUDY:SCENARIO of a study in experiments/")
    return BacktestSettings(**bt, anchor_base=cfg.anchor.satisfaction_base,
                            churn_period_days=cfg.process.churn_period_days,
                            fatigue_days=cfg.process.fatigue_days, priors=typed.priors)


def run_backtest(cfg: DictConfig, out: Path, progress: bool) -> int:
    """A back-test of the what-if into the run directory (resumable there)."""
    from dataclasses import asdict

    from cxsim.backtest.run import analyse, lever_studies, run_backtest
    from cxsim.plots import backtest as plots

    s = backtest_settings(cfg)
    try:
        lever_studies(s)  # a scenario a study has not: refused before any work
    except KeyError as e:
        fail(f"backtest.levers: {e.args[0]}")
    manifest = out / "backtest_settings.json"
    if manifest.exists() and json.loads(manifest.read_text()).get("key") != s.key():
        fail(f"{out} holds a back-test of other settings ({manifest}): choose another "
             "hydra.run.dir, or the same settings to resume it")
    start(out, ("backtest.json", "backtest_pit.png"))  # finished worlds stay: they resume
    write_json(manifest, {"key": s.key(), "settings": asdict(s)})
    t0 = time.perf_counter()
    worlds = run_backtest(s, out, progress)
    analysis = analyse(worlds, s)
    analysis["wall_seconds_this_run"] = time.perf_counter() - t0
    analysis["world_seconds_mean"] = float(sum(w["seconds"] for w in worlds) / len(worlds))
    write_json(out / "backtest.json", analysis)
    plots.pit_figure(analysis, out / "backtest_pit.png")
    print(f"cxsim-check backtest: {analysis['worlds']} worlds x {len(s.levers)} levers, "
          f"{s.variant} world, {s.forecast} forecast")
    for name, f in analysis["figures"].items():
        print(f"  {name:>15}: 90% coverage {f['coverage_90']:.3f} (99% band "
              f"{f['band_90'][0]:.3f}-{f['band_90'][1]:.3f}), 50% {f['coverage_50']:.3f} "
              f"({f['band_50'][0]:.3f}-{f['band_50'][1]:.3f}), mean z {f['mean_z']:+.2f}")
    print(f"  PPC gates flagged {analysis['ppc']['flagged']} of {analysis['ppc']['n']} fits")
    if not analysis["calibrated"]:
        bad = [k for k, v in analysis["variants"][s.variant]["inside_band"].items() if not v]
        print(f"cxsim-check backtest: coverage outside its 99% band: {', '.join(bad)}",
              file=sys.stderr)
        return GATE_FAILED
    print(f"cxsim-check backtest: every coverage inside its band ({out / 'backtest.json'})")
    return 0


def run(cfg: DictConfig) -> int:
    if cfg.mode not in ("check", "sbc", "backtest"):
        fail(f"mode = {cfg.mode!r}: must be check, sbc or backtest")
    out = run_dir()
    with user_errors():
        if cfg.mode == "backtest":
            return run_backtest(cfg, out, progress_of(cfg))
        if cfg.mode == "sbc":
            return run_sbc(cfg, out, progress_of(cfg))
        return run_check(cfg, out, bars_of(cfg))


def task(cfg: DictConfig) -> None:
    code = run(cfg)
    finish_run(run_dir())  # last, gates passed or not: the run itself finished
    if code:
        raise SystemExit(code)


HELP = """\
cxsim-check: calibration regression checks for CI - fit the reference data with fixed seeds
and run the gates (R-hat, ESS, divergences, recovery, drift against a baseline, posterior
predictive checks); exit 0 when all pass, 1 when one fails, 2 on bad input. mode=sbc runs
simulation-based calibration, mode=backtest back-tests of the what-if's forecasts.

Main keys (key=value; configs/check.yaml):
  baseline=FILE  update_baseline=true    compare with (or rewrite) a committed baseline
  data.dir=DIR  sampler.draws=2000  sampler.target_accept=0.95  gates.NAME=V
  mode=sbc n_sims=200                    simulation-based calibration (sbc.*)
  mode=backtest backtest.worlds=40       back-tests of the what-if (backtest.*, docs/backtest.md)

Example:
  cxsim-check baseline=check/baseline.json hydra.run.dir=outputs/check
"""

main = console_script("check", task, HELP)

if __name__ == "__main__":
    main()
