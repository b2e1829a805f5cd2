"""Checks of one field or block of a scenario, each raising :class:`SpecError` with the key
and value: numbers, shares, duration and patience laws, shifts and interval tables, and the
features of an agent queue (redials, call-backs, chat concurrency, priority classes).
:mod:`cxsim.spec.validate` walks a whole scenario with them."""

from __future__ import annotations

import math
from collections.abc import Iterable

from cxsim.spec.kinds import DAY_SETS, KINDS, STAFFING_INTERVALS_MIN, kinds_where
from cxsim.spec.schema import (
    DISTRIBUTIONS,
    PATIENCE_LAWS,
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


def finite(key: str, value: float, *, low: float = 0.0, strict: bool = False) -> None:
    bad = not isinstance(value, int | float) or isinstance(value, bool) or math.isnan(value)
    if bad or value < low or (strict and value == low) or math.isinf(value):
        bound = f"> {low:g}" if strict else f">= {low:g}"
        raise SpecError(key, value, f"must be a finite number {bound}")


def share(key: str, value: float) -> None:
    if not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise SpecError(key, value, "a probability or share must lie in [0, 1]")


def one_of(key: str, value: str, allowed: Iterable[str]) -> None:
    allowed = tuple(allowed)
    if value not in allowed:
        raise SpecError(key, value, f"must be one of {', '.join(map(str, allowed))}")


def sums_to_one(key: str, shares: dict[str, float]) -> None:
    total = sum(shares.values())
    if abs(total - 1.0) > SHARE_TOLERANCE:
        listed = ", ".join(f"{k}={v:g}" for k, v in shares.items())
        raise SpecError(key, round(total, 9), f"shares must sum to 1 ({listed})")


MAX_CV = 10.0  # beyond this a duration law is degenerate (and cv**2 overflows)
MIN_CV = 1e-6  # below this (but above 0) 1/cv**2 overflows: use cv 0 or dist fixed


def table(key: str, values: list[float]) -> None:
    """An empirical table: finite values >= 0, not all zero."""
    if not values:
        raise SpecError(key, [], "an empirical law needs at least one value")
    for i, v in enumerate(values):
        finite(f"{key}[{i}]", v)
    if not any(values):
        raise SpecError(key, list(values), "an empirical law needs a positive value")


def cv(key: str, cv: float) -> None:
    finite(key, cv)
    if cv > MAX_CV or 0 < cv < MIN_CV:
        raise SpecError(key, cv,
                        f"a coefficient of variation must be 0 or within [{MIN_CV:g}, {MAX_CV:g}]")


def duration(key: str, d: Duration) -> None:
    one_of(f"{key}.dist", d.dist, DISTRIBUTIONS)
    if d.dist == "empirical":
        table(f"{key}.values", d.values)
        return
    finite(f"{key}.mean_min", d.mean_min, strict=d.dist != "fixed")
    cv(f"{key}.cv", d.cv)


def patience(key: str, p: Patience) -> None:
    one_of(f"{key}.dist", p.dist, PATIENCE_LAWS)
    if p.dist == "empirical":
        table(f"{key}.values", p.values)
    elif p.dist != "exponential":
        cv(f"{key}.cv", p.cv)
        if p.cv == 0:
            raise SpecError(f"{key}.cv", p.cv, f"a {p.dist} patience needs a cv > 0")


def redial(key: str, r: Redial) -> None:
    share(f"{key}.prob", r.prob)
    if not isinstance(r.limit, int) or isinstance(r.limit, bool) or r.limit < 0:
        raise SpecError(f"{key}.limit", r.limit, "must be an integer >= 0")
    duration(f"{key}.delay", r.delay)


def callback(key: str, c: Callback, live: bool) -> None:
    share(f"{key}.accept", c.accept)
    share(f"{key}.answer", c.answer)
    finite(f"{key}.attempt_min", c.attempt_min)
    if c.offer_wait_s is None:
        return
    if not live:
        raise SpecError(f"{key}.offer_wait_s", c.offer_wait_s,
                        "call-backs are offered on live queues only (where customers wait on "
                        "the line)")
    finite(f"{key}.offer_wait_s", c.offer_wait_s)


def concurrency(key: str, c: Concurrency, concurrent: bool) -> None:
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
            finite(f"{key}.stretch[{i}]", f, strict=True)


def staffing(key: str, shifts: list[Shift], table: IntervalStaffing) -> None:
    """Shifts and an interval table (of a touchpoint or an agent group at ``key``) that the
    engine can represent, with an agent on duty at some time if any is declared."""
    for i, sh in enumerate(shifts):
        shift(f"{key}.shifts[{i}]", sh)
    if table.agents:
        interval_table(f"{key}.staffing", table)
    staffed = any(sh.agents for sh in shifts) or any(any(row) for row in table.agents)
    if (shifts or table.agents) and not staffed:
        raise SpecError(f"{key}.shifts", [sh.agents for sh in shifts],
                        "no agent is ever on duty: every need sent here would wait for ever")


def fifo_only(key: str, tp, what: str) -> None:
    """Call-backs and stretched chats are features of the FIFO queue's recursion; the
    event-driven queue (priority classes, agent groups) does not model them: refused, never
    ignored."""
    if tp.callback.offer_wait_s is not None:
        raise SpecError(f"{key}.callback.offer_wait_s", tp.callback.offer_wait_s,
                        f"call-backs are offered on FIFO queues only, not with {what}")
    if any(f != 1 for f in tp.concurrency.stretch):
        raise SpecError(f"{key}.concurrency.stretch", list(tp.concurrency.stretch),
                        f"stretched chats are modelled on FIFO queues only, not with {what}")


def priority(s: Scenario, key: str, kind: str, classes: list[PriorityClass]) -> None:
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
            share(f"{k}.flag", c.flag)
        if c.head_start_min is not None:
            finite(f"{k}.head_start_min", c.head_start_min)


# A shift edge must be a whole minute: the engine staffs minute by minute and never rounds.
MINUTE_TOLERANCE = 1e-6


def shift(key: str, sh: Shift) -> None:
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
    one_of(f"{key}.days", sh.days, DAY_SETS)


def interval_table(key: str, table: IntervalStaffing) -> None:
    """7 weekday rows of whole agent counts per interval of 15, 30 or 60 minutes."""
    one_of(f"{key}.interval_min", table.interval_min, STAFFING_INTERVALS_MIN)
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
