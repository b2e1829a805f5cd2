"""The scenario, as typed dataclasses: what a journey map, a population and a contact centre *are*.

Every number says its unit in its name (``_min`` minutes, ``_hour`` hours, ``per_month`` per
30 days, a share is in [0, 1]). Defaults and their sources are in ``configs/``; the dataclasses
are registered in Hydra's ConfigStore so a YAML file with a misspelt key or a wrong type is
rejected while it is composed. Semantic checks (ranges, references, loops) live in
:mod:`cxsim.spec.validate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import MISSING

DISTRIBUTIONS = ("lognormal", "exponential", "gamma", "fixed", "weibull", "empirical")
# Laws of patience, relative to its mean (the segment's patience_min x patience_factor).
PATIENCE_LAWS = ("exponential", "weibull", "lognormal", "empirical")
STAGES = ("awareness", "consideration", "purchase", "post_purchase", "loyalty")


@dataclass
class Duration:
    """A random duration in minutes: its mean, its coefficient of variation and its law."""

    mean_min: float = 5.0
    cv: float = 1.0
    dist: str = "lognormal"
    # ``empirical``: the durations (minutes) drawn from, each equally likely; mean_min and cv
    # are then not used.
    values: list[float] = field(default_factory=list)


@dataclass
class Patience:
    """The law of a queue's patience; its mean is the segment's ``patience_min`` x the
    touchpoint's ``patience_factor``. ``exponential`` (the default), ``weibull`` or
    ``lognormal`` of coefficient of variation ``cv``, or ``empirical``: the patiences of
    ``values`` (any unit: they are rescaled to that mean), each equally likely."""

    dist: str = "exponential"
    cv: float = 1.0
    values: list[float] = field(default_factory=list)


@dataclass
class Redial:
    """After abandoning this queue, a customer calls it again with probability ``prob``
    after a ``delay``, at most ``limit`` times in a row; 0: never (they fall back as
    usual)."""

    prob: float = 0.0
    delay: Duration = field(default_factory=lambda: Duration(10.0, 1.0, "exponential"))
    limit: int = 3


@dataclass
class Callback:
    """Virtual hold: when the wait a caller is announced exceeds ``offer_wait_s`` seconds
    (None: never offered), they are offered a call-back and accept with probability
    ``accept``; they keep their place, never abandon, and when an agent reaches their place
    the agent calls them: they answer with probability ``answer``, otherwise the attempt
    costs the agent ``attempt_min`` and the need goes unserved (the customer falls back)."""

    offer_wait_s: float | None = None
    accept: float = 0.5
    answer: float = 0.9
    attempt_min: float = 0.5


@dataclass
class Concurrency:
    """An agent holds up to ``chats`` contacts at once (live chat, social); ``stretch[j]``
    multiplies the handle time of a contact started while the agent holds ``j`` others
    (``chats`` factors; empty: no stretch)."""

    chats: int = 1
    stretch: list[float] = field(default_factory=list)


@dataclass
class PriorityClass:
    """One priority class of an agent queue (``touchpoints.<name>.priority``, a list in
    priority order: the first is served first). It takes the arrivals of ``segment`` and of
    contact ``reason`` (names; None: any) and, when ``flag`` is set, a share ``flag`` of
    those, drawn at random (each class its own draw); an arrival belongs to the first class
    it matches, and those matching none form the last class. Priority is non-preemptive: a
    call in service is never interrupted. ``head_start_min`` (of any class) replaces strict
    priority by a head start: the next customer served is the one of smallest arrival time -
    their class's ``head_start_min`` (None counts as 0)."""

    segment: str | None = None
    reason: str | None = None
    flag: float | None = None
    head_start_min: float | None = None


@dataclass
class Shift:
    """``agents`` people on duty from ``start_hour`` to ``end_hour`` (0-24) on ``days`` (a day
    set of :data:`cxsim.spec.kinds.DAY_SETS`)."""

    start_hour: float = 0.0
    end_hour: float = 24.0
    agents: int = 0
    days: str = "all"


@dataclass
class IntervalStaffing:
    """Agents on duty per interval of the week: ``agents`` has 7 rows (Monday to Sunday) of
    1440 / ``interval_min`` counts each (``interval_min`` 15, 30 or 60); empty: no table."""

    interval_min: int = 30
    agents: list[list[int]] = field(default_factory=list)


@dataclass
class AgentGroup:
    """A group of a queue's agents (``touchpoints.<name>.groups.<group>``): the ``skills``
    they hold, in their own order of priority (a freeing agent takes the first skill's
    waiting contacts first), their ``shifts`` and/or interval table ``staffing`` (as a
    touchpoint's), and where their waiting contacts overflow: to group ``overflow_to``, once
    they have waited ``overflow_after_s`` seconds (its agents take them after their own
    skills' contacts)."""

    skills: list[str] = MISSING
    shifts: list[Shift] = field(default_factory=list)
    staffing: IntervalStaffing = field(default_factory=IntervalStaffing)
    overflow_to: str | None = None
    overflow_after_s: float = 60.0


@dataclass
class Skills:
    """Which skill a contact of a queue with agent groups needs: by its contact ``reason`` or
    its customer's ``segment`` (``by``), as ``map`` says (name -> skill), ``default`` for the
    others (None: every reason or segment reaching the queue must be mapped)."""

    by: str = "reason"
    map: dict[str, str] = field(default_factory=dict)
    default: str | None = None


@dataclass
class Touchpoint:
    """One place where a need can be handled.

    ``kind`` decides which fields apply (its traits: :data:`cxsim.spec.kinds.KINDS`):

    - ``self_service`` (web knowledge base, app): ``duration``, ``containment``.
    - ``bot`` (chatbot): ``duration``, ``containment``; a need it does not contain is escalated
      to the queue ``escalate_to`` with probability ``escalation``, otherwise the customer is
      stuck in a loop for ``loop_min`` and leaves the bot.
    - ``queue`` (phone, live chat, social): agents by ``shifts`` (to the minute) and/or an
      interval table ``staffing`` (the two add up), ``handle`` time, ``fcr``,
      ``transfer_to``/``transfer_prob``, abandonment by the segment's patience x
      ``patience_factor`` (of law ``patience``), redials after abandoning (``redial``),
      call-backs instead of waiting (``callback``), several chats per agent
      (``concurrency``), service level within ``sl_threshold_min``, and priority classes
      (``priority``, a list of :class:`PriorityClass`; empty: FIFO); agent ``groups`` with
      skills (:class:`AgentGroup`), the skill each contact needs (``skills``) and the
      ``routing`` policy (``group_order`` or ``longest_idle``).
    - ``async`` (e-mail): a queue worked by ``shifts`` with no abandonment.
    - ``store``: a queue open while staffed, reached after ``travel_min``.
    """

    channel: str = MISSING
    kind: str = MISSING
    steps: int = 0
    duration: Duration = field(default_factory=Duration)
    containment: float = 0.0
    escalate_to: str | None = None
    escalation: float = 1.0
    loop_min: float = 4.0
    shifts: list[Shift] = field(default_factory=list)
    staffing: IntervalStaffing = field(default_factory=IntervalStaffing)  # on top of shifts
    handle: Duration = field(default_factory=Duration)
    fcr: float = 0.75
    transfer_to: str | None = None
    transfer_prob: float = 0.0
    context_carryover: float | None = None
    patience_factor: float = 1.0
    patience: Patience = field(default_factory=Patience)
    redial: Redial = field(default_factory=Redial)
    callback: Callback = field(default_factory=Callback)
    concurrency: Concurrency = field(default_factory=Concurrency)
    sl_threshold_min: float = 0.5
    travel_min: float = 0.0
    # Priority classes of an agent queue, highest first; empty: one FIFO queue.
    priority: list[PriorityClass] = field(default_factory=list)
    # Agent groups with skills (then the touchpoint's own shifts stay empty); empty: one pool.
    groups: dict[str, AgentGroup] = field(default_factory=dict)
    skills: Skills = field(default_factory=Skills)
    routing: str = "group_order"  # or longest_idle: which idle agent takes an arrival


@dataclass
class Journey:
    """How one contact reason is handled: its procedure and the touchpoints that can serve it.

    ``touchpoints`` are entry points; the customer picks one by channel preference and falls back
    to the others after a failure. ``steps`` is the length of the procedure itself (forms,
    checks, documents); ``handle_factor`` scales agents' handle time for this reason;
    ``moment_weight`` says how much more than an ordinary episode it moves the customer's
    relationship (a "moment that matters": a complaint, a refund).
    """

    share: float = MISSING
    stage: str = "post_purchase"
    steps: int = 1
    touchpoints: list[str] = MISSING
    handle_factor: float = 1.0
    moment_weight: float = 1.0


@dataclass
class Segment:
    """A customer segment: how many, how often they need help, where and how patiently, and
    how they feel by default (``satisfaction_base``, on the latent satisfaction scale), how
    readily they leave (``churn_logit``, log-odds of leaving per churn period at a neutral
    relationship) and what they are worth (``revenue_per_month``)."""

    share: float = MISSING
    needs_per_month: float = 0.5
    patience_min: float | None = 3.0
    pain_intolerant: float = 0.1
    retry_prob: float = 0.7
    preference: dict[str, float] = field(default_factory=dict)
    satisfaction_base: float = 0.5
    churn_logit: float = -3.0
    revenue_per_month: float = 30.0


@dataclass
class Population:
    """The customers at the start of the horizon and when in the week their needs arise."""

    customers: int = 10_000
    # The population the shifts are sized for: when set, every shift's agents scale with
    # customers / staffed_for (rounded, at least 1 where the shift had any), so a smaller
    # population keeps queues as busy as the full one (cxsim.spec.volume). None: as written.
    staffed_for: int | None = None
    hourly_profile: list[float] = field(default_factory=lambda: [1.0] * 24)
    weekday_profile: list[float] = field(default_factory=lambda: [1.0] * 7)


@dataclass
class Handoffs:
    """What happens when a need passes from one touchpoint to another."""

    context_carryover: float = 0.3
    repeat_explanation_min: float = 2.0
    retry_delay_min: float = 20.0
    recontact_delay_hour: float = 24.0
    max_contacts: int = 4


@dataclass
class Behaviour:
    """How customers react to what happened (the parameters theta of :mod:`cxsim.outcomes`).

    Effort and satisfaction are on latent logit-like scales; survey answers are ordered
    logistic draws on them. ``enabled: false`` switches reactions off (a pure queueing run:
    no surveys, no churn).
    """

    enabled: bool = True
    effort_per_step: float = 0.15
    effort_per_log_wait: float = 0.5
    effort_per_repeat: float = 1.0
    effort_per_switch: float = 0.6
    resolved_bonus: float = 2.0
    effort_weight: float = 0.6
    ttr_weight: float = 0.3
    survey_fatigue: float = 0.2
    fatigue_days: float = 30.0
    memory: float = 0.6
    nps_slope: float = 1.5
    nps_cutpoints: list[float] = field(default_factory=lambda: [
        -4.5, -3.8, -3.2, -2.6, -2.0, -1.4, -0.6, 0.2, 0.9, 2.2])
    ces_cutpoints: list[float] = field(default_factory=lambda: [0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    csat_cutpoints: list[float] = field(default_factory=lambda: [-2.5, -1.5, -0.5, 0.8])
    # Cutpoints of survey questions registered beyond NPS, CES and CSAT (docs/extending.md):
    # a question is asked when its cutpoints are given.
    cutpoints: dict[str, list[float]] = field(default_factory=dict)
    post_survey_prob: float = 0.3
    periodic_survey_days: float = 30.0
    periodic_survey_share: float = 0.2
    response_base: float = -3.0
    response_extremity: float = 1.5
    churn_period_days: float = 30.0
    churn_relationship: float = 0.8
    discount_rate_per_month: float = 0.01

    def cutpoints_of(self, question: str) -> list[float] | None:
        """The cutpoints of a survey question's answers (None: not asked in this scenario)."""
        own = getattr(self, f"{question}_cutpoints", None)
        return list(own) if own is not None else self.cutpoints.get(question)


@dataclass
class ErlangQueue:
    """The knobs of the Erlang experiment (``experiment=erlang``): its journey and population
    interpolate them, and they are checked under these names (``queue.arrival_rate``), before
    the figures derived from them."""

    agents: int = 10  # on duty around the clock
    arrival_rate: float = 9.0  # calls per minute
    service_rate: float = 1.0  # calls per agent per minute (1 / mean handle time)
    patience_rate: float = 0.0  # abandonments per waiting customer per minute; 0 = infinite
    sl_threshold: float = 0.3333  # minutes (20 s) for the service level
    # experiment=priority: the share of arrivals flagged as priority (class 1)
    priority_share: float = 0.0


@dataclass
class Scenario:
    """A whole scenario: journey map, population, contact centre and the run settings."""

    horizon: float = 28.0
    warmup: float = 1.0
    replications: int = 3
    seed: int = 20261122
    # The length of the intervals of the per-interval figures (``by_interval`` in metrics).
    interval_min: int = 60
    touchpoints: dict[str, Touchpoint] = field(default_factory=dict)
    journeys: dict[str, Journey] = field(default_factory=dict)
    segments: dict[str, Segment] = field(default_factory=dict)
    population: Population = field(default_factory=Population)
    handoffs: Handoffs = field(default_factory=Handoffs)
    behaviour: Behaviour = field(default_factory=Behaviour)
    # The Erlang experiment's knobs, which its configs interpolate; the engine never reads
    # them. Typed, so a misspelt knob (+queue.agnets=3) is refused.
    queue: ErlangQueue | None = None
