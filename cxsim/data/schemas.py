"""Schemas of an observed-data directory (a CRM-like export): one pandera schema per CSV file.

Each file is described twice, from one source: ``FIELDS`` lists its columns (kind, required,
range, allowed values, uniqueness), which the CSV reader uses to parse text into typed
columns, and ``customers_schema`` / ``episodes_schema`` / ``surveys_schema`` turn that list
into a pandera ``DataFrameSchema``, adding the cross-column rules (``RULES``) and, when given
the other files, the cross-file rules (foreign keys) as explicit checks.

Every check carries an ``error`` text ``"<column>: <reason>"``; the loader splits it to name
the column to blame, so a cross-column rule points at the cell to fix (e.g. ``ttr_min``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from cxsim.spec.kinds import (
    BOT_STATES,
    CORE_QUESTIONS,
    EPISODE_OUTCOMES,
    PERIODIC,
    POST_INTERACTION,
    QUESTIONS,
    RESOLVED,
    SURVEY_KINDS,
)

CUSTOMERS, EPISODES, SURVEYS, TRUTH = "customers.csv", "episodes.csv", "surveys.csv", "truth.json"
COHORTS = "cohorts"  # a cohort survival file (any name): cohort,period,surviving
LIST_SEPARATOR = "|"  # channels and touchpoints: names joined by '|'
# Ids are labels, but exact ones: at most 2**53, the largest integer a float-typed export
# ("7.0") still holds exactly. Times are minutes since the observation began; 1e8 minutes
# (190 years) bounds them, so a stray 1e308 cannot ask for billions of churn checks.
MAX_ID = 2**53
MAX_MINUTES = 1e8


@dataclass(frozen=True)
class Field:
    """One CSV column: ``kind`` is int, float, str or flag (0/1); ``required``: no empty cell."""

    name: str
    kind: str
    required: bool = True
    ge: float | None = None
    le: float | None = None
    allowed: tuple[str, ...] | None = None
    unique: bool = False

    @property
    def dtype(self) -> str:
        """The pandas dtype of the loaded column (nullable ``Int64`` for optional ints)."""
        if self.kind in ("int", "flag"):
            return "int64" if self.required else "Int64"
        return {"float": "float64", "str": "str"}[self.kind]


class _Tables(dict):
    """Tables by file: fixed ones, and the surveys' (``SURVEYS``), made when asked for from
    ``make``, so that a survey question registered later has its column and rules."""

    def __init__(self, fixed: dict, make: Callable[[], Any]) -> None:
        super().__init__(fixed)
        self._make = make

    def __getitem__(self, key: str) -> Any:
        return self._make() if key == SURVEYS else super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        return key == SURVEYS or super().__contains__(key)


SURVEY_BASE = (
    Field("survey_id", "int", unique=True, ge=0, le=MAX_ID),
    Field("customer_id", "int", ge=0, le=MAX_ID),
    Field("episode_id", "int", required=False, ge=0, le=MAX_ID),
    Field("kind", "str", allowed=SURVEY_KINDS),
    Field("sent_min", "float", ge=0, le=MAX_MINUTES),
    Field("answered", "flag"),
)


def _survey_fields() -> tuple[Field, ...]:
    """Who was asked, when, answered or not; then one column per survey question."""
    return (*SURVEY_BASE, *(Field(q.name, "int", required=False, ge=q.scale[0], le=q.scale[1])
                            for q in QUESTIONS.values()))


FIELDS: dict[str, tuple[Field, ...]] = _Tables({
    CUSTOMERS: (
        Field("customer_id", "int", unique=True, ge=0, le=MAX_ID),
        Field("segment", "str"),
        Field("start_min", "float", ge=0, le=MAX_MINUTES),
        Field("churn_min", "float", required=False, ge=0, le=MAX_MINUTES),
        Field("censored_min", "float", ge=0, le=MAX_MINUTES),
        Field("revenue", "float", ge=0),
    ),
    EPISODES: (
        Field("episode_id", "int", unique=True, ge=0, le=MAX_ID),
        Field("customer_id", "int", ge=0, le=MAX_ID),
        Field("reason", "str"),
        Field("start_min", "float", ge=0, le=MAX_MINUTES),
        Field("end_min", "float", ge=0, le=MAX_MINUTES),
        Field("first_channel", "str"),
        Field("channels", "str"),
        Field("touchpoints", "str"),
        Field("contacts", "int", ge=0),
        Field("wait_min", "float", ge=0, le=MAX_MINUTES),
        Field("handle_min", "float", ge=0, le=MAX_MINUTES),
        Field("steps", "int", ge=0),
        Field("transfers", "int", ge=0),
        Field("repeats", "int", ge=0),
        Field("switches", "int", ge=0),
        Field("bot", "str", allowed=BOT_STATES),
        Field("outcome", "str", allowed=EPISODE_OUTCOMES),
        Field("ttr_min", "float", required=False, ge=0, le=MAX_MINUTES),
    ),
    COHORTS: (
        Field("cohort", "str"),
        Field("period", "int", ge=0),
        Field("surviving", "int", ge=0),  # at period 0: the cohort's size
    ),
}, _survey_fields)

Ok = Callable[[pd.DataFrame], pd.Series]


@dataclass(frozen=True)
class Rule:
    """A cross-column rule: ``ok(frame)`` is True on the rows that satisfy it."""

    column: str
    reason: str
    ok: Ok


def _if(cond: Ok, then: Ok) -> Ok:
    return lambda d: ~cond(d) | then(d)


def _kind(kind: str) -> Ok:
    return lambda d: d["kind"] == kind


def _has(col: str) -> Ok:
    return lambda d: d[col].notna()


def _empty(col: str) -> Ok:
    return lambda d: d[col].isna()


def _has_if_asked(col: str, kind: str) -> Ok:
    """Filled, unless no answered survey of ``kind`` holds the column (not asked)."""
    def ok(d: pd.DataFrame) -> pd.Series:
        answered = (d["answered"] == 1) & (d["kind"] == kind)
        asked = d.loc[answered, col].notna().any() or col in CORE_QUESTIONS
        return d[col].notna() | (not asked)
    return ok


def _answered(kind: str | None = None) -> Ok:
    return lambda d: (d["answered"] == 1) & (True if kind is None else d["kind"] == kind)


def _survey_rules() -> list[Rule]:
    post, periodic = POST_INTERACTION, PERIODIC
    rules = [
        Rule("episode_id", f"required for a {post} survey", _if(_kind(post), _has("episode_id"))),
        Rule("episode_id", f"must be empty for a {periodic} survey",
             _if(_kind(periodic), _empty("episode_id"))),
    ]
    for col in QUESTIONS:
        rules.append(Rule(col, "must be empty for an unanswered survey (answered = 0)",
                          _if(lambda d: d["answered"] == 0, _empty(col))))
    for q in QUESTIONS.values():
        other = periodic if q.kind == post else post
        why = (f"{q.name.upper()} is asked periodically" if q.kind == periodic
               else "asked after an episode")
        # Required when answered, if the scenario asked it: a survey kind asks a question
        # either of every answered survey or of none in the file.
        rules.append(Rule(q.name, f"required for an answered {q.kind} survey",
                          _if(_answered(q.kind), _has_if_asked(q.name, q.kind))))
        rules.append(Rule(q.name, f"must be empty for a {other} survey ({why})",
                          _if(_kind(other), _empty(q.name))))
    return rules


RULES: dict[str, list[Rule]] = _Tables({
    CUSTOMERS: [
        Rule("churn_min", "must be >= start_min",
             lambda d: d["churn_min"].isna() | (d["churn_min"] >= d["start_min"])),
        Rule("churn_min", "must be <= censored_min (a churn after the end of observation "
             "cannot be observed)",
             lambda d: d["churn_min"].isna() | (d["churn_min"] <= d["censored_min"])),
        Rule("censored_min", "must be >= start_min", lambda d: d["censored_min"] >= d["start_min"]),
    ],
    EPISODES: [
        Rule("end_min", "must be >= start_min (the episode ends before it starts)",
             lambda d: d["end_min"] >= d["start_min"]),
        Rule("ttr_min", "must be empty unless outcome is resolved",
             _if(lambda d: d["outcome"] != EPISODE_OUTCOMES[RESOLVED], _empty("ttr_min"))),
        Rule("ttr_min", "required when outcome is resolved",
             _if(lambda d: d["outcome"] == EPISODE_OUTCOMES[RESOLVED], _has("ttr_min"))),
    ],
    COHORTS: [],
}, _survey_rules)


def _bound(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _range_checks(f: Field) -> list[pa.Check]:
    checks = []
    if f.ge is not None:
        checks.append(pa.Check.ge(f.ge, error=f"{f.name}: must be >= {_bound(f.ge)}"))
    if f.le is not None:
        checks.append(pa.Check.le(f.le, error=f"{f.name}: must be <= {_bound(f.le)}"))
    if f.allowed is not None:
        checks.append(pa.Check.isin(f.allowed, error=f"{f.name}: must be one of "
                                    + ", ".join(f.allowed)))
    if f.kind == "flag":
        checks.append(pa.Check.isin([0, 1], error=f"{f.name}: must be 0 or 1"))
    return checks


def _rule_check(rule: Rule) -> pa.Check:
    def check(frame: pd.DataFrame) -> pd.Series:
        # A rule holds where its inputs are missing: the missing cell is reported on its own.
        return rule.ok(frame).fillna(True).astype(bool)

    return pa.Check(check, error=f"{rule.column}: {rule.reason}")


def _owned(frame: pd.DataFrame, owner: pd.Series) -> pd.Series:
    """True unless a post-interaction survey's (known) episode belongs to another customer;
    unknown episodes and episode ids on periodic surveys are reported by their own checks."""
    of = frame["episode_id"].map(owner)
    return of.isna() | (frame["kind"] != POST_INTERACTION) | (of == frame["customer_id"])


def _foreign_key(column: str, ids: Iterable[int], target: str) -> pa.Check:
    # a vectorised closure, not Check.isin: pandera deep-copies a check's arguments
    known = pd.Index(np.unique(np.fromiter(ids, dtype=np.int64)))
    return pa.Check(lambda s: s.isin(known), error=f"{column}: unknown {column}: not in {target}")


def _of(frame: pd.DataFrame, key: str, table: pd.DataFrame, id_column: str,
        column: str) -> pd.Series:
    """``table[column]`` of each row's ``key`` (NaN for unknown keys, reported elsewhere)."""
    values = pd.Series(table[column].to_numpy(float), index=table[id_column].to_numpy())
    values = values[~values.index.duplicated()]
    return pd.Series(frame[key].map(values).to_numpy(float), index=frame.index)


def _timeline(column: str, file: str, customers: pd.DataFrame) -> list[Rule]:
    """Nothing happens to a customer before their start, after their churn, or after the
    end of their observation (censoring): ``column`` of each row against customers.csv."""
    def within(other: str, later: bool) -> Ok:
        def ok(d: pd.DataFrame) -> pd.Series:
            bound = _of(d, "customer_id", customers, "customer_id", other)
            return bound.isna() | ((d[column] >= bound) if later else (d[column] <= bound))
        return ok

    what = "an episode" if file == EPISODES else "a survey"
    return [
        Rule(column, f"{what} before its customer's start_min in {CUSTOMERS}",
             within("start_min", True)),
        Rule(column, f"{what} after its customer's censored_min in {CUSTOMERS} (the end of "
             "observation)", within("censored_min", False)),
        *([Rule(column, f"{what} after its customer's churn_min in {CUSTOMERS}",
                within("churn_min", False))] if file == EPISODES else []),
    ]


def build_schema(file: str, fk: dict[str, pa.Check] | None = None,
                 extra: list[pa.Check] | None = None) -> pa.DataFrameSchema:
    """The pandera schema of ``file`` from ``FIELDS`` and ``RULES``.

    ``fk`` maps a column to an extra (foreign-key) check; ``extra`` adds frame-level checks.
    """
    fk = fk or {}
    columns = {
        f.name: pa.Column(
            f.dtype,
            _range_checks(f) + ([fk[f.name]] if f.name in fk else []),
            nullable=not f.required,
            unique=f.unique,
            report_duplicates="exclude_first",
        )
        for f in FIELDS[file]
    }
    checks = [_rule_check(r) for r in RULES[file]] + (extra or [])
    return pa.DataFrameSchema(columns, checks=checks, strict=True, ordered=True, name=file)


def cohorts_schema() -> pa.DataFrameSchema:
    """Schema of a cohort survival file: a cohort name, periods and counts >= 0 (the cohorts'
    structure - period 0, no gaps, no rises - is checked by :func:`cxsim.data.load_cohorts`)."""
    return build_schema(COHORTS)


def customers_schema() -> pa.DataFrameSchema:
    """Schema of ``customers.csv``: unique ids, times >= 0, start <= churn <= censoring."""
    return build_schema(CUSTOMERS)


def episodes_schema(customer_ids: Iterable[int] | None = None,
                    customers: pd.DataFrame | None = None) -> pa.DataFrameSchema:
    """Schema of ``episodes.csv``; with ``customer_ids``, each ``customer_id`` must be one;
    with ``customers``, each episode starts within its customer's observed lifetime."""
    fk = {} if customer_ids is None else {
        "customer_id": _foreign_key("customer_id", customer_ids, CUSTOMERS)
    }
    extra = [] if customers is None else [_rule_check(r) for r in
                                          _timeline("start_min", EPISODES, customers)]
    return build_schema(EPISODES, fk, extra)


def surveys_schema(
    customer_ids: Iterable[int] | None = None, episodes: pd.DataFrame | None = None,
    customers: pd.DataFrame | None = None,
) -> pa.DataFrameSchema:
    """Schema of ``surveys.csv``; with the other files, ids must exist there, a survey's
    customer must be the customer of its episode, a survey is sent after its episode ended
    and within its customer's observation."""
    fk: dict[str, pa.Check] = {}
    extra: list[pa.Check] = []
    if customer_ids is not None:
        fk["customer_id"] = _foreign_key("customer_id", customer_ids, CUSTOMERS)
    if episodes is not None:
        fk["episode_id"] = _foreign_key("episode_id", episodes["episode_id"], EPISODES)
        owner = pd.Series(episodes["customer_id"].to_numpy(), index=episodes["episode_id"])
        extra.append(_rule_check(Rule(
            "customer_id", "must be the customer_id of its episode in episodes.csv",
            lambda d: _owned(d, owner),
        )))
        extra.append(_rule_check(Rule(
            "sent_min", f"sent before its episode ended (end_min in {EPISODES})",
            lambda d: _of(d, "episode_id", episodes, "episode_id", "end_min").isna()
            | (d["kind"] != POST_INTERACTION)
            | (d["sent_min"] >= _of(d, "episode_id", episodes, "episode_id", "end_min")))))
    if customers is not None:
        extra += [_rule_check(r) for r in _timeline("sent_min", SURVEYS, customers)]
    return build_schema(SURVEYS, fk, extra)
