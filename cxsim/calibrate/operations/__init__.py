"""Operations estimated from a contact log: pure NumPy/SciPy functions on the parsed log.

``calibrate_operations(log)`` gives, per queue, arrival rates by weekday x interval (exact
Poisson intervals, a dispersion check), handle-time fits (lognormal, gamma, exponential by
AIC), patience with right-censoring (Kaplan-Meier and parametric MLE), abandonment and its
hazard by wait, staffing per interval, transfers, redials and first-contact resolution, each
with its uncertainty; ``.to_json()`` serialises it. See ``docs/contact_logs.md``.
"""

from cxsim.calibrate.operations.abandonment import abandonment
from cxsim.calibrate.operations.arrivals import arrival_rates
from cxsim.calibrate.operations.calibrate import Operations, QueueOperations, calibrate_operations
from cxsim.calibrate.operations.handle import handle_time
from cxsim.calibrate.operations.patience import kaplan_meier, patience
from cxsim.calibrate.operations.staffing import staffing_from_activity, staffing_from_roster

__all__ = ["Operations", "QueueOperations", "abandonment", "arrival_rates",
           "calibrate_operations", "handle_time", "kaplan_meier", "patience",
           "staffing_from_activity", "staffing_from_roster"]
