"""What-if benchmark: the cost of a posterior forecast, and its accuracy against exact runs.

    python benchmarks/whatif.py [--posterior PATH] [--draws 200] [--exact 8] [--quick]

1. Cost. Wall time of a 2-scenario, 200-draw forecast (``study=single_customer_view``:
   baseline and one change, the default population of 40,000 customers over 91 days, 3
   replications) divided by the wall time of ONE simulation of the baseline scenario (same
   population, same replications), measured in the same run (single runs before and after
   the forecast, averaged). Target: <= 5.
2. Accuracy of the shortcut. The forecast simulates each scenario once, at the posterior
   mean, and reweights every customer's churn path for each draw (importance weights,
   :mod:`cxsim.forecast.propagate`): the queue load stays the mean's. For ``--exact`` draws
   spread over the posterior, the baseline is also simulated *at that draw* (every
   replication), and each figure's discrepancy (shortcut - exact, paired by replication) is
   reported beside the Monte Carlo standard error of that difference and the posterior sd
   of the figure: what the shortcut costs in accuracy, next to what we are unsure of anyway.

Without ``--posterior`` the bundled example is fitted first (2 chains x 500 draws, not
timed). Always exits 0; the verdict is printed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TARGET = 5.0
STUDY = "single_customer_view"
SHOWN = ("nps_population", "ces_population", "csat_population", "retention", "churn_rate",
         "ltv", "revenue", "mean_wait")


def fit_example(out: Path) -> Path:
    cmd = [sys.executable, "-m", "cxsim.apps.fit", "sampler.draws=500", "sampler.tune=500",
           "sampler.chains=2", "progress=false", f"hydra.run.dir={out}"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"fit failed:\n{done.stderr[-2000:]}")
    return out / "posterior.nc"


def load(posterior: Path, draws: int, overrides: list[str]):
    from hydra import compose, initialize_config_dir

    from cxsim.forecast.study import load_study, posterior_draws, read_posterior
    from cxsim.spec import config_dir

    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        cfg = compose("whatif", overrides=[f"study={STUDY}", *overrides])
    study = load_study(cfg)
    return study, posterior_draws(read_posterior(posterior), study.baseline, draws)


def timing(study, draws) -> tuple[dict[str, float], object]:
    from cxsim.engine import simulate
    from cxsim.forecast.run import run_study
    from cxsim.spec import with_theta

    baseline = with_theta(study.baseline, draws.mean())
    t0 = time.perf_counter()
    simulate(baseline)
    t1 = time.perf_counter()
    ds = run_study(study, draws)
    t2 = time.perf_counter()
    simulate(baseline)
    t3 = time.perf_counter()
    single = ((t1 - t0) + (t3 - t2)) / 2
    return {"single": single, "forecast": t2 - t1, "ratio": (t2 - t1) / single}, ds


def accuracy(study, draws, n_exact: int) -> dict[str, dict[str, float]]:
    """Shortcut vs exact simulation at ``n_exact`` draws, paired by replication."""
    from cxsim.forecast.run import simulate_scenario
    from cxsim.spec import with_theta

    s = study.baseline
    reps = s.replications
    pick = np.unique(np.linspace(0, draws.size - 1, n_exact).round().astype(int))
    mean = draws.mean()
    diffs = []
    for k in pick:
        one = draws.take(np.full(reps, k))  # the same draw, once per replication
        short = simulate_scenario(s, one, (0.0, 0.0), reference=mean)["figures"]
        theta = {**{n: float(v[k]) for n, v in draws.values.items()},
                 f"satisfaction_base[{draws.anchor}]": draws.anchor_base}
        exact = simulate_scenario(with_theta(s, theta), one, (0.0, 0.0),
                                  reference=theta)["figures"]
        diffs.append((short - exact).values)  # (reps, metric)
        print(f"  exact run at draw {k} done", flush=True)
    d = np.stack(diffs)  # (draws, reps, metric)
    metrics = short["metric"].values.tolist()
    return {m: {"mean": float(d[..., j].mean()),
                "se": float(d[..., j].std(ddof=1) / np.sqrt(d[..., j].size)),
                "max_abs": float(np.abs(d[..., j].mean(axis=1)).max())}
            for j, m in enumerate(metrics)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posterior", type=Path, default=None)
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--exact", type=int, default=8, help="draws checked by exact simulation")
    ap.add_argument("--quick", action="store_true", help="8,000 customers: a smoke test")
    args = ap.parse_args()
    os.environ.setdefault("MPLBACKEND", "Agg")
    overrides = ["population.customers=8000"] if args.quick else []
    with tempfile.TemporaryDirectory() as tmp:
        posterior = args.posterior or fit_example(Path(tmp) / "fit")
        study, draws = load(posterior, args.draws, overrides)
        s = study.baseline
        print(f"what-if benchmark: {STUDY}, {s.population.customers:,} customers, "
              f"{s.horizon:g} days, {s.replications} replications, {draws.size} draws; "
              f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        t, ds = timing(study, draws)
        verdict = "MET" if t["ratio"] <= TARGET else "MISSED"
        print(f"\n1. cost: one simulation {t['single']:.1f} s; 2-scenario {draws.size}-draw "
              f"forecast {t['forecast']:.1f} s -> ratio {t['ratio']:.2f} "
              f"(target <= {TARGET:g}: {verdict})")
        posterior_sd = ds["figures"].sel(scenario="baseline").std("draw")
        acc = accuracy(study, draws, args.exact)
    print(f"\n2. accuracy of the shortcut against exact simulation at {args.exact} draws x "
          f"{s.replications} replications (shortcut - exact)")
    print(f"{'figure':>12} {'mean diff':>12} {'MC s.e.':>10} {'max |diff|':>11} "
          f"{'posterior sd':>13} {'mean/sd':>8}")
    for m in SHOWN:
        a = acc[m]
        psd = float(posterior_sd.sel(metric=m))
        ratio = abs(a["mean"]) / psd if psd > 0 else float("nan")
        print(f"{m:>12} {a['mean']:>12.4g} {a['se']:>10.3g} {a['max_abs']:>11.4g} "
              f"{psd:>13.4g} {ratio:>8.2f}")


if __name__ == "__main__":
    main()
