"""Figures of a back-test: PIT histograms and ECDF differences of the realised changes."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from scipy import stats

from cxsim.plots.calibrate import _save


def pit_figure(analysis: dict, path: Path, bins: int = 10) -> Path:
    """Per figure: the PIT histogram of the realised changes among the forecast's draws (top,
    grey: 99% band of a uniform bin) and its ECDF minus the uniform CDF (bottom, grey:
    pointwise 99% band of a calibrated forecast), as SBC's figures."""
    names = list(analysis["figures"])
    fig, axes = plt.subplots(2, len(names), figsize=(2.6 * len(names), 4.2), squeeze=False)
    for j, name in enumerate(names):
        u = np.asarray(analysis["figures"][name]["pit"])
        n = u.size
        lo, hi = stats.binom.ppf(0.005, n, 1 / bins), stats.binom.isf(0.005, n, 1 / bins)
        ax = axes[0, j]
        ax.axhspan(lo, hi, color="#d9d9d9", zorder=0)
        ax.hist(u, bins=np.linspace(0, 1, bins + 1), color="#3182bd", zorder=2)
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=6)
        z = np.linspace(0.01, 0.99, 99)
        ecdf = (u[:, None] <= z).mean(0)
        ax = axes[1, j]
        ax.fill_between(z, stats.binom.ppf(0.005, n, z) / n - z,
                        stats.binom.isf(0.005, n, z) / n - z, color="#d9d9d9")
        ax.axhline(0, color="#969696", lw=0.8)
        ax.plot(z, ecdf - z, color="#3182bd", lw=1.2)
        ax.tick_params(labelsize=6)
    fig.suptitle(f"Back-test ({analysis['variant']} world, {analysis['forecast']} forecast): "
                 f"PIT of the realised change, n = {n}", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)
