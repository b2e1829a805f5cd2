"""Sweep benchmark: 8 jobs on 2 processes (hydra-joblib-launcher) vs the same 8 one by one.

    python benchmarks/sweep.py [--quick] [--horizon DAYS] [--replications N]

Both sweeps run in this one invocation, each as the user would run it (a fresh
``cxsim-simulate -m`` process: start-up, config composition, every job, the sweep.csv
callback), on the default scenario: 91 days x 8 replications, about 6 s of simulation per job,
so that process start-up and Hydra's config composition (~0.2 s per job and pass) do not
dominate. The target is a RATIO, speed-up >= 1.7x, never an absolute time. The two
sweeps must also write the same metrics.json for every job, byte for byte: a job's numbers do
not depend on the launcher. The load average is printed because other work on the machine
eats into the second core, and so is how many cores each sweep kept busy on average (the
CPU time of its processes over its wall time). The script reports; it always exits 0.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 1.7
SWEEP = ["touchpoints.chatbot.containment=0.3,0.45,0.6,0.75", "seed=1,2"]  # 8 jobs


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_sweep(args: list[str], sweep_dir: Path) -> tuple[float, float]:
    """Wall time of one ``cxsim-simulate -m`` command and the CPU time of its processes
    (driver and workers), in seconds."""
    cmd = [
        sys.executable,
        "-m",
        "cxsim.apps.simulate",
        "-m",
        *args,
        "progress=false",
        f"hydra.sweep.dir={sweep_dir}",
    ]
    cpu, start = _children_cpu(), time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=sweep_dir.parent)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"sweep failed:\n{done.stderr[-3000:]}")
    return wall, _children_cpu() - cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short jobs: a smoke test, no verdict")
    ap.add_argument("--horizon", type=float, default=None, help="days per job (default 91)")
    ap.add_argument("--replications", type=int, default=8, help="replications per job")
    args = ap.parse_args()
    horizon = args.horizon or (7 if args.quick else 91)
    reps = 1 if args.quick else args.replications
    scenario = [f"horizon={horizon:g}", "warmup=2", f"replications={reps}", *SWEEP]
    print(
        f"8 jobs: default scenario, {horizon:g} days x {reps} replications each; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    )
    with tempfile.TemporaryDirectory(prefix="cxsim-bench-") as tmp:
        root = Path(tmp)
        seq, cpu = run_sweep(scenario, root / "sequential")
        print(f"  sequential (basic launcher)   {seq:7.2f} s wall, {cpu / seq:.2f} cores busy")
        cmd = [*scenario, "cluster=local", "hydra.launcher.n_jobs=2"]
        par, cpu = run_sweep(cmd, root / "joblib")
        print(f"  joblib launcher, n_jobs=2     {par:7.2f} s wall, {cpu / par:.2f} cores busy")
        same = all(
            (root / "sequential" / str(j) / "metrics.json").read_bytes()
            == (root / "joblib" / str(j) / "metrics.json").read_bytes()
            for j in range(8)
        )
    speedup = seq / par
    verdict = "" if args.quick else ("  (target met)" if speedup >= TARGET else "  (MISSED)")
    print(f"  speed-up {speedup:.2f}x, target >= {TARGET}x{verdict}")
    print(f"  metrics.json identical across launchers: {same}")
    print(f"  load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
