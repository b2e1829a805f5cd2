"""The micro-data model's log-likelihood equals an independent computation of the same one
(``micro_reference``), at random parameter points on a small simulated data set."""

from __future__ import annotations

import numpy as np
import pytest

from cxsim.calibrate.micro.model import build_model
from cxsim.calibrate.micro.prepare import prepare
from cxsim.data import ObservedData

try:  # works whether or not ``tests`` is a package
    from tests import micro_reference as ref
except ImportError:  # pragma: no cover - depends on pytest's import mode
    import micro_reference as ref


@pytest.fixture(scope="module")
def small_data() -> ObservedData:
    from cxsim.data.synthetic import observe
    from cxsim.engine import simulate
    from cxsim.spec import compose_scenario

    s = compose_scenario(["population.customers=300", "horizon=91", "replications=1",
                          "seed=7", "behaviour.post_survey_prob=1.0",
                          "behaviour.periodic_survey_share=1.0", "behaviour.response_base=-1"])
    return observe(simulate(s, keep_rows=True), s)


@pytest.mark.parametrize("centred", [False, True], ids=["non_centred", "centred"])
def test_micro_loglik_equals_an_independent_computation(small_data: ObservedData, centred: bool):
    # Both geometries of the churn intercepts (the data decide which one a fit uses).
    data = small_data
    anchor = str(data.customers["segment"].value_counts().sort_index().idxmax())
    prep = prepare(data, ref.PERIOD_DAYS, ref.FATIGUE_DAYS)
    assert prep.ces.size > 100 and prep.nps_value.size > 100 and prep.churned.sum() > 5
    model = build_model(prep, anchor, ref.ANCHOR_BASE, centred=centred)
    assert ("churn_z" in model.named_vars) is not centred
    f = ref.ModelFunctions(model, prep.segments, anchor)
    # The reason whose weight is fixed at 1 is the most frequent one in the data.
    done = data.episodes.loc[data.episodes["outcome"] != "in_system", "reason"]
    ordinary = sorted(done.unique()).index(done.value_counts().sort_index().idxmax())
    rng = np.random.default_rng(11)
    x0 = model.initial_point()
    for scale in (0.0, 0.3, 0.6, 0.6, 1.0):
        x = {k: v + rng.normal(0, scale, np.shape(v)) for k, v in x0.items()}
        th = f.theta(x)
        assert th["moment_weight"][ordinary] == 1.0
        assert th["moment_weight"].min() != th["moment_weight"].max() or scale == 0
        want, got = ref.reference_loglik(data, th, anchor), f.loglik(x)
        assert got == pytest.approx(want, rel=1e-10, abs=1e-8), (scale, got, want)


def test_churn_intercepts_are_centred_once_the_data_pin_them(small_data: ObservedData):
    from dataclasses import replace

    from cxsim.calibrate.micro.model import centred_churn, churn_data_sd
    from cxsim.spec.config import Priors

    prep = prepare(small_data, ref.PERIOD_DAYS, ref.FATIGUE_DAYS)
    assert not centred_churn(prep, Priors())  # 300 customers: a few churns per segment
    at_risk = np.full_like(prep.churn0_at_risk, 5000.0)  # and 5% of them churn
    more = replace(prep, churn0_at_risk=prep.churn0_at_risk + at_risk,
                   churn0_churned=prep.churn0_churned + 0.05 * at_risk)
    assert churn_data_sd(more).max() < 0.5 * churn_data_sd(prep).min()
    assert centred_churn(more, Priors())
    assert not centred_churn(more, Priors(churn_between_sd=0.01))  # relative to the prior
