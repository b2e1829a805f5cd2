"""Figures of one simulation: the queues hour by hour, and the journey map as configured."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from cxsim.plots.calibrate import _save
from cxsim.plots.style import channel_colour, label
from cxsim.spec.kinds import KINDS

PANELS = (("service_level", "service level (%)", 100.0),
          ("asa", "average speed of answer (min)", 1.0),
          ("abandon_rate", "abandonment (%)", 100.0))


def by_hour(metrics: dict, path: Path) -> Path:
    """Service level, ASA and abandonment by hour of day, one line per channel (its fixed
    colour), over the days simulated; an hour without contacts is left blank."""
    hours = metrics.get("by_hour", {})
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), sharex=True)
    for ax, (key, title, scale) in zip(axes, PANELS, strict=True):
        for channel, figures in hours.items():
            y = np.array([np.nan if v is None else scale * v for v in figures[key]], float)
            ax.plot(np.arange(24) + 0.5, y, marker="o", ms=3, lw=1.6,
                    color=channel_colour(channel), label=label(channel))
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("hour of day")
        ax.set_xticks(range(0, 25, 3))
        ax.set_xlim(0, 24)
        ax.grid(alpha=0.3)
    axes[1].set_yscale("symlog", linthresh=1.0)  # e-mail answers in hours, queues in seconds
    axes[1].set_ylabel("minutes (log above 1)")
    axes[1].set_ylim(bottom=0)
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, fontsize=9, loc="center right", title="channel")
    fig.suptitle(f"Queues by hour ({metrics['replications']} replication(s) x "
                 f"{metrics['horizon_days']:g} days; blank: no contacts that hour)",
                 fontsize=11)
    fig.tight_layout(rect=(0, 0, 0.92, 1))
    return _save(fig, path)


def journey_map(s: Any, path: Path) -> Path:
    """The journey map as configured: each contact reason (left, with its share of needs)
    joined to the touchpoints that can serve it (right, coloured by channel, with their kind
    and agents at the busiest shift), and the handoffs between touchpoints (escalation,
    transfer) with their probabilities."""
    reasons = sorted(s.journeys, key=lambda r: -s.journeys[r].share)
    tps = sorted(s.touchpoints, key=lambda t: (s.touchpoints[t].channel, t))
    fig, ax = plt.subplots(figsize=(12, 0.55 * max(len(reasons), len(tps)) + 1.5))
    yr = {r: i * (len(tps) - 1) / max(len(reasons) - 1, 1) for i, r in enumerate(reasons)}
    yt = {t: float(i) for i, t in enumerate(tps)}
    for r in reasons:
        j = s.journeys[r]
        ax.text(-0.02, yr[r], f"{label(r)} {100 * j.share:.0f}%", ha="right", va="center",
                fontsize=9)
        for t in j.touchpoints:
            ax.plot([0, 1], [yr[r], yt[t]], color=channel_colour(s.touchpoints[t].channel),
                    alpha=0.35, lw=1 + 4 * j.share)
    for t in tps:
        tp = s.touchpoints[t]
        staff = ""
        if KINDS[tp.kind].assisted and tp.shifts:
            most = max(sh.agents for sh in tp.shifts)
            staff = f", up to {most} agent{'s' if most != 1 else ''}"
        ax.plot(1, yt[t], "s", ms=11, color=channel_colour(tp.channel))
        ax.text(1.03, yt[t], f"{label(t)} ({tp.channel}, {label(tp.kind)}{staff})", va="center",
                fontsize=9)
        for target, p, what in ((tp.escalate_to, tp.escalation, "escalates"),
                                (tp.transfer_to, tp.transfer_prob, "transfers")):
            if target is None:
                continue
            ax.annotate("", xy=(1.0, yt[target]), xytext=(1.0, yt[t]),
                        arrowprops={"arrowstyle": "->", "color": "black", "lw": 1,
                                    "connectionstyle": "arc3,rad=-0.5"})
            ax.text(0.93 - 0.02 * abs(yt[target] - yt[t]), (yt[t] + yt[target]) / 2,
                    f"{what} {100 * p:.0f}%", fontsize=7, ha="right", va="center",
                    color="black", bbox={"facecolor": "white", "edgecolor": "none",
                                         "pad": 1})
    ax.set_xlim(-0.45, 1.75)
    ax.set_ylim(len(tps) - 0.5, -1.0)
    ax.axis("off")
    ax.text(0, -0.9, "contact reason (share of needs)", ha="right", fontsize=10,
            weight="bold")
    ax.text(1, -0.9, "touchpoints (channel, kind)", ha="left", fontsize=10, weight="bold")
    ax.set_title("Journey map as configured: which touchpoints serve each reason, and the "
                 "handoffs between them", fontsize=11, pad=28)
    return _save(fig, path)
