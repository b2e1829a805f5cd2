"""From an observed-data directory to the arrays the micro-data likelihood needs.

Pure NumPy, no PyMC: the same arrays feed the PyMC model and the posterior post-processing.

The relationship R of a customer at time t is, by unrolling R <- R + alpha (s - R) with
alpha = 1 - rho**w,

    R(t) = base + sum_{j ended by t} (1 - rho**w_j) * d_j * rho**(W(t) - W_j),

where d_j = s_j - base is episode j's satisfaction relative to the segment baseline and W is
the customer's running sum of moment weights (W_j includes j, W(t) every episode ended by t).
So each *query* (a periodic survey, a churn check) is a sum over *pairs* (query, earlier
episode of the same customer), and the exponent W(t) - W_j is linear in the moment weights:
``prefix_counts @ w`` (per-reason counts of the customer's episodes so far). Queries of
customers with no earlier episode have R = base exactly; they are grouped by segment (and
check) into counts: sufficient statistics.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cxsim import metrics
from cxsim.data import ObservedData
from cxsim.spec.kinds import (
    EPISODE_OUTCOMES,
    IN_SYSTEM,
    MINUTES_PER_DAY,
    MINUTES_PER_HOUR,
    PERIODIC,
    POST_INTERACTION,
    RESOLVED,
)


@dataclass
class Queries:
    """Times at which a customer's relationship matters, with their earlier episodes."""

    customer: np.ndarray  # (Q,)
    segment: np.ndarray  # (Q,)
    last_episode: np.ndarray  # (Q,) index of the customer's last episode ended by then
    pair_query: np.ndarray  # (P,) query of each (query, episode) pair
    pair_episode: np.ndarray  # (P,) episode of each pair


@dataclass
class Prepared:
    """Arrays of the micro-data model (see module doc); names say what they hold."""

    segments: list[str]
    reasons: list[str]
    # Episodes that reached an end (in order per customer): their features.
    ep_segment: np.ndarray
    ep_reason: np.ndarray
    steps: np.ndarray
    log_wait: np.ndarray
    repeats: np.ndarray
    switches: np.ndarray
    resolved: np.ndarray
    log_hours: np.ndarray
    fatigue: np.ndarray  # recent surveys, exp-decayed, before the episode ended
    prefix_counts: np.ndarray  # (E, reasons): the customer's episodes so far, by reason
    # Post-interaction surveys: episode, answered, CES 1-7 and CSAT 1-5 as 0-based categories.
    post_episode: np.ndarray
    post_answered: np.ndarray
    ces: np.ndarray  # of answered ones
    csat: np.ndarray
    post_answered_episode: np.ndarray
    # Periodic NPS surveys of customers with earlier episodes.
    nps_q: Queries
    nps_answered: np.ndarray
    nps_answer_index: np.ndarray  # which rows of nps_q answered
    nps_value: np.ndarray  # their answers 0..10
    # ... and of customers without: counts per segment.
    nps0_sent: np.ndarray  # (segments,)
    nps0_answered: np.ndarray
    nps0_counts: np.ndarray  # (segments, 11)
    # Churn checks of customers with earlier episodes (one row per customer and check).
    churn_q: Queries
    churned: np.ndarray
    churn_q_time: np.ndarray
    # ... and without: at risk and churned per segment and check.
    churn0_at_risk: np.ndarray  # (segments, checks)
    churn0_churned: np.ndarray
    check_times: np.ndarray
    n_customers: int = 0
    raw: dict = field(default_factory=dict)  # respondent figures, for reporting


def check_times(data: ObservedData, churn_period_days: float) -> np.ndarray:
    """Churn checks happen every period while observing: k*period < end of observation."""
    end = float(data.customers["censored_min"].max())
    period = churn_period_days * MINUTES_PER_DAY
    times = np.arange(1, int(np.ceil(end / period)) + 1) * period
    return times[times < end]


def _queries(cust: np.ndarray, times: np.ndarray, ep_cust: np.ndarray, ep_end: np.ndarray,
             first: np.ndarray, count: np.ndarray, segment_of: np.ndarray) -> Queries:
    """Pairs of each query (customer, time) with the customer's episodes ended by then.

    Episodes are sorted by customer then end time; ``first``/``count`` give each customer's
    block. Ties at the query time count as ended (the engine reacts to an episode before the
    survey or check at the same instant)."""
    starts, counts = first[cust], count[cust]
    # number of the customer's episodes ended by the query time
    n_before = np.zeros(cust.size, dtype=np.int64)
    for i in range(int(counts.max(initial=0))):
        has = counts > i
        idx = starts[has] + i
        n_before[has] += ep_end[idx] <= times[has]
    pair_query = np.repeat(np.arange(cust.size), n_before)
    offsets = np.arange(pair_query.size) - np.repeat(np.cumsum(n_before) - n_before, n_before)
    pair_episode = np.repeat(starts, n_before) + offsets
    last = np.where(n_before > 0, starts + n_before - 1, -1)
    return Queries(cust, segment_of[cust], last, pair_query, pair_episode)


def episode_index(data: ObservedData) -> tuple[list[str], np.ndarray, pd.DataFrame,
                                                np.ndarray, np.ndarray]:
    """The one order of episodes every array follows (the model's, the population queries',
    the forecast's): segments (sorted), each customer id's segment index, the episodes that
    reached an end sorted by customer then end time, and each customer's block in them
    (first, count)."""
    cu, ep = data.customers, data.episodes
    segments = sorted(cu["segment"].unique().tolist())
    seg_index = {g: i for i, g in enumerate(segments)}
    segment_of = np.full(int(cu["customer_id"].max()) + 1, -1, dtype=np.int64)
    segment_of[cu["customer_id"].to_numpy()] = cu["segment"].map(seg_index).to_numpy()
    done = ep[ep["outcome"] != EPISODE_OUTCOMES[IN_SYSTEM]].sort_values(
        ["customer_id", "end_min", "episode_id"])
    count = np.bincount(done["customer_id"].to_numpy(), minlength=segment_of.size)
    return segments, segment_of, done, np.cumsum(count) - count, count


def prepare(data: ObservedData, churn_period_days: float = 30.0,
            fatigue_days: float = 30.0) -> Prepared:
    """Build the model arrays from ``data`` (validated by :func:`cxsim.data.load_observed`)."""
    cu, ep, sv = data.customers, data.episodes, data.surveys
    segments, segment_of, done, first, count = episode_index(data)
    ep_cust = done["customer_id"].to_numpy()
    ep_end = done["end_min"].to_numpy(float)
    reasons = sorted(ep["reason"].unique().tolist())
    reason = done["reason"].map({r: i for i, r in enumerate(reasons)}).to_numpy()
    onehot = np.eye(len(reasons))[reason]
    prefix = np.cumsum(onehot, axis=0)
    prefix -= np.repeat(prefix[first[count > 0]] - onehot[first[count > 0]], count[count > 0],
                        axis=0)
    episode_row = {e: i for i, e in enumerate(done["episode_id"].to_numpy().tolist())}

    fatigue = _fatigue(sv, ep_cust, ep_end, fatigue_days * MINUTES_PER_DAY, segment_of.size)

    post = sv[sv["kind"] == POST_INTERACTION]
    post = post[post["episode_id"].isin(episode_row)]
    post_episode = post["episode_id"].map(episode_row).to_numpy(np.int64)
    post_answered = post["answered"].to_numpy(np.int64)
    ans = post[post["answered"] == 1]

    periodic = sv[sv["kind"] == PERIODIC]
    p_cust = periodic["customer_id"].to_numpy()
    p_time = periodic["sent_min"].to_numpy(float)
    nq = _queries(p_cust, p_time, ep_cust, ep_end, first, count, segment_of)
    with_history = nq.last_episode >= 0
    answered = periodic["answered"].to_numpy(np.int64)
    nps = periodic["nps"].to_numpy(dtype=float, na_value=np.nan)
    nps_q = _subset(nq, with_history)
    nps_answered = answered[with_history]
    answer_rows = np.flatnonzero(nps_answered == 1)
    nps_value = nps[with_history][answer_rows].astype(np.int64)
    seg0 = nq.segment[~with_history]
    nps0_sent = np.bincount(seg0, minlength=len(segments))
    nps0_answered = np.bincount(seg0, weights=answered[~with_history], minlength=len(segments))
    nps0_counts = np.zeros((len(segments), 11))
    a0 = (answered[~with_history] == 1)
    np.add.at(nps0_counts, (seg0[a0], nps[~with_history][a0].astype(np.int64)), 1)

    checks = check_times(data, churn_period_days)
    churn_min = cu["churn_min"].to_numpy(float)
    censor = cu["censored_min"].to_numpy(float)
    ids = cu["customer_id"].to_numpy()
    at_risk = ((np.isnan(churn_min)[:, None] | (churn_min[:, None] >= checks[None, :]))
               & (checks[None, :] < censor[:, None]))
    ci, ki = np.nonzero(at_risk)
    c_cust, c_time = ids[ci], checks[ki]
    cq = _queries(c_cust, c_time, ep_cust, ep_end, first, count, segment_of)
    event = (churn_min[ci] == c_time).astype(np.int64)
    hist = cq.last_episode >= 0
    churn0_at_risk = np.zeros((len(segments), checks.size))
    churn0_churned = np.zeros((len(segments), checks.size))
    np.add.at(churn0_at_risk, (cq.segment[~hist], ki[~hist]), 1)
    np.add.at(churn0_churned, (cq.segment[~hist], ki[~hist]), event[~hist])

    answered_periodic = periodic[periodic["answered"] == 1]
    raw = {
        "nps_respondents": _figure(metrics.nps(answered_periodic["nps"].to_numpy(int))),
        "ces_respondents": _figure(metrics.mean_ces(ans["ces"].to_numpy(int))),
        "csat_respondents": _figure(metrics.csat(ans["csat"].to_numpy(int))),
        "responses": int(len(ans) + len(answered_periodic)),
    }
    return Prepared(
        segments=segments, reasons=reasons,
        ep_segment=segment_of[ep_cust], ep_reason=reason,
        steps=done["steps"].to_numpy(float), log_wait=np.log1p(done["wait_min"].to_numpy(float)),
        repeats=done["repeats"].to_numpy(float), switches=done["switches"].to_numpy(float),
        resolved=(done["outcome"] == EPISODE_OUTCOMES[RESOLVED]).to_numpy(float),
        log_hours=np.log1p((ep_end - done["start_min"].to_numpy(float)) / MINUTES_PER_HOUR),
        fatigue=fatigue, prefix_counts=prefix,
        post_episode=post_episode, post_answered=post_answered,
        ces=ans["ces"].to_numpy(np.int64) - 1, csat=ans["csat"].to_numpy(np.int64) - 1,
        post_answered_episode=ans["episode_id"].map(episode_row).to_numpy(np.int64),
        nps_q=nps_q, nps_answered=nps_answered, nps_answer_index=answer_rows,
        nps_value=nps_value, nps0_sent=nps0_sent, nps0_answered=nps0_answered,
        nps0_counts=nps0_counts, churn_q=_subset(cq, hist), churned=event[hist],
        churn_q_time=c_time[hist],
        churn0_at_risk=churn0_at_risk, churn0_churned=churn0_churned, check_times=checks,
        n_customers=len(cu), raw=raw,
    )  # fmt: skip


def _fatigue(sv: pd.DataFrame, ep_cust: np.ndarray, ep_end: np.ndarray, tau: float,
             n_customers: int) -> np.ndarray:
    """Survey fatigue when each episode ended: the sum of exp(-(t - sent)/tau) over the
    customer's surveys sent strictly before t, summed over (episode, survey) pairs."""
    order = np.lexsort((sv["sent_min"].to_numpy(float), sv["customer_id"].to_numpy()))
    s_cust = sv["customer_id"].to_numpy()[order]
    s_time = sv["sent_min"].to_numpy(float)[order]
    count = np.bincount(s_cust, minlength=n_customers)
    first = np.cumsum(count) - count
    key = s_cust * (1.0 + s_time.max(initial=0.0)) + s_time  # sorted: customer, then time
    ep_key = ep_cust * (1.0 + s_time.max(initial=0.0)) + ep_end
    n_before = np.searchsorted(key, ep_key, side="left") - first[ep_cust]
    n_before = np.clip(n_before, 0, count[ep_cust])
    pair_ep = np.repeat(np.arange(ep_cust.size), n_before)
    offsets = np.arange(pair_ep.size) - np.repeat(np.cumsum(n_before) - n_before, n_before)
    pair_survey = np.repeat(first[ep_cust], n_before) + offsets
    decay = np.exp(-(ep_end[pair_ep] - s_time[pair_survey]) / tau)
    return np.bincount(pair_ep, weights=decay, minlength=ep_cust.size)


def _subset(q: Queries, keep: np.ndarray) -> Queries:
    """The queries in ``keep``, renumbered, with their pairs."""
    new_index = np.cumsum(keep) - 1
    in_pairs = keep[q.pair_query]
    return Queries(q.customer[keep], q.segment[keep], q.last_episode[keep],
                   new_index[q.pair_query[in_pairs]], q.pair_episode[in_pairs])


def _figure(x: float) -> float | None:
    """A respondents' figure for the summary: None when nobody answered."""
    return None if np.isnan(x) else x


def population_queries(data: ObservedData, prep_times: np.ndarray) -> tuple[Queries, np.ndarray]:
    """Every customer active at each periodic survey round (what *everyone* would answer),
    with the round of each query: the population NPS of the engine's definition."""
    cu = data.customers
    _, segment_of, done, first, count = episode_index(data)
    ep_cust = done["customer_id"].to_numpy()
    ep_end = done["end_min"].to_numpy(float)
    churn_min = cu["churn_min"].to_numpy(float)
    ids = cu["customer_id"].to_numpy()
    active = np.isnan(churn_min)[:, None] | (churn_min[:, None] >= prep_times[None, :])
    ci, ri = np.nonzero(active)
    return _queries(ids[ci], prep_times[ri], ep_cust, ep_end, first, count, segment_of), ri
