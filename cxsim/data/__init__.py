"""Observed data: the CRM-like export the simulator writes and the Bayesian layer reads.

See :mod:`cxsim.data.schemas` for the file format and :mod:`cxsim.data.load` for the API.
"""

from cxsim.data.errors import DataError
from cxsim.data.load import ObservedData, load_observed, observed_metrics, write_observed

__all__ = ["DataError", "ObservedData", "load_observed", "observed_metrics", "write_observed"]
