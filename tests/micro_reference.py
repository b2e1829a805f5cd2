"""An independent computation of the micro-data model's log-likelihood, from the data frames.

It works from the observed data frames themselves, the way the engine
reacts (:mod:`cxsim.engine.reactions`): it walks each customer's episodes in time order and
updates the relationship with :func:`cxsim.outcomes.relationship_step` (no unrolled sums, no
(query, episode) pairs, no prefix counts, no grouping of customers without history), and
takes answer probabilities in another closed form than the model's. Agreement at random
parameter points, moment weights and memory included, checks the whole data path of
:mod:`cxsim.calibrate.micro.prepare` and :func:`cxsim.calibrate.micro.model.build_model`
(``tests/test_micro_logp.py``, and the log-density check of ``benchmarks/fit.py``).
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_expit

from cxsim import outcomes
from cxsim.data import ObservedData

MIN_PER_DAY = 1440.0
PERIOD_DAYS, FATIGUE_DAYS = 30.0, 30.0
ANCHOR_BASE = 0.5


def _softplus(x):
    return np.logaddexp(0.0, x)


def log_ordinal(latent: np.ndarray, cutpoints: np.ndarray, y: np.ndarray) -> np.ndarray:
    """log P(y | latent) of an ordered logistic, as log(sigmoid(u) - sigmoid(l)) =
    l + log(expm1(u - l)) - softplus(u) - softplus(l), with u = c_y - latent, l = c_{y-1} -
    latent (the end categories: -softplus(-u) and -softplus(l))."""
    c = np.concatenate([[-np.inf], cutpoints, [np.inf]])
    u, lo = c[y + 1] - latent, c[y] - latent
    out = np.empty(latent.shape)
    first, last = y == 0, y == cutpoints.size
    mid = ~first & ~last
    out[first] = -_softplus(-u[first])
    out[last] = -_softplus(lo[last])
    um, lm = u[mid], lo[mid]
    out[mid] = lm + np.log(np.expm1(um - lm)) - _softplus(um) - _softplus(lm)
    return out


def log_bernoulli(logit: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.where(y == 1, log_expit(logit), log_expit(-logit))


def reference_loglik(data: ObservedData, th: dict, anchor: str) -> float:
    """The log-likelihood of ``data`` at parameters ``th`` (constrained values; vectors in the
    model's level order: segments and reasons sorted, cutpoints ascending)."""
    cu, ep, sv = data.customers, data.episodes, data.surveys
    segments = sorted(cu["segment"].unique())
    reasons = sorted(ep["reason"].unique())
    base_of = dict(zip(segments, th["satisfaction_base"], strict=True))
    assert base_of[anchor] == ANCHOR_BASE
    weight_of = dict(zip(reasons, th["moment_weight"], strict=True))
    churn_of = dict(zip(segments, th["churn_logit"], strict=True))
    seg_of = dict(zip(cu["customer_id"], cu["segment"], strict=True))
    tau = FATIGUE_DAYS * MIN_PER_DAY
    r0, r1 = th["response_base"], th["response_extremity"]
    total = 0.0

    # Episodes: effort and satisfaction, with the fatigue of the surveys sent before each end.
    done = ep[ep["outcome"] != "in_system"]
    base = done["customer_id"].map(seg_of).map(base_of).to_numpy(float)
    sent = {c: g["sent_min"].to_numpy(float) for c, g in sv.groupby("customer_id")}
    fatigue = np.array([np.exp(-(t - s[s < t]) / tau).sum() if (s := sent.get(c)) is not None
                        else 0.0 for c, t in zip(done["customer_id"], done["end_min"],
                                                 strict=True)])
    f = {k: done[k].to_numpy(float) for k in ("steps", "wait_min", "repeats", "switches",
                                              "start_min", "end_min")}
    eff = outcomes.effort(f["steps"], f["wait_min"], f["repeats"], f["switches"],
                          th["effort_per_step"], th["effort_per_log_wait"],
                          th["effort_per_repeat"], th["effort_per_switch"])
    sat = outcomes.satisfaction(base, (done["outcome"] == "resolved").to_numpy(float), eff,
                                (f["end_min"] - f["start_min"]) / 60.0,
                                th["resolved_bonus"], th["effort_weight"], th["ttr_weight"],
                                th["survey_fatigue"] * fatigue)
    row = {e: i for i, e in enumerate(done["episode_id"])}

    # Post-interaction surveys: who answers (|s - base|), then CES on effort, CSAT on s.
    post = sv[sv["kind"] == "post_interaction"]
    i = post["episode_id"].map(row).to_numpy(np.int64)
    answered = post["answered"].to_numpy(np.int64)
    total += log_bernoulli(r0 + r1 * np.abs(sat[i] - base[i]), answered).sum()
    a = i[answered == 1]
    ans = post[post["answered"] == 1]
    total += log_ordinal(eff[a], th["ces_cutpoints"], ans["ces"].to_numpy(np.int64) - 1).sum()
    total += log_ordinal(sat[a], th["csat_cutpoints"], ans["csat"].to_numpy(np.int64) - 1).sum()

    # The relationship at any time: the customer's episodes ended by then, one step each.
    order = done.assign(sat=sat).sort_values(["customer_id", "end_min", "episode_id"])
    history = {c: (g["end_min"].to_numpy(float), g["sat"].to_numpy(float),
                   g["reason"].map(weight_of).to_numpy(float))
               for c, g in order.groupby("customer_id")}

    def relationship(c: int, t: float) -> float:
        rel = base_of[seg_of[c]]
        if c in history:
            for end, s, w in zip(*history[c], strict=True):
                if end <= t:
                    rel = float(outcomes.relationship_step(rel, s, th["memory"], w))
        return rel

    # Periodic surveys: who answers (|R - base|), then NPS on slope * R.
    for c, t, answered, nps in sv.loc[sv["kind"] == "periodic", ["customer_id", "sent_min",
                                                                    "answered", "nps"]].itertuples(
                                                                        index=False):
        rel, b = relationship(c, t), base_of[seg_of[c]]
        total += float(log_bernoulli(np.array(r0 + r1 * abs(rel - b)), np.array(answered)))
        if answered:
            total += float(log_ordinal(np.array([th["nps_slope"] * rel]), th["nps_cutpoints"],
                                       np.array([int(nps)]))[0])

    # Churn checks every period before the end of observation, for every customer still there.
    period = PERIOD_DAYS * MIN_PER_DAY
    end = cu["censored_min"].max()
    checks = period * np.arange(1, int(end // period) + 2)
    checks = checks[checks < end]
    for c, churn, censored in cu[["customer_id", "churn_min", "censored_min"]].itertuples(
            index=False):
        for t in checks:
            if t >= censored or (not np.isnan(churn) and churn < t):
                break
            x = churn_of[seg_of[c]] - th["churn_relationship"] * relationship(c, t)
            total += float(log_bernoulli(np.array(x), np.array(int(churn == t))))
    return total


PARAMETERS = ("effort_per_step", "effort_per_log_wait", "effort_per_repeat",
              "effort_per_switch", "resolved_bonus", "effort_weight", "ttr_weight",
              "survey_fatigue", "memory", "nps_slope", "response_base", "response_extremity",
              "churn_relationship", "churn_logit", "moment_weight", "ces_cutpoints",
              "csat_cutpoints", "nps_cutpoints", "satisfaction_base")


class ModelFunctions:
    """A PyMC micro model's likelihood term and its parameters as functions of a point
    (a dict of value variables, as ``model.initial_point()``)."""

    def __init__(self, model, segments: list[str], anchor: str) -> None:
        self.segments, self.anchor = segments, anchor
        self._loglik = model.compile_fn(model.replace_rvs_by_values([model["likelihood"]])[0],
                                        inputs=model.value_vars, on_unused_input="ignore")
        self._params = model.compile_fn(
            model.replace_rvs_by_values([model[n] for n in PARAMETERS]),
            inputs=model.value_vars, on_unused_input="ignore")

    def loglik(self, point: dict) -> float:
        return float(self._loglik(point))

    def theta(self, point: dict) -> dict:
        """Constrained parameters at ``point``, every segment's baseline included."""
        th = dict(zip(PARAMETERS, (np.asarray(v, float) for v in self._params(point)),
                      strict=True))
        free = iter(th["satisfaction_base"])
        th["satisfaction_base"] = np.array([ANCHOR_BASE if g == self.anchor else next(free)
                                            for g in self.segments])
        return {k: (float(v) if v.ndim == 0 else v) for k, v in th.items()}
