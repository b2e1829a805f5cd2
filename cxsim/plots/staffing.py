"""Figures of a staffing plan (``cxsim-staff``): required against rostered agents by interval,
service level and abandonment by interval against the target, cost against service level."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from cxsim.plots.calibrate import _save
from cxsim.plots.operations import WEEKDAY_NAMES


def _week_axis(ax: plt.Axes, n: int) -> np.ndarray:
    """Hours since Monday 00:00 of each of ``n`` intervals of the week, with day ticks."""
    x = np.arange(n) * 168 / n
    ax.set_xticks(np.arange(7) * 24 + 12, WEEKDAY_NAMES)
    for d in range(1, 7):
        ax.axvline(d * 24, color="0.85", lw=0.8, zorder=0)
    ax.set_xlim(0, 168)
    return x


def required_vs_rostered(plan, path: Path, title: str) -> Path:
    need = plan.need
    n = need.agents.size
    fig, ax = plt.subplots(figsize=(12, 3.8))
    x = _week_axis(ax, n)
    ax.step(x, need.erlang_c.ravel().clip(0), where="post", color="#9ecae1", lw=1,
            label="Erlang C")
    ax.step(x, need.erlang_a.ravel().clip(0), where="post", color="#fdae6b", lw=1,
            label="Erlang A")
    ax.step(x, need.agents.ravel(), where="post", color="black", lw=1.5,
            label="required (simulated)")
    if plan.roster is not None:
        ax.step(x, plan.roster.coverage[0], where="post", color="#31a354", lw=1.5,
                label="rostered (mean over the interval)")
    ax.set_ylabel("agents")
    ax.set_title(title)
    ax.legend(fontsize=8, ncol=4, loc="upper right")
    return _save(fig, path)


def targets_by_interval(plan, targets, path: Path, title: str) -> Path:
    m = plan.rostered if plan.rostered is not None else plan.need.final
    n = m.mean["service_level"].size
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 6), sharex=True)
    for ax, key, target, label in ((top, "service_level", targets.service_level,
                                    "service level"),
                                   (bottom, "abandon_rate", targets.abandon_rate,
                                    "abandonment")):
        x = _week_axis(ax, n)
        mean, half = m.mean[key].ravel(), m.half[key].ravel()
        ax.errorbar(x, mean, yerr=np.nan_to_num(half), fmt=".", ms=3, lw=0.6, color="black",
                    label=f"{label}, 95% CI over replications")
        if target is not None:
            ax.axhline(target, color="#e6550d", lw=1.2, label=f"target {target:g}")
        ax.set_ylabel(label)
        ax.legend(fontsize=8, loc="lower right")
    top.set_title(title)
    return _save(fig, path)


def tradeoff_curve(curve: list[dict], simulated: list[tuple[float, float]], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6, 4))
    levels = [r["service_level"] for r in curve]
    ax.plot(levels, [r["cost_per_week"] for r in curve], "o-", color="#3182bd",
            label="Erlang requirement on the measured load")
    for i, (level, cost) in enumerate(simulated):
        ax.plot([level], [cost], "s", color="black",
                label="simulated requirement" if i == 0 else None)
    ax.set_xlabel("service-level target")
    ax.set_ylabel("cost per week (requirement agent-hours x cost/h)")
    ax.legend(fontsize=8)
    return _save(fig, path)


def cx_tradeoff_curve(rows: list[dict], chosen: float | None, path: Path) -> Path:
    """Staff cost a week against what the customers feel: population NPS, mean CES and the
    customers lost a week, one point per service-level target, with 95% CIs."""
    panels = [("nps_population", "population NPS"), ("ces", "mean CES"),
              ("churned_per_week", "customers churned per week")]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), sharey=True)
    cost = np.array([r["cost_per_week"] for r in rows], float)
    for ax, (key, label) in zip(axes, panels, strict=True):
        x = np.array([np.nan if r.get(key) is None else r[key] for r in rows], float)
        half = np.array([r.get(f"{key}_ci") or 0.0 for r in rows], float)
        ax.errorbar(x, cost, xerr=half, fmt="o-", color="#3182bd", ms=4, lw=1)
        for r, xi, ci in zip(rows, x, cost, strict=True):
            ax.annotate(f"SL {r['service_level_target']:g}", (xi, ci), fontsize=7,
                        xytext=(4, -10), textcoords="offset points",
                        color="black" if r["service_level_target"] == chosen else "0.4",
                        weight="bold" if r["service_level_target"] == chosen else "normal")
        ax.set_xlabel(label)
    axes[0].set_ylabel("staff cost per week")
    fig.suptitle("what staffing buys in customer experience (simulated, CIs over replications)",
                 fontsize=10)
    return _save(fig, path)


def plot_plan(plans: dict, targets, curve: list[dict], interval_min: int, out: Path) -> list:
    """Every figure of the plan into ``out``: two per queue and the trade-off curve."""
    paths = []
    cost = curve[0]["cost_per_week"] / curve[0]["agent_hours_per_week"] if curve and \
        curve[0]["agent_hours_per_week"] else 0.0
    simulated = []
    for q, plan in plans.items():
        paths.append(required_vs_rostered(plan, out / f"agents_{q}.png",
                                          f"{q}: agents per {interval_min}-minute interval"))
        paths.append(targets_by_interval(plan, targets, out / f"targets_{q}.png",
                                         f"{q}: the roster re-simulated, by interval"))
    if targets.service_level is not None:
        hours = sum(float(p.need.agents.sum()) * interval_min / 60 for p in plans.values())
        simulated.append((targets.service_level, hours * cost))
    paths.append(tradeoff_curve(curve, simulated, out / "tradeoff.png"))
    return paths
