"""The experience log: one row per episode, columnar; plus streaming totals for the metrics.

Totals cover episodes that *start* in the measurement window [warm-up, horizon). The per-row
log is kept only when asked for (``keep_rows``): with it off, memory does not grow with the
number of customers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxsim.engine.episode import Episode
from cxsim.spec.kinds import BOT_STATES, EPISODE_OUTCOMES, RESOLVED

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
    *EPISODE_OUTCOMES,  # episodes by how they ended
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


# What :meth:`EpisodeLog.record` buffers per episode, flat: start, end, outcome and then the
# summed counts (contacts, wait, handle, steps, transfers, repeats, switches).
WIDTH = 10


class EpisodeLog:
    """Collects finished episodes: window totals always, rows when ``keep_rows``.

    Totals are summed with NumPy from a buffer of ten numbers per episode (:meth:`flush`),
    cheaper than a dozen Python additions per episode."""

    def __init__(self, window_start: float, window_end: float, keep_rows: bool) -> None:
        self.lo, self.hi = window_start, window_end
        self.keep_rows = keep_rows
        self._sums = np.zeros(len(TOTALS))
        self._ended = np.zeros(len(EPISODE_OUTCOMES), dtype=np.int64)
        self.buffer: list[float] = []
        self.rows: dict[str, list] = {c: [] for c in COLUMNS} if keep_rows else {}
        self._append = [self.rows[c].append for c in COLUMNS] if keep_rows else []

    @property
    def totals(self) -> dict[str, float]:
        self.flush()
        return dict(zip(TOTALS, self._sums.tolist(), strict=True))

    @property
    def ended(self) -> list[int]:
        """Episodes ended by outcome, over the whole run (conservation checks)."""
        self.flush()
        return self._ended.tolist()

    def record(self, ep: Episode, t_end: float, outcome: int) -> None:
        self.buffer.extend((ep.t0, t_end, outcome, ep.contacts, ep.wait, ep.handle, ep.steps,
                            ep.transfers, ep.repeats, ep.switches))
        if self.keep_rows:
            for append, value in zip(self._append, (
                ep.id, ep.customer, ep.segment, ep.reason, ep.t0, t_end, outcome,
                ep.first_channel, ep.channels, ep.touchpoints, ep.contacts, ep.wait, ep.handle,
                ep.steps, ep.transfers, ep.repeats, ep.switches, ep.bot,
            ), strict=True):
                append(value)

    def flush(self, at_least: int = 1) -> None:
        """Add the buffered episodes to the totals and empty the buffer, if it holds
        ``at_least`` episodes."""
        if len(self.buffer) < WIDTH * at_least:
            return
        b = np.fromiter(self.buffer, float, len(self.buffer)).reshape(-1, WIDTH)
        self.buffer.clear()
        n = len(EPISODE_OUTCOMES)
        self._ended += np.bincount(b[:, 2].astype(np.intp), minlength=n)
        b = b[(b[:, 0] >= self.lo) & (b[:, 0] < self.hi)]  # started in the window
        outcome = b[:, 2].astype(np.intp)
        resolved = outcome == RESOLVED
        tot = self._sums
        tot[0] += len(b)
        tot[1:1 + n] += np.bincount(outcome, minlength=n)
        tot[1 + n] += np.count_nonzero(resolved & (b[:, 3] == 1))  # first-contact resolutions
        tot[2 + n] += (b[resolved, 1] - b[resolved, 0]).sum()  # time to resolve
        tot[3 + n:] += b[:, 3:].sum(axis=0)

    def frame(
        self, segments: list[str], reasons: list[str], channels: list[str], touchpoints: list[str]
    ) -> pd.DataFrame:
        """The rows as a DataFrame, codes decoded to names ('|'-joined for several)."""
        df = pd.DataFrame({c: np.asarray(v) for c, v in self.rows.items()})
        if df.empty:
            return df
        df["segment"] = pd.Categorical.from_codes(df["segment"], segments)
        df["reason"] = pd.Categorical.from_codes(df["reason"], reasons)
        df["outcome"] = pd.Categorical.from_codes(df["outcome"], list(EPISODE_OUTCOMES))
        df["first_channel"] = [channels[i] if i >= 0 else "" for i in df["first_channel"]]
        df["channels"] = [_names(m, channels) for m in df["channels"]]
        df["touchpoints"] = [_names(m, touchpoints) for m in df["touchpoints"]]
        df["bot"] = pd.Categorical.from_codes(df["bot"], list(BOT_STATES))
        df["resolved"] = df["outcome"] == EPISODE_OUTCOMES[RESOLVED]
        df["ttr_min"] = np.where(df["resolved"], df["end_min"] - df["start_min"], np.nan)
        return df


def _names(mask: int, names: list[str]) -> str:
    return "|".join(n for i, n in enumerate(names) if mask >> i & 1)
