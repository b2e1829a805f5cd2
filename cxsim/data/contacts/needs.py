"""Contacts grouped into needs (episodes): one customer's contacts about one problem.

A contact with a case id belongs to its case's need. Otherwise an identified customer's
contacts with the same reason form one need while each arrives within ``window_min`` of the
end of the one before (a chain: a customer who calls back every day for a week is one need).
A transferred contact joins the need of the contact it was transferred from, whatever its
reason. A contact with neither a case id nor a customer id is a need of its own.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

NEED_WINDOW_MIN = 7 * 1440.0


def contact_ends(f: pd.DataFrame) -> np.ndarray:
    """When each contact ended: service end, else queue exit, else arrival."""
    return f["service_end"].fillna(f["queue_exit"]).fillna(f["arrival"]).to_numpy()


def source_rows(f: pd.DataFrame) -> np.ndarray:
    """Row of the contact each contact was transferred from (NaN if none or not in ``f``)."""
    src = np.full(len(f), np.nan)
    has = f["transfer_from"].notna().to_numpy()
    if has.any():
        row_of = pd.Series(np.arange(len(f)), index=f["contact_id"].to_numpy())
        row_of = row_of[~row_of.index.duplicated()]
        src[has] = row_of.reindex(f["transfer_from"].to_numpy()[has]).to_numpy()
    return src


def group_needs(f: pd.DataFrame, window_min: float = NEED_WINDOW_MIN) -> np.ndarray:
    """Need number (0, 1, ...) of each contact of the canonical table ``f``, numbered in
    order of each need's first arrival."""
    if window_min < 0:
        raise ValueError(f"window_min must be >= 0; got {window_min!r}")
    n = len(f)
    key = np.full(n, -1, dtype=np.int64)
    case = f["case_id"].notna().to_numpy()
    key[case] = pd.factorize(f["case_id"][case])[0]
    next_key = int(key.max(initial=-1)) + 1
    chained = ~case & f["customer_id"].notna().to_numpy()
    if chained.any():
        g = pd.DataFrame({"customer": pd.factorize(f["customer_id"][chained])[0],
                          "reason": pd.factorize(f["reason"][chained], use_na_sentinel=False)[0],
                          "arrival": f["arrival"][chained].to_numpy(),
                          "end": contact_ends(f)[chained]},
                         index=np.flatnonzero(chained))
        g = g.sort_values(["customer", "reason", "arrival"], kind="stable")
        same = (g["customer"].eq(g["customer"].shift()) & g["reason"].eq(g["reason"].shift()))
        last_end = g.groupby(["customer", "reason"], sort=False)["end"].cummax().shift()
        new = ~same | (g["arrival"] - last_end > window_min)
        key[g.index.to_numpy()] = next_key + np.cumsum(new.to_numpy()) - 1
        next_key = int(key.max()) + 1
    alone = key < 0
    key[alone] = next_key + np.arange(int(alone.sum()))
    src = source_rows(f)
    linked = ~np.isnan(src)
    for _ in range(n if linked.any() else 0):  # follow transfer chains to their first contact
        moved = key[linked] != key[src[linked].astype(np.int64)]
        if not moved.any():
            break
        key[linked] = key[src[linked].astype(np.int64)]
    first = pd.Series(f["arrival"].to_numpy()).groupby(key).transform("min").to_numpy()
    seen = pd.unique(key[np.lexsort((key, first))])
    return pd.Series(np.arange(seen.size), index=seen).reindex(key).to_numpy()
