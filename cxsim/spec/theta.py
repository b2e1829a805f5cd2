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

from dataclasses import fields, replace

from cxsim.spec.schema import Behaviour, Scenario
from cxsim.spec.validate import validate

SEGMENT_PARAMETERS = ("satisfaction_base", "churn_logit", "revenue_per_month")


def theta_of(s: Scenario) -> dict[str, float]:
    """Flat behaviour parameters of ``s`` (see module doc)."""
    theta: dict[str, float] = {}
    for f in fields(Behaviour):
        value = getattr(s.behaviour, f.name)
        if f.name == "enabled":
            continue
        if f.name == "cutpoints":  # of the questions beyond NPS, CES and CSAT
            theta.update({f"{q}_cutpoints[{k}]": float(v)
                          for q, cuts in value.items() for k, v in enumerate(cuts)})
        elif isinstance(value, list | tuple):
            theta.update({f"{f.name}[{k}]": float(v) for k, v in enumerate(value)})
        else:
            theta[f.name] = float(value)
    for name in SEGMENT_PARAMETERS:
        for seg, g in s.segments.items():
            theta[f"{name}[{seg}]"] = float(getattr(g, name))
    for reason, j in s.journeys.items():
        theta[f"moment_weight[{reason}]"] = float(j.moment_weight)
    return theta


def with_theta(s: Scenario, theta: dict[str, float]) -> Scenario:
    """``s`` with the behaviour parameters in ``theta`` (names as :func:`theta_of`) replaced;
    names ``theta`` does not mention keep their value. The inverse of :func:`theta_of`.

    >>> from cxsim.spec import compose_scenario
    >>> s = with_theta(compose_scenario(), {"memory": 0.8, "nps_cutpoints[0]": -5.0,
    ...                                     "moment_weight[renewal]": 2.0})
    >>> s.behaviour.memory, s.behaviour.nps_cutpoints[0], s.journeys["renewal"].moment_weight
    (0.8, -5.0, 2.0)
    >>> with_theta(s, {"memroy": 1.0})
    Traceback (most recent call last):
    ...
    KeyError: "theta: 'memroy' is not a behaviour parameter of this scenario"
    """
    known = theta_of(s)
    unknown = [k for k in theta if k not in known]
    if unknown:
        raise KeyError(f"theta: {unknown[0]!r} is not a behaviour parameter of this scenario")
    behaviour = replace(s.behaviour)
    segments = {k: replace(g) for k, g in s.segments.items()}
    journeys = {k: replace(j) for k, j in s.journeys.items()}
    for name, value in theta.items():
        base, _, level = name.partition("[")
        level = level.rstrip("]")
        if not level:
            setattr(behaviour, base, float(value))
        elif base in SEGMENT_PARAMETERS:
            setattr(segments[level], base, float(value))
        elif base == "moment_weight":
            journeys[level].moment_weight = float(value)
        elif hasattr(behaviour, base):  # a cutpoint of NPS, CES or CSAT
            cuts = list(getattr(behaviour, base))
            cuts[int(level)] = float(value)
            setattr(behaviour, base, cuts)
        else:  # a cutpoint of another question
            question = base.removesuffix("_cutpoints")
            behaviour.cutpoints = {**behaviour.cutpoints,
                                   question: list(behaviour.cutpoints[question])}
            behaviour.cutpoints[question][int(level)] = float(value)
    return validate(replace(s, behaviour=behaviour, segments=segments, journeys=journeys))
