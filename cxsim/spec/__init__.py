"""What a scenario *is*: typed dataclasses, their Hydra registration, loading and validation.

>>> s = compose_scenario(["experiment=erlang", "queue.agents=3"])
>>> s.touchpoints["phone"].shifts[0].agents
3
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from cxsim.spec import config
from cxsim.spec.config import SimulateConfig, added_key
from cxsim.spec.kinds import MINUTES_PER_MONTH
from cxsim.spec.schema import (
    AgentGroup,
    Behaviour,
    Callback,
    Concurrency,
    Duration,
    Handoffs,
    IntervalStaffing,
    Journey,
    Patience,
    Population,
    PriorityClass,
    Redial,
    Scenario,
    Segment,
    Shift,
    Skills,
    Touchpoint,
)
from cxsim.spec.theta import theta_of, with_theta
from cxsim.spec.validate import SpecError, validate

__all__ = [
    "AgentGroup",
    "Behaviour",
    "Callback",
    "Concurrency",
    "Duration",
    "Handoffs",
    "IntervalStaffing",
    "Journey",
    "Patience",
    "Population",
    "PriorityClass",
    "Redial",
    "Scenario",
    "Segment",
    "Shift",
    "Skills",
    "SpecError",
    "Touchpoint",
    "compose_scenario",
    "theta_of",
    "with_theta",
    "config_dir",
    "load_scenario",
    "validate",
]


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
    config.register()


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
        if isinstance(schema, type) and issubclass(schema, Scenario):
            # Composed onto an app schema: already typed, only to be instantiated (a merge
            # onto a fresh Scenario schema would cost more than a short simulation).
            obj = OmegaConf.to_object(cfg)
            scenario = Scenario(**{k: getattr(obj, k) for k in keys})
            plain = {k: v for k, v in OmegaConf.to_container(cfg).items() if k in keys}
            extra = added_key(plain, scenario)
            if extra is not None:  # '+key=value' gets past Hydra's typed nodes
                raise SpecError(extra[0], extra[1], "unknown key: not part of a scenario")
        else:
            container = OmegaConf.to_container(cfg, resolve=True)
            plain = {k: v for k, v in container.items() if k in keys}
            scenario = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(Scenario), plain))
    except OmegaConfBaseException as e:
        key = getattr(e, "full_key", None) or "config"
        raise SpecError(str(key), getattr(e, "value", None), str(e).splitlines()[0]) from None
    from cxsim.spec.volume import scale_staffing

    return validate(scale_staffing(scenario))


def compose_scenario(overrides: Sequence[str] = (), config_name: str = "simulate") -> Scenario:
    """Compose ``configs/`` with Hydra overrides (as on the command line) into a Scenario."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        cfg = compose(config_name, overrides=list(overrides))
    return load_scenario(cfg)
