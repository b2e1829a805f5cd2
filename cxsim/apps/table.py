"""A short, readable table of a run's metrics for the terminal (formats: cxsim.metrics.KPIS)."""

from __future__ import annotations

import sys
from pathlib import Path

from cxsim.metrics import KPIS


def _fmt(doc: dict, key: str) -> str:
    return KPIS[key].format(doc.get(key))


def _with_ci(doc: dict, key: str) -> str:
    value, half = doc.get(key), doc.get(f"{key}_ci")
    if value is None:
        return "-"
    text = KPIS[key].format(value)
    return text if half is None else f"{text} ±{KPIS[key].format(half)}"


def _class(doc: dict, k: str, figure: str, by: str = "class") -> dict:
    """Class (skill, group) ``k``'s ``figure`` (and its CI) of ``figure_by_class``, under the
    name of the pooled figure it is formatted as (abandonment as ``abandon_rate``)."""
    name = "abandon_rate" if figure == "abandonment" else figure
    return {name: doc[f"{figure}_by_{by}"][k], f"{name}_ci": doc[f"{figure}_by_{by}_ci"][k]}


def _print_groups(m: dict) -> None:
    """Per skill and agent group of every queue with groups (cxsim.engine.routing)."""
    for name, tp in m.get("touchpoints", {}).items():
        for k in tp.get("mean_wait_by_skill", {}):
            print(f"    {name} skill {k}: mean wait "
                  f"{_with_ci(_class(tp, k, 'mean_wait', 'skill'), 'mean_wait')} min, "
                  f"P(wait) {_with_ci(_class(tp, k, 'p_wait', 'skill'), 'p_wait')}, "
                  f"abandoned {_with_ci(_class(tp, k, 'abandonment', 'skill'), 'abandon_rate')}")
        for g in tp.get("occupancy_by_group", {}):
            print(f"    {name} group {g}: occupancy "
                  f"{_with_ci(_class(tp, g, 'occupancy', 'group'), 'occupancy')}")


CHANNEL_COLUMNS = (("volume", "volume", 9), ("SL", "service_level", 8), ("ASA min", "asa", 9),
                   ("aband.", "abandon_rate", 8), ("AHT min", "aht", 9), ("FCR", "fcr", 7),
                   ("occup.", "occupancy", 8), ("contain.", "containment", 10))


# Outside this band a queue's figures describe no real contact centre: nearly idle agents (no
# waiting in the data) or a queue that grows without bound.
OCCUPANCY_BAND = (0.05, 0.98)


def occupancy_warnings(m: dict) -> list[str]:
    """One warning per touchpoint whose occupancy lies outside :data:`OCCUPANCY_BAND`.

    >>> occupancy_warnings({"touchpoints": {"phone": {"occupancy": 0.017},
    ...                                     "chat": {"occupancy": 0.5}}})[0][:46]
    'touchpoints.phone: occupancy 1.7% (under 5%): '
    """
    low, high = OCCUPANCY_BAND
    notes = []
    for name, t in m.get("touchpoints", {}).items():
        occ = t.get("occupancy")
        if occ is None:
            continue
        if occ < low:
            notes.append(f"touchpoints.{name}: occupancy {occ:.1%} (under {low:.0%}): its "
                         "agents are nearly idle and customers hardly wait (full-size shifts "
                         "for a small population? population.staffed_for scales them; a "
                         "shift keeps at least one agent)")
        elif occ > high:
            notes.append(f"touchpoints.{name}: occupancy {occ:.1%} (over {high:.0%}): the "
                         "queue cannot keep up; add agents to its shifts")
    return notes


def print_metrics(m: dict, out: Path, currency: str = "") -> None:
    """Headline queue figures, then one line per channel, then needs."""
    reps = m["replications"]
    print(
        f"\ncxsim: {reps} replication(s) x {m['horizon_days']:g} days "
        f"(warm-up {m['warmup_days']:g}), 95% CI half-widths"
    )
    if "service_level" in m:
        print(
            f"  live queues: service level {_with_ci(m, 'service_level')}, "
            f"P(wait) {_with_ci(m, 'p_wait')}, mean wait {_with_ci(m, 'mean_wait')} min,"
            f" abandoned {_with_ci(m, 'abandon_rate')}"
        )
    for k in m.get("mean_wait_by_class", {}):  # priority classes (cxsim.engine.priority)
        print(f"    priority class {k}: mean wait "
              f"{_with_ci(_class(m, k, 'mean_wait'), 'mean_wait')} min, "
              f"P(wait) {_with_ci(_class(m, k, 'p_wait'), 'p_wait')}, "
              f"abandoned {_with_ci(_class(m, k, 'abandonment'), 'abandon_rate')}")
    _print_groups(m)
    head = f"  {'channel':<9}" + "".join(f"{title:>{w}}" for title, _, w in CHANNEL_COLUMNS)
    print(head)
    print("  " + "-" * (len(head) - 2))
    for ch, c in m["channels"].items():
        print(f"  {ch:<9}" + "".join(f"{_fmt(c, key):>{w}}" for _, key, w in CHANNEL_COLUMNS))
    if "nps" in m:
        print(f"  customers: NPS surveyed {_with_ci(m, 'nps')} vs everyone "
              f"{_with_ci(m, 'nps_population')}, CSAT {_with_ci(m, 'csat')}%, "
              f"CES {_with_ci(m, 'ces')}, "
              f"response rate {_with_ci(m, 'survey_response_rate')}")
        print(f"             retention {_with_ci(m, 'retention')}, churn "
              f"{_with_ci(m, 'churn_rate')}/month, LTV {_with_ci(m, 'ltv')}"
              + (f" {currency} per customer" if currency else ""))
    n = m["needs"]
    print(
        f"  needs: {_fmt(n, 'needs')} per replication, resolved "
        f"{_fmt(n, 'resolved_rate')}, first-contact {_fmt(n, 'fcr')}, "
        f"gave up {_fmt(n, 'gave_up_rate')}, repeats/need "
        f"{_fmt(n, 'repeats_per_need')}, switches/need {_fmt(n, 'switches_per_need')}"
    )
    for note in occupancy_warnings(m):
        print(f"cxsim: WARNING: {note}", file=sys.stderr)
    print(f"  written to {out / 'metrics.json'}\n")
