"""Sampler diagnostics shared by every fit: the gates a posterior must pass to be used.

One rule for ``cxsim-fit`` (its ``fit_for_forecasting``) and ``cxsim-check`` (its sampler
gates), with the thresholds of :class:`cxsim.spec.config.Thresholds`: max R-hat 1.01, bulk
ESS at least 100 per chain, divergent transitions at most 0.1% of the draws (isolated ones are
noise at the neck of the churn hierarchy's funnel: docs/ci.md, "False alarms"). Each failure
comes with the advice that addresses it (:func:`advice`).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from cxsim.spec.config import Thresholds

RULE = Thresholds()


def allowed_divergences(n_draws: int, share: float = RULE.max_divergent_share) -> int:
    """Divergent transitions tolerated in ``n_draws`` draws (all chains): ``floor(share x n)``.

    >>> allowed_divergences(4000), allowed_divergences(8000), allowed_divergences(999)
    (4, 8, 0)
    """
    return int(np.floor(share * n_draws))


def diagnose(posterior: Any, sample_stats: Any, rule: Thresholds = RULE
             ) -> tuple[dict[str, float | None], list[str]]:
    """Max rank R-hat and min bulk ESS over every variable of ``posterior`` (an xarray
    Dataset), divergences from ``sample_stats``; and the list of failed checks (R-hat >
    ``rule.max_rhat``, bulk ESS < ``rule.ess_per_chain`` x chains, divergences more than
    :func:`allowed_divergences`).

    R-hat compares chains, so a single chain has none: it is reported as ``None`` and the fit
    fails that check, as one chain cannot show that the sampler converged (a chain stuck in
    one mode looks as good as any). A figure no parameter yields (constant or non-finite
    draws) is ``None`` too, and fails likewise.
    """
    import arviz as az

    chains = int(posterior.sizes["chain"])
    min_ess = rule.ess_per_chain * chains
    with warnings.catch_warnings():  # a constant variable's R-hat is 0/0: NaN, left out
        warnings.filterwarnings("ignore", category=RuntimeWarning)
        rhat = _extreme(az.rhat(posterior), largest=True) if chains > 1 else None
        ess = _extreme(az.ess(posterior, method="bulk"), largest=False)
    divergences = int(sample_stats["diverging"].sum())
    allowed = allowed_divergences(int(sample_stats["diverging"].size),
                                  rule.max_divergent_share)
    failed = []
    if chains < 2:
        failed.append("R-hat not computable from 1 chain (it compares chains): sample "
                      "sampler.chains >= 2 to check convergence")
    elif rhat is None:
        failed.append("R-hat not computable for any parameter (constant or non-finite draws)")
    elif not rhat <= rule.max_rhat:
        failed.append(f"max R-hat {rhat:.4f} > {rule.max_rhat}")
    if ess is None:
        failed.append("bulk ESS not computable for any parameter (non-finite draws)")
    elif not ess >= min_ess:
        failed.append(f"min bulk ESS {ess:.0f} < {min_ess:.0f}")
    if divergences > allowed:
        failed.append(f"{divergences} divergent transitions (at most {allowed}: "
                      f"{rule.max_divergent_share:.1%} of {sample_stats['diverging'].size} "
                      "draws)")
    return {"max_rhat": rhat, "min_ess_bulk": ess, "divergences": divergences,
            "divergences_allowed": allowed}, failed


def advice(failed: list[str], target_accept: float | None) -> list[str]:
    """What to do about each kind of failed check: divergences call for a smaller step
    (``sampler.target_accept``) or another parametrisation, never for more draws; R-hat and
    ESS for longer chains.

    >>> advice(["5 divergent transitions (at most 4: 0.1% of 4000 draws)"], 0.9)[0][:44]
    'divergences: raise sampler.target_accept (it'
    >>> advice(["max R-hat 1.0300 > 1.01"], None)[0][:34]
    'R-hat/ESS: sample longer (sampler.'
    """
    tips = []
    if any("divergent" in f for f in failed):
        now = ("chosen by the model's geometry, 0.8 or 0.9" if target_accept is None
               else f"{target_accept:g}")
        nxt = 0.95 if target_accept is None or target_accept < 0.95 else 0.99
        tips.append(f"divergences: raise sampler.target_accept (it was {now}; try "
                    f"sampler.target_accept={nxt}); if they persist, the model's geometry is "
                    "at fault (reparametrise; docs/calibrate.md, \"Sampling geometry\")")
    if any("R-hat" in f or "ESS" in f for f in failed):
        tips.append("R-hat/ESS: sample longer (sampler.draws, sampler.tune) or with more "
                    "chains (sampler.chains)")
    return tips


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
