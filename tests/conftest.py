"""Fixtures shared by several test modules."""

from __future__ import annotations

from pathlib import Path

import pytest
from apprun import run_app
from sweeping import SMALL, multirun


@pytest.fixture(scope="session")
def short_fit(tmp_path_factory) -> Path:
    """``cxsim-fit`` of the bundled example with few draws (2 x 150): its run directory.
    Too short to pass its diagnostics, so its posterior is marked not fit for forecasting."""
    out = tmp_path_factory.mktemp("fit")
    done = run_app("fit", "sampler.draws=150", "sampler.tune=150", "sampler.chains=2", out=out)
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="session")
def joblib_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The four SMALL jobs, run by the joblib launcher on two processes: the reference the
    Ray and Slurm sweeps are compared with, bit for bit."""
    tmp = tmp_path_factory.mktemp("joblib")
    multirun([*SMALL, "cluster=local", "hydra.launcher.n_jobs=2"], tmp / "sweep", tmp)
    return tmp / "sweep"
