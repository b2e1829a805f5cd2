"""The behaviour parameters of a scenario as one flat mapping of named numbers.

Names are the ``behaviour`` keys, per-segment parameters as ``name[segment]`` and cutpoints as
``name[k]``: the names ``truth.json`` uses and a fit reports, so that a fitted posterior can
be checked against the truth it was simulated from.

>>> from cxsim.spec import compose_scenario
>>> theta = theta_of(compose_scenario())
>>> theta["memory"], theta["churn_logit[traditional]"]
(0.6, -3.8)
"""

from __future__ import annotations

from dataclasses import fields

from cxsim.spec.schema import Behaviour, Scenario

SEGMENT_PARAMETERS = ("satisfaction_base", "churn_logit", "revenue_per_month")


def theta_of(s: Scenario) -> dict[str, float]:
    """Flat behaviour parameters of ``s`` (see module doc)."""
    theta: dict[str, float] = {}
    for f in fields(Behaviour):
        value = getattr(s.behaviour, f.name)
        if f.name == "enabled":
            continue
        if isinstance(value, list | tuple):
            theta.update({f"{f.name}[{k}]": float(v) for k, v in enumerate(value)})
        else:
            theta[f.name] = float(value)
    for name in SEGMENT_PARAMETERS:
        for seg, g in s.segments.items():
            theta[f"{name}[{seg}]"] = float(getattr(g, name))
    for reason, j in s.journeys.items():
        theta[f"moment_weight[{reason}]"] = float(j.moment_weight)
    return theta
