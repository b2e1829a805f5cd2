"""Operational metrics from replication sums: per touchpoint, channel, hour and interval of
the week, with CIs.

Each figure is computed per replication and then averaged; its ``_ci`` is the 95% half-width
of that mean over independent replications (Student t), so it needs at least 2 replications.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.special import stdtrit

from cxsim.engine.priority import class_figures
from cxsim.engine.run import ReplicationResult
from cxsim.engine.staffing import interval_staffed_minutes, staffed_minutes, weekly_agents
from cxsim.engine.stats import FIELDS
from cxsim.metrics import derived, mean_ci
from cxsim.spec import Scenario
from cxsim.spec.kinds import (
    HOURS_PER_DAY,
    KINDS,
    MINUTES_PER_DAY,
    MINUTES_PER_HOUR,
    MINUTES_PER_WEEK,
)

F = {name: i for i, name in enumerate(FIELDS)}


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def queue_figures(sums: np.ndarray, staffed: np.ndarray | float) -> dict[str, np.ndarray]:
    """Contact-centre figures from sums over ``FIELDS`` (first axis), any trailing shape."""
    g = {name: sums[i] for name, i in F.items()}
    # Waits are those of customers on the line: a call-back's customer waits elsewhere.
    on_line = g["arrivals"] - g["callbacks"]
    answered = g["served"] - g["callback_answered"]
    return {
        "volume": g["arrivals"],
        "p_wait": _ratio(g["waited"], on_line),
        "mean_wait": _ratio(g["wait_sum"], on_line),
        "asa": _ratio(g["answer_wait_sum"], answered),
        "service_level": _ratio(g["within_sl"], on_line),
        "abandon_rate": _ratio(g["abandoned"], g["arrivals"]),
        "aht": _ratio(g["handle_sum"], g["served"]),
        "fcr": _ratio(g["resolved"], g["served"]),
        "transfer_rate": _ratio(g["transferred"], g["served"]),
        "repeat_rate": _ratio(g["repeats"], g["served"]),
        "occupancy": _ratio(g["busy_sum"], np.asarray(staffed, float)),
    }


def callback_figures(sums: np.ndarray) -> dict[str, np.ndarray]:
    """Call-backs apart: how many took one, how many answered, how long they waited for it."""
    g = {name: sums[i] for name, i in F.items()}
    return {
        "callbacks": g["callbacks"],
        "callback_rate": _ratio(g["callbacks"], g["arrivals"]),
        "callback_answer_rate": _ratio(g["callback_answered"], g["callbacks"]),
        "callback_missed": g["callback_missed"],
        "callback_mean_delay": _ratio(g["callback_delay_sum"], g["callbacks"]),
    }


def automation_figures(sums: np.ndarray) -> dict[str, np.ndarray]:
    """Self-service and bot figures: volume, containment, escalation and loop rates."""
    g = {name: sums[i] for name, i in F.items()}
    return {
        "volume": g["arrivals"],
        "containment": _ratio(g["contained"], g["arrivals"]),
        "escalation_rate": _ratio(g["escalated"], g["arrivals"]),
        "loop_rate": _ratio(g["looped"], g["arrivals"]),
    }


def episode_figures(t: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Need-level figures: resolution, first-contact resolution, effort drivers, TTR."""
    n = t["needs"]
    return {
        "needs": n,
        "resolved_rate": _ratio(t["resolved"], n),
        "gave_up_rate": _ratio(t["gave_up"] + t["abandoned"], n),
        "fcr": _ratio(t["first_contact_resolved"], n),
        "mean_ttr": _ratio(t["ttr_sum"], t["resolved"]),
        "contacts_per_need": _ratio(t["contacts"], n),
        "wait_per_need": _ratio(t["wait_sum"], n),
        "steps_per_need": _ratio(t["steps"], n),
        "transfers_per_need": _ratio(t["transfers"], n),
        "repeats_per_need": _ratio(t["repeats"], n),
        "switches_per_need": _ratio(t["switches"], n),
    }


def _mean_and_ci(per_rep: np.ndarray) -> tuple[float, float]:
    """Mean over replications and its 95% half-width, ignoring replications where the figure
    is undefined (e.g. an ASA with nobody served)."""
    x = np.asarray(per_rep, float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return math.nan, math.nan
    return float(x.mean()), float(mean_ci(x))


def _summarise(figures: dict[str, np.ndarray]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for name, per_rep in figures.items():
        mean, half = _mean_and_ci(per_rep)
        out[name] = _clean(mean)
        out[f"{name}_ci"] = _clean(half)
    return out


def _clean(x: float) -> float | None:
    return None if not math.isfinite(x) else round(float(x), 6)


# The figures reported per interval of the week, for every staffed (assisted) touchpoint.
INTERVAL_FIGURES = ("volume", "asa", "mean_wait", "p_wait", "service_level", "abandon_rate",
                    "occupancy")


def _means_and_cis(per_rep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_mean_and_ci` along the first axis (replications), for every other element."""
    x = np.asarray(per_rep, float)
    ok = np.isfinite(x)
    n = ok.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(ok, x, 0.0).sum(axis=0) / np.where(n > 0, n, 1)
        mean = np.where(n > 0, mean, np.nan)
        dev = np.where(ok, x - mean, 0.0)
        sd = np.sqrt((dev ** 2).sum(axis=0) / np.where(n > 1, n - 1, 1))
        half = np.where(n > 1, _t_half(n) * sd / np.sqrt(np.where(n > 0, n, 1)), np.nan)
    return mean, half


def _t_half(n: np.ndarray) -> np.ndarray:
    """Student-t quantile of a 95% two-sided interval with n - 1 degrees of freedom (as
    :func:`cxsim.metrics.mean_ci`)."""
    return stdtrit(np.maximum(n - 1, 1), 0.975)


def window_minutes(s: Scenario) -> np.ndarray:
    """Minutes of the measurement window falling in each interval of the week."""
    lo, hi = s.warmup * MINUTES_PER_DAY, s.horizon * MINUTES_PER_DAY
    ones = np.ones(int(MINUTES_PER_WEEK), dtype=np.int64)
    return interval_staffed_minutes(ones, lo, hi, s.interval_min)


def by_interval(s: Scenario, results: Sequence[ReplicationResult]) -> dict:
    """Per assisted touchpoint, :data:`INTERVAL_FIGURES` for every interval of the week
    (weekday 0 = Monday, start minute after 00:00), each the mean over replications with its
    95% half-width ``_ci``; ``window_min`` is how many minutes of the measurement window fall
    in the interval (volume / window_min is its arrival rate per minute)."""
    width = s.interval_min
    bins = int(MINUTES_PER_WEEK) // width
    start = np.arange(bins) * width
    doc: dict = {}
    window = window_minutes(s)
    for i, (name, tp) in enumerate(s.touchpoints.items()):
        if not KINDS[tp.kind].assisted:
            continue
        sums = np.stack([r.touchpoint_sums[i] for r in results], axis=1)  # (field, rep, bin)
        staffed = np.stack([r.staffed_by_interval[i] for r in results])  # (rep, bin)
        figures = queue_figures(sums, staffed * tp.concurrency.chats)
        entry: dict = {"interval_min": width,
                       "weekday": (start // MINUTES_PER_DAY).astype(int).tolist(),
                       "start_min": (start % MINUTES_PER_DAY).astype(int).tolist(),
                       "window_min": [_clean(v) for v in window],
                       "agent_minutes": [_clean(v) for v in staffed.mean(axis=0)]}
        entry.update(_interval_entries(figures))
        if tp.groups and results[0].group_sums is not None:
            entry.update(_groups_by_interval(s, tp, results, name))
        doc[name] = entry
    return doc


def _groups_by_interval(s: Scenario, tp, results: Sequence[ReplicationResult],
                        name: str) -> dict:
    """Per agent group, :data:`INTERVAL_FIGURES` per interval of the week with their
    ``_ci``: the waits of the contacts whose primary group it is (the first holding their
    skill: what staffing that group answers for), the occupancy of its own agents, and its
    ``agent_minutes`` on duty."""
    lo, hi = s.warmup * MINUTES_PER_DAY, s.horizon * MINUTES_PER_DAY
    busy = np.stack([r.group_sums[name][1][:, 1:] for r in results])  # (rep, group, bin)
    primary = np.stack([r.group_sums[name][2] for r in results])  # (rep, group, field, bin)
    out: dict = {}
    for k, (g_name, g) in enumerate(tp.groups.items()):
        staffed = interval_staffed_minutes(weekly_agents(g.shifts, g.staffing), lo, hi,
                                           s.interval_min)
        sums = primary[:, k].copy()
        sums[:, F["busy_sum"]] = busy[:, k]
        figures = queue_figures(np.moveaxis(sums, 1, 0), staffed * tp.concurrency.chats)
        out[g_name] = {"agent_minutes": [_clean(v) for v in staffed],
                       **_interval_entries(figures)}
    return {"groups": out}


def _interval_entries(figures: dict[str, np.ndarray]) -> dict[str, list]:
    """:data:`INTERVAL_FIGURES` per interval: means over replications (first axis) and
    their ``_ci``."""
    entry: dict[str, list] = {}
    for key in INTERVAL_FIGURES:
        mean, half = _means_and_cis(figures[key])
        entry[key] = [_clean(v) for v in mean]
        entry[f"{key}_ci"] = [_clean(v) for v in half]
    return entry


def by_hour_of_day(sums: np.ndarray) -> np.ndarray:
    """Sums over the intervals of the week (last axis, of any width) folded onto the 24
    hours of the day."""
    bins = sums.shape[-1]
    hour = np.arange(bins) * (int(MINUTES_PER_WEEK) // bins) // MINUTES_PER_HOUR % HOURS_PER_DAY
    return sums @ np.eye(HOURS_PER_DAY)[hour.astype(int)]


def _by_class(s: Scenario, results: Sequence[ReplicationResult]) -> dict[str, dict]:
    """Per touchpoint with priority classes, and under "" for its live ones pooled class by
    class (class 1 with class 1...): :func:`cxsim.engine.priority.class_figures`, each a
    mapping of class ("1" first) to its mean over replications, with its ``_ci``."""
    if results[0].class_sums is None:
        return {}
    parts = {name: np.stack([r.class_sums[name] for r in results])  # (rep, class, field)
             for name in results[0].class_sums}
    live = [p for name, p in parts.items() if KINDS[s.touchpoints[name].kind].live]
    if live:
        pooled = np.zeros((len(results), max(p.shape[1] for p in live), live[0].shape[2]))
        for p in live:
            pooled[:, :p.shape[1]] += p
        parts[""] = pooled
    doc: dict[str, dict] = {}
    for name, sums in parts.items():
        entry = doc[name] = {}
        for key, per_rep in class_figures(sums).items():
            labels = [str(k + 1) for k in range(per_rep.shape[1])]
            entry[key], entry[f"{key}_ci"] = _labelled(per_rep, labels)
    return doc


def _labelled(per_rep: np.ndarray, labels: Sequence[str]) -> tuple[dict, dict]:
    """Means over replications (first axis) of each column, and their ``_ci``, by label."""
    both = [_mean_and_ci(per_rep[:, k]) for k in range(per_rep.shape[1])]
    return ({lab: _clean(m) for lab, (m, _) in zip(labels, both, strict=True)},
            {lab: _clean(h) for lab, (_, h) in zip(labels, both, strict=True)})


def _by_group(s: Scenario, results: Sequence[ReplicationResult]) -> dict[str, dict]:
    """Per touchpoint with agent groups: per skill its volume, mean wait, P(wait) and
    abandonment, per group its calls served and occupancy (busy over agent-minutes on
    duty in the window), each by name with its ``_ci``."""
    if results[0].group_sums is None:
        return {}
    lo, hi = s.warmup * MINUTES_PER_DAY, s.horizon * MINUTES_PER_DAY
    doc: dict[str, dict] = {}
    for name in results[0].group_sums:
        tp = s.touchpoints[name]
        skills = sorted({x for g in tp.groups.values() for x in g.skills})
        per_skill = np.stack([r.group_sums[name][0] for r in results])  # (rep, skill, field)
        per_group = np.stack([r.group_sums[name][1] for r in results])  # (rep, group, 1+bins)
        staffed = np.array([staffed_minutes(weekly_agents(g.shifts, g.staffing), lo, hi)
                            for g in tp.groups.values()]) * tp.concurrency.chats
        figures = {"volume_by_skill": per_skill[..., 0], **{
            k.replace("_by_class", "_by_skill"): v
            for k, v in class_figures(per_skill).items()},
            "served_by_group": per_group[..., 0],
            "occupancy_by_group": _ratio(per_group[..., 1:].sum(axis=-1), staffed)}
        entry = doc[name] = {}
        for key, per_rep in figures.items():
            labels = skills if key.endswith("_by_skill") else list(tp.groups)
            entry[key], entry[f"{key}_ci"] = _labelled(per_rep, labels)
    return doc


def summarise(s: Scenario, results: Sequence[ReplicationResult]) -> dict:
    """The metrics document: headline queue figures, then needs, channels, touchpoints,
    and service level / ASA / volume by hour of day per channel."""
    names = list(s.touchpoints)
    kinds = np.array([tp.kind for tp in s.touchpoints.values()])
    traits = [KINDS[k] for k in kinds.tolist()]
    assisted = np.array([t.assisted for t in traits], bool)
    automated = np.array([t.automated for t in traits], bool)
    live = np.array([t.live for t in traits], bool)  # the headline figures pool live queues
    channels = np.array([tp.channel for tp in s.touchpoints.values()])
    sums = np.stack([r.touchpoint_sums for r in results])  # (rep, tp, field, hour)
    daily = sums.sum(axis=-1)  # (rep, tp, field)
    # Occupancy is of the slots agents work: an agent holding k chats is k slots.
    chats = np.array([tp.concurrency.chats for tp in s.touchpoints.values()])
    staffed = np.stack([r.staffed_min for r in results]) * chats  # (rep, tp)

    def pooled(mask: np.ndarray, automated: bool = False) -> dict[str, np.ndarray]:
        part = daily[:, mask].sum(axis=1).T  # (field, rep)
        if automated:
            return automation_figures(part)
        return queue_figures(part, staffed[:, mask].sum(axis=1))

    doc: dict = {
        "replications": len(results),
        "horizon_days": s.horizon,
        "warmup_days": s.warmup,
        "seed": s.seed,
    }
    top = pooled(live) if live.any() else {}
    if results[0].outcome_figures is not None:
        top.update({k: np.array([r.outcome_figures[k] for r in results])
                    for k in results[0].outcome_figures})
    top.update(derived(top))  # registered KPIs of these figures, per replication
    doc.update(_summarise(top))
    by_class = _by_class(s, results)  # touchpoints with priority classes (and live ones pooled)
    by_group = _by_group(s, results)  # touchpoints with agent groups
    doc.update(by_class.pop("", {}))
    totals = {
        k: np.array([r.episode_totals[k] for r in results]) for k in results[0].episode_totals
    }
    doc["needs"] = _summarise(episode_figures(totals))
    doc["channels"] = {}
    for ch in sorted(set(channels.tolist())):
        mask = channels == ch
        doc["channels"][ch] = _summarise(pooled(mask, bool(automated[mask].all())))
    doc["touchpoints"] = {}
    for i, name in enumerate(names):
        mask = np.arange(len(names)) == i
        doc["touchpoints"][name] = {
            "channel": channels[i],
            "kind": kinds[i],
            **_summarise(pooled(mask, bool(automated[i]))),
        }
        if s.touchpoints[name].redial.prob > 0 and assisted[i]:
            # Redials apart from first attempts: offered (the volume) = unique callers + redials.
            redials, offered = daily[:, i, F["redials"]], daily[:, i, F["arrivals"]]
            doc["touchpoints"][name].update(_summarise({
                "redials": redials, "unique_callers": offered - redials,
                "redial_share": _ratio(redials, offered)}))
        if s.touchpoints[name].callback.offer_wait_s is not None and assisted[i]:
            doc["touchpoints"][name].update(_summarise(callback_figures(daily[:, i].T)))
        doc["touchpoints"][name].update(by_class.get(name, {}))
        doc["touchpoints"][name].update(by_group.get(name, {}))
    doc["by_hour"] = {}
    for ch in sorted(set(channels.tolist())):
        mask = (channels == ch) & assisted
        if not mask.any():
            continue
        hourly = by_hour_of_day(sums[:, mask].sum(axis=1).mean(axis=0))  # mean over reps
        fig = queue_figures(hourly, np.full(HOURS_PER_DAY, np.nan))
        doc["by_hour"][ch] = {
            k: [_clean(v) for v in fig[k]]
            for k in ("volume", "service_level", "asa", "abandon_rate")
        }
    doc["by_interval"] = by_interval(s, results)
    return doc
