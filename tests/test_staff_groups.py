"""Staffing a queue's agent groups: ``cxsim-staff`` staffs a queue with groups group by group
(``queue.group``), each for the contacts whose primary group it is (the first holding their
skill), in declaration order, with the groups before it at their requirement and their targets
kept (guards).

On the N-design of ``experiment=skills`` at 3 calls a minute the flexible group (holding both
skills) can carry every call: the generalists' requirement is then none, and the flexible
group's is what the whole load needs. The test checks the requirement against an independent
re-simulation with other seeds: no busy interval of either group significantly below the
target (Bonferroni over the intervals, family-wise 1%, as ``test_staff_app.py``).
"""

from __future__ import annotations

import dataclasses

import pytest
import yaml
from apprun import run_app
from scipy import stats

from cxsim.spec import compose_scenario
from cxsim.workforce import Targets
from cxsim.workforce.simulated import measure, simulated_requirement, staffed

REPS = 20
SMALL = ["experiment=skills", "queue.arrival_rate=3", "horizon=0.75", "warmup=0.25",
         f"replications={REPS}", "interval_min=60"]
TARGETS = Targets(service_level=0.8, sl_threshold=1 / 3)


def test_groups_staffed_one_after_another_meet_their_targets_with_other_seeds():
    s = compose_scenario(SMALL)
    first = simulated_requirement(s, "phone.generalists", TARGETS)
    s1 = staffed(s, {"phone.generalists": first.agents})
    second = simulated_requirement(s1, "phone.flexible", TARGETS, guards=["phone.generalists"])
    busy = slice(6, 18)  # Monday 06:00-18:00: the measured hours
    assert first.met[0, busy].all() and second.met[0, busy].all()
    both = staffed(s1, {"phone.flexible": second.agents})
    q = stats.t.ppf(1 - 0.01 / (2 * 2 * 12), REPS - 1)
    t95 = stats.t.ppf(0.975, REPS - 1)
    for unit in ("phone.generalists", "phone.flexible"):
        m = measure(dataclasses.replace(both, seed=99), unit)
        upper = m.mean["service_level"][0, busy] + q * m.half["service_level"][0, busy] / t95
        assert (upper >= TARGETS.service_level).all(), (unit, m.mean["service_level"][0, busy])
    # The flexible agents carry the load the two groups' Erlang C counts would split.
    total = first.agents[0, busy] + second.agents[0, busy]
    assert (total <= first.erlang_c[0, busy] + second.erlang_c[0, busy]).all()


def test_an_unknown_group_is_refused_with_the_key(tmp_path):
    done = run_app("staff", *SMALL, "queues=[phone.nobody]", out=tmp_path, timeout=120)
    assert done.returncode == 2
    assert "queues" in done.stderr and "phone.nobody" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow  # ~2 min: two group searches, two rosters and their repairs
def test_the_staffed_override_sets_each_groups_shifts_and_runs(tmp_path):
    out = tmp_path / "plan"
    done = run_app("staff", *SMALL, "time_limit_s=20", "figures=false", out=out, timeout=900)
    assert done.returncode == 0, done.stderr
    req = (out / "requirement.csv").read_text()
    assert "phone.generalists" in req and "phone.flexible" in req
    staffed_yaml = yaml.safe_load((out / "experiment" / "staffed.yaml").read_text())
    groups = staffed_yaml["touchpoints"]["phone"]["groups"]
    assert set(groups) == {"generalists", "flexible"}
    sim = run_app("simulate", "--config-dir", str(out), "experiment=staffed", "seed=5",
                  out=tmp_path / "sim", timeout=300)
    assert sim.returncode == 0, sim.stderr
