"""Semantic checks of a scenario: a scenario that passes them can always be simulated.

Type and key errors are caught earlier, when Hydra merges the YAML into the typed schema; this
module checks what types cannot say: ranges, shares summing to one, references between
touchpoints, handoff chains that could loop forever.
"""

from __future__ import annotations

import math

from cxsim.spec.checks import (
    SHARE_TOLERANCE,
    SpecError,
    callback,
    concurrency,
    duration,
    fifo_only,
    finite,
    one_of,
    patience,
    priority,
    redial,
    share,
    staffing,
    sums_to_one,
)
from cxsim.spec.groups import check_groups
from cxsim.spec.kinds import CORE_QUESTIONS, KINDS, QUESTIONS, STAFFING_INTERVALS_MIN, kinds_where
from cxsim.spec.schema import STAGES, Scenario

__all__ = ["SpecError", "validate"]


def validate(s: Scenario) -> Scenario:
    """Check ``s`` and return it unchanged; raise :class:`SpecError` naming the first bad field."""
    finite("horizon", s.horizon, strict=True)
    one_of("interval_min", s.interval_min, STAFFING_INTERVALS_MIN)
    finite("warmup", s.warmup)
    if s.warmup >= s.horizon:
        raise SpecError("warmup", s.warmup, f"must be shorter than the horizon ({s.horizon:g} d)")
    if not isinstance(s.replications, int) or s.replications < 1:
        raise SpecError("replications", s.replications, "must be an integer >= 1")
    if not isinstance(s.seed, int) or s.seed < 0:
        raise SpecError("seed", s.seed, "must be a non-negative integer")
    if not s.touchpoints:
        raise SpecError("touchpoints", {}, "a scenario needs at least one touchpoint")
    _queue_knobs(s)  # first: the figures derived from them would name other keys
    _touchpoints(s)
    _journeys(s)
    _segments(s)
    _population(s)
    h = s.handoffs
    share("handoffs.context_carryover", h.context_carryover)
    finite("handoffs.repeat_explanation_min", h.repeat_explanation_min)
    finite("handoffs.retry_delay_min", h.retry_delay_min)
    finite("handoffs.recontact_delay_hour", h.recontact_delay_hour)
    if not isinstance(h.max_contacts, int) or h.max_contacts < 1:
        raise SpecError("handoffs.max_contacts", h.max_contacts, "must be an integer >= 1")
    _behaviour(s)
    return s


def _behaviour(s: Scenario) -> None:
    b = s.behaviour
    for name in ("effort_per_step", "effort_per_log_wait", "effort_per_repeat",
                 "effort_per_switch", "resolved_bonus", "effort_weight", "ttr_weight",
                 "survey_fatigue", "nps_slope", "response_extremity", "churn_relationship",
                 "discount_rate_per_month"):
        finite(f"behaviour.{name}", getattr(b, name))
    for name in ("fatigue_days", "periodic_survey_days", "churn_period_days"):
        finite(f"behaviour.{name}", getattr(b, name), strict=True)
    for name in ("memory", "post_survey_prob", "periodic_survey_share"):
        share(f"behaviour.{name}", getattr(b, name))
    _finite_any("behaviour.response_base", b.response_base)
    for name in b.cutpoints:
        if name not in QUESTIONS or name in CORE_QUESTIONS:
            extra = [q for q in QUESTIONS if q not in CORE_QUESTIONS]
            raise SpecError(f"behaviour.cutpoints.{name}", b.cutpoints[name],
                            f"no such survey question (registered beyond NPS, CES, CSAT: "
                            f"{', '.join(extra) or 'none'})")
    for q in QUESTIONS.values():
        cuts = b.cutpoints_of(q.name)
        if cuts is None:
            continue  # not asked in this scenario
        key = f"behaviour.{q.name}_cutpoints" if q.name in CORE_QUESTIONS \
            else f"behaviour.cutpoints.{q.name}"
        n = q.scale[1] - q.scale[0]
        if len(cuts) != n:
            raise SpecError(key, cuts, f"needs exactly {n} cutpoints")
        for i, c in enumerate(cuts):
            _finite_any(f"{key}[{i}]", c)
        if any(hi <= lo for lo, hi in zip(cuts, cuts[1:], strict=False)):
            raise SpecError(key, cuts, "cutpoints must increase strictly")


def _finite_any(key: str, value: float) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise SpecError(key, value, "must be a finite number")


def _touchpoints(s: Scenario) -> None:
    tps = s.touchpoints
    for name, tp in tps.items():
        key = f"touchpoints.{name}"
        one_of(f"{key}.kind", tp.kind, KINDS)
        traits = KINDS[tp.kind]
        if not tp.channel:
            raise SpecError(f"{key}.channel", tp.channel, "must name a channel")
        if not isinstance(tp.steps, int) or tp.steps < 0:
            raise SpecError(f"{key}.steps", tp.steps, "must be an integer >= 0")
        for prob in ("containment", "escalation", "fcr", "transfer_prob"):
            share(f"{key}.{prob}", getattr(tp, prob))
        if tp.fcr + tp.transfer_prob > 1 + SHARE_TOLERANCE:
            raise SpecError(
                f"{key}.transfer_prob",
                tp.transfer_prob,
                f"fcr ({tp.fcr:g}) plus transfer_prob must not exceed 1",
            )
        if tp.context_carryover is not None:
            share(f"{key}.context_carryover", tp.context_carryover)
        finite(f"{key}.loop_min", tp.loop_min)
        finite(f"{key}.patience_factor", tp.patience_factor)
        finite(f"{key}.sl_threshold_min", tp.sl_threshold_min)
        finite(f"{key}.travel_min", tp.travel_min)
        if traits.has_duration:
            duration(f"{key}.duration", tp.duration)
        if traits.assisted:
            duration(f"{key}.handle", tp.handle)
            patience(f"{key}.patience", tp.patience)
            redial(f"{key}.redial", tp.redial)
            callback(f"{key}.callback", tp.callback, traits.live and not traits.never_abandons)
            concurrency(f"{key}.concurrency", tp.concurrency, traits.concurrent)
            staffing(key, tp.shifts, tp.staffing)
        if tp.priority:
            priority(s, key, tp.kind, tp.priority)
            fifo_only(key, tp, "priority classes")
        check_groups(s, key, tp)
        if tp.escalate_to is not None:
            if not traits.escalates:
                raise SpecError(f"{key}.escalate_to", tp.escalate_to,
                                f"only a {'/'.join(kinds_where('escalates'))} escalates")
            _assisted_target(s, f"{key}.escalate_to", tp.escalate_to)
        if tp.transfer_to is not None:
            if not traits.transfers:
                raise SpecError(f"{key}.transfer_to", tp.transfer_to, "only agents transfer")
            _assisted_target(s, f"{key}.transfer_to", tp.transfer_to)
            if tp.transfer_to == name:
                raise SpecError(
                    f"{key}.transfer_to", name, "a touchpoint cannot transfer to itself"
                )
    _no_handoff_loop(s)


def _queue_knobs(s: Scenario) -> None:
    q = s.queue
    if q is None:
        return
    if not isinstance(q.agents, int) or q.agents < 1:
        raise SpecError("queue.agents", q.agents, "must be an integer >= 1 (no agent ever "
                        "answers otherwise)")
    finite("queue.arrival_rate", q.arrival_rate, strict=True)
    finite("queue.service_rate", q.service_rate, strict=True)
    finite("queue.patience_rate", q.patience_rate)
    finite("queue.sl_threshold", q.sl_threshold)
    share("queue.priority_share", q.priority_share)


def _assisted_target(s: Scenario, key: str, target: str) -> None:
    if target not in s.touchpoints:
        known = ", ".join(sorted(s.touchpoints))
        raise SpecError(key, target, f"no such touchpoint (known: {known})")
    if not KINDS[s.touchpoints[target].kind].assisted:
        raise SpecError(key, target,
                        f"a handoff must reach agents ({'/'.join(kinds_where('assisted'))})")


def _no_handoff_loop(s: Scenario) -> None:
    """Reject a chain of transfers that returns to where it started: it could loop forever.
    The transfer that closes the cycle is the one blamed."""
    for start in s.touchpoints:
        seen, name = [start], start
        while (here := s.touchpoints[name]).transfer_to is not None and here.transfer_prob > 0:
            nxt = here.transfer_to
            if nxt in seen:
                cycle = " -> ".join([*seen[seen.index(nxt):], nxt])
                raise SpecError(f"touchpoints.{name}.transfer_to", nxt,
                                f"transfers loop forever ({cycle})")
            seen.append(nxt)
            name = nxt


def _journeys(s: Scenario) -> None:
    if not s.journeys:
        raise SpecError("journeys", {}, "a scenario needs at least one contact reason")
    for name, j in s.journeys.items():
        key = f"journeys.{name}"
        share(f"{key}.share", j.share)
        one_of(f"{key}.stage", j.stage, STAGES)
        if not isinstance(j.steps, int) or j.steps < 0:
            raise SpecError(f"{key}.steps", j.steps, "must be an integer >= 0")
        finite(f"{key}.handle_factor", j.handle_factor, strict=True)
        finite(f"{key}.moment_weight", j.moment_weight, strict=True)
        if not j.touchpoints:
            raise SpecError(f"{key}.touchpoints", [], "a journey needs at least one touchpoint")
        for i, tp in enumerate(j.touchpoints):
            if tp not in s.touchpoints:
                known = ", ".join(sorted(s.touchpoints))
                raise SpecError(f"{key}.touchpoints[{i}]", tp, f"no such touchpoint ({known})")
        if len(set(j.touchpoints)) != len(j.touchpoints):
            raise SpecError(f"{key}.touchpoints", list(j.touchpoints), "lists a touchpoint twice")
    sums_to_one("journeys.*.share", {k: j.share for k, j in s.journeys.items()})


def _segments(s: Scenario) -> None:
    if not s.segments:
        raise SpecError("segments", {}, "a scenario needs at least one customer segment")
    channels = {tp.channel for tp in s.touchpoints.values()}
    for name, seg in s.segments.items():
        key = f"segments.{name}"
        share(f"{key}.share", seg.share)
        finite(f"{key}.needs_per_month", seg.needs_per_month)
        if seg.patience_min is not None:
            finite(f"{key}.patience_min", seg.patience_min, strict=True)
        share(f"{key}.pain_intolerant", seg.pain_intolerant)
        share(f"{key}.retry_prob", seg.retry_prob)
        _finite_any(f"{key}.satisfaction_base", seg.satisfaction_base)
        _finite_any(f"{key}.churn_logit", seg.churn_logit)
        finite(f"{key}.revenue_per_month", seg.revenue_per_month)
        for ch, w in seg.preference.items():
            if ch not in channels:
                raise SpecError(
                    f"{key}.preference.{ch}",
                    w,
                    f"no touchpoint uses channel {ch!r} ({', '.join(sorted(channels))})",
                )
            finite(f"{key}.preference.{ch}", w)
        for jname, j in s.journeys.items():
            weights = [seg.preference.get(s.touchpoints[t].channel, 0.0) for t in j.touchpoints]
            if sum(weights) <= 0:
                raise SpecError(
                    f"{key}.preference",
                    dict(seg.preference),
                    f"gives no weight to any channel of journey {jname!r}",
                )
    sums_to_one("segments.*.share", {k: g.share for k, g in s.segments.items()})


def _population(s: Scenario) -> None:
    p = s.population
    if not isinstance(p.customers, int) or p.customers < 1:
        raise SpecError("population.customers", p.customers, "must be an integer >= 1")
    for key, prof, n in (
        ("hourly_profile", p.hourly_profile, 24),
        ("weekday_profile", p.weekday_profile, 7),
    ):
        if len(prof) != n:
            raise SpecError(f"population.{key}", list(prof), f"needs exactly {n} values")
        for i, v in enumerate(prof):
            finite(f"population.{key}[{i}]", v)
        if sum(prof) <= 0:
            raise SpecError(f"population.{key}", list(prof), "needs at least one positive value")
