"""The experience log: one row per episode, columnar; plus streaming totals for the metrics.

Totals cover episodes that *start* in the measurement window [warm-up, horizon). The per-row
log is kept only when asked for (``keep_rows``): with it off, memory does not grow with the
number of customers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from cxsim.engine.journey import Episode

COLUMNS = (
    "episode",
    "customer",
    "segment",
    "reason",
    "start_min",
    "end_min",
    "outcome",
    "first_channel",
    "channels",
    "touchpoints",
    "contacts",
    "wait_min",
    "handle_min",
    "steps",
    "transfers",
    "repeats",
    "switches",
    "bot",
)
TOTALS = (
    "needs",
    "in_system",
    "resolved",
    "abandoned",
    "gave_up",
    "first_contact_resolved",
    "ttr_sum",
    "contacts",
    "wait_sum",
    "handle_sum",
    "steps",
    "transfers",
    "repeats",
    "switches",
)


class EpisodeLog:
    """Collects finished episodes: window totals always, rows when ``keep_rows``."""

    def __init__(self, window_start: float, window_end: float, keep_rows: bool) -> None:
        self.lo, self.hi = window_start, window_end
        self.keep_rows = keep_rows
        self._sums = [0.0] * len(TOTALS)
        self.rows: dict[str, list] = {c: [] for c in COLUMNS} if keep_rows else {}
        self._append = [self.rows[c].append for c in COLUMNS] if keep_rows else []
        self.ended = [0, 0, 0, 0]  # by outcome, over the whole run (conservation checks)

    @property
    def totals(self) -> dict[str, float]:
        return dict(zip(TOTALS, self._sums, strict=True))

    def record(self, ep: Episode, t_end: float, outcome: int) -> None:
        self.ended[outcome] += 1
        if self.lo <= ep.t0 < self.hi:
            tot = self._sums
            tot[0] += 1
            tot[1 + outcome] += 1
            if outcome == 1:
                tot[5] += 1 if ep.contacts == 1 else 0
                tot[6] += t_end - ep.t0
            tot[7] += ep.contacts
            tot[8] += ep.wait
            tot[9] += ep.handle
            tot[10] += ep.steps
            tot[11] += ep.transfers
            tot[12] += ep.repeats
            tot[13] += ep.switches
        if self.keep_rows:
            for append, value in zip(self._append, (
                ep.id, ep.customer, ep.segment, ep.reason, ep.t0, t_end, outcome,
                ep.first_channel, ep.channels, ep.touchpoints, ep.contacts, ep.wait, ep.handle,
                ep.steps, ep.transfers, ep.repeats, ep.switches, ep.bot,
            ), strict=True):
                append(value)

    def frame(
        self, segments: list[str], reasons: list[str], channels: list[str], touchpoints: list[str]
    ) -> pd.DataFrame:
        """The rows as a DataFrame, codes decoded to names ('|'-joined for several)."""
        df = pd.DataFrame({c: np.asarray(v) for c, v in self.rows.items()})
        if df.empty:
            return df
        from cxsim.engine.journey import OUTCOMES

        df["segment"] = pd.Categorical.from_codes(df["segment"], segments)
        df["reason"] = pd.Categorical.from_codes(df["reason"], reasons)
        df["outcome"] = pd.Categorical.from_codes(df["outcome"], list(OUTCOMES))
        df["first_channel"] = [channels[i] if i >= 0 else "" for i in df["first_channel"]]
        df["channels"] = [_names(m, channels) for m in df["channels"]]
        df["touchpoints"] = [_names(m, touchpoints) for m in df["touchpoints"]]
        df["bot"] = pd.Categorical.from_codes(
            df["bot"], ["none", "contained", "escalated", "looped"]
        )
        df["resolved"] = df["outcome"] == "resolved"
        df["ttr_min"] = np.where(df["resolved"], df["end_min"] - df["start_min"], np.nan)
        return df


def _names(mask: int, names: list[str]) -> str:
    return "|".join(n for i, n in enumerate(names) if mask >> i & 1)
