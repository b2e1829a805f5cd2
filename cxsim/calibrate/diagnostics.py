"""Sampler diagnostics shared by every fit: the gates a posterior must pass to be used."""

from __future__ import annotations

from typing import Any

MAX_RHAT, MIN_ESS_BULK = 1.01, 400.0


def diagnose(posterior: Any, sample_stats: Any) -> tuple[dict[str, float], list[str]]:
    """Max rank R-hat and min bulk ESS over every variable of ``posterior`` (an xarray
    Dataset), divergences from ``sample_stats``; and the list of failed checks (R-hat > 1.01,
    bulk ESS < 400, any divergence)."""
    import arviz as az

    rhat = float(az.rhat(posterior).to_dataarray().max())
    ess = float(az.ess(posterior, method="bulk").to_dataarray().min())
    divergences = int(sample_stats["diverging"].sum())
    failed = []
    if not rhat <= MAX_RHAT:
        failed.append(f"max R-hat {rhat:.4f} > {MAX_RHAT}")
    if not ess >= MIN_ESS_BULK:
        failed.append(f"min bulk ESS {ess:.0f} < {MIN_ESS_BULK:.0f}")
    if divergences:
        failed.append(f"{divergences} divergent transitions")
    return {"max_rhat": rhat, "min_ess_bulk": ess, "divergences": divergences}, failed
