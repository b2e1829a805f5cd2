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

from cxsim import outcomes
from cxsim.engine.streams import generator
from cxsim.metrics import KPIS
from cxsim.spec import Scenario
from cxsim.spec.kinds import (
    CORE_QUESTIONS,
    DAYS_PER_MONTH,
    MINUTES_PER_DAY,
    MINUTES_PER_HOUR,
    MINUTES_PER_MONTH,
    PERIODIC,
    POST_INTERACTION,
    QUESTIONS,
    Question,
    questions,
)

SURVEY_BASE = ("survey_id", "customer_id", "episode_id", "kind", "sent_min", "answered")
# NPS, CES and CSAT answers come from the reactions stream, as they always have; any other
# question draws from a stream of its own, so that asking it changes no other number.


def survey_columns() -> tuple[str, ...]:
    """The columns of the survey records: who, when, answered, then one per question."""
    return (*SURVEY_BASE, *QUESTIONS)
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
        # The questions this scenario asks (those with cutpoints), by survey kind.
        self.asked = {kind: [(q, b.cutpoints_of(q.name)) for q in questions(kind)
                             if b.cutpoints_of(q.name) is not None]
                      for kind in (POST_INTERACTION, PERIODIC)}
        self.own_stream = {q.name: generator(s.seed, rep, f"question:{q.name}")
                           for q in QUESTIONS.values() if q.name not in CORE_QUESTIONS}
        self.buffer: list[tuple] = []
        self.surveys: dict[str, list] = {c: [] for c in survey_columns()}
        self.period = b.churn_period_days * MINUTES_PER_DAY
        self.next_check = self.period
        self.periods_billed = 0
        self.end = s.horizon * MINUTES_PER_DAY
        self.lo = s.warmup * MINUTES_PER_DAY
        self.sums = {"episodes": 0.0, "satisfaction": 0.0, "effort": 0.0}
        # Per periodic question and round: its expected figure over everyone, over the
        # respondents, and how many customers.
        self.population: dict[str, list[tuple[float, float, int]]] = {
            q.name: [] for q, _ in self.asked[PERIODIC]}
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
        sat = self.felt(cust, sat, e["t_end"])
        self.relationship[cust] = outcomes.relationship_step(
            self.relationship[cust], sat, b.memory, self.moment[e["reason"]])
        inside = e["t0"] >= self.lo
        self.sums["episodes"] += inside.sum()
        self.sums["satisfaction"] += sat[inside].sum()
        self.sums["effort"] += eff[inside].sum()
        asked = self.asked[POST_INTERACTION]
        u = self.gen.random((2 + sum(q.name in CORE_QUESTIONS for q, _ in asked), cust.size))
        sent = u[0] < b.post_survey_prob
        if not sent.any():
            return
        p = self.respond(sat, self.base[seg])
        answered = sent & (u[1] < p)
        answers = self._answers(asked, {"effort": eff, "satisfaction": sat}, u[2:], cust.size)
        self._record(POST_INTERACTION, cust[sent], e["episode"][sent], e["t_end"][sent],
                     answered[sent], **{k: v[sent] for k, v in answers.items()})

    def _answers(self, asked: list[tuple[Question, list[float]]], latents: dict,
                 core_u: np.ndarray, n: int, keep: np.ndarray | None = None
                 ) -> dict[str, np.ndarray]:
        """Each asked question's answers: an ordered-logistic draw on its latent, by inversion
        of uniforms (NPS, CES, CSAT: rows of ``core_u``; others: their own stream, ``n`` a
        round, ``keep`` those that are used)."""
        out, row = {}, 0
        for q, cuts in asked:
            if q.name in CORE_QUESTIONS:
                u, row = core_u[row], row + 1
            else:
                u = self.own_stream[q.name].random(n)
                u = u if keep is None else u[keep]
            latent = latents[q.latent]
            if q.slope is not None:
                latent = getattr(self.b, q.slope) * latent
            out[q.name] = q.scale[0] + outcomes.ordinal_draw(latent, cuts, u)
        return out

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
        for name in QUESTIONS:
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
        p = self.respond(rel, self.base[seg])
        asked = self.asked[PERIODIC]
        for q, cuts in asked:
            # What everyone would answer, and what the respondents are expected to answer.
            slope = 1.0 if q.slope is None else getattr(b, q.slope)
            each = outcomes.expected_figure(np.multiply(slope, rel[:, None]), cuts,
                                            KPIS[q.name].from_probs)
            self.population[q.name].append((float(each.mean()),
                                            float((each * p).sum() / p.sum()), act.size))
        # One draw per customer, active or not, so that scenarios stay aligned (common random
        # numbers) even when different customers have left.
        n = self.segment.size
        u = self.gen.random((2 + sum(q.name in CORE_QUESTIONS for q, _ in asked), n))[:, act]
        sent = u[0] < b.periodic_survey_share
        answered = sent & (u[1] < p)
        answers = self._answers(asked, {"relationship": rel}, u[2:], n, keep=act)
        self._record(PERIODIC, act[sent], None, np.full(sent.sum(), t), answered[sent],
                     **{k: v[sent] for k, v in answers.items()})

    # -- the outcomes model's plug-in points (cxsim.backtest.variants overrides them) -------
    def felt(self, cust: np.ndarray, sat: np.ndarray, t: np.ndarray) -> np.ndarray:
        """The satisfaction customers ``cust`` feel after episodes of model satisfaction
        ``sat`` that ended at ``t``: the model's, unchanged."""
        return sat

    def respond(self, signal: np.ndarray, center: np.ndarray) -> np.ndarray:
        """P(answering a survey) for a latent ``signal`` (satisfaction or relationship)."""
        b = self.b
        return outcomes.response_prob(signal, center, b.response_base, b.response_extremity)

    def hazard(self, act: np.ndarray, t: float) -> np.ndarray:
        """P(leaving) of the active customers ``act`` at the churn check at ``t``."""
        return outcomes.churn_hazard(self.relationship[act], self.churn_logit[self.segment[act]],
                                     self.b.churn_relationship)

    def _churn(self, t: float) -> None:
        act = np.flatnonzero(self.active)
        h = self.hazard(act, t)
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
        for name in QUESTIONS:
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
        n = self.segment.size
        exposure = (np.where(np.isnan(self.churn_min), self.end, self.churn_min).sum()
                    / MINUTES_PER_MONTH)
        figures = {
            "satisfaction": _div(self.sums["satisfaction"], self.sums["episodes"]),
            "effort": _div(self.sums["effort"], self.sums["episodes"]),
        }
        for kind in (PERIODIC, POST_INTERACTION):
            answers = ans[ans["kind"] == kind]
            for q, _ in self.asked[kind]:
                # The respondents' figure, and for a periodic question everyone's.
                x = answers[q.name].to_numpy(int)
                figures[q.name] = KPIS[q.name].from_answers(x) if len(x) else math.nan
                if kind == PERIODIC:
                    pop = self.population[q.name]
                    figures[f"{q.name}_population"] = _weighted([(v, w) for v, _, w in pop])
                    figures[f"{q.name}_respondents_expected"] = _weighted(
                        [(v, w) for _, v, w in pop])
        return {
            **figures,
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
