"""What a scenario *is*: typed dataclasses, their Hydra registration, loading and validation.

>>> s = compose_scenario(["experiment=erlang", "queue.agents=3"])
>>> s.touchpoints["phone"].shifts[0].agents
3
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from cxsim.spec.schema import (
    Behaviour,
    Duration,
    Handoffs,
    Journey,
    Population,
    Scenario,
    Segment,
    Shift,
    SimulateConfig,
    Touchpoint,
    WhatIfConfig,
)
from cxsim.spec.theta import theta_of, with_theta
from cxsim.spec.validate import SpecError, validate

__all__ = [
    "Behaviour",
    "Duration",
    "Handoffs",
    "Journey",
    "Population",
    "Scenario",
    "Segment",
    "Shift",
    "SpecError",
    "Touchpoint",
    "compose_scenario",
    "theta_of",
    "with_theta",
    "config_dir",
    "load_scenario",
    "validate",
]

MINUTES_PER_MONTH = 30 * 24 * 60


def _inverse(rate: float) -> float | None:
    """Mean of an exponential law from its rate; rate 0 means 'never' (None)."""
    rate = float(rate)
    return None if rate == 0 else 1.0 / rate


def _per_customer_month(rate_per_min: float, customers: int) -> float:
    """Needs per customer per month that add up to ``rate_per_min`` over ``customers``."""
    return float(rate_per_min) * MINUTES_PER_MONTH / int(customers)


def _register() -> None:
    for name, fn in (("cx.inverse", _inverse), ("cx.per_customer_month", _per_customer_month)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)
    # The app's schema is a group so that cxsim-whatif can reuse simulate.yaml's tree and
    # override only the schema (``override schema: whatif``).
    store = ConfigStore.instance()
    store.store(group="schema", name="simulate", node=SimulateConfig, package="_global_")
    store.store(group="schema", name="whatif", node=WhatIfConfig, package="_global_")


_register()


def config_dir() -> Path:
    """The directory of the Hydra config tree shipped with cxsim (``configs/`` in the repo)."""
    return Path(str(resources.files("cxsim.configs")))


def load_scenario(cfg: DictConfig | dict) -> Scenario:
    """Turn a composed config into a validated :class:`Scenario`.

    Keys that are not part of a scenario (app options, ``hydra``) are ignored; interpolations
    are resolved here, so an unresolvable one is reported as a :class:`SpecError`.
    """
    cfg = OmegaConf.create(cfg) if isinstance(cfg, dict) else cfg
    keys = set(Scenario.__dataclass_fields__)
    schema = OmegaConf.get_type(cfg)
    app_keys = getattr(schema, "__dataclass_fields__", SimulateConfig.__dataclass_fields__)
    known = keys | set(app_keys) | set(SimulateConfig.__dataclass_fields__) | {"hydra"}
    for key in cfg:
        if key not in known:  # e.g. '+horizn=3' gets past Hydra's struct mode
            raise SpecError(str(key), cfg.get(key), "unknown key: not part of a scenario")
    try:
        container = OmegaConf.to_container(cfg, resolve=True)
        plain = {k: v for k, v in container.items() if k in keys}
        merged = OmegaConf.merge(OmegaConf.structured(Scenario), plain)
        scenario = OmegaConf.to_object(merged)
    except OmegaConfBaseException as e:
        key = getattr(e, "full_key", None) or "config"
        raise SpecError(str(key), getattr(e, "value", None), str(e).splitlines()[0]) from None
    return validate(scenario)


def compose_scenario(overrides: Sequence[str] = (), config_name: str = "simulate") -> Scenario:
    """Compose ``configs/`` with Hydra overrides (as on the command line) into a Scenario."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        cfg = compose(config_name, overrides=list(overrides))
    return load_scenario(cfg)
