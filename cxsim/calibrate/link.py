"""Linking the two views of retention: the engine's customers and an sBG fit of cohorts.

A CRM export (or a simulation's ``customers`` table) becomes cohort survival counts
(:func:`cohorts_from_customers`), the input of the sBG model; :func:`compare` then sets the
retention curve those customers actually show against the sBG fit's curve, period by period,
and summarises the gap in one number.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MIN_PER_DAY = 1440.0


def cohorts_from_customers(customers: pd.DataFrame, period_days: float = 30.0,
                           cohort: str = "all") -> pd.DataFrame:
    """Survivors at each period boundary of the customers observed from the start (one
    cohort), in the ``cohort,period,surviving`` format; periods up to the end of observation.

    >>> c = pd.DataFrame({"start_min": [0.0] * 4, "churn_min": [43200.0, np.nan, 86400.0,
    ...                   np.nan], "censored_min": [131040.0] * 4})
    >>> cohorts_from_customers(c)["surviving"].tolist()
    [4, 3, 2, 2]
    """
    period = period_days * MIN_PER_DAY
    end = float(customers["censored_min"].min())
    n_periods = int(np.floor(end / period + 1e-9))
    churn = customers["churn_min"].to_numpy(float)
    churn = np.where(np.isnan(churn), np.inf, churn)
    surviving = [int((churn > k * period).sum()) for k in range(n_periods + 1)]
    return pd.DataFrame({"cohort": cohort, "period": range(n_periods + 1),
                         "surviving": surviving})


def compare(cohorts: pd.DataFrame, summary: dict, cohort: str = "all") -> dict:
    """Observed retention (survivors / cohort size) against the sBG projection of ``summary``
    (from :func:`cxsim.calibrate.cohort.summarize`): per period, and the largest absolute
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
