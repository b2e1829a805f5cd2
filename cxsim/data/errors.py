"""The one exception of :mod:`cxsim.data`: a user error located in an observed-data file."""

from __future__ import annotations

MAX_SHOWN = 60


def show_value(value: str | None) -> str:
    """A cell's text as quoted in a message: ``(empty)`` for an empty cell, ``repr`` when the
    text holds whitespace at its ends or control characters, cut to ``MAX_SHOWN`` characters.

    >>> show_value("-3.0"), show_value(""), show_value("a\\nb")
    ('-3.0', '(empty)', "'a\\\\nb'")
    """
    if value is None or value == "":
        return "(empty)"
    text = value if len(value) <= MAX_SHOWN else value[:MAX_SHOWN] + "..."
    if text != text.strip() or not text.isprintable():
        return repr(text)
    return text


class DataError(ValueError):
    """An observed-data directory that cannot be used: a user error, not a bug.

    ``file`` is the file name (e.g. ``episodes.csv``), ``row`` the 1-based line number in
    that file (the header is line 1; ``None`` for file-level problems), ``column`` the
    column name (or ``None``), ``value`` the offending cell text (``""`` for an empty cell,
    ``None`` when no cell is involved) and ``reason`` what is wrong. The message is one
    line, fit to show to a user as is:

    >>> print(DataError("episodes.csv", "must be >= 0", row=7, column="wait_min", value="-3.0"))
    episodes.csv, line 7, column wait_min: value -3.0: must be >= 0
    """

    def __init__(
        self,
        file: str,
        reason: str,
        row: int | None = None,
        column: str | None = None,
        value: str | None = None,
    ) -> None:
        self.file, self.row, self.column, self.value = file, row, column, value
        self.reason = " ".join(reason.split())  # one line, whatever the cause's text was
        where = [file]
        if row is not None:
            where.append(f"line {row}")
        if column is not None:
            where.append(f"column {column}")
        parts = [", ".join(where)]
        if value is not None:
            parts.append(f"value {show_value(value)}")
        parts.append(self.reason)
        super().__init__(": ".join(parts))

    def __reduce__(self) -> tuple:
        """Pickle with the keyword fields (joblib workers send errors between processes)."""
        return (self.__class__, (self.file, self.reason, self.row, self.column, self.value))
