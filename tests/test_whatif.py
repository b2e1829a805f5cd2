"""What-if forecasting: exactness of the propagation, the importance weights against exact
simulation, sanity of the studies with common random numbers, and the ``cxsim-whatif`` app."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from apprun import run_app
from hydra import compose, initialize_config_dir
from omegaconf import open_dict
from scipy import stats

from cxsim.data.synthetic import observe, observe_replication
from cxsim.engine import Replication, simulate
from cxsim.forecast.propagate import propagate
from cxsim.forecast.run import run_study, summarise
from cxsim.forecast.study import Study, load_study, scenario_draws
from cxsim.spec import SpecError, compose_scenario, config_dir, theta_of, with_theta

ROOT = Path(__file__).resolve().parents[1]
STUDIES = sorted(p.stem for p in (ROOT / "configs" / "study").glob("*.yaml"))


def study_config(name: str, *overrides: str):
    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        return compose("whatif", overrides=[f"study={name}", *overrides])


def test_propagating_the_simulated_behaviour_reproduces_the_engine():
    """With the draw equal to the behaviour simulated, every weight is 1 and the figures are
    the engine's own, to rounding."""
    s = compose_scenario(["population.customers=3000", "replications=1", "seed=3"])
    result = simulate(s, keep_rows=True)
    draw = scenario_draws(s)
    out = propagate(observe(result, s), s, draw, draw)
    engine = result.replications[0].outcome_figures
    pairs = {"nps_population": "nps_population", "retention": "retention",
             "churn_rate": "churn_rate",
             "revenue": "revenue", "ltv": "ltv"}
    for ours, theirs in pairs.items():
        assert out.figures[ours][0] == pytest.approx(engine[theirs], rel=1e-9), ours
    assert out.ess[0] == pytest.approx(1.0)


def test_importance_weights_match_exact_simulation_of_another_behaviour():
    """Figures for behaviour theta_1 estimated from runs at theta_0 (reweighted churn paths)
    agree with runs at theta_1 itself, within the Monte Carlo error of the paired
    differences over replications (a small population: no queue-load feedback to speak of).
    Without the weights, retention would miss by ~6 points: the test would catch that."""
    s0 = compose_scenario(["population.customers=4000", "seed=11"])
    theta = theta_of(s0)
    moved = {k: v + 0.5 for k, v in theta.items() if k.startswith("churn_logit[")}
    moved.update({"memory": 0.45, "churn_relationship": 1.1, "resolved_bonus": 1.6})
    s1 = with_theta(s0, moved)
    target, reference = scenario_draws(s1), scenario_draws(s0)
    metrics = ("retention", "churn_rate", "nps_population", "ltv", "revenue", "ces_population")
    reps = 8
    diffs = {m: [] for m in metrics}
    naive = []
    for rep in range(reps):
        d0 = observe_replication(Replication(s0, rep, keep_rows=True).run(), s0)
        d1 = observe_replication(Replication(s1, rep, keep_rows=True).run(), s1)
        estimate = propagate(d0, s0, target, reference).figures
        exact = propagate(d1, s1, target, target).figures
        for m in metrics:
            diffs[m].append(estimate[m][0] - exact[m][0])
        naive.append(propagate(d0, s0, reference, reference).figures["retention"][0]
                     - exact["retention"][0])
    t = stats.t.ppf(1 - 0.001 / (2 * len(metrics)), reps - 1)  # 0.1% false alarms in all
    for m in metrics:
        d = np.array(diffs[m])
        assert abs(d.mean()) <= t * d.std(ddof=1) / np.sqrt(reps), (m, d)
    d = np.array(diffs["retention"])
    assert abs(np.mean(naive)) > 2 * t * d.std(ddof=1) / np.sqrt(reps)


def test_context_at_every_handoff_ends_repeats_and_does_not_lower_nps():
    study = load_study(study_config("single_customer_view", "population.customers=5000",
                                    "replications=2", "seed=5"))
    ds = run_study(study, None)
    f = ds["figures"]
    assert (f.sel(scenario="context_everywhere", metric="repeats_per_need") == 0).all()
    assert (f.sel(scenario="baseline", metric="repeats_per_need") > 0).all()
    delta = (f.sel(scenario="context_everywhere", metric="nps_population")
             - f.sel(scenario="baseline", metric="nps_population"))
    assert (delta >= 0).all(), delta.values  # paired by common random numbers


def test_more_agents_lower_the_mean_wait():
    s = compose_scenario(["horizon=35", "replications=2", "seed=9"])
    tps = dict(s.touchpoints)
    for name in ("phone_front", "chat_agents"):
        tps[name] = dataclasses.replace(tps[name], shifts=[
            dataclasses.replace(sh, agents=sh.agents + 1) for sh in tps[name].shifts])
    more = dataclasses.replace(s, touchpoints=tps)
    ds = run_study(Study(s, {"more_agents": more}, {}, "mean_wait"), None)
    wait = ds["figures"].sel(metric="mean_wait")
    assert (wait.sel(scenario="more_agents") < wait.sel(scenario="baseline")).all()
    cost = ds["figures"].sel(metric="staff_cost")
    assert (cost.sel(scenario="more_agents") > cost.sel(scenario="baseline")).all()


@pytest.mark.parametrize("name", STUDIES)
def test_the_sign_of_each_study_headline_is_stable_across_seeds(name):
    signs = {}
    for seed in (1, 2, 3):
        study = load_study(study_config(name, "population.customers=5000", "replications=1",
                                        f"seed={seed}"))
        doc = summarise(run_study(study, None))
        for scenario, figures in doc["scenarios"].items():
            signs.setdefault(scenario, set()).add(np.sign(figures[doc["headline"]]
                                                          ["delta_mean"]))
    assert all(len(s) == 1 and 0 not in s for s in signs.values()), signs


def test_a_change_naming_a_missing_key_is_refused():
    cfg = study_config("single_customer_view")
    with open_dict(cfg):
        cfg.whatif.scenarios.context_everywhere["handoffs.context_carry"] = 1.0
    with pytest.raises(SpecError, match="handoffs.context_carry"):
        load_study(cfg)


def run_whatif(*args: str, out: Path) -> subprocess.CompletedProcess:
    return run_app("whatif", *args, out=out, timeout=600)


SMALL = ("population.customers=3000", "horizon=63", "replications=2")


def test_whatif_app_with_a_posterior(short_fit: Path, tmp_path: Path):
    refused = run_whatif("study=simpler_returns", f"posterior={short_fit}", *SMALL,
                         out=tmp_path / "refused")
    assert refused.returncode == 2
    assert "not fit for forecasting" in refused.stderr and "Traceback" not in refused.stderr
    done = run_whatif("study=simpler_returns", f"posterior={short_fit}", "draws=40",
                      "force=true", *SMALL, out=tmp_path / "ok")
    assert done.returncode == 0, done.stderr
    doc = json.loads((tmp_path / "ok" / "whatif.json").read_text())
    required = ("nps_population", "ces_population", "csat_population", "retention",
                "churn_rate", "ltv", "revenue", "staff_cost", "mean_wait")
    for m in required:
        b = doc["baseline"][m]
        assert b["low"] <= b["mean"] <= b["high"], m
        for figures in doc["scenarios"].values():
            d = figures[m]
            assert d["delta_low"] <= d["delta_mean"] <= d["delta_high"]
            assert 0 <= d["p_improve"] <= 1
    assert set(doc["scenarios"]) == {"three_steps", "three_steps_and_store"}
    ds = xr.open_dataset(tmp_path / "ok" / "whatif.nc", engine="h5netcdf")
    assert dict(ds["figures"].sizes) == {"scenario": 3, "draw": 40, "metric": ds.sizes["metric"]}
    assert ds["retention"].dims == ("scenario", "draw", "period")
    assert ds["figures"].std("draw").sel(metric="nps_population").min() > 0  # behaviour uncertainty
    for png in ("deltas.png", "retention.png", "answers.png", "flow_baseline.png",
                "flow_three_steps.png"):
        assert (tmp_path / "ok" / png).read_bytes()[:4] == b"\x89PNG"


def test_whatif_app_without_a_posterior_uses_the_scenario(tmp_path: Path):
    done = run_whatif("study=bot_containment", *SMALL, out=tmp_path)
    assert done.returncode == 0, done.stderr
    doc = json.loads((tmp_path / "whatif.json").read_text())
    assert doc["behaviour"] == "scenario" and doc["draws"] == 2  # one per replication


@pytest.mark.parametrize("args, message", [
    (("experiment=erlang",), "no what-if study"),
    (("study=single_customer_view", "posterior=/nonexistent/posterior.nc"),
     "no such file"),
    (("study=single_customer_view", "whatif.headline=happiness"), "whatif.headline"),
])
def test_whatif_app_refuses_bad_input_cleanly(args, message, tmp_path: Path):
    done = run_whatif(*args, out=tmp_path)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr


def test_drivers_rank_levers_by_their_effect_on_ltv(tmp_path: Path):
    from cxsim.forecast.drivers import driver_table, levers
    from cxsim.plots.whatif import tornado

    s = compose_scenario(["population.customers=5000", "horizon=63", "replications=1"])
    names = set(levers(s))
    assert {"phone_front: agents", "chatbot: containment", "handoffs: context carried",
            "return_refund: procedure steps"} <= names
    pick = ["phone_front: first-contact resolution", "handoffs: context carried",
            "web_kb: containment"]
    table = driver_table(s, None, only=pick)
    assert sorted(table["lever"]) == sorted(pick)
    assert table["effect"].is_monotonic_decreasing
    fcr = table.set_index("lever").loc["phone_front: first-contact resolution"]
    assert fcr["down_mean"] < 0  # fewer needs solved first time: less value
    tornado(table, tmp_path / "drivers.png")
    assert (tmp_path / "drivers.png").read_bytes()[:4] == b"\x89PNG"


def test_each_scenario_keeps_its_own_unfitted_behaviour(short_fit: Path):
    """A posterior holds what the fit learned; survey rates and revenue stay each scenario's,
    so a change of survey frequency is a lever under a posterior too."""
    from cxsim.forecast.study import posterior_draws, read_posterior

    s = compose_scenario(["population.customers=1000"])
    draws = posterior_draws(read_posterior(short_fit), s, 5)
    assert "post_survey_prob" not in draws.values and "memory" in draws.values
    more = with_theta(s, {"post_survey_prob": 0.9})
    assert (draws.completed(theta_of(more)).values["post_survey_prob"] == 0.9).all()
    assert (draws.completed(theta_of(more)).values["memory"] == draws.values["memory"]).all()


def test_same_seed_same_numbers_bit_for_bit():
    study = load_study(study_config("evening_agents", "population.customers=1500",
                                    "horizon=35", "replications=2"))
    first, second = run_study(study, None), run_study(study, None)
    assert first.identical(second)
