"""Properties every simulation must have, over random small scenarios built from the dataclasses.

Hypothesis draws journey maps mixing self-service, bots (escalating or not), live queues,
inboxes and stores, with random shifts (some hours unstaffed), probabilities, patience,
pain-point intolerance and priority classes on some agent queues, over one to three days with
a few hundred to two thousand customers.
Whatever the scenario, the engine must conserve needs, never run time backwards, report every
rate in [0, 1] and give the same numbers for the same seed.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from apprun import run_app
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxsim.engine import simulate
from cxsim.engine.priority import ARRIVALS, WAIT_SUM
from cxsim.engine.stats import F
from cxsim.spec import (
    Duration,
    Handoffs,
    Journey,
    Population,
    PriorityClass,
    Scenario,
    Segment,
    Shift,
    SpecError,
    Touchpoint,
    compose_scenario,
    validate,
)
from cxsim.spec.kinds import DAY_SETS, EPISODE_OUTCOMES, kinds_where
from cxsim.spec.schema import DISTRIBUTIONS, STAGES

OUTCOMES = set(EPISODE_OUTCOMES)
ASSISTED = kinds_where("assisted")
CHANNELS = ("web", "app", "chatbot", "phone", "chat", "email", "store")
# Figures that are a share of something: in [0, 1] (or None when there is nothing to share).
# Occupancy (handle minutes / staffed minutes) is left out: a call answered just before an
# agent's duty ends is handled in full, and arrivals in the window may be served after the
# horizon, so handle minutes can exceed the staffed minutes counted in the window.
RATES = {
    "p_wait",
    "service_level",
    "abandon_rate",
    "fcr",
    "transfer_rate",
    "repeat_rate",
    "containment",
    "escalation_rate",
    "loop_rate",
    "resolved_rate",
    "gave_up_rate",
    # the behaviour layer's shares, when it reports them
    "survey_response_rate",
    "churn_rate",
    "retention",
}
# Operational figures (counts, times, ratios of them) cannot be negative. Top-level keys other
# than these (satisfaction, NPS and the like of the behaviour layer) are on signed scales.
OPERATIONAL_TOP = {
    "volume",
    "p_wait",
    "mean_wait",
    "asa",
    "service_level",
    "abandon_rate",
    "aht",
    "fcr",
    "transfer_rate",
    "repeat_rate",
    "occupancy",
    "replications",
    "horizon_days",
    "warmup_days",
    "seed",
}
OPERATIONAL_TREES = {"needs", "channels", "touchpoints", "by_hour"}
PROPERTY_SETTINGS = settings(
    max_examples=300,
    deadline=None,
    database=None,  # nothing written into the repository
    suppress_health_check=[HealthCheck.too_slow],
)

prob = st.floats(0.0, 1.0)
DAYS = st.sampled_from(list(DAY_SETS))
BUSY = st.sampled_from((6.0, 3.0)) | st.floats(0.5, 8.0)  # needs per customer-month


@st.composite
def durations(draw, low: float = 0.5, high: float = 30.0) -> Duration:
    dist = draw(st.sampled_from(DISTRIBUTIONS))
    # Validation allows an instant step (a fixed duration of 0) and the engine then crashes
    # (see test_instant_steps_*): every step here takes some time.
    mean = draw(st.floats(low, high))
    # A cv below ~1e-162 or above ~1e154 crashes the engine (see test_extreme_cv_*), so the
    # properties are checked over realistic spreads only.
    cv = draw(st.just(0.0) | st.floats(0.01, 2.0))
    # An empirical law draws from its table of durations (mean and cv unused).
    values = draw(st.lists(st.floats(low, high), min_size=1, max_size=4)) \
        if dist == "empirical" else []
    return Duration(mean_min=mean, cv=cv, dist=dist, values=values)


@st.composite
def shifts(draw) -> list[Shift]:
    out = []
    for k in range(draw(st.sampled_from((1, 2, 3, 0)))):  # 0: a touchpoint never staffed
        if k == 0:  # a core shift over the middle of the day, then any extra shifts
            start, end = draw(st.integers(0, 12)), draw(st.integers(13, 24))
        else:
            start = draw(st.integers(0, 23))
            end = draw(st.integers(start + 1, 24))
        if draw(st.booleans()):  # shifts start at any minute (the engine staffs to the minute)
            start = start + draw(st.integers(0, 59)) / 60
        out.append(
            Shift(
                start_hour=float(start),
                end_hour=float(end),
                # 0: an unstaffed shift, never the core one (a touchpoint whose shifts have no
                # agent at all is refused: its needs would wait for ever)
                agents=draw(st.sampled_from((1, 2, 4) if k == 0 else (1, 2, 4, 0))),
                # Runs start on a Monday and last at most three days: mostly days that occur.
                days=draw(st.sampled_from(("all", "weekdays", "mon", "tue")) | DAYS),
            )
        )
    # Shifts that all have 0 agents are refused (validation: nobody is ever on duty); a
    # touchpoint never staffed has no shifts at all.
    return out if any(sh.agents for sh in out) else []


@st.composite
def touchpoints(draw) -> dict[str, Touchpoint]:
    kinds = draw(
        st.lists(
            st.sampled_from(("self_service", "bot", "queue", "async", "store")), min_size=1
        ).map(lambda ks: ks[:5])
    )
    names = [f"tp{i}_{k}" for i, k in enumerate(kinds)]
    assisted = [n for n, k in zip(names, kinds, strict=True) if k in ASSISTED]
    tps: dict[str, Touchpoint] = {}
    for i, (name, kind) in enumerate(zip(names, kinds, strict=True)):
        channel = "store" if kind == "store" else draw(st.sampled_from(CHANNELS))
        tp = Touchpoint(
            channel=channel,
            kind=kind,
            steps=draw(st.integers(0, 4)),
            containment=draw(prob),
            loop_min=draw(st.floats(0.0, 10.0)),
        )
        if kind in ("self_service", "bot"):
            tp.duration = draw(durations(0.1, 10.0))
        if kind == "bot":
            tp.escalation = draw(prob)
            if assisted and draw(st.booleans()):
                tp.escalate_to = draw(st.sampled_from(assisted))
        if kind in ASSISTED:
            tp.shifts = draw(shifts())
            tp.handle = draw(durations(1.0, 60.0))
            tp.fcr = draw(prob)
            tp.context_carryover = draw(st.none() | prob)
            tp.patience_factor = draw(st.sampled_from((1.0, 0.5, 3.0, 0.0)))
            tp.sl_threshold_min = draw(st.floats(0.0, 60.0))
            # A travel time of about 1e-13 min or less crashes the engine (test_instant_steps_*).
            tp.travel_min = draw(st.just(0.0) | st.floats(0.5, 60.0)) if kind == "store" else 0.0
            # Transfers only go forward in the list, so they can never loop.
            later = [n for n in assisted if names.index(n) > i]
            if later and draw(st.booleans()):
                tp.transfer_to = draw(st.sampled_from(later))
                tp.transfer_prob = draw(st.floats(0.0, 1.0 - tp.fcr))
        tps[name] = tp
    return tps


@st.composite
def priority_classes(draw, segments: list[str], reasons: list[str]) -> list[PriorityClass]:
    """One to three classes by segment, reason and/or flag, strict or with head starts."""
    head = draw(st.booleans())
    out = []
    for _ in range(draw(st.integers(1, 3))):
        c = PriorityClass(
            segment=draw(st.none() | st.sampled_from(segments)),
            reason=draw(st.none() | st.sampled_from(reasons)),
            flag=draw(st.none() | prob),
            head_start_min=draw(st.none() | st.floats(0.0, 30.0)) if head else None,
        )
        if c.segment is None and c.reason is None and c.flag is None:
            c.flag = draw(prob)  # a class selects somebody (validated)
        out.append(c)
    return out


def _shares(draw, n: int) -> list[float]:
    weights = draw(st.lists(st.integers(1, 10), min_size=n, max_size=n))
    shares = [w / sum(weights) for w in weights]
    shares[-1] = max(0.0, 1.0 - sum(shares[:-1]))
    return shares


def _profile(draw, n: int) -> list[float]:
    prof = draw(st.lists(st.sampled_from((1.0, 0.5, 2.0, 0.1, 0.0)), min_size=n, max_size=n))
    if sum(prof) == 0:
        prof[draw(st.integers(0, n - 1))] = 1.0
    return prof


@st.composite
def scenarios(draw) -> Scenario:
    tps = draw(touchpoints())
    names = list(tps)
    journeys = {}
    for j, share in enumerate(_shares(draw, draw(st.integers(1, 3)))):
        entry = draw(st.lists(st.sampled_from(names), min_size=1, max_size=4, unique=True))
        journeys[f"reason{j}"] = Journey(
            share=share,
            stage=draw(st.sampled_from(STAGES)),
            steps=draw(st.integers(0, 5)),
            touchpoints=entry,
            handle_factor=draw(st.floats(0.5, 2.0)),
        )
    for name in names:  # every touchpoint is an entry point of some journey
        entry = draw(st.sampled_from(list(journeys.values()))).touchpoints
        if name not in entry:
            entry.append(name)
    channels = sorted({tp.channel for tp in tps.values()})
    segments = {}
    for g, share in enumerate(_shares(draw, draw(st.integers(1, 3)))):
        pref = {ch: draw(st.sampled_from((1.0, 0.5, 3.0, 0.0))) for ch in channels}
        for j in journeys.values():  # every journey needs some weight from every segment
            if sum(pref[tps[t].channel] for t in j.touchpoints) == 0:
                pref[tps[j.touchpoints[0]].channel] = 1.0
        segments[f"seg{g}"] = Segment(
            share=share,
            # Only later segments may have no needs at all (an all-quiet run is rare, not half).
            needs_per_month=draw(BUSY if g == 0 else BUSY | st.floats(0.0, 8.0)),
            patience_min=draw(st.floats(0.2, 20.0) | st.none()),
            pain_intolerant=draw(prob),
            retry_prob=draw(prob),
            preference=pref,
        )
    for tp in tps.values():  # priority classes on some agent queues: an event-driven node
        if tp.kind in ASSISTED and draw(st.booleans()):
            tp.priority = draw(priority_classes(list(segments), list(journeys)))
    horizon = draw(st.floats(1.0, 3.0))
    s = Scenario(
        horizon=horizon,
        warmup=draw(st.floats(0.2, 0.5)),
        replications=draw(st.integers(1, 2)),
        seed=draw(st.integers(0, 2**32)),
        touchpoints=tps,
        journeys=journeys,
        segments=segments,
        population=Population(
            customers=draw(st.sampled_from((2000, 1000)) | st.integers(200, 2000)),
            hourly_profile=_profile(draw, 24),
            weekday_profile=_profile(draw, 7),
        ),
        handoffs=Handoffs(
            context_carryover=draw(prob),
            repeat_explanation_min=draw(st.floats(0.0, 5.0)),
            retry_delay_min=draw(st.floats(0.0, 60.0)),
            recontact_delay_hour=draw(st.floats(0.0, 24.0)),
            max_contacts=draw(st.integers(1, 5)),
        ),
    )
    return validate(s)


def _walk(doc, path=()):
    """Every (path, value) leaf of the metrics document, list items included."""
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _walk(v, (*path, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _walk(v, (*path, i))
    else:
        yield path, doc


def _rate_name(path) -> str | None:
    names = [p for p in path if isinstance(p, str)]
    return names[-1] if names and names[-1] in RATES else None


@PROPERTY_SETTINGS
@given(scenarios())
def test_conservation_time_and_rates(s: Scenario) -> None:
    result = simulate(s, keep_rows=True)
    horizon_min = s.horizon * 1440.0
    frame = result.episodes
    assert len(result.replications) == s.replications

    # (a) conservation: every need that arose ended one way or is still open at the horizon.
    for r in result.replications:
        assert sum(r.episodes_ended) == r.arrivals, (r.episodes_ended, r.arrivals)
        rows = frame[frame["replication"] == r.replication] if len(frame) else frame
        assert len(rows) == r.arrivals
        assert len(r.episodes) == r.arrivals
        if r.arrivals:
            assert set(rows["outcome"].astype(str)) <= OUTCOMES
            assert rows["episode"].nunique() == r.arrivals
            counts = rows["outcome"].astype(str).value_counts()
            for code, name in enumerate(("in_system", "resolved", "abandoned", "gave_up")):
                assert counts.get(name, 0) == r.episodes_ended[code]
        # a priority queue's classes share out its visits
        for name, by_class in (r.class_sums or {}).items():
            total = r.touchpoint_sums[list(s.touchpoints).index(name)].sum(axis=-1)
            assert by_class[:, ARRIVALS].sum() == total[F["arrivals"]]
            assert by_class[:, WAIT_SUM].sum() == pytest.approx(total[F["wait_sum"]], rel=1e-9,
                                                                abs=1e-9)
    if not len(frame):
        return

    # (b) no negative time, nothing past the horizon.
    assert (frame["start_min"] >= 0).all()
    assert (frame["end_min"] >= frame["start_min"]).all()
    assert (frame["end_min"] <= horizon_min).all()
    assert (frame["start_min"] < horizon_min).all()
    assert (frame["wait_min"] >= 0).all()
    assert (frame["handle_min"] >= 0).all()
    assert np.isfinite(frame[["start_min", "end_min", "wait_min", "handle_min"]]).all().all()
    ttr = frame["ttr_min"].dropna()
    assert (ttr >= 0).all()
    assert frame["ttr_min"].notna().sum() == (frame["outcome"] == "resolved").sum()
    # A new contact needs contacts < max_contacts; a handoff chain visits each touchpoint once.
    assert (frame["contacts"] <= s.handoffs.max_contacts - 1 + len(s.touchpoints)).all()

    # (c) rates in [0, 1]; every figure non-negative and finite (or None).
    for path, value in _walk(result.metrics):
        if value is None or isinstance(value, str):
            continue
        assert math.isfinite(value), path
        top = path[0]
        if top in OPERATIONAL_TREES or top in OPERATIONAL_TOP or top.endswith("_ci"):
            assert value >= 0, (path, value)  # a CI half-width is never negative either
        if _rate_name(path) is not None:
            assert value <= 1, (path, value)


@settings(PROPERTY_SETTINGS, max_examples=100)
@given(scenarios(), st.integers(0, 2**32))
def test_same_seed_same_numbers_other_seed_other_numbers(s: Scenario, other: int) -> None:
    first = simulate(s, keep_rows=True)
    again = simulate(s, keep_rows=True)
    assert again.metrics == first.metrics
    pd.testing.assert_frame_equal(again.episodes, first.episodes)

    if other == s.seed:
        other += 1
    s.seed = other
    changed = simulate(s, keep_rows=True)
    # The document carries its seed, so it always differs; the draws must differ too: the
    # arrival times are continuous, so any need in either run makes the logs differ.
    assert changed.metrics != first.metrics
    if len(first.episodes) or len(changed.episodes):
        starts = first.episodes.get("start_min", pd.Series(dtype=float)).tolist()
        assert changed.episodes.get("start_min", pd.Series(dtype=float)).tolist() != starts


def _run_cli(run_dir, cwd) -> bytes:
    proc = run_app("simulate", "horizon=3", "warmup=1", "replications=2", out=run_dir,
                   cwd=cwd, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return (run_dir / "metrics.json").read_bytes()


def test_metrics_json_identical_across_processes(tmp_path) -> None:
    first = _run_cli(tmp_path / "a", tmp_path)
    second = _run_cli(tmp_path / "b", tmp_path)
    assert first == second
    # ... and the same numbers as the library in this process.
    here = simulate(compose_scenario(["horizon=3", "warmup=1", "replications=2"])).metrics
    assert json.loads(first) == json.loads(json.dumps(here, allow_nan=False))
    assert json.loads(first)["replications"] == 2


@pytest.mark.parametrize(
    ("dist", "cv"),
    [
        pytest.param("gamma", 1e-170, id="gamma-tiny-cv"),
        pytest.param("gamma", 1e200, id="gamma-huge-cv"),
        pytest.param("lognormal", 1e200, id="lognormal-huge-cv"),
    ],
)
def test_extreme_cv_is_refused_before_simulating(dist: str, cv: float) -> None:
    """A cv whose square under- or overflows is refused by validation, naming the key."""
    with pytest.raises(SpecError) as info:
        compose_scenario(
            [
                "horizon=1",
                "warmup=0.5",
                "replications=1",
                f"touchpoints.phone_front.handle.dist={dist}",
                f"touchpoints.phone_front.handle.cv={cv}",
            ]
        )
    assert info.value.key == "touchpoints.phone_front.handle.cv"


def _instant_steps(travel_min: float = 0.0, instant: bool = True) -> Scenario:
    """Two self-service steps taking no time (or a store a hair's breadth away), no retry
    delay, and an 18 h recontact after the store leaves the need unresolved."""
    step = Duration(mean_min=0.0 if instant else 1.0, cv=0.0, dist="fixed")
    return validate(
        Scenario(
            horizon=2.0,
            warmup=0.5,
            replications=1,
            seed=1,
            touchpoints={
                "kb": Touchpoint(channel="web", kind="self_service", duration=step),
                "app": Touchpoint(channel="app", kind="self_service", duration=step),
                "desk": Touchpoint(
                    channel="store",
                    kind="store",
                    shifts=[Shift(0.0, 24.0, 3)],
                    fcr=0.0,
                    travel_min=travel_min,
                ),
            },
            journeys={"ask": Journey(share=1.0, touchpoints=["kb", "app", "desk"])},
            segments={
                "all": Segment(
                    share=1.0,
                    needs_per_month=6.0,
                    pain_intolerant=0.0,
                    retry_prob=1.0,
                    preference={"web": 1.0, "app": 1.0, "store": 1.0},
                )
            },
            population=Population(customers=2000),
            handoffs=Handoffs(retry_delay_min=0.0, recontact_delay_hour=18.0, max_contacts=4),
        )
    )


def test_instant_steps_control_runs() -> None:
    """The same journey with one-minute steps and a real trip to the store runs fine."""
    result = simulate(_instant_steps(travel_min=20.0, instant=False))
    assert result.replications[0].arrivals > 0


@pytest.mark.parametrize(
    ("travel_min", "instant"),
    [
        pytest.param(0.0, True, id="fixed-zero-duration-and-no-retry-delay"),
        pytest.param(1e-13, False, id="store-travel-1e-13-min"),
    ],
)
def test_instant_steps_can_be_simulated(travel_min: float, instant: bool) -> None:
    result = simulate(_instant_steps(travel_min, instant))
    assert result.replications[0].arrivals > 0
