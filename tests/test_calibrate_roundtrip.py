"""Known truth through the whole path (must-shows 2 and 3 of issue 18).

Round trip: simulate a scenario S with the engine, write its contact log (``contacts.csv``,
as ``cxsim-simulate export_observed=true`` does), run ``cxsim-calibrate`` on it, load the
scenario S' it writes and simulate S' with other seeds. S' must reproduce S's hourly service
level, abandonment and ASA. S' is estimated from one log, so S' differs from S by that log's
sampling error as well as by simulation noise: an hour agrees when the difference is within
sqrt(h_S^2 + h_S'^2 + h_log^2), the 95% half-widths of S's and S''s replication means and of
the log's own hourly figure (the size of the estimation error the one log carries).

Held out: ``validation.holdout_days=5`` calibrates on the first four weeks and predicts the
fifth week's hourly abandonment and ASA (its own volumes, everything else calibrated).

Both scenarios use what the engine can represent (exponential patience, whole-hour shifts),
so a miss is the calibration's, not a representation gap's. Seeds are fixed in advance.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from apprun import run_app
from scipy import stats

from cxsim.calibrate.operations.validation import simulated_by_hour
from cxsim.data.contacts import write_contacts
from cxsim.engine import simulate
from cxsim.spec import load_scenario

pytestmark = pytest.mark.slow
OPEN = range(8, 18)
FIGURES = ("service_level", "abandon_rate", "asa_min")


def truth(horizon: float, seed: int, replications: int) -> dict:
    hourly = [0.0] * 24
    for h in OPEN:
        hourly[h] = float(1.0 + 0.6 * np.exp(-((h + 0.5 - 13) / 3.0) ** 2))
    return {
        "horizon": horizon, "warmup": 0.0, "replications": replications, "seed": seed,
        "touchpoints": {"phone": {
            "channel": "phone", "kind": "queue", "steps": 0, "fcr": 1.0,
            "shifts": [{"start_hour": 8.0, "end_hour": 18.0, "agents": 6, "days": "weekdays"}],
            "handle": {"mean_min": 6.0, "cv": 0.8, "dist": "lognormal"},
            "context_carryover": 1.0, "sl_threshold_min": 0.5}},
        "journeys": {"call": {"share": 1.0, "steps": 0, "touchpoints": ["phone"]}},
        "segments": {"callers": {"share": 1.0, "needs_per_month": 30 * 300 / 2000 * 7 / 5,
                                 "patience_min": 5.0, "pain_intolerant": 0.0,
                                 "retry_prob": 0.0, "preference": {"phone": 1.0}}},
        "population": {"customers": 2000, "hourly_profile": hourly,
                       "weekday_profile": [1, 1, 1, 1, 1, 0, 0]},
        "handoffs": {"max_contacts": 1, "context_carryover": 1.0},
        "behaviour": {"enabled": False},
    }


def _log_of(s_doc: dict, folder: Path) -> tuple[Path, object]:
    s = load_scenario(s_doc)
    result = simulate(s, keep_rows=True)
    path = write_contacts(result.replications[0].contacts, folder / "contacts.csv")
    return path, result


def _calibrated(out: Path, replications: int, seed: int):
    doc = yaml.safe_load((out / "scenario.yaml").read_text())
    doc.pop("defaults")
    doc.update(replications=replications, seed=seed)
    return load_scenario(doc)


def test_round_trip_reproduces_hourly_service(tmp_path: Path) -> None:
    s_doc = truth(56.0, 20261202, 8)  # 8 weeks: a log long enough to tell a patience off by 1.5x
    log, result = _log_of(s_doc, tmp_path)
    done = run_app("calibrate", f"log.path={log}", "validation.replications=4",
                   out=tmp_path / "out")
    assert done.returncode == 0, done.stderr
    cal = json.loads((tmp_path / "out" / "calibration.json").read_text())
    s = load_scenario(s_doc)
    sim_s = simulated_by_hour(s, result.replications)
    s2 = _calibrated(tmp_path / "out", 8, 77)
    sim_s2 = simulated_by_hour(s2, simulate(s2).replications)
    rows = cal["validation"]["by_hour"]
    misses, compared = [], 0
    for h in OPEN:
        for k in FIGURES:
            lo, hi = rows[h]["observed"][f"{k}_ci"]
            h_log = (hi - lo) / 2
            a, ha = sim_s[k][0][h], sim_s[k][1][h]
            b, hb = sim_s2[k][0][h], sim_s2[k][1][h]
            compared += 1
            if abs(a - b) > np.sqrt(ha**2 + hb**2 + h_log**2):
                misses.append((h, k, a, b))
    # each comparison misses with probability <= 5% if S' is right; allowance at 99.9%
    allowed = int(stats.binom.ppf(0.999, compared, 0.05))
    assert len(misses) <= allowed, misses


def test_held_out_days_are_predicted(tmp_path: Path) -> None:
    log, _ = _log_of(truth(35.0, 20261203, 1), tmp_path)
    done = run_app("calibrate", f"log.path={log}", "validation.holdout_days=5",
                   "validation.replications=8", out=tmp_path / "out")
    assert done.returncode == 0, done.stderr
    v = json.loads((tmp_path / "out" / "calibration.json").read_text())["validation"]
    assert v["holdout_days"] == 5 and v["days"] == ["2024-01-29", "2024-02-02"]
    for k in ("abandon_rate", "asa_min"):
        misses = [r["hour"] for r in v["by_hour"] if r["agree"].get(k) is False]
        compared = v["hours_compared"][k]
        assert compared == len(OPEN)
        # the tolerance leaves out the training days' estimation error (20 days against 5
        # held out), so an hour may miss more often than 5%: allow misses at a rate of 10%
        allowed = int(stats.binom.ppf(0.999, compared, 0.10))
        assert len(misses) <= allowed, (k, misses)
