"""Malformed scenarios are rejected before any simulation, with a message naming key and value.

Two layers catch them. Hydra/OmegaConf reject a wrong type or an unknown key while the config
is composed against the typed schema (``ConfigCompositionException``, whose cause carries the
OmegaConf error and its ``full_key``); :func:`cxsim.spec.validate` rejects what types cannot
say (ranges, sums, references, loops) with a :class:`~cxsim.spec.SpecError` whose ``key`` is
the dotted path of the faulty field. The command line turns both into a short message on
stderr, a non-zero exit and no ``metrics.json``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from apprun import run_app
from hydra.errors import ConfigCompositionException, MissingConfigException

from cxsim.spec import SpecError, compose_scenario


@dataclass(frozen=True)
class Bad:
    """A malformed scenario: overrides, the key the error must name and a value it must show."""

    id: str
    overrides: tuple[str, ...]
    key: str
    value: str | None  # a substring of the message; None: nothing to show (unknown key)
    xfail: str | None = None  # a known defect: why this case does not pass (yet)


def _case(bad: Bad):
    marks = [pytest.mark.xfail(strict=True, reason=bad.xfail)] if bad.xfail else []
    return pytest.param(bad, id=bad.id, marks=marks)


FRONT = "touchpoints.phone_front"
SPEC_ERRORS = [
    # -- negative rates and durations ------------------------------------------------------
    Bad(
        "needs-per-month-negative",
        ("segments.mainstream.needs_per_month=-0.5",),
        "segments.mainstream.needs_per_month",
        "-0.5",
    ),
    Bad("handle-mean-negative", (f"{FRONT}.handle.mean_min=-7",), f"{FRONT}.handle.mean_min", "-7"),
    Bad("handle-mean-zero", (f"{FRONT}.handle.mean_min=0",), f"{FRONT}.handle.mean_min", "0"),
    Bad("handle-mean-nan", (f"{FRONT}.handle.mean_min=nan",), f"{FRONT}.handle.mean_min", "nan"),
    Bad(
        "bot-duration-cv-negative",
        ("touchpoints.chatbot.duration.cv=-1",),
        "touchpoints.chatbot.duration.cv",
        "-1",
    ),
    Bad(
        "needs-per-month-infinite",
        ("segments.traditional.needs_per_month=inf",),
        "segments.traditional.needs_per_month",
        "inf",
    ),
    Bad(
        "patience-negative",
        ("segments.digital_first.patience_min=-3",),
        "segments.digital_first.patience_min",
        "-3",
    ),
    Bad(
        "travel-negative",
        ("touchpoints.store_desk.travel_min=-25",),
        "touchpoints.store_desk.travel_min",
        "-25",
    ),
    Bad(
        "preference-negative",
        ("segments.mainstream.preference.web=-2",),
        "segments.mainstream.preference.web",
        "-2",
    ),
    Bad("horizon-zero", ("horizon=0",), "horizon", "0"),
    # -- probabilities and shares outside [0, 1] -------------------------------------------
    Bad(
        "containment-above-1",
        ("touchpoints.web_kb.containment=1.5",),
        "touchpoints.web_kb.containment",
        "1.5",
    ),
    Bad("fcr-above-1", (f"{FRONT}.fcr=1.4",), f"{FRONT}.fcr", "1.4"),
    Bad(
        "touchpoint-carryover-negative",
        (f"{FRONT}.context_carryover=-0.1",),
        f"{FRONT}.context_carryover",
        "-0.1",
    ),
    Bad(
        "handoffs-carryover-above-1",
        ("handoffs.context_carryover=2",),
        "handoffs.context_carryover",
        "2",
    ),
    Bad(
        "segment-share-above-1",
        ("segments.mainstream.share=1.2",),
        "segments.mainstream.share",
        "1.2",
    ),
    Bad(
        "pain-intolerant-above-1",
        ("segments.mainstream.pain_intolerant=1.1",),
        "segments.mainstream.pain_intolerant",
        "1.1",
    ),
    Bad(
        "retry-prob-negative",
        ("segments.traditional.retry_prob=-0.2",),
        "segments.traditional.retry_prob",
        "-0.2",
    ),
    Bad(
        "bot-escalation-above-1",
        ("touchpoints.chatbot.escalation=1.01",),
        "touchpoints.chatbot.escalation",
        "1.01",
    ),
    Bad(
        "fcr-plus-transfer-above-1",
        (f"{FRONT}.fcr=0.9", f"{FRONT}.transfer_prob=0.2"),
        f"{FRONT}.transfer_prob",
        "0.2",
    ),
    # -- handoffs: missing, non-agent and looping targets ----------------------------------
    Bad(
        "escalate-to-missing",
        ("touchpoints.chatbot.escalate_to=ghost",),
        "touchpoints.chatbot.escalate_to",
        "'ghost'",
    ),
    Bad("transfer-to-missing", (f"{FRONT}.transfer_to=ghost",), f"{FRONT}.transfer_to", "'ghost'"),
    Bad(
        "transfer-target-deleted",  # chat_agents is the first to hand over to phone_specialists
        ("~touchpoints.phone_specialists",),
        "touchpoints.chat_agents.transfer_to",
        "'phone_specialists'",
    ),
    Bad(
        "transfer-to-self-service",
        (f"{FRONT}.transfer_to=web_kb",),
        f"{FRONT}.transfer_to",
        "'web_kb'",
    ),
    Bad(
        "escalate-to-self-service",
        ("touchpoints.chatbot.escalate_to=app_help",),
        "touchpoints.chatbot.escalate_to",
        "'app_help'",
    ),
    Bad(
        "queue-escalates",
        (f"{FRONT}.escalate_to=phone_specialists",),
        f"{FRONT}.escalate_to",
        "'phone_specialists'",
    ),
    Bad(
        "transfer-to-itself",
        ("touchpoints.phone_specialists.transfer_to=phone_specialists",),
        "touchpoints.phone_specialists.transfer_to",
        "'phone_specialists'",
    ),
    Bad(
        "transfer-loop-A-B-A",
        (
            "touchpoints.chat_agents.transfer_to=null",  # leave only the loop itself
            "touchpoints.phone_specialists.transfer_to=phone_front",
            "touchpoints.phone_specialists.transfer_prob=0.1",
        ),
        # The transfer that closes the cycle (here the one just changed) is blamed.
        "touchpoints.phone_specialists.transfer_to",
        "'phone_front'",
    ),
    Bad(
        "transfer-loop-reached-from-outside",
        (
            "touchpoints.phone_specialists.transfer_to=phone_front",
            "touchpoints.phone_specialists.transfer_prob=0.1",
        ),
        # Either edge of the cycle phone_front <-> phone_specialists is at fault; chat_agents,
        # which merely leads into it, is not.
        f"{FRONT}.transfer_to",
        "'phone_specialists'",
    ),
    # -- unknown names ---------------------------------------------------------------------
    Bad("unknown-touchpoint-kind", (f"{FRONT}.kind=phone",), f"{FRONT}.kind", "'phone'"),
    Bad(
        "unknown-distribution",
        (f"{FRONT}.handle.dist=pareto",),
        f"{FRONT}.handle.dist",
        "'pareto'",
    ),
    Bad(
        "unknown-shift-days",
        (f"{FRONT}.shifts.0.days=holidays",),
        f"{FRONT}.shifts[0].days",
        "'holidays'",
    ),
    Bad(
        "unknown-stage", ("journeys.renewal.stage=renewal",), "journeys.renewal.stage", "'renewal'"
    ),
    Bad(
        "unknown-key-added",  # '+' gets past Hydra's typed nodes; load_scenario stops it
        (f"+{FRONT}.fcrr=0.5",),
        f"{FRONT}.fcrr",
        None,
    ),
    Bad(
        "unknown-key-added-shows-value",
        (f"+{FRONT}.fcrr=0.5",),
        f"{FRONT}.fcrr",
        "0.5",
    ),
    Bad(
        "unknown-shift-key-added",
        (f"+{FRONT}.shifts.0.agent=3",),
        f"{FRONT}.shifts[0].agent",
        None,
    ),
    # -- staffing and profiles -------------------------------------------------------------
    Bad("shift-end-25", (f"{FRONT}.shifts.0.end_hour=25",), f"{FRONT}.shifts[0].end_hour", "25"),
    Bad(
        "shift-start-negative",
        (f"{FRONT}.shifts.0.start_hour=-1",),
        f"{FRONT}.shifts[0].start_hour",
        "-1",
    ),
    Bad(
        "shift-ends-before-start",
        (f"{FRONT}.shifts.1.start_hour=21",),
        f"{FRONT}.shifts[1].start_hour",
        "21",
    ),
    Bad("agents-negative", (f"{FRONT}.shifts.0.agents=-2",), f"{FRONT}.shifts[0].agents", "-2"),
    Bad(
        "hourly-profile-short",
        ("population.hourly_profile=[1,2,3]",),
        "population.hourly_profile",
        "[1.0, 2.0, 3.0]",
    ),
    Bad(
        "weekday-profile-short",
        ("population.weekday_profile=[1,1,1,1,1,1]",),
        "population.weekday_profile",
        "[1.0, 1.0, 1.0, 1.0, 1.0, 1.0]",
    ),
    Bad(
        "hourly-profile-negative",
        ("population.hourly_profile.3=-1",),
        "population.hourly_profile[3]",
        "-1",
    ),
    Bad(
        "weekday-profile-all-zero",
        ("population.weekday_profile=[0,0,0,0,0,0,0]",),
        "population.weekday_profile",
        "[0.0, 0.0",
    ),
    Bad("customers-zero", ("population.customers=0",), "population.customers", "0"),
    # -- run settings ----------------------------------------------------------------------
    Bad("warmup-equals-horizon", ("horizon=3", "warmup=3"), "warmup", "3"),
    Bad("warmup-beyond-horizon", ("horizon=3", "warmup=30"), "warmup", "30"),
    Bad("replications-zero", ("replications=0",), "replications", "0"),
    Bad("seed-negative", ("seed=-1",), "seed", "-1"),
    Bad("max-contacts-zero", ("handoffs.max_contacts=0",), "handoffs.max_contacts", "0"),
    # -- journeys and segments that do not fit the touchpoints -----------------------------
    Bad(
        "journey-unknown-touchpoint",
        ("journeys.renewal.touchpoints=[web_kb,fax_line]",),
        "journeys.renewal.touchpoints[1]",
        "'fax_line'",
    ),
    Bad(
        "journey-touchpoint-twice",
        ("journeys.renewal.touchpoints=[web_kb,web_kb]",),
        "journeys.renewal.touchpoints",
        "['web_kb', 'web_kb']",
    ),
    Bad(
        "journey-no-touchpoint",
        ("journeys.renewal.touchpoints=[]",),
        "journeys.renewal.touchpoints",
        "[]",
    ),
    Bad(
        "preference-channel-nobody-offers",
        ("+segments.mainstream.preference.fax=2",),
        "segments.mainstream.preference.fax",
        "2",
    ),
    Bad(
        "preference-zero-on-journey",
        (
            "journeys.offer_enquiry.touchpoints=[social_inbox]",
            "segments.traditional.preference.social=0",
        ),
        "segments.traditional.preference",
        "'social': 0.0",
    ),
    # -- priority classes ------------------------------------------------------------------
    Bad(
        "priority-unknown-segment",
        (f"{FRONT}.priority=[{{flag: 0.2}}, {{segment: vip}}]",),
        f"{FRONT}.priority[1].segment",
        "'vip'",
    ),
    Bad(
        "priority-unknown-reason",
        (f"{FRONT}.priority=[{{reason: refund}}]",),
        f"{FRONT}.priority[0].reason",
        "'refund'",
    ),
    Bad("priority-flag-above-one", (f"{FRONT}.priority=[{{flag: 1.5}}]",),
        f"{FRONT}.priority[0].flag", "1.5"),
    Bad("priority-flag-negative", (f"{FRONT}.priority=[{{flag: -0.1}}]",),
        f"{FRONT}.priority[0].flag", "-0.1"),
    Bad(
        "priority-head-start-negative",
        (f"{FRONT}.priority=[{{segment: traditional, head_start_min: -2}}]",),
        f"{FRONT}.priority[0].head_start_min",
        "-2",
    ),
    Bad("priority-selects-nobody", (f"{FRONT}.priority=[{{head_start_min: 2}}]",),
        f"{FRONT}.priority[0]", "'head_start_min': 2"),
    Bad(
        "priority-on-self-service",
        ("touchpoints.web_kb.priority=[{flag: 0.5}]",),
        "touchpoints.web_kb.priority",
        "[{'flag': 0.5}]",
    ),
    Bad("priority-on-bot", ("touchpoints.chatbot.priority=[{segment: mainstream}]",),
        "touchpoints.chatbot.priority", "'segment': 'mainstream'"),
    Bad("priority-share-knob", ("experiment=priority", "queue.priority_share=1.2"),
        "queue.priority_share", "1.2"),
]


@pytest.mark.parametrize("bad", [_case(b) for b in SPEC_ERRORS])
def test_semantic_error_names_key_and_value(bad: Bad) -> None:
    with pytest.raises(SpecError) as info:
        compose_scenario(list(bad.overrides))
    err = info.value
    message = str(err)
    assert err.key == bad.key, message
    assert message.startswith(f"{bad.key} = "), message
    if bad.value is not None:
        assert bad.value in message, message
    assert err.reason and err.reason in message


@pytest.mark.parametrize(
    ("group", "name"),
    [
        pytest.param("segments", "mainstream", id="segment-shares-sum"),
        pytest.param("journeys", "renewal", id="journey-shares-sum"),
    ],
)
def test_shares_must_sum_to_one(group: str, name: str) -> None:
    shares = {k: v.share for k, v in getattr(compose_scenario(), group).items()}
    shares[name] = round(shares[name] + 0.1, 6)
    with pytest.raises(SpecError) as info:
        compose_scenario([f"{group}.{name}.share={shares[name]}"])
    message = str(info.value)
    assert info.value.key == f"{group}.*.share", message
    assert message.startswith(f"{group}.*.share = {round(sum(shares.values()), 9)!r}:"), message
    assert f"{name}={shares[name]:g}" in message


def _chain(err: BaseException) -> list[BaseException]:
    out = []
    while err is not None:
        out.append(err)
        err = err.__cause__
    return out


@dataclass(frozen=True)
class Rejected:
    """A config Hydra/OmegaConf refuse while composing: the override, the schema path of the
    key (``full_key`` of the cause) and the value the message must show."""

    id: str
    override: str
    full_key: str
    value: str


COMPOSE_ERRORS = [
    Rejected("misspelt-field", f"{FRONT}.fcrr=0.5", f"{FRONT}.fcrr", "0.5"),
    Rejected("misspelt-top-level", "horizn=3", "horizn", "3"),
    Rejected(
        "misspelt-segment-field",
        "segments.mainstream.patiense_min=3",
        "segments.mainstream.patiense_min",
        "3",
    ),
    Rejected("agents-string", f"{FRONT}.shifts.0.agents=five", f"{FRONT}.shifts[0].agents", "five"),
    Rejected("agents-fraction", f"{FRONT}.shifts.0.agents=2.5", f"{FRONT}.shifts[0].agents", "2.5"),
    Rejected("fcr-string", f"{FRONT}.fcr=high", f"{FRONT}.fcr", "high"),
    Rejected("horizon-string", "horizon=long", "horizon", "long"),
    Rejected("customers-string", "population.customers=many", "population.customers", "many"),
    Rejected(
        "preference-string",
        "segments.mainstream.preference.web=lots",
        "segments.mainstream.preference.web",
        "lots",
    ),
    Rejected("replications-bool", "replications=true", "replications", "true"),
]


@pytest.mark.parametrize("bad", [pytest.param(b, id=b.id) for b in COMPOSE_ERRORS])
def test_type_and_key_errors_caught_while_composing(bad: Rejected) -> None:
    with pytest.raises(ConfigCompositionException) as info:
        compose_scenario([bad.override])
    top = str(info.value)
    key, _, _ = bad.override.partition("=")
    # Hydra names the override (its key, in override syntax, and its value) ...
    assert key in top, top
    assert bad.value in top, top
    # ... and the OmegaConf cause, printed under it on the command line, the schema path.
    causes = _chain(info.value)[1:]
    assert causes, "no cause: the command line would not say what is wrong"
    assert any(getattr(c, "full_key", None) == bad.full_key for c in causes), [
        (type(c).__name__, getattr(c, "full_key", None)) for c in causes
    ]


def test_misspelt_top_level_key_added_with_plus_is_rejected() -> None:
    with pytest.raises((SpecError, ConfigCompositionException)) as info:
        compose_scenario(["+horizn=3"])
    assert "horizn" in str(info.value)


@pytest.mark.xfail(
    strict=True,
    reason="a touchpoint cannot be added from the command line: Hydra's add override of "
    "touchpoints (Dict[str, Touchpoint]) fails with 'dict is not a subclass of Touchpoint' "
    "(full_key 'x'), whatever the new touchpoint says, so a bad kind is never reported",
)
def test_added_touchpoint_with_unknown_kind_is_rejected_for_its_kind() -> None:
    with pytest.raises(SpecError) as info:
        compose_scenario(["+touchpoints.fax_line={channel:fax,kind:fax}"])
    assert info.value.key == "touchpoints.fax_line.kind"
    assert "'fax'" in str(info.value)


def test_misspelt_experiment_is_rejected() -> None:
    with pytest.raises((ConfigCompositionException, MissingConfigException, SpecError)) as info:
        compose_scenario(["experiment=erlnag"])
    assert "erlnag" in str(info.value)


# -- the command line -------------------------------------------------------------------------

CLI_CASES = [  # override, key and value the message must show
    pytest.param(f"{FRONT}.fcr=1.4", f"{FRONT}.fcr", "1.4", id="semantic-fcr"),
    pytest.param(
        "journeys.renewal.touchpoints=[web_kb,fax_line]",
        "journeys.renewal.touchpoints[1]",
        "fax_line",
        id="semantic-unknown-touchpoint",
    ),
    pytest.param(
        f"{FRONT}.shifts.0.agents=five", f"{FRONT}.shifts[0].agents", "five", id="type-agents"
    ),
    pytest.param(f"{FRONT}.fcrr=0.5", f"{FRONT}.fcrr", "0.5", id="unknown-key"),
]


@pytest.mark.parametrize(("override", "key", "value"), CLI_CASES)
def test_command_line_rejects_without_traceback(
    tmp_path, override: str, key: str, value: str
) -> None:
    run_dir = tmp_path / "run"
    proc = run_app("simulate", override, "horizon=1", "warmup=0.5",  # short, if ever accepted
                   out=run_dir, cwd=tmp_path, timeout=120)
    assert proc.returncode != 0, proc.stdout
    assert key in proc.stderr, proc.stderr
    assert value in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    assert not list(tmp_path.rglob("metrics.json"))
