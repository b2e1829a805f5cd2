"""Survey KPIs — NPS, CSAT, CES — in every form the rooms need: from answers (the surveyed
figure), from category probabilities or counts (an answer distribution: what a model says
everyone would answer), and from the cumulative distribution (a model that computes only the
thresholds a figure needs). Each rule is written here once.

>>> nps([10, 9, 8, 7, 6, 0])                       # 2 promoters, 2 detractors of 6
0.0
>>> nps_from_counts(np.bincount([10, 9, 8, 7, 6, 0], minlength=11))
0.0
>>> p = np.full(11, 1 / 11)                        # every answer equally likely
>>> round(nps_from_probs(p), 4), round(nps_from_cdf(lambda v: (v + 1) / 11), 4)
(-45.4545, -45.4545)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cxsim.metrics._checks import (
    FloatOrArray,
    _arr,
    _categories,
    _div,
    _int_param,
    _ints,
    _mean,
    _out,
)

# The answer scales and the rules that read them (docs/domain.md, "How it is measured").
NPS_SCALE = (0, 10)  # "How likely are you to recommend us?"
NPS_PROMOTER_MIN = 9  # 9-10 promoters, 0-6 detractors, 7-8 passives
NPS_DETRACTOR_MAX = 6
CSAT_SCALE = (1, 5)  # "How satisfied were you?"
CSAT_POSITIVE_MIN = 4  # 4-5 count as satisfied
CES_SCALE = (1, 7)  # "How easy was it?" (7 = most effort)

Cdf = Callable[[int], ArrayLike]  # answer v -> P(answer <= v)


def nps(scores: ArrayLike) -> float:
    """Net Promoter Score of 0-10 integer answers.

    NPS = 100 * (#promoters (9-10) - #detractors (0-6)) / #answers, in -100..100;
    passives (7-8) only count in the denominator. ``nan`` if there are no answers.

    >>> nps([10, 10, 9, 9, 9, 8, 7, 7, 6, 0])  # 5 promoters, 3 passives, 2 detractors
    30.0
    """
    s = _ints(scores, "scores", *NPS_SCALE)
    if s.size == 0:
        return float("nan")
    promoters = int(np.count_nonzero(s >= NPS_PROMOTER_MIN))
    return 100.0 * (promoters - int(np.count_nonzero(s <= NPS_DETRACTOR_MAX))) / s.size


def _nps_split(p: NDArray) -> tuple[NDArray, NDArray]:
    """Promoters' and detractors' part of a (..., 11) distribution."""
    low = NPS_SCALE[0]
    return p[..., NPS_PROMOTER_MIN - low:].sum(-1), p[..., :NPS_DETRACTOR_MAX - low + 1].sum(-1)


def nps_from_probs(p: ArrayLike) -> FloatOrArray:
    """NPS of an answer distribution ``p`` (..., 11), probabilities of the answers 0..10 (not
    checked to sum to 1): 100 * (P(9-10) - P(0-6)). Leading axes (draws, customers) are kept.

    >>> nps_from_probs([[0.0] * 9 + [0.5, 0.5], [1.0] + [0.0] * 10])
    array([ 100., -100.])
    """
    promoters, detractors = _nps_split(_categories(p, "p", NPS_SCALE[1] - NPS_SCALE[0] + 1))
    return _out(100 * (promoters - detractors))


def nps_from_counts(counts: ArrayLike) -> FloatOrArray:
    """NPS of answer counts (..., 11): as :func:`nps` of the answers counted; ``nan`` where
    there are none.

    >>> nps_from_counts([[0] * 9 + [1, 1], [0] * 11])
    array([100.,  nan])
    """
    c = _categories(counts, "counts", NPS_SCALE[1] - NPS_SCALE[0] + 1)
    promoters, detractors = _nps_split(c)
    return _out(_div(100 * (promoters - detractors), c.sum(-1)))


def nps_from_cdf(cdf: Cdf) -> FloatOrArray:
    """NPS from the cumulative distribution ``cdf(v) = P(answer <= v)``:
    100 * (1 - P(<= 8) - P(<= 6)). Only two thresholds are evaluated."""
    return _out(100 * (1 - np.asarray(cdf(NPS_PROMOTER_MIN - 1))
                       - np.asarray(cdf(NPS_DETRACTOR_MAX))))


def csat(answers: ArrayLike, positive_threshold: int = CSAT_POSITIVE_MIN,
         scale_max: int = CSAT_SCALE[1]) -> float:
    """Customer satisfaction: CSAT = 100 * #positive answers / #answers.

    Boolean answers are yes/no (True = positive); otherwise answers are integers on
    1..scale_max and an answer is positive when >= positive_threshold. ``nan`` if empty.

    >>> csat([5, 4, 4, 5, 2])  # 4 of 5 positive
    80.0
    >>> csat([True, False, True, True])
    75.0
    """
    scale_max = _int_param(scale_max, "scale_max", 2)
    positive_threshold = _int_param(positive_threshold, "positive_threshold", 1, scale_max)
    a = _arr(answers, "answers", ndim=1)
    if a.dtype.kind == "b":
        positive = a
    else:
        positive = _ints(a, "answers", 1, scale_max) >= positive_threshold
    return 100.0 * int(np.count_nonzero(positive)) / a.size if a.size else float("nan")


def csat_from_probs(p: ArrayLike) -> FloatOrArray:
    """CSAT of an answer distribution ``p`` (..., 5) over 1..5: 100 * P(4-5).

    >>> csat_from_probs([0.1, 0.1, 0.2, 0.3, 0.3])
    60.0
    """
    c = _categories(p, "p", CSAT_SCALE[1] - CSAT_SCALE[0] + 1)
    return _out(100 * c[..., CSAT_POSITIVE_MIN - CSAT_SCALE[0]:].sum(-1))


def csat_from_cdf(cdf: Cdf) -> FloatOrArray:
    """CSAT from the cumulative distribution ``cdf(v) = P(answer <= v)``: 100 * (1 - P(<= 3))."""
    return _out(100 * (1 - np.asarray(cdf(CSAT_POSITIVE_MIN - 1))))


def mean_ces(scores: ArrayLike, scale: int = CES_SCALE[1]) -> float:
    """Mean Customer Effort Score on a 1..scale integer scale (lower = less effort).

    CES = sum(scores) / #answers; ``nan`` if empty.

    >>> mean_ces([2, 3, 4])
    3.0
    >>> mean_ces([1, 5], scale=5)
    3.0
    """
    scale = _int_param(scale, "scale", 2)
    return _mean(_ints(scores, "scores", 1, scale).astype(float))


def mean_ces_from_probs(p: ArrayLike) -> FloatOrArray:
    """Mean CES of an answer distribution ``p`` (..., 7) over 1..7: sum_v v * P(v).

    >>> mean_ces_from_probs([0, 0, 0.5, 0.5, 0, 0, 0])
    3.5
    """
    low, high = CES_SCALE
    return _out((_categories(p, "p", high - low + 1) * np.arange(low, high + 1)).sum(-1))


def mean_ces_from_cdf(cdf: Cdf) -> FloatOrArray:
    """Mean CES from the cumulative distribution ``cdf(v) = P(answer <= v)``:
    E[answer] = 7 - sum_{v=1..6} P(<= v)."""
    low, high = CES_SCALE
    return _out(high - sum(np.asarray(cdf(v)) for v in range(low, high)))
