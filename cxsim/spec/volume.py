"""Scaling a scenario's staffing with its volume: a population of 1,500 customers served by
the agents of 40,000 leaves every queue empty (occupancy under 2%), so its data hold no
waiting. ``population.staffed_for`` names the population the shifts are sized for; the
agents of every shift are then scaled by ``customers / staffed_for``.

>>> from cxsim.spec.schema import Population, Scenario, Shift, Touchpoint
>>> tp = Touchpoint(channel="phone", kind="queue", shifts=[Shift(agents=20), Shift(agents=3)])
>>> s = Scenario(touchpoints={"phone": tp},
...              population=Population(customers=10_000, staffed_for=40_000))
>>> [sh.agents for sh in scale_staffing(s).touchpoints["phone"].shifts]
[5, 1]
"""

from __future__ import annotations

import dataclasses

from cxsim.spec.schema import Scenario
from cxsim.spec.validate import SpecError


def scaled_agents(agents: int, factor: float) -> int:
    """``agents x factor`` rounded, never below 1 for a shift that had agents (an integer
    number of people: at small volumes a queue keeps one agent, and runs quieter)."""
    if agents <= 0:
        return agents
    return max(1, int(agents * factor + 0.5))  # half up, not to even


def scale_staffing(s: Scenario) -> Scenario:
    """The scenario with every shift's agents scaled to ``population.customers /
    population.staffed_for``; unchanged when ``staffed_for`` is None."""
    base = s.population.staffed_for
    if base is None:
        return s
    if not isinstance(base, int) or base < 1:
        raise SpecError("population.staffed_for", base, "must be an integer >= 1 (or null)")
    factor = s.population.customers / base
    touchpoints = {
        name: dataclasses.replace(tp, shifts=[
            dataclasses.replace(sh, agents=scaled_agents(sh.agents, factor))
            if isinstance(sh.agents, int) else sh for sh in tp.shifts])
        for name, tp in s.touchpoints.items()
    }
    return dataclasses.replace(s, touchpoints=touchpoints)
