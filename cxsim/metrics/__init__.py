"""Customer-experience and contact-centre KPIs as pure, vectorised functions, and what each
KPI name means (:mod:`cxsim.metrics.registry`). The only home of KPI formulas: every room calls
these instead of writing "9-10 minus 0-6" again.

Conventions (definitions in docs/domain.md, "How it is measured"):

* NPS and CSAT use the 0-100 scale (NPS in -100..100); every other rate (FCR, service level,
  abandonment, churn, retention) is a fraction in [0, 1].
* Sample metrics take 1-D arrays (one element per answer, contact or need) and return a
  Python ``float``; an empty sample (or empty subset) gives ``nan``.
* Distribution forms (``nps_from_probs``, ``csat_from_probs``, ``mean_ces_from_probs``,
  ``nps_from_counts``, the ``_from_cdf`` forms) and model-level helpers (``churn_rate``,
  ``ratio_ci``, ``ltv``, ``mean_ci``, ``hdi``) broadcast and keep leading axes.
* Bad input raises ``ValueError`` naming the argument and the offending value.
"""

from cxsim.metrics.customers import churn_rate, ltv, retention_curve
from cxsim.metrics.intervals import HDI_PROB, hdi, mean_ci, ratio_ci
from cxsim.metrics.operations import abandonment_rate, aht, asa, fcr, mean_ttr, service_level
from cxsim.metrics.registry import KPI, KPIS, derived, improves, register_kpi, unit_text
from cxsim.metrics.survey import (
    CES_SCALE,
    CSAT_POSITIVE_MIN,
    CSAT_SCALE,
    NPS_DETRACTOR_MAX,
    NPS_PROMOTER_MIN,
    NPS_SCALE,
    csat,
    csat_from_cdf,
    csat_from_probs,
    mean_ces,
    mean_ces_from_cdf,
    mean_ces_from_probs,
    nps,
    nps_from_cdf,
    nps_from_counts,
    nps_from_probs,
)

__all__ = [
    "CES_SCALE", "CSAT_POSITIVE_MIN", "CSAT_SCALE", "HDI_PROB", "KPI", "KPIS",
    "NPS_DETRACTOR_MAX", "NPS_PROMOTER_MIN", "NPS_SCALE", "abandonment_rate", "aht", "asa",
    "churn_rate", "csat", "csat_from_cdf", "csat_from_probs", "derived", "fcr", "hdi",
    "improves", "ltv",
    "mean_ces", "mean_ces_from_cdf", "mean_ces_from_probs", "mean_ci", "mean_ttr", "nps",
    "nps_from_cdf", "nps_from_counts", "nps_from_probs", "ratio_ci", "register_kpi",
    "retention_curve", "service_level", "unit_text",
]
