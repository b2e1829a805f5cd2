"""``cxsim-staff`` end to end: the roster meets its targets when simulated again, its cost is
within the solver's gap of the integer programme's bound, the scenario override runs in
``cxsim-simulate`` as is; infeasible targets and rules are reported or refused (exit 2, no
traceback, nothing written)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from apprun import run_app
from scipy import stats

# A queue open on Mondays, measured 06:00-24:00 in hourly intervals: small, but every step
# runs (the roster covers one day).
SMALL = ("experiment=erlang", "queue.arrival_rate=1.5", "queue.service_rate=0.2",
         "touchpoints.phone.shifts=[{start_hour:0,end_hour:24,agents:10,days:mon}]",
         "targets.service_level=0.8", "targets.threshold_s=20", "interval_min=60",
         "horizon=1", "warmup=0.25", "replications=20", "figures=true", "time_limit_s=20")


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    out = tmp_path_factory.mktemp("staff")
    done = run_app("staff", *SMALL, out=out, timeout=600)
    assert done.returncode == 0, done.stderr
    return out, done


@pytest.mark.slow  # ~45 s: a requirement search, a roster and its repairs
def test_the_plan_is_written_and_the_roster_meets_targets_within_the_gap(plan):
    out, done = plan
    for name in ("requirement.csv", "roster.csv", "staffing.json", "experiment/staffed.yaml",
                 "agents_phone.png", "targets_phone.png", "tradeoff.png"):
        assert (out / name).exists(), name
    req = pd.read_csv(out / "requirement.csv")
    assert list(req.columns[:6]) == ["weekday", "interval_start_min", "group", "agents",
                                     "erlang_c", "erlang_a"]
    assert len(req) == 7 * 24
    doc = json.loads((out / "staffing.json").read_text())
    q = doc["queues"]["phone"]
    assert q["intervals_not_met"] == []
    r = q["roster"]
    assert r["targets_met_in_resimulation"]
    # The cost is within the stopping gap (mip_gap 1%) of HiGHS's proven lower bound.
    assert r["gap"] <= 0.01 + 1e-9 and r["cost_per_week"] >= r["bound"] - 1e-6
    assert r["cost_per_week"] <= 1.02 * r["bound"]
    roster = pd.read_csv(out / "roster.csv")
    assert (roster["cost"].sum()) == pytest.approx(r["cost_per_week"])
    assert "roster" in done.stdout and "gap" in done.stdout


@pytest.mark.slow
def test_the_override_runs_as_is_and_holds_with_other_seeds(plan, tmp_path):
    out, _ = plan
    reps = 20
    sim = run_app("simulate", "--config-dir", str(out), "experiment=staffed", "seed=99",
                  out=tmp_path, timeout=600)
    assert sim.returncode == 0, sim.stderr
    b = json.loads((tmp_path / "metrics.json").read_text())["by_interval"]["phone"]
    doc = json.loads((out / "staffing.json").read_text())
    # Every measured interval with calls: not significantly below the target (Bonferroni over
    # the intervals, family-wise 1%) in this independent re-simulation of the roster.
    busy = [i for i, v in enumerate(b["volume"]) if v and b["window_min"][i] == 60]
    assert len(busy) == 18
    q = stats.t.ppf(1 - 0.01 / (2 * len(busy)), reps - 1)
    t95 = stats.t.ppf(0.975, reps - 1)
    for i in busy:
        upper = b["service_level"][i] + q * b["service_level_ci"][i] / t95
        assert upper >= doc["targets"]["service_level"], i
    sl = np.array([b["service_level"][i] for i in busy])
    assert sl.mean() >= 0.8


def test_unreachable_targets_are_reported_per_interval(tmp_path):
    done = run_app("staff", *SMALL[:4], "targets.service_level=1", "targets.threshold_s=0",
                   "interval_min=60", "horizon=0.5", "warmup=0.25", "replications=2",
                   "figures=false", out=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr
    doc = json.loads((tmp_path / "staffing.json").read_text())
    missed = doc["queues"]["phone"]["intervals_not_met"]
    assert len(missed) == 6  # 06:00-12:00 on Monday, every measured interval
    assert missed[0] == {"weekday": "mon", "interval_start_min": 360, "reason":
                         "service_level 1 within 0 min is unreachable: some calls always "
                         "wait longer"}


@pytest.mark.parametrize("args, message", [
    (("shift_types.full.length_min=1500",), "shift_types.full.length_min = 1500"),
    (("targets.service_level=1.5",), "targets.service_level must be a number in [0.0, 1.0]"),
    (("queues=[nope]",), "queues = 'nope': no agent queue"),
    (("shift_types.full.days=sat", "shift_types.part.days=sat"),
     "no shift type covers mon 00:00-01:00"),
])
def test_bad_rules_are_refused_with_the_key_and_nothing_is_written(tmp_path, args, message):
    done = run_app("staff", "experiment=erlang", "horizon=0.5", "warmup=0.25",
                   "replications=2", "interval_min=60", *args, out=tmp_path, timeout=600)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "staffing.json").exists()
    assert not (tmp_path / "requirement.csv").exists()
