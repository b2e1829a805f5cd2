"""Any mapped export -> its canonical table: cells, values, types and times, all vectorised.

The steps every table shares (contacts, surveys, customers, rosters): rows matching an
``exclude`` condition are set apart; placeholders and sentinels become empty; value maps
apply; required cells must be present; numbers and times must parse. Times of day go on the
row's date, walking ``times.chain``: a time more than ``max_backstep_hours`` before the one
before it is on the next day (a contact crossing midnight). Instants (an offset, an epoch)
are shown on the wall clock of the mapping's time zone. Every problem becomes a located
:class:`DataError`; the first in file order (line, then column) is raised, before any result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cxsim.data.contacts.canonical import TABLES, TIME_PAIRS, Column
from cxsim.data.contacts.mapping import Mapping
from cxsim.data.contacts.rawcsv import RawTable, read_raw
from cxsim.data.contacts.timeparse import DAY_S, explain, parse, utc_to_local
from cxsim.data.csvio import FLOAT_RE
from cxsim.data.errors import DataError

INT_PATTERN = r"^[+-]?\d{1,18}$"
FLAGS = {"1": True, "0": False, "true": True, "false": False, "yes": True, "no": False}
ANCHOR = {"contacts": "arrival", "surveys": "sent", "customers": "start", "roster": "start"}


class Problems:
    """The first failing row of each check; ``raise_first`` raises the earliest in the file."""

    def __init__(self, raw: RawTable, positions: dict[str, int]) -> None:
        self.raw, self.positions, self.found = raw, positions, []

    def add(self, mask: np.ndarray, column: str, reason: str | None, raw_column: str | None,
            explain_value=None) -> None:
        idx = np.flatnonzero(mask)
        if idx.size == 0:
            return
        i = int(idx[0])
        value = self.raw.value(raw_column, i) if raw_column in self.raw.cells else None
        if explain_value is not None:
            reason = explain_value(value)
        line = int(self.raw.lines[i])
        self.found.append(((line, self.positions.get(raw_column or column, 0)), DataError(
            self.raw.file, reason, row=line, column=raw_column or column, value=value)))

    def raise_first(self) -> None:
        if self.found:
            raise min(self.found, key=lambda p: p[0])[1]


@dataclass
class Table:
    """A canonical table (``frame``, with ``line``), its excluded rows and what was counted."""

    frame: pd.DataFrame
    excluded: pd.DataFrame
    origin: str
    counts: dict = field(default_factory=dict)


def _missing(cells: pa.Array, values: frozenset[str]) -> pa.Array:
    if not values:
        return cells
    return pc.if_else(pc.is_in(cells, pa.array(sorted(values))), None, cells)


def _mapped(cells: pa.Array, table: dict[str, str]) -> pa.Array:
    """Apply a value map; unmapped values pass through unchanged."""
    keys = pa.array(list(table))
    idx = pc.index_in(cells, keys)
    return pc.if_else(pc.is_valid(idx), pc.take(pa.array(list(table.values())), idx), cells)


def _origin_seconds(origin: str) -> float:
    return pd.Timestamp(origin).value / 1e9


def iso_midnight(seconds: float) -> str:
    """The ISO local midnight of the day holding wall-clock ``seconds`` since 1970."""
    day = np.datetime64(int(np.floor(seconds / DAY_S)), "D")
    return f"{day}T00:00:00"


class TableReader:
    """One export read through one mapping (see the module doc)."""

    def __init__(self, path: str | Path, m: Mapping) -> None:
        self.m = m
        self.raw = read_raw(path, m)
        self.n = len(self.raw)
        names = self.raw.names
        self.problems = Problems(self.raw, {c: i for i, c in enumerate(names)})
        self.excluded = np.zeros(self.n, dtype=bool)
        self.reason = np.full(self.n, "", dtype=object)
        self.counts: dict = {"rows": self.n, "line_ends": self.raw.line_ends}

    def apply_exclusions(self) -> None:
        for reason, cond in self.m.exclude.items():
            hit = np.ones(self.n, dtype=bool)
            for col, values in cond.items():
                hit &= pc.fill_null(pc.is_in(self.raw.cells[col], pa.array(sorted(values))),
                                    False).to_numpy(zero_copy_only=False)
            new = hit & ~self.excluded
            self.excluded |= new
            self.reason[new] = reason

    def text(self, col: Column) -> pa.Array | None:
        """The cells of canonical column ``col`` (placeholders empty, values mapped)."""
        m = self.m
        if col.name in m.constants:
            return pa.array([m.constants[col.name]] * self.n, pa.string())
        if col.name not in m.columns:
            return None
        cells = _missing(self.raw.cells[m.columns[col.name]], m.missing.get(col.name,
                                                                            frozenset()))
        if col.name in m.values:
            cells = _mapped(cells, m.values[col.name])
        return cells

    def require(self, col: Column, cells: pa.Array | None) -> None:
        if col.required and cells is not None:
            empty = pc.is_null(cells).to_numpy(zero_copy_only=False) & ~self.excluded
            self.problems.add(empty, col.name, "missing value (the column is required)",
                              self.m.columns.get(col.name))

    def number(self, col: Column, cells: pa.Array) -> pd.Series:
        pattern = INT_PATTERN if col.kind == "int" else f"^(?:{FLOAT_RE})$"
        ok = pc.fill_null(pc.match_substring_regex(cells, pattern), True)
        bad = ~ok.to_numpy(zero_copy_only=False) & ~self.excluded
        what = "an integer" if col.kind == "int" else "a number"
        self.problems.add(bad, col.name, f"not {what}", self.m.columns.get(col.name))
        clean = pc.if_else(ok, cells, None)
        if col.kind == "int":
            return pd.Series(pc.cast(clean, pa.int64()).to_pandas(
                types_mapper={pa.int64(): pd.Int64Dtype()}.get))
        return pd.Series(pc.fill_null(pc.cast(clean, pa.float64()), np.nan)
                         .to_numpy(zero_copy_only=False))

    def flag(self, col: Column, cells: pa.Array) -> pd.Series:
        lower = pc.utf8_lower(cells)
        idx = pc.index_in(lower, pa.array(list(FLAGS)))
        bad = (pc.is_valid(lower).to_numpy(zero_copy_only=False)
               & pc.is_null(idx).to_numpy(zero_copy_only=False) & ~self.excluded)
        self.problems.add(bad, col.name, "not a flag (0/1, true/false, yes/no)",
                          self.m.columns.get(col.name))
        vals = pc.take(pa.array(list(FLAGS.values())), idx)
        return pd.Series(vals.to_pandas(types_mapper={pa.bool_(): pd.BooleanDtype()}.get))

    def times(self) -> dict[str, np.ndarray]:
        """Wall-clock seconds of every time column the mapping reads (NaN = empty);
        relative formats stay seconds since the origin."""
        m = self.m
        canon_of = {raw: canon for canon, raw in m.columns.items()}
        seconds, date = {}, None
        if m.date is not None:
            dcol, dfmt = m.date
            p = parse(self.raw.cells[dcol], dfmt)
            self.problems.add(p.bad & ~self.excluded, dcol, None, dcol,
                              lambda v, f=dfmt: explain(v, f))
            date = p.seconds
        parsed, sentinel = {}, {}
        for raw_col, fmt in m.formats.items():
            cells = self.raw.cells[raw_col]
            values = m.missing.get(canon_of.get(raw_col, ""), frozenset())
            sentinel[raw_col] = pc.fill_null(pc.is_in(cells, pa.array(sorted(values),
                                                                       pa.string())),
                                             False).to_numpy(zero_copy_only=False)
            parsed[raw_col] = parse(cells, fmt)
        self._pair_sentinels(parsed, sentinel)
        for raw_col, fmt in m.formats.items():
            p = parsed[raw_col]
            self.problems.add(p.bad & ~self.excluded, raw_col, None, raw_col,
                              lambda v, f=fmt: explain(v, f))
            s = np.where(sentinel[raw_col], np.nan, p.seconds)
            if fmt.kind == "time_of_day":
                present = ~np.isnan(s)
                self.problems.add(present & np.isnan(date) & ~self.excluded & ~p.bad, m.date[0],
                                  "missing date for the times of this row", m.date[0])
                s = date + s
            elif p.utc.any():
                s = np.where(p.utc, utc_to_local(s, m.timezone), s)
            seconds[raw_col] = s
        self._midnight(seconds)
        return seconds

    def _pair_sentinels(self, parsed: dict, sentinel: dict[str, np.ndarray]) -> None:
        """A sentinel ("0:00:00": did not happen) beside a real time at the other end of its
        interval (queue entry and exit, service start and end) is the literal time, midnight:
        a call served from 23:58:46 to 0:00:00 ended at midnight. Only when both ends are
        sentinels (or the other is empty) did the interval not happen."""
        cols = self.m.columns
        kept = np.zeros(self.n, dtype=bool)
        for a, b in TIME_PAIRS:
            ra, rb = cols.get(a), cols.get(b)
            if ra not in sentinel or rb not in sentinel:
                continue
            real_a = ~sentinel[ra] & ~np.isnan(parsed[ra].seconds) & ~parsed[ra].bad
            real_b = ~sentinel[rb] & ~np.isnan(parsed[rb].seconds) & ~parsed[rb].bad
            for col, other in ((ra, real_b), (rb, real_a)):
                literal = sentinel[col] & other & ~np.isnan(parsed[col].seconds)
                kept |= literal
                sentinel[col] = sentinel[col] & ~literal
        self.counts["sentinel_read_as_midnight"] = int(np.count_nonzero(kept & ~self.excluded))

    def _midnight(self, seconds: dict[str, np.ndarray]) -> None:
        """Move times of day that step back by more than ``max_backstep_hours`` along the
        chain to the next day."""
        chain = [c for c in self.m.chain if self.m.formats[c].kind == "time_of_day"]
        prev = np.full(self.n, -np.inf)
        shift = np.zeros(self.n)
        for c in chain:
            t = seconds[c] + shift
            back = t < prev - self.m.max_backstep_hours * 3600.0
            shift = shift + back * DAY_S
            t = t + back * DAY_S
            seconds[c] = t
            prev = np.where(np.isnan(t), prev, t)
        self.counts["crossed_midnight"] = int(np.count_nonzero((shift > 0) & ~self.excluded))

    def build(self, kind: str, origin: str | None) -> Table:
        """The canonical table of ``kind``; ``origin`` fixes minute 0 (else the mapping's,
        else the local midnight of the earliest anchor time)."""
        m = self.m
        self.apply_exclusions()
        data: dict[str, object] = {}
        seconds = self.times()
        relative = any(f.kind == "relative" for f in m.formats.values())
        anchor = m.columns.get(ANCHOR[kind])
        if origin is None:
            origin = m.origin
        if origin is None:
            valid = seconds[anchor][~self.excluded] if anchor in seconds else np.array([])
            valid = valid[~np.isnan(valid)]
            origin = iso_midnight(float(valid.min())) if valid.size else "1970-01-01T00:00:00"
        zero = _origin_seconds(origin)
        for col in TABLES[kind]:
            if col.kind == "time":
                raw_col = m.columns.get(col.name)
                if raw_col is not None:
                    data[col.name] = seconds[raw_col] if relative else \
                        (seconds[raw_col] - zero) / 60.0
                    if col.required:
                        self.problems.add(np.isnan(data[col.name]) & ~self.excluded, col.name,
                                          "missing value (the column is required)", raw_col)
                continue
            cells = self.text(col)
            self.require(col, cells)
            if cells is None:
                continue
            if col.kind in ("int", "float"):
                data[col.name] = self.number(col, cells)
            elif col.kind == "flag":
                data[col.name] = self.flag(col, cells)
            elif col.kind == "text":
                data[col.name] = cells.dictionary_encode().to_pandas()
            else:
                data[col.name] = cells.to_pandas()
        frame = pd.DataFrame(data, index=pd.RangeIndex(self.n))
        frame.insert(0, "line", self.raw.lines)
        return Table(frame, pd.DataFrame(), origin, self.counts)

    def split(self, table: Table) -> Table:
        """Move the excluded rows of ``table.frame`` to ``table.excluded`` (with reason)."""
        frame = table.frame
        keep = ~self.excluded
        excluded = frame[self.excluded].assign(reason=self.reason[self.excluded])
        by = pd.Series(self.reason[self.excluded]).value_counts()
        self.counts["excluded"] = {str(k): int(v) for k, v in by.sort_index().items()}
        return Table(frame[keep].reset_index(drop=True), excluded.reset_index(drop=True),
                     table.origin, self.counts)


def read_table(path: str | Path, m: Mapping, origin: str | None = None) -> Table:
    """Read the export at ``path`` as canonical table ``m.kind`` (surveys, customers, roster;
    contact logs have more rules: :func:`cxsim.data.contacts.read_contacts`)."""
    reader = TableReader(path, m)
    table = reader.build(m.kind, origin)
    reader.problems.raise_first()
    return reader.split(table)
