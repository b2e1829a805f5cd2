"""The operations estimators against independent references: SciPy's own fits and ECDF,
brute-force counts written here, and hand-made logs with known answers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from contact_logs import Truth, day_profile, simulate
from scipy import stats

from cxsim.calibrate.operations import (
    abandonment,
    arrival_rates,
    calibrate_operations,
    handle_time,
    kaplan_meier,
    patience,
)
from cxsim.calibrate.operations.cis import binomial_ci, poisson_ci
from cxsim.calibrate.operations.flows import first_contact_resolution, redials, transfers
from cxsim.calibrate.operations.patience import fit_censored
from cxsim.calibrate.operations.staffing import distinct_per_interval, time_weighted
from cxsim.data.contacts import TABLES, ContactLog
from cxsim.data.contacts.contacts import make_calendar
from cxsim.data.contacts.needs import group_needs


def test_exact_intervals_match_their_textbook_forms() -> None:
    k, e = np.array([0, 1, 7, 250]), np.array([2.0, 1.0, 3.5, 10.0])
    lo, hi = poisson_ci(k, e, 0.9)
    assert np.allclose(lo * e, np.where(k > 0, stats.chi2.ppf(0.05, 2 * k) / 2, 0), rtol=1e-12)
    assert np.allclose(hi * e, stats.chi2.ppf(0.95, 2 * k + 2) / 2, rtol=1e-12)
    for kk, n in ((0, 10), (3, 10), (10, 10), (417, 1000)):
        ci = stats.binomtest(kk, n).proportion_ci(0.95, method="exact")
        assert np.allclose(binomial_ci(kk, n), (ci.low, ci.high), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("name,sample", [
    ("lognormal", lambda r: np.exp(1.2 + 0.8 * r.standard_normal(3000))),
    ("gamma", lambda r: r.gamma(2.5, 1.6, 3000)),
    ("exponential", lambda r: r.exponential(3.0, 3000)),
])
def test_handle_fits_are_scipys_mles_and_aic_picks_the_true_law(name, sample) -> None:
    x = sample(np.random.default_rng(11))
    h = handle_time(np.concatenate([x, [0.0, 0.0, np.nan]]))
    assert (h.n, h.n_zero) == (x.size, 2)
    s, _, scale = stats.lognorm.fit(x, floc=0)
    assert np.allclose([h.fits["lognormal"].parameters["mu"],
                        h.fits["lognormal"].parameters["sigma"]], [np.log(scale), s], rtol=1e-9)
    a, _, scale = stats.gamma.fit(x, floc=0)
    assert np.allclose([h.fits["gamma"].parameters["shape"],
                        h.fits["gamma"].parameters["scale_min"]], [a, scale], rtol=1e-6)
    for dist, f in h.fits.items():  # loglik is the log-density summed
        assert f.loglik == pytest.approx(float(f.dist.logpdf(x).sum()), rel=1e-9), dist
        assert f.mean_ci[0] < f.mean_min < f.mean_ci[1]
    assert h.best.distribution == name
    assert h.fits[name].ks < 1.63 / np.sqrt(x.size)  # KS 1% critical value (params fitted)


def test_kaplan_meier_is_scipys_ecdf_with_log_log_band() -> None:
    rng = np.random.default_rng(5)
    pat, serve = rng.weibull(0.7, 400) * 5, rng.exponential(2.0, 400)
    wait = np.round(np.minimum(pat, serve), 2)
    ab = pat < serve
    km = kaplan_meier(wait, ab)
    ref = stats.ecdf(stats.CensoredData(uncensored=wait[ab], right=wait[~ab]))
    band = ref.sf.confidence_interval(0.95, method="log-log")
    sf = ref.sf.evaluate(km.time_min)
    assert np.allclose(km.survival, sf, rtol=0, atol=1e-12)
    assert np.allclose(km.ci_low, band.low.evaluate(km.time_min), atol=1e-9)
    assert np.allclose(km.ci_high, band.high.evaluate(km.time_min), atol=1e-9)
    assert np.allclose(km.at(np.array([-1.0, km.time_min[3] + 1e-9])), [1.0, km.survival[3]])


@pytest.mark.parametrize("dist,scipy_dist,truth", [
    ("weibull", stats.weibull_min, (0.8, 6.0)),
    ("lognormal", stats.lognorm, (1.1, np.exp(1.5))),
])
def test_censored_mles_are_scipys(dist, scipy_dist, truth) -> None:
    rng = np.random.default_rng(21)
    pat = scipy_dist(truth[0], scale=truth[1]).rvs(4000, random_state=rng)
    serve = rng.exponential(3.0, pat.size)
    wait, ab = np.minimum(pat, serve), pat < serve
    fit = fit_censored(dist, wait, ab)
    ref = scipy_dist.fit(stats.CensoredData(uncensored=wait[ab], right=wait[~ab]), floc=0)
    mine = ([fit.parameters["shape"], fit.parameters["scale_min"]] if dist == "weibull"
            else [fit.parameters["sigma"], np.exp(fit.parameters["mu"])])
    assert np.allclose(mine, [ref[0], ref[2]], rtol=2e-4)
    expo = fit_censored("exponential", wait, ab)
    assert expo.parameters["mean_min"] == pytest.approx(wait.sum() / ab.sum(), rel=1e-6)


def test_patience_needs_an_abandonment_and_reports_the_censored_share() -> None:
    assert patience(np.array([1.0, 2.0]), np.array([False, False])) is None
    p = patience(np.array([0.0, 1.0, 2.0, 3.0]), np.array([True, False, True, False]))
    assert p.censored_share == 0.5 and p.n == 4
    assert np.isfinite(p.best.mean_min)  # an abandon at 0 wait is interval-censored, not -inf


def test_tiny_samples_fall_back_to_the_exponential() -> None:
    h = handle_time(np.array([3.0, 3.0, 0.0]))
    assert list(h.fits) == ["exponential"] and h.best.mean_min == 3.0
    assert handle_time(np.array([3.0])) is None
    p = patience(np.array([0.5, 1.0, 2.0, 4.0]), np.array([False, True, False, False]))
    assert list(p.fits) == ["exponential"]
    assert p.best.mean_min == pytest.approx(7.5 / 1, rel=1e-5)  # total wait / abandonments
    json.dumps(p.to_json(), allow_nan=False)


def test_hazard_by_wait_is_the_brute_force_count() -> None:
    rng = np.random.default_rng(3)
    wait = rng.exponential(2.0, 300)
    ab = rng.random(300) < 0.3
    edges = (0.0, 0.5, 1.0, 3.0, np.inf)
    h = abandonment(wait, ab, edges).to_json()["hazard"]
    for k, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        risk = sum(1 for w in wait if w >= lo)
        events = sum(1 for w, a in zip(wait, ab, strict=True) if a and lo <= w < hi)
        minutes = sum(min(w, hi) - lo for w in wait if w >= lo)
        assert h["at_risk"][k] == risk and h["abandoned"][k] == events
        assert h["per_min"][k] == pytest.approx(events / minutes, rel=1e-12)
        assert h["share"][k] == pytest.approx(events / risk, rel=1e-12)


def test_arrival_rates_leave_missing_days_out_of_the_exposure() -> None:
    rng = np.random.default_rng(9)
    days = 28
    arrival = np.sort(rng.uniform(0, days * 1440, 20000))
    arrival = arrival[(arrival // 1440) != 10]  # a Thursday lost
    cal = make_calendar(arrival, "2024-01-01T00:00:00", 0.1, n_days=days)
    assert np.flatnonzero(~cal.observed).tolist() == [10]
    r = arrival_rates(arrival, cal, interval_min=30)
    day, slot = (arrival // 1440).astype(int), ((arrival % 1440) // 30).astype(int)
    for w, k in ((3, 0), (3, 47), (0, 20)):
        n_days = sum(1 for d in range(days) if d % 7 == w and d != 10)
        count = np.count_nonzero((day % 7 == w) & (slot == k))
        assert r.rate_per_hour[w, k] == pytest.approx(count / (n_days * 0.5), rel=1e-12)
    assert r.days.tolist() == [4, 4, 4, 3, 4, 4, 4]
    assert r.dispersion.p_value > 0.001  # Poisson by construction


def test_over_dispersion_is_flagged() -> None:
    rng = np.random.default_rng(4)
    volume = rng.gamma(4.0, 1 / 4.0, 56) * 600  # day-to-day swings of sd 50%
    arrival = np.concatenate([d * 1440 + rng.uniform(480, 1200, rng.poisson(v))
                              for d, v in enumerate(volume)])
    cal = make_calendar(arrival, "2024-01-01T00:00:00", 0.0)
    disp = arrival_rates(arrival, cal).dispersion
    assert disp.ratio > 3 and disp.p_value < 1e-9


def test_time_weighted_and_distinct_agents_are_the_brute_force_ones() -> None:
    rng = np.random.default_rng(2)
    start = rng.uniform(0, 600, 80)
    end = start + rng.exponential(20, 80)
    agent = rng.choice(["a", "b", "c", "d"], 80)
    edges = np.arange(0, 721, 60.0)
    busy = time_weighted(start, end, edges)
    grid = np.arange(0, 720, 0.01) + 0.005
    inside = (grid[None, :] >= start[:, None]) & (grid[None, :] < end[:, None])
    brute = inside.sum(0).reshape(12, -1).sum(1) * 0.01
    assert np.allclose(busy, brute, atol=80 * 0.02)
    distinct = distinct_per_interval(agent, start, end, 60.0, 12)
    for k in range(12):
        lo, hi = edges[k], edges[k + 1]
        who = {a for a, s, e in zip(agent, start, end, strict=True) if s < hi and e > lo}
        assert distinct[k] == len(who)


def _log(rows: list[dict], days: int = 30) -> ContactLog:
    cols = [c.name for c in TABLES["contacts"]]
    f = pd.DataFrame([{c: r.get(c) for c in cols} for r in rows])
    for c in ("arrival", "queue_entry", "queue_exit", "service_start", "service_end"):
        f[c] = f[c].astype(float)
    for c in ("contact_id", "customer_id", "agent_id", "case_id", "transfer_from"):
        f[c] = f[c].astype("str")
    f.insert(0, "line", np.arange(2, len(f) + 2))
    cal = make_calendar(f["arrival"].to_numpy(), "2024-01-01T00:00:00", 0.0, n_days=days)
    return ContactLog(f, pd.DataFrame(), pd.DataFrame(), cal, "UTC", "t.csv", "t", {})


def contact(i, cust, queue, t, outcome, reason="billing", frm=None, case=None, wait=1.0,
            handle=4.0) -> dict:
    served = outcome in ("served", "transferred")
    return {"contact_id": f"c{i}", "customer_id": cust, "channel": "phone", "queue": queue,
            "arrival": t, "queue_entry": t, "queue_exit": t + wait,
            "service_start": t + wait if served else None,
            "service_end": t + wait + handle if served else None, "outcome": outcome,
            "agent_id": "a1" if served else None, "reason": reason, "transfer_from": frm,
            "case_id": case}


def test_transfers_redials_and_fcr_on_a_hand_made_log() -> None:
    log = _log([
        contact(1, "k1", "front", 0.0, "transferred"),
        contact(2, "k1", "back", 6.0, "served", frm="c1"),      # need 1: two contacts
        contact(3, "k2", "front", 100.0, "abandoned"),
        contact(4, "k2", "front", 130.0, "served"),             # redial after 29 min
        contact(5, "k3", "front", 200.0, "abandoned"),          # no redial
        contact(6, "k4", "front", 300.0, "served"),             # resolved first time
        contact(7, "k4", "front", 300.0 + 8 * 1440, "served"),  # > 7 days later: a new need
        contact(8, None, "front", 400.0, "served"),
        contact(9, "k5", "front", 500.0, "served", case="X"),
        contact(10, "k5", "back", 600.0, "served", reason="other", case="X"),
    ])
    t = transfers(log.contacts)
    assert t["front"].served == 6 and t["front"].to == {"back": 1}
    assert t["front"].to_json()["to"]["back"]["share"] == pytest.approx(1 / 6)
    r = redials(log.contacts, window_min=60.0)["front"]
    assert r.after["abandoned"] == (1, 2) and r.delays_min.tolist() == [29.0]
    need = group_needs(log.contacts)
    assert need[0] == need[1] and need[2] == need[3] and need[5] != need[6]
    assert need[8] == need[9] and len(set(need)) == 7
    fcr = first_contact_resolution(log.contacts, log.end_min)["front"]
    # every need starts over 7 days before the end (day 30): k1's (2 contacts), k2's
    # (abandoned first), k3's (abandoned), k4's two (each settled at once), the unidentified
    # caller's (settled), case X (2 contacts): 3 of 7 settled by their first contact
    assert (fcr["count"], fcr["of"]) == (3, 7)
    late = first_contact_resolution(log.contacts, 7 * 1440.0 + 150)["front"]
    assert late["of"] == 2  # only needs that started a window before the end count


def test_calibration_serialises_to_strict_json() -> None:
    rate = np.tile(day_profile(8, 18, 20.0), (7, 1))
    truth = Truth(rate, np.where(rate > 0, 3, 0), days=7)
    f = simulate(truth, seed=12).drop(columns="redial")
    for c in ("contact_id", "customer_id", "agent_id", "case_id", "transfer_from"):
        f[c] = f[c].astype("str")
    f.insert(0, "line", np.arange(len(f)) + 2)
    cal = make_calendar(f["arrival"].to_numpy(), "2024-01-01T00:00:00", 0.1)
    log = ContactLog(f, pd.DataFrame(), pd.DataFrame(), cal, "UTC", "x", "canonical", {})
    doc = calibrate_operations(log, interval_min=30).to_json()
    text = json.dumps(doc, allow_nan=False)
    q = json.loads(text)["queues"]["support"]
    assert set(q) == {"contacts", "arrivals_per_hour", "handle", "patience", "abandon_rate",
                      "staffing", "transfers", "redial", "fcr"}
    assert len(q["arrivals_per_hour"]["rate"][0]) == 48
    assert q["handle"]["distribution"] in ("lognormal", "gamma", "exponential")
    assert 0 < q["patience"]["censored_share"] < 1


def test_figures_are_written(tmp_path) -> None:
    from contact_logs import SAMPLE

    from cxsim.calibrate.operations.cis import handle_times
    from cxsim.data.contacts import read_contacts
    from cxsim.plots import operations as figures

    log = read_contacts(SAMPLE, "technion")
    ops = calibrate_operations(log, by=None).queues["all"]
    paths = [
        figures.handle_fit(ops.handle, handle_times(log.contacts), tmp_path / "handle.png"),
        figures.patience_fit(ops.patience, ops.abandonment, tmp_path / "patience.png"),
        figures.arrival_profile(ops.arrivals, tmp_path / "arrivals.png"),
        figures.staffing_profile(ops.staffing, tmp_path / "staffing.png"),
    ]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000
