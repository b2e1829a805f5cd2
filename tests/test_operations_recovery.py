"""Recovery (must-show 1, the estimation part): logs simulated with known truth by the
independent queue simulator of ``contact_logs`` (not the engine), written as CSV and read
back, are calibrated; the truth must fall inside the reported intervals at the binomial rate.

Seeds are fixed in advance (``SeedSequence(2018).spawn(n)``), never picked. Each family of
intervals is counted on its own: arrival cells are independent Poisson counts (one interval
per weekday x hour per log, Garwood: coverage >= 95%, so misses are at most Binomial(n, 0.05)
in distribution); the handle and patience parameters give one interval per log (independent
logs). A family fails if its misses exceed the 99.9% quantile of Binomial(n, 0.05).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from contact_logs import Truth, day_profile, simulate, write_canonical
from scipy import stats

from cxsim.calibrate.operations import calibrate_operations
from cxsim.data.contacts import load_mapping, read_contacts, read_table

LEVEL = 0.95


def recovery_truth(patience_shape: float = 0.8, patience_scale: float = 8.0) -> Truth:
    """A week of a centre open 8:00-20:00 at 28-42 calls an hour, staffed at about the
    offered load (3-4 agents): about 11% abandon (89% of patience observations censored)."""
    rate = np.tile(day_profile(8, 20, 28.0, peak=1.5), (7, 1))
    agents = np.where(rate > 0, np.ceil(rate * 4.0 * np.exp(0.18) / 60), 0).astype(int)
    return Truth(rate, agents, days=7, handle_mu=np.log(4.0), handle_sigma=0.6,
                 patience_shape=patience_shape, patience_scale=patience_scale)


def seeds(n: int) -> list[int]:
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(2018).spawn(n)]


def inside(ci: tuple | list, x: float) -> bool:
    return ci[0] <= x <= ci[1]


def coverage_study(truth: Truth, n_logs: int, tmp_path: Path) -> dict[str, list[bool]]:
    hits: dict[str, list[bool]] = {k: [] for k in (
        "arrival_cells", "handle_mu", "handle_sigma", "handle_mean", "patience_shape",
        "patience_scale", "patience_mean", "lognormal_chosen", "abandon_share")}
    for seed in seeds(n_logs):
        path = write_canonical(simulate(truth, seed), tmp_path / f"log{seed}.csv")
        ops = calibrate_operations(read_contacts(path), level=LEVEL).queues[truth.queue]
        a = ops.arrivals
        open_cells = truth.rate_per_hour > 0
        covered = (a.ci_low <= truth.rate_per_hour) & (truth.rate_per_hour <= a.ci_high)
        hits["arrival_cells"] += covered[open_cells].tolist()
        lognormal = ops.handle.fits["lognormal"]
        hits["handle_mu"].append(inside(lognormal.parameters_ci["mu"], truth.handle_mu))
        hits["handle_sigma"].append(inside(lognormal.parameters_ci["sigma"],
                                           truth.handle_sigma))
        hits["handle_mean"].append(inside(lognormal.mean_ci, truth.handle_mean))
        hits["lognormal_chosen"].append(ops.handle.best.distribution == "lognormal")
        weibull = ops.patience.fits["weibull"]
        hits["patience_shape"].append(inside(weibull.parameters_ci["shape"],
                                             truth.patience_shape))
        hits["patience_scale"].append(inside(weibull.parameters_ci["scale_min"],
                                             truth.patience_scale))
        hits["patience_mean"].append(inside(weibull.mean_ci, truth.patience_mean))
        hits["abandon_share"].append(0.05 < ops.abandonment.rate < 0.2)
    return hits


def check(hits: dict[str, list[bool]]) -> dict[str, tuple[int, int, int]]:
    """(misses, intervals, allowance) per family; asserts misses <= allowance."""
    out = {}
    for family, h in hits.items():
        if family in ("lognormal_chosen", "abandon_share"):
            continue
        n, misses = len(h), h.count(False)
        allowance = int(stats.binom.ppf(0.999, n, 1 - LEVEL))
        out[family] = (misses, n, allowance)
    for family, (misses, n, allowance) in out.items():
        assert misses <= allowance, (family, misses, n, allowance, out)
    return out


def test_arrivals_handle_and_patience_are_recovered(tmp_path: Path) -> None:
    hits = coverage_study(recovery_truth(), 12, tmp_path)
    check(hits)
    assert all(hits["abandon_share"])  # the design really is heavily censored
    assert all(hits["lognormal_chosen"])  # n ~ 2500 lognormal times: AIC is not in doubt


@pytest.mark.slow
def test_coverage_study_over_200_logs(tmp_path: Path) -> None:
    """The larger study: 200 logs each with Weibull and exponential patience; misses must
    also not be too few for the Wald families (intervals that are too wide)."""
    for shape, scale in ((0.8, 8.0), (1.0, 12.0)):
        hits = coverage_study(recovery_truth(shape, scale), 200, tmp_path)
        out = check(hits)
        for family in ("handle_mu", "handle_sigma", "patience_shape", "patience_scale"):
            misses, n, _ = out[family]
            assert misses >= stats.binom.ppf(0.001, n, 1 - LEVEL), (family, out)
        print(shape, scale, {k: v[:2] for k, v in out.items()},
              sum(hits["lognormal_chosen"]))


def test_staffing_is_recovered_from_agent_activity(tmp_path: Path) -> None:
    truth = recovery_truth()
    log = read_contacts(write_canonical(simulate(truth, seeds(1)[0]), tmp_path / "c.csv"))
    s = calibrate_operations(log).queues[truth.queue].staffing
    staffed = truth.agents[log.calendar.weekday(np.arange(7))]
    previous = np.concatenate([np.zeros((7, 1)), staffed[:, :-1]], axis=1)
    steady = (staffed > 0) & (staffed >= previous)  # no agent from an earlier shift spills in
    assert steady.sum() > 60
    assert np.array_equal(s.distinct[steady], staffed[steady])
    assert (s.busy[steady] <= staffed[steady] + 1e-9).all()
    assert (s.busy <= s.distinct + 1e-9).all()
    # agent-minutes busy are the minutes of service, every one of them (Little's law for
    # the agents: no service time lost or counted twice at interval edges)
    service = (log.contacts["service_end"] - log.contacts["service_start"]).sum()
    assert s.busy.sum() * 60 == pytest.approx(service, rel=1e-9)


def test_staffing_from_a_roster_file_is_the_rota(tmp_path: Path) -> None:
    truth = recovery_truth()
    log = read_contacts(write_canonical(simulate(truth, seeds(1)[0]), tmp_path / "c.csv"))
    origin = pd.Timestamp(log.origin)
    rows = ["agent_id,queue,start,end"]
    for day in range(7):
        level = truth.agents[log.calendar.weekday(day)]
        for j in range(int(level.max())):
            on = np.flatnonzero(level > j)  # agent j works whenever more than j are rostered
            for block in np.split(on, np.flatnonzero(np.diff(on) > 1) + 1):
                start = origin + pd.Timedelta(days=day, hours=int(block[0]))
                end = origin + pd.Timedelta(days=day, hours=int(block[-1]) + 1)
                rows.append(f"A{j + 1},{truth.queue},{start.isoformat()},{end.isoformat()}")
    (tmp_path / "roster.csv").write_text("\n".join(rows) + "\n")
    roster = read_table(tmp_path / "roster.csv", load_mapping("roster"), origin=log.origin)
    staff = calibrate_operations(log, roster=roster.frame).queues[truth.queue].staffing
    staffed = truth.agents[log.calendar.weekday(np.arange(7))]
    assert np.array_equal(staff.staffed, staffed)
    assert staff.to_json()["staffed_agents"]["mean_by_weekday"] == staffed.tolist()
