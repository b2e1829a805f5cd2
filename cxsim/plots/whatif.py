"""Figures of a what-if study: deltas, retention, answers, drivers and where customers go."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr

from cxsim.metrics import KPIS, improves
from cxsim.plots import save_png
from cxsim.plots.style import channel_colour, money, scenario_colour
from cxsim.plots.style import label as human
from cxsim.spec.kinds import EPISODE_OUTCOMES, IN_SYSTEM

# The figures of the forest plot, one panel each (titles and directions: cxsim.metrics.KPIS).
FOREST = ("nps_population", "ces_population", "csat_population", "retention", "ltv",
          "mean_wait")
MONEY = ("ltv", "staff_cost", "revenue")


def _save(fig: plt.Figure, path: Path | None) -> plt.Figure:
    """Write the figure if asked, and return it open: a notebook shows it."""
    if path is not None:
        save_png(fig, path)
    return fig


def _title(metric: str, currency: str) -> str:
    kpi = KPIS[metric]
    return money(kpi.label, currency) if metric in MONEY else kpi.title


def forest(ds: xr.Dataset, path: Path | None = None, currency: str = "") -> plt.Figure:
    """Each scenario's change against the baseline: mean and 90% interval over draws, one
    panel per figure; green where the change is an improvement, grey where no draw moved."""
    from matplotlib.ticker import MaxNLocator

    names = ds["scenario"].values.tolist()[1:]
    fig, axes = plt.subplots(2, 3, figsize=(13, 1.6 + 0.9 * len(names) * 2), squeeze=False)
    base = ds["figures"].sel(scenario="baseline")
    for ax, metric in zip(axes.flat, FOREST, strict=True):
        kpi = KPIS[metric]
        scale = 100.0 if kpi.percent else 1.0  # a share changes by percentage points
        for i, name in enumerate(names):
            d = scale * (ds["figures"].sel(scenario=name, metric=metric)
                         - base.sel(metric=metric)).values
            lo, hi = np.quantile(d, [0.05, 0.95])
            color = ("grey" if np.all(d == 0) else
                     "tab:green" if improves(metric, d.mean()) else "tab:red")
            ax.plot([lo, hi], [i, i], color=color, lw=3, solid_capstyle="round")
            ax.plot(d.mean(), i, "o", color="black", ms=5)
        ax.axvline(0, color="grey", lw=1, ls="--")
        ax.set_yticks(range(len(names)), names if ax in axes[:, 0] else [""] * len(names))
        ax.set_ylim(-0.6, len(names) - 0.4)
        ax.set_title(_title(metric, currency), fontsize=10)
        ax.xaxis.set_major_locator(MaxNLocator(4))  # few ticks: small changes print long
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 4), useOffset=False)
        ax.invert_yaxis()
    fig.suptitle(f"Change against the baseline (dot: mean; bar: 90% interval over "
                 f"{ds.sizes['draw']} draws)", fontsize=11)
    fig.tight_layout()
    return _save(fig, path)


def retention_curves(ds: xr.Dataset, path: Path | None = None) -> plt.Figure:
    """Share of customers still there after each churn check, with 90% bands per scenario."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    days = np.r_[0.0, ds["period"].values]
    names = ds["scenario"].values.tolist()
    for name in names:
        r = 100 * ds["retention"].sel(scenario=name).values
        r = np.concatenate([np.full((r.shape[0], 1), 100.0), r], axis=1)
        lo, hi = np.quantile(r, [0.05, 0.95], axis=0)
        color = scenario_colour(name, names)
        ax.fill_between(days, lo, hi, color=color, alpha=0.2, lw=0)
        ax.plot(days, r.mean(0), marker="o", color=color, label=human(name))
    ax.set_xlabel("day")
    ax.set_ylabel("customers retained (%)")
    ax.set_title("Retention by scenario (band: 90% interval over draws)")
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def answer_distributions(ds: xr.Dataset, path: Path | None = None) -> plt.Figure:
    """What everyone would answer to the NPS and CES questions, per scenario."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
    names = ds["scenario"].values.tolist()
    width = 0.8 / len(names)
    for ax, var, label in ((axes[0], "nps", "NPS answer (0-10)"),
                           (axes[1], "ces", "CES answer (1-7, 7 = most effort)")):
        x = ds[var].values
        for i, name in enumerate(names):
            p = 100 * ds[f"{var}_answers"].sel(scenario=name).values
            ax.bar(x + (i - (len(names) - 1) / 2) * width, p, width, label=human(name),
                   color=scenario_colour(name, names))
        ax.set_xticks(x)
        ax.set_xlabel(label)
        ax.set_ylabel("% of answers (everyone)")
        ax.grid(axis="y", alpha=0.3)
    axes[0].axvspan(-0.5, 6.5, color="tab:red", alpha=0.05)
    axes[0].axvspan(8.5, 10.5, color="tab:green", alpha=0.05)
    axes[0].legend(fontsize=8)
    fig.suptitle("Answer distributions (posterior mean; shaded: detractors / promoters)")
    fig.tight_layout()
    return _save(fig, path)


def tornado(table: pd.DataFrame, path: Path | None = None, top: int = 12,
            metric: str = "ltv", step: float = 0.2, currency: str = "") -> plt.Figure:
    """Levers ranked by their effect: bars for the change when each is moved down and up by
    ``step`` (relative), the legend below the axes so it covers no bar."""
    t = table.head(top).iloc[::-1]
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(t) + 1.5))
    y = np.arange(len(t))
    for side, shift, color in (("down", -0.2, "tab:orange"), ("up", 0.2, "tab:blue")):
        mean, low, high = (t[f"{side}_{k}"].to_numpy(float) for k in ("mean", "low", "high"))
        ax.barh(y + shift, np.nan_to_num(mean), height=0.4, color=color,
                label=f"lever {side} by {step:.0%}")
        ok = np.isfinite(mean)
        ax.errorbar(mean[ok], (y + shift)[ok], xerr=[(mean - low)[ok], (high - mean)[ok]],
                    fmt="none", color="black", lw=1, capsize=2)
    ax.axvline(0, color="grey", lw=1)
    ax.set_yticks(y, [human(lever) for lever in t["lever"]])
    what = money(KPIS[metric].label, currency) if metric in MONEY else KPIS[metric].label
    ax.set_xlabel(f"change in {what}")
    ax.set_title(f"Moments that matter: what moves {KPIS[metric].label} (90% intervals)")
    below = 0.03 + 0.75 / (0.45 * len(t) + 1.5)  # past the tick labels and the x label
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -below), ncol=2)
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def journey_flow(episodes: pd.DataFrame, path: Path | None = None,
                 title: str = "Where customers go") -> plt.Figure:
    """Needs flowing from the channel they tried first (left) to how the need ended (right),
    through the number of contacts it took (middle): an alluvial diagram of the log."""
    ep = episodes[episodes["outcome"] != EPISODE_OUTCOMES[IN_SYSTEM]]
    contacts = np.minimum(ep["contacts"].to_numpy(), 3)
    middle = np.where(contacts >= 3, "3+ contacts",
                      np.where(contacts == 2, "2 contacts", "1 contact"))
    if "transfers" in ep:
        middle = np.where((ep["transfers"] > 0) & (contacts == 1), "1 contact, transferred",
                          middle)
    columns = [ep["first_channel"].astype(str).to_numpy(), middle,
               ep["outcome"].astype(str).to_numpy()]
    fig, ax = plt.subplots(figsize=(11, 6))
    n = len(ep)
    xs = (0.0, 1.0, 2.0)
    gap = 0.012
    spans: list[dict[str, tuple[float, float]]] = []
    for col in columns:
        counts = pd.Series(col).value_counts()
        pos, span = 0.0, {}
        for name, c in counts.items():
            span[name] = (pos, pos + c / n)
            pos += c / n + gap
        spans.append(span)
    palette = {name: channel_colour(name) for name in spans[0]}  # fixed: one per channel
    for k in range(2):
        flows = pd.crosstab(columns[k], columns[k + 1]) / n
        out_pos = {a: spans[k][a][0] for a in spans[k]}
        in_pos = {b: spans[k + 1][b][0] for b in spans[k + 1]}
        for a in spans[k]:
            for b in spans[k + 1]:
                f = flows.at[a, b] if a in flows.index and b in flows.columns else 0.0
                if f <= 0:
                    continue
                t = np.linspace(0, 1, 40)
                s = 3 * t**2 - 2 * t**3
                x = xs[k] + 0.06 + (xs[k + 1] - xs[k] - 0.12) * t
                lo = out_pos[a] + (in_pos[b] - out_pos[a]) * s
                color = palette.get(a, "grey") if k == 0 else "grey"
                ax.fill_between(x, lo, lo + f, color=color, alpha=0.35 if k == 0 else 0.25,
                                lw=0)
                out_pos[a] += f
                in_pos[b] += f
    for x, span in zip(xs, spans, strict=True):
        for name, (a, b) in span.items():
            ax.add_patch(plt.Rectangle((x - 0.06, a), 0.12, b - a,
                                       color=palette.get(name, "dimgrey")))
            share = 100 * (b - a)
            if share >= 1.0:  # left column labelled on its left, the others on their right
                ax.text(x + (-0.08 if x == 0 else 0.08), (a + b) / 2,
                        f"{human(name)} {share:.0f}%",
                        va="center", ha="right" if x == 0 else "left", fontsize=9)
    ax.set_xlim(-0.6, 2.7)
    ax.set_ylim(1 + gap * 8, -gap)
    ax.axis("off")
    for x, label in zip(xs, ("first channel", "contacts it took", "how it ended"),
                        strict=True):
        ax.text(x, -0.03, label, ha="center", fontsize=11, weight="bold")
    ax.set_title(title, pad=24)
    return _save(fig, path)
