"""The micro-data model: the outcomes model as a PyMC likelihood of observed data.

Likelihood (see :mod:`cxsim.outcomes` and :mod:`cxsim.calibrate.prepare`):

- post-interaction surveys: answered ~ Bernoulli(logistic(r0 + r1*|d_e|)); if answered,
  CES ~ OrderedLogistic(effort_e, ces_cutpoints), CSAT ~ OrderedLogistic(s_e, csat_cutpoints);
- periodic surveys: answered ~ Bernoulli(logistic(r0 + r1*|R - base|)); NPS ~
  OrderedLogistic(nps_slope*R, nps_cutpoints) - the selection model that corrects the bias;
- churn: at each check a customer at risk leaves ~ Bernoulli(logistic(eta_seg - eta_R*R)),
  a discrete-time hazard with censoring whose covariate R moves with every episode.

Fast by construction: only the answered category's probability is computed (never an N x K
array), customers with no episode yet enter as counts per segment, and relationships are a
scatter-add over (query, earlier episode) pairs, not a scan.

Identification: satisfaction has no natural origin (a shift of every baseline is absorbed by
the CSAT and NPS cutpoints and the churn intercepts), so the anchor segment's baseline is
fixed (``anchor``); every other parameter is relative to it. Survey sending rates, the churn
period and the fatigue time are the company's own process, not behaviour: known constants.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cxsim.calibrate.prepare import Prepared, Queries

FAR = 1e3  # stands for an infinite cutpoint in ordered-logistic probabilities
EFFORT_TERMS = ("effort_per_step", "effort_per_log_wait", "effort_per_repeat",
                "effort_per_switch")


@dataclass
class Priors:
    """Weakly informative priors (their meaning is documented in docs/calibrate.md)."""

    effort_sd: float = 0.5  # HalfNormal scale of each effort weight (effort units per unit)
    resolved_sd: float = 3.0  # HalfNormal scale of resolved_bonus
    effort_weight_sd: float = 1.0  # HalfNormal scale of effort_weight
    ttr_sd: float = 1.0  # HalfNormal scale of ttr_weight and survey_fatigue
    base_sd: float = 1.0  # Normal sd of a segment baseline around the anchor's
    cutpoint_sd: float = 3.0  # Normal sd of the first cutpoint of an answer scale
    gap_median: float = 0.8  # median gap between neighbouring cutpoints (logits)
    gap_sd: float = 0.75  # LogNormal sd of a gap
    nps_slope_sd: float = 3.0
    moment_sd: float = 0.75  # LogNormal sd of moment weights (log scale; 1 = ordinary)
    memory_a: float = 2.0  # Beta(a, b) on memory
    memory_b: float = 2.0
    response_base_mu: float = -2.0
    response_base_sd: float = 2.0
    response_extremity_sd: float = 2.0
    churn_mu: float = -3.0  # logit of leaving per period: about 5%
    churn_mu_sd: float = 1.5
    churn_between_sd: float = 0.5  # HalfNormal scale of the spread between segments
    churn_relationship_sd: float = 2.0


def _ordered_logp(pt, latent, cutpoints, y):
    """log P(y | latent) of an ordered logistic, for observed categories ``y`` only."""
    ext = pt.concatenate([pt.as_tensor([-FAR]), cutpoints, pt.as_tensor([FAR])])
    upper = ext[y + 1] - latent
    lower = ext[y] - latent
    log_up = -pt.softplus(-upper)
    return log_up + pt.log1mexp(-pt.softplus(-lower) - log_up)


def _ordered_probs(pt, latent, cutpoints):
    """All category probabilities, for a handful of latents (grouped customers)."""
    cum = pt.sigmoid(cutpoints[None, :] - latent[:, None])
    zeros = pt.zeros_like(cum[:, :1])
    return pt.diff(pt.concatenate([zeros, cum, zeros + 1.0], axis=1), axis=1)


def _log_bernoulli(pt, logit, y):
    return y * -pt.softplus(-logit) + (1 - y) * -pt.softplus(logit)


def _relationship_dev(pt, q: Queries, alpha, dev, log_memory, wcum):
    """R - base at each query: sum over earlier episodes j of alpha_j d_j memory**(W - W_j)."""
    exponent = wcum[q.last_episode[q.pair_query]] - wcum[q.pair_episode]
    contrib = alpha[q.pair_episode] * dev[q.pair_episode] * pt.exp(log_memory * exponent)
    return pt.inc_subtensor(pt.zeros(q.customer.size)[q.pair_query], contrib)


def _cutpoints(pm, pt, name: str, n: int, dims: str, first_mu: float, pr: Priors):
    """Ordered cutpoints as a first cutpoint plus positive gaps: c_k = c_0 + sum of gaps.

    c_0 ~ Normal(first_mu, cutpoint_sd); each gap ~ LogNormal(log(gap_median), gap_sd): two
    neighbouring answers are typically 0.2 to 3 logits apart. Sparse end categories (an NPS
    of 0) stay well-behaved, where an unconstrained ordered vector wanders off."""
    first = pm.Normal(f"{name}_first", first_mu, pr.cutpoint_sd)
    gaps = pm.LogNormal(f"{name}_gaps", np.log(pr.gap_median), pr.gap_sd, shape=n - 1)
    cuts = pt.concatenate([pt.stack([first]), first + pt.cumsum(gaps)])
    return pm.Deterministic(name, cuts, dims=dims)


def anchor_reason(p: Prepared) -> int:
    """Index of the reason whose moment weight is fixed at 1: the most frequent one."""
    return int(np.bincount(p.ep_reason, minlength=len(p.reasons)).argmax())


def build_model(p: Prepared, anchor: str, anchor_base: float, priors: Priors | None = None):
    """The PyMC model of ``p``; ``anchor`` names the segment whose baseline is fixed."""
    import pymc as pm
    import pytensor.tensor as pt

    pr = priors or Priors()
    if anchor not in p.segments:
        raise ValueError(f"anchor segment {anchor!r} not in the data ({', '.join(p.segments)})")
    a = p.segments.index(anchor)
    free = [g for g in p.segments if g != anchor]
    coords = {"segment": p.segments, "free_segment": free, "reason": p.reasons,
              "free_reason": [x for i, x in enumerate(p.reasons) if i != anchor_reason(p)],
              "ces_cut": np.arange(6), "csat_cut": np.arange(4), "nps_cut": np.arange(10)}
    with pm.Model(coords=coords) as model:
        w_effort = [pm.HalfNormal(name, pr.effort_sd) for name in EFFORT_TERMS]
        ces_cut = _cutpoints(pm, pt, "ces_cutpoints", 6, "ces_cut", 0.0, pr)
        resolved_bonus = pm.HalfNormal("resolved_bonus", pr.resolved_sd)
        effort_weight = pm.HalfNormal("effort_weight", pr.effort_weight_sd)
        ttr_weight = pm.HalfNormal("ttr_weight", pr.ttr_sd)
        fatigue_w = pm.HalfNormal("survey_fatigue", pr.ttr_sd)
        base_free = pm.Normal("satisfaction_base", anchor_base, pr.base_sd, dims="free_segment")
        base = pt.set_subtensor(pt.zeros(len(p.segments))[[i for i in range(len(p.segments))
                                                           if i != a]], base_free)
        base = pt.set_subtensor(base[a], anchor_base)
        csat_cut = _cutpoints(pm, pt, "csat_cutpoints", 4, "csat_cut", -2.0, pr)
        memory = pm.Beta("memory", pr.memory_a, pr.memory_b)
        # Only log(memory) * weight enters the likelihood, so memory and a common scale of
        # every weight are one direction: the most frequent reason is the ordinary episode
        # (weight 1) that the others are measured against.
        r = anchor_reason(p)
        moment_free = pm.LogNormal("moment_weight_free", 0.0, pr.moment_sd, dims="free_reason")
        moment = pm.Deterministic(
            "moment_weight",
            pt.concatenate([moment_free[:r], pt.ones(1), moment_free[r:]]), dims="reason")
        nps_slope = pm.HalfNormal("nps_slope", pr.nps_slope_sd)
        nps_cut = _cutpoints(pm, pt, "nps_cutpoints", 10, "nps_cut", -5.0, pr)
        r0 = pm.Normal("response_base", pr.response_base_mu, pr.response_base_sd)
        r1 = pm.HalfNormal("response_extremity", pr.response_extremity_sd)
        churn_mu = pm.Normal("churn_mu", pr.churn_mu, pr.churn_mu_sd)
        churn_sd = pm.HalfNormal("churn_between", pr.churn_between_sd)
        churn_z = pm.Normal("churn_z", 0.0, 1.0, dims="segment")
        churn_logit = pm.Deterministic("churn_logit", churn_mu + churn_sd * churn_z,
                                       dims="segment")
        eta_r = pm.HalfNormal("churn_relationship", pr.churn_relationship_sd)

        effort = (w_effort[0] * p.steps + w_effort[1] * p.log_wait + w_effort[2] * p.repeats
                  + w_effort[3] * p.switches)
        dev = (resolved_bonus * p.resolved - effort_weight * effort - ttr_weight * p.log_hours
               - fatigue_w * p.fatigue)
        sat = base[p.ep_segment] + dev

        # Post-interaction surveys: who answers, then CES and CSAT.
        post_logit = r0 + r1 * pt.abs(dev[p.post_episode])
        terms = [_log_bernoulli(pt, post_logit, p.post_answered).sum()]
        e = p.post_answered_episode
        terms.append(_ordered_logp(pt, effort[e], ces_cut, p.ces).sum())
        terms.append(_ordered_logp(pt, sat[e], csat_cut, p.csat).sum())

        # Relationships at periodic surveys and churn checks.
        log_memory = pt.log(memory)
        alpha = 1.0 - pt.exp(log_memory * moment[p.ep_reason])
        wcum = pt.dot(p.prefix_counts, moment)
        r_nps = _relationship_dev(pt, p.nps_q, alpha, dev, log_memory, wcum)
        terms.append(_log_bernoulli(pt, r0 + r1 * pt.abs(r_nps), p.nps_answered).sum())
        latent = nps_slope * (base[p.nps_q.segment] + r_nps)
        terms.append(_ordered_logp(pt, latent[p.nps_answer_index], nps_cut, p.nps_value).sum())
        # Customers with no episode yet: R = base, grouped by segment.
        terms.append((p.nps0_answered * -pt.softplus(-r0)
                      + (p.nps0_sent - p.nps0_answered) * -pt.softplus(r0)).sum())
        probs0 = _ordered_probs(pt, nps_slope * base, nps_cut)
        terms.append((p.nps0_counts * pt.log(probs0 + 1e-300)).sum())

        r_churn = _relationship_dev(pt, p.churn_q, alpha, dev, log_memory, wcum)
        churn_x = churn_logit[p.churn_q.segment] - eta_r * (base[p.churn_q.segment] + r_churn)
        terms.append(_log_bernoulli(pt, churn_x, p.churned).sum())
        x0 = (churn_logit - eta_r * base)[:, None]
        terms.append((p.churn0_churned * -pt.softplus(-x0)
                      + (p.churn0_at_risk - p.churn0_churned) * -pt.softplus(x0)).sum())
        pm.Potential("likelihood", pt.sum(pt.stack(terms)))
    return model
