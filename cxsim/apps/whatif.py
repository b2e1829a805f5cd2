"""``cxsim-whatif``: compare a study's scenarios on NPS, CES, retention and value.

    cxsim-whatif study=NAME posterior=PATH draws=D hydra.run.dir=OUT
    cxsim-whatif study=NAME                 # the scenario's own behaviour, no posterior

Writes ``OUT/whatif.nc`` (figures: scenario x draw x metric; retention: scenario x draw x
period), ``OUT/whatif.json`` (the baseline's figures and each change's delta, 90% intervals,
probability of improvement) and figures (forest plot of the deltas, retention curves, answer
distributions, a journey flow diagram per scenario; with ``drivers=true`` the levers ranked
by their effect on LTV and a tornado plot). A posterior that failed its diagnostics, or that
another version of the model fitted, is refused unless ``force=true``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from cxsim.apps.common import console_script, fail, progress_of, run_dir, start, user_errors
from cxsim.fileio import atomic_write, finish_run, write_json

SHOWN = ("nps_population", "ces_population", "csat_population", "retention", "ltv",
         "staff_cost", "mean_wait")


def _draws(cfg: DictConfig, study):
    from cxsim.forecast.study import posterior_draws, read_posterior

    if not cfg.posterior:
        return None, {}
    post = read_posterior(cfg.posterior)
    problems = []
    if not post.fit_for_forecasting:
        problems.append("is marked not fit for forecasting (its fit failed its diagnostics)")
    if post.other_model:
        problems.append(f"was {post.other_model}")
    for problem in problems:
        if not cfg.force:
            fail(f"posterior {post.path} {problem}: fit again, or pass force=true to use it "
                 "anyway")
        print(f"cxsim-whatif: WARNING: using {post.path}, which {problem} (force=true)",
              file=sys.stderr)
    draws = posterior_draws(post, study.baseline, int(cfg.draws))
    return draws, {"posterior": str(post.path), "posterior_model_hash": post.model_hash}


def _delta(m: str, x: float | None) -> str:
    from cxsim.metrics import KPIS

    if x is None:
        return "n/a"
    k = KPIS[m]
    return f"{100 * x:+.2f} pp" if k.percent else f"{x:+.{k.digits}f}"


def _print(doc: dict, out: Path, currency: str) -> None:
    """Per scenario, each shown metric: the baseline, the change with its 90% interval and
    P(improvement) ("unchanged" when no draw moved it), then the Monte Carlo warnings."""
    from cxsim.metrics import KPIS, unit_text

    base = doc["baseline"]
    print(f"\nwhat-if ({doc['behaviour']} behaviour, {doc['draws']} draws): each change "
          "against the baseline, mean [90% interval], P(improvement)")
    warnings = []
    for name, figures in doc["scenarios"].items():
        print(f"\n  {name}")
        for m in SHOWN:
            d, k = figures[m], KPIS[m]
            label = f"{k.label} ({unit_text(m, currency)})"
            if d["unchanged"]:
                change, p = "0 (unchanged in every draw)", ""
            else:
                change = (f"{_delta(m, d['delta_mean'])} [{_delta(m, d['delta_low'])}, "
                          f"{_delta(m, d['delta_high'])}]")
                p = "" if d["p_improve"] is None else f"P+ {d['p_improve']:.2f}"
            line = f"    {label[:52]:<52} {k.format(base[m]['mean']):>9}  {change:<34} {p}"
            print(line.rstrip())
            if d["mc_warning"] and m in SHOWN:
                warnings.append(f"{name}, {m}: {d['mc_warning']}")
    for w in warnings:
        print(f"cxsim-whatif: WARNING: {w}", file=sys.stderr)
    if "drivers" in doc:
        print("\nlevers ranked by their effect on lifetime value per customer "
              f"({currency}; each moved down and up by {doc['driver_step']:.0%}):")
        for row in doc["drivers"]:
            print(f"    {row['lever']:<40} down {_fmt(row['down_mean'], True):>9}   "
                  f"up {_fmt(row['up_mean'], True):>9}")
    where = out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out
    print(f"\nheadline: {doc['headline']}; written to {where / 'whatif.json'} and "
          f"{where / 'whatif.csv'}")


def _fmt(x: float | None, sign: bool = False) -> str:
    if x is None or x != x:  # NaN: a lever move the scenario refused
        return "n/a"
    return f"{x:+.4g}" if sign else f"{x:.4g}"


def run(cfg: DictConfig) -> dict:
    from cxsim.forecast.run import run_study, summarise, table
    from cxsim.forecast.study import load_study
    from cxsim.plots import whatif as plots

    with user_errors("invalid study: "):
        study = load_study(cfg)
        draws, source = _draws(cfg, study)
    if cfg.draws < 1:
        fail(f"draws = {cfg.draws}: must be at least 1")
    out = run_dir()
    start(out, ("whatif.nc", "whatif.json", "whatif.csv", "drivers.csv", "*.png"))
    progress = progress_of(cfg)
    scenarios = ", ".join(["baseline", *study.scenarios])
    print(f"cxsim-whatif: {scenarios}; {study.baseline.population.customers} customers, "
          f"{study.baseline.horizon:g} days, {study.baseline.replications} replications")
    logs: dict = {}
    ds = run_study(study, draws, float(cfg.cost_per_agent_hour), float(cfg.bot_cost_per_day),
                   progress, episodes=logs)
    ds.attrs.update({**source,
                     "config": json.dumps(OmegaConf.to_container(cfg, resolve=True))})
    atomic_write(out / "whatif.nc", lambda tmp: ds.to_netcdf(tmp, engine="h5netcdf"))
    doc = summarise(ds)
    doc.update(source)
    if cfg.drivers:
        from cxsim.forecast.drivers import driver_table

        drivers = driver_table(study.baseline, draws, float(cfg.driver_step), progress)
        atomic_write(out / "drivers.csv", lambda tmp: drivers.to_csv(tmp, index=False))
        plots.tornado(drivers, out / "drivers.png", step=float(cfg.driver_step),
                      currency=str(cfg.currency))
        doc["drivers"] = drivers.to_dict(orient="records")
        doc["driver_step"] = float(cfg.driver_step)
    write_json(out / "whatif.json", doc)
    frame = table(doc)
    atomic_write(out / "whatif.csv", lambda tmp: frame.to_csv(tmp, index=False))
    plots.forest(ds, out / "deltas.png", currency=str(cfg.currency))
    plots.retention_curves(ds, out / "retention.png")
    plots.answer_distributions(ds, out / "answers.png")
    for name, episodes in logs.items():
        plots.journey_flow(episodes, out / f"flow_{name}.png", title=f"Where customers go: "
                           f"{name.replace('_', ' ')} (replication 0)")
    finish_run(out)  # last: only now does the run look finished
    _print(doc, out, str(cfg.currency))
    return doc


HELP = """\
cxsim-whatif: compare a study's scenarios (experiments/NAME.yaml) with its baseline on NPS,
CES, CSAT, retention, value, staff cost and waits, under the draws of a fitted posterior:
each change's mean, 90% interval and probability of improvement (whatif.json, whatif.csv,
figures).

Main keys (key=value; configs/whatif.yaml and the scenario of cxsim-simulate):
  study=NAME                   bot_containment, chat_24_7, evening_agents, simpler_returns,
                               single_customer_view (or a study of your own: docs/whatif.md)
  posterior=outputs/fit/posterior.nc draws=200     the fit to propagate (none: the scenario's)
  drivers=true driver_step=0.2 also rank the levers that move lifetime value
  currency=EUR  population.customers=N  replications=N  progress=false  hydra.run.dir=DIR

Example:
  cxsim-whatif study=single_customer_view posterior=outputs/fit/posterior.nc draws=200
"""

main = console_script("whatif", run, HELP)


if __name__ == "__main__":
    main()
