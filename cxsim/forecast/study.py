"""A what-if study: a baseline scenario, its changes, and the behaviour draws to compare them.

A study is an ``experiments/NAME.yaml`` file (``study=NAME``) whose ``whatif`` block names a
headline figure and the changed scenarios, each a mapping of scenario keys (dotted, as on the
command line) to new values:

.. code-block:: yaml

    whatif:
      headline: ces
      scenarios:
        simpler_returns:
          journeys.return_refund.steps: 3

The draws come from ``cxsim-fit``'s ``posterior.nc`` (:func:`posterior_draws`), or are the
scenario's own behaviour (:func:`scenario_draws`: no behaviour uncertainty).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from cxsim.forecast.propagate import Draws, metric_names
from cxsim.spec import Scenario, SpecError, load_scenario, theta_of

WHATIF_KEYS = ("headline", "scenarios")


@dataclass
class Study:
    """The scenarios of a study, baseline first; ``changes`` says what each one changes."""

    baseline: Scenario
    scenarios: dict[str, Scenario]
    changes: dict[str, dict[str, Any]]
    headline: str


def load_study(cfg: DictConfig) -> Study:
    """The study in a composed ``cxsim-whatif`` config (its ``whatif`` block), validated."""
    baseline = load_scenario(cfg)
    block = cfg.get("whatif")
    if block is None:
        from cxsim.spec import config_dir

        names = sorted(p.stem for p in (config_dir() / "study").glob("*.yaml"))
        raise SpecError("study", None, "no what-if study given: pass study=NAME, one of "
                        f"{', '.join(names)} (experiments/)")
    block = OmegaConf.to_container(block, resolve=True)
    if not isinstance(block, dict):
        raise SpecError("whatif", block, "must be a mapping with 'headline' and 'scenarios'")
    for key in block:
        if key not in WHATIF_KEYS:
            raise SpecError(f"whatif.{key}", block[key], f"unknown key; expected {WHATIF_KEYS}")
    headline = block.get("headline", "ltv")
    names = metric_names()
    if headline not in names:
        hint = (f" ({headline!r} is the respondents' figure: the forecast reports what "
                f"everyone would answer, {headline}_population)"
                if f"{headline}_population" in names else "")
        raise SpecError("whatif.headline", headline,
                        f"must be one of {', '.join(names)}{hint}")
    changes = block.get("scenarios")
    if not isinstance(changes, dict) or not changes:
        raise SpecError("whatif.scenarios", changes,
                        "must map each changed scenario's name to its changes")
    scenarios = {}
    for name, change in changes.items():
        if name == "baseline":
            raise SpecError(f"whatif.scenarios.{name}", change, "'baseline' is reserved")
        if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}", str(name)) or ".." in name:
            # names become file names (flow_NAME.png): confined to the run directory
            raise SpecError("whatif.scenarios", name, "a scenario name must be 1-64 letters, "
                            "digits, '_', '-' or '.' (no '/', no '..'): it names output files")
        if not isinstance(change, dict) or not change:
            raise SpecError(f"whatif.scenarios.{name}", change,
                            "must map scenario keys to new values")
        scenarios[name] = apply_changes(cfg, change, f"whatif.scenarios.{name}")
    return Study(baseline, scenarios, changes, headline)


def apply_changes(cfg: DictConfig, change: dict[str, Any], where: str) -> Scenario:
    """The scenario of ``cfg`` with ``change`` ({dotted key: value}) applied, validated."""
    new = cfg.copy()
    for key, value in change.items():
        try:
            if OmegaConf.select(new, key, default=_MISSING) is _MISSING:
                raise SpecError(f"{where}.{key}", value, "no such key in the scenario")
            OmegaConf.update(new, key, value, merge=True)
        except OmegaConfBaseException as e:
            raise SpecError(f"{where}.{key}", value, str(e).splitlines()[0]) from None
    try:
        return load_scenario(new)
    except SpecError as e:
        raise SpecError(f"{where} -> {e.key}", e.value, e.reason) from None


_MISSING = object()


def scenario_draws(s: Scenario) -> Draws:
    """The scenario's own behaviour as a single draw."""
    theta = theta_of(s)
    anchor = sorted(s.segments)[0]
    return Draws({k: np.array([v]) for k, v in theta.items()}, anchor,
                 theta[f"satisfaction_base[{anchor}]"])


@dataclass
class Posterior:
    """Draws read from a ``posterior.nc`` and what the fit said about itself."""

    draws: Draws
    fit_for_forecasting: bool
    path: Path
    model_hash: str
    process: dict[str, float]
    other_model: str | None = None  # why the draws are not of the model this code builds


def posterior_of_fit(tree: Any, summary: dict) -> Posterior:
    """The posterior of an in-memory fit (:func:`cxsim.calibrate.micro.fit.fit_micro`'s
    result)."""
    from cxsim.calibrate.micro.draws import parameter_draws

    post = tree["posterior"].to_dataset()
    fixed = summary["fixed"]
    anchor = _anchor(post)
    settings = summary["settings"]
    return Posterior(Draws(parameter_draws(post), anchor,
                           float(fixed[f"satisfaction_base[{anchor}]"])),
                     bool(summary["fit_for_forecasting"]), Path("."), summary["model_hash"],
                     {k: float(settings[k]) for k in ("churn_period_days", "fatigue_days")})


def _anchor(post: Any) -> str:
    """The segment whose baseline the fit fixed: the one that is not free."""
    return str(sorted(set(post.coords["segment"].values.tolist())
                      - set(post.coords["free_segment"].values.tolist()))[0])


def compose_study(name: str, overrides: list[str] | tuple[str, ...] = ()) -> Study:
    """The study ``experiments/NAME.yaml`` with Hydra overrides, as ``cxsim-whatif`` sees it.

    >>> study = compose_study("simpler_returns", ["population.customers=1000"])
    >>> study.headline, list(study.scenarios)
    ('ces_population', ['three_steps', 'three_steps_and_store'])
    """
    from hydra import compose, initialize_config_dir

    from cxsim.spec import config_dir

    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        cfg = compose("whatif", overrides=[f"study={name}", *overrides])
    return load_study(cfg)


def read_posterior(path: str | Path) -> Posterior:
    """Read ``cxsim-fit``'s ``posterior.nc`` (or the directory holding it) and identify its
    model: ``other_model`` says why, if this code would build another one."""
    from cxsim.calibrate import store
    from cxsim.calibrate.micro.draws import parameter_draws

    try:
        saved = store.load_posterior(path, "micro")
    except store.PosteriorError as e:
        raise SpecError("posterior", e.path, e.reason) from None
    post, config = saved.tree["posterior"].to_dataset(), saved.config
    for name, values in post.data_vars.items():  # a NaN draw would poison every figure
        if values.dtype.kind == "f" and not np.isfinite(values.values).all():
            raise SpecError("posterior", str(saved.path), f"draws of {name} are NaN or "
                            "infinite: not a usable posterior")
    draws = Draws(parameter_draws(post), _anchor(post),
                  float(config.get("anchor", {}).get("satisfaction_base", 0.5)))
    other = store.same_model(saved, store.identity_of_config("micro", config))
    return Posterior(draws, saved.fit_for_forecasting, saved.path, saved.model_hash,
                     {k: float(v) for k, v in config.get("process", {}).items()}, other)


def posterior_draws(post: Posterior, s: Scenario, n: int) -> Draws:
    """``n`` draws of ``post`` (evenly spaced over its chains) as behaviour of ``s``. Only
    what the fit learned: each scenario keeps its own values of the rest (survey rates,
    revenue, discounting), so a change of survey frequency is a lever like any other."""
    for name, value in post.process.items():
        ours = getattr(s.behaviour, name)
        if not np.isclose(ours, value):
            raise SpecError(f"behaviour.{name}", ours, f"the posterior was fitted with {name} = "
                            f"{value:g}: forecast with the same process")
    theta = theta_of(s)
    # Hyperparameters (the spread of churn between segments) have no place in a scenario.
    fitted = {k: v for k, v in post.draws.values.items() if k in theta or "[" in k}
    unknown = sorted(set(fitted) - set(theta))
    if unknown:
        raise SpecError("posterior", unknown[0], "fitted parameter with no counterpart in the "
                        "scenario (a segment or contact reason it does not have)")
    total = post.draws.size
    if n < 1:
        raise SpecError("draws", n, "must be at least 1")
    if n > total:  # never a silent cap: the user asked for more than there is
        raise SpecError("draws", n, f"more than the posterior's {total} draws (chains x "
                        "draws of the fit): ask for at most those")
    index = np.unique(np.linspace(0, total - 1, min(n, total)).round().astype(int))
    values = {k: v[index] for k, v in fitted.items()}
    values[f"satisfaction_base[{post.draws.anchor}]"] = np.full(index.size,
                                                                post.draws.anchor_base)
    missing = [k for k in theta if k.startswith(("satisfaction_base[", "churn_logit["))
               and k not in fitted and not k.endswith(f"[{post.draws.anchor}]")]
    if missing:
        raise SpecError("posterior", missing[0], "the scenario has a segment the posterior "
                        "was not fitted on")
    return Draws(values, post.draws.anchor, post.draws.anchor_base)
