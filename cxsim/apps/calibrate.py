"""``cxsim-calibrate``: a contact log in, the calibrated scenario out.

    cxsim-calibrate log.path=FILE [log.mapping=NAME] hydra.run.dir=OUT
    cxsim-calibrate log.path=FILE validation.holdout_days=7 hydra.run.dir=OUT
    cxsim-calibrate log.path=FILE observed.write=true observed.surveys=S.csv hydra.run.dir=OUT

Reads the log through its mapping (docs/contact_logs.md), estimates the operations per queue,
writes ``calibration.json`` (the estimates with their intervals, the ingestion report, what
the engine cannot represent, the validation by hour and ``simulate_command``),
``scenario.yaml`` (the calibrated scenario: ``cxsim-simulate --config-dir OUT --config-name
scenario``), the figures and, with ``observed.write=true``, ``observed/`` for cxsim-fit. Bad
config or data are refused before any work (exit 2) and nothing is written.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from cxsim.apps.common import console_script, fail, progress_of, run_dir, start, user_errors
from cxsim.fileio import atomic_write_text, finish_run, write_json
from cxsim.progress import Progress

INTERVALS = (15, 30, 60)
STAFFING = ("distinct", "busy", "roster", "effective")
GROUPS = {"queue": "queue", "reason": "reason", "channel": "channel", "all": None}
STEPS = 6
# What a run (re)writes: an earlier run's are removed when this one starts.
OUTPUTS = ("calibration.json", "scenario.yaml", "observed", "*.png")


def _check(cfg: DictConfig) -> None:
    """Refuse a bad config before reading anything."""
    if not cfg.log.path:
        fail("log.path is required: the contact log to calibrate from (log.path=FILE)")
    for key, value in (("log.path", cfg.log.path), ("log.roster", cfg.log.roster),
                       ("observed.surveys", cfg.observed.surveys),
                       ("observed.customers", cfg.observed.customers)):
        if value is not None and not Path(value).is_file():
            fail(f"{key} = {value!r}: no such file")
    if cfg.interval_min not in INTERVALS:
        fail(f"interval_min = {cfg.interval_min!r}: must be one of 15, 30, 60")
    if cfg.by not in GROUPS:
        fail(f"by = {cfg.by!r}: must be one of {', '.join(GROUPS)}")
    if cfg.staffing not in STAFFING:
        fail(f"staffing = {cfg.staffing!r}: must be one of {', '.join(STAFFING)}")
    if cfg.staffing == "roster" and not cfg.log.roster:
        fail("staffing = 'roster' needs log.roster=FILE")
    if not 0 < cfg.level < 1:
        fail(f"level = {cfg.level!r}: must be in (0, 1)")
    if cfg.sl_threshold_min < 0:
        fail(f"sl_threshold_min = {cfg.sl_threshold_min!r}: must be >= 0")
    v = cfg.validation
    if v.enabled and v.replications < 2:
        fail(f"validation.replications = {v.replications!r}: at least 2 (for the intervals)")
    if v.holdout_days < 0:
        fail(f"validation.holdout_days = {v.holdout_days!r}: must be >= 0")


def _overrides(cfg: DictConfig) -> dict | None:
    extra = OmegaConf.to_container(cfg.log.overrides) if cfg.log.overrides is not None else {}
    if not isinstance(extra, dict):
        fail(f"log.overrides = {cfg.log.overrides!r}: must be a mapping of mapping keys")
    # null: the mapping's own column (configs/calibrate.yaml lists every canonical column,
    # so that log.columns.X=... is an override, not a new key)
    columns = {k: v for k, v in OmegaConf.to_container(cfg.log.columns).items()
               if v is not None}
    if columns:
        extra = {**extra, "columns": {**extra.get("columns", {}), **columns}}
    return extra or None


def _read(cfg: DictConfig):
    """The log and the other exports, each refused with where it is wrong."""
    from cxsim.data.contacts import load_mapping, read_contacts, read_table

    log = read_contacts(cfg.log.path, cfg.log.mapping, _overrides(cfg))
    roster = surveys = customers = None
    if cfg.log.roster:
        roster = read_table(cfg.log.roster, load_mapping(cfg.log.roster_mapping),
                            origin=log.origin).frame
    if cfg.observed.surveys:
        surveys = read_table(cfg.observed.surveys, load_mapping(cfg.observed.surveys_mapping),
                             origin=log.origin)
    if cfg.observed.customers:
        customers = read_table(cfg.observed.customers,
                               load_mapping(cfg.observed.customers_mapping), origin=log.origin)
    return log, roster, surveys, customers


def _split(cfg: DictConfig, log):
    """(calibration log, validation log) for ``validation.holdout_days``."""
    from cxsim.calibrate.operations.validation import log_days
    from cxsim.data import DataError

    n, hold = log.calendar.n_days, int(cfg.validation.holdout_days)
    if hold == 0:
        return log, log
    if hold >= n or not log.calendar.observed[: n - hold].any():
        raise DataError(log.source, f"validation.holdout_days = {hold}: the log has {n} days, "
                        "so none would be left to calibrate on")
    if not log.calendar.observed[n - hold:].any():
        raise DataError(log.source, f"validation.holdout_days = {hold}: the last {hold} days "
                        "are all missing")
    return log_days(log, 0, n - hold), log_days(log, n - hold, n)


def run(cfg: DictConfig) -> dict:
    from cxsim.calibrate.operations import calibrate_operations
    from cxsim.calibrate.operations.arrivals import arrival_rates
    from cxsim.calibrate.operations.scenario import scenario_from_operations, to_yaml
    from cxsim.spec import load_scenario

    _check(cfg)
    out = run_dir()
    bar = Progress(STEPS, "calibrating", "step", progress_of(cfg))
    with user_errors():
        log, roster, surveys, customers = _read(cfg)
        start(out, OUTPUTS)  # the inputs are readable: from now on this run is the writer
        bar.update()
        train, test = _split(cfg, log)
        by = GROUPS[cfg.by]
        ops = calibrate_operations(train, int(cfg.interval_min), by, float(cfg.level),
                                   roster=roster)
        hourly = ops if cfg.interval_min == 60 else calibrate_operations(
            train, 60, by, float(cfg.level), roster=roster)
        bar.update()
        agents = _effective(hourly, train, by) if cfg.staffing == "effective" else None
        try:
            calibrated = scenario_from_operations(
                hourly, train, staffing=cfg.staffing, sl_threshold_min=cfg.sl_threshold_min,
                replications=cfg.validation.replications, seed=cfg.seed, agents=agents)
        except ValueError as e:
            fail(str(e))
        scenario = load_scenario(calibrated.doc)  # the engine's own validation
        built = None
        if cfg.observed.write:
            from cxsim.data.contacts.observed import observed_from_contacts

            built = observed_from_contacts(log, surveys, customers, cfg.observed.window_min)
        bar.update()
    validation = None
    if cfg.validation.enabled:
        external = test.contacts["transfer_from"].isna().to_numpy()
        held = arrival_rates(test.contacts["arrival"].to_numpy()[external], test.calendar, 60)
        check = scenario if test is train else load_scenario(scenario_from_operations(
            hourly, test, staffing=cfg.staffing, sl_threshold_min=cfg.sl_threshold_min,
            replications=cfg.validation.replications, seed=cfg.seed,
            arrivals=(held.counts, held.days), agents=agents).doc)
        validation = _validate(check, test, cfg)
    bar.update()
    command = (f"cxsim-simulate --config-dir {shlex.quote(str(out.resolve()))} --config-name "
               f"scenario hydra.run.dir={shlex.quote(str((out / 'simulate').resolve()))}")
    doc = ops.to_json()
    for name, (_, _, est) in (agents or {}).items():
        doc["queues"][name]["staffing"]["effective_agents"] = est.to_json()
    doc = {**doc, "scenario": {"path": "scenario.yaml", "flags": calibrated.flags},
           "simulate_command": command, "validation": validation}
    header = [f"Calibrated by cxsim-calibrate from {log.source} (mapping {log.mapping}).",
              f"Run: {command}", "Estimates: calibration.json; values marked default are not "
              "from the log."]
    if built is not None:  # first: it validates the directory as cxsim-fit reads it
        from cxsim.data import write_observed

        with user_errors("observed data: "):
            write_observed(built.data, out / "observed")
        doc["observed"] = {"dir": "observed", "counts": built.counts}
    _figures(ops, train, GROUPS[cfg.by], validation, out)
    bar.update()
    atomic_write_text(out / "scenario.yaml", to_yaml(calibrated, header))
    write_json(out / "calibration.json", doc)
    bar.update()
    bar.close()
    finish_run(out)  # last: only now does the run look finished
    _report(doc, out)
    return doc


def _effective(ops, log, by: str | None) -> dict:
    """Per group: Erlang A agents reproducing each weekday x hour's abandonment."""
    from cxsim.calibrate.operations.scenario import offered_by_cell
    from cxsim.workforce.effective import effective_staffing

    out = {}
    for name, q in ops.queues.items():
        if q.handle is None or q.patience is None or q.patience.abandoned == 0:
            fail(f"staffing=effective: {name} needs served and abandoned contacts (handle "
                 "time and patience)")
        offered, abandoned, days = offered_by_cell(log, by, name)
        est = effective_staffing(offered, abandoned, days, q.handle.best.mean_min,
                                 q.patience.fits["exponential"].mean_min, ops.settings["level"])
        out[name] = (est.agents, est.to_json()["source"], est)
    return out


def _validate(scenario, test, cfg: DictConfig) -> dict:
    from cxsim.calibrate.operations.validation import (
        compare_by_hour,
        observed_by_hour,
        simulated_by_hour,
    )
    from cxsim.engine import simulate

    result = simulate(scenario, progress=progress_of(cfg))
    doc = compare_by_hour(observed_by_hour(test, scenario, cfg.level, GROUPS[cfg.by]),
                          simulated_by_hour(scenario, result.replications, cfg.level))
    return {"holdout_days": int(cfg.validation.holdout_days),
            "days": [test.calendar.date(0), test.calendar.date(test.calendar.n_days - 1)],
            "replications": scenario.replications, "seed": scenario.seed, **doc}


def _figures(ops, log, by: str | None, validation: dict | None, out: Path) -> None:
    import numpy as np

    from cxsim.calibrate.operations.cis import handle_times
    from cxsim.plots import operations as plots

    f = log.contacts
    minutes = handle_times(f)
    for name, q in ops.queues.items():
        mine = np.ones(len(f), bool) if by is None else (f[by].astype("str") == name).to_numpy()
        title = f"{name}: "
        if q.handle is not None:
            plots.handle_fit(q.handle, minutes[mine & ~np.isnan(minutes)],
                             out / f"handle_{name}.png", title)
        if q.patience is not None:
            plots.patience_fit(q.patience, q.abandonment, out / f"patience_{name}.png", title)
        plots.arrival_profile(q.arrivals, out / f"arrivals_{name}.png", title)
        plots.staffing_profile(q.staffing, out / f"staffing_{name}.png", title)
    if validation is not None:
        plots.validation_by_hour(validation, out / "validation_by_hour.png")


def _report(doc: dict, out: Path) -> None:
    for name, q in doc["queues"].items():
        h, p, a = q["handle"], q["patience"], q["abandon_rate"]
        print(f"cxsim-calibrate: {name}: {q['contacts']} contacts"
              + (f", abandonment {a['rate']:.1%}" if a["rate"] is not None else "")
              + (f", handle {h['distribution']} mean {h['mean_min']:.2f} min" if h else "")
              + (f", patience mean {p['mean_min']:.2f} min" if p and p["abandoned"] else ""))
    for flag in doc["scenario"]["flags"]:
        print(f"  note: {flag}")
    if doc["validation"]:
        share = doc["validation"]["agree_share"]
        print("  validation by hour (share of hours within both CIs): " + ", ".join(
            f"{k} {v:.0%}" for k, v in share.items() if v is not None))
    print(f"  written to {out / 'calibration.json'} and {out / 'scenario.yaml'}")
    print(f"  simulate it: {doc['simulate_command']}")


HELP = """\
cxsim-calibrate: read a contact log (ACD, CRM, ticketing export) through a column mapping,
estimate each queue's arrivals, handle times, patience, abandonment, staffing, transfers and
redials with their intervals, and write calibration.json, scenario.yaml (which cxsim-simulate
runs unchanged), figures, and the log against its simulation hour by hour
(docs/contact_logs.md).

Main keys (key=value; configs/calibrate.yaml):
  log.path=FILE  log.mapping=canonical|technion|acd_example|MAPPING.yaml
  log.columns.arrival=COLUMN ...      rename columns without editing the mapping
  by=queue|reason|channel|all         what one touchpoint of the scenario is
  interval_min=60  staffing=distinct|busy|roster|effective  log.roster=FILE
  validation.holdout_days=N           calibrate on all but the last N days, validate on them
  observed.write=true                 also the observed-data directory of cxsim-fit

Example:
  cxsim-calibrate log.path=outputs/observed/contacts.csv hydra.run.dir=outputs/calibrated
"""

main = console_script("calibrate", run, HELP)

if __name__ == "__main__":
    main()
