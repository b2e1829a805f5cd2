"""A fit is a function of (data, config, seed), whatever PyTensor's compile cache holds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

FIT = [sys.executable, "-m", "cxsim.apps.fit", "progress=false"]
SHORT = ["sampler.draws=150", "sampler.tune=150", "sampler.chains=2"]  # as conftest's short_fit


def groups(path: Path) -> dict[str, dict[str, np.ndarray]]:
    """Every array of the posterior and sample_stats groups of a saved fit."""
    import arviz as az

    tree = az.from_netcdf(path / "posterior.nc")
    return {g: {k: v.values for k, v in tree[g].to_dataset().data_vars.items()}
            for g in ("posterior", "sample_stats")}


def test_a_fit_is_the_same_with_a_cold_compile_cache(short_fit: Path, tmp_path: Path) -> None:
    """``short_fit`` again, in another process whose PyTensor cache is empty: the model is
    compiled afresh there, while ``short_fit`` loaded it from the suite's cache whenever an
    earlier fit of the example had compiled it (``test_check``'s does). That is the case that
    used to give other draws (docs/calibrate.md, "Reproducible fits"): now every posterior and
    sampler-statistics array and ``summary.json`` are identical."""
    env = {**os.environ, "PYTENSOR_FLAGS": f"base_compiledir={tmp_path / 'cold-cache'}"}
    done = subprocess.run([*FIT, *SHORT, f"hydra.run.dir={tmp_path / 'fit'}"], env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    first, second = groups(short_fit), groups(tmp_path / "fit")
    for group, arrays in first.items():
        assert set(arrays) == set(second[group])
        for name, values in arrays.items():
            assert np.array_equal(values, second[group][name], equal_nan=True), (group, name)
    assert (short_fit / "summary.json").read_bytes() == (tmp_path / "fit/summary.json").read_bytes()
