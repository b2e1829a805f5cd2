"""Writing the canonical contact table as CSV (what ``read_contacts(path)`` reads back).

The columns of ``TABLES["contacts"]`` in order, comma-separated, LF line ends; floats in their
shortest round-trip form (read back bit for bit), empty cells for missing values, a cell
quoted only when it holds a comma, a quote or a line break. Checked before anything is
written, and written atomically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cxsim.data.contacts.canonical import CONTACTS, OUTCOMES, TABLES, column_names
from cxsim.data.errors import DataError
from cxsim.fileio import atomic_write_text


def _cells(name: str, kind: str, values: pd.Series, file: str) -> pa.Array:
    if kind == "time":
        x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        bad = values.notna().to_numpy() & ~np.isfinite(x)
        if bad.any() or (x < 0).any():
            i = int(np.flatnonzero(bad | (x < 0))[0])
            raise DataError(file, "a time must be a finite number of minutes >= 0",
                            row=i + 2, column=name, value=str(values.iloc[i]))
        text = pc.cast(pa.array(x, mask=np.isnan(x)), pa.string())
    elif kind == "int":
        text = pc.cast(pa.array(pd.array(values, dtype="Int64")), pa.string())
    else:
        text = pa.array(values.astype("str"), pa.string(), from_pandas=True)
    text = pc.fill_null(text, "")
    needs = pc.match_substring_regex(text, r'[,"\r\n]')
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")
    return pc.if_else(needs, quoted, text)


def write_contacts(contacts: pd.DataFrame, path: str | Path) -> Path:
    """Write ``contacts`` (canonical columns; others, such as ``line``, are left out) to
    ``path``; refuse missing columns, empty required cells, unknown outcomes and negative or
    non-finite times with a DataError naming the row it would have had."""
    path = Path(path)
    file = path.name
    for col in TABLES[CONTACTS]:
        if col.name not in contacts:
            raise DataError(file, "missing column in the table to write", column=col.name)
        if col.required and contacts[col.name].isna().any():
            i = int(np.flatnonzero(contacts[col.name].isna().to_numpy())[0])
            raise DataError(file, "missing value (the column is required)", row=i + 2,
                            column=col.name)
    outcome = contacts["outcome"].astype("str")
    unknown = ~outcome.isin(OUTCOMES).to_numpy()
    if unknown.any():
        i = int(np.flatnonzero(unknown)[0])
        raise DataError(file, "unknown outcome: not one of " + ", ".join(OUTCOMES), row=i + 2,
                        column="outcome", value=outcome.iloc[i])
    cells = [_cells(c.name, c.kind, contacts[c.name].reset_index(drop=True), file)
             for c in TABLES[CONTACTS]]
    rows = pc.binary_join_element_wise(*cells, ",").to_pylist() if len(contacts) else []
    atomic_write_text(path, "".join(line + "\n" for line in [",".join(column_names(CONTACTS)),
                                                               *rows]))
    return path
