"""What the Hydra apps share: the run directory, atomic writes, clean user errors."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import numpy as np
import pandas as pd

from cxsim.fileio import atomic_write, write_json

__all__ = ["fail", "job_seed", "run_dir", "write_json", "write_parquet"]

USER_ERROR = 2


def fail(message: str) -> NoReturn:
    """Report a user error (bad config or data) without a traceback and exit with code 2."""
    print(f"cxsim: error: {message}", file=sys.stderr)
    raise SystemExit(USER_ERROR)


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
