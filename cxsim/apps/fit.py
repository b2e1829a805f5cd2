"""``cxsim-fit``: fit the behaviour model to observed data and write the posterior.

    cxsim-fit data.dir=DIR hydra.run.dir=OUT
    cxsim-fit model=cohort data.path=FILE.csv forecast_periods=N hydra.run.dir=OUT

Writes ``summary.json`` (parameters with 94% HDIs under truth.json's names, diagnostics, the
bias-corrected population NPS/CES/CSAT), ``posterior.nc`` (ArviZ DataTree carrying the model,
the config and its hashes: :mod:`cxsim.calibrate.store`) and posterior predictive PNGs. Bad
config or data are refused before sampling (exit 2); a fit that fails its diagnostics says so
loudly and is marked not fit for forecasting.
"""

from __future__ import annotations

import sys
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from cxsim.apps.common import (
    bars_of,
    bundled_or,
    console_script,
    data_dir,
    fail,
    heartbeat_of,
    quiet_sampler,
    run_dir,
    start,
    user_errors,
)
from cxsim.fileio import finish_run, write_json
from cxsim.spec.config import to_typed

OUTPUTS = ("summary.json", "posterior.nc", "projection.csv", "*.png")  # what a fit (re)writes


def _loud(summary: dict) -> None:
    if summary["fit_for_forecasting"]:
        print("cxsim-fit: diagnostics passed; posterior fit for forecasting")
        return
    bar = "!" * 72
    print(f"{bar}\ncxsim-fit: THIS FIT FAILED ITS DIAGNOSTICS - not fit for forecasting:",
          file=sys.stderr)
    for check in summary["failed_checks"]:
        print(f"  - {check}", file=sys.stderr)
    from cxsim.calibrate.diagnostics import advice

    target = summary.get("settings", {}).get("target_accept")  # None: the model chose it
    for tip in advice(summary["failed_checks"], target):
        print(f"  {tip}", file=sys.stderr)
    print(bar, file=sys.stderr)


def _save(tree, out: Path, cfg: DictConfig, model: str, summary: dict) -> None:
    from cxsim.calibrate import store

    store.save_posterior(tree, out / "posterior.nc", model=model,
                         config=OmegaConf.to_container(cfg, resolve=True),
                         model_hash=summary["model_hash"], data_hash=summary["data_hash"],
                         fit_for_forecasting=summary["fit_for_forecasting"])
    write_json(out / "summary.json", summary)


def run_micro(cfg: DictConfig, out: Path, progress: bool) -> dict:
    from cxsim.calibrate import store
    from cxsim.calibrate.micro.fit import FitSettings, fit_micro
    from cxsim.data import check_fittable, load_observed, with_row_ids
    from cxsim.data.synthetic import example_path
    from cxsim.plots import calibrate as plots

    settings = FitSettings.from_config(to_typed(cfg), progress)
    directory = data_dir(cfg.data.dir, example_path(), "fit")
    data = load_observed(directory)  # bad data stop here, before any sampling
    check_fittable(data, settings.anchor_segment)
    data = with_row_ids(data)  # the model indexes customers by row
    start(out, OUTPUTS)
    print(f"cxsim-fit: micro-data model on {directory} ({len(data.customers)} customers, "
          f"{len(data.episodes)} episodes, {int(data.surveys['answered'].sum())} answers)")
    with heartbeat_of(cfg, f"cxsim-fit: sampling {settings.chains} chains x {settings.draws} "
                      f"draws (+{settings.tune} tuning)"), quiet_sampler():
        tree, summary = fit_micro(data, settings)
    summary["data_hash"] = store.data_hash(store.csv_files(directory))
    summary["data_dir"] = str(directory)
    _save(tree, out, cfg, "micro", summary)
    plots.answer_distributions(summary, data.surveys, out / "ppc_answers.png")
    plots.retention(summary, out / "ppc_retention.png")
    pop, resp = summary["population"], summary["respondents"]
    print(f"cxsim-fit: NPS respondents {resp['nps']:.1f} -> everyone {pop['nps']['mean']:.1f} "
          f"[{pop['nps']['hdi_low']:.1f}, {pop['nps']['hdi_high']:.1f}] (94% HDI); CES "
          f"{resp['ces']:.2f} -> {pop['ces']['mean']:.2f}; CSAT {resp['csat']:.1f}% -> "
          f"{pop['csat']['mean']:.1f}%")
    return summary


def run_cohort(cfg: DictConfig, out: Path, progress: bool) -> dict:
    from cxsim.calibrate import store
    from cxsim.calibrate.cohort.model import sample_posterior, summarize
    from cxsim.data import FADER_HARDIE_2007, load_cohorts

    path = bundled_or(cfg.data.path, "data.path", FADER_HARDIE_2007, "fader_hardie_2007",
                      "fit")
    frame = load_cohorts(path)
    start(out, OUTPUTS)
    with heartbeat_of(cfg, "cxsim-fit: sampling the cohort model"):
        tree = sample_posterior(frame, cfg.sampler.draws, cfg.sampler.chains,
                                cfg.sampler.seed, tune=cfg.sampler.tune, progressbar=progress,
                                target_accept=cfg.sampler.target_accept)
    summary = summarize(frame, tree, int(cfg.forecast_periods),
                        discount_rate=float(cfg.discount_rate))
    summary["model_hash"] = store.identity_of_config("cohort", {})
    summary["data_hash"] = store.data_hash([path])
    _save(tree, out, cfg, "cohort", summary)
    _projection_table(summary, out / "projection.csv")
    from cxsim.plots import calibrate as plots

    plots.cohort_projection(summary, out / "cohort_projection.png")
    for name, value in summary["parameters"].items():
        print(f"  {name:>20}: {value['mean']:.3f} [{value['hdi_low']:.3f}, "
              f"{value['hdi_high']:.3f}], MLE {value['map']:.3f}")
    print(f"  projection: {out / 'projection.csv'}, {out / 'cohort_projection.png'}")
    return summary


def _projection_table(summary: dict, path: Path) -> None:
    """``projection.csv``: each cohort's observed and projected survivors, period by period."""
    import pandas as pd

    from cxsim.fileio import atomic_write

    keys = ("surviving_observed", "surviving_mean", "surviving_low", "surviving_high",
            "retention_rate")
    rows = [{"cohort": name, "period": t, **{k: p[k][i] if i < len(p[k]) else None
                                              for k in keys}}
            for name, p in summary["projection"].items() for i, t in enumerate(p["period"])]
    atomic_write(path, lambda tmp: pd.DataFrame(rows).to_csv(tmp, index=False))


# The bundled data's names, the defaults of data.dir and data.path (configs/fit.yaml).
BUNDLED = {"dir": "example", "path": "fader_hardie_2007"}


def run(cfg: DictConfig) -> dict:
    other = "path" if cfg.model == "micro" else "dir"  # the other model's data key
    if cfg.data[other] not in (None, BUNDLED[other]):
        fail(f"data.{other} = {cfg.data[other]!r}: the {cfg.model} model reads data."
             f"{'dir' if other == 'path' else 'path'} (data.{other} is the "
             f"{'cohort' if other == 'path' else 'micro'} model's)")
    out = run_dir()
    with user_errors():
        summary = (run_micro if cfg.model == "micro" else run_cohort)(cfg, out,
                                                                      bars_of(cfg))
    finish_run(out)  # last: only now does the run look finished
    _loud(summary)
    print(f"  written to {out / 'summary.json'}")
    return summary


HELP = """\
cxsim-fit: learn the behaviour parameters (how customers feel, answer surveys and leave) from
observed data with PyMC, and write summary.json, posterior.nc (for cxsim-whatif) and figures.
A fit that fails its diagnostics (docs/calibrate.md) is marked not fit for forecasting.

Main keys (key=value; configs/fit.yaml):
  data.dir=DIR                 an observed-data directory (cxsim-simulate export_observed=true)
  model=cohort data.path=CSV   the sBG retention model on cohort counts instead
  sampler.draws=1000 sampler.tune=1000 sampler.chains=4 sampler.seed=1
  sampler.target_accept=0.95   a smaller step when the fit reports divergences
  priors.NAME=V  anchor.segment=NAME  progress=false  hydra.run.dir=DIR

Example:
  cxsim-fit data.dir=outputs/observed/observed hydra.run.dir=outputs/fit
"""

main = console_script("fit", run, HELP)

if __name__ == "__main__":
    main()
