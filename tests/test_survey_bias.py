"""Non-response bias: who answers a survey shapes the NPS a team sees (docs/domain.md).

The surveyed NPS is compared with the population NPS (what every active customer would answer,
in expectation) replication by replication. Allowances are Student-t quantiles over the
replications at a 0.1% false-alarm rate per check.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from cxsim.engine import simulate
from cxsim.spec import compose_scenario

REPS = 8
Q = stats.t.ppf(1 - 0.001 / 2, REPS - 1)
# Asking 60% of customers each round gives enough answers per replication for the gap to
# stand out from sampling noise at this false-alarm rate.
BASE = ["population.customers=20000", "horizon=91", "behaviour.periodic_survey_share=0.6",
        f"replications={REPS}", "seed=5"]


def gaps(*extra: str) -> tuple[np.ndarray, np.ndarray]:
    figs = [r.outcome_figures for r in simulate(compose_scenario([*BASE, *extra])).replications]
    observed = np.array([f["nps"] - f["nps_population"] for f in figs])
    predicted = np.array([f["nps_respondents_expected"] - f["nps_population"] for f in figs])
    return observed, predicted


def se(x: np.ndarray) -> float:
    return float(x.std(ddof=1) / np.sqrt(x.size))


def test_surveyed_nps_is_biased_the_way_selection_predicts_and_not_without_it():
    observed, predicted = gaps()
    # Default: extremes answer more. The selection model predicts the direction of the gap
    # (the respondents' expected NPS against everyone's), and the surveys show it.
    assert np.sign(observed.mean()) == np.sign(predicted.mean()) != 0
    assert abs(observed.mean()) > Q * se(observed), (observed.mean(), se(observed))

    # Response independent of experience: nothing predicts a gap, and none is seen.
    fair, fair_predicted = gaps("behaviour.response_extremity=0")
    np.testing.assert_allclose(fair_predicted, 0.0, atol=1e-9)
    assert abs(fair.mean()) <= Q * se(fair), (fair.mean(), se(fair))
    assert abs(fair.mean()) < abs(observed.mean())
