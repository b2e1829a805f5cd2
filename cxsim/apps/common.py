"""What the Hydra apps share: the run directory, atomic writes, clean user errors."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import NoReturn

import pandas as pd

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


def _atomic(path: Path, write) -> None:
    """Write through a temporary file in the same directory, then rename: a reader never
    sees a half-written file, and an interrupted run leaves none."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, doc: dict) -> None:
    def dump(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2, allow_nan=False)
            f.write("\n")

    _atomic(path, dump)


def write_parquet(path: Path, frame: pd.DataFrame) -> None:
    _atomic(path, lambda tmp: frame.to_parquet(tmp, index=False))
