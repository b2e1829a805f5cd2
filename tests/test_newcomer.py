"""Issue 17, the newcomer's path: each of its eight findings tried again as written there.

The README's story itself (finding 1, end to end) is tests/test_readme_story.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from apprun import run_app

from cxsim.calibrate.check import diagnostics_gates
from cxsim.calibrate.diagnostics import advice, allowed_divergences, diagnose
from cxsim.spec import SpecError, compose_scenario
from cxsim.spec.config import Thresholds

ROOT = Path(__file__).resolve().parents[1]


def _stats(divergent: int, chains: int = 4, draws: int = 1000) -> xr.Dataset:
    d = np.zeros(chains * draws, bool)
    d[:divergent] = True
    return xr.Dataset({"diverging": (("chain", "draw"), d.reshape(chains, draws))})


def _mixed(chains: int = 4, draws: int = 1000) -> xr.Dataset:
    x = np.random.default_rng(3).normal(size=(chains, draws))
    return xr.Dataset({"a": (("chain", "draw"), x)})


# -- 1. the fit's diagnostics: one rule for cxsim-fit and cxsim-check, advice that fits ----

def test_one_divergence_in_4000_passes() -> None:
    """The issue's fit: 1 divergent transition in 4 x 1000 draws failed cxsim-fit."""
    figures, failed = diagnose(_mixed(), _stats(1))
    assert failed == [] and figures["divergences_allowed"] == allowed_divergences(4000) == 4


def test_fit_and_check_read_one_rule(short_fit) -> None:
    """On a real (short) fit, cxsim-check's divergence gate and cxsim-fit's summary allow the
    same count, and the fit's failure advice names the fix for what failed."""
    from cxsim.calibrate.store import load_posterior

    tree = load_posterior(short_fit / "posterior.nc").tree
    summary = json.loads((short_fit / "summary.json").read_text())
    names = list(summary["parameters"])
    gates = {g.name: g for g in diagnostics_gates(tree, names, Thresholds())}
    assert gates["divergences"].threshold == summary["diagnostics"]["divergences_allowed"]
    assert gates["divergences"].threshold == allowed_divergences(2 * 150)


def test_divergences_beyond_the_rule_fail_with_target_accept_advice() -> None:
    _, failed = diagnose(_mixed(), _stats(5))
    assert failed and "5 divergent transitions (at most 4" in failed[0]
    [tip] = advice(failed, 0.8)
    assert "sampler.target_accept=0.95" in tip and "sample longer" not in tip
    [tip] = advice(["max R-hat 1.0300 > 1.01"], 0.8)
    assert "sampler.draws" in tip and "target_accept" not in tip


def test_target_accept_is_a_typed_key_that_reaches_the_sampler() -> None:
    """`sampler.target_accept=0.95` was refused ("not in struct") and `+sampler...` ignored."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from cxsim.calibrate.micro.fit import FitSettings, sampler_options
    from cxsim.spec import config_dir

    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        cfg = compose("fit", overrides=["sampler.target_accept=0.95"])
    settings = FitSettings.from_config(OmegaConf.to_object(cfg), progress=False)
    for centred in (True, False):
        assert sampler_options(settings, centred)["target_accept"] == 0.95


# -- 2. volume: staffing that follows the population, and a warning when it does not -----

def test_staffed_for_scales_every_shift() -> None:
    full = compose_scenario(["horizon=3", "warmup=1"])
    small = compose_scenario(["horizon=3", "warmup=1", "population.customers=10000",
                              "population.staffed_for=40000"])
    for name, tp in full.touchpoints.items():
        for a, b in zip(tp.shifts, small.touchpoints[name].shifts, strict=True):
            assert b.agents == (0 if a.agents == 0 else max(1, int(a.agents / 4 + 0.5)))


def test_small_population_on_full_staffing_warns_and_scaled_runs_busier(tmp_path) -> None:
    args = ("population.customers=1500", "horizon=14", "warmup=1", "replications=1")
    plain = run_app("cxsim-simulate", *args, "figures=false", out=tmp_path / "a")
    assert plain.returncode == 0, plain.stderr
    assert "occupancy" in plain.stderr and "under 5%" in plain.stderr
    assert "population.staffed_for" in plain.stderr
    scaled = run_app("cxsim-simulate", *args, "population.staffed_for=40000", "figures=false",
                     out=tmp_path / "b")
    assert scaled.returncode == 0, scaled.stderr
    occ = [json.loads((tmp_path / d / "metrics.json").read_text())["occupancy"]
           for d in ("a", "b")]
    assert occ[1] > 2 * occ[0]


# -- 3. what-if figures: intervals, exact zeros, Monte Carlo error ------------------------

def _study(deltas: dict[str, np.ndarray], replications: int) -> xr.Dataset:
    from cxsim.forecast.run import summarise

    names = list(deltas)
    n = len(next(iter(deltas.values())))
    base = np.full((n, len(names)), 10.0)
    figures = np.stack([base, base + np.column_stack(list(deltas.values()))])
    ds = xr.Dataset({"figures": (("scenario", "draw", "metric"), figures),
                     "weights_ess": (("scenario", "draw"), np.ones((2, n)))},
                    coords={"scenario": ["baseline", "change"], "metric": names,
                            "period": [30.0]},
                    attrs={"replications": replications, "behaviour": "posterior"})
    return summarise(ds)


def test_exact_zero_is_unchanged_not_certainly_worse() -> None:
    doc = _study({"staff_cost": np.zeros(40), "ltv": np.linspace(1, 2, 40)}, 2)
    zero = doc["scenarios"]["change"]["staff_cost"]
    assert zero["unchanged"] and zero["mc_warning"] is None
    assert not doc["scenarios"]["change"]["ltv"]["unchanged"]


def test_monte_carlo_error_is_flagged_with_its_reason() -> None:
    """The issue's case: two replications disagreeing about the sign of a small change."""
    rng = np.random.default_rng(1)
    noisy = np.repeat([[-0.003, 0.0015]], 20, axis=0).ravel() + rng.normal(0, 1e-4, 40)
    doc = _study({"retention": noisy, "ltv": 5 + rng.normal(0, 0.1, 40)}, 2)
    why = doc["scenarios"]["change"]["retention"]["mc_warning"]
    assert why.startswith("Monte Carlo error dominates") and "raise replications" in why
    assert doc["scenarios"]["change"]["ltv"]["mc_warning"] is None
    two = _study({"ltv": np.array([5.0, 5.2])}, 2)  # two draws already gave P+ 1.00
    assert "only 2 draws" in two["scenarios"]["change"]["ltv"]["mc_warning"]


def test_whatif_console_shows_intervals_unchanged_and_drivers(capsys) -> None:
    from cxsim.apps.whatif import SHOWN, _print

    figures = {m: {"delta_mean": 0.5, "delta_low": 0.1, "delta_high": 0.9, "p_improve": 0.9,
                   "unchanged": False, "mc_warning": None} for m in SHOWN}
    figures["staff_cost"] = {**figures["staff_cost"], "delta_mean": 0.0, "delta_low": 0.0,
                             "delta_high": 0.0, "p_improve": 0.0, "unchanged": True}
    doc = {"baseline": {m: {"mean": 1.0} for m in SHOWN}, "behaviour": "posterior",
           "draws": 200, "headline": "ltv", "scenarios": {"change": figures},
           "drivers": [{"lever": "phone_front: first-contact resolution", "down_mean": -1.0,
                        "up_mean": 0.5}], "driver_step": 0.2}
    _print(doc, Path("out"), "EUR")
    out = capsys.readouterr().out
    assert "+0.50 [+0.10, +0.90]" in out and "P+ 0.90" in out
    assert "0 (unchanged in every draw)" in out and "P+ 0.00" not in out
    assert "phone_front: first-contact resolution" in out and "by 20%" in out
    assert "EUR per customer" in out


# -- 4 and 5. progress, help, errors ----------------------------------------------------

@pytest.mark.slow  # 25-50 s, most of it compiling; the Heartbeat doctest runs by default
def test_heartbeat_off_a_terminal_in_a_cohort_fit(tmp_path) -> None:
    """A fit run with stdout and stderr piped (CI, nohup) still says it is sampling; the
    cohort fit also writes its projection table and figure (finding 6)."""
    done = subprocess.run([sys.executable, "-m", "cxsim.apps.fit", "model=cohort",
                           "sampler.draws=200", "sampler.tune=200", "sampler.chains=2",
                           f"hydra.run.dir={tmp_path}"], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    assert "sampling the cohort model: started" in done.stderr
    assert re.search(r"sampling the cohort model: done in \d+ s", done.stderr)
    table = (tmp_path / "projection.csv").read_text().splitlines()
    assert table[0].startswith("cohort,period,surviving_observed,surviving_mean")
    assert (tmp_path / "cohort_projection.png").stat().st_size > 10_000


@pytest.mark.parametrize("app", ["simulate", "fit", "whatif", "check"])
def test_help_says_what_the_app_does_quickly(app) -> None:
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", f"cxsim.apps.{app}", "--help"],
                          capture_output=True, text=True, timeout=60)
    seconds = time.perf_counter() - t0
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"cxsim-{app}: ") and "Example:" in done.stdout
    assert len(lines) < 40
    assert seconds < 5.0  # measured 0.4-0.5 s; the Hydra dump it replaces took 2.8 s


@pytest.mark.parametrize("app,typo,suggestion", [
    ("simulate", "horizn=3", "horizon"), ("fit", "sampler.target_acept=0.9",
                                         "sampler.target_accept"),
    ("whatif", "drawz=3", "draws"), ("check", "sampler.draw=10", "sampler.draws")])
def test_misspelt_key_exit_2_with_did_you_mean(app, typo, suggestion, tmp_path) -> None:
    done = run_app(app, typo, out=tmp_path)
    assert done.returncode == 2, done.stderr
    assert f"did you mean {suggestion}?" in done.stderr and "Traceback" not in done.stderr
    assert not any(tmp_path.iterdir()) if tmp_path.exists() else True


def test_whatif_without_study_lists_the_studies(tmp_path) -> None:
    done = run_app("whatif", out=tmp_path)
    assert done.returncode == 2
    for name in ("bot_containment", "single_customer_view", "evening_agents"):
        assert name in done.stderr


@pytest.mark.parametrize("override,named", [
    ("queue.arrival_rate=-2", "queue.arrival_rate = -2.0"),
    ("queue.agents=0", "queue.agents = 0"),
    ("+queue.agnets=3", "queue.agnets = 3")])
def test_erlang_knobs_refused_in_the_words_typed(override, named, tmp_path) -> None:
    done = run_app("simulate", "experiment=erlang", override, out=tmp_path)
    assert done.returncode == 2, done.stdout
    assert named in done.stderr
    assert "needs_per_month" not in done.stderr


def test_a_queue_with_no_agent_ever_is_refused() -> None:
    with pytest.raises(SpecError, match="no agent is ever on duty"):
        compose_scenario(["touchpoints.store_desk.shifts.0.agents=0",
                          "touchpoints.store_desk.shifts.1.agents=0"])


# -- 6 and 8. docs rot, and what a user looks for --------------------------------------

def test_custom_study_from_the_docs_in_a_team_folder(tmp_path) -> None:
    """docs/whatif.md's own study, written where its comment says and run by its command
    (hydra.searchpath: a team's studies outside the repository); the what-if writes its
    table as CSV and prints its intervals."""
    text = (ROOT / "docs/whatif.md").read_text()
    yaml = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)[0]
    target = re.search(r"# (my_studies/study/\S+\.yaml)", yaml).group(1)
    (tmp_path / target).parent.mkdir(parents=True)
    (tmp_path / target).write_text(yaml)
    [command] = [c for c in re.findall(r"```bash\n(.*?)```", text, flags=re.S)
                 if "hydra.searchpath" in c]
    app, *args = command.split()
    done = run_app(app, *args, out=tmp_path / "out", cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "faster_billing" in done.stdout and "[" in done.stdout
    csv = (tmp_path / "out/whatif.csv").read_text().splitlines()
    assert csv[0].startswith("scenario,metric,label,unit,baseline_mean")
    assert any(line.startswith("faster_billing,ltv,") for line in csv)


def test_cohort_example_names_a_real_file() -> None:
    text = (ROOT / "docs/calibrate.md").read_text()
    [path] = re.findall(r"model=cohort data\.path=(\S+)", text)
    assert (ROOT / path).is_file()


def test_simulate_writes_its_figures_unless_turned_off(tmp_path) -> None:
    args = ("horizon=3", "warmup=1", "replications=1", "population.customers=2000")
    done = run_app("simulate", *args, out=tmp_path / "on")
    assert done.returncode == 0, done.stderr
    for png in ("queues_by_hour.png", "journey_map.png"):
        assert (tmp_path / "on" / png).stat().st_size > 20_000
    done = run_app("simulate", *args, "figures=false", out=tmp_path / "off")
    assert done.returncode == 0, done.stderr
    assert not list((tmp_path / "off").glob("*.png"))


# -- 7. figures: fixed colours, human labels, currency, no overlaps, failed fits -----------

def test_channel_colours_do_not_depend_on_rank() -> None:
    import pandas as pd

    from cxsim.plots.style import channel_colour
    from cxsim.plots.whatif import journey_flow

    def colours(first: list[str]) -> dict[str, tuple]:
        ep = pd.DataFrame({"first_channel": first, "contacts": 1, "transfers": 0,
                           "outcome": "resolved"})
        fig = journey_flow(ep)
        boxes = [p for p in fig.axes[0].patches if p.get_x() < 0]
        return {round(p.get_height(), 3): p.get_facecolor() for p in boxes}

    a = colours(["phone"] * 6 + ["chat"] * 3 + ["web"])  # phone first by rank
    b = colours(["phone"] * 2 + ["chat"] * 7 + ["web"])  # chat first by rank
    from matplotlib.colors import to_rgba
    assert to_rgba(channel_colour("phone")) in a.values()
    assert to_rgba(channel_colour("phone")) in b.values()
    assert to_rgba(channel_colour("chat")) in b.values()


def test_tornado_legend_covers_no_bar_and_states_the_step() -> None:
    import pandas as pd

    from cxsim.plots.whatif import tornado

    table = pd.DataFrame({"lever": [f"lever {i}" for i in range(5)],
                          **{f"{s}_{k}": np.linspace(-3, 3, 5) for s in ("down", "up")
                             for k in ("mean", "low", "high")}})
    fig = tornado(table, step=0.2, currency="EUR")
    fig.canvas.draw()
    ax = fig.axes[0]
    legend = ax.get_legend()
    assert all("by 20%" in t.get_text() for t in legend.get_texts())
    assert legend.get_window_extent().y1 < ax.get_window_extent().y0  # below the axes
    assert "EUR per customer" in ax.get_xlabel()


def test_forest_ticks_do_not_crowd_and_money_has_its_currency() -> None:
    from cxsim.metrics import KPIS
    from cxsim.plots.whatif import FOREST, forest

    n = 50
    figures = np.random.default_rng(0).normal(1e-4, 1e-4, size=(2, n, len(FOREST)))
    ds = xr.Dataset({"figures": (("scenario", "draw", "metric"), figures)},
                    coords={"scenario": ["baseline", "x"], "metric": list(FOREST)})
    fig = forest(ds, currency="GBP")
    fig.canvas.draw()
    titles = [ax.get_title() for ax in fig.axes]
    assert any("GBP per customer" in t for t in titles)
    for ax in fig.axes:
        boxes = [t.get_window_extent() for t in ax.get_xticklabels() if t.get_text()]
        assert all(a.x1 <= b.x0 for a, b in zip(boxes, boxes[1:], strict=False)), ax.get_title()
    assert KPIS["mean_wait"].label in " ".join(titles)


def test_a_failed_fit_says_so_on_its_figures() -> None:
    import matplotlib.pyplot as plt

    from cxsim.plots.calibrate import stamp_failed

    fig = plt.figure()
    stamp_failed(fig, {"fit_for_forecasting": False, "failed_checks": ["9 divergent "
                                                                        "transitions"]})
    assert any("FIT FAILED ITS DIAGNOSTICS" in t.get_text() and "9 divergent" in t.get_text()
               for t in fig.texts)
    ok = plt.figure()
    stamp_failed(ok, {"fit_for_forecasting": True})
    assert not ok.texts
