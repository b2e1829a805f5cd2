"""How well a calibrated scenario reproduces a log: both sides by hour of day, with CIs.

The observed side pools the log's queues over its observed days. Every figure is a ratio of
per-day sums (arrivals a day, ASA = answered wait / served, service level = answered within
the threshold / offered, abandonment = abandoned / offered, AHT, occupancy = handle time of
the hour's arrivals / agent-minutes on duty, the engine's definitions), so its interval treats
days as the independent units: contacts of one day share its load, and treating them as
independent would make the intervals too narrow. Ratio intervals are the delta method's
(t quantile, days - 1 degrees of freedom). The simulated side is the engine's replications,
each figure's mean with its Student-t interval over replications. A row agrees when the
difference is within the 95% interval of a difference of two independent estimates,
sqrt(h_obs^2 + h_sim^2).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from scipy import stats

from cxsim.calibrate.operations.cis import SERVED_OUTCOMES, handle_times, waits
from cxsim.data.contacts.canonical import MIN_PER_DAY, Calendar, ContactLog
from cxsim.engine.report import F, by_hour_of_day
from cxsim.engine.staffing import touchpoint_agents
from cxsim.metrics import mean_ci
from cxsim.spec import Scenario

HOURS = 24


def _hourly_agent_minutes(scenario: Scenario, names: list[str]) -> np.ndarray:
    """Agent-minutes on duty in each hour of each weekday, (7, 24), over the named queues."""
    minutes = sum(touchpoint_agents(scenario.touchpoints[n]) for n in names)
    return np.asarray(minutes, float).reshape(7, HOURS, 60).sum(axis=-1)


FIGURES = ("arrivals", "asa_min", "service_level", "abandon_rate", "aht_min", "occupancy")
SHARES = ("service_level", "abandon_rate", "occupancy")
TIMES = ("arrival", "queue_entry", "queue_exit", "service_start", "service_end")


def log_days(log: ContactLog, start: int, stop: int) -> ContactLog:
    """The contacts arriving on days ``[start, stop)`` of ``log``, on a clock starting at day
    ``start``'s midnight (its own calendar)."""
    f = log.contacts
    keep = (f["arrival"] >= start * MIN_PER_DAY) & (f["arrival"] < stop * MIN_PER_DAY)
    part = f[keep].reset_index(drop=True).copy()
    for col in TIMES:
        part[col] = part[col] - start * MIN_PER_DAY
    cal = log.calendar
    origin = (pd.Timestamp(cal.origin) + pd.Timedelta(days=start)).isoformat()
    reasons = {d - start: r for d, r in cal.reasons.items() if start <= d < stop}
    calendar = Calendar(origin, stop - start, cal.observed[start:stop].copy(), reasons)
    return dataclasses.replace(log, contacts=part, calendar=calendar,
                               counts={**log.counts, "contacts": len(part)})


def _day_sums(log: ContactLog, sl_threshold_min: float, by: str | None,
              queues: list[str]) -> tuple[dict, np.ndarray]:
    """Per observed day x hour of arrival: the sums every figure is a ratio of, over the
    contacts of the agent queues (``queues``, groups of column ``by``)."""
    f = log.contacts
    if by is not None:
        f = f[f[by].astype("str").isin(queues)]
    outcome = f["outcome"].astype("str").to_numpy()
    served = np.isin(outcome, SERVED_OUTCOMES)
    abandoned = outcome == "abandoned"
    offered = served | abandoned
    wait = np.nan_to_num(waits(f))
    handle = np.nan_to_num(handle_times(f))
    t = f["arrival"].to_numpy(float)
    day = (t // MIN_PER_DAY).astype(np.int64)
    hour = (t // 60 % HOURS).astype(np.int64)
    days = log.calendar.observed_days()
    index = np.full(log.calendar.n_days, -1)
    index[days] = np.arange(days.size)
    row = index[np.clip(day, 0, log.calendar.n_days - 1)]
    ok = (row >= 0) & offered

    def total(weights: np.ndarray) -> np.ndarray:
        flat = np.bincount(row[ok] * HOURS + hour[ok], weights[ok].astype(float),
                           minlength=days.size * HOURS)
        return flat.reshape(days.size, HOURS)

    sums = {"arrivals": total(np.ones(len(f))), "served": total(served),
            "abandoned": total(abandoned), "answer_wait": total(np.where(served, wait, 0)),
            "within_sl": total(served & (wait <= sl_threshold_min)),
            "handle": total(np.where(served, handle, 0))}
    return sums, days


def _ratio_ci(num: np.ndarray, den: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Ratio of column sums over days (rows) and its delta-method half-width."""
    n = num.shape[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        r = num.sum(axis=0) / den.sum(axis=0)
        resid = num - r * den
        var = (resid**2).sum(axis=0) / (n * (n - 1)) / den.mean(axis=0) ** 2 if n > 1 else \
            np.full(num.shape[1], np.nan)
    q = stats.t.ppf((1 + level) / 2, max(n - 1, 1))
    return r, q * np.sqrt(var)


def observed_by_hour(log: ContactLog, scenario: Scenario, level: float = 0.95,
                     by: str | None = "queue") -> dict:
    """Each figure of :data:`FIGURES` by hour of day over the log's observed days, for the
    contacts of the scenario's agent queues (touchpoints named after the groups of column
    ``by``; None: every contact): value and half-width (``nan`` where undefined)."""
    queues = [n for n, tp in scenario.touchpoints.items() if tp.kind == "queue"]
    sl = scenario.touchpoints[queues[0]].sl_threshold_min
    s, days = _day_sums(log, sl, by, queues)
    n = days.size
    q = stats.t.ppf((1 + level) / 2, max(n - 1, 1))
    out = {"arrivals": (s["arrivals"].mean(axis=0),
                        q * s["arrivals"].std(axis=0, ddof=1) / np.sqrt(n) if n > 1
                        else np.full(HOURS, np.nan))}
    out["asa_min"] = _ratio_ci(s["answer_wait"], s["served"], level)
    out["service_level"] = _ratio_ci(s["within_sl"], s["arrivals"], level)
    out["abandon_rate"] = _ratio_ci(s["abandoned"], s["arrivals"], level)
    out["aht_min"] = _ratio_ci(s["handle"], s["served"], level)
    weekday = log.calendar.weekday(days)
    staffed = _hourly_agent_minutes(scenario, queues)[weekday]  # (day, hour) agent-minutes
    out["occupancy"] = _ratio_ci(s["handle"], staffed.astype(float), level)
    return out


def simulated_by_hour(scenario: Scenario, results: list, level: float = 0.95) -> dict:
    """The same figures from the engine's replications (their mean and t half-width)."""
    names = list(scenario.touchpoints)
    queues = [i for i, n in enumerate(names) if scenario.touchpoints[n].kind == "queue"]
    sums = by_hour_of_day(np.stack([r.touchpoint_sums for r in results])[:, queues].sum(axis=1))
    g = {k: sums[:, i] for k, i in F.items()}  # (rep, hour)
    window_days = scenario.horizon - scenario.warmup
    first = int(scenario.warmup)
    weekdays = (np.arange(first, int(np.ceil(scenario.horizon)))) % 7
    staffed = _hourly_agent_minutes(scenario, [names[i] for i in queues])[weekdays].sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_rep = {
            "arrivals": g["arrivals"] / window_days,
            "asa_min": g["answer_wait_sum"] / g["served"],
            "service_level": g["within_sl"] / g["arrivals"],
            "abandon_rate": g["abandoned"] / g["arrivals"],
            "aht_min": g["handle_sum"] / g["served"],
            "occupancy": g["handle_sum"] / np.where(staffed > 0, staffed, np.nan),
        }
    return {k: (v.mean(axis=0), mean_ci(v.T, level)) for k, v in per_rep.items()}


def _num(x: float) -> float | None:
    return None if not np.isfinite(x) else float(x)


def compare_by_hour(observed: dict, simulated: dict) -> dict:
    """``by_hour`` rows (observed and simulated figures with their CIs, and whether they
    agree) and the share of hours that agree for each figure."""
    rows, agree = [], {k: [] for k in FIGURES}
    for h in range(HOURS):
        row: dict = {"hour": h, "observed": {}, "simulated": {}, "agree": {}}
        for k in FIGURES:
            (ov, oh), (sv, sh) = observed[k], simulated[k]
            top = 1.0 if k in SHARES else np.inf  # reported intervals stay in range
            for side, v, hw in (("observed", ov[h], oh[h]), ("simulated", sv[h], sh[h])):
                row[side][k] = _num(v)
                row[side][f"{k}_ci"] = [_num(max(v - hw, 0.0)), _num(min(v + hw, top))]
            both = np.isfinite([ov[h], sv[h], oh[h], sh[h]]).all()
            if both and (ov[h] > 0 or sv[h] > 0):
                ok = bool(abs(ov[h] - sv[h]) <= np.hypot(oh[h], sh[h]))
                row["agree"][k] = ok
                agree[k].append(ok)
        rows.append(row)
    share = {k: (float(np.mean(v)) if v else None) for k, v in agree.items()}
    return {"by_hour": rows, "agree_share": share,
            "hours_compared": {k: len(v) for k, v in agree.items()}}
