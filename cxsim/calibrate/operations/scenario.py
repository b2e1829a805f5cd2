"""The calibrated scenario: operations estimated from a log, written as a scenario the engine
runs unchanged, every number commented with its interval and source column.

What the engine can represent decides the shape (docs/contact_logs.md, "Start from your own
data"), and what it cannot is *flagged*, never rounded away in silence:

- arrivals are one Poisson stream with a rate that is a weekday profile times an hour-of-day
  profile, shared by every queue (``population``); the scenario takes the Poisson MLE of that
  product (for a two-way table: row total x column total / total) and flags a log whose
  weekday x hour table departs from it (a deviance test), or whose queues have different
  hourly shapes;
- staffing is whole agents by whole hours (``Shift``): the mean agents per weekday x hour are
  rounded, and the largest rounding is flagged;
- patience takes the law that fits the censored waits best by AIC (exponential, Weibull or
  lognormal: ``touchpoints.<queue>.patience``), its mean through ``patience_factor``;
- a queue transfers to one queue at most; redials and recontacts are already among the log's
  arrivals, so the scenario never retries (``retry_prob`` 0, ``max_contacts`` 1, ``fcr`` 1
  minus the transfer share).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from cxsim.calibrate.operations.calibrate import Operations
from cxsim.data.contacts.canonical import WEEKDAYS, ContactLog
from cxsim.spec.checks import MAX_CV, MIN_CV

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A deviance test this unlikely under a product profile flags the log as not representable.
SEPARABLE_LEVEL = 0.01
DAYS_PER_MONTH = 30.0  # the engine's month (cxsim.spec.kinds)


@dataclass
class CalibratedScenario:
    """A scenario as plain containers, a comment per dotted key, and what the engine could
    not represent exactly (``flags``)."""

    doc: dict
    comments: dict[str, str] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _ci(ci: list | tuple | None) -> str:
    if ci is None or ci[0] is None:
        return "no interval"
    return f"95% CI [{_fmt(ci[0])}, {_fmt(ci[1])}]"


def product_profile(count: np.ndarray, days: np.ndarray) -> dict:
    """The Poisson MLE of rates ``a_w * b_h`` from counts ``count[w, h]`` over ``days[w]``
    observed days of each weekday, with the deviance test of that product against the full
    table. ``per_day[w]`` is the expected contacts of a day of weekday w (``nan`` for a weekday
    never observed), ``hour_share[h]`` the share of a day's contacts in hour h."""
    count = np.asarray(count, float)
    seen = np.asarray(days) > 0
    total = count[seen].sum()
    per_day = np.where(seen, count.sum(axis=1) / np.maximum(days, 1), np.nan)
    hour_share = count[seen].sum(axis=0) / total if total > 0 else np.full(count.shape[1], 0.0)
    expected = np.outer(np.where(seen, count.sum(axis=1), 0.0), hour_share)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(count > 0, count * np.log(count / expected), 0.0)
    live_rows = int((count[seen].sum(axis=1) > 0).sum())
    live_cols = int((hour_share > 0).sum())
    df = max((live_rows - 1) * (live_cols - 1), 0)
    deviance = float(2 * terms[seen].sum())
    p = float(stats.chi2.sf(deviance, df)) if df > 0 else 1.0
    return {"per_day": per_day, "hour_share": hour_share, "deviance": deviance, "df": df,
            "p_value": p}


def weekly_shifts(agents: np.ndarray) -> list[dict]:
    """Shifts (whole hours, whole agents) whose sum is ``agents[w, h]``: a run of equal
    staffing within a day is one shift; the same run on several weekdays stays one shift per
    weekday (``days`` a single day), except all seven or Monday-Friday together."""
    runs: dict[tuple[int, int, int], list[int]] = {}
    for w in range(7):
        h = 0
        while h < 24:
            n = int(agents[w, h])
            end = h
            while end < 24 and int(agents[w, end]) == n:
                end += 1
            if n > 0:
                runs.setdefault((h, end, n), []).append(w)
            h = end
    shifts = []
    for (start, end, n), days in sorted(runs.items()):
        groups = ([("all", days)] if days == list(range(7)) else
                  [("weekdays", days)] if days == list(range(5)) else
                  [(DAY_NAMES[d], [d]) for d in days])
        shifts += [{"start_hour": float(start), "end_hour": float(end), "agents": n,
                    "days": name} for name, _ in groups]
    return shifts


def _staffing(q: dict, source: str) -> tuple[np.ndarray, str]:
    s = q["staffing"]
    key = {"distinct": "distinct_agents", "busy": "busy_agents", "roster": "staffed_agents"}[
        source]
    if key not in s or s[key] is None:
        raise ValueError(f"no {key} in the staffing estimate (staffing={source})")
    agents = np.nan_to_num(np.asarray(s[key]["mean_by_weekday"], float))
    if q["handle"] is not None and not agents.any():
        raise ValueError(f"{q['name']}: no agent activity to staff it by (agent_id is empty "
                         "on every served contact): give a roster, log.roster=FILE "
                         "staffing=roster, or estimate it from waits, staffing=effective")
    return agents, s[key]["source"]


def _patience(name: str, q: dict, flags: list[str]) -> tuple[float | None, dict | None, str]:
    """The mean patience, its law for the scenario (None: exponential, the engine's default)
    and a note: the best law by AIC among the censored fits."""
    p = q["patience"]
    if p is None or p["abandoned"] == 0:
        flags.append(f"touchpoints.{name}: no abandonment in the log, so patience is unbounded"
                     " (patience_factor 0: nobody abandons)")
        return None, None, "no abandonment observed"
    best, fit = p["distribution"], p["candidates"][p["distribution"]]
    cv = fit["cv"]
    if best != "exponential" and (cv is None or not MIN_CV <= cv <= MAX_CV):
        flags.append(f"touchpoints.{name}: patience fits a {best} best, but its cv {cv} is "
                     "outside what the engine draws, so the exponential MLE is used")
        best, fit = "exponential", p["candidates"]["exponential"]
    law = None if best == "exponential" else {"dist": best, "cv": float(cv)}
    weight = fit["akaike_weight"]
    return float(fit["mean_min"]), law, (
        f"{best} MLE over censored waits (queue_exit - queue_entry; {p['abandoned']} "
        f"abandoned of {p['n']}, {p['censored_share']:.0%} censored; AIC weight {weight:.2f}"
        f"{'' if law is None else f', cv {cv:.3g}'}), {_ci(fit['mean_ci'])}")


def _handle(name: str, q: dict, flags: list[str]) -> tuple[dict, str]:
    h = q["handle"]
    if h is None:
        flags.append(f"touchpoints.{name}: no positive handle time: the default 5 min is used")
        return {"mean_min": 5.0, "cv": 1.0, "dist": "lognormal"}, "default (no service times)"
    if h["zero_share"] > 0:
        flags.append(f"touchpoints.{name}: {h['zero_share']:.1%} of services last zero minutes;"
                     " the fitted law is of the positive ones")
    doc = {"mean_min": float(h["mean_min"]), "cv": float(h["cv"]), "dist": h["distribution"]}
    return doc, (f"{h['distribution']} by AIC on service_end - service_start (n {h['n']}): "
                 f"mean {_ci(h['mean_ci'])}, cv {_ci(h['cv_ci'])}")


def _automated(log: ContactLog, by: str | None, name: str, q: dict, queues: dict,
               comments: dict, flags: list[str]) -> dict | None:
    """A bot (escalating) or self-service touchpoint for a group no agent serves and whose
    contacts are contained or left unresolved; None for an agent queue."""
    f = log.contacts
    mine = np.ones(len(f), bool) if by is None else (f[by].astype("str") == name).to_numpy()
    outcome = f["outcome"].astype("str").to_numpy()[mine]
    if f["agent_id"][mine].notna().any():
        return None
    n = int(mine.sum())
    contained = int((outcome == "contained").sum())
    escalated = int((outcome == "transferred").sum())
    if contained + int((outcome == "unresolved").sum()) + escalated < n or n == 0:
        return None  # served or abandoned contacts without agents: an agent queue after all
    h = q["handle"]
    duration = ({"mean_min": float(h["mean_min"]), "cv": float(h["cv"]),
                 "dist": h["distribution"]} if h else {"mean_min": 0.0, "cv": 0.0,
                                                       "dist": "fixed"})
    key = f"touchpoints.{name}"
    comments[f"{key}.duration"] = (
        f"{h['distribution']} by AIC on service_end - service_start (n {h['n']}): mean "
        f"{_ci(h['mean_ci'])}" if h else "no session times: zero (default)")
    tp = {"channel": _channel(log, by, name), "kind": "self_service", "steps": 0,
          "duration": duration, "containment": contained / n}
    comments[f"{key}.containment"] = f"{contained} of {n} contacts contained (outcome)"
    moved = {t: v for t, v in (q["transfers"] or {"to": {}})["to"].items() if t in queues}
    if escalated:
        tp["kind"] = "bot"
        target = max(moved, key=lambda t: moved[t]["count"]) if moved else None
        if target is None:
            flags.append(f"{key}: escalations to contacts outside the log are not modelled")
            tp["escalation"] = 0.0
        else:
            tp["escalate_to"] = target
            tp["escalation"] = escalated / max(n - contained, 1)
            comments[f"{key}.escalation"] = (f"{escalated} of the {n - contained} not "
                                             f"contained escalated (transfer_from) to {target}")
        tp["loop_min"] = 0.0
        comments[f"{key}.loop_min"] = ("0: the session time above already holds the loop of "
                                       "those not escalated")
    return tp


def _channel(log: ContactLog, by: str | None, group: str) -> str:
    f = log.contacts
    mine = (f["channel"] if by is None else f.loc[f[by].astype("str") == group, "channel"])
    mine = mine.dropna().astype("str")
    return mine.mode().iloc[0] if len(mine) else "phone"


def scenario_from_operations(ops: Operations, log: ContactLog, *, staffing: str = "distinct",
                             sl_threshold_min: float = 0.5, replications: int = 5,
                             seed: int = 20261122,
                             arrivals: tuple[np.ndarray, np.ndarray] | None = None,
                             agents: dict[str, tuple[np.ndarray, str]] | None = None
                             ) -> CalibratedScenario:
    """The scenario of hourly operations ``ops`` (``calibrate_operations(log, 60, by)``: a
    touchpoint per group, a queue, a reason or a channel, or one for all contacts pooled).

    ``arrivals``: ``(count[w, h], days[w])`` of external arrivals to use instead of the
    calibration's (a held-out period's own volumes). The simulated window covers the log's
    days on their weekdays: the engine's day 0 is a Monday, so the days before the log's first
    weekday are warm-up. ``agents``: per group, agents by weekday x hour and what they are,
    instead of the staffing estimate named by ``staffing`` (an effective staffing)."""
    if ops.settings.get("interval_min") != 60:
        raise ValueError("the scenario is built from hourly estimates")
    by = ops.settings.get("by")
    queues = ops.to_json()["queues"]
    comments: dict[str, str] = {}
    flags: list[str] = []
    count = np.zeros((7, 24))
    days = np.zeros(7)
    shapes = {}
    for name, q in queues.items():
        a = q["arrivals_per_hour"]
        count += np.asarray(a["count"], float)
        days = np.asarray(a["observed_days"], float)
        shapes[name] = np.asarray(a["count"], float).sum(axis=0)
    if arrivals is not None:
        count, days = (np.asarray(x, float) for x in arrivals)
    prof = product_profile(count, days)
    if prof["p_value"] < SEPARABLE_LEVEL:
        flags.append(f"population: arrivals by weekday x hour are not a weekday profile times an "
                     f"hour-of-day profile (deviance {prof['deviance']:.1f} on {prof['df']} df, "
                     f"p = {prof['p_value']:.2g}); the engine needs that product, so the "
                     "scenario uses its Poisson MLE")
    if len(shapes) > 1:
        table = np.array(list(shapes.values()))
        test = product_profile(table, np.ones(len(table)))
        if test["p_value"] < SEPARABLE_LEVEL:
            flags.append(f"journeys: the queues' hourly shapes differ (deviance "
                         f"{test['deviance']:.1f} on {test['df']} df, p = {test['p_value']:.2g}); "
                         "the engine shares one hourly profile between them")
    per_day = prof["per_day"]
    unseen = [WEEKDAYS[w] for w in range(7) if np.isnan(per_day[w])]
    if unseen:
        flags.append(f"population.weekday_profile: no {', '.join(unseen)} in the log: the "
                     "scenario is closed on those days (no arrivals, no shifts); its window "
                     "holds only the log's days")
        per_day = np.nan_to_num(per_day)
    classes = log.contacts["priority"].dropna().nunique()
    if classes > 1:
        flags.append(f"touchpoints: the log has {classes} priority classes; the engine's "
                     "queues are FIFO, so priorities are not modelled")
    customers = int(log.contacts["customer_id"].nunique()) or 10_000
    volume = float(per_day.mean())  # contacts a day, averaged over the week
    needs_per_month = volume * DAYS_PER_MONTH / customers
    first = log.calendar.first_weekday
    doc: dict = {
        "horizon": float(first + log.calendar.n_days),
        "warmup": float(first),
        "replications": int(replications),
        "seed": int(seed),
    }
    comments["warmup"] = (f"the engine's day 0 is a Monday; the log starts on a "
                          f"{WEEKDAYS[first]} {log.calendar.date(0)}, so the days before are "
                          "warm-up and the window covers the log's days")
    comments["horizon"] = f"warm-up + the log's {log.calendar.n_days} days"
    tps, journeys = {}, {}
    total_arrivals = sum(float(np.sum(q["arrivals_per_hour"]["count"])) for q in queues.values())
    patience = {}
    for name, q in queues.items():
        q["name"] = name
        ext = float(np.sum(q["arrivals_per_hour"]["count"]))
        journeys[name] = {"share": ext / total_arrivals if total_arrivals else 1 / len(queues),
                          "stage": "post_purchase", "steps": 0, "touchpoints": [name]}
        comments[f"journeys.{name}.share"] = (
            f"{int(ext)} of {int(total_arrivals)} external arrivals (no transfer_from) are "
            f"to {name}")
        auto = _automated(log, by, name, q, queues, comments, flags)
        if auto is not None:
            tps[name] = auto
            continue
        handle, handle_note = _handle(name, q, flags)
        mean_patience, law, p_note = _patience(name, q, flags)
        patience[name] = (mean_patience, p_note)
        agents_f, staff_note = (_staffing(q, staffing) if agents is None else
                                (np.nan_to_num(agents[name][0]), agents[name][1]))
        whole = np.rint(agents_f).astype(int)
        worst = float(np.max(np.abs(whole - agents_f)))
        if worst > 0.25:
            flags.append(f"touchpoints.{name}.shifts: mean agents per weekday x hour rounded to "
                         f"whole agents (largest change {worst:.2f} agents)")
        tp = {"channel": _channel(log, by, name), "kind": "queue", "steps": 0,
              "shifts": weekly_shifts(whole), "handle": handle,
              "sl_threshold_min": float(sl_threshold_min)}
        comments[f"touchpoints.{name}.shifts"] = (
            f"{staff_note}, mean over observed days by weekday x hour, rounded "
            f"(largest rounding {worst:.2f}); source agent_id, service_start, service_end")
        comments[f"touchpoints.{name}.handle"] = handle_note
        if law is not None:  # the fitted law; its mean comes from patience_factor
            tp["patience"] = law
            comments[f"touchpoints.{name}.patience"] = p_note
        comments[f"touchpoints.{name}.sl_threshold_min"] = "set by the config (sl_threshold_min)"
        moved = q["transfers"]["to"] if q["transfers"] else {}
        served = q["transfers"]["served"] if q["transfers"] else 0
        inside = {t: v for t, v in moved.items() if t in queues}
        if len(moved) > len(inside):
            flags.append(f"touchpoints.{name}: transfers to queues outside the log "
                         f"({', '.join(sorted(set(moved) - set(inside)))}) are not modelled")
        share = 0.0
        if inside:
            target = max(inside, key=lambda t: inside[t]["share"])
            if len(inside) > 1:
                flags.append(f"touchpoints.{name}: transfers to {len(inside)} queues; the engine"
                             f" transfers to one, so only {target} is kept")
            share = float(inside[target]["share"])
            tp["transfer_to"], tp["transfer_prob"] = target, share
            comments[f"touchpoints.{name}.transfer_prob"] = (
                f"{inside[target]['count']} of {served} served transferred to {target} "
                f"(transfer_from), {_ci(inside[target]['ci'])}")
        tp["fcr"] = 1.0 - share
        comments[f"touchpoints.{name}.fcr"] = (
            "1 - transfer share: recontacts are already among the log's arrivals, so none is "
            "added")
        tp["context_carryover"] = 1.0
        comments[f"touchpoints.{name}.context_carryover"] = (
            "1 so transferred calls last their logged handle time (no repeated explanation)")
        tps[name] = tp
    if not patience:
        raise ValueError("no agent queue in the log: nothing to staff")
    known = [m for m, _ in patience.values() if m is not None]
    base = max(known) if known else None
    for name, (mean_patience, note) in patience.items():
        factor = 0.0 if mean_patience is None else mean_patience / base
        tps[name]["patience_factor"] = float(factor)
        comments[f"touchpoints.{name}.patience_factor"] = (
            f"{name}'s mean patience {_fmt(mean_patience)} min / the segment's: {note}"
            if mean_patience is not None else note)
    doc["touchpoints"] = tps
    doc["journeys"] = journeys
    doc["segments"] = {"callers": {
        "share": 1.0, "needs_per_month": needs_per_month,
        "patience_min": base, "pain_intolerant": 0.0, "retry_prob": 0.0,
        "preference": {tp["channel"]: 1.0 for tp in tps.values()}}}
    comments["segments.callers.needs_per_month"] = (
        f"{_fmt(volume)} contacts a day on average over the week x {DAYS_PER_MONTH:g} / "
        f"{customers} customers; source arrival")
    comments["segments.callers.patience_min"] = "the longest queue's mean patience (min)"
    comments["segments.callers.retry_prob"] = "0: redials are already among the log's arrivals"
    comments["segments.callers.pain_intolerant"] = "0: patience is all in patience_min"
    hour_share = prof["hour_share"]
    doc["population"] = {
        "customers": customers,
        "hourly_profile": [float(x) for x in hour_share * 24],
        "weekday_profile": [float(x) for x in per_day / per_day.mean()]
        if per_day.mean() > 0 else [1.0] * 7,
    }
    comments["population.customers"] = "distinct customer_id in the log"
    comments["population.hourly_profile"] = (
        "share of arrivals in each hour x 24 (Poisson MLE of a weekday x hour product; "
        f"deviance {prof['deviance']:.1f} on {prof['df']} df, p = {prof['p_value']:.2g}); "
        "source arrival")
    comments["population.weekday_profile"] = (
        "contacts per observed day of each weekday / their mean (Monday first); source arrival")
    doc["handoffs"] = {"context_carryover": 1.0, "max_contacts": 1}
    comments["handoffs.max_contacts"] = "1: no retries or recontacts beyond the log's arrivals"
    doc["behaviour"] = {"enabled": False}
    comments["behaviour.enabled"] = (
        "default: a contact log tells no reactions (surveys, churn); true adds them with the "
        "default parameters, fit them with cxsim-fit")
    return CalibratedScenario(doc, comments, flags)


def _scalar(v: object) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not np.isfinite(v):
            return ".nan" if np.isnan(v) else (".inf" if v > 0 else "-.inf")
        text = f"{v:.12g}"
        mantissa, _, exponent = text.partition("e")
        if "." not in mantissa:  # YAML 1.1 reads 1e-05 as a string, 1.0e-05 as a float
            mantissa += ".0"
        return mantissa + (f"e{exponent}" if exponent else "")
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _flow(v: object) -> str:
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_flow(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(_flow(x) for x in v) + "]"
    return _scalar(v)


def to_yaml(cs: CalibratedScenario, header: list[str]) -> str:
    """The scenario as YAML with its comments (a ``# `` line above each commented key) and the
    defaults list ``cxsim-simulate --config-name`` needs."""
    lines = [f"# {h}" for h in header]
    if cs.flags:
        lines.append("# What the engine cannot represent exactly (also in calibration.json):")
        lines += [f"#  - {f}" for f in cs.flags]
    lines += ["defaults:", "  - schema: simulate", "  - _self_", ""]

    def emit(node: dict, path: str, indent: int) -> None:
        pad = "  " * indent
        for key, value in node.items():
            dotted = f"{path}{key}"
            note = cs.comments.get(dotted)
            if note:
                lines.append(f"{pad}# {note}")
            if isinstance(value, dict) and value and key != "preference":
                lines.append(f"{pad}{key}:")
                emit(value, f"{dotted}.", indent + 1)
            elif isinstance(value, list) and value and isinstance(value[0], dict):
                lines.append(f"{pad}{key}:")
                lines.extend(f"{pad}  - {_flow(item)}" for item in value)
            else:
                lines.append(f"{pad}{key}: {_flow(value)}")

    emit(cs.doc, "", 0)
    return "\n".join(lines) + "\n"


def offered_by_cell(log: ContactLog, by: str | None, group: str) -> tuple[np.ndarray, ...]:
    """Offered (served, transferred, abandoned) and abandoned contacts of one group by
    weekday x hour of arrival over the observed days, and the observed days of each weekday."""
    f = log.contacts
    mine = np.ones(len(f), bool) if by is None else (f[by].astype("str") == group).to_numpy()
    outcome = f["outcome"].astype("str").to_numpy()
    offered = mine & np.isin(outcome, ("served", "transferred", "abandoned"))
    t = f["arrival"].to_numpy(float)
    day = (t // 1440).astype(np.int64)
    seen = log.calendar.observed[np.clip(day, 0, log.calendar.n_days - 1)]
    cell = log.calendar.weekday(day) * 24 + (t // 60 % 24).astype(np.int64)

    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(cell[mask & seen], minlength=168).reshape(7, 24).astype(float)

    days = np.bincount(log.calendar.weekday(log.calendar.observed_days()), minlength=7)
    return count(offered), count(offered & (outcome == "abandoned")), days
