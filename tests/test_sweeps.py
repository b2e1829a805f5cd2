"""Sweeps: real multiruns with the joblib and Ray launchers give the
same numbers; a killed sweep resumes without redoing finished jobs; the Optuna study runs."""

from __future__ import annotations

import itertools
import json
import os
import queue
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
import yaml
from apprun import app_command, run_app
from hydra import compose, initialize_config_dir
from sweeping import CONTAINMENT, SMALL, multirun

from cxsim.apps.common import job_seed
from cxsim.fileio import FINISHED
from cxsim.results import load_sweep, to_xarray
from cxsim.spec import config_dir

BOOKKEEPING = ("base_seed", "job_num", "overrides", "config_sha256")


@pytest.mark.parametrize(
    ("cluster", "plugin", "target"),
    [
        ("local", "hydra_joblib_launcher", "JoblibLauncher"),
        ("ray", "hydra_ray_launcher", "RayLauncher"),
        ("slurm", "hydra_submitit_launcher", "SlurmLauncher"),
    ],
)
def test_cluster_composes(cluster: str, plugin: str, target: str) -> None:
    pytest.importorskip(f"hydra_plugins.{plugin}", reason=f"{plugin} is not installed")
    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        cfg = compose(
            "simulate", ["sweep=staffing", f"cluster={cluster}"], return_hydra_config=True
        )
    assert cfg.hydra.launcher._target_.endswith(target)


def test_joblib_sweep_table(joblib_sweep: Path, tmp_path: Path) -> None:
    table = load_sweep(joblib_sweep)
    assert len(table) == 4 and table["complete"].all()
    assert sorted(zip(table[CONTAINMENT], table["seed"], strict=True)) == sorted(
        itertools.product([0.3, 0.6], [1, 2])
    )
    assert list(table["job"]) == [0, 1, 2, 3]
    assert table[CONTAINMENT].dtype == float and table["seed"].dtype == "int64"
    assert [job_seed(s, j) for s, j in zip(table["seed"], table["job"], strict=True)] == list(
        table["job_seed"]
    )
    assert table["service_level"].between(0, 1).all() and table["needs.fcr"].notna().all()
    csv = pd.read_csv(joblib_sweep / "sweep.csv")
    assert list(csv.columns) == list(table.columns) and len(csv) == 4
    assert list(csv["service_level"]) == pytest.approx(list(table["service_level"]))
    ds = to_xarray(table)
    assert dict(ds.sizes) == {CONTAINMENT: 2, "seed": 2}
    assert ds.attrs["cluster"] == "local"
    # A single run with the job's seed is the job.
    job = json.loads((joblib_sweep / "0" / "metrics.json").read_text())
    overrides = [o for o in job["overrides"] if not o.startswith("seed=")]
    done = run_app("simulate", *overrides, f"seed={job['seed']}", out=tmp_path / "one",
                   cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    single = json.loads((tmp_path / "one" / "metrics.json").read_text())
    assert single == {k: v for k, v in job.items() if k not in BOOKKEEPING}


def test_killed_sweep_resumes(tmp_path: Path) -> None:
    """Kill a sweep once a job has finished; the same command then does only the rest."""
    sweep = tmp_path / "sweep"
    args = [
        "horizon=7",
        "warmup=1",
        "replications=1",
        f"{CONTAINMENT}=0.3,0.45,0.6",
        "seed=1,2",
        "cluster=local",
        "hydra.launcher.n_jobs=2",
    ]
    cmd = app_command("simulate", *args, out=sweep, multirun=True)
    with open(tmp_path / "killed.log", "w") as log:
        proc = subprocess.Popen(
            cmd, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 300
        while not list(sweep.glob(f"*/{FINISHED}")):
            assert proc.poll() is None, (tmp_path / "killed.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "no job finished in time"
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and its joblib workers
        proc.wait()
    for _ in range(200):  # until every process of the group is gone
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    # finished: the marker holding the hash of metrics.json, written last
    done_before = {int(p.parent.name): (p.parent / "metrics.json").stat()
                   for p in sweep.glob(f"*/{FINISHED}")}
    assert 1 <= len(done_before) < 6, sorted(done_before)
    partial = load_sweep(sweep)  # jobs that never started have no directory yet
    assert set(partial.loc[partial["complete"], "job"]) >= set(done_before)

    rerun = multirun(args, sweep, tmp_path)
    skipped = {int(n) for n in re.findall(r"skipping job (\d+): already complete", rerun.stdout)}
    simulated = {int(n) for n in re.findall(r"written to .*/(\d+)/metrics.json", rerun.stdout)}
    assert skipped == set(done_before)
    assert simulated == set(range(6)) - set(done_before)
    for num, before in done_before.items():
        after = (sweep / str(num) / "metrics.json").stat()
        assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    table = load_sweep(sweep)
    assert len(table) == 6 and table["complete"].all()
    assert len(pd.read_csv(sweep / "sweep.csv")) == 6


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def ray_head(env: dict[str, str]) -> Iterator[str]:
    """A Ray head on this machine (``ray start --head --block``), its address, then stopped.

    ``--block`` keeps the head's processes children of this one command, so stopping it (a
    SIGTERM to that process) stops exactly them: ``ray stop`` would stop every Ray on the host.
    """
    port = _free_port()
    temp = tempfile.mkdtemp(prefix="cxray")  # short: Ray puts sockets under it
    cmd = [
        sys.executable,
        "-c",
        "from ray.scripts.scripts import main; main()",
        "start",
        "--head",
        "--block",
        f"--port={port}",
        "--node-ip-address=127.0.0.1",
        "--num-cpus=2",
        "--include-dashboard=false",
        "--disable-usage-stats",
        f"--temp-dir={temp}",
    ]
    head = subprocess.Popen(
        cmd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in head.stdout], daemon=True).start()
    seen = []
    try:
        deadline = time.monotonic() + 120
        while not any("Ray runtime started" in x for x in seen):
            assert head.poll() is None and time.monotonic() < deadline, "".join(seen)
            try:
                seen.append(lines.get(timeout=1))
            except queue.Empty:
                pass
        yield f"127.0.0.1:{port}"
    finally:
        head.send_signal(signal.SIGTERM)
        try:
            head.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait()
        shutil.rmtree(temp, ignore_errors=True)


def test_ray_sweep_matches_joblib(joblib_sweep: Path, tmp_path: Path) -> None:
    """The same sweep on a Ray head joined by address gives the same files, bit for bit."""
    try:
        import ray  # noqa: F401
    except ImportError as e:
        pytest.skip(f"Ray cannot be imported here ({e}); pip install 'cxsim[ray]'")
    # The head turns on token authentication; head and client share a throw-away token.
    env = {
        **os.environ,
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": secrets.token_hex(32),
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    with ray_head(env) as address:
        multirun(
            [*SMALL, "cluster=ray", f"hydra.launcher.ray.init.address={address}"],
            tmp_path / "sweep",
            tmp_path,
            env=env,
        )
    for num in range(4):
        ray_bytes = (tmp_path / "sweep" / str(num) / "metrics.json").read_bytes()
        assert ray_bytes == (joblib_sweep / str(num) / "metrics.json").read_bytes(), num
    assert len(load_sweep(tmp_path / "sweep")) == 4


def test_optuna_study_minimises_cost(tmp_path: Path) -> None:
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper", reason="pip install cxsim[optuna]")
    sweep = tmp_path / "sweep"
    multirun(
        [
            "search=cheapest_staffing",
            "cluster=local",
            "horizon=3",
            "warmup=1",
            "replications=1",
            "hydra.sweeper.n_trials=4",
        ],
        sweep,
        tmp_path,
    )
    table = load_sweep(sweep)
    assert len(table) == 4 and table["complete"].all()
    assert (table["objective"] == table["staffing_cost"] + table["penalty"]).all()
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert best["best_value"] == pytest.approx(table["objective"].min())
    assert table["touchpoints.chat_agents.shifts.0.agents"].between(1, 8).all()
