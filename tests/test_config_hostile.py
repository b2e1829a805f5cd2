"""Hostile app options, studies, posteriors and baselines (issue 22): each refused before any
work, naming the key and the value. Options are checked where every app checks them - the
typed schema (:func:`cxsim.spec.config.to_typed`: Hydra's types, then the ``ranged`` rules) -
so most cases compose in-process; a few go through the apps for exit 2, no traceback and
nothing written.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from apprun import run_app
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from cxsim.apps.common import bundled_or
from cxsim.calibrate import store
from cxsim.data.synthetic import example_path
from cxsim.forecast.propagate import Draws
from cxsim.forecast.study import Posterior, load_study, posterior_draws, read_posterior
from cxsim.spec import SpecError, config_dir, load_scenario, theta_of
from cxsim.spec.config import to_typed


def composed(app: str, overrides: list[str]):
    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        return compose(app, overrides=overrides)


# (app, override, key named, value shown)
RANGES = [
    ("fit", "sampler.draws=0", "sampler.draws", "0"),
    ("fit", "sampler.draws=-5", "sampler.draws", "-5"),
    ("fit", "sampler.tune=-1", "sampler.tune", "-1"),
    ("fit", "sampler.chains=0", "sampler.chains", "0"),
    ("fit", "sampler.seed=-1", "sampler.seed", "-1"),
    ("fit", "sampler.name=stan", "sampler.name", "'stan'"),
    ("fit", "sampler.target_accept=1.5", "sampler.target_accept", "1.5"),
    ("fit", "sampler.target_accept=0", "sampler.target_accept", "0"),
    ("fit", "sampler.target_accept=nan", "sampler.target_accept", "nan"),
    ("fit", "process.churn_period_days=0", "process.churn_period_days", "0"),
    ("fit", "process.churn_period_days=-3", "process.churn_period_days", "-3"),
    ("fit", "process.churn_period_days=0.001", "process.churn_period_days", "0.001"),
    ("fit", "process.churn_period_days=inf", "process.churn_period_days", "inf"),
    ("fit", "process.fatigue_days=0", "process.fatigue_days", "0"),
    ("fit", "model=stan", "model", "'stan'"),
    ("fit", "discount_rate=-1", "discount_rate", "-1"),
    ("fit", "discount_rate=0", "discount_rate", "0"),
    ("fit", "discount_rate=inf", "discount_rate", "inf"),
    ("fit", "forecast_periods=-3", "forecast_periods", "-3"),
    ("fit", "forecast_periods=100000000", "forecast_periods", "100000000"),
    ("check", "sbc.draws=0", "sbc.draws", "0"),
    ("check", "sbc.draws=-1", "sbc.draws", "-1"),
    ("check", "sbc.n_sims=0", "sbc.n_sims", "0"),
    ("check", "sbc.ranks=3", "sbc.ranks", "3"),
    ("check", "sbc.n_jobs=0", "sbc.n_jobs", "0"),
    ("check", "sbc.chains=0", "sbc.chains", "0"),
    ("check", "sbc.customers=0", "sbc.customers", "0"),
    ("check", "sbc.horizon_days=0", "sbc.horizon_days", "0"),
    ("check", "n_sims=0", "n_sims", "0"),
    ("check", "mode=fast", "mode", "'fast'"),
    ("check", "sampler.draws=-2", "sampler.draws", "-2"),
    ("whatif", "draws=0", "draws", "0"),
    ("whatif", "draws=-5", "draws", "-5"),
    ("whatif", "driver_step=-1", "driver_step", "-1"),
    ("whatif", "driver_step=0", "driver_step", "0"),
    ("whatif", "driver_step=1.5", "driver_step", "1.5"),
    ("whatif", "driver_step=nan", "driver_step", "nan"),
    ("fit", "+samplr.draws=3", "samplr", "{'draws': 3}"),
    ("check", "+foo=1", "foo", "1"),
    ("whatif", "+foo.bar=1", "foo", "{'bar': 1}"),
]


@pytest.mark.parametrize("app,override,key,value", RANGES, ids=[f"{a}:{o}" for a, o, *_ in RANGES])
def test_option_out_of_range_or_unknown_is_refused(app: str, override: str, key: str,
                                                   value: str) -> None:
    with pytest.raises(SpecError) as caught:
        to_typed(composed(app, [override]))
    assert caught.value.key == key
    assert str(caught.value).startswith(f"{key} = ") and value in str(caught.value)


TYPES = [("fit", "sampler.draws=abc"), ("fit", "sampler.seed=abc"), ("whatif", "draws=abc"),
         ("whatif", "driver_step=x"), ("check", "sbc.n_sims=many"), ("fit", "progress=maybe")]


@pytest.mark.parametrize("app,override", TYPES, ids=[f"{a}:{o}" for a, o in TYPES])
def test_option_of_the_wrong_type_is_refused_while_composing(app: str, override: str) -> None:
    with pytest.raises(ConfigCompositionException) as caught:
        composed(app, [override])
    key, value = override.split("=")
    cause = str(caught.value.__cause__)
    assert key.split(".")[-1] in cause and value in cause


@pytest.mark.parametrize("app", ["fit", "check", "whatif", "simulate"])
def test_every_shipped_default_is_in_range(app: str) -> None:
    to_typed(composed(app, []))


BAD_NAMES = ["x/../../../ESCAPED", "../up", "a/b", "..", ".hidden", "a" * 65, "with space",
             "tab\tname"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_scenario_names_that_would_leave_the_run_directory_are_refused(name: str) -> None:
    cfg = composed("whatif", ["study=simpler_returns"])
    OmegaConf.set_struct(cfg, False)
    cfg.whatif.scenarios = {name: {"population": {"customers": 10}}}
    with pytest.raises(SpecError) as caught:
        load_study(cfg)
    assert caught.value.key == "whatif.scenarios" and caught.value.value == name


def _posterior(tmp_path: Path, value: float) -> Path:
    """A posterior.nc with the micro fit's coordinates whose draws are all ``value``."""
    post = xr.Dataset({"effort_weight": (("chain", "draw"), np.full((2, 5), value))},
                      coords={"segment": ["a", "b"], "free_segment": ["b"]})
    tree = xr.DataTree.from_dict({"posterior": post})
    return store.save_posterior(tree, tmp_path / "posterior.nc", model="micro", config={},
                                model_hash="x", data_hash="y", fit_for_forecasting=True)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_posterior_with_non_finite_draws_is_refused(tmp_path: Path, value: float) -> None:
    path = _posterior(tmp_path, value)
    with pytest.raises(SpecError, match="draws of effort_weight are NaN or infinite") as caught:
        read_posterior(path)
    assert caught.value.key == "posterior"


def test_asking_more_draws_than_the_posterior_holds_is_refused_not_capped() -> None:
    s = load_scenario(composed("whatif", []))
    theta = theta_of(s)
    anchor = next(k[len("satisfaction_base["):-1] for k in theta
                  if k.startswith("satisfaction_base["))
    values = {k: np.full(40, v) for k, v in theta.items()
              if k != f"satisfaction_base[{anchor}]"}
    post = Posterior(Draws(values, anchor, theta[f"satisfaction_base[{anchor}]"]), True,
                     Path("."), "x", {})
    assert posterior_draws(post, s, 40).size == 40  # all of them: fine
    with pytest.raises(SpecError, match="more than the posterior's 40 draws") as caught:
        posterior_draws(post, s, 100000)
    assert (caught.value.key, caught.value.value) == ("draws", 100000)


def test_bundled_data_only_by_name_and_the_run_says_so(capsys) -> None:
    assert bundled_or("example", "data.dir", example_path(), "example", "fit") == example_path()
    assert "BUNDLED example data" in capsys.readouterr().err
    assert bundled_or("/my/data", "data.dir", example_path(), "example", "fit") == \
        Path("/my/data")
    assert capsys.readouterr().err == ""
    for given in ("", None):  # typed empty, or null: never the bundled data in their place
        with pytest.raises(SystemExit) as caught:
            bundled_or(given, "data.dir", example_path(), "example", "fit")
        assert caught.value.code == 2
        assert f"data.dir = {given!r}: give your data" in capsys.readouterr().err


def _written(out: Path) -> list[str]:
    return sorted(p.name for p in out.rglob("*") if p.is_file() and ".hydra" not in p.parts
                  and p.suffix != ".log")


def _baseline(tmp_path: Path, item: dict | None) -> Path:
    path = tmp_path / "baseline.json"
    if item is None:
        path.mkdir()
        return path
    path.write_text(json.dumps({"kind": "cxsim-check baseline", "items": {"p": item}}))
    return path


APP_CASES = [
    ("fit", ["data.dir="], "data.dir = '': give your data"),
    ("fit", ["data.dir=null"], "data.dir = None: give your data"),
    ("check", ["data.dir=null"], "data.dir = None: give your data"),
    ("fit", ["model=cohort", "data.path=null"], "data.path = None: give your data"),
    ("fit", ["model=cohort", "data.dir=/tmp"], "data.dir = '/tmp': the cohort model reads "
     "data.path"),
    ("fit", ["data.path=/tmp/x.csv"], "data.path = '/tmp/x.csv': the micro model reads data.dir"),
    ("fit", ["anchor.segment=martians", f"data.dir={example_path()}"],
     "anchor.segment = 'martians': not a segment of customers.csv"),
    ("check", ["baseline=DIR"], "is a directory"),
    ("check", ["baseline=SD0"], "items.p.sd = 0: must be a finite number > 0"),
    ("check", ["baseline=NOSD"], "items.p.sd = None: must be a finite number > 0"),
    ("check", ["+foo=1"], "foo = 1: unknown key"),
]


@pytest.mark.parametrize("app,args,message", APP_CASES,
                         ids=[f"{a}:{' '.join(x)}" for a, x, _ in APP_CASES])
def test_app_refuses_with_exit_2_and_writes_nothing(tmp_path: Path, app: str, args: list[str],
                                                    message: str) -> None:
    good = {"mean": 1.0, "sd": 0.5, "hdi_low": 0.0, "hdi_high": 2.0}
    items = {"DIR": None, "SD0": {**good, "sd": 0}, "NOSD": {k: v for k, v in good.items()
                                                              if k != "sd"}}
    args = [f"baseline={_baseline(tmp_path, items[a.split('=')[1]])}"
            if a.startswith("baseline=") else a for a in args]
    out = tmp_path / "run"
    done = run_app(app, *args, "sampler.draws=10", "sampler.tune=0", "sampler.chains=2",
                   out=out, timeout=120)
    assert done.returncode == 2, done.stderr[-2000:]
    assert message in done.stderr and "Traceback" not in done.stderr
    assert _written(out) == []


@pytest.mark.parametrize("text", ["whatif:\n  scenarios: [a: {b: 1}\n",  # unclosed flow list
                                  "whatif:\n\theadline: nps\n",  # a tab for indentation
                                  "whatif: {headline: nps\n"])
def test_a_study_file_hydra_cannot_parse_is_refused_without_a_traceback(
        tmp_path: Path, text: str) -> None:
    """A malformed YAML study: exit 2 with the parser's message naming the file and line
    (Hydra prints a traceback for it, which the apps cut to the message), nothing run."""
    (tmp_path / "study").mkdir()
    (tmp_path / "study" / "bad.yaml").write_text("# @package _global_\n" + text)
    done = run_app("whatif", "study=bad", f"hydra.searchpath=[file://{tmp_path}]",
                   out=tmp_path / "run")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "cxsim: error:" in done.stderr and "bad.yaml" in done.stderr and "line" in done.stderr
    assert not (tmp_path / "run" / "whatif.json").exists()
