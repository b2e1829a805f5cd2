"""What happens after a contact: transfers between queues, redials, first-contact resolution.

* **transfers**: a contact naming another in ``transfer_from`` was transferred from that
  contact's queue; ``probability[to] = transfers from the queue to ``to`` / contacts the
  queue served`` (served or transferred), with exact intervals;
* **redial** after an abandonment or an unresolved contact: the same identified customer's
  next contact (any queue) arriving within ``window_min`` of its end; the share redialling
  (exact interval) and the delay (mean with a Student t interval, quantiles);
* **first-contact resolution**: needs (:func:`cxsim.data.contacts.needs.group_needs`) settled
  by their first contact (one contact, served or contained), per queue of the first contact;
  needs that start within ``window_min`` of the end of the log are left out, since a
  recontact could still come.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from cxsim.calibrate.operations.cis import SERVED_OUTCOMES, binomial_ci, finite, interval_json
from cxsim.data.contacts.needs import NEED_WINDOW_MIN, contact_ends, group_needs, source_rows

REDIAL_WINDOW_MIN = 1440.0
REDIAL_AFTER = ("abandoned", "unresolved")
DELAY_QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


def _share(k: int, n: int, level: float) -> dict:
    lo, hi = binomial_ci(k, n, level)
    return {"share": finite(k / n) if n else None, "ci": interval_json(float(lo), float(hi)),
            "count": int(k), "of": int(n)}


@dataclass
class Transfers:
    """Transfers out of one queue: counts by target queue over the contacts it served."""

    served: int
    to: dict[str, int]
    level: float

    def to_json(self) -> dict:
        return {"served": self.served, "to": {q: _share(k, self.served, self.level)
                                              for q, k in sorted(self.to.items())}}


def transfers(f: pd.DataFrame, by: str = "queue", level: float = 0.95) -> dict[str, Transfers]:
    """Transfer counts and probabilities out of each group ``by`` of the log ``f``."""
    group = f[by].astype("str")
    src = source_rows(f)
    linked = ~np.isnan(src)
    pairs = pd.DataFrame({"from": group.to_numpy()[src[linked].astype(np.int64)],
                          "to": group.to_numpy()[linked]})
    counts = pairs.value_counts()
    served = group[f["outcome"].isin(SERVED_OUTCOMES).to_numpy()].value_counts()
    out = {}
    for q in sorted(group.dropna().unique()):
        to = {str(t): int(k) for (s, t), k in counts.items() if s == q}
        out[q] = Transfers(int(served.get(q, 0)), to, level)
    return out


@dataclass
class Redial:
    """Redials after abandonment or failure, for one queue."""

    window_min: float
    after: dict[str, tuple[int, int]]  # outcome -> (redialled, contacts)
    delays_min: np.ndarray
    level: float

    def to_json(self) -> dict:
        k = sum(v[0] for v in self.after.values())
        n = sum(v[1] for v in self.after.values())
        d = self.delays_min
        delay = None
        if d.size:
            half = float(stats.t.ppf((1 + self.level) / 2, d.size - 1) * d.std(ddof=1)
                         / np.sqrt(d.size)) if d.size > 1 else float("nan")
            delay = {"mean_min": float(d.mean()),
                     "mean_ci": interval_json(d.mean() - half, d.mean() + half),
                     "quantiles": {str(q): float(np.quantile(d, q)) for q in DELAY_QUANTILES}}
        return {"window_min": self.window_min, **_share(k, n, self.level),
                "after": {o: _share(a, b, self.level) for o, (a, b) in self.after.items()},
                "delay_min": delay}


def _next_contact(f: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """For each contact of an identified customer: the row of that customer's next contact
    (by arrival; -1 if none) and its delay after this contact's end."""
    n = len(f)
    code = pd.factorize(f["customer_id"])[0]  # -1 where unidentified; ints sort fast
    known = code >= 0
    order = np.flatnonzero(known)[np.lexsort((f["arrival"].to_numpy()[known], code[known]))]
    cust = code[order]
    nxt = np.full(n, -1, dtype=np.int64)
    same = cust[1:] == cust[:-1]
    nxt[order[:-1][same]] = order[1:][same]
    delay = np.full(n, np.nan)
    has = nxt >= 0
    delay[has] = np.maximum(f["arrival"].to_numpy()[nxt[has]] - contact_ends(f)[has], 0.0)
    return nxt, delay


def redials(f: pd.DataFrame, by: str = "queue", window_min: float = REDIAL_WINDOW_MIN,
            level: float = 0.95) -> dict[str, Redial]:
    """Redial shares and delays per group ``by`` of the log ``f``."""
    _, delay = _next_contact(f)
    known = f["customer_id"].notna().to_numpy()
    outcome = f["outcome"].astype("str").to_numpy()
    group = f[by].astype("str").to_numpy()
    redialled = delay <= window_min
    out = {}
    for q in sorted(pd.unique(group[pd.notna(group)])):
        mine = (group == q) & known
        after = {o: (int((mine & (outcome == o) & redialled).sum()),
                     int((mine & (outcome == o)).sum())) for o in REDIAL_AFTER}
        hit = mine & np.isin(outcome, REDIAL_AFTER) & redialled
        out[q] = Redial(window_min, after, delay[hit], level)
    return out


def first_contact_resolution(f: pd.DataFrame, end_min: float, by: str = "queue",
                             window_min: float = NEED_WINDOW_MIN, level: float = 0.95
                             ) -> dict[str, dict]:
    """FCR per group ``by`` of each need's first contact (see the module doc)."""
    need = group_needs(f, window_min)
    g = pd.DataFrame({"need": need, "arrival": f["arrival"].to_numpy(),
                      "group": f[by].astype("str").to_numpy(),
                      "settled": f["outcome"].isin(("served", "contained")).to_numpy()})
    g = g.sort_values(["need", "arrival"], kind="stable")
    first = g.groupby("need").agg(group=("group", "first"), arrival=("arrival", "first"),
                                  settled=("settled", "first"), contacts=("group", "size"))
    first = first[first["arrival"] <= end_min - window_min]
    ok = first["settled"] & (first["contacts"] == 1)
    out = {}
    for q, rows in first.groupby("group"):
        out[str(q)] = {"window_min": window_min, "needs": int(len(rows)),
                       **_share(int(ok[rows.index].sum()), len(rows), level)}
    return out
