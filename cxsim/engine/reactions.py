"""Customers' reactions inside the engine: relationship, surveys, churn and value over time.

The engine applies :mod:`cxsim.outcomes` with the scenario's one theta. Finished episodes wait
in a buffer and are processed at each day boundary, in order of their end time, vectorised
(a customer with several episodes in a day is handled in rounds, one episode each, so their
relationship evolves in order). Churn checks, periodic surveys and billing happen at period
boundaries, after the episodes that ended before them; a customer who churns raises no more
needs. All draws come from the replication's ``reactions`` stream.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from cxsim import metrics, outcomes
from cxsim.engine.streams import generator
from cxsim.spec import Scenario
from cxsim.spec.kinds import (
    DAYS_PER_MONTH,
    MINUTES_PER_DAY,
    MINUTES_PER_HOUR,
    MINUTES_PER_MONTH,
    PERIODIC,
    POST_INTERACTION,
)

SURVEY_COLUMNS = ("survey_id", "customer_id", "episode_id", "kind", "sent_min", "answered",
                  "nps", "ces", "csat")
# Buffered episode fields, in order.
FEATURES = ("t_end", "episode", "customer", "segment", "reason", "resolved", "wait", "steps",
            "repeats", "switches", "t0")


class Reactions:
    """Per-customer state (relationship, survey fatigue, churn, revenue) and survey records."""

    def __init__(self, s: Scenario, segment: np.ndarray, active: np.ndarray, rep: int) -> None:
        b = s.behaviour
        self.b = b
        self.segment, self.active = segment, active
        segs = list(s.segments.values())
        self.base = np.array([g.satisfaction_base for g in segs])
        self.churn_logit = np.array([g.churn_logit for g in segs])
        period_months = b.churn_period_days / DAYS_PER_MONTH
        self.revenue_period = np.array([g.revenue_per_month for g in segs]) * period_months
        self.discount = (1 + b.discount_rate_per_month) ** period_months - 1
        self.moment = np.array([j.moment_weight for j in s.journeys.values()])
        n = segment.size
        self.relationship = self.base[segment].astype(float)
        self.fatigue = np.zeros(n)
        self.fatigue_at = np.zeros(n)
        self.churn_min = np.full(n, np.nan)
        self.revenue = np.zeros(n)
        self.value = np.zeros(n)
        self.gen = generator(s.seed, rep, "reactions")
        self.buffer: list[tuple] = []
        self.surveys: dict[str, list] = {c: [] for c in SURVEY_COLUMNS}
        self.period = b.churn_period_days * MINUTES_PER_DAY
        self.next_check = self.period
        self.periods_billed = 0
        self.end = s.horizon * MINUTES_PER_DAY
        self.lo = s.warmup * MINUTES_PER_DAY
        self.sums = {"episodes": 0.0, "satisfaction": 0.0, "effort": 0.0}
        # Per periodic round: expected NPS of everyone, of respondents, and how many customers.
        self.population_nps: list[tuple[float, float, int]] = []
        self._bill(0.0)

    # -- engine hooks ---------------------------------------------------------------------
    def episode_done(self, t_end: float, episode: int, customer: int, segment: int, reason: int,
                     resolved: bool, wait: float, steps: int, repeats: int, switches: int,
                     t0: float) -> None:
        self.buffer.append((t_end, episode, customer, segment, reason, resolved, wait, steps,
                            repeats, switches, t0))

    def clock(self, t: float) -> None:
        """Called at each day boundary (and at the horizon): react to what ended by ``t``."""
        self._process(t)
        while self.next_check <= t and self.next_check < self.end:
            self._periodic_survey(t)
            self._churn(t)
            self._bill(t)
            self.next_check += self.period

    def finish(self) -> None:
        """At the horizon: last episodes, then the expected value of the customers who stay."""
        self.clock(self.end)
        act = self.active
        h = outcomes.churn_hazard(self.relationship[act], self.churn_logit[self.segment[act]],
                                  self.b.churn_relationship)
        self.value[act] += outcomes.residual_value(
            self.revenue_period[self.segment[act]], h, self.discount
        ) / (1 + self.discount) ** self.periods_billed

    # -- what happens ---------------------------------------------------------------------
    def _process(self, t: float) -> None:
        if not self.buffer:
            return
        self.buffer.sort()
        cut = next((i for i, row in enumerate(self.buffer) if row[0] > t), len(self.buffer))
        done, self.buffer = self.buffer[:cut], self.buffer[cut:]
        if not done:
            return
        cols = dict(zip(FEATURES, (np.array(c) for c in zip(*done, strict=True)), strict=True))
        _, first = np.unique(cols["customer"], return_index=True)
        order = np.zeros(len(done), dtype=np.int64)  # occurrence of each customer in the batch
        seen: dict[int, int] = {}
        for i, c in enumerate(cols["customer"].tolist()):
            order[i] = seen.get(c, 0)
            seen[c] = order[i] + 1
        for k in range(int(order.max()) + 1):
            self._react({name: v[order == k] for name, v in cols.items()})

    def _react(self, e: dict[str, np.ndarray]) -> None:
        """Episodes of distinct customers: satisfaction, relationship, post-interaction survey."""
        b, cust, seg = self.b, e["customer"], e["segment"]
        fatigue = self._fatigue_at(cust, e["t_end"])
        eff = outcomes.effort(e["steps"], e["wait"], e["repeats"], e["switches"],
                              b.effort_per_step, b.effort_per_log_wait, b.effort_per_repeat,
                              b.effort_per_switch)
        sat = outcomes.satisfaction(self.base[seg], e["resolved"], eff,
                                    (e["t_end"] - e["t0"]) / MINUTES_PER_HOUR, b.resolved_bonus,
                                    b.effort_weight, b.ttr_weight, b.survey_fatigue * fatigue)
        self.relationship[cust] = outcomes.relationship_step(
            self.relationship[cust], sat, b.memory, self.moment[e["reason"]])
        inside = e["t0"] >= self.lo
        self.sums["episodes"] += inside.sum()
        self.sums["satisfaction"] += sat[inside].sum()
        self.sums["effort"] += eff[inside].sum()
        u = self.gen.random((4, cust.size))
        sent = u[0] < b.post_survey_prob
        if not sent.any():
            return
        p = outcomes.response_prob(sat, self.base[seg], b.response_base, b.response_extremity)
        answered = sent & (u[1] < p)
        ces = 1 + outcomes.ordinal_draw(eff, b.ces_cutpoints, u[2])
        csat = 1 + outcomes.ordinal_draw(sat, b.csat_cutpoints, u[3])
        self._record(POST_INTERACTION, cust[sent], e["episode"][sent], e["t_end"][sent],
                     answered[sent], ces=ces[sent], csat=csat[sent])

    def _fatigue_at(self, cust: np.ndarray, t: np.ndarray) -> np.ndarray:
        tau = self.b.fatigue_days * MINUTES_PER_DAY
        return self.fatigue[cust] * np.exp(-(t - self.fatigue_at[cust]) / tau)

    def _record(self, kind: str, cust: np.ndarray, episode: np.ndarray | None, t: np.ndarray,
                answered: np.ndarray, **scores: np.ndarray) -> None:
        self.fatigue[cust] = self._fatigue_at(cust, t) + 1.0
        self.fatigue_at[cust] = t
        sv = self.surveys
        n0 = len(sv["survey_id"])
        sv["survey_id"].extend(range(n0, n0 + cust.size))
        sv["customer_id"].extend(cust.tolist())
        sv["episode_id"].extend([None] * cust.size if episode is None else episode.tolist())
        sv["kind"].extend([kind] * cust.size)
        sv["sent_min"].extend(np.broadcast_to(t, cust.shape).tolist())
        sv["answered"].extend(answered.astype(int).tolist())
        for name in ("nps", "ces", "csat"):
            if name in scores:
                sv[name].extend(np.where(answered, scores[name], -1).tolist())
            else:
                sv[name].extend([-1] * cust.size)

    def _periodic_survey(self, t: float) -> None:
        b = self.b
        act = np.flatnonzero(self.active)
        if act.size == 0:
            return
        rel, seg = self.relationship[act], self.segment[act]
        p = outcomes.response_prob(rel, self.base[seg], b.response_base, b.response_extremity)
        net = outcomes.expected_nps(rel[:, None], b.nps_slope, b.nps_cutpoints)
        # What everyone would answer, and what the respondents are expected to answer.
        self.population_nps.append((float(net.mean()), float((net * p).sum() / p.sum()),
                                    act.size))
        # One draw per customer, active or not, so that scenarios stay aligned (common random
        # numbers) even when different customers have left.
        u = self.gen.random((3, self.segment.size))[:, act]
        sent = u[0] < b.periodic_survey_share
        answered = sent & (u[1] < p)
        nps = outcomes.ordinal_draw(b.nps_slope * rel, b.nps_cutpoints, u[2])
        self._record(PERIODIC, act[sent], None, np.full(sent.sum(), t), answered[sent],
                     nps=nps[sent])

    def _churn(self, t: float) -> None:
        act = np.flatnonzero(self.active)
        h = outcomes.churn_hazard(self.relationship[act], self.churn_logit[self.segment[act]],
                                  self.b.churn_relationship)
        leave = act[self.gen.random(self.segment.size)[act] < h]
        self.active[leave] = False
        self.churn_min[leave] = t

    def _bill(self, t: float) -> None:
        act = self.active
        pay = self.revenue_period[self.segment[act]]
        self.revenue[act] += pay
        self.value[act] += pay / (1 + self.discount) ** self.periods_billed
        self.periods_billed += 1

    # -- results --------------------------------------------------------------------------
    def survey_frame(self) -> pd.DataFrame:
        df = pd.DataFrame({c: np.asarray(v) if c != "episode_id" else v
                           for c, v in self.surveys.items()})
        df["episode_id"] = pd.array(df["episode_id"], dtype="Int64")
        for name in ("nps", "ces", "csat"):
            df[name] = df[name].astype("Int64").mask(df[name] < 0)
        return df

    def customer_frame(self, segments: list[str]) -> pd.DataFrame:
        return pd.DataFrame({
            "customer_id": np.arange(self.segment.size),
            "segment": pd.Categorical.from_codes(self.segment, segments),
            "start_min": 0.0,
            "churn_min": self.churn_min,
            "censored_min": self.end,
            "revenue": self.revenue,
        })

    def figures(self) -> dict[str, float]:
        """This replication's outcome figures (surveyed and true)."""
        sv = self.survey_frame()
        ans = sv[sv["answered"] == 1]
        post, periodic = ans[ans["kind"] == POST_INTERACTION], ans[ans["kind"] == PERIODIC]
        n = self.segment.size
        exposure = (np.where(np.isnan(self.churn_min), self.end, self.churn_min).sum()
                    / MINUTES_PER_MONTH)
        pop = self.population_nps
        return {
            "satisfaction": _div(self.sums["satisfaction"], self.sums["episodes"]),
            "effort": _div(self.sums["effort"], self.sums["episodes"]),
            "nps": metrics.nps(periodic["nps"].to_numpy(int)) if len(periodic) else math.nan,
            "nps_population": _weighted([(v, w) for v, _, w in pop]),
            "nps_respondents_expected": _weighted([(v, w) for _, v, w in pop]),
            "csat": metrics.csat(post["csat"].to_numpy(int)) if len(post) else math.nan,
            "ces": metrics.mean_ces(post["ces"].to_numpy(int)) if len(post) else math.nan,
            "survey_response_rate": _div(len(ans), len(sv)),
            "churn_rate": _div(float(np.isfinite(self.churn_min).sum()), exposure),
            "retention": float(self.active.sum() / n),
            "revenue": float(self.revenue.mean()),
            "ltv": float(self.value.mean()),
        }


def _div(a: float, b: float) -> float:
    return a / b if b else math.nan


def _weighted(pairs: list[tuple[float, int]]) -> float:
    total = sum(w for _, w in pairs)
    return sum(v * w for v, w in pairs) / total if total else math.nan
