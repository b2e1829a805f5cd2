"""Calibration gates: the checks ``cxsim-check`` runs on a fit of fixed reference data.

Each gate is a named figure compared with a threshold, and passes or fails on its own:

- ``model_hash`` — the baseline was made by this model (code, priors, anchor, process:
  :func:`cxsim.calibrate.store.model_hash`).
- ``rhat``, ``ess_bulk``, ``ess_tail``, ``divergences``, ``bfmi`` — sampler diagnostics over
  every reported parameter: max rank-normalised split R-hat, min bulk and tail ESS (at least
  ``ess_per_chain`` per chain, Vehtari et al. 2021), divergent transitions (isolated ones, up
  to ``max_divergent_share`` of the draws, are tolerated: the SBC of this model had fits with up
  to 7 in 1000 draws and uniform ranks, while a geometry the sampler cannot explore diverges
  far more often), min E-BFMI per chain, ``sum (E_t - E_{t-1})^2 / sum (E_t - mean E)^2``
  (Betancourt 2016).
- ``recovery`` (synthetic data only) — the number of parameters whose 94% HDI misses the
  truth. If the posterior is calibrated, the truth is distributed like one more posterior
  draw, so the count's null distribution is that of the misses of the posterior's *own draws*
  against the same HDIs: it carries the correlations between parameters that make a binomial
  allowance optimistic (misses cluster). The threshold is its ``1 - level`` quantile.
- ``drift_mean``, ``drift_width`` — against a committed baseline of the same model and data:
  the largest shift of a posterior mean in baseline posterior sd, and the largest change of
  an HDI width as a factor (up or down), over every parameter and the population figures.
- ``ppc_nps``, ``ppc_ces``, ``ppc_retention`` — posterior predictive checks against the
  observed data: the respondents' NPS, their mean CES and the share of customers retained at
  the last churn check, replicated under posterior draws (who answers, what they answer, who
  leaves, given the observed episodes and the customers at risk); two-sided tail-area
  probability ``2 min(P(T_rep >= T_obs), P(T_rep <= T_obs))``, Bonferroni over the three.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.special import expit

from cxsim import metrics, outcomes
from cxsim.calibrate.diagnostics import allowed_divergences
from cxsim.calibrate.micro.draws import POPULATION_DRAWS, DrawModel, parameter_draws, subsample
from cxsim.calibrate.micro.prepare import Prepared
from cxsim.spec.config import Thresholds


@dataclass
class Gate:
    """One named check: ``figure`` against ``threshold`` by ``rule``; ``passed`` None = not run."""

    name: str
    figure: float | None
    rule: str
    threshold: float | None
    passed: bool | None
    note: str = ""


def _worst(values: dict[str, float], largest: bool) -> tuple[str, float]:
    finite = {k: v for k, v in values.items() if np.isfinite(v)}
    name = (max if largest else min)(finite, key=finite.get)
    return name, float(finite[name])


def _chain_draws(post: Any, names: list[str]) -> Any:
    """An xarray Dataset of the reported parameters, each (chain, draw)."""
    import xarray as xr

    flat = parameter_draws(post)
    shape = (post.sizes["chain"], post.sizes["draw"])
    return xr.Dataset({n: (("chain", "draw"), flat[n].reshape(shape)) for n in names})


def bfmi(energy: np.ndarray) -> np.ndarray:
    """E-BFMI of each chain of ``energy`` (chain, draw)."""
    e = np.asarray(energy, float)
    num = np.square(np.diff(e, axis=1)).sum(axis=1)
    den = np.square(e - e.mean(axis=1, keepdims=True)).sum(axis=1)
    return num / den


def diagnostics_gates(tree: Any, names: list[str], t: Thresholds) -> list[Gate]:
    """R-hat, bulk and tail ESS, divergences and E-BFMI of a fit (a DataTree)."""
    import arviz as az

    post = tree["posterior"].to_dataset()
    stats = tree["sample_stats"].to_dataset()
    ds = _chain_draws(post, names)
    rhat = {k: float(v) for k, v in az.rhat(ds).data_vars.items()}
    bulk = {k: float(v) for k, v in az.ess(ds, method="bulk").data_vars.items()}
    tail = {k: float(v) for k, v in az.ess(ds, method="tail").data_vars.items()}
    min_ess = t.ess_per_chain * post.sizes["chain"]
    gates = []
    name, value = _worst(rhat, largest=True)
    gates.append(Gate("rhat", value, "<=", t.max_rhat, value <= t.max_rhat, f"worst: {name}"))
    for label, ess in (("ess_bulk", bulk), ("ess_tail", tail)):
        name, value = _worst(ess, largest=False)
        gates.append(Gate(label, value, ">=", min_ess, value >= min_ess, f"worst: {name}"))
    div = int(stats["diverging"].sum())
    allowed = allowed_divergences(int(stats["diverging"].size), t.max_divergent_share)
    gates.append(Gate("divergences", div, "<=", allowed, div <= allowed,
                      f"{t.max_divergent_share:.1%} of {stats['diverging'].size} draws"))
    if "energy" in stats:
        b = bfmi(stats["energy"].values)
        low = float(b.min())
        gates.append(Gate("bfmi", low, ">=", t.min_bfmi, low >= t.min_bfmi,
                          f"per chain: {', '.join(f'{x:.2f}' for x in b)}"))
    else:
        gates.append(Gate("bfmi", None, ">=", t.min_bfmi, None, "sampler records no energy"))
    return gates


def recovery_allowance(draws: dict[str, np.ndarray], intervals: dict[str, tuple[float, float]],
                       level: float) -> int:
    """Misses a calibrated posterior exceeds with probability at most ``level``: the
    ``1 - level`` quantile of the misses of each posterior draw against the intervals."""
    names = list(intervals)
    d = np.stack([draws[n] for n in names], axis=1)
    low = np.array([intervals[n][0] for n in names])
    high = np.array([intervals[n][1] for n in names])
    misses = ((d < low) | (d > high)).sum(axis=1)
    return int(np.quantile(misses, 1.0 - level, method="higher"))


def recovery_gate(draws: dict[str, np.ndarray], parameters: dict[str, dict],
                  truth: dict[str, float], t: Thresholds) -> Gate:
    """Count of fitted parameters whose 94% HDI misses the truth, against its allowance."""
    names = [n for n in parameters if n in truth]
    if not names:
        return Gate("recovery", None, "<=", None, None, "no truth.json: real data")
    intervals = {n: (parameters[n]["hdi_low"], parameters[n]["hdi_high"]) for n in names}
    missed = [n for n in names if not intervals[n][0] <= truth[n] <= intervals[n][1]]
    allowed = recovery_allowance(draws, intervals, t.recovery_level)
    note = f"{len(names)} parameters; missed: {', '.join(missed) or 'none'}"
    return Gate("recovery", len(missed), "<=", allowed, len(missed) <= allowed, note)


def hash_gate(model_hash: str, baseline: dict | None) -> Gate:
    if baseline is None:
        return Gate("model_hash", None, "==", None, None, "no baseline")
    same = baseline.get("model_hash") == model_hash
    note = (f"baseline {baseline.get('model_hash')}, this model {model_hash}" if not same
            else model_hash)
    return Gate("model_hash", None, "==", None, same, note)


def _drift_items(summary: dict) -> dict[str, dict]:
    items = dict(summary["parameters"])
    items.update({f"population.{k}": summary["population"][k] for k in ("nps", "ces", "csat")})
    return items


def drift_gates(summary: dict, baseline: dict | None, t: Thresholds) -> list[Gate]:
    """Posterior means and HDI widths against the baseline's (same names)."""
    if baseline is None:
        return [Gate("drift_mean", None, "<=", t.max_shift_sd, None, "no baseline"),
                Gate("drift_width", None, "<=", t.max_width_ratio, None, "no baseline")]
    now, then = _drift_items(summary), baseline["items"]
    if set(now) != set(then):
        diff = sorted(set(now) ^ set(then))
        note = f"parameters differ from the baseline's: {', '.join(diff[:5])}"
        return [Gate("drift_mean", None, "<=", t.max_shift_sd, False, note),
                Gate("drift_width", None, "<=", t.max_width_ratio, False, note)]
    shift = {n: abs(now[n]["mean"] - then[n]["mean"]) / then[n]["sd"] for n in now}
    ratio = {}
    for n in now:
        w1 = now[n]["hdi_high"] - now[n]["hdi_low"]
        w0 = then[n]["hdi_high"] - then[n]["hdi_low"]
        ratio[n] = max(w1 / w0, w0 / w1) if w0 > 0 and w1 > 0 else np.inf
    s_name, s = max(shift.items(), key=lambda kv: kv[1])
    r_name, r = max(ratio.items(), key=lambda kv: kv[1])
    return [Gate("drift_mean", s, "<=", t.max_shift_sd, s <= t.max_shift_sd, f"worst: {s_name}"),
            Gate("drift_width", r, "<=", t.max_width_ratio, r <= t.max_width_ratio,
                 f"worst: {r_name}")]


def baseline_of(summary: dict, model_hash: str, data_hash: str) -> dict:
    """The baseline document: what drift is measured against."""
    return {"kind": "cxsim-check baseline", "model_hash": model_hash, "data_hash": data_hash,
            "settings": summary["settings"], "items": _drift_items(summary)}


# -- posterior predictive checks ------------------------------------------------------------

def _ordinal(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """Category index of a draw from each row of ``probs`` (..., K)."""
    u = rng.random(probs.shape[:-1])[..., None]
    return np.minimum((np.cumsum(probs, axis=-1) < u).sum(axis=-1), probs.shape[-1] - 1)


def replicate(prep: Prepared, model: DrawModel,
              rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Replicated statistics per draw: respondents' NPS and mean CES, retention at the last
    check; given the observed episodes, surveys sent and customers at risk."""
    col = model.col
    # CES after interactions: who answers (selection on |d|), then what.
    dev = model.dev[:, prep.post_episode]
    answer = rng.random(dev.shape) < expit(col["response_base"]
                                                    + col["response_extremity"] * np.abs(dev))
    ces = _ordinal(rng, outcomes.ordinal_probs(model.effort[:, prep.post_episode],
                                               model.cutpoints("ces_cutpoints", 6))) + 1
    ces_mean = (ces * answer).sum(1) / np.maximum(answer.sum(1), 1)
    # NPS: customers with earlier episodes, then those without (R = base, by segment).
    q = prep.nps_q
    rel = model.relationship(q)
    d = rel - model.base[:, q.segment]
    answer = rng.random(d.shape) < expit(col["response_base"]
                                                  + col["response_extremity"] * np.abs(d))
    nps = _ordinal(rng, outcomes.ordinal_probs(col["nps_slope"] * rel,
                                               model.cutpoints("nps_cutpoints", 10)))
    counts = np.stack([((nps == k) & answer).sum(1) for k in range(11)], axis=1).astype(float)
    answered0 = rng.binomial(prep.nps0_sent.astype(np.int64)[None, :],
                             expit(col["response_base"]))
    p0 = outcomes.ordinal_probs(col["nps_slope"] * model.base,
                                model.cutpoints("nps_cutpoints", 10))
    for g in range(len(prep.segments)):
        p = p0[:, g] / p0[:, g].sum(-1, keepdims=True)
        counts += rng.multinomial(answered0[:, g], p)
    # Retention: who leaves at each check, among the customers observed at risk.
    cq = prep.churn_q
    logit = model.p_matrix("churn_logit", prep.segments)
    h = outcomes.churn_hazard(model.relationship(cq), logit[:, cq.segment],
                              col["churn_relationship"])
    left = rng.random(h.shape) < h
    checks = np.searchsorted(prep.check_times, prep.churn_q_time)
    k = prep.check_times.size
    events = np.stack([left[:, checks == i].sum(1) for i in range(k)], axis=1).astype(float)
    h0 = outcomes.churn_hazard(model.base, logit, col["churn_relationship"])  # (n, segments)
    events += rng.binomial(prep.churn0_at_risk.astype(np.int64)[None], h0[:, :, None]).sum(1)
    at_risk = np.bincount(checks, minlength=k) + prep.churn0_at_risk.sum(0)
    retention = np.prod(1 - events / np.maximum(at_risk, 1), axis=1)
    return {"nps": metrics.nps_from_counts(counts), "ces": ces_mean, "retention": retention}


def observed_statistics(prep: Prepared) -> dict[str, float]:
    """The same statistics on the observed data."""
    counts = np.bincount(prep.nps_value, minlength=11).astype(float) + prep.nps0_counts.sum(0)
    checks = np.searchsorted(prep.check_times, prep.churn_q_time)
    k = prep.check_times.size
    events = np.bincount(checks, weights=prep.churned, minlength=k) + prep.churn0_churned.sum(0)
    at_risk = np.bincount(checks, minlength=k) + prep.churn0_at_risk.sum(0)
    return {"nps": float(metrics.nps_from_counts(counts)), "ces": float(np.mean(prep.ces + 1)),
            "retention": float(np.prod(1 - events / np.maximum(at_risk, 1)))}


def tail_area(replicated: np.ndarray, observed: float) -> float:
    """Two-sided posterior predictive p-value of ``observed`` among ``replicated``."""
    upper = float(np.mean(replicated >= observed))
    lower = float(np.mean(replicated <= observed))
    return min(1.0, 2 * min(upper, lower))


def ppc_gates(prep: Prepared, model: DrawModel, t: Thresholds, seed: int) -> list[Gate]:
    rep = replicate(prep, model, np.random.default_rng(seed))
    obs = observed_statistics(prep)
    level = t.ppc_level / len(rep)
    gates = []
    for name, values in rep.items():
        p = tail_area(values, obs[name])
        lo, hi = np.percentile(values, [5, 95])
        gates.append(Gate(f"ppc_{name}", p, ">=", level, p >= level,
                          f"observed {obs[name]:.3g}, replicated 90% [{lo:.3g}, {hi:.3g}]"))
    return gates


def as_dicts(gates: list[Gate]) -> list[dict]:
    return [asdict(g) for g in gates]


def table(gates: list[Gate]) -> str:
    """A readable table of the gates."""
    def fmt(x: float | None) -> str:
        if x is None:
            return "-"
        return f"{x:d}" if isinstance(x, int) else f"{x:.4g}"

    rows = [("gate", "figure", "threshold", "result", "note")]
    for g in gates:
        result = {True: "pass", False: "FAIL", None: "not run"}[g.passed]
        threshold = f"{g.rule} {fmt(g.threshold)}" if g.threshold is not None else g.rule
        rows.append((g.name, fmt(g.figure), threshold, result, g.note))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4]
             for r in rows]
    lines.insert(1, "-" * (sum(widths) + 8 + 4))
    return "\n".join(line.rstrip() for line in lines)


def fit_gates(tree: Any, data: Any, prep: Prepared, anchor: str, settings: Any, summary: dict,
              baseline: dict | None, t: Thresholds) -> list[Gate]:
    """Every gate of a fit (``tree`` and its ``summary``, of ``data`` by ``settings``) but the
    model hash: diagnostics, recovery (when ``data`` has a truth), drift against
    ``baseline``, posterior predictive checks."""
    draws = parameter_draws(tree["posterior"].to_dataset())
    gates = diagnostics_gates(tree, list(summary["parameters"]), t)
    truth = data.truth.get("parameters", {}) if data.truth else {}
    gates.append(recovery_gate(draws, summary["parameters"], truth, t))
    gates.extend(drift_gates(summary, baseline, t))
    rng = np.random.default_rng(np.random.SeedSequence(settings.seed, spawn_key=(1,)))
    model = DrawModel(prep, subsample(draws, POPULATION_DRAWS, rng), anchor, settings.anchor_base)
    gates.extend(ppc_gates(prep, model, t, seed=settings.seed))
    return gates

