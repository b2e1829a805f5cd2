"""``cxsim-staff``: the agents each queue needs per interval of the week, found by simulation
from an Erlang start, and the cheapest roster covering them, re-simulated and repaired.

cxsim-staff experiment=erlang targets.service_level=0.8 targets.threshold_s=20 hydra.run.dir=out
cxsim-simulate --config-dir out experiment=staffed      # the roster, simulated as is

Writes into the run directory: ``requirement.csv``, ``roster.csv``, ``staffing.json``,
``experiment/staffed.yaml`` (the scenario override) and, with ``figures=true``, PNGs of the
required against the rostered agents, service level and abandonment against the target, and
the cost against the service level.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from cxsim.apps.common import console_script, fail, progress_of, run_dir, start, user_errors
from cxsim.engine.staffing import is_staffed
from cxsim.fileio import atomic_write, finish_run, write_json
from cxsim.spec import SpecError, load_scenario
from cxsim.spec.config import StaffConfig, to_typed
from cxsim.spec.kinds import KINDS

# What a run (re)writes: an earlier run's are removed when this one starts.
OUTPUTS = ("requirement.csv", "roster.csv", "staffing.json", "experiment", "*.png")
SCENARIO_APP_KEYS = ("targets.", "queues", "confidence", "max_rounds", "max_replications",
                     "repair_rounds", "shift_types", "max_part_time_share", "mip_gap",
                     "time_limit_s", "tradeoff_levels", "cx_horizon", "figures", "progress",
                     "hydra.", "experiment")


def _targets(cfg: StaffConfig):
    from cxsim.workforce import Targets

    t = cfg.targets
    asa = None if t.asa_s is None else t.asa_s / 60
    try:
        return Targets(service_level=t.service_level, sl_threshold=t.threshold_s / 60, asa=asa,
                       abandon_rate=t.abandon_rate, occupancy=t.occupancy)
    except ValueError as e:  # names the target and its value
        raise SpecError("targets", str(e).split(" ")[0], str(e)) from None


def _earlier_groups(unit: str, plans: dict) -> list[str]:
    """The agent groups of ``unit``'s queue staffed before it (whose targets it must keep)."""
    from cxsim.workforce.simulated import split_unit

    queue, group = split_unit(unit)
    return [] if group is None else [u for u in plans if split_unit(u)[0] == queue]


def _cx_targets(cfg: StaffConfig, scenario):
    from cxsim.workforce.cx import CxTargets

    t = cfg.targets
    for key in ("ces_max", "nps_min", "ltv_per_churn"):
        value = getattr(t, key)
        if value is not None and not math.isfinite(value):
            raise SpecError(f"targets.{key}", value, "must be a finite number")
    if t.nps_min is not None and not -100 <= t.nps_min <= 100:
        raise SpecError("targets.nps_min", t.nps_min, "an NPS lies in [-100, 100]")
    if t.ltv_per_churn is not None and t.ltv_per_churn < 0:
        raise SpecError("targets.ltv_per_churn", t.ltv_per_churn, "must be >= 0")
    if any(v is not None for v in (t.ces_max, t.nps_min, t.ltv_per_churn)) \
            and not scenario.behaviour.enabled:
        key = next(k for k in ("ces_max", "nps_min", "ltv_per_churn")
                   if getattr(t, k) is not None)
        raise SpecError(f"targets.{key}", getattr(t, key),
                        "a CX target needs the outcomes model: behaviour.enabled=true")
    if not cfg.cx_horizon > 0:
        raise SpecError("cx_horizon", cfg.cx_horizon, "must be a number of days > 0")
    return CxTargets(t.ces_max, t.nps_min, t.ltv_per_churn)


def _shift_types(cfg: StaffConfig) -> list:
    from cxsim.workforce import Break, ShiftType

    return [ShiftType(name, "", st.length_min, st.earliest_start_min, st.latest_start_min,
                      st.start_step_min, st.days,
                      tuple(Break(b.length_min, b.earliest_min, b.latest_min, b.paid)
                            for b in st.breaks),
                      st.cost_per_hour, st.min_agents, st.max_agents, st.part_time)
            for name, st in cfg.shift_types.items()]


def _scenario_overrides(scenario) -> tuple[str | None, dict]:
    """The base experiment and the scenario overrides of this run, as a nested dict, with the
    run settings the plan was simulated with (staff.yaml's, not simulate.yaml's)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.override_parser.overrides_parser import OverridesParser

    base, body = None, OmegaConf.create({})
    parsed = OverridesParser.create().parse_overrides(list(HydraConfig.get().overrides.task))
    for o in parsed:
        key = o.key_or_group
        if key == "experiment":
            base = o.value()
        elif not key.startswith(SCENARIO_APP_KEYS):
            OmegaConf.update(body, key.lstrip("+"), o.value(), force_add=True)
    for key in ("horizon", "warmup", "replications", "seed", "interval_min"):
        body[key] = getattr(scenario, key)
    return base, OmegaConf.to_container(body)


def _check(cfg: StaffConfig, scenario) -> list[str]:
    """The queues to staff, refused before any work if one is no agent queue."""
    from cxsim.workforce.simulated import split_unit

    named = list(cfg.queues) or [n for n, tp in scenario.touchpoints.items()
                                 if KINDS[tp.kind].live and is_staffed(tp)]
    queues = []
    for q in named:
        name, group = split_unit(q)
        tp = scenario.touchpoints.get(name)
        if tp is None or not KINDS[tp.kind].assisted:
            known = ", ".join(n for n, t in scenario.touchpoints.items()
                              if KINDS[t.kind].assisted)
            raise SpecError("queues", q, f"no agent queue of that name (queues: {known})")
        if group and group not in tp.groups:
            raise SpecError("queues", q, f"no agent group {group!r} in {name} (groups: "
                            f"{', '.join(tp.groups) or 'none'})")
        # A queue with agent groups is staffed group by group (queue.group).
        queues += [q] if group or not tp.groups else [f"{name}.{g}" for g in tp.groups]
    if not queues:
        raise SpecError("queues", [], "no live queue with agents to staff")
    if not 0.5 <= cfg.confidence < 1:
        raise SpecError("confidence", cfg.confidence, "must lie in [0.5, 1)")
    if cfg.max_replications is not None and cfg.max_replications < scenario.replications:
        raise SpecError("max_replications", cfg.max_replications,
                        f"is below replications={scenario.replications}")
    if scenario.replications < 2:
        raise SpecError("replications", scenario.replications,
                        "needs at least 2 (the confidence is over replications)")
    for i, level in enumerate(cfg.tradeoff_levels):
        if not 0 < level <= 1:
            raise SpecError(f"tradeoff_levels[{i}]", level, "a service level lies in (0, 1]")
    if cfg.targets.threshold_s < 0:
        raise SpecError("targets.threshold_s", cfg.targets.threshold_s, "must be >= 0 seconds")
    for name, st in cfg.shift_types.items():
        if not 0 < st.length_min <= 1440:
            raise SpecError(f"shift_types.{name}.length_min", st.length_min,
                            "must be in 1..1440 (a shift longer than the day)")
    return queues


def run(cfg: DictConfig) -> dict:
    """Staff the composed scenario; write the plan into the Hydra run directory."""
    from cxsim.progress import Progress
    from cxsim.workforce import RosterRuleError
    from cxsim.workforce.plan import (
        override_document,
        plan_queue,
        requirement_rows,
        staffing_document,
        tradeoff,
    )
    from cxsim.workforce.simulated import split_unit, staffed

    typed: StaffConfig = to_typed(cfg)
    with user_errors("invalid scenario: "):
        scenario = load_scenario(cfg)
    with user_errors("invalid staffing config: "):
        queues = _check(typed, scenario)
        targets = _targets(typed)
        cx = _cx_targets(typed, scenario)
        shift_types = _shift_types(typed)
    out = run_dir()
    start(out, OUTPUTS)
    cost = min((st.cost_per_hour for st in typed.shift_types.values()), default=30.0)
    cx_doc = None
    if typed.tradeoff_levels and (cx.any or scenario.behaviour.enabled):
        from cxsim.workforce.cx import cx_tradeoff

        cx_doc = cx_tradeoff(scenario, queues, targets, cx, typed.tradeoff_levels, cost,
                             horizon_days=typed.cx_horizon, confidence=typed.confidence,
                             note=lambda msg: print(msg, flush=True) if progress_of(cfg)
                             else None)
        if cx.any:
            if cx_doc["chosen_service_level"] is None:
                fail(f"CX targets cannot be met: {cx_doc['why']}")
            targets = dataclasses.replace(targets, service_level=cx_doc["chosen_service_level"])
    plans = {}
    current = scenario  # agent groups are staffed one after another, each seeing the last
    with Progress(len(queues), "staffing", "queue", progress_of(cfg), every_s=0.0) as bar:
        for q in queues:
            try:
                plans[q] = plan_queue(
                    current, q, targets, shift_types, confidence=typed.confidence,
                    max_rounds=typed.max_rounds, max_replications=typed.max_replications,
                    repair_rounds=typed.repair_rounds,
                    max_part_time_share=typed.max_part_time_share, mip_gap=typed.mip_gap,
                    time_limit_s=typed.time_limit_s,
                    note=lambda msg: print(msg, flush=True) if progress_of(cfg) else None,
                    guards=_earlier_groups(q, plans))
            except RosterRuleError as e:
                fail(f"queue {q}: {e}")
            if split_unit(q)[1] is not None:
                current = staffed(current, {q: plans[q].need.agents})
            bar.update()
    curve = tradeoff(plans, targets, typed.tradeoff_levels, scenario.interval_min, cost)
    doc = staffing_document(scenario, plans, targets, typed.confidence, cost, curve)
    if cx_doc is not None:
        doc["cx_tradeoff"] = cx_doc
    base, overrides = _scenario_overrides(scenario)
    rows = requirement_rows(plans, scenario.interval_min)
    atomic_write(out / "requirement.csv", lambda p: pd.DataFrame(rows).to_csv(p, index=False))
    roster_rows = [{"group": q, **row} for q, p in plans.items() if p.roster is not None
                   for row in p.roster.table()]
    atomic_write(out / "roster.csv", lambda p: pd.DataFrame(
        roster_rows, columns=["group", "shift", "shift_type", "day", "start", "end", "breaks",
                              "agents", "paid_hours", "cost"]).to_csv(p, index=False))
    staffed_yaml = OmegaConf.to_yaml(OmegaConf.create(override_document(base, overrides, plans)))
    (out / "experiment").mkdir(exist_ok=True)
    atomic_write(out / "experiment" / "staffed.yaml",
                 lambda p: Path(p).write_text("# @package _global_\n# cxsim-staff's roster: "
                                              "cxsim-simulate --config-dir DIR experiment=staffed"
                                              "\n" + staffed_yaml))
    write_json(out / "staffing.json", doc)
    if typed.figures:
        from cxsim.plots.staffing import plot_plan

        plot_plan(plans, targets, curve, scenario.interval_min, out)
        if cx_doc is not None:
            from cxsim.plots.staffing import cx_tradeoff_curve

            cx_tradeoff_curve(cx_doc["levels"], cx_doc["chosen_service_level"],
                              out / "cx_tradeoff.png")
    finish_run(out)  # last: only now does the run look finished
    _print(doc, out)
    return doc


def _print(doc: dict, out: Path) -> None:
    for q, d in doc["queues"].items():
        line = (f"{q}: requirement {d['requirement_agent_hours_per_week']:.1f} agent-h/week "
                f"(Erlang C {d['erlang_c_agent_hours_per_week']:.1f}, Erlang A "
                f"{d['erlang_a_agent_hours_per_week']:.1f}), {len(d['intervals_not_met'])} "
                f"intervals not met, {d['intervals_not_measured']} not measured")
        if "roster" in d:
            r = d["roster"]
            line += (f"; roster {r['paid_hours_per_week']:.1f} paid h, cost "
                     f"{r['cost_per_week']:,.0f} (gap {r['gap']:.2%}), targets met in "
                     f"re-simulation: {r['targets_met_in_resimulation']}")
            if r["short_intervals"]:
                rows = r["short_intervals"]
                closed = sum("line is closed" in x["why"] for x in rows)
                noise = sum("within noise" in x["why"] for x in rows)
                line += (f" ({len(rows)} intervals short: {closed} where the scenario's line "
                         f"is closed, {noise} within noise; staffing.json lists them)")
        print(line)
    print(f"wrote {out}")


HELP = """\
cxsim-staff: how many agents each live queue needs per interval of the week to meet its
targets (Erlang C/A start, corrected by simulation with common random numbers), and the
cheapest roster of allowed shifts covering it (integer programme, HiGHS), re-simulated and
repaired. Writes requirement.csv, roster.csv, staffing.json, experiment/staffed.yaml and
figures (docs/staffing.md).

Main keys (key=value; configs/staff.yaml):
  experiment=NAME              the scenario to staff (default: the default scenario)
  targets.service_level=0.8 targets.threshold_s=20 targets.asa_s=S targets.abandon_rate=A
  targets.ces_max=C targets.nps_min=N targets.ltv_per_churn=V   CX targets (outcomes model on)
  queues=[NAME,...]            the queues to staff (default: every staffed live queue)
  interval_min=30              15, 30 or 60-minute intervals
  confidence=0.9               one-sided confidence that an interval meets its targets
  max_replications=N           double the replications up to N while intervals are unresolved
  shift_types.NAME.length_min=510 ...  the allowed shifts; figures=false  hydra.run.dir=DIR

Example:
  cxsim-staff experiment=erlang targets.service_level=0.8 hydra.run.dir=outputs/staff
  cxsim-simulate --config-dir outputs/staff experiment=staffed hydra.run.dir=outputs/staffed
"""

main = console_script("staff", run, HELP)


if __name__ == "__main__":
    main()
