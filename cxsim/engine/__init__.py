"""What *happens*: the SimPy discrete-event simulation of customers' journeys.

>>> from cxsim.spec import compose_scenario
>>> s = compose_scenario(["experiment=erlang", "horizon=0.5", "warmup=0.05", "replications=2"])
>>> result = simulate(s)
>>> 0 <= result.metrics["service_level"] <= 1
True
>>> simulate(s).metrics == result.metrics  # same seed, same numbers
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from cxsim.engine.report import summarise
from cxsim.engine.run import Replication, ReplicationResult
from cxsim.progress import Progress
from cxsim.spec import Scenario

__all__ = ["Replication", "ReplicationResult", "SimulationResult", "simulate"]


@dataclass
class SimulationResult:
    """Metrics over all replications, the raw replication results and, if kept, the log."""

    metrics: dict
    replications: list[ReplicationResult]
    episodes: pd.DataFrame | None


def simulate(s: Scenario, keep_rows: bool = False, progress: bool = False) -> SimulationResult:
    """Run every replication of scenario ``s`` (already validated) and summarise them;
    ``progress``: report it (:class:`cxsim.progress.Progress`)."""
    results = []
    days = s.replications * math.ceil(s.horizon)
    with Progress(days, "simulating", "day", progress) as bar:
        for rep in range(s.replications):
            results.append(Replication(s, rep, keep_rows).run(bar.update if progress else None))
    episodes = None
    if keep_rows:
        episodes = pd.concat([r.episodes for r in results], ignore_index=True)
    return SimulationResult(summarise(s, results), results, episodes)
