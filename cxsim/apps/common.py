"""What the Hydra apps share: the run directory, atomic writes, clean user errors."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import pandas as pd

from cxsim.fileio import atomic_write, write_json

__all__ = ["fail", "run_dir", "write_json", "write_parquet"]

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
