"""Figures of an operations calibration: handle-time fits, patience, arrivals, staffing.

Each takes the estimators' results (:mod:`cxsim.calibrate.operations`) and writes one PNG.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from cxsim.plots.calibrate import _save

COLOURS = {"lognormal": "#3182bd", "gamma": "#31a354", "exponential": "#e6550d",
           "weibull": "#756bb1"}
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _day(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hours and values of a step drawn over the whole day (the last interval to 24:00)."""
    v = np.asarray(values, float)
    return np.linspace(0, 24, v.size + 1), np.append(v, v[-1])


def handle_fit(handle: object, minutes: np.ndarray, path: Path, title: str = "") -> Path:
    """Handle times against each fit: ECDF (log time axis) and a quantile-quantile plot."""
    x = np.sort(np.asarray(minutes, float))
    x = x[x > 0]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    ecdf = np.arange(1, x.size + 1) / x.size
    left.step(x, ecdf, where="post", color="black", lw=1.5, label=f"observed (n={x.size})")
    grid = np.geomspace(x[0], x[-1], 300)
    q = (np.arange(1, x.size + 1) - 0.5) / x.size
    best = handle.best.distribution
    for name, fit in handle.fits.items():
        style = {"color": COLOURS[name], "lw": 2.2 if name == best else 1.2,
                 "ls": "-" if name == best else "--"}
        label = f"{name}: mean {fit.mean_min:.2f} min, AIC {fit.aic:.0f}, KS {fit.ks:.3f}"
        left.plot(grid, fit.dist.cdf(grid), label=label, **style)
        right.plot(fit.dist.ppf(q), x, ".", ms=2.5, color=COLOURS[name], alpha=0.6,
                   label=name)
    left.set_xscale("log")
    left.set_xlabel("handle time (minutes, log scale)")
    left.set_ylabel("share of contacts handled within")
    left.legend(fontsize=8, loc="upper left")
    lim = [x[0], x[-1]]
    right.plot(lim, lim, color="black", lw=1)
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_xlabel("fitted quantile (minutes)")
    right.set_ylabel("observed quantile (minutes)")
    right.set_title("on the diagonal = the law fits", fontsize=9)
    right.legend(fontsize=8, markerscale=4)
    fig.suptitle(f"{title}handle time: {best} chosen by AIC"
                 + (f" ({handle.n_zero} zero-length services left out)" if handle.n_zero
                    else ""))
    return _save(fig, path)


def patience_fit(patience: object, abandonment: object, path: Path, title: str = "") -> Path:
    """Patience: Kaplan-Meier with its band against the parametric fits, and the hazard of
    abandoning by wait."""
    km = patience.km
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    t = np.concatenate(([0.0], km.time_min))
    left.step(t, np.concatenate(([1.0], km.survival)), where="post", color="black", lw=1.5,
              label=f"Kaplan-Meier ({patience.abandoned} abandoned, "
                    f"{patience.censored_share:.0%} censored)")
    left.fill_between(t, np.concatenate(([1.0], km.ci_low)), np.concatenate(([1.0],
                      km.ci_high)), step="post", color="grey", alpha=0.3,
                      label=f"{patience.level:.0%} band")
    grid = np.linspace(0, km.time_min[-1] if km.time_min.size else 1.0, 300)
    for name, fit in patience.fits.items():
        lw = 2.2 if name == patience.best.distribution else 1.2
        left.plot(grid, fit.dist.sf(grid), color=COLOURS[name], lw=lw,
                  label=f"{name}: mean {fit.mean_min:.1f} min, AIC {fit.aic:.0f}")
    left.set_xlabel("wait (minutes)")
    left.set_ylabel("share still patient")
    left.legend(fontsize=8)
    h = abandonment.to_json()["hazard"]
    lo, hi = np.array(h["wait_from_min"], float), np.array(h["wait_to_min"], float)
    hi = np.where(np.isfinite(hi) & (hi > 0), hi, np.maximum(lo * 2, lo + 1))
    mid = (lo + hi) / 2
    rate = np.array([np.nan if v is None else v for v in h["per_min"]], float)
    err_lo = np.array([np.nan if v is None else v for v in h["per_min_ci_low"]], float)
    err_hi = np.array([np.nan if v is None else v for v in h["per_min_ci_high"]], float)
    right.errorbar(mid, rate, yerr=[rate - err_lo, err_hi - rate], xerr=[mid - lo, hi - mid],
                   fmt="o", color="black", ms=4, label="observed")
    for name, fit in patience.fits.items():
        g = np.linspace(max(lo[0], 1e-3), hi[-1], 300)
        right.plot(g, fit.dist.pdf(g) / fit.dist.sf(g), color=COLOURS[name], lw=1.2,
                   label=name)
    right.set_xscale("symlog", linthresh=1.0)
    right.set_xlabel("wait (minutes)")
    right.set_ylabel("abandonments per minute of waiting")
    right.set_title("hazard: flat = exponential patience", fontsize=9)
    right.legend(fontsize=8)
    fig.suptitle(f"{title}patience: {patience.best.distribution} chosen by AIC")
    return _save(fig, path)


def arrival_profile(arrivals: object, path: Path, title: str = "") -> Path:
    """Arrivals per hour by interval of the day, one line per weekday, with intervals."""
    fig, ax = plt.subplots(figsize=(10, 4))
    colours = plt.cm.viridis(np.linspace(0, 0.9, 7))
    for w in range(7):
        if arrivals.days[w] == 0:
            continue
        ax.step(*_day(arrivals.rate_per_hour[w]), where="post", color=colours[w],
                label=f"{WEEKDAY_NAMES[w]} ({arrivals.days[w]} days)")
        hours, lo = _day(arrivals.ci_low[w])
        ax.fill_between(hours, lo, _day(arrivals.ci_high[w])[1], step="post",
                        color=colours[w], alpha=0.15)
    d = arrivals.dispersion
    ax.set_xlabel("hour of day")
    ax.set_ylabel("arrivals per hour")
    ax.set_xticks(range(0, 25, 2))
    ax.set_xlim(0, 24)
    ax.legend(fontsize=8, ncol=2)
    ax.set_title(f"{title}arrivals ({arrivals.level:.0%} intervals); dispersion vs Poisson "
                 + (f"{d.ratio:.2f} (p = {d.p_value:.3g})" if d.df else "not testable"),
                 fontsize=10)
    return _save(fig, path)


def staffing_profile(staffing: object, path: Path, title: str = "") -> Path:
    """Agents per interval of the average day: busy (lower bound), distinct (over-count) and
    rostered when known."""
    fig, ax = plt.subplots(figsize=(10, 4))
    observed = staffing.calendar.observed
    for label, a, colour in (("distinct agents (over-count)", staffing.distinct, "#e6550d"),
                             ("rostered agents", staffing.staffed, "black"),
                             ("busy agents (lower bound)", staffing.busy, "#3182bd")):
        if a is None:
            continue
        rows = a[observed]
        ax.step(*_day(np.nanmean(rows, axis=0)), where="post", color=colour, lw=1.8,
                label=label)
        hours, lo = _day(np.nanmin(rows, axis=0))
        ax.fill_between(hours, lo, _day(np.nanmax(rows, axis=0))[1], step="post",
                        color=colour, alpha=0.12)
    ax.set_xlabel("hour of day")
    ax.set_ylabel("agents (mean over days; band: min-max)")
    ax.set_xticks(range(0, 25, 2))
    ax.set_xlim(0, 24)
    ax.legend(fontsize=8)
    ax.set_title(f"{title}staffing from agent activity", fontsize=10)
    return _save(fig, path)


VALIDATION_PANELS = (("arrivals", "arrivals per day"), ("asa_min", "ASA (minutes)"),
                     ("service_level", "service level"), ("abandon_rate", "abandonment"))


def validation_by_hour(validation: dict, path: Path, title: str = "") -> Path:
    """Observed against simulated by hour of day (``validation.by_hour`` of calibration.json):
    four panels a manager reads at a glance, each side with its interval."""
    rows = validation["by_hour"]
    hours = np.array([r["hour"] for r in rows]) + 0.5
    fig, axes = plt.subplots(2, 2, figsize=(11, 6.5), sharex=True)
    for ax, (key, label) in zip(axes.ravel(), VALIDATION_PANELS, strict=True):
        for side, colour, dx in (("observed", "black", -0.12), ("simulated", "#3182bd", 0.12)):
            v = np.array([np.nan if r[side][key] is None else r[side][key] for r in rows])
            ci = np.array([[np.nan if c is None else c for c in r[side][f"{key}_ci"]]
                           for r in rows])
            err = np.abs(ci - v[:, None]).T
            ax.errorbar(hours + dx, v, yerr=err, fmt="o-" if side == "observed" else "s--",
                        ms=3, lw=1, capsize=2, color=colour, label=side)
        share = validation["agree_share"].get(key)
        ax.set_title(f"{label}: {share:.0%} of hours agree" if share is not None else label,
                     fontsize=10)
        ax.set_xlim(0, 24)
        ax.set_xticks(range(0, 25, 3))
    for ax in axes[1]:
        ax.set_xlabel("hour of day")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(f"{title}the log against the calibrated scenario (95% intervals)")
    fig.tight_layout()
    return _save(fig, path)
