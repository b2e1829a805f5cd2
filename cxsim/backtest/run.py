"""Many back-test worlds and their statistics.

Worlds run in parallel over ``n_jobs`` processes (joblib, as SBC); resumable: one JSON per
finished world in ``worlds/`` (atomic writes), skipped when the run is started again with the
same settings. :func:`analyse` turns the worlds into ``backtest.json``: for each figure, over
every (world, lever), the share of realised changes inside the forecast's central 50% and 90%
intervals against the binomial band a calibrated forecast stays in, the PIT of each realised
change among the forecast's draws, the mean error in forecast sd (``mean_z``), the bias, and
the sign accuracy of the claims "P(improvement) > 0.9".
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from cxsim.backtest.world import BacktestSettings, run_world
from cxsim.calibrate import sbc
from cxsim.fileio import die_with_parent, finished_piece, write_json
from cxsim.forecast.study import Study, compose_study
from cxsim.metrics import improves
from cxsim.progress import Progress

CLAIM = 0.9  # a forecast "claims" an improvement when P(improvement) exceeds this
LEVEL = 0.01  # the binomial bands hold a calibrated forecast's coverage with prob. 0.99


def _aside(fn: Callable[[], Any]) -> Any:
    """``fn()`` with Hydra's global state cleared, then restored (a running app keeps its)."""
    from hydra.core.global_hydra import GlobalHydra

    gh = GlobalHydra.instance()
    outer = gh.hydra if gh.is_initialized() else None
    gh.clear()
    try:
        return fn()
    finally:
        gh.clear()
        if outer is not None:
            gh.initialize(outer)


def lever_studies(s: BacktestSettings) -> dict[str, tuple[Study, str]]:
    """Each lever ``STUDY:SCENARIO``: its study at the back-test's size, and the scenario."""
    out = {}
    for lever in s.levers:
        name, _, scenario = lever.partition(":")
        overrides = [f"population.customers={s.customers}", f"horizon={s.change_days}",
                     f"replications={s.replications}"]
        study = _aside(lambda name=name, overrides=overrides: compose_study(name, overrides))
        if scenario not in study.scenarios:
            raise KeyError(f"lever {lever}: study {name} has no scenario {scenario!r} "
                           f"(it has {', '.join(study.scenarios)})")
        out[lever] = (study, scenario)
    return out


def pilot_data(scenario: Any, s: BacktestSettings, tries: int = 32) -> tuple[Any, str]:
    """The layout every world's history must share (SBC's pilot), with as anchor reason the
    reason of the largest share: the fit anchors on the most frequent reason of its data, and
    a pilot whose chance favourite is a runner-up would leave most worlds without a match."""
    from cxsim.calibrate.micro.model import anchor_reason
    from cxsim.calibrate.micro.prepare import prepare
    from cxsim.spec import theta_of

    ss = s.sbc()
    names = list(scenario.journeys)
    top = max(names, key=lambda j: scenario.journeys[j].share)
    for k in range(tries):
        seed = np.random.SeedSequence(s.seed, spawn_key=(2**31, k)).generate_state(1)[0]
        data = sbc.simulate_data(scenario, theta_of(scenario), seed, ss)
        prep = prepare(data, s.churn_period_days, s.fatigue_days)
        if prep.reasons[anchor_reason(prep)] == top:
            return prep, sbc.anchor_segment(scenario)
    raise RuntimeError(f"no pilot among {tries} had {top} as its most frequent reason")


def run_backtest(s: BacktestSettings, directory: Path, progress: bool = False,
                 attempts: int = 16) -> list[dict]:
    """Run (or resume) the worlds into ``directory/worlds``; every finished world."""
    from joblib import Parallel, delayed

    worlds = Path(directory) / "worlds"
    worlds.mkdir(parents=True, exist_ok=True)
    ss = s.sbc()
    scenario = _aside(lambda: sbc.reduced_scenario(ss))
    studies = lever_studies(s)
    pilot, anchor = pilot_data(scenario, s)
    pool = sbc.prior_pool(pilot, anchor, ss, s.worlds * attempts)
    todo = [i for i in range(s.worlds) if _world(worlds / f"world_{i:05d}.json") is None]
    print(f"cxsim-check backtest: {s.worlds - len(todo)} of {s.worlds} worlds already done, "
          f"running {len(todo)} on {s.n_jobs} processes")
    jobs = (delayed(_world_in_worker)(os.getpid(), i,
                                      [pool[i + a * s.worlds] for a in range(attempts)],
                                      scenario, pilot, anchor, studies, s) for i in todo)
    with Progress(len(todo), "backtest", "world", progress) as bar:
        for result in Parallel(n_jobs=s.n_jobs, return_as="generator_unordered")(jobs):
            write_json(worlds / f"world_{result['world']:05d}.json", result)
            bar.update()
    return load_worlds(directory, s.worlds)


def _world_in_worker(parent: int, *args: Any) -> dict:
    """:func:`run_world` in a worker process, which dies with its parent (a kill -9 of the
    main process would otherwise leave it computing for nobody)."""
    die_with_parent(parent)
    return run_world(*args)


def _world(path: Path) -> dict | None:
    """A finished world's record, or None (missing; corrupt: removed, so the world is redone
    rather than the resume failing)."""
    return finished_piece(path, lambda doc: isinstance(doc.get("world"), int))


def load_worlds(directory: Path, n: int | None = None) -> list[dict]:
    files = sorted((Path(directory) / "worlds").glob("world_*.json"))
    results = [r for r in map(_world, files) if r is not None]
    return [r for r in results if n is None or r["world"] < n]


# -- the statistics --------------------------------------------------------------------------

def comparisons(worlds: list[dict], kind: str = "delta") -> dict[str, dict[str, np.ndarray]]:
    """Per figure, over every (world, lever): the forecast's draws (n, D) and what happened
    (n,), of the change (``delta``) or of the level after it (``level``)."""
    out: dict[str, dict[str, list]] = {}
    for w in worlds:
        for lev in w["levers"].values():
            f0, f1 = np.asarray(lev["forecast_baseline"]), np.asarray(lev["forecast_changed"])
            r0, r1 = np.asarray(lev["realised_baseline"]), np.asarray(lev["realised_changed"])
            fc, real = (f1 - f0, r1 - r0) if kind == "delta" else (f1, r1)
            for j, name in enumerate(w["figures"]):
                d = out.setdefault(name, {"forecast": [], "realised": []})
                d["forecast"].append(fc[:, j])
                d["realised"].append(real[j])
    return {k: {"forecast": np.array(v["forecast"]), "realised": np.array(v["realised"])}
            for k, v in out.items()}


def coverage_band(n: int, nominal: float, level: float = LEVEL) -> list[float]:
    return list(sbc.coverage_band(n, nominal, level))


def pit(forecast: np.ndarray, realised: np.ndarray) -> np.ndarray:
    """Share of each row's draws below its realised value (ties count half)."""
    r = realised[:, None]
    return (forecast < r).mean(1) + 0.5 * (forecast == r).mean(1)


def figure_stats(name: str, forecast: np.ndarray, realised: np.ndarray) -> dict[str, Any]:
    """Coverage, bands, PIT, z, bias and claims of one figure over n comparisons."""
    n = realised.size
    q = np.quantile(forecast, [0.05, 0.25, 0.75, 0.95], axis=1)
    cover90 = (q[0] <= realised) & (realised <= q[3])
    cover50 = (q[1] <= realised) & (realised <= q[2])
    mean, sd = forecast.mean(1), forecast.std(1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (realised - mean) / sd
    z = z[np.isfinite(z)]
    err = realised - mean
    out: dict[str, Any] = {
        "n": int(n), "coverage_50": float(cover50.mean()), "coverage_90": float(cover90.mean()),
        "band_90": coverage_band(n, 0.9), "band_50": coverage_band(n, 0.5),
        "mean_z": float(z.mean()) if z.size else None,
        "mean_z_se": float(z.std(ddof=1) / np.sqrt(z.size)) if z.size > 1 else None,
        "sd_z": float(z.std(ddof=1)) if z.size > 1 else None,
        "bias": float(err.mean()), "bias_se": float(err.std(ddof=1) / np.sqrt(n)) if n > 1
        else None, "forecast_sd_mean": float(sd.mean()),
        "pit": pit(forecast, realised).round(4).tolist(),
    }
    try:
        p_improve = improves(name, forecast).mean(1)
    except (ValueError, KeyError):
        return out
    claims = p_improve > CLAIM
    right = improves(name, realised)[claims]
    out.update({"claims": int(claims.sum()),
                "claims_right": int(right.sum()),
                "sign_accuracy": float(right.mean()) if right.size else None})
    return out


def analyse(worlds: list[dict], s: BacktestSettings) -> dict[str, Any]:
    """``backtest.json``: every figure's change and level, the PPC gates' detection rate."""
    deltas = {k: figure_stats(k, **v) for k, v in comparisons(worlds, "delta").items()}
    levels = {k: figure_stats(k, **v) for k, v in comparisons(worlds, "level").items()}
    flagged = np.array([w["ppc"]["flagged"] for w in worlds])
    ppc = {"flagged": int(flagged.sum()), "n": int(flagged.size),
           "rate": float(flagged.mean()),
           "rate_band_99": [float(x) for x in
                            stats.binomtest(int(flagged.sum()), flagged.size).proportion_ci(
                                0.99)]}
    inside = {k: v["band_90"][0] <= v["coverage_90"] <= v["band_90"][1]
              and v["band_50"][0] <= v["coverage_50"] <= v["band_50"][1]
              for k, v in deltas.items()}
    summary = {"figures": deltas, "levels": levels, "ppc": ppc, "customers": s.customers,
               "inside_band": inside}
    return {"figures": deltas, "levels": levels, "ppc": ppc,
            "variants": {s.variant: summary}, "variant": s.variant, "forecast": s.forecast,
            "worlds": len(worlds), "levers": s.levers, "level": LEVEL,
            "calibrated": all(inside.values()),
            "divergent_fits": int(sum(w["divergences"] > 0 for w in worlds))}
