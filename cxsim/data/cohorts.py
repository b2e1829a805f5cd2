"""Cohort survival counts, the data of the sBG retention model, read with the same CSV
machinery as the observed-data files (:mod:`cxsim.data.csvio`): located errors naming file,
line, column and value.

The format: columns ``cohort,period,surviving`` in any order; ``surviving`` at period 0 is the
cohort's size (> 0), later periods count the customers still active; periods run 0, 1, 2, ...
without gaps; counts are non-negative integers and never increase. The two published cohorts
of Fader & Hardie (2007, Table 1) ship as :data:`FADER_HARDIE_2007` (``published/README.md``).
:func:`cohorts_from_customers` turns a customers table into the same format.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from cxsim.data.csvio import Table, decode, read_regular
from cxsim.data.errors import DataError
from cxsim.data.load import validated
from cxsim.data.schemas import COHORTS, FIELDS, cohorts_schema
from cxsim.spec.kinds import MINUTES_PER_DAY

FADER_HARDIE_2007 = Path(__file__).parent / "published" / "fader_hardie_2007.csv"
COLUMNS = tuple(f.name for f in FIELDS[COHORTS])


def _structure(file: str, frame: pd.DataFrame, table: Table) -> list[DataError]:
    """What breaks the cohorts' structure: a duplicate period, no period 0, an empty cohort,
    a cohort of period 0 alone, a gap, a rise."""
    problems, first_at = [], {}
    cells = {c: [table.value(c, i) for i in range(len(table))] for c in ("period", "surviving")}
    rows: dict[str, list[tuple[int, int, int, int]]] = {}
    for i, (name, period, n) in enumerate(frame[list(COLUMNS)].itertuples(index=False)):
        line = int(table.lines[i])
        if (name, period) in first_at:
            problems.append(DataError(file, f"duplicate row for cohort {name}, period {period} "
                                      f"(first at line {first_at[name, period]})", row=line,
                                      column="period", value=cells["period"][i]))
            continue
        first_at[name, period] = line
        rows.setdefault(name, []).append((line, int(period), int(n), i))
    for name, cohort in rows.items():
        cohort.sort(key=lambda r: r[1])
        line, period, n, i = cohort[0]
        if period != 0:
            problems.append(DataError(file, f"cohort {name} has no period 0 (its size); its "
                                      f"periods start at {period}", row=line, column="period",
                                      value=cells["period"][i]))
            continue
        if n == 0:
            problems.append(DataError(file, f"cohort {name}: the size (period 0) must be > 0",
                                      row=line, column="surviving", value=cells["surviving"][i]))
        if len(cohort) == 1:
            problems.append(DataError(file, f"cohort {name} has only period 0: at least period "
                                      "1 is needed to fit it", row=line, column="period",
                                      value=cells["period"][i]))
        for prev, cur in zip(cohort, cohort[1:], strict=False):
            if cur[1] != prev[1] + 1:
                problems.append(DataError(file, f"gap in the periods of cohort {name}: period "
                                          f"{prev[1] + 1} is missing", row=cur[0],
                                          column="period", value=cells["period"][cur[3]]))
            elif cur[2] > prev[2]:
                problems.append(DataError(file, f"surviving must not increase: cohort {name} "
                                          f"has {prev[2]} at period {prev[1]} (line {prev[0]})",
                                          row=cur[0], column="surviving",
                                          value=cells["surviving"][cur[3]]))
    return problems


def load_cohorts(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a cohort survival file (see the module doc). Returns a frame with columns
    ``cohort`` (str), ``period``, ``surviving`` (int64), sorted by cohort (in order of first
    appearance) and period. A bad file raises one :class:`~cxsim.data.DataError` naming the
    file, line, column and value: the first bad header or cell in file order; failing those,
    the earliest line where a cohort's structure breaks (a duplicate, no period 0, a gap, a
    rise).

    >>> frame = load_cohorts(FADER_HARDIE_2007)
    >>> frame.shape, frame.groupby("cohort", sort=False)["surviving"].last().to_dict()
    ((26, 3), {'regular': 173, 'high_end': 394})
    """
    file = os.fspath(path)
    raw = read_regular(file, Path(path))
    frame, table = validated(file, decode(file, raw), cohorts_schema(), kind=COHORTS)
    if frame.empty:
        raise DataError(file, "no data rows after the header")
    frame["cohort"] = frame["cohort"].str.strip()
    problems = _structure(file, frame, table)
    if problems:
        raise min(problems, key=lambda p: (p.row, COLUMNS.index(p.column)))
    order = {c: i for i, c in enumerate(dict.fromkeys(frame["cohort"]))}
    frame = frame.assign(order=frame["cohort"].map(order)).sort_values(["order", "period"])
    frame = frame.drop(columns="order").astype({"cohort": str, "period": "int64",
                                                "surviving": "int64"})
    return frame.reset_index(drop=True)


def cohorts_from_customers(customers: pd.DataFrame, period_days: float = 30.0,
                           cohort: str = "all") -> pd.DataFrame:
    """Survivors at each period boundary of the customers observed from the start (one
    cohort), in the ``cohort,period,surviving`` format; periods up to the end of observation.

    >>> c = pd.DataFrame({"start_min": [0.0] * 4, "churn_min": [43200.0, np.nan, 86400.0,
    ...                   np.nan], "censored_min": [131040.0] * 4})
    >>> cohorts_from_customers(c)["surviving"].tolist()
    [4, 3, 2, 2]
    """
    period = period_days * MINUTES_PER_DAY
    end = float(customers["censored_min"].min())
    n_periods = int(np.floor(end / period + 1e-9))
    churn = customers["churn_min"].to_numpy(float)
    churn = np.where(np.isnan(churn), np.inf, churn)
    surviving = [int((churn > k * period).sum()) for k in range(n_periods + 1)]
    return pd.DataFrame({"cohort": cohort, "period": range(n_periods + 1),
                         "surviving": surviving})
