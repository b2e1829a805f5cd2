"""What the Hydra apps share: the run directory, atomic writes, clean user errors, the exit
code of a bad config, progress."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pandas as pd

from cxsim.fileio import atomic_write, write_json

__all__ = ["console_script", "fail", "job_seed", "progress_of", "run_dir", "task_started",
           "write_json", "write_parquet"]

USER_ERROR = 2
_started = False  # set once an app's task runs: a Hydra exit before that is a config error


def fail(message: str) -> NoReturn:
    """Report a user error (bad config or data) without a traceback and exit with code 2."""
    print(f"cxsim: error: {message}", file=sys.stderr)
    raise SystemExit(USER_ERROR)


def task_started() -> None:
    """Called first by every app's task: Hydra composed the config without error."""
    global _started
    _started = True


def console_script(hydra_main: Callable[[], Any]) -> Callable[[], None]:
    """The console-script entry point of a ``@hydra.main`` function: Hydra's own exit on a
    bad config or override (code 1, before the task starts) becomes exit code 2."""

    def main() -> None:
        try:
            hydra_main()
        except SystemExit as e:
            if e.code == 1 and not _started:
                raise SystemExit(USER_ERROR) from None
            raise

    return main


def progress_of(cfg: Any) -> bool:
    """Whether to draw progress bars: asked for, and stderr is a terminal."""
    return bool(cfg.get("progress", True)) and sys.stderr.isatty()


def run_dir() -> Path:
    """The Hydra run (or sweep job) directory, created if needed."""
    from hydra.core.hydra_config import HydraConfig

    out = Path(HydraConfig.get().runtime.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    return out


def write_parquet(path: Path, frame: pd.DataFrame) -> None:
    atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))


def job_seed(base_seed: int, job_num: int) -> int:
    """The seed of job ``job_num`` of a sweep whose configs carry ``base_seed``.

    ``SeedSequence(base_seed, spawn_key=(job_num,))``: each job of a sweep gets an independent
    stream, and the same one whatever launcher runs it or in what order (it depends only on the
    seed and ``hydra.job.num``, never on a process or job id). A single run with
    ``seed=<job_seed>`` reproduces the job.

    >>> job_seed(20261122, 0), job_seed(20261122, 1)
    (3108791984, 4199102476)
    >>> job_seed(20261122, 0) == job_seed(20261122, 0)
    True
    """
    return int(np.random.SeedSequence(base_seed, spawn_key=(job_num,)).generate_state(1)[0])
