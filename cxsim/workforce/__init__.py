"""Staffing: how many agents each interval needs, and the cheapest shifts that cover them.

Its analytic core needs only NumPy and SciPy (and, from cxsim, ``metrics`` and
``fileio``): :mod:`~cxsim.workforce.erlang` evaluates Erlang B, C and A for arrays of
intervals x agent counts, :mod:`~cxsim.workforce.requirements` finds the fewest agents per
interval that meet service targets, and :mod:`~cxsim.workforce.roster` chooses shifts that
cover such a requirement at least cost. :mod:`~cxsim.workforce.simulated` corrects the
requirement by simulation (it alone uses the engine) and :mod:`~cxsim.workforce.plan` turns
it into a re-simulated, repaired roster for ``cxsim-staff``; :mod:`~cxsim.workforce.cx`
weighs staffing against the customers' effort, NPS and churn. See ``docs/staffing.md``.
"""

from cxsim.workforce.erlang import (
    QueueFigures,
    erlang_a_figures,
    erlang_b,
    erlang_c,
    erlang_c_figures,
)
from cxsim.workforce.requirements import Requirement, Targets, requirement
from cxsim.workforce.roster import Roster, RosterShift, solve_roster
from cxsim.workforce.shifts import Break, RosterRuleError, ShiftType

__all__ = [
    "Break",
    "QueueFigures",
    "Requirement",
    "Roster",
    "RosterRuleError",
    "RosterShift",
    "ShiftType",
    "Targets",
    "erlang_a_figures",
    "erlang_b",
    "erlang_c",
    "erlang_c_figures",
    "requirement",
    "solve_roster",
]
