"""Synthetic contact logs with known truth, from a small queue simulator independent of cxsim.

``simulate`` runs one FIFO multi-server queue with impatient customers (M_t/G/c_t+G): Poisson
arrivals at a piecewise-constant rate by weekday and hour, agents on duty by weekday and hour
(agent j works whenever more than j agents are scheduled, and finishes the call in hand),
lognormal handle times and Weibull patience. FIFO with customer-bound patience needs no event
queue: a customer's start of service is the earliest time an on-duty agent is free once every
earlier customer who stayed has been placed (Kiefer-Wolfowitz), and a customer whose wait
would exceed their patience leaves at arrival + patience. Abandoners may redial.

``technion_text`` writes a log in the Technion SEE call-centre format (tab-separated, CRLF,
``h:mm:ss`` on a ``yymmdd`` date), adding the rows cxsim must set apart: hang-ups inside the
VRU, phantom calls and a duplicated row. Run ``python tests/contact_logs.py`` to regenerate
``tests/data/technion_sample.txt`` (a test checks that the committed file is what this writes).
"""

from __future__ import annotations

import heapq
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

HOURS = 24
SAMPLE = Path(__file__).parent / "data" / "technion_sample.txt"
TECHNION_FIELDS = ("vru+line", "call_id", "customer_id", "priority", "type", "date", "vru_entry",
                   "vru_exit", "vru_time", "q_start", "q_exit", "q_time", "outcome", "ser_start",
                   "ser_exit", "ser_time", "server")


@dataclass
class Truth:
    """What generates a log: rates and agents by weekday (Monday first) x hour."""

    rate_per_hour: np.ndarray  # (7, 24)
    agents: np.ndarray  # (7, 24)
    days: int
    first_weekday: int = 0  # weekday of day 0
    handle_mu: float = np.log(4.0)  # log-minutes
    handle_sigma: float = 0.6
    patience_shape: float = 1.0  # Weibull shape (1: exponential)
    patience_scale: float = 10.0  # minutes
    redial_prob: float = 0.0
    redial_mean_min: float = 20.0
    customers: int = 1000
    missing_days: tuple[int, ...] = ()
    queue: str = "support"
    reasons: tuple[str, ...] = ("billing", "delivery")
    extra: dict = field(default_factory=dict)

    @property
    def patience_mean(self) -> float:
        from scipy.special import gamma

        return self.patience_scale * float(gamma(1 + 1 / self.patience_shape))

    @property
    def handle_mean(self) -> float:
        return float(np.exp(self.handle_mu + self.handle_sigma**2 / 2))


def day_profile(open_hour: int, close_hour: int, level: float, peak: float = 1.6) -> np.ndarray:
    """A day's hourly shape: closed outside [open, close), a bump around midday."""
    h = np.arange(HOURS) + 0.5
    shape = level * (1 + (peak - 1) * np.exp(-((h - 13) / 3.0) ** 2))
    return np.where((h > open_hour) & (h < close_hour), shape, 0.0)


def _duty(truth: Truth) -> tuple[np.ndarray, np.ndarray]:
    """on[j, hour] (agent j on duty in that hour of the horizon) and next_on[j, hour] (the
    first on-duty hour >= hour, or a big number)."""
    n_hours = truth.days * HOURS
    weekday = (np.arange(truth.days) + truth.first_weekday) % 7
    level = truth.agents[weekday].reshape(-1)
    c = int(truth.agents.max())
    on = np.arange(c)[:, None] < level[None, :]
    nxt = np.full((c, n_hours + 1), 10**9, dtype=np.int64)
    for j in range(c):
        for hr in range(n_hours - 1, -1, -1):
            nxt[j, hr] = hr if on[j, hr] else nxt[j, hr + 1]
    return on, nxt


def simulate(truth: Truth, seed: int) -> pd.DataFrame:
    """One log in canonical columns (times in minutes since day 0's midnight)."""
    rng = np.random.default_rng(seed)
    weekday = (np.arange(truth.days) + truth.first_weekday) % 7
    lam = truth.rate_per_hour[weekday].reshape(-1)
    counts = rng.poisson(lam)
    hours = np.repeat(np.arange(lam.size), counts)
    times = np.sort((hours + rng.random(hours.size)) * 60.0)
    customers = rng.integers(1, truth.customers + 1, times.size)
    heap = [(t, i, int(customers[i]), 0) for i, t in enumerate(times)]
    heapq.heapify(heap)
    on, nxt = _duty(truth)
    free = np.zeros(on.shape[0])
    rows, serial = [], times.size
    while heap:
        t, cid, cust, redial = heapq.heappop(heap)
        avail = np.maximum(free, t)
        hr = np.minimum((avail // 60).astype(np.int64), nxt.shape[1] - 1)
        start_hr = nxt[np.arange(free.size), hr]
        avail = np.where(start_hr == hr, avail, start_hr * 60.0)
        j = int(np.argmin(avail))
        start = float(avail[j])
        patience = truth.patience_scale * rng.weibull(truth.patience_shape)
        handle = float(np.exp(truth.handle_mu + truth.handle_sigma * rng.standard_normal()))
        reason = truth.reasons[int(rng.integers(len(truth.reasons)))]
        if start - t > patience:
            rows.append((cid, cust, t, t, t + patience, np.nan, np.nan, "abandoned", None,
                         reason, redial))
            if rng.random() < truth.redial_prob:
                heapq.heappush(heap, (t + patience + rng.exponential(truth.redial_mean_min),
                                      serial, cust, 1))
                serial += 1
        else:
            free[j] = start + handle
            rows.append((cid, cust, t, t, start, start, start + handle, "served", f"A{j + 1:02d}",
                         reason, redial))
    f = pd.DataFrame(rows, columns=["n", "customer", "arrival", "queue_entry", "queue_exit",
                                    "service_start", "service_end", "outcome", "agent_id",
                                    "reason", "redial"]).sort_values("arrival", kind="stable")
    day = (f["arrival"] // 1440).astype(int)
    f = f[~day.isin(truth.missing_days)].reset_index(drop=True)
    return pd.DataFrame({
        "contact_id": [f"C{n}" for n in f["n"]], "customer_id": [f"K{c}" for c in f["customer"]],
        "channel": "phone", "queue": truth.queue, "arrival": f["arrival"],
        "queue_entry": f["queue_entry"], "queue_exit": f["queue_exit"],
        "service_start": f["service_start"], "service_end": f["service_end"],
        "outcome": f["outcome"], "agent_id": f["agent_id"], "case_id": None,
        "reason": f["reason"], "priority": None, "transfer_from": None,
        "redial": f["redial"],
    })


def write_canonical(frame: pd.DataFrame, path: Path) -> Path:
    """The canonical CSV, written by pandas (not by cxsim), floats in round-trip form."""
    cols = ["contact_id", "customer_id", "channel", "queue", "arrival", "queue_entry",
            "queue_exit", "service_start", "service_end", "outcome", "agent_id", "case_id",
            "reason", "priority", "transfer_from"]
    frame[cols].to_csv(path, index=False, float_format="%.17g")
    return path


def _hms(seconds: np.ndarray) -> list[str]:
    s = np.asarray(np.round(seconds), dtype=np.int64) % 86400
    return [f"{x // 3600}:{x // 60 % 60:02d}:{x % 60:02d}" for x in s]


def technion_truth() -> Truth:
    """A small centre open 7:00-24:00 (so calls cross midnight), three days from a Friday."""
    rate = np.tile(day_profile(7, 24, 14.0), (7, 1))
    agents = np.where(rate > 0, 3, 0)
    return Truth(rate, agents, days=3, first_weekday=4, handle_mu=np.log(3.0),
                 handle_sigma=0.8, patience_scale=4.0, customers=150,
                 extra={"vru_hangs": 9, "phantoms": 4, "zero_services": 3, "duplicates": 1,
                        "date0": "990101"})


def technion_rows(truth: Truth, seed: int) -> tuple[list[list[str]], dict]:
    """Rows of the Technion format and what reading them must give (counts, and the
    canonical arrival / wait / handle in seconds of each kept call, by call_id)."""
    rng = np.random.default_rng(seed)
    log = simulate(truth, seed)
    day0 = pd.Timestamp("19" + truth.extra["date0"])
    n = len(log)
    vru = rng.integers(3, 40, n).astype(float)
    arrival = np.round(log["arrival"].to_numpy() * 60.0)  # whole seconds, as the format has
    served = (log["outcome"] == "served").to_numpy()
    q_exit = np.round(log["queue_exit"].to_numpy() * 60.0)
    ser_end = np.where(served, np.round(log["service_end"].to_numpy() * 60.0), np.nan)
    zero = rng.choice(np.flatnonzero(served), truth.extra["zero_services"], replace=False)
    ser_end[zero] = q_exit[zero]
    waited = q_exit > arrival
    rows, expect, crossed = [], {}, 0
    for i in range(n):
        entry = arrival[i] - vru[i]
        day = int(entry // 86400)
        call_id = f"{10000 + 3 * i:05d}"
        cust = "0" if i % 17 == 0 else log["customer_id"][i][1:]
        queued = waited[i] or not served[i]
        q_start, q_end = (arrival[i], q_exit[i]) if queued else (np.nan, np.nan)
        s0, s1 = (q_exit[i], ser_end[i]) if served[i] else (np.nan, np.nan)
        times = [entry, arrival[i], q_start, q_end, s0, s1]
        crossed += int(np.nanmax(times) // 86400) > day
        hms = ["0:00:00" if np.isnan(x) else _hms(np.array([x]))[0] for x in times]
        rows.append([f"AA0{1 + i % 6}{1 + i % 16:02d}", call_id, cust, str(i % 3),
                     ("PS", "PS", "PE", "IN", "NE", "NW")[i % 6],
                     (day0 + pd.Timedelta(days=day)).strftime("%y%m%d"), hms[0], hms[1],
                     str(int(vru[i])), hms[2], hms[3],
                     str(int(q_end - q_start)) if queued else "0",
                     "AGENT" if served[i] else "HANG", hms[4], hms[5],
                     str(int(s1 - s0)) if served[i] else "0",
                     f"AGENT{log['agent_id'][i][1:]}" if served[i] else "NO_SERVER"])
        expect[call_id] = (arrival[i], (q_end - q_start) if queued else 0.0,
                           (s1 - s0) if served[i] else np.nan)
    extra = []
    for k in range(truth.extra["vru_hangs"]):  # hung up in the VRU: never queued
        t = 8 * 3600 + 1800 * k
        extra.append(["AA0101", f"{20000 + k}", "0", "0", "PS", truth.extra["date0"],
                      _hms([t])[0], _hms([t + 25])[0], "25", "0:00:00", "0:00:00", "0",
                      "HANG", "0:00:00", "0:00:00", "0", "NO_SERVER"])
    for k in range(truth.extra["phantoms"]):
        extra.append(["AA0202", f"{30000 + k}", "0", "0", "PS", truth.extra["date0"],
                      _hms([9 * 3600 + 77 * k])[0], "0:00:00", "0", "0:00:00", "0:00:00", "0",
                      "PHANTOM", "0:00:00", "0:00:00", "0", "NO_SERVER"])
    rows = rows + extra
    rows.insert(len(rows) // 2, list(rows[len(rows) // 3]))  # one exact duplicate
    counts = {"served": int(served.sum()), "abandoned": int((~served).sum()),
              "vru_hangs": truth.extra["vru_hangs"], "phantoms": truth.extra["phantoms"],
              "duplicates": truth.extra["duplicates"], "zero_services": len(zero),
              "crossed_midnight": crossed,
              "unidentified": int(sum(1 for r in rows if r[2] == "0"))}
    return rows, {"counts": counts, "calls": expect, "day0": day0}


def technion_text(truth: Truth, seed: int) -> str:
    rows, _ = technion_rows(truth, seed)
    return "".join("\t".join(r) + "\r\n" for r in [list(TECHNION_FIELDS), *rows])


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else SAMPLE
    target.write_bytes(technion_text(technion_truth(), seed=1999).encode("ascii"))
    print(f"wrote {target}")
