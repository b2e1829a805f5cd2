"""Back-tests of the what-if: the realised figures are the forecast's, the variants do what
they say and a small back-test of the what-if passes; slow, on purpose: a back-test catches a
broken forecast, and the studies.

The small back-test's assertion is distribution-free: if the forecast is calibrated, the
realised change is exchangeable with the forecast's D draws, so it falls outside all of them
with probability 2/(D+1); over independent worlds the count of such misses is binomial, and
two or more of 4 happen with probability < 0.3% (per figure). A forecast that ignores the
behaviour's uncertainty (``forecast=point``) misses more often, but not in every world: catching
it takes more worlds than the small back-test has (the slow test below).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from apprun import run_app
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
SURVEY = ("nps_population", "ces_population")  # expectations: hardly any simulation noise


def scenario(customers: int = 300):
    from cxsim.spec import compose_scenario

    return compose_scenario([f"population.customers={customers}", "horizon=61",
                             "replications=1"])


def test_realised_figures_are_the_forecasts_figures_under_the_truth():
    """The engine's figures of what happened equal the what-if's propagation of the same
    replication at the true behaviour (weights 1): forecast and reality measure alike."""
    from cxsim.backtest.world import ENGINE_FIGURES, _anchor_of, react
    from cxsim.data.synthetic import observe_replication
    from cxsim.forecast.propagate import Draws, propagate
    from cxsim.spec import theta_of

    sc = scenario()
    result = react(sc, "none")
    theta = theta_of(sc)
    truth = Draws({k: np.array([v]) for k, v in theta.items()}, *_anchor_of(sc, theta))
    p = propagate(observe_replication(result, sc), sc, truth, truth)
    for name in ENGINE_FIGURES:
        assert result.outcome_figures[name] == pytest.approx(p.figures[name][0], rel=1e-9)


def test_the_variants_change_what_they_say():
    from cxsim.backtest.world import react

    sc = scenario(2000)
    base = react(sc, "none")
    figs = {v: react(sc, v).outcome_figures for v in ("mood", "answer_response", "peak_end")}
    b = base.outcome_figures
    # The unhappy answer more: the respondents' NPS falls below everyone's by more.
    assert figs["answer_response"]["nps"] - figs["answer_response"]["nps_population"] < \
        b["nps"] - b["nps_population"] - 5
    assert figs["answer_response"]["retention"] == b["retention"]  # nobody else changes
    assert figs["mood"]["satisfaction"] != b["satisfaction"]
    assert figs["peak_end"]["churn_rate"] != b["churn_rate"]  # the worst moment drives churn
    assert figs["peak_end"]["nps_population"] != b["nps_population"]  # via who is left


def misses(worlds: list[dict], name: str) -> int:
    """(world, lever) pairs whose realised change lies outside every forecast draw."""
    from cxsim.backtest.run import comparisons

    c = comparisons(worlds)[name]
    f, r = c["forecast"], c["realised"]
    return int(((r < f.min(1)) | (r > f.max(1))).sum())


SMALL = dict(levers=["single_customer_view:context_everywhere"], draws=100, tune=100,
             forecast_draws=99, replications=4, n_jobs=1)


def allowed_misses(worlds: int, level: float = 0.003) -> int:
    """Most misses a calibrated forecast makes over ``worlds`` worlds but with probability
    < ``level``: each world misses with probability 2/(D+1), independently."""
    p_miss = 2 / (SMALL["forecast_draws"] + 1)
    return int(stats.binom.isf(level, worlds, p_miss))


def test_a_small_backtest_of_the_whatif_passes(tmp_path: Path):
    from cxsim.backtest.run import run_backtest
    from cxsim.backtest.world import BacktestSettings

    allowed = allowed_misses(4)  # 1: P(misses >= 2 of 4) = binom.sf(1, 4, 0.02) < 0.003
    assert allowed == 1
    right = run_backtest(BacktestSettings(worlds=4, **SMALL), tmp_path / "whatif")
    assert len(right) == 4
    for name in SURVEY:
        assert misses(right, name) <= allowed, name


@pytest.mark.slow
def test_a_backtest_catches_a_forecast_without_uncertainty(tmp_path: Path):
    """The broken forecast's draws differ only by simulation noise, so it misses only where
    the behaviour's uncertainty matters for the lever, which is not every world: 4 worlds
    gave 1 miss on CI's machine (the test failed) and 2 on ours. Measured over 12 worlds at
    these settings: misses in 6 (nps_population) and 8 (ces_population), so with a per-world
    miss rate of 1/2 three or more of 12 happen with probability 0.98 per figure (slow: ~5 min)."""
    from cxsim.backtest.run import run_backtest
    from cxsim.backtest.world import BacktestSettings

    allowed = allowed_misses(12)  # 2: binom.sf(2, 12, 0.02) < 0.003
    broken = run_backtest(BacktestSettings(worlds=12, forecast="point", **SMALL),
                          tmp_path / "point")
    assert len(broken) == 12
    assert max(misses(broken, name) for name in SURVEY) > allowed


def test_finished_worlds_are_kept_and_skipped(tmp_path: Path, capsys):
    from cxsim.backtest.run import run_backtest
    from cxsim.backtest.world import BacktestSettings
    from cxsim.fileio import write_json

    (tmp_path / "worlds").mkdir()
    for i in range(2):
        write_json(tmp_path / "worlds" / f"world_{i:05d}.json", {"world": i})
    worlds = run_backtest(BacktestSettings(worlds=2, n_jobs=1), tmp_path)
    assert sorted(w["world"] for w in worlds) == [0, 1]
    assert "2 of 2 worlds already done, running 0" in capsys.readouterr().out


def test_a_corrupt_world_file_is_redone_not_fatal(tmp_path: Path):
    """A world file cut short or edited by hand is not a finished world: it is removed (so
    a resume runs that world again) instead of failing the resume with a JSON error."""
    from cxsim.backtest.run import load_worlds
    from cxsim.fileio import write_json

    (tmp_path / "worlds").mkdir()
    write_json(tmp_path / "worlds" / "world_00000.json", {"world": 0})
    (tmp_path / "worlds" / "world_00001.json").write_text('{"world": 1, "deltas": {"nps')
    (tmp_path / "worlds" / "world_00002.json").write_text('["not a world"]')
    assert [w["world"] for w in load_worlds(tmp_path)] == [0]
    assert sorted(p.name for p in (tmp_path / "worlds").iterdir()) == ["world_00000.json"]


def test_bad_backtest_settings_are_refused_before_any_work(tmp_path: Path):
    done = run_app("check", "mode=backtest", "backtest.variant=grumpy", out=tmp_path,
                   cwd=ROOT)
    assert done.returncode == 2 and "backtest.variant = 'grumpy'" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "worlds").exists()
    done = run_app("check", "mode=backtest", "backtest.levers=[bot_containment:nope]",
                   out=tmp_path, cwd=ROOT)
    assert done.returncode == 2 and "no scenario 'nope'" in done.stderr
    (tmp_path / "backtest_settings.json").write_text('{"key": "0000000000000000"}')
    done = run_app("check", "mode=backtest", out=tmp_path, cwd=ROOT)
    assert done.returncode == 2 and "back-test of other settings" in done.stderr
    assert not (tmp_path / "worlds").exists()


# -- the studies (slow, on purpose) ----------------------------------------------------------

def run_study(name: str, *args: str, tmp_path: Path) -> dict:
    base = Path(os.environ.get("CXSIM_BACKTEST_DIR", tmp_path))
    done = run_app("check", "mode=backtest", *args, out=base / name, cwd=ROOT,
                   timeout=3 * 3600)
    print(done.stdout, done.stderr[-2000:])
    assert done.returncode in (0, 1), done.stderr[-2000:]
    return json.loads((base / name / "backtest.json").read_text())


@pytest.mark.slow
def test_reduced_backtest_of_well_specified_worlds_covers(tmp_path: Path):
    """Must-show 1 at a reduced size (40 worlds x 2 levers): the 50% and 90% coverages of the
    changes of retention, LTV, population NPS and CES inside their binomial 99% bands."""
    a = run_study("none_300", tmp_path=tmp_path)
    for name in ("retention", "ltv", "nps_population", "ces_population"):
        f = a["figures"][name]
        assert f["band_90"][0] <= f["coverage_90"] <= f["band_90"][1], (name, f)
        assert f["band_50"][0] <= f["coverage_50"] <= f["band_50"][1], (name, f)
