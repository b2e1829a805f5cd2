"""Observed-data export: what the simulator writes loads back and gives the same figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from apprun import run_app

from cxsim.data import load_observed, observed_metrics
from cxsim.data.synthetic import example_path, make_example

SHARED = ("nps", "csat", "ces", "survey_response_rate", "churn_rate", "retention")


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export")
    done = run_app("simulate", "export_observed=true", "population.customers=1500",
                   "horizon=61", "replications=1", "seed=3", out=out)
    assert done.returncode == 0, done.stderr
    return out


def test_loading_the_export_reproduces_the_simulated_metrics(exported: Path):
    metrics = json.loads((exported / "metrics.json").read_text())
    data = load_observed(exported / "observed")
    again = observed_metrics(data)
    assert again == metrics["observed"]  # exactly: the CSV round trip loses nothing
    for name in SHARED:  # and the engine's own figures (one replication) agree, to rounding
        assert again[name] == pytest.approx(metrics[name], abs=1e-6), name
    assert set(data.truth["parameters"]) >= {"memory", "churn_logit[mainstream]"}
    assert len(data.customers) == 1500


def test_the_bundled_example_loads_and_regenerates_bit_for_bit(tmp_path: Path):
    bundled = example_path()
    data = load_observed(bundled)
    assert len(data.episodes) > 1000 and data.surveys["answered"].sum() > 100
    make_example(tmp_path)
    for name in ("customers.csv", "episodes.csv", "surveys.csv", "truth.json"):
        assert (tmp_path / name).read_bytes() == (bundled / name).read_bytes(), name
