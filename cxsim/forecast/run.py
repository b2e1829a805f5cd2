"""Run a study: simulate each scenario once per replication, propagate every draw, compare.

Scenarios share their seed, so each replication of every scenario draws from the same
streams (common random numbers): their differences are the change's, not chance's. Draw
``d`` is paired with replication ``d mod R``, so the spread over draws holds both the
behaviour's uncertainty and the simulation's. Without a posterior, the draws *are* the
replications of the scenario's own behaviour.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pandas as pd
import xarray as xr

from cxsim.data.synthetic import observe_replication
from cxsim.engine import Replication, report
from cxsim.engine.staffing import staffing_cost
from cxsim.forecast.propagate import METRICS, Draws, propagate
from cxsim.forecast.study import Study, scenario_draws
from cxsim.metrics import KPIS, derived, improves
from cxsim.progress import Progress
from cxsim.spec import Scenario, theta_of, with_theta

INTERVAL = (0.05, 0.95)  # the 90% interval reported
OPERATIONAL = ("mean_wait", "service_level")  # live queues, as in cxsim-simulate's metrics


def staff_cost(s: Scenario, cost_per_agent_hour: float, bot_cost_per_day: float) -> float:
    """The staffing cost per customer, so that it reads beside revenue and LTV."""
    return staffing_cost(s, cost_per_agent_hour, bot_cost_per_day) / s.population.customers


def simulate_scenario(s: Scenario, draws: Draws | None, costs: tuple[float, float],
                      on_replication: Callable[[], None] | None = None,
                      reference: dict[str, float] | None = None,
                      episodes: list[pd.DataFrame] | None = None) -> xr.Dataset:
    """Figures (draw, metric) and retention (draw, period) of scenario ``s``: simulated at the
    draws' mean behaviour (or ``reference``), each replication propagating the draws paired
    with it. The first replication's experience log is appended to ``episodes`` if given."""
    reps = s.replications
    if draws is None:
        own = scenario_draws(s)
        draws = Draws({k: np.repeat(v, reps) for k, v in own.values.items()}, own.anchor,
                      own.anchor_base)
        reference = own
    else:
        draws = draws.completed(theta_of(s))  # what the fit did not learn: this scenario's
        theta = draws.mean() if reference is None else reference
        reference = Draws({k: np.array([v]) for k, v in theta.items()}, draws.anchor,
                          draws.anchor_base)
        s = with_theta(s, theta)
    n = draws.size
    figures = np.full((n, len(METRICS)), np.nan)
    retention = ess = check_days = None
    answers: dict[str, list[np.ndarray]] = {"nps_answers": [], "ces_answers": []}
    for rep in range(reps):
        pick = np.arange(rep, n, reps)
        if pick.size == 0:
            continue
        result = Replication(s, rep, keep_rows=True).run()
        if episodes is not None and rep == 0:
            episodes.append(result.episodes)
        out = propagate(observe_replication(result, s), s, draws.take(pick), reference)
        queues = report.summarise(s, [result])  # operational: the load of the reference
        out.figures.update({k: queues.get(k, np.nan) for k in OPERATIONAL})
        if retention is None:
            retention = np.full((n, out.check_days.size), np.nan)
            ess, check_days = np.full(n, np.nan), out.check_days
        for j, name in enumerate(METRICS):
            if name in out.figures:
                figures[pick, j] = out.figures[name]
        retention[pick], ess[pick] = out.retention, out.ess
        for k, v in answers.items():
            v.append(getattr(out, k))
        if on_replication is not None:
            on_replication()
    figures[:, METRICS.index("staff_cost")] = staff_cost(s, *costs)
    more = derived({m: figures[:, j] for j, m in enumerate(METRICS)})  # registered KPIs
    figures = np.column_stack([figures, *more.values()]) if more else figures
    return xr.Dataset(
        {"figures": (("draw", "metric"), figures),
         "retention": (("draw", "period"), retention),
         "weights_ess": (("draw",), ess),
         **{k: ((k[:3],), np.concatenate(v).mean(axis=0)) for k, v in answers.items()}},
        coords={"draw": np.arange(n), "metric": [*METRICS, *more], "period": check_days,
                "nps": np.arange(11), "ces": np.arange(1, 8)},
    )


def run_study(study: Study, draws: Draws | None, cost_per_agent_hour: float = 30.0,
              bot_cost_per_day: float = 0.0, progress: bool = False,
              episodes: dict[str, pd.DataFrame] | None = None) -> xr.Dataset:
    """The study's ``whatif`` dataset: figures (scenario, draw, metric), retention (scenario,
    draw, period in days), the importance weights' effective sample size (scenario, draw),
    the answer distributions (scenario, answer). ``episodes``, if given, receives each
    scenario's first experience log (for :func:`cxsim.plots.whatif.journey_flow`)."""
    scenarios = {"baseline": study.baseline, **study.scenarios}
    total = sum(s.replications for s in scenarios.values())
    logs: list[pd.DataFrame] = []
    with Progress(total, "simulating scenarios", "replication", progress) as bar:
        parts = [simulate_scenario(s, draws, (cost_per_agent_hour, bot_cost_per_day),
                                   bar.update, episodes=logs)
                 for s in scenarios.values()]
    if episodes is not None:
        episodes.update(zip(scenarios, logs, strict=True))
    ds = xr.concat(parts, dim="scenario").assign_coords(scenario=list(scenarios))
    ds.attrs.update({
        "headline": study.headline,
        "changes": json.dumps(study.changes, default=str),
        "behaviour": "scenario" if draws is None else "posterior",
        # draw d was simulated in replication d mod R: the spread of the replications'
        # means is the Monte Carlo error of a change (monte_carlo)
        "replications": int(study.baseline.replications),
    })
    return ds


def summarise(ds: xr.Dataset) -> dict:
    """``whatif.json``: the baseline's figures (mean and 90% interval) and each scenario's
    change against it, draw by draw (mean, 90% interval, probability of improvement)."""
    lo, hi = INTERVAL
    base = ds["figures"].sel(scenario="baseline")
    doc: dict = {"headline": ds.attrs.get("headline"), "behaviour": ds.attrs.get("behaviour"),
                 "draws": int(ds.sizes["draw"]), "interval": 0.9, "baseline": {},
                 "scenarios": {}}
    for m in ds["metric"].values.tolist():
        x = base.sel(metric=m).values
        doc["baseline"][m] = {"mean": _num(x.mean()), "low": _num(np.quantile(x, lo)),
                              "high": _num(np.quantile(x, hi))}
    for name in ds["scenario"].values.tolist()[1:]:
        delta = ds["figures"].sel(scenario=name) - base
        doc["scenarios"][name] = {}
        for m in ds["metric"].values.tolist():
            d = delta.sel(metric=m).values
            better = (improves(m, d) if KPIS[m].higher_is_better is not None
                      and np.all(np.isfinite(d)) else None)  # no figure: no probability
            se, warning = monte_carlo(d, int(ds.attrs.get("replications", 1)))
            doc["scenarios"][name][m] = {
                "delta_mean": _num(d.mean()), "delta_low": _num(np.quantile(d, lo)),
                "delta_high": _num(np.quantile(d, hi)),
                "p_improve": None if better is None else _num(better.mean()),
                # exactly no change in every draw (a lever this metric does not see)
                "unchanged": bool(np.all(d == 0)),
                "mc_se": _num(se), "mc_warning": warning}
    doc["retention_days"] = ds["period"].values.tolist()
    doc["diagnostics"] = {"min_weights_ess": _num(ds["weights_ess"].min())}
    return doc


MIN_DRAWS = 20  # below this, P(improvement) moves in steps too coarse to read


def monte_carlo(delta: np.ndarray, replications: int) -> tuple[float, str | None]:
    """The Monte Carlo standard error of a change's mean - the spread of its means over the
    replications (draw ``d`` ran in replication ``d mod R``) over sqrt(R) - and, when that
    error or the number of draws is too large for the effect's size, a warning that says why.

    >>> se, why = monte_carlo(np.array([1.0, -1.0, 1.2, -0.8]), 2)
    >>> why.startswith("Monte Carlo error dominates")
    True
    >>> monte_carlo(np.zeros(40), 2)
    (0.0, None)
    """
    d = np.asarray(delta, float)
    if np.all(d == 0) or not np.all(np.isfinite(d)):
        return (0.0 if np.all(d == 0) else float("nan")), None
    means = np.array([d[r::replications].mean() for r in range(replications)
                      if d[r::replications].size])
    se = float(means.std(ddof=1) / np.sqrt(means.size)) if means.size > 1 else float("nan")
    effect = abs(float(d.mean()))
    if means.size < 2:
        return se, ("Monte Carlo error unknown: 1 replication cannot show how much the change "
                    "owes to chance; raise replications")
    if 2 * se >= effect:
        return se, (f"Monte Carlo error dominates: the replications' means disagree by "
                    f"{se:.3g} (standard error over {means.size} replications) against a "
                    f"change of {d.mean():+.3g}; raise replications (or population.customers)")
    if d.size < MIN_DRAWS:
        return se, (f"only {d.size} draws: P(improvement) moves in steps of {1 / d.size:.2f}; "
                    "raise draws")
    return se, None


def table(doc: dict) -> pd.DataFrame:
    """``whatif.csv``: one row per scenario and metric, the baseline's figure beside the
    change's mean, 90% interval, probability of improvement and Monte Carlo warning."""
    rows = []
    for name, metrics in doc["scenarios"].items():
        for m, d in metrics.items():
            b = doc["baseline"][m]
            rows.append({"scenario": name, "metric": m, "label": KPIS[m].label,
                         "unit": KPIS[m].unit, "baseline_mean": b["mean"],
                         "baseline_low": b["low"], "baseline_high": b["high"], **d})
    return pd.DataFrame(rows)


def _num(x: float) -> float | None:
    x = float(x)
    return round(x, 6) if np.isfinite(x) else None
