"""How customers *react*: a pure, vectorised model from experience features to feelings,
survey answers, churn and value.

Every function broadcasts: pass one parameter value (the engine) or an array with a leading
axis of posterior draws (the forecast) and the features of many episodes at once. No state,
no randomness except where uniforms ``u`` are passed in.

The model (docs/outcomes.md):

- effort  e = a_step*steps + a_wait*log1p(wait_min) + a_rep*repeats + a_sw*switches
- episode satisfaction  s = mu_seg + b_res*resolved - b_eff*e - b_ttr*log1p(hours) - fatigue
- relationship with memory  R <- R + alpha*(s - R), alpha = 1 - rho**w_reason: a "moment that
  matters" (w > 1) moves it as much as w ordinary episodes would
- answers: CES (1-7) ordered-logistic on e; CSAT (1-5) on s; NPS (0-10) on lambda*R
- P(respond) = logistic(r0 + r1*|x - mu_seg|): the very satisfied and the very unhappy answer
- churn per period: logit h = eta_seg - eta_R*R
- value: revenue per active period, discounted; after the horizon, the expected residual
  value of a customer whose hazard stays h.

>>> import numpy as np
>>> e = effort(np.array([4, 4]), np.array([0.0, 9.0]), np.array([0, 1]), np.array([0, 1]),
...            0.15, 0.5, 1.0, 0.6)
>>> e.round(3).tolist()
[0.6, 3.351]
>>> nps_probs(np.array(0.0), 1.0, np.linspace(-4.5, 4.5, 10)).sum().round(12)
np.float64(1.0)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import expit

Array = NDArray[np.float64]


def effort(steps: ArrayLike, wait_min: ArrayLike, repeats: ArrayLike, switches: ArrayLike,
           per_step: ArrayLike, per_log_wait: ArrayLike, per_repeat: ArrayLike,
           per_switch: ArrayLike) -> Array:
    """Perceived effort of an episode: friction of steps, waiting (diminishing: log1p),
    repeated explanations and channel switches."""
    return (np.multiply(per_step, steps) + np.multiply(per_log_wait, np.log1p(wait_min))
            + np.multiply(per_repeat, repeats) + np.multiply(per_switch, switches))


def satisfaction(base: ArrayLike, resolved: ArrayLike, effort: ArrayLike, hours: ArrayLike,
                 resolved_bonus: ArrayLike, effort_weight: ArrayLike, ttr_weight: ArrayLike,
                 fatigue: ArrayLike = 0.0) -> Array:
    """Episode satisfaction s = base + b_res*resolved - b_eff*effort - b_ttr*log1p(hours) -
    fatigue, where ``hours`` is the time from need to end of episode."""
    return (np.asarray(base, float) + np.multiply(resolved_bonus, resolved)
            - np.multiply(effort_weight, effort) - np.multiply(ttr_weight, np.log1p(hours))
            - np.asarray(fatigue, float))


def relationship_step(relationship: ArrayLike, s: ArrayLike, memory: ArrayLike,
                      moment_weight: ArrayLike = 1.0) -> Array:
    """R + alpha*(s - R) with alpha = 1 - memory**moment_weight.

    >>> round(float(relationship_step(0.0, 1.0, 0.8)), 2)
    0.2
    >>> round(float(relationship_step(0.0, 1.0, 0.8, moment_weight=2.0)), 2)
    0.36
    """
    alpha = 1.0 - np.power(memory, moment_weight)
    return np.asarray(relationship, float) + alpha * (np.asarray(s, float) - relationship)


def ordinal_probs(latent: ArrayLike, cutpoints: ArrayLike) -> Array:
    """Ordered-logistic category probabilities, shape latent.shape + (K,) for K-1 cutpoints:
    P(y <= k) = logistic(c_k - latent)."""
    cum = expit(np.asarray(cutpoints, float) - np.asarray(latent, float)[..., None])
    ones = np.ones(cum.shape[:-1] + (1,))
    return np.diff(np.concatenate([0.0 * ones, cum, ones], axis=-1), axis=-1)


def ordinal_draw(latent: ArrayLike, cutpoints: ArrayLike, u: ArrayLike) -> NDArray[np.int64]:
    """Category index 0..K-1 of an ordered-logistic draw, by inversion of uniforms ``u``."""
    cum = expit(np.asarray(cutpoints, float) - np.asarray(latent, float)[..., None])
    return np.sum(np.asarray(u, float)[..., None] >= cum, axis=-1)


def nps_probs(relationship: ArrayLike, slope: ArrayLike, cutpoints: ArrayLike) -> Array:
    """Probabilities of the answers 0..10 to "would you recommend us?" (11 categories)."""
    return ordinal_probs(np.multiply(slope, relationship), cutpoints)


def expected_figure(latent: ArrayLike, cutpoints: ArrayLike,
                    figure: Callable[[Array], Array], axis: int = -1) -> Array:
    """A survey figure everyone would give, in expectation: the mean along ``axis`` of each
    one's ``figure`` (a KPI of an answer distribution, e.g.
    :func:`cxsim.metrics.nps_from_probs`) of their ordered-logistic answers on ``latent``.

    >>> from cxsim.metrics import nps_from_probs
    >>> cuts = [-4.5, -3.8, -3.2, -2.6, -2.0, -1.4, -0.6, 0.2, 0.9, 2.2]
    >>> expected_figure(np.array([[0.0]]), cuts, nps_from_probs).round(2).tolist()
    [-6.53]
    """
    return np.mean(figure(ordinal_probs(latent, cutpoints)), axis=axis)


def response_prob(signal: ArrayLike, center: ArrayLike, base: ArrayLike,
                  extremity: ArrayLike) -> Array:
    """P(answering a survey) = logistic(base + extremity*|signal - center|).

    >>> round(float(response_prob(0.0, 0.0, -2.5, 0.8)), 4)
    0.0759
    """
    dev = np.abs(np.asarray(signal, float) - center)
    return expit(np.asarray(base, float) + np.multiply(extremity, dev))


def churn_hazard(relationship: ArrayLike, churn_logit: ArrayLike,
                 churn_relationship: ArrayLike) -> Array:
    """Probability of leaving at a churn check: logistic(eta_seg - eta_R*R)."""
    return expit(np.asarray(churn_logit, float) - np.multiply(churn_relationship, relationship))


def residual_value(revenue_per_period: ArrayLike, hazard: ArrayLike,
                   discount_per_period: ArrayLike) -> Array:
    """Expected discounted value of the periods after the horizon, in horizon-end money, for
    a customer who survives each coming check with probability 1-h and then pays:
    sum_{j>=0} r (1-h)^(j+1) / (1+d)^j = r (1-h)(1+d)/(d+h).

    >>> round(float(residual_value(30.0, 0.05, 0.01)), 2)
    479.75
    """
    h = np.asarray(hazard, float)
    d = np.asarray(discount_per_period, float)
    return np.asarray(revenue_per_period, float) * (1 - h) * (1 + d) / (d + h)
