"""Load, validate, write and summarise an observed-data directory (a CRM-like export).

The directory holds ``customers.csv``, ``episodes.csv``, ``surveys.csv`` and, for simulated
data, ``truth.json`` (the true behaviour parameters). ``load_observed`` checks every file
against :mod:`cxsim.data.schemas` and raises one :class:`DataError` for the first problem
(files in the order customers, episodes, surveys; then by line and column), naming file,
line, column and value. ``write_observed`` writes exactly what ``load_observed`` reads back,
floats bit for bit, each file atomically.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from cxsim import metrics
from cxsim.data.csvio import (
    Problem,
    Table,
    decode,
    format_csv,
    read_regular,
    read_table,
    to_frame,
)
from cxsim.data.errors import DataError
from cxsim.data.schemas import (
    CUSTOMERS,
    EPISODES,
    SURVEYS,
    TRUTH,
    customers_schema,
    episodes_schema,
    surveys_schema,
)
from cxsim.fileio import atomic_write_text
from cxsim.metrics import KPIS
from cxsim.spec import SpecError
from cxsim.spec.kinds import (
    EPISODE_OUTCOMES,
    MINUTES_PER_MONTH,
    QUESTIONS,
    RESOLVED,
    SURVEY_KINDS,
)

__all__ = ["DataError", "ObservedData", "check_fittable", "load_observed", "observed_metrics",
           "with_row_ids", "write_observed"]



@dataclass
class ObservedData:
    """The frames of an observed-data directory (columns and dtypes of ``schemas.FIELDS``)."""

    episodes: pd.DataFrame
    surveys: pd.DataFrame
    customers: pd.DataFrame
    truth: dict | None
    path: Path


def _duplicate_reason(frame: pd.DataFrame, table: Table, column: str, i: int) -> str:
    values = frame[column].to_numpy()
    first = int(np.flatnonzero(values[:i] == values[i])[0])
    line = int(table.lines[first])
    if all(table.value(c, first) == table.value(c, i) for c in table.cells):
        return f"duplicate row: same as line {line}"
    return f"duplicate {column}: already used at line {line}"


def _schema_problems(schema: pa.DataFrameSchema, frame: pd.DataFrame, table: Table
                     ) -> list[Problem]:
    """The first failure of ``schema`` on ``frame`` (by line, column, then column checks
    before cross-column rules) as a located problem, or none."""
    try:
        schema.validate(frame, lazy=True)
        return []
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases.reset_index(drop=True)
    index = pd.to_numeric(cases["index"], errors="coerce")
    located = cases[index.notna()]
    if located.empty:  # column-wide (dtype) only: follows from an empty or unparsable cell
        if table.problems:
            return []
        first = cases.iloc[0]
        return [Problem((0, 0, 0), DataError(table.file, str(first["check"]),
                                             column=first["column"]))]
    rows = index[index.notna()].to_numpy(dtype=np.int64)
    rule = (located["schema_context"] == "DataFrameSchema").to_numpy()
    checks = located["check"].astype(str).to_numpy()
    # a cross-column rule's check text is "<column>: <reason>"; it blames that column
    blamed = np.where(rule, [c.split(": ", 1)[0] for c in checks], located["column"].to_numpy())
    positions = {f.name: i for i, f in enumerate(table.fields)}
    keys = pd.DataFrame({"line": table.lines[rows], "pos": [positions[c] for c in blamed],
                         "prio": np.where(rule, 2, 1)})
    k = int(keys.sort_values(["line", "pos", "prio"], kind="stable").index[0])
    i, column, check = int(rows[k]), str(blamed[k]), str(checks[k])
    if rule[k]:
        reason = check.split(": ", 1)[1]
    elif check == "field_uniqueness":
        reason = _duplicate_reason(frame, table, column, i)
    elif check == "not_nullable":
        reason = "missing value (the column is required)"
    else:
        reason = check.split(": ", 1)[-1]
    line = int(table.lines[i])
    return [Problem((line, positions[column], 2 if rule[k] else 1), DataError(
        table.file, reason, row=line, column=column, value=table.value(column, i)))]


def validated(file: str, text: str, schema: pa.DataFrameSchema,
              kind: str | None = None) -> tuple[pd.DataFrame, Table]:
    """The typed frame of CSV ``text`` checked against ``schema`` (``kind``: its table in
    ``FIELDS`` when ``file`` is not its name) and its raw table (each row's line and cells);
    raise the first problem (by line, then column) as a located :class:`DataError`."""
    table = read_table(file, text, kind)
    frame = to_frame(table)
    problems = table.problems + _schema_problems(schema, frame, table)
    if problems:
        raise min(problems, key=lambda p: p.key).error
    return frame, table


def _validate_all(text: Callable[[str], str]) -> tuple[pd.DataFrame, ...]:
    """Customers, episodes and surveys frames from the text of each file, fully checked."""
    customers, _ = validated(CUSTOMERS, text(CUSTOMERS), customers_schema())
    if customers.empty:
        raise DataError(CUSTOMERS, "no customers: the file has a header but no rows")
    ids = customers["customer_id"]
    episodes, _ = validated(EPISODES, text(EPISODES), episodes_schema(ids, customers))
    surveys, _ = validated(SURVEYS, text(SURVEYS), surveys_schema(ids, episodes, customers))
    return customers, episodes, surveys


def _read_truth(directory: Path) -> dict | None:
    path = directory / TRUTH
    if not path.exists() and not path.is_symlink():
        return None
    text = decode(TRUTH, read_regular(TRUTH, path), is_csv=False)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(TRUTH, f"not valid JSON: {exc.msg} (column {exc.colno})",
                        row=exc.lineno) from None
    if not isinstance(doc, dict):
        raise DataError(TRUTH, f"must be a JSON object, not a {type(doc).__name__}")
    return doc


def load_observed(directory: str | os.PathLike) -> ObservedData:
    """Read and validate an observed-data directory; raise :class:`DataError` for the first
    problem found (file, line, column, value and reason in its message)."""
    path = Path(directory)
    if not path.is_dir():
        raise DataError(str(path), "observed-data directory not found")

    for entry in sorted(path.glob("*.csv")):  # every CSV is data (hashed): regular files only
        if not entry.is_file():
            read_regular(entry.name, entry)  # raises, saying what it is

    def text(file: str) -> str:
        return decode(file, read_regular(file, path / file))

    customers, episodes, surveys = _validate_all(text)
    return ObservedData(episodes, surveys, customers, _read_truth(path), path)


def check_fittable(data: ObservedData, anchor: str | None = None) -> None:
    """Raise a :class:`DataError` unless ``data`` has what the micro-data model learns from:
    episodes, and answered surveys of both kinds (the effort and satisfaction answers after
    episodes, the periodic NPS). Valid files can still hold nothing to fit. An ``anchor``
    segment (``anchor.segment``) must be one of the data's (:class:`SpecError` otherwise)."""
    segments = sorted(data.customers["segment"].unique().tolist())
    if anchor is not None and anchor not in segments:
        raise SpecError("anchor.segment", anchor, f"not a segment of {CUSTOMERS} (one of "
                        f"{', '.join(segments)})")
    if data.episodes.empty:
        raise DataError(EPISODES, "no episodes: the file has a header but no rows; the "
                        "behaviour model learns from episodes")
    answered = data.surveys[data.surveys["answered"] == 1]
    for kind in SURVEY_KINDS:
        if not (answered["kind"] == kind).any():
            sent = int((data.surveys["kind"] == kind).sum())
            raise DataError(SURVEYS, f"no answered {kind} survey ({sent} sent, none "
                            "answered): nothing to fit the answers to", column="answered")


def with_row_ids(data: ObservedData) -> ObservedData:
    """``data`` with each customer id replaced by its row in customers.csv, for the model,
    whose arrays index by customer: a user's ids are labels (10**15, or 7, 3, 12), which
    must not size an array. Ids that already are 0, 1, ... in file order stay as they are."""
    ids = data.customers["customer_id"].to_numpy()
    if np.array_equal(ids, np.arange(ids.size)):
        return data
    index = pd.Index(ids)

    def remap(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(customer_id=index.get_indexer(frame["customer_id"].to_numpy()))

    return dataclasses.replace(data, customers=remap(data.customers),
                               episodes=remap(data.episodes), surveys=remap(data.surveys))


def _jsonable(obj: object) -> object:
    if isinstance(obj, np.generic | np.ndarray):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def write_observed(data: ObservedData, directory: str | os.PathLike) -> Path:
    """Write ``data`` as an observed-data directory and return its path.

    The CSV text is validated exactly as ``load_observed`` would read it before any file is
    written (invalid data raises :class:`DataError` naming the line it would have had).
    Floats are written in shortest round-trip form (as ``repr``), so a write -> load round
    trip is exact. ``truth.json``
    is written when ``data.truth`` is a dict and removed (as stale) when it is None.
    """
    path = Path(directory)
    frames = {CUSTOMERS: data.customers, EPISODES: data.episodes, SURVEYS: data.surveys}
    texts = {file: format_csv(file, frame) for file, frame in frames.items()}
    _validate_all(texts.__getitem__)
    truth = None
    if data.truth is not None:
        if not isinstance(data.truth, dict):
            raise DataError(TRUTH, f"must be a dict, not a {type(data.truth).__name__}")
        try:
            truth = json.dumps(data.truth, indent=2, allow_nan=False, default=_jsonable) + "\n"
        except (TypeError, ValueError) as exc:
            raise DataError(TRUTH, f"cannot be written as JSON: {exc}") from None
    path.mkdir(parents=True, exist_ok=True)
    for file, text in texts.items():
        atomic_write_text(path / file, text)
    if truth is None:
        (path / TRUTH).unlink(missing_ok=True)
    else:
        atomic_write_text(path / TRUTH, truth)
    return path


def _num(x: float) -> float | None:
    x = float(x)
    return None if np.isnan(x) else x


def _ints(s: pd.Series) -> np.ndarray:
    return s.dropna().to_numpy(dtype=np.int64)


def observed_metrics(data: ObservedData) -> dict[str, float | None]:
    """KPIs measured on the observed data, as plain floats (None where undefined).

    One figure per survey question, of the surveys of its kind that answered it (nps: NPS
    of answered periodic surveys; ces: mean CES and csat: CSAT of answered post-interaction
    surveys; cxsim.metrics.KPIS gives each formula); survey_response_rate:
    answered / sent; churn_rate: churns per customer per 30 days of exposure (from start to
    churn or censoring); retention: share of customers active at censoring;
    revenue_per_customer; fcr: share of episodes resolved with one contact; mean_wait: mean
    ``wait_min`` per episode; needs: number of episodes.
    """
    s, e, c = data.surveys, data.episodes, data.customers
    answered = s["answered"].to_numpy() == 1
    churned = c["churn_min"].notna().to_numpy()
    exposure = float((c["churn_min"].fillna(c["censored_min"]) - c["start_min"]).sum())
    n_cust = len(c)
    surveys = {}
    for q in QUESTIONS.values():
        rows = answered & (s["kind"] == q.kind).to_numpy()
        surveys[q.name] = _num(KPIS[q.name].from_answers(_ints(s.loc[rows, q.name])))
    return {
        **surveys,
        "survey_response_rate": _num(answered.mean()) if len(s) else None,
        "churn_rate": float(churned.sum()) / (exposure / MINUTES_PER_MONTH) if exposure > 0
        else None,
        "retention": _num(1.0 - metrics.churn_rate(int(churned.sum()), n_cust)) if n_cust
        else None,
        "revenue_per_customer": _num(c["revenue"].mean()) if n_cust else None,
        "fcr": _num(metrics.fcr(((e["outcome"] == EPISODE_OUTCOMES[RESOLVED])
                                 & (e["contacts"] == 1))
                                .to_numpy(dtype=bool))),
        "mean_wait": _num(e["wait_min"].mean()) if len(e) else None,
        "needs": float(len(e)),
    }
