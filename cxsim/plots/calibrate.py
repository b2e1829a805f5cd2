"""Posterior predictive figures of a fit: answer distributions and retention."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from cxsim.plots import save_png
from cxsim.spec.kinds import QUESTIONS


def _save(fig: plt.Figure, path: Path) -> Path:
    """Write the figure and free it (the apps draw many)."""
    save_png(fig, path)
    plt.close(fig)
    return path


def stamp_failed(fig: plt.Figure, summary: dict) -> None:
    """On a figure of a fit that failed its diagnostics, say so on its face: a red band
    naming the failed checks, so a figure passed on without its summary cannot mislead."""
    if summary.get("fit_for_forecasting", True):
        return
    import textwrap

    checks = "; ".join(summary.get("failed_checks", [])) or "see summary.json"
    width = int(11 * fig.get_figwidth())  # characters of 9-point bold per line
    text = textwrap.fill(f"FIT FAILED ITS DIAGNOSTICS - not fit for forecasting: {checks}",
                         width)
    fig.text(0.5, 1.02, text, ha="center", va="bottom", color="white", fontsize=9,
             weight="bold", bbox={"facecolor": "#c0392b", "edgecolor": "none", "pad": 4})


def answer_distributions(summary: dict, surveys: pd.DataFrame, path: Path) -> Path:
    """NPS and CES: what respondents answered against what everyone would answer (model)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    dist = summary["population"]["distributions"]
    for ax, name in zip(axes, ("nps", "ces"), strict=True):
        q = QUESTIONS[name]
        values, kind = range(q.scale[0], q.scale[1] + 1), q.kind
        answers = surveys.loc[(surveys["kind"] == kind) & (surveys["answered"] == 1), name]
        counts = np.array([(answers == v).sum() for v in values], float)
        x = np.array(list(values))
        ax.bar(x - 0.2, counts / max(counts.sum(), 1), width=0.4, label="respondents (observed)",
               color="#9ecae1")
        ax.bar(x + 0.2, dist[name], width=0.4, label="everyone (model)", color="#3182bd")
        pop = summary["population"][name]
        resp = summary["respondents"][name]
        label = "NPS (0-10)" if name == "nps" else "CES (1-7, 7 = most effort)"
        ax.set_title(f"{label}: respondents {resp:.1f}, everyone {pop['mean']:.1f} "
                     f"[{pop['hdi_low']:.1f}, {pop['hdi_high']:.1f}]", fontsize=9)
        ax.set_xticks(x)
        ax.set_ylabel("share of answers")
        ax.legend(fontsize=8)
    fig.suptitle("Who answers surveys: observed answers vs the bias-corrected population")
    stamp_failed(fig, summary)
    return _save(fig, path)


def retention(summary: dict, path: Path) -> Path:
    """Share of customers still active after each churn check: observed vs model (94% HDI)."""
    r = summary["retention"]
    days = [0.0, *r["days"]]
    fig, ax = plt.subplots(figsize=(6, 3.8))
    ax.fill_between(days, [1.0, *r["model_low"]], [1.0, *r["model_high"]], alpha=0.3,
                    color="#3182bd", label="model, 94% HDI")
    ax.plot(days, [1.0, *r["model_mean"]], color="#3182bd", label="model, mean")
    ax.plot(days, [1.0, *r["observed"]], "o-", color="#e6550d", label="observed")
    ax.set_xlabel("days")
    ax.set_ylabel("share still active")
    ax.set_title("Retention: observed vs posterior predictive")
    ax.legend()
    stamp_failed(fig, summary)
    return _save(fig, path)


def retention_link(comparison: dict, path: Path, fitted_periods: int | None = None) -> Path:
    """Simulated (or observed) retention against an sBG fit's projection (94% HDI)."""
    c = comparison
    k = len(c["observed"])
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    ax.fill_between(c["period"], c["sbg_low"], c["sbg_high"], alpha=0.3, color="#3182bd",
                    label="sBG fit, 94% HDI")
    ax.plot(c["period"], c["sbg_mean"], color="#3182bd", label="sBG fit, mean")
    ax.plot(c["period"][:k], c["observed"], "o", color="#e6550d", label="customers")
    if fitted_periods is not None:
        ax.axvline(fitted_periods, color="grey", ls=":", label="end of fitted periods")
    ax.set_xlabel("period")
    ax.set_ylabel("share still active")
    ax.set_title(f"Retention vs sBG: largest gap {c['max_gap_points']:.2f} points")
    ax.legend()
    return _save(fig, path)


def cohort_projection(summary: dict, path: Path) -> Path:
    """Each cohort's survivors: observed (dots) against the sBG fit's expected survivors and
    94% HDI, projected past the data (right of the dotted line)."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    colours = plt.get_cmap("tab10").colors
    for i, (name, p) in enumerate(summary["projection"].items()):
        c = colours[i % len(colours)]
        ax.fill_between(p["period"], p["surviving_low"], p["surviving_high"], color=c,
                        alpha=0.2, lw=0)
        ax.plot(p["period"], p["surviving_mean"], color=c, label=f"{name}: sBG fit, mean")
        seen = [v for v in p["surviving_observed"] if v is not None]
        ax.plot(p["period"][:len(seen)], seen, "o", color=c, ms=4, label=f"{name}: observed")
        ax.axvline(len(seen) - 1, color=c, ls=":", lw=1)
    ax.set_xlabel("period")
    ax.set_ylabel("customers still active")
    ax.set_title("Cohort retention: observed, fitted and projected (band: 94% HDI; dotted: "
                 "end of data)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    stamp_failed(fig, summary)
    return _save(fig, path)
