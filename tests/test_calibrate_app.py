"""cxsim-calibrate end to end: a log written by an independent simulator (tests/contact_logs.py)
in, calibration.json, scenario.yaml and the figures out; the scenario runs with the command
written beside it; malformed logs are refused through the app (exit 2, one located line, no
traceback, nothing written)."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from apprun import run_app
from contact_logs import Truth, day_profile, simulate, write_canonical
from test_contact_errors import CASES, OVERRIDES

OUTPUTS = ("calibration.json", "scenario.yaml", "validation_by_hour.png")


def small_truth() -> Truth:
    rate = np.tile(day_profile(8, 18, 20.0), (7, 1))
    rate[5:] = 0.0  # closed at weekends
    return Truth(rate_per_hour=rate, agents=np.where(rate > 0, 4, 0).astype(int), days=14)


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory) -> tuple[Path, Truth]:
    folder = tmp_path_factory.mktemp("calibrate")
    truth = small_truth()
    log = write_canonical(simulate(truth, seed=20261202), folder / "log.csv")
    done = run_app("calibrate", f"log.path={log}", "validation.replications=4",
                   out=folder / "out")
    assert done.returncode == 0, done.stderr
    return folder / "out", truth


def test_app_writes_the_issue_keys_and_the_figures(calibrated) -> None:
    out, truth = calibrated
    doc = json.loads((out / "calibration.json").read_text())
    q = doc["queues"]["support"]
    for key in ("arrivals_per_hour", "handle", "patience", "abandon_rate", "staffing",
                "transfers", "redial"):
        assert key in q
    assert q["handle"]["distribution"] == "lognormal"
    lo, hi = q["handle"]["mean_ci"]
    assert lo <= truth.handle_mean <= hi  # one log: a 95% interval (a 1-in-20 miss possible)
    rows = doc["validation"]["by_hour"]
    assert len(rows) == 24
    for side in ("observed", "simulated"):
        for k in ("arrivals", "asa_min", "service_level", "abandon_rate"):
            assert k in rows[12][side] and f"{k}_ci" in rows[12][side]
    for name in ("handle_support.png", "patience_support.png", "arrivals_support.png",
                 "staffing_support.png", "validation_by_hour.png"):
        assert (out / name).stat().st_size > 0


def test_scenario_numbers_are_the_estimates_and_are_commented(calibrated) -> None:
    out, truth = calibrated
    doc = json.loads((out / "calibration.json").read_text())
    text = (out / "scenario.yaml").read_text()
    s = yaml.safe_load(text)
    q = doc["queues"]["support"]
    tp = s["touchpoints"]["support"]
    assert tp["handle"]["mean_min"] == pytest.approx(q["handle"]["mean_min"], rel=1e-6)
    # the patience law best by AIC, its mean through patience_factor
    best = q["patience"]["candidates"][q["patience"]["distribution"]]
    assert s["segments"]["callers"]["patience_min"] * tp["patience_factor"] == pytest.approx(
        best["mean_min"], rel=1e-6)
    law = tp.get("patience", {"dist": "exponential"})
    assert law["dist"] == q["patience"]["distribution"]
    if law["dist"] != "exponential":
        assert law["cv"] == pytest.approx(best["cv"], rel=1e-6)
    # the truth's staffing, 4 agents 8:00-18:00 on weekdays, as whole-hour shifts
    main = [sh for sh in tp["shifts"] if sh["start_hour"] == 8.0]
    assert main == [{"start_hour": 8.0, "end_hour": 18.0, "agents": 4, "days": "weekdays"}]
    assert "95% CI" in text and "default" in text and "source" in text
    # the engine's volume on each weekday is the log's contacts per observed day of it
    a, pop = q["arrivals_per_hour"], s["population"]
    per_min = pop["customers"] * s["segments"]["callers"]["needs_per_month"] / (30 * 1440)
    week = np.asarray(pop["weekday_profile"])
    engine_day = per_min * 1440 * week / week.mean()
    days = np.asarray(a["observed_days"])
    log_day = np.asarray(a["count"]).sum(axis=1) / np.maximum(days, 1)
    assert np.allclose(engine_day[days > 0], log_day[days > 0], rtol=1e-9)  # 12 digits in the YAML


def test_the_written_command_simulates_the_scenario(calibrated) -> None:
    out, _ = calibrated
    doc = json.loads((out / "calibration.json").read_text())
    args = shlex.split(doc["simulate_command"])
    assert args[0] == "cxsim-simulate"
    done = run_app("simulate", *args[1:-1], "replications=2", out=out / "sim")
    assert done.returncode == 0, done.stderr
    metrics = json.loads((out / "sim" / "metrics.json").read_text())
    assert metrics["touchpoints"]["support"]["volume"] > 0


def _in_process(tmp: Path, *args: str) -> tuple[int, str]:
    """Run cxsim-calibrate's entry point in this process (a fresh interpreter per case would
    cost ~4 s each): exit code and stderr."""
    import contextlib
    import io

    from cxsim.apps.calibrate import main

    err = io.StringIO()
    argv = ["cxsim-calibrate", *args, "progress=false", f"hydra.run.dir={tmp / 'out'}"]
    old = sys.argv
    sys.argv = argv
    code = 0
    try:
        with contextlib.redirect_stderr(err):
            main()
    except SystemExit as e:
        code = e.code
    finally:
        sys.argv = old
    return code, err.getvalue()


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_malformed_log_is_refused_by_the_app(case, tmp_path: Path) -> None:
    name, mapping, content, line, column, value, words = case
    path = tmp_path / "log.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    extra = []
    if name in OVERRIDES:
        extra = ["log.overrides={file: {line_end: crlf}}"]
    code, err = _in_process(tmp_path, f"log.path={path}", f"log.mapping={mapping}", *extra)
    assert code == 2, err
    assert err.startswith("cxsim: error: ") and "Traceback" not in err, err
    assert words in err, err
    if line is not None:
        assert f"line {line}" in err, err
    for out in OUTPUTS:
        assert not (tmp_path / "out" / out).exists()
    assert not list((tmp_path / "out").glob("*.png"))


@pytest.mark.parametrize("args, words", [
    ((), "log.path is required"),
    (("log.path=/nonexistent/log.csv",), "no such file"),
    (("interval_min=20",), "interval_min = 20"),
    (("staffing=roster",), "needs log.roster"),
    (("staffing=guess",), "staffing = 'guess'"),
    (("validation.replications=1",), "at least 2"),
    (("validation.holdout_days=99",), "none would be left"),
    (("log.mapping=no_such_mapping",), "no_such_mapping"),
])
def test_bad_config_is_refused_before_any_work(args, words, tmp_path: Path) -> None:
    log = write_canonical(simulate(small_truth(), seed=1), tmp_path / "log.csv")
    given = [a for a in args if a.startswith("log.path")]
    code, err = _in_process(tmp_path, *(given or ([] if args == () else [f"log.path={log}"])),
                            *[a for a in args if not a.startswith("log.path")])
    assert code == 2, err
    assert words in err and "Traceback" not in err, err
    for out in OUTPUTS:
        assert not (tmp_path / "out" / out).exists()


def test_technion_log_pooled_with_observed_data_and_half_hours(tmp_path: Path) -> None:
    """The Technion-format sample (tests/data) through the app: set-apart rows counted,
    arrivals by half hour in calibration.json while the scenario stays hourly, and the
    observed-data directory cxsim-fit reads."""
    from contact_logs import SAMPLE

    from cxsim.data import load_observed

    code, err = _in_process(tmp_path, f"log.path={SAMPLE}", "log.mapping=technion", "by=all",
                            "interval_min=30", "observed.write=true", "observed.window_min=600",
                            "validation.replications=2")
    assert code == 0, err
    out = tmp_path / "out"
    doc = json.loads((out / "calibration.json").read_text())
    assert set(doc["log"]["excluded"]) >= {"abandoned_before_queue", "phantom"}
    assert doc["queues"]["all"]["arrivals_per_hour"]["interval_min"] == 30
    assert any("priority classes" in flag for flag in doc["scenario"]["flags"])
    s = yaml.safe_load((out / "scenario.yaml").read_text())
    assert len(s["population"]["hourly_profile"]) == 24
    observed = load_observed(out / "observed")
    assert len(observed.episodes) == doc["observed"]["counts"]["needs"] - sum(
        doc["observed"]["counts"]["needs_left_out"].values())


def test_log_without_agents_needs_a_roster(tmp_path: Path) -> None:
    frame = simulate(small_truth(), seed=2)
    frame["agent_id"] = None
    log = write_canonical(frame, tmp_path / "log.csv")
    code, err = _in_process(tmp_path, f"log.path={log}")
    assert code == 2 and "no agent activity" in err and "staffing=effective" in err, err
    for out in OUTPUTS:
        assert not (tmp_path / "out" / out).exists()
    code, err = _in_process(tmp_path, f"log.path={log}", "staffing=effective",
                            "validation.enabled=false")
    assert code == 0, err
    doc = json.loads((tmp_path / "out" / "calibration.json").read_text())
    eff = doc["queues"]["support"]["staffing"]["effective_agents"]
    assert eff["source"].startswith("effective") and eff["mean_by_weekday"][0][12] is not None
    assert "effective: Erlang A" in (tmp_path / "out" / "scenario.yaml").read_text()


def test_column_mapping_from_the_command_line(tmp_path: Path) -> None:
    """An export whose arrival column is called Start: log.columns.arrival=Start reads it
    without editing the file or the mapping."""
    log = write_canonical(simulate(small_truth(), seed=3), tmp_path / "log.csv")
    text = log.read_text().splitlines()
    text[0] = text[0].replace(",arrival,", ",Start,")
    log.write_text("\n".join(text) + "\n")
    code, err = _in_process(tmp_path, f"log.path={log}", "validation.enabled=false")
    assert code == 2 and "arrival" in err, err
    code, err = _in_process(tmp_path, f"log.path={log}", "log.columns.arrival=Start",
                            "validation.enabled=false")
    assert code == 0, err
    doc = json.loads((tmp_path / "out" / "calibration.json").read_text())
    assert doc["validation"] is None and doc["queues"]["support"]["contacts"] > 1000


def test_multichannel_engine_log_becomes_bots_self_service_and_queues(tmp_path: Path) -> None:
    """The engine's own log of experiment=journey5 (a chatbot escalating to chat agents who
    transfer to phone agents, two self-service touchpoints) through the app: each group gets
    the engine kind that produced it, and the routing shares and staffing are the truth's.
    Intervals at 99.9% (level=0.999), so a fixed-seed miss is a 1-in-1000 event per share."""
    from cxsim.data.contacts import write_contacts
    from cxsim.engine import simulate as simulate_engine
    from cxsim.spec import compose_scenario

    s = compose_scenario(["experiment=journey5", "horizon=2", "warmup=0", "replications=1",
                          "population.customers=6000", "seed=20261204"])
    log = write_contacts(simulate_engine(s, keep_rows=True).replications[0].contacts,
                         tmp_path / "contacts.csv")
    code, err = _in_process(tmp_path, f"log.path={log}", "level=0.999",
                            "validation.replications=2")
    assert code == 0, err
    scen = yaml.safe_load((tmp_path / "out" / "scenario.yaml").read_text())
    tps = scen["touchpoints"]
    assert {n: tp["kind"] for n, tp in tps.items()} == {
        n: tp.kind for n, tp in s.touchpoints.items()}
    assert tps["chatbot"]["escalate_to"] == "chat_agents"
    assert tps["chat_agents"]["transfer_to"] == "phone_agents"
    for name in ("chat_agents", "phone_agents"):
        truth = s.touchpoints[name].shifts[0].agents
        assert tps[name]["shifts"] == [{"start_hour": 0.0, "end_hour": 24.0, "agents": truth,
                                        "days": day} for day in ("mon", "tue")]
    from cxsim.calibrate.operations.cis import binomial_ci

    f = pd.read_csv(log)
    bot = f[f["queue"] == "chatbot"]
    contained = int((bot["outcome"] == "contained").sum())
    escalated = int((bot["outcome"] == "transferred").sum())
    doc = json.loads((tmp_path / "out" / "calibration.json").read_text())
    flows = doc["queues"]["chat_agents"]["transfers"]  # linked by transfer_from
    moved, served = flows["to"]["phone_agents"]["count"], flows["served"]
    for truth, k, n, got in (
            (s.touchpoints["chatbot"].containment, contained, len(bot),
             tps["chatbot"]["containment"]),
            (s.touchpoints["chatbot"].escalation, escalated, len(bot) - contained,
             tps["chatbot"]["escalation"]),
            (s.touchpoints["chat_agents"].transfer_prob, moved, served,
             tps["chat_agents"]["transfer_prob"])):
        lo, hi = binomial_ci(k, n, 0.999)
        assert got == pytest.approx(k / n, rel=1e-9) and lo <= truth <= hi
    assert doc["validation"]["hours_compared"]["abandon_rate"] == 24
