"""The engine against Erlang C (M/M/c) and Erlang A (M/M/c+M), through the normal config path.

Tolerances come from the engine's own reported 95% CI half-widths: each comparison allows
``Q`` standard errors, where ``Q`` is the two-sided Student-t quantile at a family-wise
false-alarm rate of 0.2% (Bonferroni over every comparison in this file).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from apprun import run_app
from erlang_reference import erlang_a
from scipy import stats

from cxsim.engine import simulate
from cxsim.spec import compose_scenario

REPS = 20
CASES = [  # agents, arrivals/min, services/min, abandonments/min, SL threshold (min)
    (10, 9.0, 1.0, 0.0, 1 / 3),  # Erlang C, rho 0.9
    (20, 18.6, 1.0, 0.0, 1 / 3),  # Erlang C, rho 0.93
    (1, 0.5, 1.0, 0.0, 0.5),  # M/M/1
    (10, 11.0, 1.0, 0.5, 1 / 3),  # Erlang A, overloaded (rho 1.1)
    (5, 4.5, 1.0, 0.2, 0.5),  # Erlang A, rho 0.9
    (20, 19.0, 1.0, 1.0, 0.1),  # Erlang A, rho 0.95, impatient
]
METRICS = ("p_wait", "mean_wait", "service_level", "abandon_rate")
N_COMPARISONS = len(CASES) * len(METRICS) + len(METRICS)  # + the command-line case
FAMILY_ALPHA = 0.002
T95 = stats.t.ppf(0.975, REPS - 1)
Q = stats.t.ppf(1 - FAMILY_ALPHA / (2 * N_COMPARISONS), REPS - 1)


def overrides(c, lam, mu, theta, sl, horizon=1.25, seed=7):
    # A quarter-day warm-up is several relaxation times even at rho 0.95 with few agents.
    return [
        "experiment=erlang",
        f"queue.agents={c}",
        f"queue.arrival_rate={lam}",
        f"queue.service_rate={mu}",
        f"queue.patience_rate={theta}",
        f"queue.sl_threshold={sl}",
        f"horizon={horizon}",
        "warmup=0.25",
        f"replications={REPS}",
        f"seed={seed}",
    ]


def check(metrics: dict, reference: dict) -> None:
    for name in METRICS:
        sim, half = metrics[name], metrics[f"{name}_ci"]
        if reference[name] == 0:
            assert sim == 0, name  # no patience: nobody abandons, exactly
            continue
        se = half / T95
        assert se > 0, name
        assert abs(sim - reference[name]) <= Q * se, (
            f"{name}: simulated {sim:.5f} ± {half:.5f} vs Erlang {reference[name]:.5f} "
            f"({(sim - reference[name]) / se:+.1f} se, allowed {Q:.1f})"
        )


@pytest.mark.parametrize(
    "index", range(len(CASES)), ids=["c{}-l{}-m{}-t{}-s{:.2f}".format(*c) for c in CASES]
)
def test_engine_matches_erlang(index):
    # One seed per case, so that the cases are independent checks rather than one draw of
    # common random numbers seen six times.
    c, lam, mu, theta, sl = CASES[index]
    result = simulate(compose_scenario(overrides(*CASES[index], seed=1000 + index)))
    check(result.metrics, erlang_a(c, lam, mu, theta, sl))


def test_command_line_writes_erlang_metrics(tmp_path: Path):
    """The documented command, end to end, in a fresh process."""
    c, lam, mu, theta, sl = 8, 7.2, 1.0, 0.3, 1 / 3
    out = tmp_path / "run"
    done = run_app("simulate", *overrides(c, lam, mu, theta, sl), out=out, timeout=300)
    assert done.returncode == 0, done.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    for name in METRICS:
        assert isinstance(metrics[name], float) and isinstance(metrics[f"{name}_ci"], float)
    check(metrics, erlang_a(c, lam, mu, theta, sl))
