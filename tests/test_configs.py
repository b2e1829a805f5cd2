"""Every config of every group composes and validates, each group in one glob test (as
lightning-hydra-template composes each experiment): preset scenarios (``experiment=``),
what-if studies (``study=``), multirun grids (``sweep=``, with their first grid point) and
optimiser searches (``search=``, with the start of their search space). A config in the wrong
group fails here: what makes a kind is checked, not read from the file's text."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from cxsim.forecast.study import load_study
from cxsim.spec import config_dir, load_scenario

ROOT = Path(__file__).resolve().parents[1]
GROUPS = ("experiment", "study", "sweep", "search")


def names(group: str) -> list[str]:
    return sorted(p.stem for p in (config_dir() / group).glob("*.yaml"))


def first_value(key: str, value: str) -> str:
    """One value of a sweep parameter: the first of a list or range, the start of an interval."""
    override = OverridesParser.create().parse_override(f"{key}={value}")
    if not override.is_sweep_override():
        return override.get_value_element_as_str()
    if override.is_interval_sweep():
        start = override.value().start
        return str(int(start) if "int" in value.split("(")[0] else start)
    return next(iter(override.sweep_string_iterator()))


def test_each_group_has_its_configs() -> None:
    assert (ROOT / "configs" / "study").resolve() == (ROOT / "experiments").resolve()
    assert {"erlang", "journey5", "priority"} <= set(names("experiment"))
    assert len(names("study")) >= 5
    assert {"staffing", "erlang"} <= set(names("sweep"))
    assert names("search") == ["cheapest_staffing"]


@pytest.mark.parametrize(("group", "name"), [(g, n) for g in GROUPS for n in names(g)],
                         ids=lambda x: x)
def test_config_composes(group: str, name: str) -> None:
    if group == "search":  # searches run on the Optuna sweeper
        pytest.importorskip("hydra_plugins.hydra_optuna_sweeper", reason="cxsim[optuna]")
    app = "whatif" if group == "study" else "simulate"
    chosen = f"{group}={name}"
    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        cfg = compose(app, [chosen], return_hydra_config=True)
        plain = compose(app, [chosen])
        if group == "study":
            study = load_study(plain)
            assert study.scenarios and study.headline
        else:
            load_scenario(plain)
            assert plain.whatif is None, "a what-if block belongs in a study"
        assert (plain.objective is not None) == (group == "search"), "objective: a search"
        params = cfg.hydra.sweeper.get("params") or {}
        assert bool(params) == (group in ("sweep", "search")), "a grid: a sweep or a search"
        for key in params:
            assert OmegaConf.select(cfg, key, default="<missing>") != "<missing>", key
        if params:
            point = [f"{k}={first_value(k, str(v))}" for k, v in params.items()]
            load_scenario(compose(app, [chosen, *point]))


@pytest.mark.parametrize(("app", "schema"), [("simulate", "SimulateConfig"),
                                             ("whatif", "WhatIfConfig"), ("fit", "FitConfig"),
                                             ("check", "CheckConfig")])
def test_every_app_config_is_typed(app: str, schema: str) -> None:
    """Each app composes onto its schema (cxsim.spec.config): a typed key is typed, a
    misspelt one is refused while composing, and one added with '+' (which Hydra lets
    through) when the app reads its config."""
    from hydra.errors import ConfigCompositionException

    from cxsim.spec import SpecError, config
    from cxsim.spec.config import to_typed

    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        assert OmegaConf.get_type(compose(app)) is getattr(config, schema)
        if app in ("fit", "check"):
            assert compose(app, ["sampler.target_accept=0.95"]).sampler.target_accept == 0.95
        key = "sampler" if app in ("fit", "check") else "horizon"
        with pytest.raises(ConfigCompositionException):
            compose(app, [f"{key}x=3"])
        added = compose(app, [f"+{key}x.y=3"])
    with pytest.raises(SpecError, match=f"{key}x"):
        load_scenario(added) if app in ("simulate", "whatif") else to_typed(added)


@pytest.mark.parametrize("kind", names("touchpoint"))
def test_a_touchpoint_template_adds_a_touchpoint(kind: str) -> None:
    """``+touchpoint@touchpoints.NAME=KIND`` adds a touchpoint of that kind (the templates'
    file names are the kinds), which validates once its channel is set; an unset channel is
    refused with its key."""
    from cxsim.spec import SpecError, compose_scenario
    from cxsim.spec.kinds import KINDS

    assert kind in KINDS
    added = [f"+touchpoint@touchpoints.extra={kind}"]
    s = compose_scenario([*added, "touchpoints.extra.channel=phone"])
    assert s.touchpoints["extra"].kind == kind
    with pytest.raises(SpecError, match="touchpoints.extra.channel"):
        compose_scenario(added)


def test_an_added_desk_serves_the_journeys_that_list_it() -> None:
    """A store desk added from the command line takes the returns of a journey that lists it
    (and only those), and is staffed as its shifts say."""
    from cxsim.engine import simulate
    from cxsim.spec import compose_scenario

    added = ["+touchpoint@touchpoints.returns_desk=store", "touchpoints.returns_desk.channel=store",
             "touchpoints.returns_desk.shifts=[{start_hour: 9, end_hour: 17, agents: 2}]",
             "population.customers=1500", "horizon=14", "warmup=1", "replications=2"]
    listed = compose_scenario([*added, "journeys.return_refund.touchpoints=[returns_desk]"])
    desk = simulate(listed).metrics["touchpoints"]["returns_desk"]
    assert desk["volume"] > 0 and desk["service_level"] > 0
    unlisted = simulate(compose_scenario(added)).metrics["touchpoints"]["returns_desk"]
    assert unlisted["volume"] == 0
