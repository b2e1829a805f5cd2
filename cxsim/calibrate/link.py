"""Linking the two views of retention: the engine's customers and an sBG fit of cohorts.

A CRM export (or a simulation's ``customers`` table) becomes cohort survival counts
(:func:`cxsim.data.cohorts_from_customers`), the input of the sBG model; :func:`compare` then
sets the retention curve those customers actually show against the sBG fit's curve, period by
period, and summarises the gap in one number.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def compare(cohorts: pd.DataFrame, summary: dict, cohort: str = "all") -> dict:
    """Observed retention (survivors / cohort size) against the sBG projection of ``summary``
    (from :func:`cxsim.calibrate.cohort.model.summarize`): per period, and the largest absolute
    gap over the observed periods in percentage points."""
    observed = cohorts.loc[cohorts["cohort"] == cohort, "surviving"].to_numpy(float)
    proj = summary["projection"][cohort]
    model = np.asarray(proj["surviving_mean"], float) / observed[0]
    low = np.asarray(proj["surviving_low"], float) / observed[0]
    high = np.asarray(proj["surviving_high"], float) / observed[0]
    k = observed.size
    gap = 100 * np.abs(model[:k] - observed / observed[0])
    return {"period": proj["period"], "observed": (observed / observed[0]).tolist(),
            "sbg_mean": model.tolist(), "sbg_low": low.tolist(), "sbg_high": high.tolist(),
            "max_gap_points": float(gap.max())}
