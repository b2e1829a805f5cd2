"""Propagate many behaviour draws through one simulated replication at once.

The engine simulates a scenario once, at a *reference* behaviour theta_0 (the posterior
mean). Its experience log then serves every posterior draw theta_d: the outcomes model is
vectorised over draws (:class:`cxsim.calibrate.micro.draws.DrawModel`), so each draw's satisfaction,
relationships, answers, churn hazards and value are recomputed from the same episodes.

Churn feeds back on load (a customer who left raises no more needs). Each customer's churn
path was drawn under theta_0; under theta_d that path has another probability, so every
customer carries the importance weight

    w_i(d) = prod over checks at risk of  h_d / h_0  (left)  or  (1 - h_d) / (1 - h_0)  (stayed),

normalised to mean 1 over customers. Weighted means over customers are then expectations
under theta_d: exact for everything a customer's own path decides (retention, revenue,
value, answers), approximate only through the queue load, which stays theta_0's. Posterior
draws sit close to their mean, so the weights stay near 1 (``ess`` reports it), and
``benchmarks/whatif.py`` measures the remaining discrepancy against exact per-draw runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.special import expit

from cxsim import metrics, outcomes
from cxsim.calibrate.micro.draws import DrawModel
from cxsim.calibrate.micro.prepare import episode_index, population_queries, prepare
from cxsim.data import ObservedData
from cxsim.spec import Scenario
from cxsim.spec.kinds import DAYS_PER_MONTH, MINUTES_PER_DAY, MINUTES_PER_MONTH

# The figures of a what-if, per draw (what each means: cxsim.metrics.KPIS). The survey
# figures are what everyone would answer, not the respondents.
METRICS = ("nps_population", "ces_population", "csat_population", "retention", "churn_rate",
           "ltv", "revenue", "staff_cost", "mean_wait", "service_level", "repeats_per_need",
           "resolved_rate", "wait_per_need")


def metric_names() -> tuple[str, ...]:
    """The what-if's figures: :data:`METRICS` and the registered KPIs derived from them."""
    return (*METRICS, *metrics.derived({m: np.zeros(1) for m in METRICS}))


@dataclass
class Draws:
    """Behaviour draws under ``theta_of`` names, each an array (D,), and the anchor of the
    satisfaction scale they were fitted on (the anchor segment's baseline is fixed)."""

    values: dict[str, np.ndarray]
    anchor: str
    anchor_base: float

    @property
    def size(self) -> int:
        return len(next(iter(self.values.values())))

    def take(self, index: np.ndarray) -> Draws:
        return Draws({k: v[index] for k, v in self.values.items()}, self.anchor,
                     self.anchor_base)

    def completed(self, theta: dict[str, float]) -> Draws:
        """These draws, with ``theta``'s value for every parameter they do not hold."""
        missing = {k: np.full(self.size, v) for k, v in theta.items() if k not in self.values}
        return Draws({**missing, **self.values}, self.anchor, self.anchor_base)

    def mean(self) -> dict[str, float]:
        """The reference theta_0: every parameter's mean, the anchor's fixed baseline."""
        theta = {k: float(v.mean()) for k, v in self.values.items()}
        theta[f"satisfaction_base[{self.anchor}]"] = self.anchor_base
        return theta


@dataclass
class Propagated:
    """One replication's figures under each draw."""

    figures: dict[str, np.ndarray]  # metric -> (D,)
    retention: np.ndarray  # (D, checks): share still a customer after each churn check
    check_days: np.ndarray  # (checks,)
    ess: np.ndarray  # (D,) effective sample size of the weights / customers
    nps_answers: np.ndarray  # (A, 11): share of everyone who would answer 0..10, A <= D draws
    ces_answers: np.ndarray  # (A, 7): share of episodes whose CES would be 1..7


class _Paths:
    """What a replication's churn paths are, independent of the draws."""

    def __init__(self, data: ObservedData, s: Scenario) -> None:
        b = s.behaviour
        cu = data.customers
        self.prep = prepare(data, b.churn_period_days, b.fatigue_days)
        self.checks = self.prep.check_times
        self.end = float(cu["censored_min"].max())
        self.n = len(cu)
        churn_min = cu["churn_min"].to_numpy(float)
        q, k = population_queries(data, self.checks)  # at risk at each check
        self.q = q
        self.event = churn_min[q.customer] == self.checks[k]
        self.q_to_customer = sparse.csr_matrix(
            (np.ones(q.customer.size), (q.customer, np.arange(q.customer.size))),
            shape=(self.n, q.customer.size))
        self.q_end, _ = population_queries(data, np.array([self.end]))
        _, segment_of, done, _, _ = episode_index(data)  # prepare()'s order of episodes
        self.segment = segment_of[cu["customer_id"].to_numpy()]
        stayed = np.isnan(churn_min)
        self.alive = stayed[:, None] | (churn_min[:, None] > self.checks[None, :])  # (N, K)
        self.stayed = stayed.astype(float)
        self.exposure = np.where(stayed, self.end, churn_min) / MINUTES_PER_MONTH
        months = b.churn_period_days / DAYS_PER_MONTH
        revenue = np.array([s.segments[g].revenue_per_month for g in self.prep.segments])
        self.bill = revenue[self.segment] * months  # per period
        self.discount = (1 + b.discount_rate_per_month) ** months - 1
        bills = 1 + self.alive.sum(axis=1)  # at the start, then after each check survived
        self.revenue = self.bill * bills
        factors = np.cumprod(np.r_[1.0, np.full(self.checks.size, 1 / (1 + self.discount))])
        self.paid_value = self.bill * np.cumsum(factors)[bills - 1]
        self.residual_factor = factors[-1] / (1 + self.discount)
        self.ep_customer = done["customer_id"].to_numpy()
        self.ep_wait = done["wait_min"].to_numpy(float)
        self.ep_repeats = done["repeats"].to_numpy(float)


def _hazard(model: DrawModel, rel: np.ndarray, segment: np.ndarray) -> np.ndarray:
    logit = model.p_matrix("churn_logit", model.prep.segments)
    return outcomes.churn_hazard(rel, logit[:, segment], model.col["churn_relationship"])


def _weighted(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Weighted means over the last axis: w (D, M), x (D, M) or (M,)."""
    return (w * x).sum(axis=-1) / w.sum(axis=-1)


def _population_cdf(model: DrawModel, name: str, scale: tuple[int, int], latent: np.ndarray,
                    w: np.ndarray) -> Callable[[int], np.ndarray]:
    """Everyone's answer distribution on ``scale``, cumulative: answer v -> the weighted mean
    over customers or episodes of P(answer <= v) = logistic(c_(v - low) - latent), (D,).
    Only the thresholds a figure asks for are computed (never a D x M x K array)."""
    low, high = scale
    cuts = model.cutpoints(name, high - low)
    return lambda v: _weighted(w, expit(cuts[:, 0, v - low][:, None] - latent))


def _figures(paths: _Paths, draws: Draws, h0: np.ndarray, answers: int) -> Propagated:
    p = paths.prep
    model = DrawModel(p, draws.values, draws.anchor, draws.anchor_base)
    rel = model.relationship(paths.q)  # (D, Q); the NPS rounds coincide with the checks
    h = _hazard(model, rel, paths.q.segment)
    log_ratio = np.where(paths.event, np.log(h) - np.log(h0), np.log1p(-h) - np.log1p(-h0))
    log_w = (paths.q_to_customer @ log_ratio.T).T  # (D, N)
    w = np.exp(log_w - log_w.max(axis=1, keepdims=True))
    w /= w.mean(axis=1, keepdims=True)
    ess = w.sum(axis=1) ** 2 / (w**2).sum(axis=1) / paths.n

    h_end = _hazard(model, model.relationship(paths.q_end), paths.q_end.segment)
    residual = np.zeros_like(w)
    residual[:, paths.q_end.customer] = outcomes.residual_value(
        paths.bill[paths.q_end.customer], h_end, paths.discount) * paths.residual_factor

    x = model.col["nps_slope"] * rel
    sat = model.base[:, p.ep_segment] + model.dev
    w_q, w_e = w[:, paths.q.customer], w[:, paths.ep_customer]
    n = paths.n
    figures = {
        "nps_population": metrics.nps_from_cdf(
            _population_cdf(model, "nps_cutpoints", metrics.NPS_SCALE, x, w_q)),
        "ces_population": metrics.mean_ces_from_cdf(
            _population_cdf(model, "ces_cutpoints", metrics.CES_SCALE, model.effort, w_e)),
        "csat_population": metrics.csat_from_cdf(
            _population_cdf(model, "csat_cutpoints", metrics.CSAT_SCALE, sat, w_e)),
        "retention": (w * paths.stayed).sum(1) / n,
        "churn_rate": (w * (1 - paths.stayed)).sum(1) / (w * paths.exposure).sum(1),
        "ltv": (w * (paths.paid_value + residual * paths.stayed)).sum(1) / n,
        "revenue": (w * paths.revenue).sum(1) / n,
        "wait_per_need": _weighted(w_e, paths.ep_wait),
        "repeats_per_need": _weighted(w_e, paths.ep_repeats),
        "resolved_rate": _weighted(w_e, p.resolved),
    }
    # Whole answer distributions (for the plots) from the first few draws only: costly.
    a = slice(0, answers)
    nps_p = outcomes.nps_probs(rel[a], model.col["nps_slope"][a],
                               model.cutpoints("nps_cutpoints", 10)[a])
    ces_p = outcomes.ordinal_probs(model.effort[a], model.cutpoints("ces_cutpoints", 6)[a])
    return Propagated(figures, (w @ paths.alive) / n, paths.checks / MINUTES_PER_DAY, ess,
                      (w_q[a, :, None] * nps_p).sum(1) / w_q[a].sum(1)[:, None],
                      (w_e[a, :, None] * ces_p).sum(1) / w_e[a].sum(1)[:, None])


def propagate(data: ObservedData, s: Scenario, draws: Draws, reference: Draws,
              block: int = 32, answers: int = 4) -> Propagated:
    """Figures of one replication (``data``, simulated with ``s`` at ``reference``, a single
    draw) under every draw of ``draws``, ``block`` draws at a time (memory); whole answer
    distributions from the first ``answers`` draws of each block."""
    paths = _Paths(data, s)
    ref = DrawModel(paths.prep, reference.values, reference.anchor, reference.anchor_base)
    h0 = _hazard(ref, ref.relationship(paths.q), paths.q.segment)
    parts = [_figures(paths, draws.take(np.arange(i, min(i + block, draws.size))), h0, answers)
             for i in range(0, draws.size, block)]
    return Propagated(
        {k: np.concatenate([x.figures[k] for x in parts]) for k in parts[0].figures},
        np.concatenate([x.retention for x in parts]), parts[0].check_days,
        *(np.concatenate([getattr(x, k) for x in parts])
          for k in ("ess", "nps_answers", "ces_answers")))
