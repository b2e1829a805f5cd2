"""Skills-based routing (agent groups) against an independent reference simulator.

``tests/skills_reference.py`` is an event-list simulation written for the tests, sharing no
code with the engine. The cases: an N-design (generalists hold one skill, a flexible group
both, preferring the other) under both routing policies, and an overflow chain with
abandonment. Each figure must agree within ``Q`` standard errors, the engine's (its reported
95% half-width over replications / t) and the reference's (over independent batches)
combined, ``Q`` the normal quantile at a family-wise 0.2% over the file's comparisons. A
single skill held by one group runs the general path and must give the FIFO path's figures
exactly (the same customers served at the same times).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hydra.errors import ConfigCompositionException
from scipy import stats
from skills_reference import Group, simulate_skills

from cxsim.engine import simulate
from cxsim.engine.stats import F
from cxsim.spec import SpecError, compose_scenario

REPS = 10
T95 = stats.t.ppf(0.975, REPS - 1)
N_COMPARISONS = 3 * 6  # cases x (2 skills x 2 figures + 2 groups' occupancy)
Q = stats.norm.ppf(1 - 0.002 / (2 * N_COMPARISONS))
RATES = {"general": 4.8, "billing": 3.2}  # experiment=skills: 8 a minute, 60/40


def group(name: str, agents: int) -> str:
    return (f"touchpoints.phone.groups.{name}.shifts="
            f"[{{start_hour:0,end_hour:24,agents:{agents}}}]")


def engine(*overrides: str, seed: int) -> dict:
    s = compose_scenario(["experiment=skills", "horizon=1.25", "warmup=0.25",
                          f"replications={REPS}", f"seed={seed}", *overrides])
    return simulate(s).metrics["touchpoints"]["phone"]


def reference(groups: list[Group], theta: float = 0.0, policy: str = "group_order",
              batches: int = 6) -> tuple[dict, dict]:
    rng = np.random.default_rng(99)
    runs = [simulate_skills(RATES, groups, 1.0, 3 * 1440, rng, theta=theta, policy=policy,
                            warmup_min=360) for _ in range(batches)]

    def stat(get):
        x = np.array([get(r) for r in runs])
        return float(x.mean()), float(x.std(ddof=1) / math.sqrt(batches))

    out = {}
    for skill in RATES:
        for fig in ("mean_wait", "p_wait", "abandon_rate"):
            out[(fig, skill)] = stat(lambda r, s=skill, f=fig: r[s][f])
    for k in range(len(groups)):
        out[("occupancy", k)] = stat(lambda r, k=k: r["occupancy"][k])
    return out


def compare(m: dict, ref: dict, group_names: list[str]) -> None:
    checks = []
    for skill in RATES:
        checks += [(f"mean_wait_by_skill.{skill}", m["mean_wait_by_skill"][skill],
                    m["mean_wait_by_skill_ci"][skill], *ref[("mean_wait", skill)]),
                   (f"p_wait_by_skill.{skill}", m["p_wait_by_skill"][skill],
                    m["p_wait_by_skill_ci"][skill], *ref[("p_wait", skill)])]
    for k, g in enumerate(group_names):
        checks.append((f"occupancy_by_group.{g}", m["occupancy_by_group"][g],
                       m["occupancy_by_group_ci"][g], *ref[("occupancy", k)]))
    for name, sim, half, exact, ref_se in checks:
        se = math.hypot(half / T95, ref_se)
        assert abs(sim - exact) <= Q * se, (
            f"{name}: engine {sim:.4f} ± {half:.4f} vs reference {exact:.4f} ± {ref_se:.4f} "
            f"se ({(sim - exact) / se:+.1f} se, allowed {Q:.1f})")


N_DESIGN = [Group(5, ("general",)), Group(5, ("billing", "general"))]


@pytest.mark.parametrize("policy", ["group_order", "longest_idle"])
def test_n_design_against_the_reference(policy):
    m = engine(f"touchpoints.phone.routing={policy}", seed=11 if policy == "group_order" else 12)
    compare(m, reference(N_DESIGN, policy=policy), ["generalists", "flexible"])


def test_overflow_after_a_delay_with_abandonment_against_the_reference():
    # Generalists (4) alone cannot carry 4.8 calls a minute: after 30 s a general call may go
    # to the billing group too, which takes it after its own billing calls.
    m = engine(group("generalists", 4), "touchpoints.phone.groups.flexible.skills=[billing]",
               "touchpoints.phone.groups.generalists.overflow_to=flexible",
               "touchpoints.phone.groups.generalists.overflow_after_s=30",
               "queue.patience_rate=0.5", seed=13)
    ref = reference([Group(4, ("general",), overflow_to=1, after=0.5), Group(5, ("billing",))],
                    theta=0.5)
    compare(m, ref, ["generalists", "flexible"])
    assert m["abandonment_by_skill"]["general"] > 0.02  # the overflow case is loaded


def test_one_skill_through_the_general_path_gives_the_fifo_figures_exactly():
    base = ["experiment=erlang", "queue.arrival_rate=9", "queue.patience_rate=0.3",
            "horizon=1", "warmup=0.2", "replications=3", "seed=4"]
    fifo = simulate(compose_scenario(base)).metrics
    routed = simulate(compose_scenario([
        *base, "touchpoints.phone.shifts=[]", "touchpoints.phone.skills.default=any",
        "+touchpoints.phone.groups={team:{skills:[any],shifts:[{agents:10}]}}"])).metrics
    phone = routed["touchpoints"]["phone"]
    for key in [k for k in phone if k.endswith(("_by_skill", "_by_group", "_skill_ci",
                                                "_group_ci"))]:
        phone.pop(key)
    groups = routed["by_interval"]["phone"].pop("groups")
    for key in ("volume", "mean_wait", "occupancy"):  # one group answers for every call
        assert groups["team"][key] == fifo["by_interval"]["phone"][key]
    assert routed == fifo


def test_every_call_is_counted_once_by_skill_and_once_by_group():
    s = compose_scenario(["experiment=skills", "horizon=1", "warmup=0.2", "replications=2",
                          "queue.patience_rate=0.4", "seed=3"])
    result = simulate(s)
    for rep in result.replications:
        skills, groups, primary = rep.group_sums["phone"]
        g = rep.touchpoint_sums[0].sum(axis=-1)
        assert skills[:, 0].sum() == g[F["arrivals"]]
        assert skills[:, 4].sum() == g[F["served"]] == groups[:, 0].sum()
        assert skills[:, 3].sum() == g[F["abandoned"]]
        assert groups[:, 1:].sum() == pytest.approx(g[F["busy_sum"]], rel=1e-9)
        # Every contact counts once for its primary group, in its interval of arrival.
        for field in ("arrivals", "served", "abandoned", "waited", "within_sl"):
            assert np.array_equal(primary[:, F[field]].sum(axis=0),
                                  rep.touchpoint_sums[0][F[field]]), field
        assert primary[:, F["wait_sum"]].sum() == pytest.approx(g[F["wait_sum"]], rel=1e-9)


@pytest.mark.parametrize("overrides, key", [
    (["touchpoints.phone.skills.map.billing=tax"], "touchpoints.phone.skills.map.billing"),
    (["touchpoints.phone.skills.default=null"], "touchpoints.phone.skills.default"),
    (["touchpoints.phone.groups.generalists.overflow_to=flexible",
      "touchpoints.phone.groups.flexible.overflow_to=generalists"],
     "touchpoints.phone.groups.flexible.overflow_to"),
    (["touchpoints.phone.groups.generalists.overflow_to=nobody"],
     "touchpoints.phone.groups.generalists.overflow_to"),
    (["touchpoints.phone.shifts=[{agents:2}]"], "touchpoints.phone.shifts"),
    (["touchpoints.phone.routing=random"], "touchpoints.phone.routing"),
    (["touchpoints.phone.groups.flexible.skills=[]"], "touchpoints.phone.groups.flexible.skills"),
    (["touchpoints.phone.groups.flexible.overflow_after_s=-1"],
     "touchpoints.phone.groups.flexible.overflow_after_s"),
    (["touchpoints.phone.callback.offer_wait_s=30"], "touchpoints.phone.callback.offer_wait_s"),
    (["touchpoints.phone.groups.flexible.shifts=[{start_hour:7.51,agents:2}]"],
     "touchpoints.phone.groups.flexible.shifts[0].start_hour"),
])
def test_malformed_routing_is_refused_with_the_key(overrides, key):
    with pytest.raises(SpecError) as err:
        compose_scenario(["experiment=skills", *overrides])
    assert err.value.key == key, str(err.value)


def test_fractional_agents_are_refused_while_composing():
    with pytest.raises(ConfigCompositionException) as err:
        compose_scenario(["experiment=skills",
                          "touchpoints.phone.groups.flexible.shifts=[{agents:2.5}]"])
    assert "2.5" in str(err.value.__cause__) and "agents" in str(err.value.__cause__)
