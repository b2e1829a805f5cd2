"""A short, readable table of a run's metrics for the terminal."""

from __future__ import annotations

from pathlib import Path


def _fmt(x: float | None, pct: bool = False, digits: int = 2) -> str:
    if x is None:
        return "-"
    return f"{100 * x:.1f}%" if pct else f"{x:.{digits}f}"


def _with_ci(doc: dict, key: str, pct: bool = False) -> str:
    value, half = doc.get(key), doc.get(f"{key}_ci")
    if value is None:
        return "-"
    text = _fmt(value, pct)
    return text if half is None else f"{text} ±{_fmt(half, pct)}"


def print_metrics(m: dict, out: Path) -> None:
    """Headline queue figures, then one line per channel, then needs."""
    reps = m["replications"]
    print(
        f"\ncxsim: {reps} replication(s) x {m['horizon_days']:g} days "
        f"(warm-up {m['warmup_days']:g}), 95% CI half-widths"
    )
    if "service_level" in m:
        print(
            f"  live queues: service level {_with_ci(m, 'service_level', True)}, "
            f"P(wait) {_with_ci(m, 'p_wait', True)}, mean wait {_with_ci(m, 'mean_wait')} min,"
            f" abandoned {_with_ci(m, 'abandon_rate', True)}"
        )
    head = (
        f"  {'channel':<9}{'volume':>9}{'SL':>8}{'ASA min':>9}{'aband.':>8}{'AHT min':>9}"
        f"{'FCR':>7}{'occup.':>8}{'contain.':>10}"
    )
    print(head)
    print("  " + "-" * (len(head) - 2))
    for ch, c in m["channels"].items():
        print(
            f"  {ch:<9}{_fmt(c.get('volume'), digits=0):>9}"
            f"{_fmt(c.get('service_level'), True):>8}{_fmt(c.get('asa')):>9}"
            f"{_fmt(c.get('abandon_rate'), True):>8}{_fmt(c.get('aht')):>9}"
            f"{_fmt(c.get('fcr'), True):>7}{_fmt(c.get('occupancy'), True):>8}"
            f"{_fmt(c.get('containment'), True):>10}"
        )
    if "nps" in m:
        print(f"  customers: NPS surveyed {_with_ci(m, 'nps')} vs everyone "
              f"{_with_ci(m, 'nps_population')}, CSAT {_with_ci(m, 'csat')}%, "
              f"CES {_with_ci(m, 'ces')}, "
              f"response rate {_with_ci(m, 'survey_response_rate', True)}")
        print(f"             retention {_with_ci(m, 'retention', True)}, churn "
              f"{_with_ci(m, 'churn_rate', True)}/month, LTV {_with_ci(m, 'ltv')}")
    n = m["needs"]
    print(
        f"  needs: {_fmt(n['needs'], digits=0)} per replication, resolved "
        f"{_fmt(n['resolved_rate'], True)}, first-contact {_fmt(n['fcr'], True)}, "
        f"gave up {_fmt(n['gave_up_rate'], True)}, repeats/need "
        f"{_fmt(n['repeats_per_need'])}, switches/need {_fmt(n['switches_per_need'])}"
    )
    print(f"  written to {out / 'metrics.json'}\n")
