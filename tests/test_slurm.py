"""A sweep on a real single-node Slurm cluster (``.ci/slurm-up.sh`` starts one as root) gives
the same files as the joblib launcher, bit for bit.

Skipped, saying why, where ``sinfo`` is missing or the cluster is not up; with
``CXSIM_REQUIRE_SLURM=1`` (set by ``.ci/run`` once the cluster is up) it fails instead, so CI
cannot skip it by accident.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sweeping import SMALL, multirun

from cxsim.results import load_sweep


def slurm_unavailable() -> str | None:
    """Why a Slurm sweep cannot run here, or None when the cluster is up."""
    if shutil.which("sinfo") is None:
        return "sinfo not found: Slurm is not installed here (sudo bash .ci/slurm-up.sh)"
    try:
        done = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True,
                              timeout=30)
    except subprocess.TimeoutExpired:
        return "sinfo did not answer in 30 s: slurmctld is not up (sudo bash .ci/slurm-up.sh)"
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return f"Slurm is not up ({why}); start it with sudo bash .ci/slurm-up.sh"
    states = set(done.stdout.split())
    if not states & {"idle", "mixed", "allocated", "completing"}:
        return f"no Slurm node can run jobs (node states: {sorted(states) or 'none'})"
    # The controller lists a node idle for minutes after its slurmd died: run a job.
    try:
        job = subprocess.run(["srun", "-N1", "-t", "1", "--immediate=30", "true"],
                             capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return "srun did not run a job in 60 s (sudo bash .ci/slurm-up.sh)"
    if job.returncode != 0:
        why = (job.stderr.strip().splitlines() or ["no output"])[-1]
        return f"srun cannot run a job ({why}); sudo bash .ci/slurm-up.sh"
    return None


@pytest.fixture(scope="session")  # before the session-scoped joblib_sweep, which it can skip
def slurm_cluster() -> None:
    why = slurm_unavailable()
    if why is None:
        return
    if os.environ.get("CXSIM_REQUIRE_SLURM") == "1":
        pytest.fail(f"CXSIM_REQUIRE_SLURM=1 but {why}")
    pytest.skip(why)


def test_slurm_sweep_matches_joblib(slurm_cluster: None, joblib_sweep: Path,
                                    tmp_path: Path) -> None:
    """The four SMALL jobs as a Slurm job array, through hydra-submitit-launcher: the same
    ``metrics.json`` bytes as joblib's. The jobs run this interpreter (the project's
    environment: the compute node is this machine) and write into an absolute sweep dir."""
    sweep = (tmp_path / "sweep").resolve()
    multirun([*SMALL, "cluster=slurm", "hydra.launcher.mem_gb=1",
              "hydra.launcher.timeout_min=10"], sweep, tmp_path)
    for num in range(4):
        slurm_bytes = (sweep / str(num) / "metrics.json").read_bytes()
        assert slurm_bytes == (joblib_sweep / str(num) / "metrics.json").read_bytes(), num
    table = load_sweep(sweep)
    assert len(table) == 4 and table["complete"].all()
    assert (sweep / "sweep.csv").is_file()
    # It did go through Slurm: one array of four tasks, each run by this interpreter.
    hydra_cfg = yaml.safe_load((sweep / "multirun.yaml").read_text())["hydra"]
    assert hydra_cfg["launcher"]["_target_"].endswith("SlurmLauncher")
    scripts = list(sweep.glob(".submitit/*/*_submission.sh"))
    assert len(scripts) == 1, scripts
    assert shlex.quote(sys.executable) in scripts[0].read_text()
    assert len(list(sweep.glob(".submitit/*_*/*_result.pkl"))) == 4
    job_ids = {yaml.safe_load((sweep / str(n) / ".hydra" / "hydra.yaml").read_text())
               ["hydra"]["job"]["id"] for n in range(4)}
    array = scripts[0].parent.name
    assert job_ids == {f"{array}_{i}" for i in range(4)}
