"""Fixtures shared by several test modules."""

from __future__ import annotations

from pathlib import Path

import pytest
from apprun import run_app


@pytest.fixture(scope="session")
def short_fit(tmp_path_factory) -> Path:
    """``cxsim-fit`` of the bundled example with few draws (2 x 150): its run directory.
    Too short to pass its diagnostics, so its posterior is marked not fit for forecasting."""
    out = tmp_path_factory.mktemp("fit")
    done = run_app("fit", "sampler.draws=150", "sampler.tune=150", "sampler.chains=2", out=out)
    assert done.returncode == 0, done.stderr
    return out
