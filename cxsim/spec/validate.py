"""Semantic checks of a scenario: a scenario that passes them can always be simulated.

Type and key errors are caught earlier, when Hydra merges the YAML into the typed schema; this
module checks what types cannot say: ranges, shares summing to one, references between
touchpoints, handoff chains that could loop forever.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from cxsim.spec.kinds import (
    CORE_QUESTIONS,
    DAY_SETS,
    KINDS,
    QUESTIONS,
    STAFFING_INTERVALS_MIN,
    kinds_where,
)
from cxsim.spec.schema import (
    DISTRIBUTIONS,
    PATIENCE_LAWS,
    STAGES,
    Callback,
    Concurrency,
    Duration,
    IntervalStaffing,
    Patience,
    PriorityClass,
    Redial,
    Scenario,
    Shift,
)

SHARE_TOLERANCE = 1e-6


class SpecError(ValueError):
    """A scenario that cannot be simulated; ``key`` is the dotted path of the faulty field."""

    def __init__(self, key: str, value: object, reason: str) -> None:
        self.key, self.value, self.reason = key, value, reason
        super().__init__(f"{key} = {value!r}: {reason}")


def _finite(key: str, value: float, *, low: float = 0.0, strict: bool = False) -> None:
    bad = not isinstance(value, int | float) or isinstance(value, bool) or math.isnan(value)
    if bad or value < low or (strict and value == low) or math.isinf(value):
        bound = f"> {low:g}" if strict else f">= {low:g}"
        raise SpecError(key, value, f"must be a finite number {bound}")


def _share(key: str, value: float) -> None:
    if not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise SpecError(key, value, "a probability or share must lie in [0, 1]")


def _one_of(key: str, value: str, allowed: Iterable[str]) -> None:
    allowed = tuple(allowed)
    if value not in allowed:
        raise SpecError(key, value, f"must be one of {', '.join(map(str, allowed))}")


def _sums_to_one(key: str, shares: dict[str, float]) -> None:
    total = sum(shares.values())
    if abs(total - 1.0) > SHARE_TOLERANCE:
        listed = ", ".join(f"{k}={v:g}" for k, v in shares.items())
        raise SpecError(key, round(total, 9), f"shares must sum to 1 ({listed})")


MAX_CV = 10.0  # beyond this a duration law is degenerate (and cv**2 overflows)
MIN_CV = 1e-6  # below this (but above 0) 1/cv**2 overflows: use cv 0 or dist fixed


def _table(key: str, values: list[float]) -> None:
    """An empirical table: finite values >= 0, not all zero."""
    if not values:
        raise SpecError(key, [], "an empirical law needs at least one value")
    for i, v in enumerate(values):
        _finite(f"{key}[{i}]", v)
    if not any(values):
        raise SpecError(key, list(values), "an empirical law needs a positive value")


def _cv(key: str, cv: float) -> None:
    _finite(key, cv)
    if cv > MAX_CV or 0 < cv < MIN_CV:
        raise SpecError(key, cv,
                        f"a coefficient of variation must be 0 or within [{MIN_CV:g}, {MAX_CV:g}]")


def _duration(key: str, d: Duration) -> None:
    _one_of(f"{key}.dist", d.dist, DISTRIBUTIONS)
    if d.dist == "empirical":
        _table(f"{key}.values", d.values)
        return
    _finite(f"{key}.mean_min", d.mean_min, strict=d.dist != "fixed")
    _cv(f"{key}.cv", d.cv)


def _patience(key: str, p: Patience) -> None:
    _one_of(f"{key}.dist", p.dist, PATIENCE_LAWS)
    if p.dist == "empirical":
        _table(f"{key}.values", p.values)
    elif p.dist != "exponential":
        _cv(f"{key}.cv", p.cv)
        if p.cv == 0:
            raise SpecError(f"{key}.cv", p.cv, f"a {p.dist} patience needs a cv > 0")


def _redial(key: str, r: Redial) -> None:
    _share(f"{key}.prob", r.prob)
    if not isinstance(r.limit, int) or isinstance(r.limit, bool) or r.limit < 0:
        raise SpecError(f"{key}.limit", r.limit, "must be an integer >= 0")
    _duration(f"{key}.delay", r.delay)


def _callback(key: str, c: Callback, live: bool) -> None:
    _share(f"{key}.accept", c.accept)
    _share(f"{key}.answer", c.answer)
    _finite(f"{key}.attempt_min", c.attempt_min)
    if c.offer_wait_s is None:
        return
    if not live:
        raise SpecError(f"{key}.offer_wait_s", c.offer_wait_s,
                        "call-backs are offered on live queues only (where customers wait on "
                        "the line)")
    _finite(f"{key}.offer_wait_s", c.offer_wait_s)


def _concurrency(key: str, c: Concurrency, concurrent: bool) -> None:
    if not isinstance(c.chats, int) or isinstance(c.chats, bool) or c.chats < 1:
        raise SpecError(f"{key}.chats", c.chats, "must be an integer >= 1")
    if c.chats > 1 and not concurrent:
        raise SpecError(f"{key}.chats", c.chats,
                        f"only a {'/'.join(kinds_where('concurrent'))} agent holds several "
                        "contacts at once")
    if c.stretch:
        if len(c.stretch) != c.chats:
            raise SpecError(f"{key}.stretch", list(c.stretch),
                            f"needs one factor per chat held ({c.chats})")
        for i, f in enumerate(c.stretch):
            _finite(f"{key}.stretch[{i}]", f, strict=True)


def validate(s: Scenario) -> Scenario:
    """Check ``s`` and return it unchanged; raise :class:`SpecError` naming the first bad field."""
    _finite("horizon", s.horizon, strict=True)
    _one_of("interval_min", s.interval_min, STAFFING_INTERVALS_MIN)
    _finite("warmup", s.warmup)
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
    _share("handoffs.context_carryover", h.context_carryover)
    _finite("handoffs.repeat_explanation_min", h.repeat_explanation_min)
    _finite("handoffs.retry_delay_min", h.retry_delay_min)
    _finite("handoffs.recontact_delay_hour", h.recontact_delay_hour)
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
        _finite(f"behaviour.{name}", getattr(b, name))
    for name in ("fatigue_days", "periodic_survey_days", "churn_period_days"):
        _finite(f"behaviour.{name}", getattr(b, name), strict=True)
    for name in ("memory", "post_survey_prob", "periodic_survey_share"):
        _share(f"behaviour.{name}", getattr(b, name))
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
        _one_of(f"{key}.kind", tp.kind, KINDS)
        traits = KINDS[tp.kind]
        if not tp.channel:
            raise SpecError(f"{key}.channel", tp.channel, "must name a channel")
        if not isinstance(tp.steps, int) or tp.steps < 0:
            raise SpecError(f"{key}.steps", tp.steps, "must be an integer >= 0")
        for prob in ("containment", "escalation", "fcr", "transfer_prob"):
            _share(f"{key}.{prob}", getattr(tp, prob))
        if tp.fcr + tp.transfer_prob > 1 + SHARE_TOLERANCE:
            raise SpecError(
                f"{key}.transfer_prob",
                tp.transfer_prob,
                f"fcr ({tp.fcr:g}) plus transfer_prob must not exceed 1",
            )
        if tp.context_carryover is not None:
            _share(f"{key}.context_carryover", tp.context_carryover)
        _finite(f"{key}.loop_min", tp.loop_min)
        _finite(f"{key}.patience_factor", tp.patience_factor)
        _finite(f"{key}.sl_threshold_min", tp.sl_threshold_min)
        _finite(f"{key}.travel_min", tp.travel_min)
        if traits.has_duration:
            _duration(f"{key}.duration", tp.duration)
        if traits.assisted:
            _duration(f"{key}.handle", tp.handle)
            _patience(f"{key}.patience", tp.patience)
            _redial(f"{key}.redial", tp.redial)
            _callback(f"{key}.callback", tp.callback, traits.live and not traits.never_abandons)
            _concurrency(f"{key}.concurrency", tp.concurrency, traits.concurrent)
            for i, sh in enumerate(tp.shifts):
                _shift(f"{key}.shifts[{i}]", sh)
            if tp.staffing.agents:
                _interval_table(f"{key}.staffing", tp.staffing)
            staffed = any(sh.agents for sh in tp.shifts) or any(
                any(row) for row in tp.staffing.agents)
            if (tp.shifts or tp.staffing.agents) and not staffed:
                raise SpecError(f"{key}.shifts", [sh.agents for sh in tp.shifts],
                                "no agent is ever on duty: every need sent here would wait "
                                "for ever")
        if tp.priority:
            _priority(s, key, tp.kind, tp.priority)
            _fifo_only(key, tp)
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


def _fifo_only(key: str, tp) -> None:
    """Call-backs and stretched chats are features of the FIFO queue's recursion; the
    event-driven queue (priority classes) does not model them: refused, never ignored."""
    if tp.callback.offer_wait_s is not None:
        raise SpecError(f"{key}.callback.offer_wait_s", tp.callback.offer_wait_s,
                        "call-backs are offered on FIFO queues only, not with priority "
                        "classes")
    if any(f != 1 for f in tp.concurrency.stretch):
        raise SpecError(f"{key}.concurrency.stretch", list(tp.concurrency.stretch),
                        "stretched chats are modelled on FIFO queues only, not with "
                        "priority classes")


def _priority(s: Scenario, key: str, kind: str, classes: list[PriorityClass]) -> None:
    """Priority classes: only on a queue of agents; each selects by known names and/or a
    share; a head start is a duration."""
    shown = [{k: v for k, v in vars(c).items() if v is not None} for c in classes]
    if not KINDS[kind].assisted:
        raise SpecError(f"{key}.priority", shown,
                        f"a {kind} has no queue to order: priority classes apply to agent "
                        f"queues ({'/'.join(kinds_where('assisted'))})")
    for i, c in enumerate(classes):
        k = f"{key}.priority[{i}]"
        if c.segment is None and c.reason is None and c.flag is None:
            raise SpecError(k, shown[i], "a priority class selects by segment, reason and/or "
                            "flag (a share of arrivals)")
        for field, known in (("segment", s.segments), ("reason", s.journeys)):
            name = getattr(c, field)
            if name is not None and name not in known:
                raise SpecError(f"{k}.{field}", name,
                                f"no such {field} (known: {', '.join(sorted(known))})")
        if c.flag is not None:
            _share(f"{k}.flag", c.flag)
        if c.head_start_min is not None:
            _finite(f"{k}.head_start_min", c.head_start_min)


# A shift edge must be a whole minute: the engine staffs minute by minute and never rounds.
MINUTE_TOLERANCE = 1e-6


def _shift(key: str, sh: Shift) -> None:
    for edge in ("start_hour", "end_hour"):
        value = getattr(sh, edge)
        if not isinstance(value, int | float) or isinstance(value, bool) or math.isnan(value):
            raise SpecError(f"{key}.{edge}", value, "must be a number of hours")
        minutes = value * 60
        if abs(minutes - round(minutes)) > MINUTE_TOLERANCE:
            near = round(minutes)
            raise SpecError(f"{key}.{edge}", value,
                            f"is {minutes:.4f} min after midnight: shifts start and end on whole "
                            f"minutes ({near // 60:02d}:{near % 60:02d} is {near / 60!r} h)")
    if not 0 <= sh.start_hour < 24:
        raise SpecError(f"{key}.start_hour", sh.start_hour, "must lie in [0, 24)")
    if not 0 < sh.end_hour <= 24:
        raise SpecError(f"{key}.end_hour", sh.end_hour, "must lie in (0, 24]")
    if sh.start_hour >= sh.end_hour:
        raise SpecError(f"{key}.start_hour", sh.start_hour,
                        f"must be before end_hour ({sh.end_hour:g})")
    if not isinstance(sh.agents, int) or isinstance(sh.agents, bool) or sh.agents < 0:
        raise SpecError(f"{key}.agents", sh.agents, "must be an integer >= 0")
    _one_of(f"{key}.days", sh.days, DAY_SETS)


def _interval_table(key: str, table: IntervalStaffing) -> None:
    """7 weekday rows of whole agent counts per interval of 15, 30 or 60 minutes."""
    _one_of(f"{key}.interval_min", table.interval_min, STAFFING_INTERVALS_MIN)
    per_day = 1440 // table.interval_min
    if len(table.agents) != 7:
        raise SpecError(f"{key}.agents", f"{len(table.agents)} rows",
                        "needs 7 rows, Monday to Sunday")
    for d, row in enumerate(table.agents):
        if len(row) != per_day:
            raise SpecError(f"{key}.agents[{d}]", f"{len(row)} values",
                            f"needs {per_day} values, one per {table.interval_min}-minute "
                            "interval of the day")
        for i, n in enumerate(row):
            if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                raise SpecError(f"{key}.agents[{d}][{i}]", n,
                                "must be a whole number of agents >= 0 (never rounded)")


def _queue_knobs(s: Scenario) -> None:
    q = s.queue
    if q is None:
        return
    if not isinstance(q.agents, int) or q.agents < 1:
        raise SpecError("queue.agents", q.agents, "must be an integer >= 1 (no agent ever "
                        "answers otherwise)")
    _finite("queue.arrival_rate", q.arrival_rate, strict=True)
    _finite("queue.service_rate", q.service_rate, strict=True)
    _finite("queue.patience_rate", q.patience_rate)
    _finite("queue.sl_threshold", q.sl_threshold)
    _share("queue.priority_share", q.priority_share)


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
        _share(f"{key}.share", j.share)
        _one_of(f"{key}.stage", j.stage, STAGES)
        if not isinstance(j.steps, int) or j.steps < 0:
            raise SpecError(f"{key}.steps", j.steps, "must be an integer >= 0")
        _finite(f"{key}.handle_factor", j.handle_factor, strict=True)
        _finite(f"{key}.moment_weight", j.moment_weight, strict=True)
        if not j.touchpoints:
            raise SpecError(f"{key}.touchpoints", [], "a journey needs at least one touchpoint")
        for i, tp in enumerate(j.touchpoints):
            if tp not in s.touchpoints:
                known = ", ".join(sorted(s.touchpoints))
                raise SpecError(f"{key}.touchpoints[{i}]", tp, f"no such touchpoint ({known})")
        if len(set(j.touchpoints)) != len(j.touchpoints):
            raise SpecError(f"{key}.touchpoints", list(j.touchpoints), "lists a touchpoint twice")
    _sums_to_one("journeys.*.share", {k: j.share for k, j in s.journeys.items()})


def _segments(s: Scenario) -> None:
    if not s.segments:
        raise SpecError("segments", {}, "a scenario needs at least one customer segment")
    channels = {tp.channel for tp in s.touchpoints.values()}
    for name, seg in s.segments.items():
        key = f"segments.{name}"
        _share(f"{key}.share", seg.share)
        _finite(f"{key}.needs_per_month", seg.needs_per_month)
        if seg.patience_min is not None:
            _finite(f"{key}.patience_min", seg.patience_min, strict=True)
        _share(f"{key}.pain_intolerant", seg.pain_intolerant)
        _share(f"{key}.retry_prob", seg.retry_prob)
        _finite_any(f"{key}.satisfaction_base", seg.satisfaction_base)
        _finite_any(f"{key}.churn_logit", seg.churn_logit)
        _finite(f"{key}.revenue_per_month", seg.revenue_per_month)
        for ch, w in seg.preference.items():
            if ch not in channels:
                raise SpecError(
                    f"{key}.preference.{ch}",
                    w,
                    f"no touchpoint uses channel {ch!r} ({', '.join(sorted(channels))})",
                )
            _finite(f"{key}.preference.{ch}", w)
        for jname, j in s.journeys.items():
            weights = [seg.preference.get(s.touchpoints[t].channel, 0.0) for t in j.touchpoints]
            if sum(weights) <= 0:
                raise SpecError(
                    f"{key}.preference",
                    dict(seg.preference),
                    f"gives no weight to any channel of journey {jname!r}",
                )
    _sums_to_one("segments.*.share", {k: g.share for k, g in s.segments.items()})


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
            _finite(f"population.{key}[{i}]", v)
        if sum(prof) <= 0:
            raise SpecError(f"population.{key}", list(prof), "needs at least one positive value")
