"""What each KPI name means: one table read by the reports, the what-if tables, the drivers
and the plots. A name means the same thing in ``metrics.json``, ``summary.json`` and
``whatif.json``: ``nps`` is always the NPS of the survey's respondents, ``nps_population``
the NPS every customer would give (likewise ``ces``/``ces_population`` and
``csat``/``csat_population``); money is per starting customer unless the name says otherwise
(``staffing_cost``: over the horizon). ``docs/domain.md`` has the definitions table.

>>> KPIS["ces"].higher_is_better, KPIS["retention"].format(0.917)
(False, '91.7%')
>>> improves("ltv", np.array([-1.0, 2.0])).tolist()
[False, True]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cxsim.metrics import survey


@dataclass(frozen=True)
class KPI:
    """A figure: its key, a human ``label``, its ``unit``, which way is better (None: neither
    way, e.g. a volume), whether it is a share shown as a percentage, and its print digits.

    A survey figure names its formulas: ``from_answers`` (the answers -> the figure) and
    ``from_probs`` (an answer distribution (..., K) -> the figure). A derived figure names
    its ``inputs`` (other KPIs) and ``of`` (their values, per replication or per draw -> its
    value): the reports compute it wherever its inputs are (docs/extending.md)."""

    name: str
    label: str
    unit: str
    higher_is_better: bool | None
    percent: bool = False
    digits: int = 2
    from_answers: Callable[..., float] | None = None
    from_probs: Callable[..., Any] | None = None
    inputs: tuple[str, ...] = ()
    of: Callable[..., Any] | None = None

    def format(self, x: float | None, sign: bool = False) -> str:
        """``x`` as a person reads it: a share as a percentage, else ``digits`` decimals."""
        if x is None or not np.isfinite(x):
            return "-"
        plus = "+" if sign else ""
        if self.percent:
            return f"{100 * x:{plus}.1f}%"
        return f"{x:{plus}.{self.digits}f}"

    @property
    def title(self) -> str:
        """Label and unit of a change in this figure (a share changes by points)."""
        unit = "points" if self.percent else self.unit
        worse = ", lower is better" if self.higher_is_better is False else ""
        return f"{self.label} ({unit}{worse})"


KPIS: dict[str, KPI] = {}


def register_kpi(kpi: KPI) -> KPI:
    """Add (or replace) a KPI: its name becomes a figure the reports and studies know."""
    KPIS[kpi.name] = kpi
    return kpi


def derived(figures: Mapping[str, Any]) -> dict[str, Any]:
    """The derived KPIs whose inputs are all in ``figures`` (name -> value or array), each
    computed from them."""
    return {k.name: k.of(*(figures[i] for i in k.inputs)) for k in KPIS.values()
            if k.of is not None and k.name not in figures and all(i in figures for i in k.inputs)}


def unit_text(name: str, currency: str = "") -> str:
    """KPI ``name``'s unit as a label shows it, money in ``currency``.

    >>> unit_text("ltv", "EUR"), unit_text("retention"), unit_text("staffing_cost", "GBP")
    ('EUR per customer', 'share', 'GBP')
    """
    unit = KPIS[name].unit
    if currency and unit in ("per customer", "money"):
        return currency if unit == "money" else f"{currency} {unit}"
    return unit


def improves(name: str, delta: ArrayLike) -> NDArray[np.bool_]:
    """Whether each change ``delta`` of KPI ``name`` is an improvement."""
    better = KPIS[name].higher_is_better
    if better is None:
        raise ValueError(f"KPI {name!r} has no better direction")
    d = np.asarray(delta)
    return d > 0 if better else d < 0


_S, _M, _C = "share", "min", "per customer"
for _k in (
    # surveys: respondents' figures and what everyone would answer
    KPI("nps", "NPS, surveyed", "points", True, from_answers=survey.nps,
        from_probs=survey.nps_from_probs),
    KPI("nps_population", "NPS, everyone", "points", True),
    KPI("nps_respondents_expected", "NPS respondents would give (model)", "points", True,
        digits=1),
    KPI("csat", "CSAT, surveyed", "% satisfied", True, from_answers=survey.csat,
        from_probs=survey.csat_from_probs),
    KPI("csat_population", "CSAT, everyone", "% satisfied", True),
    KPI("ces", "CES, surveyed", "1-7", False, from_answers=survey.mean_ces,
        from_probs=survey.mean_ces_from_probs),
    KPI("ces_population", "CES, everyone", "1-7", False),
    KPI("survey_response_rate", "survey response rate", _S, None, percent=True),
    KPI("satisfaction", "mean episode satisfaction (latent)", "logit", True),
    KPI("effort", "mean episode effort (latent)", "effort units", False),
    # customers and value
    KPI("churn_rate", "churn per customer-month", _S, False, percent=True),
    KPI("retention", "retention at horizon", _S, True, percent=True),
    KPI("revenue", "revenue per customer", _C, True),
    KPI("ltv", "lifetime value per customer", _C, True),
    KPI("staff_cost", "staff cost per customer", _C, False),
    KPI("staffing_cost", "staffing cost over the horizon", "money", False),
    KPI("agent_hours", "agent-hours on duty", "hours", False),
    KPI("penalty", "penalty for missed targets", "money", False),
    KPI("objective", "cost plus penalties", "money", False),
    # contact-centre queues
    KPI("volume", "contacts", "contacts", None, digits=0),
    KPI("p_wait", "share who waited", _S, False, percent=True),
    KPI("mean_wait", "live-queue wait", _M, False),
    KPI("asa", "average speed of answer", _M, False),
    KPI("service_level", "service level", _S, True, percent=True),
    KPI("abandon_rate", "abandonment", _S, False, percent=True),
    KPI("aht", "average handling time", _M, None),
    KPI("fcr", "first-contact resolution", _S, True, percent=True),
    KPI("transfer_rate", "transfers per contact served", _S, False, percent=True),
    KPI("repeat_rate", "repeated explanations per contact served", _S, False, percent=True),
    KPI("occupancy", "agent occupancy", _S, None, percent=True),
    KPI("containment", "containment", _S, True, percent=True),
    KPI("escalation_rate", "escalations", _S, None, percent=True),
    KPI("loop_rate", "bot loops", _S, False, percent=True),
    # needs (episodes)
    KPI("needs", "needs", "needs", None, digits=0),
    KPI("resolved_rate", "needs resolved", _S, True, percent=True),
    KPI("gave_up_rate", "needs given up", _S, False, percent=True),
    KPI("mean_ttr", "time to resolution", _M, False),
    KPI("contacts_per_need", "contacts per need", "contacts", False),
    KPI("wait_per_need", "wait per need", _M, False),
    KPI("steps_per_need", "steps per need", "steps", False),
    KPI("transfers_per_need", "transfers per need", "transfers", False),
    KPI("repeats_per_need", "repeated explanations per need", "repeats", False),
    KPI("switches_per_need", "channel switches per need", "switches", False),
):
    register_kpi(_k)
