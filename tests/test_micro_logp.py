"""The micro-data model's log-likelihood equals an independent computation of the same one
(``micro_reference``), at random parameter points on a small simulated data set."""

from __future__ import annotations

import numpy as np
import pytest

from cxsim.calibrate.micro import build_model
from cxsim.calibrate.prepare import prepare
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


def test_micro_loglik_equals_an_independent_computation(small_data: ObservedData):
    data = small_data
    anchor = str(data.customers["segment"].value_counts().sort_index().idxmax())
    prep = prepare(data, ref.PERIOD_DAYS, ref.FATIGUE_DAYS)
    assert prep.ces.size > 100 and prep.nps_value.size > 100 and prep.churned.sum() > 5
    model = build_model(prep, anchor, ref.ANCHOR_BASE)
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
