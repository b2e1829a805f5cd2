"""``cxsim-fit``: fit the behaviour model to observed data and write the posterior.

    cxsim-fit data.dir=DIR hydra.run.dir=OUT
    cxsim-fit model=cohort data.path=FILE.csv forecast_periods=N hydra.run.dir=OUT

Writes ``summary.json`` (parameters with 94% HDIs under truth.json's names, diagnostics, the
bias-corrected population NPS/CES/CSAT), ``posterior.nc`` (ArviZ DataTree carrying the config
and hashes) and posterior predictive PNGs. Bad data are refused before sampling (exit 2); a
fit that fails its diagnostics says so loudly and is marked not fit for forecasting.
"""

from __future__ import annotations

import ast
import hashlib
import json
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from cxsim.apps.common import fail, run_dir, write_json
from cxsim.data import DataError
from cxsim.fileio import atomic_write
from cxsim.spec import config_dir

MODEL_FILES = ("micro.py", "prepare.py", "fit.py", "sbg.py", "cohort.py")


def model_hash(model: str, settings: dict) -> str:
    """What defines the model (its code and the settings that shape it), not the data: the
    code as parsed, without docstrings and comments, so that editing prose keeps a baseline
    (``cxsim-check``) valid and editing code does not."""
    h = hashlib.sha256(model.encode())
    here = Path(__file__).resolve().parents[1] / "calibrate"
    for name in MODEL_FILES:
        h.update(_code_only((here / name).read_text()).encode())
    h.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def _code_only(source: str) -> str:
    r"""``source`` as its syntax tree with docstrings dropped (comments never reach it).

    >>> _code_only("def f():\n    'Doc.'\n    return 1  # one") == _code_only(
    ...     "def f():\n    return 1")
    True
    >>> _code_only("x = 1") == _code_only("x = 2")
    False
    """
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, annotate_fields=False)


def data_hash(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def _save_tree(tree, path: Path, attrs: dict) -> None:
    tree.attrs.update({k: json.dumps(v) if not isinstance(v, str) else v
                       for k, v in attrs.items()})
    atomic_write(path, lambda tmp: tree.to_netcdf(tmp, engine="h5netcdf"))


def _loud(summary: dict) -> None:
    if summary["fit_for_forecasting"]:
        print("cxsim-fit: diagnostics passed; posterior fit for forecasting")
        return
    bar = "!" * 72
    print(f"{bar}\ncxsim-fit: THIS FIT FAILED ITS DIAGNOSTICS - not fit for forecasting:",
          file=sys.stderr)
    for check in summary["failed_checks"]:
        print(f"  - {check}", file=sys.stderr)
    print(f"Sample longer (sampler.draws, sampler.tune) or check the model.\n{bar}",
          file=sys.stderr)


def run_micro(cfg: DictConfig, out: Path, progress: bool) -> dict:
    from cxsim.calibrate.fit import FitSettings, fit_micro
    from cxsim.data import load_observed
    from cxsim.data.synthetic import example_path
    from cxsim.plots import calibrate as plots

    directory = Path(cfg.data.dir) if cfg.data.dir else example_path()
    data = load_observed(directory)  # bad data stop here, before any sampling
    settings = FitSettings(
        draws=cfg.sampler.draws, tune=cfg.sampler.tune, chains=cfg.sampler.chains,
        seed=cfg.sampler.seed, sampler=cfg.sampler.name, anchor_segment=cfg.anchor.segment,
        anchor_base=cfg.anchor.satisfaction_base,
        churn_period_days=cfg.process.churn_period_days, fatigue_days=cfg.process.fatigue_days,
        progress=progress,
    )
    print(f"cxsim-fit: micro-data model on {directory} ({len(data.customers)} customers, "
          f"{len(data.episodes)} episodes, {int(data.surveys['answered'].sum())} answers)")
    tree, summary = fit_micro(data, settings)
    shape = {k: v for k, v in summary["settings"].items()
             if k in ("anchor_segment", "anchor_base", "churn_period_days", "fatigue_days")}
    summary["model_hash"] = model_hash("micro", {**shape, "priors": summary["priors"]})
    summary["data_hash"] = data_hash([p for p in directory.iterdir() if p.suffix == ".csv"])
    summary["data_dir"] = str(directory)
    _save_tree(tree, out / "posterior.nc", {
        "config": OmegaConf.to_container(cfg, resolve=True), "model_hash": summary["model_hash"],
        "data_hash": summary["data_hash"], "fit_for_forecasting": summary["fit_for_forecasting"],
    })
    write_json(out / "summary.json", summary)
    plots.answer_distributions(summary, data.surveys, out / "ppc_answers.png")
    plots.retention(summary, out / "ppc_retention.png")
    pop, resp = summary["population"], summary["respondents"]
    print(f"cxsim-fit: NPS respondents {resp['nps']:.1f} -> everyone {pop['nps']['mean']:.1f} "
          f"[{pop['nps']['hdi_low']:.1f}, {pop['nps']['hdi_high']:.1f}] (94% HDI); CES "
          f"{resp['ces']:.2f} -> {pop['ces']['mean']:.2f}; CSAT {resp['csat']:.1f}% -> "
          f"{pop['csat']['mean']:.1f}%")
    return summary


def run_cohort(cfg: DictConfig, out: Path, progress: bool) -> dict:
    from cxsim.calibrate.cohort import FADER_HARDIE_2007, load_cohorts, sample_posterior, summarize

    path = Path(cfg.data.path) if cfg.data.path else FADER_HARDIE_2007
    frame = load_cohorts(path)
    tree = sample_posterior(frame, cfg.sampler.draws, cfg.sampler.chains, cfg.sampler.seed,
                            tune=cfg.sampler.tune, progressbar=progress)
    summary = summarize(frame, tree, int(cfg.forecast_periods),
                        discount_rate=float(cfg.discount_rate))
    summary["model_hash"] = model_hash("cohort", {})
    summary["data_hash"] = data_hash([path])
    _save_tree(tree, out / "posterior.nc", {
        "config": OmegaConf.to_container(cfg, resolve=True), "model_hash": summary["model_hash"],
        "data_hash": summary["data_hash"], "fit_for_forecasting": summary["fit_for_forecasting"],
    })
    write_json(out / "summary.json", summary)
    for name, value in summary["parameters"].items():
        print(f"  {name:>20}: {value['mean']:.3f} [{value['hdi_low']:.3f}, "
              f"{value['hdi_high']:.3f}], MLE {value['map']:.3f}")
    return summary


def run(cfg: DictConfig) -> dict:
    if cfg.model not in ("micro", "cohort"):
        fail(f"model = {cfg.model!r}: must be micro or cohort")
    out = run_dir()
    progress = bool(cfg.progress) and sys.stderr.isatty()
    try:
        summary = (run_micro if cfg.model == "micro" else run_cohort)(cfg, out, progress)
    except DataError as e:
        fail(str(e))
    except (FileNotFoundError, NotADirectoryError) as e:
        fail(f"cannot read the data: {e}")
    _loud(summary)
    print(f"  written to {out / 'summary.json'}")
    return summary


@hydra.main(config_path=str(config_dir()), config_name="fit", version_base="1.3")
def _main(cfg: DictConfig) -> None:
    run(cfg)


def main() -> None:
    """Console-script entry point."""
    _main()


if __name__ == "__main__":
    main()
