"""Simulated data shaped as observed data: "simulate, then pretend it was observed".

``observe`` turns one replication of a simulation (run with ``keep_rows=True`` and behaviour
on) into an :class:`~cxsim.data.ObservedData`, with the true behaviour parameters in ``truth``
so a fit can be checked against them. The bundled example data set was made this way
(:func:`make_example`) and ships inside the package (:func:`example_path`).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from cxsim.data.load import ObservedData
from cxsim.spec import Scenario, theta_of

# How the example data set is made: the default scenario, a small population, one replication.
EXAMPLE_OVERRIDES = ("population.customers=2000", "horizon=91", "replications=1", "seed=2026")
EPISODE_COLUMNS = {
    "episode": "episode_id", "customer": "customer_id", "reason": "reason",
    "start_min": "start_min", "end_min": "end_min", "first_channel": "first_channel",
    "channels": "channels", "touchpoints": "touchpoints", "contacts": "contacts",
    "wait_min": "wait_min", "handle_min": "handle_min", "steps": "steps",
    "transfers": "transfers", "repeats": "repeats", "switches": "switches", "bot": "bot",
    "outcome": "outcome", "ttr_min": "ttr_min",
}  # fmt: skip


def observe(result: object, scenario: Scenario, replication: int = 0) -> ObservedData:
    """The CRM-like export of one replication of ``result`` (a ``SimulationResult``)."""
    return observe_replication(result.replications[replication], scenario)


def observe_replication(rep: object, scenario: Scenario) -> ObservedData:
    """The CRM-like export of ``rep``, one ``ReplicationResult`` of ``scenario``."""
    if rep.episodes is None or rep.surveys is None:
        raise ValueError("observe() needs a simulation run with keep_rows=True and behaviour on")
    episodes = rep.episodes[list(EPISODE_COLUMNS)].rename(columns=EPISODE_COLUMNS)
    for col in ("reason", "bot", "outcome"):
        episodes[col] = episodes[col].astype(str)
    customers = rep.customers.assign(segment=rep.customers["segment"].astype(str))
    truth = {
        "parameters": theta_of(scenario),
        "seed": scenario.seed,
        "replication": rep.replication,
        "horizon_days": scenario.horizon,
        "segments": list(scenario.segments),
        "reasons": list(scenario.journeys),
    }
    return ObservedData(episodes.reset_index(drop=True), rep.surveys.copy(), customers, truth,
                        Path("."))


def example_path() -> Path:
    """The directory of the example data set bundled with cxsim."""
    return Path(str(resources.files("cxsim") / "example_data"))


def make_example(directory: str | Path) -> Path:
    """Regenerate the example data set into ``directory`` (deterministic, bit for bit)."""
    from cxsim.data.load import write_observed
    from cxsim.engine import simulate
    from cxsim.spec import compose_scenario

    scenario = compose_scenario(list(EXAMPLE_OVERRIDES))
    data = observe(simulate(scenario, keep_rows=True), scenario)
    return write_observed(data, directory)

