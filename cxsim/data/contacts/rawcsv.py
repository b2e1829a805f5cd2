"""An export's bytes -> text cells by column, each record with its line, or a located error.

The file is checked before it is split: empty, compressed (gzip is read, a zip is refused),
binary (NUL bytes), not in the mapping's encoding, line ends other than the mapping says
(CRLF and LF both read under ``auto``; a stray carriage return inside a line is refused), an
unclosed quote. Arrow's CSV reader splits the records (multithreaded, every column read as
text); record boundaries and their line numbers come from NumPy over the bytes (a newline
ends a record unless it sits inside quotes), so an error can name its line. Cells are trimmed
of surrounding blanks; an empty cell is null.
"""

from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from cxsim.data.contacts.mapping import SEPARATOR_WORDS, Mapping
from cxsim.data.errors import DataError

SEPARATORS = {sep: word for word, sep in SEPARATOR_WORDS.items()}
GUESSES = (",", ";", "\t", "|")  # what a wrongly split header is tried with


@dataclass
class RawTable:
    """Trimmed text cells (null = empty) of the columns a mapping reads, with the line of
    each record (the header is the first non-blank line)."""

    file: str
    names: list[str]
    cells: dict[str, pa.Array]
    lines: np.ndarray
    line_ends: str

    def __len__(self) -> int:
        return len(self.lines)

    def value(self, column: str, i: int) -> str:
        v = self.cells[column][int(i)].as_py()
        return "" if v is None else v


def _bytes(path: Path, file: str) -> bytes:
    if not path.is_file():
        raise DataError(file, "file not found" if not path.exists() else "not a file")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DataError(file, f"a damaged gzip file: {exc}") from None
    elif raw[:4] == b"PK\x03\x04":
        raise DataError(file, "a zip archive: extract the log from it first")
    if not raw.strip():
        raise DataError(file, "empty file: no header and no rows")
    return raw


def _encoded(raw: bytes, file: str, m: Mapping) -> bytes:
    """UTF-8 bytes of the file (from ``m.encoding``), without a BOM; errors are located."""
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff") and not m.encoding.lower().startswith("utf-16"):
        raise DataError(file, "UTF-16 text: save the file as UTF-8, or set file.encoding: utf-16")
    if m.encoding.lower().replace("-", "") not in ("utf8", "utf8sig"):
        try:
            raw = raw.decode(m.encoding).encode("utf-8")
        except LookupError:
            raise m.error("file.encoding", "unknown encoding", m.encoding) from None
        except UnicodeDecodeError as exc:
            raise _located(raw, exc.start, file, m, f"not valid {m.encoding} text") from None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise DataError(file, f"a binary file, not a text export (a NUL byte at byte offset "
                        f"{nul})")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _located(raw, exc.start, file, m, f"not valid UTF-8 text (byte 0x{raw[exc.start]:02X}"
                       "); save the file as UTF-8 or set file.encoding (e.g. cp1252)") from None
    return raw


def _located(raw: bytes, offset: int, file: str, m: Mapping, reason: str) -> DataError:
    """An error at byte ``offset``: its line, and its column from the header when the line
    has separators before the byte (quotes are not followed: this is for broken bytes)."""
    line = raw.count(b"\n", 0, offset) + 1
    start = raw.rfind(b"\n", 0, offset) + 1
    sep = m.separator.encode()
    field = raw.count(sep, start, offset)
    header = raw.split(b"\n", 1)[0].decode("utf-8", "replace").rstrip("\r").split(m.separator)
    column = header[field].strip() if line > 1 and field < len(header) else None
    cell_end = min(i for i in (raw.find(sep, offset), raw.find(b"\n", offset), len(raw))
                   if i >= 0)
    cell_start = raw.rfind(sep, start, offset) + 1 if field else start
    value = raw[cell_start:cell_end].rstrip(b"\r").decode("utf-8", "backslashreplace")
    return DataError(file, f"{reason} at byte offset {offset}", row=line, column=column,
                     value=value)


def _line_ends(raw: bytes, file: str, m: Mapping) -> tuple[bytes, str]:
    crlf, lf, cr = raw.count(b"\r\n"), raw.count(b"\n"), raw.count(b"\r")
    if m.line_end == "cr":
        if lf:
            raise DataError(file, "has LF line ends, but the mapping says CR (file.line_end)",
                            row=1)
        return raw.replace(b"\r", b"\n"), "cr"
    if cr and not lf:
        raise DataError(file, "line ends are CR only (classic Mac OS): set file.line_end: cr",
                        row=1)
    if cr > crlf:
        buf = np.frombuffer(raw, dtype=np.uint8)
        at = np.flatnonzero(buf[:-1] == 13)
        at = int(np.concatenate((at[buf[at + 1] != 10], [len(raw) - 1]))[0])
        raise DataError(file, "a carriage return (CR) inside a line: a broken line end",
                        row=raw.count(b"\n", 0, at) + 1)
    found = "crlf" if crlf and crlf == lf else "lf" if not crlf else "mixed"
    if m.line_end in ("lf", "crlf") and found != m.line_end:
        raise DataError(file, f"line ends are {found.upper()}, but the mapping says "
                        f"{m.line_end.upper()} (file.line_end; auto reads both)", row=1)
    return raw, found


def _records(buf: np.ndarray, quote: str | None, file: str
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Start, end (exclusive, without CR) and line of each non-blank record, and whether
    some record spans lines (a quoted line break)."""
    nl = np.flatnonzero(buf == 10)
    ends = nl
    if quote is not None:
        quotes = np.flatnonzero(buf == ord(quote))
        if quotes.size:
            if quotes.size % 2:
                at = int(quotes[-1])
                raise DataError(file, "a quote is opened and never closed",
                                row=int(np.searchsorted(nl, at)) + 1)
            ends = nl[np.searchsorted(quotes, nl) % 2 == 0]
    starts = np.concatenate(([0], ends + 1))
    ends = np.concatenate((ends, [buf.size]))
    stop = ends - ((ends > starts) & (buf[np.maximum(ends - 1, 0)] == 13))
    keep = stop > starts
    return starts[keep], stop[keep], np.searchsorted(nl, starts[keep]) + 1, ends.size < nl.size + 1


def _split(text: str, sep: str, quote: str | None) -> list[str]:
    reader = csv.reader([text], delimiter=sep, quotechar=quote or '"',
                        quoting=csv.QUOTE_MINIMAL if quote else csv.QUOTE_NONE)
    return [x.strip() for x in next(reader, [])]


def _header(raw: bytes, start: int, stop: int, file: str, line: int, m: Mapping) -> list[str]:
    text = raw[start:stop].decode("utf-8")
    names = _split(text, m.separator, m.quote)
    wanted = m.raw_columns()
    if len(names) == 1 and len(wanted) > 1:
        for sep in GUESSES:
            word = SEPARATORS[sep]
            if sep != m.separator and len(_split(text, sep, m.quote)) > 1:
                raise DataError(file, f"the header is one column, but split by {word} it has "
                                f"{len(_split(text, sep, m.quote))}: wrong separator (the "
                                f"mapping says {SEPARATORS.get(m.separator, repr(m.separator))},"
                                " file.separator)", row=line, value=names[0])
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise DataError(file, "duplicate column in the header", row=line, column=n, value=n)
        if not n:
            raise DataError(file, "a column without a name in the header", row=line)
        seen.add(n)
    return names


def _ragged(buf: np.ndarray, starts: np.ndarray, stops: np.ndarray, lines: np.ndarray,
            m: Mapping, names: list[str], file: str) -> DataError:
    """The first record whose number of fields differs from the header's."""
    seps = np.flatnonzero(buf == ord(m.separator))
    if m.quote is not None:
        quotes = np.flatnonzero(buf == ord(m.quote))
        seps = seps[np.searchsorted(quotes, seps) % 2 == 0]
    fields = np.searchsorted(seps, stops) - np.searchsorted(seps, starts) + 1
    wrong = np.flatnonzero(fields != len(names))
    if wrong.size == 0:
        raise DataError(file, "the records could not be split consistently (a stray quote?)",
                        row=int(lines[0]))
    bad = int(wrong[0])
    text = buf[starts[bad]:stops[bad]].tobytes().decode("utf-8")
    rec = _split(text, m.separator, m.quote)
    short = len(rec) < len(names)
    return DataError(file, f"row has {len(rec)} fields, the header has {len(names)}",
                     row=int(lines[bad]), column=names[len(rec)] if short else None,
                     value=None if short else rec[len(names)])


def read_raw(path: str | Path, m: Mapping) -> RawTable:
    """The columns ``m`` reads from the export at ``path`` (each must be in its header)."""
    path = Path(path)
    file = path.name
    raw, ends = _line_ends(_encoded(_bytes(path, file), file, m), file, m)
    buf = np.frombuffer(raw, dtype=np.uint8)
    starts, stops, lines, multiline = _records(buf, m.quote, file)
    if m.names is None:
        names = _header(raw, int(starts[0]), int(stops[0]), file, int(lines[0]), m)
        data_from, header_line = 1, int(lines[0])
    else:
        names, data_from, header_line = list(m.names), 0, 0
    for raw_col in sorted(m.raw_columns()):
        if raw_col not in names:
            raise m.error(m.key_of_column(raw_col), f"names a column that {file} lacks (line "
                          f"{header_line} has: {', '.join(names)})", raw_col)
    starts, stops, lines = starts[data_from:], stops[data_from:], lines[data_from:]
    if len(lines) == 0:
        raise DataError(file, "no rows: the file has a header and nothing else", row=header_line)
    ragged: list[int] = []
    body = pa.BufferReader(pa.py_buffer(raw).slice(int(starts[0])))
    wanted = [n for n in names if n in m.raw_columns()]
    table = pacsv.read_csv(
        body,
        read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 24),
        parse_options=pacsv.ParseOptions(
            delimiter=m.separator, quote_char=m.quote or False, ignore_empty_lines=True,
            newlines_in_values=multiline,
            invalid_row_handler=lambda row: ragged.append(1) or "skip"),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names}, include_columns=wanted,
            strings_can_be_null=False, quoted_strings_can_be_null=False),
    )
    if ragged or table.num_rows != len(lines):
        raise _ragged(buf, starts, stops, lines, m, names, file)
    cells = {}
    for n in wanted:
        col = pc.utf8_trim_whitespace(table.column(n).combine_chunks())
        cells[n] = pc.if_else(pc.equal(col, ""), None, col)
    return RawTable(file, names, cells, lines.astype(np.int64), ends)
