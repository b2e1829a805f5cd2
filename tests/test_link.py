"""The engine's retention and an sBG fit of its cohort agree (a number and a plot)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cxsim.calibrate.cohort.model import sample_posterior, summarize
from cxsim.calibrate.link import compare
from cxsim.data import cohorts_from_customers
from cxsim.engine import simulate
from cxsim.plots.calibrate import retention_link
from cxsim.spec import compose_scenario

FITTED = 6


@pytest.mark.slow
def test_sbg_fitted_on_six_months_projects_the_engines_next_six(tmp_path: Path):
    s = compose_scenario(["population.customers=4000", "horizon=361", "replications=1",
                          "seed=3"])
    customers = simulate(s, keep_rows=True).replications[0].customers
    cohorts = cohorts_from_customers(customers)
    fitted = cohorts[cohorts["period"] <= FITTED]
    tree = sample_posterior(fitted, draws=1000, chains=4, seed=1, progressbar=False)
    comparison = compare(cohorts, summarize(fitted, tree, forecast_periods=FITTED))
    # The engine's churn is a relationship-driven hazard, not an sBG process; over a year the
    # sBG projection still tracks it within a few points.
    assert comparison["max_gap_points"] < 3.0, comparison
    assert retention_link(comparison, tmp_path / "link.png", FITTED).stat().st_size > 0
