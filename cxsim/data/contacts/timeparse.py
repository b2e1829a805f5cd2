"""Timestamps of real exports, parsed vectorised and strictly.

A format is a ``strftime``-like pattern or a name:

* ``%Y`` (4-digit year), ``%y`` (2 digits: 69-99 -> 19xx, 00-68 -> 20xx), ``%m`` (month,
  1-2 digits), ``%b`` (Jan...Dec), ``%d`` (day, 1-2 digits), ``%H`` (hour, 1-2 digits, so
  ``h:mm:ss`` is ``%H:%M:%S``), ``%I`` with ``%p`` (12-hour clock, AM/PM), ``%M``, ``%S``
  (2 digits), ``%f`` (fraction of a second, 1-9 digits), ``%z`` (``Z``, ``+02:00``,
  ``+0200``, ``+02``), ``%%``; anything else is literal;
* ``iso8601``: ``2024-03-05``, ``2024-03-05T14:30``, ``2024-03-05 14:30:05.250+01:00``, ...;
* ``epoch_s`` / ``epoch_ms``: seconds / milliseconds since 1970-01-01 UTC;
* ``minutes`` / ``seconds``: already relative to the log's origin (the canonical table).

A format with a date and a time gives a timestamp; one with only a time of day needs a date
column; one with only a date is a date column. Timestamps with an offset (``%z``) and epoch
times are instants, shown on the wall clock of the log's time zone; the others are taken as
that wall clock already. Arrow's ``strptime`` is not used: it accepts 30 February (as 2 March).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

NAMED = {"epoch_s": 1.0, "epoch_ms": 1e-3, "minutes": 60.0, "seconds": 1.0}
ISO8601 = (r"(?P<Y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})(?:[T ](?P<H>\d{2}):(?P<M>\d{2})"
           r"(?::(?P<S>\d{2})(?:[.,](?P<f>\d{1,9}))?)?)? ?(?P<z>Z|[+-]\d{2}(?::?\d{2})?)?")
CODES = {
    "Y": r"(?P<Y>\d{4})", "y": r"(?P<y>\d{2})", "m": r"(?P<m>\d{1,2})",
    "b": r"(?P<b>[A-Za-z]{3})", "d": r"(?P<d>\d{1,2})", "H": r"(?P<H>\d{1,2})",
    "I": r"(?P<I>\d{1,2})", "p": r"(?P<p>[AaPp][Mm])", "M": r"(?P<M>\d{2})",
    "S": r"(?P<S>\d{2})", "f": r"(?P<f>\d{1,9})", "z": r"(?P<z>Z|[+-]\d{2}(?::?\d{2})?)",
}
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DAY_S = 86400.0


@dataclass(frozen=True)
class TimeFormat:
    """A compiled format: ``kind`` is datetime, date, time_of_day, epoch or relative."""

    text: str
    kind: str
    regex: str | None = None
    unit_s: float = 1.0

    @property
    def describe(self) -> str:
        return {"datetime": "a date and time", "date": "a date", "time_of_day": "a time of day",
                "epoch": "a number of " + ("seconds" if self.unit_s == 1 else "milliseconds")
                + " since 1970", "relative": "a number"}[self.kind] + f" in format {self.text}"


def compile_format(text: str) -> TimeFormat:
    """Compile ``text``; raise ValueError naming what is wrong with it.

    >>> compile_format("%H:%M:%S").kind, compile_format("%y%m%d").kind
    ('time_of_day', 'date')
    >>> compile_format("iso8601").kind, compile_format("epoch_ms").unit_s
    ('datetime', 0.001)
    """
    if text in NAMED:
        kind = "epoch" if text.startswith("epoch") else "relative"
        return TimeFormat(text, kind, unit_s=NAMED[text])
    if text == "iso8601":
        return TimeFormat(text, "datetime", ISO8601)
    parts, used, i = [], set(), 0
    while i < len(text):
        ch = text[i]
        if ch != "%":
            parts.append(re.escape(ch))
            i += 1
            continue
        code = text[i + 1 : i + 2]
        if code == "%":
            parts.append("%")
        elif code in CODES:
            if code in used:
                raise ValueError(f"%{code} appears twice")
            used.add(code)
            parts.append(CODES[code])
        else:
            raise ValueError(f"unknown code %{code} (known: "
                             + " ".join("%" + c for c in CODES) + ", or iso8601, "
                             + ", ".join(NAMED) + ")")
        i += 2
    has_date = bool(used & {"Y", "y", "m", "b", "d"})
    has_time = bool(used & {"H", "I", "M", "S"})
    if has_date and not ({"Y", "y"} & used and {"m", "b"} & used and "d" in used):
        raise ValueError("a date needs a year (%Y or %y), a month (%m or %b) and a day (%d)")
    if {"Y", "y"} <= used or {"m", "b"} <= used or {"H", "I"} <= used:
        raise ValueError("a field is given twice (%Y and %y, %m and %b, or %H and %I)")
    if has_time and not ({"H", "I"} & used and "M" in used):
        raise ValueError("a time needs an hour (%H, or %I with %p) and minutes (%M)")
    if ("I" in used) != ("p" in used):
        raise ValueError("%I (12-hour clock) goes with %p (AM/PM)")
    if not (has_date or has_time):
        raise ValueError("no date or time code in the format")
    kind = "datetime" if has_date and has_time else "date" if has_date else "time_of_day"
    if "z" in used and kind != "datetime":
        raise ValueError("%z only goes with a full date and time")
    return TimeFormat(text, kind, "".join(parts))


def days_from_civil(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).

    >>> days_from_civil(np.array([1970, 2000, 1999]), np.array([1, 3, 12]), np.array([1, 1, 31]))
    array([    0, 11017, 10956])
    """
    y = y - (m <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    doy = (153 * (m + np.where(m > 2, -3, 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _days_in_month(y: np.ndarray, m: np.ndarray) -> np.ndarray:
    leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    base = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])[np.clip(m, 1, 12) - 1]
    return base + ((m == 2) & leap)


def _int(field: pa.Array) -> np.ndarray:
    """Digits -> int64, -1 where the group did not take part."""
    field = pc.if_else(pc.equal(field, ""), None, field)
    return pc.fill_null(pc.cast(field, pa.int64()), -1).to_numpy(zero_copy_only=False)


@dataclass
class Parsed:
    """Seconds (local wall clock since 1970, or since midnight for times of day; for relative
    formats *minutes* since the origin, the canonical unit; NaN where empty), a mask of bad
    cells, and which cells were instants (an offset or an epoch) still on UTC."""

    seconds: np.ndarray
    bad: np.ndarray
    utc: np.ndarray


def _fields(parts: pa.StructArray, names: set[str]) -> dict[str, np.ndarray]:
    return {n: _int(parts.field(n)) for n in names if n not in ("b", "p", "z", "f")}


def parse(text: pa.Array, fmt: TimeFormat) -> Parsed:
    """Parse trimmed cells (null = empty) in format ``fmt``."""
    n = len(text)
    empty = pc.is_null(text).to_numpy(zero_copy_only=False)
    if fmt.kind in ("epoch", "relative"):
        ok = pc.match_substring_regex(text, r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
        ok = pc.fill_null(ok, False).to_numpy(zero_copy_only=False)
        values = pc.cast(pc.if_else(pa.array(ok), text, None), pa.float64())
        number = pc.fill_null(values, np.nan).to_numpy(zero_copy_only=False)
        bad = ~empty & ~(ok & np.isfinite(number))
        # relative times go straight to minutes: x * 60 / 60 need not give x back
        seconds = number * (fmt.unit_s / 60.0 if fmt.kind == "relative" else fmt.unit_s)
        return Parsed(np.where(bad, np.nan, seconds), bad, ~empty & (fmt.kind == "epoch"))
    parts = pc.extract_regex(text, f"^(?:{fmt.regex})$")
    matched = pc.is_valid(parts).to_numpy(zero_copy_only=False)
    names = {f.name for f in parts.type}
    v = _fields(parts, names)
    bad = ~empty & ~matched
    seconds = np.zeros(n)
    if "Y" in v or "y" in v:
        year = v["Y"] if "Y" in v else np.where(v["y"] < 69, 2000, 1900) + v["y"]
        if "b" in names:
            month = pc.index_in(pc.utf8_lower(parts.field("b")), pa.array(MONTHS))
            month = pc.fill_null(month, -1).to_numpy(zero_copy_only=False) + 1
        else:
            month = v["m"]
        day = v["d"]
        bad |= matched & ((month < 1) | (month > 12) | (day < 1)
                          | (day > _days_in_month(year, month)))
        seconds += days_from_civil(year, np.clip(month, 1, 12), day) * DAY_S
    if "M" in v:
        if "I" in v:
            pm = pc.fill_null(pc.equal(pc.utf8_lower(parts.field("p")), "pm"), False)
            bad |= matched & ((v["I"] < 1) | (v["I"] > 12))
            hour = v["I"] % 12 + 12 * pm.to_numpy(zero_copy_only=False)
        else:
            hour = v["H"]
        sec = np.maximum(v.get("S", np.zeros(n, dtype=np.int64)), 0)
        iso_date_only = hour < 0  # iso8601 without a time part
        hour, minute = np.maximum(hour, 0), np.maximum(v["M"], 0)
        # 24:00:00 is the midnight that ends a day (some exports write it so)
        bad |= matched & ~iso_date_only & ((hour > 24) | (minute > 59) | (sec > 59)
                                           | ((hour == 24) & ((minute > 0) | (sec > 0))))
        seconds += hour * 3600.0 + minute * 60.0 + sec
    if "f" in names:
        frac = parts.field("f")
        digits = pc.fill_null(pc.utf8_length(frac), 0).to_numpy(zero_copy_only=False)
        f = pc.fill_null(pc.cast(pc.if_else(pc.equal(frac, ""), None, frac), pa.float64()), 0.0)
        seconds += f.to_numpy(zero_copy_only=False) / 10.0 ** digits
    utc = np.zeros(n, dtype=bool)
    if "z" in names:
        z = parts.field("z")
        has = pc.fill_null(pc.not_equal(z, ""), False).to_numpy(zero_copy_only=False)
        sign = np.where(pc.fill_null(pc.starts_with(z, "-"), False)
                        .to_numpy(zero_copy_only=False), -1.0, 1.0)
        digits = pc.replace_substring_regex(pc.replace_substring(z, ":", ""), "^[+-]|^Z$", "")
        hh = _int(pc.utf8_slice_codeunits(digits, 0, 2))
        mm = _int(pc.utf8_slice_codeunits(digits, 2, 4))
        offset = sign * (np.maximum(hh, 0) * 3600.0 + np.maximum(mm, 0) * 60.0)
        seconds -= np.where(has, offset, 0.0)
        utc = matched & has
    bad &= ~empty
    return Parsed(np.where(empty | bad, np.nan, seconds), bad, utc & ~bad & ~empty)


def explain(value: str, fmt: TimeFormat) -> str:
    """Why one cell failed ``parse`` (for the error message)."""
    if fmt.regex is None or re.fullmatch(fmt.regex, value) is None:
        return f"not {fmt.describe}"
    return f"not a valid {'date' if fmt.kind != 'time_of_day' else 'time'} " \
           f"(a field is out of range) in format {fmt.text}"


def utc_to_local(seconds: np.ndarray, timezone: str) -> np.ndarray:
    """UTC seconds since 1970 -> the wall clock of ``timezone`` (NaN stays NaN)."""
    if timezone == "UTC":
        return seconds
    nan = np.isnan(seconds)
    us = np.where(nan, 0, np.round(seconds * 1e6)).astype(np.int64)
    stamps = pa.array(us, type=pa.timestamp("us", tz="UTC"), mask=nan)
    local = pc.local_timestamp(stamps.cast(pa.timestamp("us", tz=timezone)))
    out = pc.cast(local, pa.int64()).to_numpy(zero_copy_only=False).astype(float) / 1e6
    return np.where(nan, np.nan, out)
