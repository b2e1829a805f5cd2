"""Moments that matter: which levers move lifetime value most.

A *lever* (:class:`Lever`, registered in :data:`LEVERS`) says what it applies to — each
touchpoint, each journey, or the handoffs — and how it moves a scenario by a signed relative
step. The registered ones: containment of a bot or self-service, agents of a staffed queue,
first-contact resolution, the context passed at handoffs and the steps of each procedure.
Every lever is moved down and up by ``step`` (relative; shares by ``step`` of their room to 0
or 1) from the baseline, one at a time, and the scenario is simulated with common random
numbers; the LTV change per customer, propagated over the draws, ranks the levers (a tornado
plot in :mod:`cxsim.plots.whatif`). A new lever is one :func:`register_lever` call
(docs/extending.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from cxsim.forecast.propagate import Draws
from cxsim.forecast.run import simulate_scenario
from cxsim.progress import Progress
from cxsim.spec import Scenario, SpecError, validate
from cxsim.spec.kinds import KINDS

Change = Callable[[Scenario, float], Scenario]  # (baseline, signed relative step) -> scenario
SCOPES = ("touchpoint", "handoffs", "journey")  # in the order the levers are listed


@dataclass(frozen=True)
class Lever:
    """A way to change a scenario by a signed relative step: ``move(s, step, name)`` for each
    touchpoint or journey ``name`` it ``applies`` to (a Touchpoint or a Journey -> bool), or
    ``move(s, step, None)`` once for the ``handoffs``. Listed as ``"<name>: <label>"``."""

    label: str
    scope: str
    move: Callable[[Scenario, float, str | None], Scenario]
    applies: Callable[[Any], bool] = lambda _: True


LEVERS: dict[str, Lever] = {}


def register_lever(lever: Lever) -> Lever:
    """Add (or replace) a lever: the drivers (and any study of levers) move it too."""
    if lever.scope not in SCOPES:
        raise ValueError(f"lever {lever.label!r}: scope must be one of {', '.join(SCOPES)}")
    LEVERS[lever.label] = lever
    return lever


def _share(x: float, step: float) -> float:
    """A share moved by ``step`` of its room towards 1 (step > 0) or 0 (step < 0)."""
    return x + step * (1 - x) if step > 0 else x * (1 + step)


def move_touchpoint(s: Scenario, name: str, **values: object) -> Scenario:
    """``s`` with touchpoint ``name``'s fields replaced by ``values`` (a lever's helper)."""
    tps = dict(s.touchpoints)
    tps[name] = dataclasses.replace(tps[name], **values)
    return dataclasses.replace(s, touchpoints=tps)


def _containment(s: Scenario, d: float, name: str) -> Scenario:
    return move_touchpoint(s, name, containment=_share(s.touchpoints[name].containment, d))


def _agents(s: Scenario, d: float, name: str) -> Scenario:
    """At least one agent more or fewer on every shift, never fewer than one."""
    def moved(n: int) -> int:
        return max(min(n, 1), n + int(np.sign(d)) * max(1, round(abs(d) * n)))

    shifts = [dataclasses.replace(sh, agents=moved(sh.agents))
              for sh in s.touchpoints[name].shifts]
    return move_touchpoint(s, name, shifts=shifts)


def _fcr(s: Scenario, d: float, name: str) -> Scenario:
    return move_touchpoint(s, name, fcr=_share(s.touchpoints[name].fcr, d))


def _context(s: Scenario, d: float, name: None = None) -> Scenario:
    h = s.handoffs
    return dataclasses.replace(
        s, handoffs=dataclasses.replace(h, context_carryover=_share(h.context_carryover, d)))


def _steps(s: Scenario, d: float, name: str) -> Scenario:
    """At least one step more or fewer."""
    j = s.journeys[name]
    move = int(np.sign(d)) * max(1, round(abs(d) * j.steps))
    journeys = {**s.journeys, name: dataclasses.replace(j, steps=max(0, j.steps + move))}
    return dataclasses.replace(s, journeys=journeys)


for _lever in (
    Lever("containment", "touchpoint", _containment, lambda tp: KINDS[tp.kind].automated),
    Lever("agents", "touchpoint", _agents, lambda tp: bool(tp.shifts)),
    Lever("first-contact resolution", "touchpoint", _fcr, lambda tp: KINDS[tp.kind].assisted),
    Lever("context carried", "handoffs", _context),
    Lever("procedure steps", "journey", _steps, lambda j: j.steps > 0),
):
    register_lever(_lever)


def levers(s: Scenario) -> dict[str, Change]:
    """The levers of ``s``: ``"<name>: <label>"`` -> how it changes the scenario for a signed
    step (each touchpoint's levers, then the handoffs', then each journey's)."""
    out: dict[str, Change] = {}
    targets = {"touchpoint": s.touchpoints, "journey": s.journeys}
    for scope in SCOPES:
        if scope == "handoffs":
            for lever in (v for v in LEVERS.values() if v.scope == scope):
                out[f"handoffs: {lever.label}"] = partial(lever.move, name=None)
            continue
        for name, target in targets[scope].items():
            for lever in (v for v in LEVERS.values() if v.scope == scope):
                if lever.applies(target):
                    out[f"{name}: {lever.label}"] = partial(lever.move, name=name)
    return out


def driver_table(s: Scenario, draws: Draws | None, step: float = 0.2,
                 progress: bool = False, metric: str = "ltv",
                 only: list[str] | None = None) -> pd.DataFrame:
    """Each lever's effect on ``metric`` when moved down and up: mean change per customer and
    its 90% interval over draws, sorted by the larger absolute effect (``only``: these
    levers)."""
    base = _metric(s, draws, metric)
    rows = []
    items = [(k, v) for k, v in levers(s).items() if only is None or k in only]
    with Progress(2 * len(items), "levers", "scenario", progress) as bar:
        for name, change in items:
            row: dict[str, object] = {"lever": name}
            for side, d in (("down", -step), ("up", step)):
                try:
                    changed = validate(change(s, d))
                except SpecError as e:  # e.g. a queue left without agents that others hand to
                    row.update({f"{side}_mean": np.nan, f"{side}_low": np.nan,
                                f"{side}_high": np.nan, f"{side}_note": str(e)})
                    continue
                delta = _metric(changed, draws, metric) - base
                row.update({f"{side}_mean": delta.mean(),
                            f"{side}_low": np.quantile(delta, 0.05),
                            f"{side}_high": np.quantile(delta, 0.95), f"{side}_note": ""})
                bar.update()
            rows.append(row)
    table = pd.DataFrame(rows)
    table["effect"] = table[["down_mean", "up_mean"]].abs().max(axis=1)
    return table.sort_values("effect", ascending=False, ignore_index=True)


def _metric(s: Scenario, draws: Draws | None, metric: str) -> np.ndarray:
    ds = simulate_scenario(s, draws, (0.0, 0.0))
    return ds["figures"].sel(metric=metric).values
