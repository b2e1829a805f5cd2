"""Reading a contact log: the rules on top of the shared table reading.

After cells, values and times are read (:mod:`cxsim.data.contacts.read`):

1. durations (``durations.wait``/``handle``) become queue and service times; a negative
   duration refuses the log;
2. outcomes must map to the canonical set; arrivals must not precede the origin;
3. set apart, counted by reason: the mapping's ``exclude`` conditions, abandons that never
   queued (inside an IVR/VRU; ``policy.abandoned_before_queue``), rows identical in every
   column the mapping reads (``duplicate_row``); two different rows with one contact id
   refuse the log;
4. rows that contradict themselves are *unusable*, counted by reason (``UNUSABLE``); more of
   them than ``policy.max_unusable_share`` of the rows means the mapping is wrong: refused;
5. the calendar: days without contacts, or with under ``policy.missing_day_share`` of their
   weekday's median, are missing (reported, and left out of every exposure).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cxsim.data.contacts.canonical import (
    ABANDONED,
    CONTACTS,
    MIN_PER_DAY,
    OUTCOMES,
    SERVED,
    TRANSFERRED,
    WEEKDAYS,
    Calendar,
    ContactLog,
    column_names,
    weekday_of,
)
from cxsim.data.contacts.mapcheck import load_mapping
from cxsim.data.contacts.mapping import Mapping
from cxsim.data.contacts.read import TableReader
from cxsim.data.errors import DataError

log_ = logging.getLogger(__name__)
# (reason, column to blame, rule: True where the row contradicts itself), in the order checked
UNUSABLE = (
    ("queue_entry_before_arrival", "queue_entry", lambda d: d.queue_entry < d.arrival),
    ("queue_exit_before_entry", "queue_exit", lambda d: d.queue_exit < d.queue_entry),
    ("queue_entry_without_exit", "queue_exit", lambda d: d.queue_entry.notna()
     & d.queue_exit.isna()),
    ("queue_exit_without_entry", "queue_entry", lambda d: d.queue_exit.notna()
     & d.queue_entry.isna()),
    ("service_start_before_arrival", "service_start", lambda d: d.service_start < d.arrival),
    ("service_start_before_queue_exit", "service_start",
     lambda d: d.service_start < d.queue_exit),
    ("service_end_before_start", "service_end", lambda d: d.service_end < d.service_start),
    ("service_without_end", "service_end", lambda d: d.service_start.notna()
     & d.service_end.isna()),
    ("service_end_without_start", "service_start", lambda d: d.service_end.notna()
     & d.service_start.isna()),
    ("served_without_service", "service_start", lambda d: d.outcome.isin([SERVED, TRANSFERRED])
     & d.service_start.isna()),
    ("abandoned_with_service", "service_start", lambda d: (d.outcome == ABANDONED)
     & d.service_start.notna()),
)
TIMES = ("arrival", "queue_entry", "queue_exit", "service_start", "service_end")


def _durations(r: TableReader, f: pd.DataFrame) -> None:
    """Queue and service times from duration columns (in place)."""
    m = r.m
    for name, (raw_col, unit_s) in m.durations.items():
        cells = r.raw.cells[raw_col]
        text = pc.if_else(pc.match_substring_regex(cells, r"^[+-]?(\d+\.?\d*|\.\d+)$"), cells,
                          None)
        minutes = pc.fill_null(pc.cast(text, pa.float64()), np.nan).to_numpy(
            zero_copy_only=False) * unit_s / 60.0
        live = ~r.excluded
        r.problems.add(pc.is_valid(cells).to_numpy(zero_copy_only=False) & np.isnan(minutes)
                       & live, name, "not a number (a duration)", raw_col)
        r.problems.add((minutes < 0) & live, name, "a negative duration (must be >= 0)", raw_col)
        if name == "wait":
            f["queue_entry"] = f["arrival"]
            f["queue_exit"] = f["arrival"] + minutes
        else:
            start = f["queue_exit"].fillna(f["arrival"])  # served at once if it never queued
            untalked = (f["outcome"] == ABANDONED).to_numpy() & (minutes == 0)
            f["service_start"] = np.where(np.isnan(minutes) | untalked, np.nan, start)
            f["service_end"] = f["service_start"] + minutes


def _outcomes(r: TableReader, f: pd.DataFrame) -> None:
    m = r.m
    bad = ~f["outcome"].isin(OUTCOMES).to_numpy() & f["outcome"].notna().to_numpy() & ~r.excluded
    known = ", ".join(m.values.get("outcome", {})) or "none"
    excl = [f"{v} ({reason})" for reason, cond in m.exclude.items()
            for c, vals in cond.items() if c == m.columns.get("outcome") for v in sorted(vals)]
    r.problems.add(bad, "outcome", "unknown outcome: not one of " + ", ".join(OUTCOMES)
                   + f"; the mapping maps {known} (values.outcome)"
                   + (f" and excludes {', '.join(excl)}" if excl else ""),
                   m.columns.get("outcome"))


def _set_apart(r: TableReader, f: pd.DataFrame) -> None:
    """Abandons before queueing and exact duplicates join the excluded rows; one contact id
    on two different rows is an error."""
    m = r.m
    if m.policy.abandoned_before_queue == "exclude":
        vru = ((f["outcome"] == ABANDONED) & f["queue_entry"].isna()
               & f["service_start"].isna()).to_numpy() & ~r.excluded
        r.excluded |= vru
        r.reason[vru] = "abandoned_before_queue"
    codes = pd.DataFrame({c: pc.dictionary_encode(r.raw.cells[c]).indices.to_numpy(
        zero_copy_only=False) for c in sorted(r.raw.cells)})
    live = np.flatnonzero(~r.excluded)
    dup = live[codes.iloc[live].duplicated(keep="first").to_numpy()]
    if dup.size and m.policy.duplicate_rows == "error":
        r.problems.add(np.isin(np.arange(r.n), dup[:1]), "contact_id",
                       "duplicate row (policy.duplicate_rows: error)", m.columns.get("contact_id"))
    r.excluded[dup] = True
    r.reason[dup] = "duplicate_row"
    live = np.flatnonzero(~r.excluded)
    ids = f["contact_id"].to_numpy()[live]
    second = pd.Series(ids).duplicated(keep="first").to_numpy()
    if second.any():
        k = int(np.flatnonzero(second)[0])
        first = live[int(np.flatnonzero(ids == ids[k])[0])]
        r.problems.add(np.arange(r.n) == live[k], "contact_id", "duplicate contact_id: "
                       f"already used at line {r.raw.lines[first]} by a different row",
                       m.columns.get("contact_id"))


def _unusable(f: pd.DataFrame) -> np.ndarray:
    """The first UNUSABLE reason of each row ('' if none)."""
    reason = np.full(len(f), "", dtype=object)
    for name, _, rule in UNUSABLE:
        hit = rule(f).fillna(False).to_numpy(dtype=bool) & (reason == "")
        reason[hit] = name
    return reason


def _refuse_unusable(r: TableReader, f: pd.DataFrame, reason: np.ndarray) -> None:
    n_bad, n = int(np.count_nonzero(reason != "")), len(f)
    if n and n_bad / n > r.m.policy.max_unusable_share:
        i = int(np.flatnonzero(reason != "")[0])
        name, blame = next((nm, col) for nm, col, _ in UNUSABLE if nm == reason[i])
        raw_col = r.m.columns.get(blame)
        row = int(np.searchsorted(r.raw.lines, f["line"].iloc[i]))
        value = None if raw_col is None else r.raw.value(raw_col, row)
        raise DataError(r.raw.file, f"{name.replace('_', ' ')}: {n_bad} of {n} rows "
                        f"({n_bad / n:.0%}) contradict themselves, more than "
                        f"policy.max_unusable_share ({r.m.policy.max_unusable_share:.0%}); "
                        "is the mapping right?", row=int(f["line"].iloc[i]),
                        column=raw_col or blame, value=value)


def make_calendar(arrival: np.ndarray, origin: str, share: float,
                  n_days: int | None = None) -> Calendar:
    """Days of a log from ``origin``; a day is missing when it has under ``share`` of the
    median count of the same weekday's days that have contacts (a closed weekday, with no
    contacts on any of its days, is not missing: it is closed)."""
    day = np.floor(arrival / MIN_PER_DAY).astype(np.int64)
    n_days = int(day.max(initial=-1)) + 1 if n_days is None else n_days
    counts = np.bincount(day, minlength=n_days)[:n_days]
    weekday = (np.arange(n_days) + weekday_of(origin)) % 7
    observed = np.ones(n_days, dtype=bool)
    reasons = {}
    for w in range(7):
        days = np.flatnonzero(weekday == w)
        busy = counts[days][counts[days] > 0]
        if busy.size == 0:
            continue
        usual = float(np.median(busy))
        for d in days[counts[days] < share * usual]:
            observed[d] = False
            reasons[int(d)] = (f"{counts[d]} contacts, under {share:.0%} of the usual "
                               f"{usual:g} on a {WEEKDAYS[w]}")
    return Calendar(origin, n_days, observed, reasons)


def _notes(f: pd.DataFrame) -> dict:
    src = pa.array(f["transfer_from"].dropna().astype("str").to_numpy(), pa.string())
    known = pc.is_in(src, value_set=pa.array(f["contact_id"].astype("str").to_numpy(),
                                             pa.string()))
    return {
        "zero_length_service": int((f["service_end"] == f["service_start"]).sum()),
        "served_without_queueing": int((f["outcome"].isin([SERVED, TRANSFERRED])
                                        & f["queue_entry"].isna()).sum()),
        "unidentified_customer": int(f["customer_id"].isna().sum())
        if "customer_id" in f else len(f),
        "transfer_source_unknown": int(len(src) - (pc.sum(known).as_py() or 0)),
    }


def read_contacts(path: str | Path, mapping: str | Mapping = "canonical",
                  overrides: dict | None = None, origin: str | None = None) -> ContactLog:
    """Read the contact log at ``path`` through ``mapping`` (a shipped name, a YAML path, or
    a :class:`Mapping`), refusing it with a located :class:`DataError` when it is malformed.

    ``origin`` (an ISO local midnight) fixes minute 0; by default it is the mapping's, else
    the midnight of the day of the first arrival.
    """
    m = mapping if isinstance(mapping, Mapping) else load_mapping(mapping, overrides, CONTACTS)
    r = TableReader(path, m)
    log_.info("%s: %d rows split into cells; parsing", r.raw.file, r.n)
    table = r.build(CONTACTS, origin)
    f = table.frame
    for name in TIMES:
        if name not in f:
            f[name] = np.nan
    for name in column_names(CONTACTS):
        if name not in f:
            f[name] = pd.Series([None] * len(f), dtype="str")
    if "contact_id" not in m.columns:
        f["contact_id"] = pd.Series("L" + f["line"].astype(str), dtype="str")
    _durations(r, f)
    _outcomes(r, f)
    r.problems.add((f["arrival"] < 0).to_numpy() & ~r.excluded, "arrival",
                   f"before the origin {table.origin}", m.columns.get("arrival"))
    r.problems.raise_first()
    _set_apart(r, f)
    r.problems.raise_first()
    # only excluded rows (a PHANTOM call...) can still hold an outcome outside the set
    outcome = f["outcome"].astype("str")
    f["outcome"] = pd.Categorical(outcome.where(outcome.isin(OUTCOMES)), categories=OUTCOMES)
    table = r.split(table)
    f = table.frame[["line", *column_names(CONTACTS)]]
    reason = _unusable(f)
    _refuse_unusable(r, f, reason)
    bad = reason != ""
    unusable = f[bad].assign(reason=reason[bad]).reset_index(drop=True)
    contacts = f[~bad].reset_index(drop=True)
    if contacts.empty:
        raise DataError(r.raw.file, f"no contacts left: all {r.n} rows were set apart "
                        f"({table.counts['excluded']}) or unusable")
    calendar = make_calendar(contacts["arrival"].to_numpy(), table.origin,
                             m.policy.missing_day_share)
    log_.info("%s: %d contacts, %d excluded, %d unusable, %d of %d days missing", r.raw.file,
              len(contacts), len(table.excluded), len(unusable),
              int((~calendar.observed).sum()), calendar.n_days)
    counts = dict(table.counts)
    counts["contacts"] = len(contacts)
    counts["unusable"] = {str(k): int(v) for k, v in
                          pd.Series(reason[bad]).value_counts().sort_index().items()}
    counts["notes"] = {**_notes(contacts), "crossed_midnight": counts.pop("crossed_midnight", 0),
                       "sentinel_read_as_midnight": counts.pop("sentinel_read_as_midnight", 0)}
    return ContactLog(contacts, table.excluded, unusable, calendar, m.timezone,
                      Path(path).name, m.name, counts)
