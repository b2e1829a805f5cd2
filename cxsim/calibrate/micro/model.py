"""The micro-data model: the outcomes model as a PyMC likelihood of observed data.

Likelihood (see :mod:`cxsim.outcomes` and :mod:`cxsim.calibrate.micro.prepare`):

- post-interaction surveys: answered ~ Bernoulli(logistic(r0 + r1*|d_e|)); if answered,
  CES ~ OrderedLogistic(effort_e, ces_cutpoints), CSAT ~ OrderedLogistic(s_e, csat_cutpoints);
- periodic surveys: answered ~ Bernoulli(logistic(r0 + r1*|R - base|)); NPS ~
  OrderedLogistic(nps_slope*R, nps_cutpoints) - the selection model that corrects the bias;
- churn: at each check a customer at risk leaves ~ Bernoulli(logistic(eta_seg - eta_R*R)),
  a discrete-time hazard with censoring whose covariate R moves with every episode.

Fast by construction (:func:`group`; each step's measured effect is in the git history):
only the answered category's probability is computed (never an N x K array), as
``-softplus(latent - c_y) - softplus(c_{y-1} - latent) + log(1 - exp(-gap_y))`` whose last term
is one number per category; rows that share their value are summed once with a count
(customers with no episode yet per segment, churn checks and periodic surveys per relationship,
CES answers per effort features); a relationship is computed once per distinct (customer, last
episode) - a periodic survey and the churn check at the same time share it - as a sum over the
customer's earlier episodes whose decay factors take few distinct values (per reason and
counts of later episodes by reason), so no exponential is evaluated per pair; and every
softplus shares one exponential with its gradient.

Identification: satisfaction has no natural origin (a shift of every baseline is absorbed by
the CSAT and NPS cutpoints and the churn intercepts), so the anchor segment's baseline is
fixed (``anchor``); every other parameter is relative to it. Survey sending rates, the churn
period and the fatigue time are the company's own process, not behaviour: known constants.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from cxsim.calibrate.micro.prepare import Prepared
from cxsim.spec.config import Priors

FAR = 1e3  # stands for an infinite cutpoint in ordered-logistic probabilities
EFFORT_TERMS = ("effort_per_step", "effort_per_log_wait", "effort_per_repeat",
                "effort_per_switch")


def _softplus(pt, x):
    """log(1 + e^x) as (x + |x|)/2 + log1p(e^-|x|): its gradient reuses the same exponential
    (``pt.softplus``'s gradient, a sigmoid, evaluates a second one). The ``minimum`` (a no-op:
    e^-|x| <= 1) keeps PyTensor from rewriting this back into ``softplus``."""
    return 0.5 * (x + pt.abs(x)) + pt.log1p(pt.minimum(pt.exp(-pt.abs(x)), 1.0))


def _bernoulli(pt, logit, n, k):
    """Sum of the log-probabilities of k successes in n trials (not the binomial coefficient:
    these are n separate rows with the same logit): k*x - n*softplus(x)."""
    return (k * logit - n * _softplus(pt, logit)).sum()


def _ordered_logp(pt, latent, cutpoints, gaps, y):
    """log P(y | latent) of an ordered logistic, for observed categories ``y`` only.

    sigmoid(u) - sigmoid(l) = sigmoid(u) * sigmoid(-l) * (1 - e^(l - u)) with u = c_y - latent,
    l = c_{y-1} - latent, and u - l = gap_y does not depend on the latent: two softplus per row,
    and log1mexp once per category. End categories have c_{-1} = -FAR, c_{K-1} = FAR."""
    ext = pt.concatenate([pt.as_tensor([-FAR]), cutpoints, pt.as_tensor([FAR])])
    log_gap = pt.concatenate([pt.zeros(1), pt.log1mexp(-gaps), pt.zeros(1)])
    return -_softplus(pt, latent - ext[y + 1]) - _softplus(pt, ext[y] - latent) + log_gap[y]


def _ordered_probs(pt, latent, cutpoints):
    """All category probabilities, for a handful of latents (grouped customers)."""
    cum = pt.sigmoid(cutpoints[None, :] - latent[:, None])
    zeros = pt.zeros_like(cum[:, :1])
    return pt.diff(pt.concatenate([zeros, cum, zeros + 1.0], axis=1), axis=1)


def _cutpoints(pm, pt, name: str, n: int, dims: str, first_mu: float, pr: Priors):
    """Ordered cutpoints as a first cutpoint plus positive gaps: c_k = c_0 + sum of gaps.

    c_0 ~ Normal(first_mu, cutpoint_sd); each gap ~ LogNormal(log(gap_median), gap_sd): two
    neighbouring answers are typically 0.2 to 3 logits apart. Sparse end categories (an NPS
    of 0) stay well-behaved, where an unconstrained ordered vector wanders off."""
    first = pm.Normal(f"{name}_first", first_mu, pr.cutpoint_sd)
    gaps = pm.LogNormal(f"{name}_gaps", np.log(pr.gap_median), pr.gap_sd, shape=n - 1)
    cuts = pt.concatenate([pt.stack([first]), first + pt.cumsum(gaps)])
    return pm.Deterministic(name, cuts, dims=dims)


def _gaps(model, name: str):
    """The gap variable of the cutpoints ``name`` made by :func:`_cutpoints`."""
    return model[f"{name}_gaps"]


@dataclass
class Grouped:
    """The likelihood's rows of :class:`Prepared`, with rows of equal value summed once.

    A *node* is a distinct (customer, last episode ended by then): every periodic survey and
    churn check of a customer between two of their episodes has the same relationship. Its
    value is a sum over pairs (node, earlier-or-same episode j of that customer) of
    (1 - m^w_j) d_j m^(W - W_j); the decay depends only on a pair's *class* (j's reason, and
    the counts by reason of the customer's episodes after j), of which there are few."""

    node_segment: np.ndarray  # (nodes,)
    pair_node: np.ndarray  # (pairs,)
    pair_episode: np.ndarray  # (pairs,)
    pair_class: np.ndarray  # (pairs,)
    class_reason: np.ndarray  # (classes,) reason of the earlier episode
    class_later: np.ndarray  # (classes, reasons) later episodes of the customer, by reason
    churn_node: np.ndarray  # nodes with churn checks: their count and how many churned
    churn_n: np.ndarray
    churn_k: np.ndarray
    nps_node: np.ndarray  # nodes with periodic surveys: sent and answered
    nps_n: np.ndarray
    nps_k: np.ndarray
    answer_node: np.ndarray  # distinct (node, NPS answer) with counts
    answer_value: np.ndarray
    answer_count: np.ndarray
    ces_episode: np.ndarray  # one episode per distinct (effort features, CES answer)
    ces_value: np.ndarray
    ces_count: np.ndarray


def _unique_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """np.unique over rows of ``x`` (n, k) that also works for n = 0: (rows, first, inverse,
    counts)."""
    if x.shape[0] == 0:
        empty = np.zeros(0, dtype=np.int64)
        return x, empty, empty, empty
    rows, first, inv, counts = np.unique(x, axis=0, return_index=True, return_inverse=True,
                                         return_counts=True)
    return rows, first, inv.ravel(), counts


def group(p: Prepared) -> Grouped:
    """Sufficient statistics of the micro-data likelihood (see :class:`Grouped`)."""
    nq, cq = p.nps_q, p.churn_q
    last = np.concatenate([nq.last_episode, cq.last_episode])
    nodes, inv = np.unique(last, return_inverse=True)
    nps_inv, churn_inv = inv[:nq.last_episode.size], inv[nq.last_episode.size:]
    segment = np.zeros(nodes.size, dtype=np.int64)
    segment[nps_inv], segment[churn_inv] = nq.segment, cq.segment
    # pairs: each node with every episode of its customer up to and including its last one
    upto = p.prefix_counts.sum(axis=1).astype(np.int64)[nodes]  # the customer's nth episode
    pair_node = np.repeat(np.arange(nodes.size), upto)
    offset = np.arange(pair_node.size) - np.repeat(np.cumsum(upto) - upto, upto)
    pair_episode = np.repeat(nodes - upto + 1, upto) + offset
    later = p.prefix_counts[nodes[pair_node]] - p.prefix_counts[pair_episode]
    classes, _, pair_class, _ = _unique_rows(
        np.column_stack([p.ep_reason[pair_episode], later]).astype(np.int64))

    def per_node(index: np.ndarray, y: np.ndarray):
        n = np.bincount(index, minlength=nodes.size)
        k = np.bincount(index, weights=y, minlength=nodes.size)
        keep = np.flatnonzero(n)
        return keep, n[keep].astype(float), k[keep]

    churn_node, churn_n, churn_k = per_node(churn_inv, p.churned)
    nps_node, nps_n, nps_k = per_node(nps_inv, p.nps_answered)
    answers, _, _, answer_count = _unique_rows(
        np.column_stack([nps_inv[p.nps_answer_index], p.nps_value]).astype(np.int64))
    e = p.post_answered_episode
    _, first, _, ces_count = _unique_rows(
        np.column_stack([p.steps[e], p.log_wait[e], p.repeats[e], p.switches[e], p.ces]))
    return Grouped(
        node_segment=segment, pair_node=pair_node, pair_episode=pair_episode,
        pair_class=pair_class, class_reason=classes[:, 0], class_later=classes[:, 1:].astype(float),
        churn_node=churn_node, churn_n=churn_n, churn_k=churn_k,
        nps_node=nps_node, nps_n=nps_n, nps_k=nps_k,
        answer_node=answers[:, 0], answer_value=answers[:, 1],
        answer_count=answer_count.astype(float),
        ces_episode=e[first], ces_value=p.ces[first], ces_count=ces_count.astype(float),
    )  # fmt: skip


def anchor_reason(p: Prepared) -> int:
    """Index of the reason whose moment weight is fixed at 1: the most frequent one."""
    return int(np.bincount(p.ep_reason, minlength=len(p.reasons)).argmax())


def model_coords(p: Prepared, anchor: str) -> dict:
    """The coordinates of the model of ``p`` whose anchor segment is ``anchor``."""
    if anchor not in p.segments:
        raise ValueError(f"anchor segment {anchor!r} not in the data ({', '.join(p.segments)})")
    r = anchor_reason(p)
    return {"segment": p.segments, "free_segment": [g for g in p.segments if g != anchor],
            "reason": p.reasons, "free_reason": [x for i, x in enumerate(p.reasons) if i != r],
            "ces_cut": np.arange(6), "csat_cut": np.arange(4), "nps_cut": np.arange(10)}


def churn_data_sd(p: Prepared) -> np.ndarray:
    """Per segment, the sd its churn intercept would have from its own churn checks alone:
    1 / sqrt(n q (1 - q)), the Bernoulli information of n checks at the observed rate q."""
    segments = len(p.segments)
    n = np.bincount(p.churn_q.segment, minlength=segments) + p.churn0_at_risk.sum(axis=1)
    k = (np.bincount(p.churn_q.segment, weights=p.churned, minlength=segments)
         + p.churn0_churned.sum(axis=1))
    q = (k + 0.5) / (n + 1.0)
    return 1.0 / np.sqrt(n * q * (1.0 - q))


def centred_churn(p: Prepared, pr: Priors) -> bool:
    """Whether to sample the segments' churn intercepts centred, ``churn_logit ~ Normal(mu,
    between)``, rather than as ``mu + between * z``: the same prior, another geometry. Centred
    mixes far better once the data pin every intercept well inside the spread the prior allows
    between segments, and has a funnel when they do not: the switch sits at half the prior
    scale of the spread (0.25 by default) of the largest :func:`churn_data_sd`, chosen by
    measurement (docs/calibrate.md, "Sampling geometry", has the figures)."""
    return bool(churn_data_sd(p).max() < 0.5 * pr.churn_between_sd)


def parameters(pm, pt, p: Prepared, anchor: str, anchor_base: float, pr: Priors,
               centred: bool | None = None):
    """Inside a ``pm.Model(coords=model_coords(...))``: every parameter with its prior, and the
    episodes' effort, satisfaction deviation ``dev`` and satisfaction ``sat`` built from them.
    Shared with the benchmark's plain model, so that the two have the same priors. ``centred``:
    the churn intercepts' geometry (default: :func:`centred_churn` of ``p``)."""
    a = p.segments.index(anchor)
    v = SimpleNamespace()
    v.w_effort = [pm.HalfNormal(name, pr.effort_sd) for name in EFFORT_TERMS]
    v.ces_cut = _cutpoints(pm, pt, "ces_cutpoints", 6, "ces_cut", 0.0, pr)
    resolved_bonus = pm.HalfNormal("resolved_bonus", pr.resolved_sd)
    effort_weight = pm.HalfNormal("effort_weight", pr.effort_weight_sd)
    ttr_weight = pm.HalfNormal("ttr_weight", pr.ttr_sd)
    fatigue_w = pm.HalfNormal("survey_fatigue", pr.ttr_sd)
    base_free = pm.Normal("satisfaction_base", anchor_base, pr.base_sd, dims="free_segment")
    base = pt.set_subtensor(pt.zeros(len(p.segments))[[i for i in range(len(p.segments))
                                                       if i != a]], base_free)
    v.base = pt.set_subtensor(base[a], anchor_base)
    v.csat_cut = _cutpoints(pm, pt, "csat_cutpoints", 4, "csat_cut", -2.0, pr)
    v.memory = pm.Beta("memory", pr.memory_a, pr.memory_b)
    # Only log(memory) * weight enters the likelihood, so memory and a common scale of
    # every weight are one direction: the most frequent reason is the ordinary episode
    # (weight 1) that the others are measured against.
    r = anchor_reason(p)
    moment_free = pm.LogNormal("moment_weight_free", 0.0, pr.moment_sd, dims="free_reason")
    v.moment = pm.Deterministic(
        "moment_weight",
        pt.concatenate([moment_free[:r], pt.ones(1), moment_free[r:]]), dims="reason")
    v.nps_slope = pm.HalfNormal("nps_slope", pr.nps_slope_sd)
    v.nps_cut = _cutpoints(pm, pt, "nps_cutpoints", 10, "nps_cut", -5.0, pr)
    v.r0 = pm.Normal("response_base", pr.response_base_mu, pr.response_base_sd)
    v.r1 = pm.HalfNormal("response_extremity", pr.response_extremity_sd)
    churn_mu = pm.Normal("churn_mu", pr.churn_mu, pr.churn_mu_sd)
    churn_sd = pm.HalfNormal("churn_between", pr.churn_between_sd)
    if centred_churn(p, pr) if centred is None else centred:
        v.churn_logit = pm.Normal("churn_logit", churn_mu, churn_sd, dims="segment")
    else:
        churn_z = pm.Normal("churn_z", 0.0, 1.0, dims="segment")
        v.churn_logit = pm.Deterministic("churn_logit", churn_mu + churn_sd * churn_z,
                                         dims="segment")
    v.eta_r = pm.HalfNormal("churn_relationship", pr.churn_relationship_sd)

    w = v.w_effort
    v.effort = w[0] * p.steps + w[1] * p.log_wait + w[2] * p.repeats + w[3] * p.switches
    v.dev = (resolved_bonus * p.resolved - effort_weight * v.effort - ttr_weight * p.log_hours
             - fatigue_w * p.fatigue)
    v.sat = v.base[p.ep_segment] + v.dev
    return v


def build_model(p: Prepared, anchor: str, anchor_base: float, priors: Priors | None = None,
                centred: bool | None = None):
    """The PyMC model of ``p``; ``anchor`` names the segment whose baseline is fixed;
    ``centred`` overrides :func:`centred_churn`'s choice of the churn intercepts' geometry."""
    import pymc as pm
    import pytensor.tensor as pt

    pr = priors or Priors()
    gr = group(p)
    with pm.Model(coords=model_coords(p, anchor)) as model:
        v = parameters(pm, pt, p, anchor, anchor_base, pr, centred)
        effort, dev, sat, base = v.effort, v.dev, v.sat, v.base
        r0, r1, memory, moment = v.r0, v.r1, v.memory, v.moment
        ces_cut, csat_cut, nps_cut, nps_slope = v.ces_cut, v.csat_cut, v.nps_cut, v.nps_slope
        churn_logit, eta_r = v.churn_logit, v.eta_r

        # Post-interaction surveys: who answers, then CES and CSAT.
        terms = [_bernoulli(pt, r0 + r1 * pt.abs(dev[p.post_episode]), 1.0, p.post_answered)]
        lp = _ordered_logp(pt, effort[gr.ces_episode], ces_cut, _gaps(model, "ces_cutpoints"),
                           gr.ces_value)
        terms.append((gr.ces_count * lp).sum())
        terms.append(_ordered_logp(pt, sat[p.post_answered_episode], csat_cut,
                                   _gaps(model, "csat_cutpoints"), p.csat).sum())

        # Relationships (R - base) at the nodes: periodic surveys and churn checks.
        log_memory = pt.log(memory)
        alpha = 1.0 - pt.exp(log_memory * moment)  # per reason
        coef = alpha[gr.class_reason] * pt.exp(log_memory * pt.dot(gr.class_later, moment))
        contrib = coef[gr.pair_class] * dev[gr.pair_episode]
        rel = pt.inc_subtensor(pt.zeros(gr.node_segment.size)[gr.pair_node], contrib)
        seg = gr.node_segment
        i = gr.nps_node
        terms.append(_bernoulli(pt, r0 + r1 * pt.abs(rel[i]), gr.nps_n, gr.nps_k))
        i = gr.answer_node
        latent = nps_slope * (base[seg[i]] + rel[i])
        lp = _ordered_logp(pt, latent, nps_cut, _gaps(model, "nps_cutpoints"), gr.answer_value)
        terms.append((gr.answer_count * lp).sum())
        i = gr.churn_node
        x = churn_logit[seg[i]] - eta_r * (base[seg[i]] + rel[i])
        terms.append(_bernoulli(pt, x, gr.churn_n, gr.churn_k))

        # Customers with no episode yet: R = base, grouped by segment (and check).
        terms.append(_bernoulli(pt, r0, p.nps0_sent, p.nps0_answered))
        probs0 = _ordered_probs(pt, nps_slope * base, nps_cut)
        terms.append((p.nps0_counts * pt.log(probs0 + 1e-300)).sum())
        x0 = (churn_logit - eta_r * base)[:, None]
        terms.append(_bernoulli(pt, x0, p.churn0_at_risk, p.churn0_churned))
        pm.Potential("likelihood", pt.sum(pt.stack(terms)))
    return model
