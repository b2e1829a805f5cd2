"""The checks of a mapping document: every key typed, named and located before data is read.

``build`` turns the merged YAML document of a mapping (text values with the line of each key,
:mod:`cxsim.data.contacts.yamlnodes`) into a :class:`~cxsim.data.contacts.mapping.Mapping`, or
raises a DataError naming the mapping file, the key's line, the key and its value;
``load_mapping`` reads a mapping by name or path, merges overrides over it and builds it.
"""

from __future__ import annotations

import difflib
import re
import zoneinfo
from typing import Any

from cxsim.data.contacts.canonical import CONTACTS, OUTCOMES, TABLES, column_names
from cxsim.data.contacts.mapping import (
    CONTACTS_ONLY,
    FILE_KEYS,
    LINE_ENDS,
    POLICY_KEYS,
    SECTIONS,
    SEPARATOR_WORDS,
    SURVEY_KINDS,
    TIME_KEYS,
    UNITS_S,
    Mapping,
    Policy,
    _document,
    _merge,
    _override_lines,
    _stringify,
    located,
)
from cxsim.data.contacts.timeparse import TimeFormat, compile_format
from cxsim.data.contacts.yamlnodes import Lines
from cxsim.data.errors import DataError


class _Checker:
    """Typed access to a merged mapping document; every failure is a located DataError."""

    def __init__(self, name: str, lines: Lines) -> None:
        self.name, self.lines = name, lines

    def fail(self, key: str, reason: str, value: Any = None) -> DataError:
        return located(self.lines, self.name, key, reason, value)

    def keys(self, doc: dict, allowed: tuple[str, ...] | dict, prefix: str) -> None:
        for k in doc:
            if k not in allowed:
                near = difflib.get_close_matches(k, list(allowed), n=1)
                hint = f" (did you mean {near[0]}?)" if near else ""
                raise self.fail(f"{prefix}{k}", "unknown key" + hint + "; known: "
                                + ", ".join(allowed), k)

    def typed(self, value: Any, key: str, kind: type) -> Any:
        if kind is dict and not isinstance(value, dict):
            raise self.fail(key, "must be a mapping of keys", value)
        if kind is str and not isinstance(value, str):
            raise self.fail(key, "must be a single value, not a list or mapping", value)
        return value

    def number(self, value: Any, key: str, lo: float, hi: float) -> float:
        try:
            x = float(self.typed(value, key, str))
        except ValueError:
            raise self.fail(key, "must be a number", value) from None
        if not lo <= x <= hi:
            raise self.fail(key, f"must lie in [{lo:g}, {hi:g}]", value)
        return x

    def choice(self, value: Any, key: str, options: tuple[str, ...]) -> str:
        if self.typed(value, key, str) not in options:
            raise self.fail(key, "must be one of " + ", ".join(options), value)
        return value

    def canonical(self, doc: dict, key: str, kind: str) -> dict:
        names = column_names(kind)
        self.keys(self.typed(doc, key, dict), names, f"{key}.")
        return doc

    def strings(self, value: Any, key: str) -> frozenset[str]:
        items = value if isinstance(value, list) else [value]
        for i, v in enumerate(items):
            if not isinstance(v, str):
                raise self.fail(f"{key}.{i}", "must be a plain value", v)
        return frozenset(items)

    def fmt(self, value: Any, key: str) -> TimeFormat:
        try:
            return compile_format(self.typed(value, key, str))
        except ValueError as exc:
            raise self.fail(key, f"not a time format: {exc}", value) from None


def _times(c: _Checker, doc: dict, columns: dict[str, str], kind: str) -> tuple:
    t = c.typed(doc.get("times", {}), "times", dict)
    c.keys(t, TIME_KEYS, "times.")
    default = c.fmt(t.get("format", "iso8601"), "times.format")
    per = c.typed(t.get("columns", {}), "times.columns", dict)
    time_cols = [columns[col.name] for col in TABLES[kind] if col.kind == "time"
                 and col.name in columns]
    chain = tuple(c.typed(x, f"times.chain.{i}", str)
                  for i, x in enumerate(t.get("chain") or time_cols))
    formats = {raw: c.fmt(per[raw], f"times.columns.{raw}") if raw in per else default
               for raw in dict.fromkeys([*time_cols, *chain])}
    for raw in per:
        if raw not in formats:
            raise c.fail(f"times.columns.{raw}", "is not a time column of the mapping", raw)
    date = None
    if "date" in t:
        d = c.typed(t["date"], "times.date", dict)
        c.keys(d, ("column", "format"), "times.date.")
        if "column" not in d:
            raise c.fail("times.date", "needs column (and format)")
        date = (c.typed(d["column"], "times.date.column", str),
                c.fmt(d.get("format", "%Y-%m-%d"), "times.date.format"))
        if date[1].kind != "date":
            raise c.fail("times.date.format", "must be a date-only format", date[1].text)
    for raw, f in formats.items():
        key = f"times.columns.{raw}" if raw in per else "times.format"
        if f.kind == "date":
            raise c.fail(key, "a time column needs a time, not only a date", f.text)
        if f.kind == "time_of_day" and date is None:
            raise c.fail(key, "a time of day needs times.date (the column with the day)", f.text)
    kinds = {f.kind == "relative" for f in formats.values()}
    if len(kinds) > 1:
        raise c.fail("times", "minutes/seconds since the origin cannot be mixed with dates "
                     "and times in one mapping")
    back = c.number(t.get("max_backstep_hours", "12"), "times.max_backstep_hours", 0, 24)
    return formats, date, chain, back


def _durations(c: _Checker, doc: dict, columns: dict[str, str]) -> dict[str, tuple[str, float]]:
    d = c.typed(doc.get("durations", {}), "durations", dict)
    c.keys(d, ("wait", "handle"), "durations.")
    out = {}
    for name, spec in d.items():
        key = f"durations.{name}"
        spec = c.typed(spec, key, dict)
        c.keys(spec, ("column", "unit"), f"{key}.")
        if "column" not in spec:
            raise c.fail(key, "needs column (and unit: " + ", ".join(UNITS_S) + ")")
        unit = c.choice(spec.get("unit", "s"), f"{key}.unit", tuple(UNITS_S))
        out[name] = (c.typed(spec["column"], f"{key}.column", str), UNITS_S[unit])
    clash = {"wait": ("queue_entry", "queue_exit"), "handle": ("service_start", "service_end")}
    for name in out:
        for col in clash[name]:
            if col in columns:
                raise c.fail(f"durations.{name}", f"gives {col} already mapped in columns",
                             columns[col])
    return out


def _values(c: _Checker, doc: dict, kind: str) -> dict[str, dict[str, str]]:
    values = c.canonical(doc.get("values", {}), "values", kind)
    allowed = {"outcome": OUTCOMES} if kind == CONTACTS else {"kind": SURVEY_KINDS}
    out = {}
    for col, table in values.items():
        table = c.typed(table, f"values.{col}", dict)
        for raw, canon in table.items():
            key = f"values.{col}.{raw}"
            c.typed(canon, key, str)
            if col in allowed and canon not in allowed[col]:
                raise c.fail(key, f"{col} must map to one of " + ", ".join(allowed[col]), canon)
        out[col] = dict(table)
    return out


def _check_required(c: _Checker, kind: str, columns: dict, constants: dict,
                    durations: dict) -> None:
    have = set(columns) | set(constants)
    if kind == CONTACTS:
        have |= {"channel", "queue"} if have & {"channel", "queue"} else set()
        have |= {"contact_id"}
        if "wait" in durations:
            have |= {"queue_entry", "queue_exit"}
    elif kind == "surveys":
        have |= {"survey_id"}
    for col in TABLES[kind]:
        if col.required and col.name not in have:
            raise c.fail("columns", f"{col.name} is required: map it (columns.{col.name}) or "
                         f"give it as constants.{col.name}")


def build(name: str, doc: dict, lines: Lines) -> Mapping:
    """Validate the merged document ``doc`` of mapping ``name``."""
    c = _Checker(name, lines)
    c.keys(doc, SECTIONS, "")
    for k, kind in SECTIONS.items():
        if k in doc and doc[k] is not None:
            c.typed(doc[k], k, kind)
    kind = c.choice(doc.get("kind", CONTACTS), "kind", tuple(TABLES))
    for k in CONTACTS_ONLY:
        if k in doc and kind != CONTACTS:
            raise c.fail(k, f"only a contacts mapping has {k}", kind)
    f = c.typed(doc.get("file", {}), "file", dict)
    c.keys(f, FILE_KEYS, "file.")
    sep = c.typed(f.get("separator", ","), "file.separator", str)
    sep = SEPARATOR_WORDS.get(sep, sep)
    if len(sep) != 1 or sep in "\r\n\"":
        raise c.fail("file.separator", "must be one character (e.g. ',', ';', '\\t', '|') or "
                     "a word: " + ", ".join(SEPARATOR_WORDS), sep)
    quote = f.get("quote", '"')
    if quote is not None and (not isinstance(quote, str) or len(quote) != 1 or quote == sep):
        raise c.fail("file.quote", "must be one character other than the separator, or null",
                     quote)
    names = f.get("names")
    if names is not None:
        if not isinstance(names, list) or not names:
            raise c.fail("file.names", "must list the column names of a file without header")
        names = tuple(c.typed(x, f"file.names.{i}", str) for i, x in enumerate(names))
    tz = c.typed(doc.get("timezone", "UTC"), "timezone", str)
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise c.fail("timezone", "unknown time zone (use an IANA name such as Europe/Paris)",
                     tz) from None
    origin = doc.get("origin")
    if origin is not None:
        if re.fullmatch(compile_format("iso8601").regex, c.typed(origin, "origin", str)) is None:
            raise c.fail("origin", "must be an ISO date or date-time (2024-01-01T00:00:00)",
                         origin)
    # a column set to null (e.g. over an extended mapping) is not mapped
    columns = {k: c.typed(v, f"columns.{k}", str)
               for k, v in c.canonical(doc.get("columns", {}), "columns", kind).items()
               if v is not None}
    constants = {k: c.typed(v, f"constants.{k}", str)
                 for k, v in c.canonical(doc.get("constants", {}), "constants", kind).items()}
    for k in constants:
        if k in columns:
            raise c.fail(f"constants.{k}", "is also mapped in columns", constants[k])
        if next(col for col in TABLES[kind] if col.name == k).kind == "time":
            raise c.fail(f"constants.{k}", "a time cannot be a constant", constants[k])
    formats, date, chain, back = _times(c, doc, columns, kind)
    durations = _durations(c, doc, columns) if kind == CONTACTS else {}
    _check_required(c, kind, columns, constants, durations)
    missing: dict[str, set[str]] = {}
    for section in ("placeholders", "sentinels"):
        for col, vals in c.canonical(doc.get(section, {}), section, kind).items():
            missing.setdefault(col, set()).update(c.strings(vals, f"{section}.{col}"))
    exclude = {}
    for reason, cond in c.typed(doc.get("exclude", {}), "exclude", dict).items():
        cond = c.typed(cond, f"exclude.{reason}", dict)
        if not cond:
            raise c.fail(f"exclude.{reason}", "needs at least one condition (column: values)")
        exclude[reason] = {col: c.strings(v, f"exclude.{reason}.{col}") for col, v in cond.items()}
    p = c.typed(doc.get("policy", {}), "policy", dict)
    c.keys(p, POLICY_KEYS, "policy.")
    policy = Policy(
        c.choice(p.get("abandoned_before_queue", "exclude"), "policy.abandoned_before_queue",
                 ("exclude", "keep")),
        c.choice(p.get("duplicate_rows", "exclude"), "policy.duplicate_rows",
                 ("exclude", "error")),
        c.number(p.get("max_unusable_share", "0.05"), "policy.max_unusable_share", 0, 1),
        c.number(p.get("missing_day_share", "0.1"), "policy.missing_day_share", 0, 1),
    )
    return Mapping(
        name=name, kind=kind, description=str(doc.get("description", "")), separator=sep,
        line_end=c.choice(f.get("line_end", "auto"), "file.line_end", LINE_ENDS),
        encoding=c.typed(f.get("encoding", "utf-8"), "file.encoding", str), quote=quote,
        names=names, timezone=tz, origin=origin, columns=columns, constants=constants,
        formats=formats, date=date, chain=chain, max_backstep_hours=back, durations=durations,
        missing={k: frozenset(v) for k, v in missing.items()},
        values=_values(c, doc, kind), exclude=exclude, policy=policy, lines=lines,
    )


def load_mapping(name: str = "canonical", overrides: dict | None = None,
                 kind: str | None = None) -> Mapping:
    """The validated mapping ``name`` (a shipped name or a YAML path), with ``overrides``
    merged over it; ``kind`` checks it maps that table (contacts, surveys, ...).

    >>> m = load_mapping("technion")
    >>> m.columns["arrival"], m.separator == "\\t", sorted(m.exclude)
    ('vru_exit', True, ['phantom'])
    """
    file, doc, lines = _document(name)
    if overrides:
        doc = _merge(doc, _stringify(overrides))
        lines = {**lines, **_override_lines(overrides)}
    mapping = build(file, doc, lines)
    if kind is not None and mapping.kind != kind:
        raise mapping.error("kind", f"this mapping reads {mapping.kind}, not {kind}",
                            mapping.kind)
    return mapping
