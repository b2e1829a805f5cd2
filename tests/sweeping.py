"""What the sweep tests share: a tiny sweep and how to run one in a fresh process."""

from __future__ import annotations

import subprocess
from pathlib import Path

from apprun import run_app

CONTAINMENT = "touchpoints.chatbot.containment"
# Four tiny jobs of the default scenario: chatbot containment x base seed.
SMALL = ["horizon=3", "warmup=1", "replications=1", f"{CONTAINMENT}=0.3,0.6", "seed=1,2"]


def multirun(args: list[str], sweep_dir: Path, cwd: Path, **kw) -> subprocess.CompletedProcess:
    """``cxsim-simulate -m ARGS hydra.sweep.dir=SWEEP_DIR`` in a fresh process; it must
    succeed."""
    done = run_app("simulate", *args, out=sweep_dir, multirun=True, cwd=cwd, timeout=600, **kw)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done
