"""The canonical tables a mapping turns an export into, and what a read log carries.

The contact table has one row per contact (a call, chat, e-mail, bot session or store visit).
Times are float minutes since the log's *origin*, a local midnight in the log's time zone, on
the wall clock the centre staffs by (see ``docs/contact_logs.md`` for daylight saving). A
contact that never queued has empty ``queue_entry``/``queue_exit``; one never served has
empty ``service_start``/``service_end``. Rows kept apart on purpose (phantom and test calls,
abandons inside an IVR before queueing, duplicated rows) are *excluded*; rows that contradict
themselves (a service that ends before it starts, ...) are *unusable*; both are kept with
their line and reason, never silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

MIN_PER_DAY = 1440.0
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Minutes in the canonical table count from this Monday (as cxsim-simulate's time 0 does)
# unless a log states its own origin.
DEFAULT_ORIGIN = "2024-01-01T00:00:00"

SERVED, ABANDONED, CONTAINED, TRANSFERRED, UNRESOLVED = (
    "served", "abandoned", "contained", "transferred", "unresolved")
OUTCOMES = (SERVED, ABANDONED, CONTAINED, TRANSFERRED, UNRESOLVED)
OUTCOME_MEANING = {
    SERVED: "an agent served it",
    ABANDONED: "the customer left the queue before service",
    CONTAINED: "a bot or self-service settled it without an agent",
    TRANSFERRED: "an agent served it, then passed it to another queue (a row there names "
                 "this contact in transfer_from)",
    UNRESOLVED: "it ended without service and without abandoning a queue (a bot that "
                "failed, a blocked call, a closed inbox)",
}
# The canonical time columns in the order they happen within a contact.
TIME_CHAIN = ("arrival", "queue_entry", "queue_exit", "service_start", "service_end")
# Intervals whose two ends happen together or not at all (see sentinels in the mapping docs).
TIME_PAIRS = (("queue_entry", "queue_exit"), ("service_start", "service_end"))


@dataclass(frozen=True)
class Column:
    """A canonical column: ``kind`` is id or text (strings), time (minutes since the
    origin), int, float or flag (0/1); ``required``: no table without it, no empty cell."""

    name: str
    kind: str
    required: bool = False
    doc: str = ""


CONTACTS, SURVEYS, CUSTOMERS, ROSTER = "contacts", "surveys", "customers", "roster"
TABLES: dict[str, tuple[Column, ...]] = {
    CONTACTS: (
        Column("contact_id", "id", doc="unique per contact; the line number when the log "
               "has none"),
        Column("customer_id", "id", doc="empty when the caller is not identified"),
        Column("channel", "text", required=True, doc="phone, chat, email, chatbot, store..."),
        Column("queue", "text", required=True, doc="the queue, line or touchpoint"),
        Column("arrival", "time", required=True, doc="reaching the queue or touchpoint "
               "(after an IVR)"),
        Column("queue_entry", "time", doc="joining the queue; empty if it never queued"),
        Column("queue_exit", "time", doc="leaving the queue: to service, or abandoning"),
        Column("service_start", "time", doc="an agent (or bot) starts; empty if unserved"),
        Column("service_end", "time"),
        Column("outcome", "text", required=True, doc="one of " + ", ".join(OUTCOMES)),
        Column("agent_id", "id", doc="who served it; empty if no agent"),
        Column("case_id", "id", doc="the case or ticket the contact belongs to"),
        Column("reason", "text", doc="contact reason or call type"),
        Column("priority", "int"),
        Column("transfer_from", "id", doc="contact_id of the contact this was transferred "
               "from"),
    ),
    SURVEYS: (
        Column("survey_id", "id", doc="the line number when the export has none"),
        Column("customer_id", "id", required=True),
        Column("contact_id", "id", doc="the contact a post-interaction survey is about"),
        Column("case_id", "id", doc="or the case it is about"),
        Column("kind", "text", required=True, doc="post_interaction or periodic"),
        Column("sent", "time", required=True),
        Column("answered", "flag", doc="derived from the scores when not given"),
        Column("nps", "int"),
        Column("ces", "int"),
        Column("csat", "int"),
    ),
    CUSTOMERS: (
        Column("customer_id", "id", required=True),
        Column("segment", "text", required=True),
        Column("start", "time", doc="became a customer; before the origin counts as 0"),
        Column("churn", "time", doc="left; empty while a customer"),
        Column("revenue", "float", doc="revenue over the observed period"),
    ),
    ROSTER: (
        Column("agent_id", "id"),
        Column("queue", "text"),
        Column("start", "time", required=True),
        Column("end", "time", required=True),
        Column("agents", "int", doc="agents on this shift (1 when the roster names agents)"),
    ),
}


def column_names(kind: str) -> tuple[str, ...]:
    """The canonical columns of table ``kind``, in order."""
    return tuple(c.name for c in TABLES[kind])


def weekday_of(origin: str) -> int:
    """Weekday (0 = Monday) of an ISO origin such as ``1999-01-01T00:00:00``.

    >>> weekday_of("2024-01-01T00:00:00"), weekday_of("1999-01-01")
    (0, 4)
    """
    return int(pd.Timestamp(origin).weekday())


@dataclass
class Calendar:
    """The days a log covers: day ``d`` spans minutes ``[1440 d, 1440 (d + 1))``.

    ``observed[d]`` is False for a missing day (no contacts, or far fewer than the same
    weekday usually has: an outage or a lost export); missing days count in no exposure.
    """

    origin: str
    n_days: int
    observed: np.ndarray
    reasons: dict[int, str] = field(default_factory=dict)

    @property
    def first_weekday(self) -> int:
        return weekday_of(self.origin)

    def weekday(self, day: np.ndarray | int) -> np.ndarray:
        """Weekday (0 = Monday) of day indices."""
        return (np.asarray(day) + self.first_weekday) % 7

    def date(self, day: int) -> str:
        """The ISO date of day ``day``."""
        return (pd.Timestamp(self.origin) + pd.Timedelta(days=int(day))).date().isoformat()

    def observed_days(self, weekday: int | None = None) -> np.ndarray:
        """Indices of the observed days (of one weekday if given)."""
        days = np.flatnonzero(self.observed)
        return days if weekday is None else days[self.weekday(days) == weekday]

    def to_json(self) -> dict:
        missing = np.flatnonzero(~self.observed)
        return {
            "origin": self.origin,
            "days": self.n_days,
            "observed_days": int(self.observed.sum()),
            "missing_days": [{"day": int(d), "date": self.date(int(d)),
                              "why": self.reasons.get(int(d), "")} for d in missing],
        }


@dataclass
class ContactLog:
    """A contact log read through a mapping.

    ``contacts`` holds the canonical columns (``TABLES["contacts"]``) plus ``line``, the line
    of the row in the source file; ``excluded`` and ``unusable`` hold the rows kept apart, with
    ``line``, ``reason`` and what could be parsed of them. ``counts`` has the numbers of the
    ingestion report (rows read, kept, excluded and unusable by reason, and notes such as
    zero-length services or contacts crossing midnight, which stay in ``contacts``).
    """

    contacts: pd.DataFrame
    excluded: pd.DataFrame
    unusable: pd.DataFrame
    calendar: Calendar
    timezone: str
    source: str
    mapping: str
    counts: dict = field(default_factory=dict)

    @property
    def origin(self) -> str:
        return self.calendar.origin

    @property
    def end_min(self) -> float:
        """The end of observation: midnight after the last day."""
        return self.calendar.n_days * MIN_PER_DAY

    def report(self) -> dict:
        """The ingestion report as plain JSON values."""
        return {"source": self.source, "mapping": self.mapping, "timezone": self.timezone,
                **self.calendar.to_json(), **self.counts}
