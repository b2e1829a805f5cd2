"""A fit is a function of (data, config, seed), whatever PyTensor's compile cache holds; a
single-chain fit works and says that R-hat could not be computed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cxsim.calibrate.diagnostics import diagnose

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
            # NaN == NaN only for floats; nutpie's divergence messages are strings
            nan_ok = values.dtype.kind in "fc"
            assert np.array_equal(values, second[group][name], equal_nan=nan_ok), (group, name)
    assert (short_fit / "summary.json").read_bytes() == (tmp_path / "fit/summary.json").read_bytes()


def test_a_single_chain_summary_has_no_rhat(short_fit: Path, tmp_path: Path) -> None:
    """The summary of one chain of ``short_fit`` (what ``sampler.chains=1`` gives it): R-hat
    null with the reason, not fit for forecasting, and written as JSON (NaN used to fail)."""
    import arviz as az

    from cxsim.calibrate.micro.fit import FitSettings, anchor_of, summarise
    from cxsim.calibrate.micro.prepare import prepare
    from cxsim.data import load_observed
    from cxsim.data.synthetic import example_path
    from cxsim.fileio import write_json

    one = az.from_netcdf(short_fit / "posterior.nc").isel(chain=[0], missing_dims="ignore")
    data, settings = load_observed(example_path()), FitSettings(chains=1)
    prep = prepare(data, settings.churn_period_days, settings.fatigue_days)
    summary = summarise(one, data, prep, anchor_of(data, settings), settings)
    write_json(tmp_path / "summary.json", summary)
    assert summary["diagnostics"]["max_rhat"] is None
    assert summary["diagnostics"]["min_ess_bulk"] > 0
    assert summary["fit_for_forecasting"] is False
    assert summary["failed_checks"][0].startswith("R-hat not computable from 1 chain")


@pytest.mark.slow
def test_a_single_chain_fit_is_saved_without_rhat(tmp_path: Path) -> None:
    """``sampler.chains=1`` end to end (25 s): samples, writes everything, reports R-hat as
    null and why, and is not fit for forecasting: one chain cannot show convergence."""
    done = subprocess.run([*FIT, "sampler.chains=1", "sampler.draws=60", "sampler.tune=60",
                           f"hydra.run.dir={tmp_path}"], capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["diagnostics"]["max_rhat"] is None
    assert summary["diagnostics"]["min_ess_bulk"] > 0
    assert summary["fit_for_forecasting"] is False
    assert any("R-hat not computable from 1 chain" in c for c in summary["failed_checks"])
    assert "R-hat not computable from 1 chain" in done.stderr  # said loudly, as any failure
    assert groups(tmp_path)["posterior"]["memory"].shape == (1, 60)
    for png in ("ppc_answers.png", "ppc_retention.png"):
        assert (tmp_path / png).is_file()


def test_diagnostics_no_parameter_yields_are_null_and_fail() -> None:
    """Draws with a NaN give no R-hat or ESS: None (JSON null) and a failed check each."""
    import xarray as xr

    draws = np.random.default_rng(0).normal(size=(2, 50))
    draws[0, 3] = np.nan
    stats = xr.Dataset({"diverging": (("chain", "draw"), np.zeros((2, 50), bool))})
    figures, failed = diagnose(xr.Dataset({"a": (("chain", "draw"), draws)}), stats)
    assert figures == {"max_rhat": None, "min_ess_bulk": None, "divergences": 0,
                       "divergences_allowed": 0}
    assert failed == ["R-hat not computable for any parameter (constant or non-finite draws)",
                      "bulk ESS not computable for any parameter (non-finite draws)"]
