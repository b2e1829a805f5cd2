"""Simulation-based calibration: its statistics, the compiled-once model, and (slow) the runs.

The slow runs are the SBC of the reduced model (200 simulations: ranks uniform, coverage in
its binomial band) and a deliberately miscalibrated fit that SBC must reject. They write into
``$CXSIM_SBC_DIR`` when set (resumable: finished simulations are kept), else a temporary
directory.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from apprun import run_app

from cxsim.calibrate.sbc import analyse, coverage_band, uniformity_p

ROOT = Path(__file__).resolve().parents[1]


def fake_results(ranks: np.ndarray, cover90: np.ndarray, cover50: np.ndarray) -> list[dict]:
    return [{"ranks": {"a": int(r)}, "cover90": {"a": bool(c9)}, "cover50": {"a": bool(c5)},
             "divergences": 0} for r, c9, c5 in zip(ranks, cover90, cover50, strict=True)]


def test_coverage_band_of_200_simulations():
    lo, hi = coverage_band(200, 0.9, 0.01)
    assert (lo, hi) == pytest.approx((0.845, 0.95), abs=0.006)


def test_uniform_ranks_pass_and_skewed_ranks_fail():
    rng = np.random.default_rng(3)
    n, L = 400, 99
    uniform = rng.integers(0, L + 1, n)
    ok = analyse(fake_results(uniform, rng.random(n) < 0.9, rng.random(n) < 0.5), L)
    assert ok["calibrated"] and ok["parameters"]["a"]["p_uniform"] > 0.01
    # An overconfident posterior: the truth falls in the tails of the draws too often.
    tails = np.where(rng.random(n) < 0.5, rng.integers(0, 10, n), rng.integers(90, 100, n))
    bad = analyse(fake_results(tails, rng.random(n) < 0.6, rng.random(n) < 0.2), L)
    assert not bad["calibrated"] and bad["rejected"] == ["a"]
    assert bad["outside_band90"] == ["a"]


def test_uniformity_p_is_exact_on_a_flat_histogram():
    ranks = np.repeat(np.arange(100), 3)
    assert uniformity_p(ranks, 99, 20) == pytest.approx(1.0)


def test_compiled_once_model_matches_the_model_of_each_data_set():
    """The shared-variable model, refilled with another data set, has that data set's
    log-density at every point (the graph is not specialised to the pilot's shapes)."""
    from pytensor.compile.mode import Mode
    from pytensor.graph.traversal import ancestors
    from pytensor.tensor.sharedvar import TensorSharedVariable

    from cxsim.calibrate.micro.model import anchor_reason, build_model
    from cxsim.calibrate.micro.prepare import prepare
    from cxsim.calibrate.sbc import SbcSettings, data_arrays, simulate_data, symbolic_model
    from cxsim.spec import compose_scenario, theta_of
    from cxsim.spec.config import Priors

    s = SbcSettings()
    scenario = compose_scenario(["population.customers=300", "horizon=61", "replications=1"])
    theta = theta_of(scenario)
    preps = [prepare(simulate_data(scenario, theta, seed, s)) for seed in range(1, 13)]
    # The compiled model serves data sets of the pilot's layout (run_one discards others).
    same = [p for p in preps[1:] if p.reasons == preps[0].reasons
            and p.segments == preps[0].segments and anchor_reason(p) == anchor_reason(preps[0])]
    assert same, "no data set of the pilot's layout in 11 simulations"
    preps = [preps[0], same[0]]
    assert preps[0].steps.size != preps[1].steps.size
    anchor = "mainstream"
    model = symbolic_model(preps[0], anchor, 0.5, Priors())
    shared = {v.name: v for v in ancestors([model.logp()]) if isinstance(v, TensorSharedVariable)}
    assert shared
    for name, value in data_arrays(preps[1]).items():
        if name in shared:
            shared[name].set_value(value)
    direct = build_model(preps[1], anchor, 0.5)
    plain = Mode(linker="py", optimizer=None)  # the graphs as built: no C compilation
    f_sym = model.compile_logp(mode=plain)
    f_direct = direct.compile_logp(mode=plain)
    rng = np.random.default_rng(0)
    point = model.initial_point()
    for _ in range(3):
        p = {k: v + rng.normal(scale=0.3, size=np.shape(v)) for k, v in point.items()}
        assert f_sym(p) == pytest.approx(f_direct(p), rel=1e-9)


def test_finished_simulations_are_kept_and_skipped(tmp_path: Path, capsys):
    from cxsim.calibrate.sbc import SbcSettings
    from cxsim.calibrate.sbc import run_sbc as run
    from cxsim.fileio import write_json

    (tmp_path / "sims").mkdir()
    for i in range(2):
        write_json(tmp_path / "sims" / f"sim_{i:05d}.json",
                   {"sim": i, "ranks": {"a": 3}, "cover90": {"a": True},
                    "cover50": {"a": False}, "divergences": 0})
    results = run(SbcSettings(n_sims=2, n_jobs=1), tmp_path)
    assert sorted(r["sim"] for r in results) == [0, 1]
    assert "2 of 2 simulations already done, running 0" in capsys.readouterr().out


def test_a_run_directory_of_other_settings_is_refused(tmp_path: Path):
    (tmp_path / "sbc_settings.json").write_text('{"key": "0000000000000000"}')
    done = run_app("check", "mode=sbc", out=tmp_path, cwd=ROOT)
    assert done.returncode == 2 and "SBC run of other settings" in done.stderr
    assert not (tmp_path / "sims").exists()


# -- the runs (slow, on purpose) -------------------------------------------------------------

def run_sbc(name: str, *args: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess, dict]:
    base = Path(os.environ.get("CXSIM_SBC_DIR", tmp_path))
    out = base / name
    done = run_app("check", "mode=sbc", *args, out=out, cwd=ROOT, timeout=6 * 3600)
    print(done.stdout)
    return done, json.loads((out / "sbc.json").read_text())


@pytest.mark.slow
def test_sbc_of_the_reduced_model_is_calibrated(tmp_path: Path):
    done, a = run_sbc("calibrated", "n_sims=200", tmp_path=tmp_path)
    assert a["n_sims"] >= 200
    assert not a["rejected"], {k: v for k, v in a["parameters"].items() if k in a["rejected"]}
    lo, hi = a["family_band90"]
    for name, v in a["parameters"].items():
        assert lo <= v["cover90"] <= hi, (name, v)
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
def test_sbc_catches_a_fit_prior_that_differs_from_the_simulating_one(tmp_path: Path):
    """Simulate with memory ~ Beta(2, 2), fit with memory ~ Beta(8, 2): the memory ranks pile
    up (the fit believes in a longer memory than the data were made with)."""
    done, a = run_sbc("miscalibrated", "sbc.n_sims=100", "+sbc.fit_priors.memory_a=8",
                      tmp_path=tmp_path)
    assert done.returncode == 1
    assert "memory" in a["rejected"], a["parameters"]["memory"]
