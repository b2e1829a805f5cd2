"""Sampler diagnostics shared by every fit: the gates a posterior must pass to be used."""

from __future__ import annotations

from typing import Any

import numpy as np

MAX_RHAT, MIN_ESS_BULK = 1.01, 400.0


def diagnose(posterior: Any, sample_stats: Any) -> tuple[dict[str, float | None], list[str]]:
    """Max rank R-hat and min bulk ESS over every variable of ``posterior`` (an xarray
    Dataset), divergences from ``sample_stats``; and the list of failed checks (R-hat > 1.01,
    bulk ESS < 400, any divergence).

    R-hat compares chains, so a single chain has none: it is reported as ``None`` and the fit
    fails that check, as one chain cannot show that the sampler converged (a chain stuck in
    one mode looks as good as any). A figure no parameter yields (constant or non-finite
    draws) is ``None`` too, and fails likewise.
    """
    import arviz as az

    chains = int(posterior.sizes["chain"])
    rhat = _extreme(az.rhat(posterior), largest=True) if chains > 1 else None
    ess = _extreme(az.ess(posterior, method="bulk"), largest=False)
    divergences = int(sample_stats["diverging"].sum())
    failed = []
    if chains < 2:
        failed.append("R-hat not computable from 1 chain (it compares chains): sample "
                      "sampler.chains >= 2 to check convergence")
    elif rhat is None:
        failed.append("R-hat not computable for any parameter (constant or non-finite draws)")
    elif not rhat <= MAX_RHAT:
        failed.append(f"max R-hat {rhat:.4f} > {MAX_RHAT}")
    if ess is None:
        failed.append("bulk ESS not computable for any parameter (non-finite draws)")
    elif not ess >= MIN_ESS_BULK:
        failed.append(f"min bulk ESS {ess:.0f} < {MIN_ESS_BULK:.0f}")
    if divergences:
        failed.append(f"{divergences} divergent transitions")
    return {"max_rhat": rhat, "min_ess_bulk": ess, "divergences": divergences}, failed


def _extreme(figures: Any, largest: bool) -> float | None:
    """The largest (or smallest) finite value of any variable of ``figures`` (a Dataset of
    per-parameter figures), or None when there is none.

    Variable by variable: ``Dataset.to_dataarray`` would broadcast the variables' different
    dimensions against each other (on the micro model, 94 million values).
    """
    values = np.concatenate([np.ravel(v.values) for v in figures.data_vars.values()])
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None
    return float(finite.max() if largest else finite.min())
