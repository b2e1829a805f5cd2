"""Figures of simulation-based calibration: rank histograms and ECDF differences."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from scipy import stats

from cxsim.plots.calibrate import _save


def _grid(n: int) -> tuple[plt.Figure, np.ndarray]:
    cols = 6
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 1.9 * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    return fig, axes.flat


def rank_histograms(results: list[dict], analysis: dict, path: Path) -> Path:
    """One histogram of ranks per parameter, with the band a uniform histogram's bins stay in
    99% of the time (Talts et al. 2018, fig. 3)."""
    names = list(analysis["parameters"])
    n, n_ranks, bins = analysis["n_sims"], analysis["ranks"], analysis["bins"]
    edges = np.linspace(0, n_ranks + 1, bins + 1)
    p_bin = 1.0 / bins
    lo, hi = stats.binom.ppf(0.005, n, p_bin), stats.binom.isf(0.005, n, p_bin)
    fig, axes = _grid(len(names))
    for ax, name in zip(axes, names, strict=False):
        r = np.array([x["ranks"][name] for x in results])
        ax.axhspan(lo, hi, color="#d9d9d9", zorder=0)
        ax.axhline(n * p_bin, color="#969696", lw=0.8, zorder=1)
        ax.hist(r, bins=edges, color="#3182bd", zorder=2)
        p = analysis["parameters"][name]["p_uniform"]
        bad = name in analysis["rejected"]
        ax.set_title(f"{name}\np = {p:.2g}", fontsize=7, color="#c00000" if bad else "black")
        ax.set_xticks([])
        ax.tick_params(labelsize=6)
    fig.suptitle(f"SBC rank histograms: {n} simulations, ranks 0-{n_ranks} in {bins} bins "
                 "(grey: 99% band of a uniform bin)", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def ecdf_differences(results: list[dict], analysis: dict, path: Path) -> Path:
    """ECDF of the normalised ranks minus the uniform CDF, per parameter, with the pointwise
    99% band of a calibrated fit (Saeilynoja et al. 2022)."""
    names = list(analysis["parameters"])
    n, n_ranks = analysis["n_sims"], analysis["ranks"]
    z = np.arange(1, n_ranks + 1) / (n_ranks + 1)
    lo = stats.binom.ppf(0.005, n, z) / n - z
    hi = stats.binom.isf(0.005, n, z) / n - z
    fig, axes = _grid(len(names))
    for ax, name in zip(axes, names, strict=False):
        r = np.array([x["ranks"][name] for x in results])
        ecdf = np.array([(r < k).mean() for k in range(1, n_ranks + 1)])
        ax.fill_between(z, lo, hi, color="#d9d9d9")
        ax.axhline(0, color="#969696", lw=0.8)
        bad = name in analysis["rejected"]
        ax.plot(z, ecdf - z, color="#c00000" if bad else "#3182bd", lw=1.2)
        ax.set_title(name, fontsize=7, color="#c00000" if bad else "black")
        ax.tick_params(labelsize=6)
    fig.suptitle(f"SBC: ECDF of ranks minus uniform, {n} simulations (grey: pointwise 99% band)",
                 fontsize=10)
    fig.tight_layout()
    return _save(fig, path)
