"""``cxsim-fit``: the micro-data model end to end, its refusals, and parameter recovery.

The default suite fits the bundled example with few draws (checking the outputs and that such
a short run is *not* reported as fine); the recovery study is marked slow.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from apprun import run_app
from scipy import stats

from cxsim.data.synthetic import example_path


def run_fit(*args: str, out: Path) -> subprocess.CompletedProcess:
    return run_app("fit", *args, out=out)


def test_fit_writes_summary_posterior_and_plots(short_fit: Path):
    import arviz as az

    summary = json.loads((short_fit / "summary.json").read_text())
    truth = json.loads((example_path() / "truth.json").read_text())["parameters"]
    assert set(summary["parameters"]) - {"churn_mu", "churn_between"} <= set(truth)
    for value in summary["parameters"].values():
        assert value["hdi_low"] <= value["mean"] <= value["hdi_high"] and value["sd"] > 0
    assert set(summary["diagnostics"]) == {"max_rhat", "min_ess_bulk", "divergences",
                                           "divergences_allowed"}
    for name in ("nps", "ces", "csat"):
        pop = summary["population"][name]
        assert pop["hdi_low"] <= pop["mean"] <= pop["hdi_high"]
        assert summary["respondents"][name] is not None
    tree = az.from_netcdf(short_fit / "posterior.nc")
    assert tree.attrs["model_hash"] == summary["model_hash"]
    assert json.loads(tree.attrs["config"])["model"] == "micro"
    for png in ("ppc_answers.png", "ppc_retention.png"):
        assert (short_fit / png).read_bytes()[:4] == b"\x89PNG"


def test_a_short_fit_is_never_reported_as_fine(short_fit: Path):
    summary = json.loads((short_fit / "summary.json").read_text())
    d = summary["diagnostics"]
    failing = (d["max_rhat"] > 1.01 or d["min_ess_bulk"] < 200
               or d["divergences"] > d["divergences_allowed"])  # the rule at 2 chains
    assert failing  # 2 x 150 draws cannot reach a bulk ESS of 400 on every parameter
    assert summary["fit_for_forecasting"] is False and summary["failed_checks"]
    import arviz as az

    tree = az.from_netcdf(short_fit / "posterior.nc")
    assert json.loads(tree.attrs["fit_for_forecasting"]) is False


@pytest.mark.parametrize("damage,needle", [
    (lambda d: (d / "surveys.csv").write_text(
        (d / "surveys.csv").read_text().replace(",1,,4,4\n", ",1,,9,4\n", 1)), "ces"),
    (lambda d: (d / "episodes.csv").unlink(), "episodes.csv"),
    (lambda d: (d / "customers.csv").write_bytes(b"\xff\xfe\x00bad"), "customers.csv"),
])
def test_bad_data_is_refused_before_sampling(tmp_path: Path, damage, needle):
    data = tmp_path / "data"
    data.mkdir()
    for f in example_path().iterdir():
        (data / f.name).write_bytes(f.read_bytes())
    damage(data)
    done = run_fit(f"data.dir={data}", out=tmp_path / "out")
    assert done.returncode == 2, done.stderr
    assert needle in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out" / "posterior.nc").exists()


def test_cohort_model_from_the_command_line(tmp_path: Path):
    done = run_fit("model=cohort", "forecast_periods=3", "sampler.draws=300",
                   "sampler.tune=300", "sampler.chains=2", out=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert {"alpha[high_end]", "beta[regular]"} <= set(summary["parameters"])
    proj = summary["projection"]["regular"]
    assert len(proj["period"]) == len(proj["surviving_mean"]) == 13 + 3


# -- parameter recovery (slow: four fits) ------------------------------------------------------

@pytest.mark.slow
def test_parameter_recovery_two_seeds_two_sizes():
    """94% HDIs cover the truth at their nominal rate; they shrink as data grow; the
    bias-corrected population NPS covers the simulated one. The allowance is the issue's
    binomial one, which takes the 176 intervals as independent; the misses of one fit cluster
    (design effect 1.4-2.7, measured by benchmarks/recovery.py over 24 data sets)."""
    from cxsim.calibrate.micro.fit import FitSettings, fit_micro
    from cxsim.data.synthetic import observe
    from cxsim.engine import simulate
    from cxsim.spec import compose_scenario

    checks, misses, widths, nps_cover = 0, [], {}, []
    for size in (2000, 8000):
        for seed in (101, 202):
            s = compose_scenario([f"population.customers={size}", "horizon=91",
                                  "replications=1", f"seed={seed}"])
            result = simulate(s, keep_rows=True)
            data = observe(result, s)
            _, summary = fit_micro(data, FitSettings(draws=1000, tune=1000, chains=4,
                                                     seed=seed, progress=False))
            truth = data.truth["parameters"]
            for name, v in summary["parameters"].items():
                if name in truth:
                    checks += 1
                    if not v["hdi_low"] <= truth[name] <= v["hdi_high"]:
                        misses.append((size, seed, name))
                    widths.setdefault((size, name), []).append(v["hdi_high"] - v["hdi_low"])
            pop = summary["population"]["nps"]
            nps_cover.append(pop["hdi_low"] <= result.metrics["nps_population"]
                             <= pop["hdi_high"])
    allowed = stats.binom.ppf(0.99, checks, 0.06)
    print(f"\nrecovery: {len(misses)} misses of {checks} 94% HDIs (allowed {allowed:.0f}): "
          f"{misses}; population NPS covered {sum(nps_cover)}/4")
    assert len(misses) <= allowed, (len(misses), allowed, misses)
    names = {name for _, name in widths}
    shrink = [np.mean(widths[(8000, n)]) < np.mean(widths[(2000, n)]) for n in names]
    print(f"recovery: intervals narrower at 8000 than 2000 customers for "
          f"{np.mean(shrink):.0%} of parameters")
    assert np.mean(shrink) > 0.9, shrink
    assert sum(nps_cover) >= 3, nps_cover  # 4 intervals at 94%: 3 or more cover w.p. 0.98
