"""What the sweep tests share: a tiny sweep and how to run one in a fresh process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CONTAINMENT = "touchpoints.chatbot.containment"
# Four tiny jobs of the default scenario: chatbot containment x base seed.
SMALL = ["horizon=3", "warmup=1", "replications=1", f"{CONTAINMENT}=0.3,0.6", "seed=1,2"]


def multirun_command(args: list[str], sweep_dir: Path) -> list[str]:
    """``cxsim-simulate -m ARGS hydra.sweep.dir=SWEEP_DIR``, run by this interpreter."""
    return [sys.executable, "-m", "cxsim.apps.simulate", "-m", *args, "progress=false",
            f"hydra.sweep.dir={sweep_dir}"]


def multirun(args: list[str], sweep_dir: Path, cwd: Path, **kw) -> subprocess.CompletedProcess:
    """The sweep of :func:`multirun_command` in a fresh process; it must succeed."""
    cmd = multirun_command(args, sweep_dir)
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600, **kw)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done
