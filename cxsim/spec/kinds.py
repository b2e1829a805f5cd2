"""The vocabulary every room shares: touchpoint kinds and their traits, the codes of how a
visit and a need end, bot states, survey kinds and their questions, days of the week and time
units.

One table per touchpoint kind says what it is (:class:`KindTraits`); validation, the engine,
the reports and the what-if levers read the traits, never a list of kind names. A new kind
is one :func:`register_kind` call (with its node class, see :func:`cxsim.engine.nodes.register`)
plus config, a new survey question one :func:`register_question` call (with its KPI) plus its
cutpoints; ``docs/extending.md`` shows both.

>>> KINDS["queue"].live, KINDS["async"].never_abandons, KINDS["bot"].escalates
(True, True, True)
>>> kinds_where("assisted")
('queue', 'async', 'store')
>>> EPISODE_OUTCOMES[GAVE_UP], BOT_STATES[BOT_LOOPED]
('gave_up', 'looped')
>>> [q.name for q in questions(POST_INTERACTION)], QUESTIONS["nps"].scale
(['ces', 'csat'], (0, 10))
"""

from __future__ import annotations

from dataclasses import dataclass, fields

# -- time units: the engine's clock runs in minutes from Monday 00:00 of the first week ----

MINUTES_PER_HOUR = 60.0
HOURS_PER_DAY = 24
MINUTES_PER_DAY = 1440.0
DAYS_PER_WEEK = 7
HOURS_PER_WEEK = 168
MINUTES_PER_WEEK = 10080.0
# The interval lengths of a staffing table and of the per-interval figures, in minutes.
STAFFING_INTERVALS_MIN = (15, 30, 60)
DAYS_PER_MONTH = 30.0  # a "month" (``per_month`` in a name, a churn period) is 30 days
MINUTES_PER_MONTH = DAYS_PER_MONTH * MINUTES_PER_DAY

# Day sets a shift may name, as weekday indices (Monday 0).
DAY_SETS: dict[str, tuple[int, ...]] = {
    "all": (0, 1, 2, 3, 4, 5, 6),
    "weekdays": (0, 1, 2, 3, 4),
    "weekends": (5, 6),
    "mon": (0,), "tue": (1,), "wed": (2,), "thu": (3,), "fri": (4,), "sat": (5,), "sun": (6,),
}  # fmt: skip


# -- touchpoint kinds ------------------------------------------------------------------------


@dataclass(frozen=True)
class KindTraits:
    """What a touchpoint kind is.

    ``assisted``: agents serve it (``shifts``, ``handle``, ``fcr``; a handoff may reach it);
    ``live``: its waits are the contact centre's headline queue figures; ``automated``: it is
    reported by containment, escalation and loops rather than waits; ``has_duration``: a
    visit takes ``duration``; ``escalates``: it may hand a need over to agents
    (``escalate_to``); ``transfers``: its agents may transfer (``transfer_to``);
    ``never_abandons``: its customers never give up waiting; ``always_open``: it takes
    contacts at any hour (otherwise only while staffed); ``bot``: a chatbot, whose cost is
    ``bot_cost_per_day`` x containment; ``concurrent``: an agent may hold several contacts
    at once (``concurrency``).
    """

    name: str
    assisted: bool = False
    live: bool = False
    automated: bool = False
    has_duration: bool = False
    escalates: bool = False
    transfers: bool = False
    never_abandons: bool = False
    always_open: bool = False
    bot: bool = False
    concurrent: bool = False


KINDS: dict[str, KindTraits] = {}


def register_kind(traits: KindTraits) -> KindTraits:
    """Add (or replace) a touchpoint kind; its name becomes a valid ``touchpoints.*.kind``."""
    KINDS[traits.name] = traits
    return traits


for _traits in (
    KindTraits("self_service", automated=True, has_duration=True, always_open=True),
    KindTraits("bot", automated=True, has_duration=True, escalates=True, always_open=True,
               bot=True),
    KindTraits("queue", assisted=True, live=True, transfers=True, concurrent=True),
    KindTraits("async", assisted=True, transfers=True, never_abandons=True, always_open=True,
               concurrent=True),
    KindTraits("store", assisted=True, transfers=True),
):
    register_kind(_traits)

TRAITS = tuple(f.name for f in fields(KindTraits) if f.name != "name")


def kinds_where(trait: str) -> tuple[str, ...]:
    """Names of the registered kinds that have ``trait`` (one of :data:`TRAITS`)."""
    if trait not in TRAITS:
        raise ValueError(f"no trait {trait!r} (one of {', '.join(TRAITS)})")
    return tuple(name for name, t in KINDS.items() if getattr(t, trait))


# -- how a visit and a need end --------------------------------------------------------------

# A visit's outcome, as a node returns it to the journey router.
VISIT_RESOLVED, VISIT_FAILED, VISIT_ABANDONED, VISIT_UNRESOLVED, VISIT_HANDOFF = 1, 2, 3, 4, 5
# Not known yet: the node tells the router the outcome itself, at the time it happens
# (JourneyRouter.visited), e.g. a priority queue, where a later arrival may overtake.
VISIT_PENDING = 6
# A need's (episode's) outcome: code = index of its name.
EPISODE_OUTCOMES = ("in_system", "resolved", "abandoned", "gave_up")
IN_SYSTEM, RESOLVED, ABANDONED, GAVE_UP = range(len(EPISODE_OUTCOMES))
# What a bot did with the need, kept on the episode: code = index of its name.
BOT_STATES = ("none", "contained", "escalated", "looped")
BOT_NONE, BOT_CONTAINED, BOT_ESCALATED, BOT_LOOPED = range(len(BOT_STATES))

# -- surveys ---------------------------------------------------------------------------------

POST_INTERACTION, PERIODIC = "post_interaction", "periodic"  # after an episode; every round
SURVEY_KINDS = (POST_INTERACTION, PERIODIC)
LATENTS = {POST_INTERACTION: ("effort", "satisfaction"), PERIODIC: ("relationship",)}


@dataclass(frozen=True)
class Question:
    """A survey question: when it is asked (``kind``, a survey kind), its answer ``scale``
    (lowest, highest), and the latent score of the outcomes model whose ordered-logistic draw
    the answer is (``latent``: ``effort`` or ``satisfaction`` after an episode, the
    ``relationship`` periodically), times the behaviour parameter ``slope`` if any. Its
    cutpoints are ``behaviour.<name>_cutpoints`` for NPS, CES and CSAT, otherwise
    ``behaviour.cutpoints.<name>``; its figure is the KPI of the same name
    (:data:`cxsim.metrics.KPIS`)."""

    name: str
    kind: str
    scale: tuple[int, int]
    latent: str
    slope: str | None = None


QUESTIONS: dict[str, Question] = {}
# The questions of every scenario (their cutpoints are behaviour fields and fitted parameters);
# another registered question is asked where its cutpoints are given.
CORE_QUESTIONS = ("nps", "ces", "csat")


def register_question(q: Question) -> Question:
    """Add (or replace) a survey question: surveys of its kind ask it, the observed-data files
    get a column of its name, and ``metrics.json`` its figure."""
    if q.kind not in SURVEY_KINDS:
        raise ValueError(f"question {q.name}: kind must be one of {', '.join(SURVEY_KINDS)}")
    if q.latent not in LATENTS[q.kind]:
        raise ValueError(f"question {q.name}: a {q.kind} answer is drawn on "
                         f"{' or '.join(LATENTS[q.kind])}, not {q.latent!r}")
    QUESTIONS[q.name] = q
    return q


for _q in (Question("nps", PERIODIC, (0, 10), "relationship", slope="nps_slope"),
           Question("ces", POST_INTERACTION, (1, 7), "effort"),
           Question("csat", POST_INTERACTION, (1, 5), "satisfaction")):
    register_question(_q)


def questions(kind: str) -> tuple[Question, ...]:
    """The questions surveys of ``kind`` ask, in registration order."""
    return tuple(q for q in QUESTIONS.values() if q.kind == kind)
