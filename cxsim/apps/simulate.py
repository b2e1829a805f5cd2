"""``cxsim-simulate``: compose a scenario with Hydra, simulate it, write ``metrics.json``.

cxsim-simulate                                  # the default scenario
cxsim-simulate experiment=erlang queue.agents=12 hydra.run.dir=out
cxsim-simulate experience_log=true              # also episodes.parquet
cxsim-simulate -m sweep=staffing cluster=local   # a sweep (docs/sweeps.md)

In a ``-m`` sweep each job runs with its own seed, :func:`cxsim.apps.common.job_seed` of the
configured seed and ``hydra.job.num``, and its ``metrics.json`` also records ``base_seed``,
``job_num``, the job's ``overrides`` (:func:`cxsim.results.job_overrides`) and a hash of its
config. A job whose directory already holds such a file, for the same overrides and config,
is not simulated again (``resume=false`` recomputes it): re-running an interrupted sweep with
the same command and ``hydra.sweep.dir`` finishes it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from cxsim.apps.common import fail, job_seed, run_dir, write_json, write_parquet
from cxsim.engine.staffing import agent_hours, staffing_cost
from cxsim.spec import Scenario, SpecError, config_dir, load_scenario

# The keys of ``objective`` (a study's cost model) and their defaults; None means "no default"
# for the cost rate and "no target" for the two targets.
OBJECTIVE_KEYS: dict[str, float | None] = {
    "cost_per_agent_hour": None,  # what an agent-hour on duty costs
    "bot_cost_per_day": 0.0,  # what each bot costs per day at containment 1 (scales linearly)
    "service_level_target": None,  # live-queue service level to reach (share, 0-1)
    "ces_target": None,  # mean CES (1-7) not to exceed
    "penalty_per_point": 1000.0,  # per SL point (1%) short and per 0.01 of CES over target
}
# Config keys that change neither the numbers nor the files a job writes.
UNHASHED = ("progress", "resume")


@dataclasses.dataclass(frozen=True)
class Job:
    """Who this run is: a single run (``num`` None) or job ``num`` of a sweep."""

    num: int | None
    base_seed: int
    seed: int
    overrides: list[str]
    config_sha256: str


def this_job(cfg: DictConfig) -> Job:
    """The Hydra job running ``cfg``: its number, seeds, overrides and config hash."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from cxsim.results import job_overrides

    hc = HydraConfig.get()
    num = int(hc.job.num) if hc.mode == RunMode.MULTIRUN else None
    base = int(cfg.seed)
    plain = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(plain, dict)
    text = json.dumps({k: v for k, v in plain.items() if k not in UNHASHED}, sort_keys=True)
    return Job(
        num=num,
        base_seed=base,
        seed=base if num is None else job_seed(base, num),
        overrides=job_overrides(hc.overrides.task),
        config_sha256=hashlib.sha256(text.encode()).hexdigest(),
    )


def finished(path: Path, job: Job) -> dict | None:
    """The metrics in ``path`` if a previous run of this very job wrote them, else None."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    same = (doc.get("job_num"), doc.get("overrides"), doc.get("config_sha256")) == (
        job.num,
        job.overrides,
        job.config_sha256,
    )
    return doc if same else None


def staff_cost(s: Scenario, metrics: dict, objective: dict) -> dict[str, float]:
    """A study's objective: what the staffing costs, plus penalties for missed targets.

    ``cost = agent_hours x cost_per_agent_hour + sum over bots of containment x
    bot_cost_per_day x horizon``, ``penalty = penalty_per_point x (100 max(0, SL target - SL) +
    100 max(0, CES - CES target))`` with SL the live-queue service level and CES the mean
    answer, both from ``metrics`` (a missing one misses its target entirely), and
    ``objective = cost + penalty``.

    >>> from cxsim.spec import compose_scenario
    >>> s = compose_scenario(["experiment=erlang"])
    >>> staff_cost(s, {"service_level": 0.75, "ces": 3.0},
    ...            {"cost_per_agent_hour": 30, "service_level_target": 0.8})
    {'agent_hours': 480.0, 'staff_cost': 14400.0, 'penalty': 5000.0, 'objective': 19400.0}
    """
    unknown = sorted(set(objective) - set(OBJECTIVE_KEYS))
    if unknown:
        fail(f"objective: unknown key(s) {unknown}; expected some of {sorted(OBJECTIVE_KEYS)}")
    o = {**OBJECTIVE_KEYS, **{k: v for k, v in objective.items() if v is not None}}
    if o["cost_per_agent_hour"] is None:
        fail("objective.cost_per_agent_hour is required")
    hours = agent_hours(s)
    cost = staffing_cost(s, o["cost_per_agent_hour"], o["bot_cost_per_day"])
    points = 0.0
    if o["service_level_target"] is not None:
        sl = metrics.get("service_level")
        points += 100 * max(0.0, o["service_level_target"] - (0.0 if sl is None else sl))
    if o["ces_target"] is not None:
        ces = metrics.get("ces")
        points += 100 * max(0.0, (7.0 if ces is None else ces) - o["ces_target"])
    penalty = o["penalty_per_point"] * points
    return {
        "agent_hours": round(hours, 6),
        "staff_cost": round(cost, 6),
        "penalty": round(penalty, 6),
        "objective": round(cost + penalty, 6),
    }


def run(cfg: DictConfig) -> dict:
    """Simulate the composed config; write results into the Hydra run directory."""
    from cxsim.apps.table import print_metrics
    from cxsim.engine import simulate

    try:
        scenario = load_scenario(cfg)  # first: a bad config is reported as such
    except SpecError as e:
        fail(f"invalid scenario: {e}")
    job = this_job(cfg)
    out = run_dir()
    if job.num is not None:
        if cfg.resume and (done := finished(out / "metrics.json", job)) is not None:
            print(f"skipping job {job.num}: already complete", flush=True)
            return done
        (out / "metrics.json").unlink(missing_ok=True)  # never leave a stale result behind
    scenario = dataclasses.replace(scenario, seed=job.seed)
    export = bool(cfg.export_observed)
    if export and not scenario.behaviour.enabled:
        fail("export_observed=true needs behaviour.enabled=true (surveys and churn)")
    progress = bool(cfg.get("progress", True)) and sys.stderr.isatty()
    result = simulate(scenario, keep_rows=bool(cfg.experience_log) or export, progress=progress)
    metrics = result.metrics
    if job.num is not None:
        metrics = {
            **metrics,
            "base_seed": job.base_seed,
            "job_num": job.num,
            "overrides": job.overrides,
            "config_sha256": job.config_sha256,
        }
    if cfg.objective is not None:
        objective = OmegaConf.to_container(cfg.objective)
        assert isinstance(objective, dict)
        metrics = {**metrics, **staff_cost(scenario, metrics, objective)}
    if export:
        from cxsim.data import observed_metrics, write_observed
        from cxsim.data.synthetic import observe

        data = observe(result, scenario)
        write_observed(data, out / "observed")
        metrics = {**metrics, "observed": observed_metrics(data)}
    if cfg.experience_log:
        write_parquet(out / "episodes.parquet", result.episodes)
    write_json(out / "metrics.json", metrics)
    print_metrics(metrics, out)
    return metrics


@hydra.main(config_path=str(config_dir()), config_name="simulate", version_base="1.3")
def _main(cfg: DictConfig) -> float | None:
    metrics = run(cfg)
    return None if cfg.objective is None else float(metrics["objective"])


def main() -> None:
    """Console-script entry point."""
    _main()


if __name__ == "__main__":
    main()
