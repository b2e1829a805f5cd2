"""What-if forecasting: a study's scenarios compared under posterior uncertainty.

>>> from cxsim.forecast import compose_study, run_study, summarise
>>> study = compose_study("single_customer_view", ["population.customers=1500", "horizon=35",
...                                                "replications=1"])
>>> doc = summarise(run_study(study, None))  # the scenario's own behaviour, no posterior
>>> doc["scenarios"]["context_everywhere"]["repeats_per_need"]["p_improve"]
1.0
"""

from cxsim.forecast.propagate import METRICS, Draws, propagate
from cxsim.forecast.run import run_study, simulate_scenario, summarise
from cxsim.forecast.study import (
    Study,
    compose_study,
    load_study,
    posterior_draws,
    posterior_of_fit,
    read_posterior,
    scenario_draws,
)

__all__ = [
    "METRICS", "Draws", "Study", "compose_study", "load_study", "posterior_draws",
    "posterior_of_fit", "propagate", "read_posterior", "run_study", "scenario_draws",
    "simulate_scenario", "summarise",
]
