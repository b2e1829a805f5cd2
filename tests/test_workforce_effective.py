"""Effective staffing (cxsim.workforce.effective) recovers the agents of a log that names
none: a log from the independent simulator of tests/contact_logs.py (4 agents 8:00-18:00 on
weekdays, exponential patience, lognormal handle times with cv 1, about 13% abandonment),
agent ids removed. The Erlang A interval of each weekday x hour should hold the truth; the
stationary approximation within an hour is not exact, so the allowance is the binomial one at
99.9% for a 95% interval, a check that the approximation is not far off rather than exact
coverage. The seed is fixed in advance."""

from __future__ import annotations

import numpy as np
from contact_logs import Truth, day_profile, simulate, write_canonical
from scipy import stats

from cxsim.calibrate.operations import calibrate_operations
from cxsim.calibrate.operations.scenario import offered_by_cell
from cxsim.data.contacts import read_contacts
from cxsim.workforce.effective import effective_staffing


def test_effective_staffing_recovers_the_agents(tmp_path) -> None:
    rate = np.tile(day_profile(8, 18, 40.0), (7, 1))
    rate[5:] = 0.0
    truth = Truth(rate_per_hour=rate, agents=np.where(rate > 0, 4, 0).astype(int), days=28,
                  handle_mu=np.log(4.0) - np.log(2) / 2, handle_sigma=np.sqrt(np.log(2)),
                  patience_scale=5.0)
    frame = simulate(truth, seed=11)
    frame["agent_id"] = None
    log = read_contacts(write_canonical(frame, tmp_path / "log.csv"))
    q = calibrate_operations(log).queues["support"]
    offered, abandoned, days = offered_by_cell(log, "queue", "support")
    est = effective_staffing(offered, abandoned, days, q.handle.best.mean_min,
                             q.patience.fits["exponential"].mean_min)
    hours = np.arange(24)[None, :]
    cells = (offered > 0) & (hours >= 8) & (hours < 18)  # whole hours inside the shifts
    held = (est.low <= 4) & (np.isnan(est.high) | (est.high >= 4))
    misses = int((~held[cells]).sum())
    assert cells.sum() == 50
    assert misses <= stats.binom.ppf(0.999, cells.sum(), 0.05), (est.low, est.high)
    assert np.nanmedian(est.agents[cells]) == 4
