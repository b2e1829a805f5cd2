"""CSV text <-> typed columns for the observed-data files, keeping each row's line number.

Reading is strict and located: bytes must be UTF-8 (a BOM is allowed), the header must name
exactly the expected columns (any order), every row must have as many fields as the header,
and each cell must parse as its column's kind. Problems are collected as ``Problem``s (a
``DataError`` with a sort key) so the loader can report the first one in file order.
Quote-free text (what ``format_csv`` writes unless a text cell needs quoting) is split by
Arrow, one record per line; other text goes through the csv module, which follows quoted line
breaks (a record's line is the line it starts on). Floats are written in their shortest
round-trip form (like ``repr``) and parsed with correct rounding, so they read back bit for
bit.
"""

from __future__ import annotations

import csv
import io
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cxsim.data.errors import DataError
from cxsim.data.schemas import FIELDS, Field

INT_RE = r"[+-]?\d{1,18}(?:\.0*)?"  # "7" or "7.0" (from a float-typed export); <= 18 digits
FLOAT_RE = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"


@dataclass(frozen=True)
class Problem:
    """A located error; ``key`` orders problems by line, then column, then rule priority."""

    key: tuple[int, int, int]
    error: DataError


@dataclass
class Table:
    """The raw text of one CSV file: cells by column (header order fixed to ``FIELDS``)."""

    file: str  # as named in messages
    cells: dict[str, pa.StringArray]
    lines: np.ndarray  # 1-based line of each record
    problems: list[Problem] = field(default_factory=list)
    kind: str = ""  # which table of ``FIELDS`` it is (default: the file's name)

    def __post_init__(self) -> None:
        self.kind = self.kind or self.file

    @property
    def fields(self) -> tuple[Field, ...]:
        return FIELDS[self.kind]

    def __len__(self) -> int:
        return len(self.lines)

    def value(self, column: str, i: int) -> str:
        """The text of row ``i``'s cell in ``column``."""
        return self.cells[column][i].as_py()


def read_regular(file: str, path: Path) -> bytes:
    """The bytes of ``path`` if it is a regular file (named ``file`` in messages). Anything
    else is refused before it is opened: a directory, and a FIFO, socket or device, whose
    reading could block forever or never end."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise DataError(file, f"file not found in {path.parent}") from None
    except OSError as exc:
        raise DataError(file, f"cannot be read: {exc.strerror}") from None
    if stat.S_ISDIR(mode):
        raise DataError(file, "is a directory, not a file")
    if not stat.S_ISREG(mode):
        raise DataError(file, "not a regular file (a FIFO, socket or device): refused")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DataError(file, f"cannot be read: {exc.strerror}") from None


def decode(file: str, raw: bytes, is_csv: bool = True) -> str:
    """UTF-8 text of ``raw``; non-UTF-8 bytes and NUL bytes (no text file holds one) raise a
    DataError naming line, byte offset and, for a CSV file, the column (from the header and
    the commas before the byte)."""
    nul = raw.find(b"\0")
    try:
        text = raw.decode("utf-8-sig")
        if nul < 0:
            return text
        start, what = nul, "a NUL byte (0x00)"
    except UnicodeDecodeError as exc:
        start = exc.start + (3 if raw.startswith(b"\xef\xbb\xbf") else 0)
        what = None
    if what is None and 0 <= nul < start:
        start, what = nul, "a NUL byte (0x00)"
    line = raw.count(b"\n", 0, start) + 1
    line_start = raw.rfind(b"\n", 0, start) + 1
    commas, quoted = [], False
    for i in range(line_start, start):
        if raw[i : i + 1] == b'"':
            quoted = not quoted
        elif raw[i : i + 1] == b"," and not quoted:
            commas.append(i)
    cell_start = commas[-1] + 1 if commas else line_start
    ends = [i for i in (raw.find(b",", start), raw.find(b"\n", start)) if i >= 0]
    cell = raw[cell_start : min(ends, default=len(raw))].rstrip(b"\r")
    header = raw.split(b"\n", 1)[0].decode("utf-8", "replace").lstrip("\ufeff").split(",")
    known = is_csv and line > 1 and len(commas) < len(header)
    column = header[len(commas)].strip() if known else None
    reason = (f"holds {what} at byte offset {start}: not a text file" if what else
              f"not valid UTF-8 text (byte 0x{raw[start]:02X} at byte offset {start}); "
              "save the file as UTF-8")
    raise DataError(
        file, reason, row=line, column=column,
        value=cell.decode("utf-8", "backslashreplace"),
    )


def _records(file: str, text: str) -> tuple[np.ndarray, pa.ListArray]:
    """First line and fields of each non-blank CSV record (any quoting), by the csv module."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    lines, records, start = [], [], 1
    try:
        for rec in reader:
            if rec and not (len(rec) == 1 and not rec[0].strip()):
                lines.append(start)
                records.append(rec)
            start = reader.line_num + 1
    except csv.Error as exc:
        raise DataError(file, f"malformed CSV in the record starting here: {exc}",
                        row=start) from None
    return np.asarray(lines, dtype=np.int64), pa.array(records, type=pa.list_(pa.string()))


def _fast_records(text: str) -> tuple[np.ndarray, pa.ListArray] | None:
    """As ``_records`` for text without quotes (one record per line), vectorised by Arrow;
    None when the text needs the csv module (quotes, or a lone carriage return)."""
    if '"' in text:
        return None
    if "\r" in text:
        text = text.replace("\r\n", "\n")
        if "\r" in text:
            return None
    physical = pa.array(text.split("\n"), type=pa.string())
    blank = pc.equal(pc.utf8_trim_whitespace(physical), "").to_numpy(zero_copy_only=False)
    keep = np.flatnonzero(~blank)
    return keep + 1, pc.split_pattern(physical.take(pa.array(keep)), ",")


def _header(file: str, line: int, names: list[str], kind: str) -> list[str]:
    names = [n.strip() for n in names]
    expected = [f.name for f in FIELDS[kind]]
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise DataError(file, "duplicate column in the header", row=line, column=n, value=n)
        seen.add(n)
    unexpected = [n for n in names if n not in expected]
    missing = [n for n in expected if n not in seen]
    if missing:
        hint = f" (found unexpected column {', '.join(unexpected)})" if unexpected else ""
        raise DataError(file, "missing column" + hint, row=line, column=missing[0])
    if unexpected:
        raise DataError(file, "unexpected column (expected: " + ", ".join(expected) + ")",
                        row=line, column=unexpected[0], value=unexpected[0])
    return names


def read_table(file: str, text: str, kind: str | None = None) -> Table:
    """Split CSV ``text`` into raw cells by column; header problems raise at once, ragged rows
    become problems (padded with empty cells, or cut). ``kind`` names its table in ``FIELDS``
    when the file's own name does not (a user's file)."""
    kind = kind or file
    fast = _fast_records(text)
    lines, parts = fast if fast is not None else _records(file, text)
    if len(lines) == 0:
        raise DataError(file, "empty file: no header row")
    names = _header(file, int(lines[0]), parts[0].as_py(), kind)
    width, problems = len(names), []
    lines, parts = lines[1:], parts.slice(1)
    ragged = np.flatnonzero(pc.list_value_length(parts).to_numpy(zero_copy_only=False) != width)
    if ragged.size:
        rows = parts.to_pylist()
        for r in ragged:
            rec, line = rows[r], int(lines[r])
            short = len(rec) < width
            col = len(rec) if short else width
            problems.append(Problem((line, min(col, width - 1), -1), DataError(
                file, f"row has {len(rec)} fields, the header has {width}", row=line,
                column=names[col] if short else None, value=None if short else rec[width],
            )))
            rows[r] = rec + [""] * (width - len(rec)) if short else rec[:width]
        parts = pa.array(rows, type=pa.list_(pa.string()))
    flat, n = pc.list_flatten(parts), len(lines)
    cells = {name: flat.take(pa.array(np.arange(j, n * width, width, dtype=np.int64)))
             for j, name in enumerate(names)}
    return Table(file, cells, lines.astype(np.int64), problems, kind)


def _parse(f: Field, text: pa.StringArray) -> tuple[pd.Series, np.ndarray]:
    """Typed column and a mask of cells that failed to parse (blank cells are missing).

    Vectorised with Arrow: RE2 matching, and string -> float64 casts that round correctly
    (a float written in shortest round-trip form reads back bit for bit).
    """
    trimmed = pc.utf8_trim_whitespace(text)
    empty = pc.equal(trimmed, "")
    if f.kind == "str":
        values = pd.Series(pc.if_else(empty, None, text).to_pandas(), dtype="str")
        return values, np.zeros(len(text), dtype=bool)
    pattern = FLOAT_RE if f.kind == "float" else INT_RE
    ok = pc.and_(pc.match_substring_regex(trimmed, f"^(?:{pattern})$"), pc.invert(empty))
    bad = pc.and_(pc.invert(ok), pc.invert(empty)).to_numpy(zero_copy_only=False)
    if f.kind == "float":
        parsed = pc.cast(pc.if_else(ok, trimmed, "0"), pa.float64()).to_numpy()
        good = ok.to_numpy(zero_copy_only=False)
        bad |= good & ~np.isfinite(parsed)
        return pd.Series(np.where(good & ~bad, parsed, np.nan)), bad
    digits = pc.replace_substring_regex(pc.replace_substring_regex(trimmed, r"\.0*$", ""),
                                        r"^\+", "")
    ints = pc.cast(pc.if_else(ok, digits, None), pa.int64())
    return pd.Series(ints.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)), bad


def _parse_reason(f: Field, text: str) -> str:
    text = text.strip()
    if f.kind == "float":
        return "must be a finite number" if re.fullmatch(FLOAT_RE, text) else "not a number"
    if re.fullmatch(r"[+-]?\d+", text):
        return "integer out of range"
    return "must be an integer" if re.fullmatch(FLOAT_RE, text) else "not an integer"


def to_frame(table: Table) -> pd.DataFrame:
    """Typed frame of ``table`` (columns in ``FIELDS`` order); parse failures are added to
    ``table.problems`` and leave a missing value."""
    columns = {}
    for pos, f in enumerate(table.fields):
        values, bad = _parse(f, table.cells[f.name])
        for i in np.flatnonzero(bad):
            line, text = int(table.lines[i]), table.value(f.name, int(i))
            table.problems.append(Problem((line, pos, 0), DataError(
                table.file, _parse_reason(f, text), row=line, column=f.name, value=text)))
        if f.required and f.kind in ("int", "flag") and not values.isna().any():
            values = values.astype("int64")
        columns[f.name] = values
    return pd.DataFrame(columns, index=pd.RangeIndex(len(table)))


def _text(file: str, f: Field, series: pd.Series) -> pa.StringArray:
    """Cells of one column: floats in Arrow's shortest round-trip form (with '.0' when
    integral, so the text reads as a float), missing -> ''."""
    try:
        arr = pa.array(series, from_pandas=True)
    except (pa.ArrowException, TypeError, ValueError) as exc:
        raise DataError(file, f"cannot be written as text: {exc}", column=f.name) from None
    if pa.types.is_boolean(arr.type):
        arr = pc.cast(arr, pa.int8())
    if f.kind == "float" and pa.types.is_integer(arr.type):
        arr = pc.cast(arr, pa.float64())
    text = pc.cast(arr, pa.string())
    if f.kind == "float" and pa.types.is_floating(arr.type):  # 43200 -> 43200.0, as repr
        text = pc.replace_substring_regex(text, r"^(-?\d+)$", r"\1.0")
    return pc.fill_null(text, "")


def format_csv(file: str, frame: pd.DataFrame) -> str:
    """CSV text of ``frame`` in ``FIELDS`` column order: floats in shortest round-trip form
    (read back bit for bit), integral values without a decimal point, missing values as
    empty cells; fields are quoted only when they hold a comma, quote or line break."""
    names = [f.name for f in FIELDS[file]]
    for n in names:
        if n not in frame.columns:
            raise DataError(file, "missing column in the frame to write", column=n)
    for n in frame.columns:
        if n not in names:
            raise DataError(file, "unexpected column in the frame to write", column=str(n))
    cols = [_text(file, f, frame[f.name]) for f in FIELDS[file]]
    if not any(pc.any(pc.match_substring_regex(c, r'[,"\r\n]')).as_py() for c in cols):
        rows = pc.binary_join_element_wise(*cols, ",").to_pylist() if len(frame) else []
        return "".join(line + "\n" for line in [",".join(names), *rows])
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(names)
    writer.writerows(zip(*(c.to_pylist() for c in cols), strict=True))
    return buf.getvalue()
