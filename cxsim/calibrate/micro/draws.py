"""The outcomes model at posterior (or prior) draws, over the observed episodes: what a fit
says about every customer, without sampling anything. The forecast (:mod:`cxsim.forecast`)
and the calibration gates use it; it imports nothing of PyMC or of the sampling module.

Parameter names are those of ``truth.json`` (:func:`cxsim.spec.theta_of`), with
``name[level]`` for per-segment, per-reason and per-cutpoint values (:func:`parameter_draws`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse

from cxsim import metrics, outcomes
from cxsim.calibrate.micro.model import EFFORT_TERMS
from cxsim.calibrate.micro.prepare import Prepared, Queries, population_queries
from cxsim.data import ObservedData
from cxsim.spec.kinds import MINUTES_PER_DAY, PERIODIC

SCALARS = (*EFFORT_TERMS, "resolved_bonus", "effort_weight", "ttr_weight", "survey_fatigue",
           "memory", "nps_slope", "response_base", "response_extremity", "churn_relationship",
           "churn_mu", "churn_between")
VECTORS = {"ces_cutpoints": "ces_cut", "csat_cutpoints": "csat_cut", "nps_cutpoints": "nps_cut",
           "satisfaction_base": "free_segment", "churn_logit": "segment",
           "moment_weight": "reason"}
POPULATION_DRAWS = 400  # posterior draws used for the bias-corrected population figures


def describe(draws: np.ndarray) -> dict[str, float]:
    """Posterior mean, sd and 94% HDI of 1-D draws, as the summary reports them."""
    low, high = metrics.hdi(draws)
    return {"mean": float(draws.mean()), "sd": float(draws.std(ddof=1)), "hdi_low": low,
            "hdi_high": high}


def subsample(draws: dict[str, np.ndarray], size: int,
              rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``size`` of the draws (all if fewer), the same ones of every parameter, without
    replacement: enough for a figure's spread at a fraction of the cost."""
    n = len(next(iter(draws.values())))
    pick = rng.choice(n, size=min(n, size), replace=False)
    return {k: v[pick] for k, v in draws.items()}


def parameter_draws(post: Any) -> dict[str, np.ndarray]:
    """Flat draws (chain*draw,) of every reported parameter, under truth.json's names."""
    out: dict[str, np.ndarray] = {}
    for name in SCALARS:
        out[name] = post[name].values.reshape(-1)
    for name, dim in VECTORS.items():
        da = post[name]
        for level in da[dim].values.tolist():
            out[f"{name}[{level}]"] = da.sel({dim: level}).values.reshape(-1)
    return out


def _pair_matrix(q: Queries) -> sparse.csr_matrix:
    """(pairs x queries) indicator: contributions @ M sums each query's pairs."""
    n = q.pair_query.size
    return sparse.csr_matrix((np.ones(n), (np.arange(n), q.pair_query)),
                             shape=(n, q.customer.size))


class DrawModel:
    """The outcomes model at posterior draws (axis 0), over the observed episodes."""

    def __init__(self, prep: Prepared, p: dict[str, np.ndarray], anchor: str,
                 anchor_base: float) -> None:
        self.prep, self.p = prep, p
        col = {k: v[:, None] for k, v in p.items()}
        self.col = col
        self.base = np.stack([np.full(len(p["memory"]), anchor_base) if g == anchor
                              else p[f"satisfaction_base[{g}]"] for g in prep.segments], axis=1)
        moment = np.stack([p[f"moment_weight[{r}]"] for r in prep.reasons], axis=1)
        self.effort = outcomes.effort(prep.steps, np.expm1(prep.log_wait), prep.repeats,
                                      prep.switches, *(col[t] for t in EFFORT_TERMS))
        self.dev = outcomes.satisfaction(0.0, prep.resolved, self.effort,
                                         np.expm1(prep.log_hours), col["resolved_bonus"],
                                         col["effort_weight"], col["ttr_weight"],
                                         col["survey_fatigue"] * prep.fatigue)
        self.log_memory = np.log(col["memory"])
        self.alpha = 1.0 - np.exp(self.log_memory * moment[:, prep.ep_reason])
        self.wcum = moment @ prep.prefix_counts.T  # (draws, episodes)

    def relationship(self, q: Queries) -> np.ndarray:
        """R at each query (draws, queries)."""
        j = q.pair_episode
        exponent = self.wcum[:, q.last_episode[q.pair_query]] - self.wcum[:, j]
        contrib = self.alpha[:, j] * self.dev[:, j] * np.exp(self.log_memory * exponent)
        return self.base[:, q.segment] + (_pair_matrix(q).T @ contrib.T).T

    def p_matrix(self, name: str, levels: list[str]) -> np.ndarray:
        return np.stack([self.p[f"{name}[{lv}]"] for lv in levels], axis=1)

    def cutpoints(self, name: str, n: int) -> np.ndarray:
        return np.stack([self.p[f"{name}[{k}]"] for k in range(n)], axis=1)[:, None, :]


def population_draws(data: ObservedData, model: DrawModel) -> dict[str, np.ndarray]:
    """Per posterior (or prior) draw: NPS, CES, CSAT everyone would give, and the mean answer
    distributions (``_nps_p``, ``_ces_p``)."""
    rounds = np.unique(data.surveys.loc[data.surveys["kind"] == PERIODIC, "sent_min"])
    q, _ = population_queries(data, rounds)
    rel = model.relationship(q)
    nps_p = outcomes.ordinal_probs(model.col["nps_slope"] * rel,
                                   model.cutpoints("nps_cutpoints", 10)).mean(axis=1)
    ces_p = outcomes.ordinal_probs(model.effort, model.cutpoints("ces_cutpoints", 6)).mean(axis=1)
    sat = model.base[:, model.prep.ep_segment] + model.dev
    csat_p = outcomes.ordinal_probs(sat, model.cutpoints("csat_cutpoints", 4)).mean(axis=1)
    return {"nps": metrics.nps_from_probs(nps_p), "ces": metrics.mean_ces_from_probs(ces_p),
            "csat": metrics.csat_from_probs(csat_p), "_nps_p": nps_p, "_ces_p": ces_p}


def population_figures(data: ObservedData, model: DrawModel) -> dict[str, Any]:
    """What *every* customer would answer (the selection corrected): NPS of every active
    customer at each periodic survey round, mean CES and CSAT over every episode, with 94%
    HDIs over draws, and the answer distributions for the plots."""
    d = population_draws(data, model)
    return {
        "nps": describe(d["nps"]), "ces": describe(d["ces"]), "csat": describe(d["csat"]),
        "distributions": {"nps": d["_nps_p"].mean(0).tolist(), "ces": d["_ces_p"].mean(0).tolist()},
    }


def retention_check(prep: Prepared, model: DrawModel) -> dict[str, list[float]]:
    """Share of customers still active after each churn check: observed against the model's
    expected hazards for the same customers at risk (posterior mean and 94% HDI)."""
    q = prep.churn_q
    logit = model.p_matrix("churn_logit", prep.segments)
    h = outcomes.churn_hazard(model.relationship(q), logit[:, q.segment],
                              model.col["churn_relationship"])
    checks = np.searchsorted(prep.check_times, prep.churn_q_time)
    k = prep.check_times.size
    expected = np.stack([h[:, checks == i].sum(1) for i in range(k)], axis=1)
    h0 = outcomes.churn_hazard(model.base, logit, model.col["churn_relationship"])
    expected += (h0[:, :, None] * prep.churn0_at_risk[None]).sum(1)
    at_risk = np.bincount(checks, minlength=k) + prep.churn0_at_risk.sum(0)
    observed = np.bincount(checks, weights=prep.churned, minlength=k) + prep.churn0_churned.sum(0)
    model_curve = np.cumprod(1 - expected / at_risk, axis=1)
    lows, highs = metrics.hdi(model_curve)
    return {"days": (prep.check_times / MINUTES_PER_DAY).tolist(),
            "observed": np.cumprod(1 - observed / at_risk).tolist(),
            "model_mean": model_curve.mean(0).tolist(), "model_low": lows.tolist(),
            "model_high": highs.tolist()}
