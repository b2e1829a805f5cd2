"""The calibrated scenario takes the patience law the censored waits fit best (AIC), not the
exponential: a Weibull truth is written as ``patience: {dist: weibull, cv}``, and the engine
then draws that law."""

from __future__ import annotations

import numpy as np

from cxsim.calibrate.operations.patience import patience
from cxsim.calibrate.operations.scenario import _patience
from cxsim.spec import Patience
from cxsim.spec.checks import MAX_CV


def _weibull_log(shape: float, scale: float, n: int = 4000) -> dict:
    rng = np.random.default_rng(8)
    pat, serve = rng.weibull(shape, n) * scale, rng.exponential(3.0, n)
    wait, abandoned = np.minimum(pat, serve), pat < serve
    return {"patience": patience(wait, abandoned).to_json()}


def test_a_weibull_patience_is_written_as_weibull() -> None:
    q = _weibull_log(0.6, 4.0)  # cv 1.76: far from exponential, AIC weight ~1
    flags: list[str] = []
    mean, law, note = _patience("phone", q, flags)
    fit = q["patience"]["candidates"]["weibull"]
    assert q["patience"]["distribution"] == "weibull"
    assert law == {"dist": "weibull", "cv": fit["cv"]} and mean == fit["mean_min"]
    assert abs(fit["cv"] - 1.76) < 0.25  # the truth's cv, sqrt(G(1+2/k)/G(1+1/k)^2 - 1)
    assert flags == [] and "weibull MLE" in note
    Patience(**law)  # a law the scenario schema takes as it is


def test_a_law_the_engine_cannot_draw_falls_back_to_the_exponential_flagged() -> None:
    q = _weibull_log(0.6, 4.0)
    q["patience"]["candidates"]["weibull"]["cv"] = 2 * MAX_CV
    flags: list[str] = []
    mean, law, _ = _patience("phone", q, flags)
    assert law is None and mean == q["patience"]["candidates"]["exponential"]["mean_min"]
    assert len(flags) == 1 and "exponential MLE is used" in flags[0]
