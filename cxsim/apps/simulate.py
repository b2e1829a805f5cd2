"""``cxsim-simulate``: compose a scenario with Hydra, simulate it, write ``metrics.json``.

cxsim-simulate                                  # the default scenario
cxsim-simulate experiment=erlang queue.agents=12 hydra.run.dir=out
cxsim-simulate experience_log=true              # also episodes.parquet
cxsim-simulate export_observed=true             # also contacts.csv (and observed/ for cxsim-fit)
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
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from cxsim.apps.common import (
    console_script,
    job_seed,
    progress_of,
    run_dir,
    start,
    user_errors,
    with_lock,
    write_parquet,
)
from cxsim.fileio import finish_run, finished_run, write_json
from cxsim.spec import load_scenario

# Config keys that change neither the numbers nor the files a job writes.
UNHASHED = ("progress", "resume")
# What a run (re)writes.
OUTPUTS = ("metrics.json", "episodes.parquet", "contacts.csv", "observed", "*.png")


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
    """The metrics in ``path`` if a previous run of this very job wrote them and finished
    (its directory's finished marker holds their hash: a hand-edited, truncated or
    half-done file is not trusted), else None."""
    if path.name not in (finished_run(path.parent) or {}):
        return None
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


def run(cfg: DictConfig) -> dict:
    """Simulate the composed config; write results into the Hydra run directory."""
    from cxsim.apps.table import print_metrics
    from cxsim.engine import simulate
    from cxsim.engine.staffing import staffing_objective

    with user_errors("invalid scenario: "):
        scenario = load_scenario(cfg)  # first: a bad config is reported as such
    job = this_job(cfg)
    out = run_dir()
    if job.num is not None:
        with_lock(out)
        if cfg.resume and (done := finished(out / "metrics.json", job)) is not None:
            print(f"skipping job {job.num}: already complete", flush=True)
            return done
    start(out, OUTPUTS)  # never leave a stale result behind
    scenario = dataclasses.replace(scenario, seed=job.seed)
    export = bool(cfg.export_observed)
    result = simulate(scenario, keep_rows=bool(cfg.experience_log) or export,
                      progress=progress_of(cfg))
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
        with user_errors("invalid objective: "):
            cost = staffing_objective(scenario, metrics, OmegaConf.to_object(cfg.objective))
        metrics = {**metrics, **cost}
    if export:
        from cxsim.data.contacts import write_contacts

        # the contact log of replication 0, as a real one: cxsim-calibrate log.path=... reads
        # it with the canonical mapping (the default)
        write_contacts(result.replications[0].contacts, out / "contacts.csv")
        metrics = {**metrics, "contacts_csv": "contacts.csv"}
    if export and scenario.behaviour.enabled:  # surveys and churn exist only with behaviour
        from cxsim.data import observed_metrics, write_observed
        from cxsim.data.synthetic import observe

        data = observe(result, scenario)
        write_observed(data, out / "observed")
        metrics = {**metrics, "observed": observed_metrics(data)}
    if cfg.experience_log:
        write_parquet(out / "episodes.parquet", result.episodes)
    write_json(out / "metrics.json", metrics)
    print_metrics(metrics, out, str(cfg.currency))
    if cfg.figures and job.num is None:  # a sweep's jobs are read as a table, not one by one
        from cxsim.plots import simulate as plots

        plots.by_hour(metrics, out / "queues_by_hour.png")
        plots.journey_map(scenario, out / "journey_map.png")
        print(f"  figures: {out / 'queues_by_hour.png'}, {out / 'journey_map.png'}")
    finish_run(out)  # last: only now does the job look finished
    return metrics


def task(cfg: DictConfig) -> float | None:
    """One run or sweep job; a search's job returns its objective to the sweeper."""
    metrics = run(cfg)
    return None if cfg.objective is None else float(metrics["objective"])


HELP = """\
cxsim-simulate: simulate customers travelling across channels (web, app, chatbot, chat,
phone, e-mail, social, store) and write the run's metrics (metrics.json), a table on the
terminal and figures (service level, ASA and abandonment by hour per channel; the journey map).

Main keys (key=value; the scenario is configs/simulate.yaml):
  horizon=91  warmup=2  replications=3  seed=N       days simulated, left out, runs
  population.customers=40000                         customers at the start
  population.staffed_for=40000                       scale every shift's agents with customers
  touchpoints.NAME.KEY=V                             e.g. touchpoints.chatbot.containment=0.6
  experiment=erlang queue.agents=12 queue.arrival_rate=10    one Erlang queue
  export_observed=true                               also a CRM-like export (observed/)
  experience_log=true  figures=false  progress=false
  hydra.run.dir=DIR                                  where the files go
  -m sweep=staffing cluster=local                    a sweep (docs/sweeps.md)

Example:
  cxsim-simulate horizon=7 replications=2 hydra.run.dir=outputs/week
"""

main = console_script("simulate", task, HELP)


if __name__ == "__main__":
    main()
