"""The micro-data likelihood written the textbook way, for ``benchmarks/fit.py``.

Same parameters and priors as :func:`cxsim.calibrate.micro.model.build_model`, but one observed row
per survey sent, per answer and per (customer, churn check): ``pm.Bernoulli(logit_p=...)``
and ``pm.OrderedLogistic`` with PyMC's default ``compute_p=True``. Customers without an
earlier episode are NOT grouped: their queries simply have no (query, episode) pairs, so their
relationship is the segment baseline. Relationships are a scatter-add over every (query,
earlier episode) pair, one exponential per pair (:func:`relationship_dev`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cxsim.calibrate.micro.model import model_coords, parameters
from cxsim.calibrate.micro.prepare import Prepared, Queries, _queries
from cxsim.data import ObservedData
from cxsim.spec.config import Priors


def relationship_dev(pt, q: Queries, alpha, dev, log_memory, wcum):
    """R - base at each query: sum over earlier episodes j of alpha_j d_j memory**(W - W_j)."""
    exponent = wcum[q.last_episode[q.pair_query]] - wcum[q.pair_episode]
    contrib = alpha[q.pair_episode] * dev[q.pair_episode] * pt.exp(log_memory * exponent)
    return pt.inc_subtensor(pt.zeros(q.customer.size)[q.pair_query], contrib)


@dataclass
class FullQueries:
    """Every periodic survey and every (customer, churn check) at risk, history or not."""

    nps_q: Queries
    nps_answered: np.ndarray  # (surveys,)
    nps_answer_index: np.ndarray  # rows of nps_q that answered
    nps_value: np.ndarray  # their answers 0..10
    churn_q: Queries
    churned: np.ndarray  # (customer-checks,)


def full_queries(data: ObservedData, prep: Prepared) -> FullQueries:
    """The queries of :func:`cxsim.calibrate.micro.prepare.prepare` without the no-history split
    (episodes sorted exactly as ``prepare`` does, so episode indices match ``prep``)."""
    cu, ep, sv = data.customers, data.episodes, data.surveys
    seg_index = {g: i for i, g in enumerate(prep.segments)}
    segment_of = np.full(int(cu["customer_id"].max()) + 1, -1, dtype=np.int64)
    segment_of[cu["customer_id"].to_numpy()] = cu["segment"].map(seg_index).to_numpy()
    done = ep[ep["outcome"] != "in_system"].sort_values(["customer_id", "end_min", "episode_id"])
    ep_cust = done["customer_id"].to_numpy()
    ep_end = done["end_min"].to_numpy(float)
    count = np.bincount(ep_cust, minlength=segment_of.size)
    first = np.cumsum(count) - count

    periodic = sv[sv["kind"] == "periodic"]
    nq = _queries(periodic["customer_id"].to_numpy(), periodic["sent_min"].to_numpy(float),
                  ep_cust, ep_end, first, count, segment_of)
    answered = periodic["answered"].to_numpy(np.int64)
    rows = np.flatnonzero(answered == 1)
    nps = periodic["nps"].to_numpy(dtype=float, na_value=np.nan)[rows].astype(np.int64)

    checks = prep.check_times
    churn_min = cu["churn_min"].to_numpy(float)
    censor = cu["censored_min"].to_numpy(float)
    at_risk = ((np.isnan(churn_min)[:, None] | (churn_min[:, None] >= checks[None, :]))
               & (checks[None, :] < censor[:, None]))
    ci, ki = np.nonzero(at_risk)
    cq = _queries(cu["customer_id"].to_numpy()[ci], checks[ki], ep_cust, ep_end, first, count,
                  segment_of)
    churned = (churn_min[ci] == checks[ki]).astype(np.int64)
    return FullQueries(nq, answered, rows, nps, cq, churned)


def build_plain_model(p: Prepared, f: FullQueries, anchor: str, anchor_base: float,
                      priors: Priors | None = None):
    """A plain PyMC model of the same likelihood as cxsim's, one observed row per datum."""
    import pymc as pm
    import pytensor.tensor as pt

    pr = priors or Priors()
    with pm.Model(coords=model_coords(p, anchor)) as model:
        # Priors and episode terms: cxsim.calibrate.micro.model.build_model's own.
        v = parameters(pm, pt, p, anchor, anchor_base, pr)
        effort, dev, sat, base = v.effort, v.dev, v.sat, v.base
        r0, r1, memory, moment = v.r0, v.r1, v.memory, v.moment
        nps_slope, nps_cut, churn_logit, eta_r = v.nps_slope, v.nps_cut, v.churn_logit, v.eta_r
        ces_cut, csat_cut = v.ces_cut, v.csat_cut

        # Post-interaction surveys: one Bernoulli per survey sent, one answer per respondent.
        pm.Bernoulli("post_answered", logit_p=r0 + r1 * pt.abs(dev[p.post_episode]),
                     observed=p.post_answered)
        e = p.post_answered_episode
        pm.OrderedLogistic("ces", eta=effort[e], cutpoints=ces_cut, observed=p.ces)
        pm.OrderedLogistic("csat", eta=sat[e], cutpoints=csat_cut, observed=p.csat)

        # Relationships at every periodic survey and every churn check.
        log_memory = pt.log(memory)
        alpha = 1.0 - pt.exp(log_memory * moment[p.ep_reason])
        wcum = pt.dot(p.prefix_counts, moment)
        r_nps = relationship_dev(pt, f.nps_q, alpha, dev, log_memory, wcum)
        pm.Bernoulli("nps_answered", logit_p=r0 + r1 * pt.abs(r_nps), observed=f.nps_answered)
        latent = nps_slope * (base[f.nps_q.segment] + r_nps)
        pm.OrderedLogistic("nps", eta=latent[f.nps_answer_index], cutpoints=nps_cut,
                           observed=f.nps_value)
        r_churn = relationship_dev(pt, f.churn_q, alpha, dev, log_memory, wcum)
        seg = f.churn_q.segment
        pm.Bernoulli("churned", logit_p=churn_logit[seg] - eta_r * (base[seg] + r_churn),
                     observed=f.churned)
    return model


def probs_per_draw(p: Prepared, f: FullQueries) -> int:
    """Floats the compute_p Deterministics store per draw (rows x categories)."""
    return p.ces.size * 7 + p.csat.size * 5 + f.nps_value.size * 11
