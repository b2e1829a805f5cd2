"""Observed data: the CRM-like export the simulator writes and the Bayesian layer reads, and
the cohort survival counts of the retention model.

See :mod:`cxsim.data.schemas` for the file formats, :mod:`cxsim.data.load` and
:mod:`cxsim.data.cohorts` for the API.
"""

from cxsim.data.cohorts import FADER_HARDIE_2007, cohorts_from_customers, load_cohorts
from cxsim.data.errors import DataError
from cxsim.data.load import (
    ObservedData,
    check_fittable,
    load_observed,
    observed_metrics,
    with_row_ids,
    write_observed,
)

__all__ = ["FADER_HARDIE_2007", "DataError", "ObservedData", "check_fittable",
           "cohorts_from_customers", "load_cohorts", "load_observed", "observed_metrics",
           "with_row_ids", "write_observed"]
