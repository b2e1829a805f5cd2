"""Shift rules and the candidate shifts they allow, as columns of a covering programme.

Time runs in minutes: a shift starts at ``start_min`` minutes after 00:00 of its weekday
(0 = Monday) and lasts ``length_min`` minutes, breaks included; the week is cyclic, so a
Sunday night shift ends on Monday morning. An agent covers each interval by the share of it
they work: a 15-minute break in a 30-minute interval leaves half an agent there.

Breaks are placed by the programme, implicitly (Aykin 1996, "Optimal shift scheduling with
multiple break windows", Management Science 42:591-602): besides a column ``x_s`` per shift
(its whole span, breaks included), every break of a shift has a column ``w_sbk`` per
placement k within its window, which takes the break's minutes off the coverage, and
``sum_k w_sbk = x_s`` hands each of the shift's agents one placement of each break. As the
windows of a shift's breaks must not overlap, any whole-number solution splits into agents
with one break plan each. That is one column per shift and placement rather than one per
combination of placements: on the benchmark's rules, 3x fewer columns. Placements that touch
the intervals alike are merged.

Rules are checked before anything is generated; every rule at fault is named in one
:class:`RosterRuleError` (a ``ValueError``), with the group, shift type, interval or value.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse

__all__ = ["DAY_NAMES", "Break", "Candidates", "RosterRuleError", "ShiftType", "candidates"]

MIN_PER_DAY = 1440
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: Day sets by name, as the scenario's shifts spell them (``cxsim.spec`` ``DAY_SETS``).
DAY_SETS = {"all": tuple(range(7)), "weekdays": tuple(range(5)), "weekends": (5, 6),
            **{name: (i,) for i, name in enumerate(DAY_NAMES)}}
#: Candidate columns beyond which generation stops with advice to coarsen the grids.
MAX_CANDIDATES = 500_000


class RosterRuleError(ValueError):
    """Rules or a requirement that no roster can satisfy; ``problems`` lists each fault."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__("roster rules refused:\n  " + "\n  ".join(self.problems))


@dataclass(frozen=True)
class Break:
    """A break of ``length_min`` starting between ``earliest_min`` and ``latest_min`` after
    the shift starts, every ``step_min`` (default: the roster's interval)."""

    length_min: int
    earliest_min: int
    latest_min: int
    paid: bool = False
    step_min: int | None = None


@dataclass(frozen=True)
class ShiftType:
    """Shifts of one kind for one agent group.

    Starts run from ``earliest_start_min`` to ``latest_start_min`` every ``start_step_min``
    on ``days`` (a day-set name as in the scenario - ``"all"``, ``"weekdays"``, ``"sat"`` -
    or a tuple of day names). ``cost_per_hour`` is paid per paid hour (the length less unpaid
    breaks). ``min_agents`` / ``max_agents`` bound the agents on this type per day it runs;
    ``part_time`` marks it for the roster's part-time share limit.
    """

    name: str
    group: str
    length_min: int
    earliest_start_min: int = 0
    latest_start_min: int = MIN_PER_DAY - 60
    start_step_min: int = 30
    days: str | tuple[str, ...] = "all"
    breaks: tuple[Break, ...] = ()
    cost_per_hour: float = 1.0
    min_agents: int = 0
    max_agents: int | None = None
    part_time: bool = False

    def day_indices(self) -> tuple[int, ...]:
        names = (self.days,) if isinstance(self.days, str) else tuple(self.days)
        return tuple(sorted({i for n in names for i in DAY_SETS.get(n, ())}))


@dataclass(frozen=True)
class Candidates:
    """The columns of the programme: first ``n_shifts`` shift columns, then break columns.

    ``cover[row, j]`` is the minutes column j adds in row ``group * n_intervals + interval``
    (negative for a break). Per shift column: its shift type, weekday, start (minutes after
    00:00), paid minutes, cost and an upper bound on its agents. Per break column: the shift
    column it belongs to, which of the type's breaks it places, and its start and end in
    minutes after 00:00 of the shift's day.
    """

    groups: tuple[str, ...]
    interval_min: int
    requirement: NDArray[np.int64]  # (groups, intervals of the week)
    cover: sparse.csc_array
    type_index: NDArray[np.int64]
    day: NDArray[np.int64]
    start_min: NDArray[np.int64]
    paid_min: NDArray[np.int64]
    cost: NDArray[np.float64]
    upper: NDArray[np.int64]
    break_shift: NDArray[np.int64]
    break_index: NDArray[np.int64]
    break_start: NDArray[np.int64]
    break_end: NDArray[np.int64]

    @property
    def n_shifts(self) -> int:
        return self.type_index.size

    @property
    def n_intervals(self) -> int:
        return 7 * MIN_PER_DAY // self.interval_min


def interval_label(index: int, interval_min: int) -> str:
    """``"mon 09:30-10:00"`` for interval ``index`` of the week."""
    start = index * interval_min
    day, minute = divmod(start, MIN_PER_DAY)
    end = minute + interval_min
    return f"{DAY_NAMES[day]} {minute // 60:02d}:{minute % 60:02d}-{end // 60:02d}:{end % 60:02d}"


def _whole(value, name: str, lo: int = 0) -> list[str]:
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool) and value >= lo
    return [] if ok else [f"{name} must be a whole number >= {lo}; got {value!r}"]


def _check_type(st: ShiftType, groups: Sequence[str], interval_min: int) -> list[str]:
    at = f"shift type {st.name!r} (group {st.group!r})"
    problems = []
    if st.group not in groups:
        problems.append(f"{at}: group {st.group!r} has no requirement (groups: "
                        f"{', '.join(groups)})")
    for field in ("length_min", "earliest_start_min", "latest_start_min", "min_agents"):
        problems += [f"{at}: {p}" for p in _whole(getattr(st, field), field)]
    problems += [f"{at}: {p}" for p in _whole(st.start_step_min, "start_step_min", 1)]
    if st.max_agents is not None:
        problems += [f"{at}: {p}" for p in _whole(st.max_agents, "max_agents")]
    if problems:
        return problems
    if not 0 < st.length_min <= MIN_PER_DAY:
        problems.append(f"{at}: length_min {st.length_min} must be in 1..{MIN_PER_DAY} "
                        "(a shift longer than the day)" if st.length_min else
                        f"{at}: length_min must be > 0")
    if st.latest_start_min >= MIN_PER_DAY:
        problems.append(f"{at}: latest_start_min {st.latest_start_min} must be < {MIN_PER_DAY}")
    if st.earliest_start_min > st.latest_start_min:
        problems.append(f"{at}: earliest_start_min {st.earliest_start_min} > "
                        f"latest_start_min {st.latest_start_min}")
    if st.max_agents is not None and st.min_agents > st.max_agents:
        problems.append(f"{at}: min_agents {st.min_agents} > max_agents {st.max_agents}")
    if not (isinstance(st.cost_per_hour, int | float) and math.isfinite(st.cost_per_hour)
            and st.cost_per_hour >= 0):
        problems.append(f"{at}: cost_per_hour must be finite and >= 0; got {st.cost_per_hour!r}")
    names = (st.days,) if isinstance(st.days, str) else tuple(st.days)
    unknown = [n for n in names if n not in DAY_SETS]
    if unknown or not names:
        problems.append(f"{at}: days {st.days!r} must be among {', '.join(DAY_SETS)}")
    for k, br in enumerate(st.breaks):
        where = f"{at}: breaks[{k}]"
        for field in ("length_min", "earliest_min", "latest_min"):
            problems += [f"{where}: {p}" for p in _whole(getattr(br, field), field)]
        if br.step_min is not None:
            problems += [f"{where}: {p}" for p in _whole(br.step_min, "step_min", 1)]
        if not problems and (br.earliest_min > br.latest_min
                             or br.latest_min + br.length_min > st.length_min
                             or br.length_min == 0):
            problems.append(f"{where}: a {br.length_min}-minute break starting "
                            f"{br.earliest_min}..{br.latest_min} min in does not fit in the "
                            f"{st.length_min}-minute shift")
    if not problems:
        ordered = sorted(st.breaks, key=lambda b: b.earliest_min)
        for a, b in itertools.pairwise(ordered):
            if b.earliest_min < a.latest_min + a.length_min:
                problems.append(f"{at}: the break windows {a.earliest_min}..{a.latest_min} "
                                f"and {b.earliest_min}..{b.latest_min} min in overlap; a "
                                "shift's break windows must be disjoint")
    return problems


def _requirement(requirement: Mapping[str, ArrayLike], interval_min: int) -> NDArray[np.int64]:
    n = 7 * MIN_PER_DAY // interval_min
    rows = []
    for group, values in requirement.items():
        a = np.asarray(values)
        if a.dtype.kind not in "iuf" or a.size != n or a.ndim not in (1, 2) \
                or (a.ndim == 2 and a.shape != (7, n // 7)):
            raise RosterRuleError([f"requirement[{group!r}] must be {n} numbers (7 x {n // 7} "
                                   f"intervals of {interval_min} min); got shape {a.shape}, "
                                   f"dtype {a.dtype}"])
        a = a.ravel()
        bad = ~np.isfinite(a) | (a < 0) | (a != np.round(a))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise RosterRuleError([f"requirement[{group!r}] at {interval_label(i, interval_min)}"
                                   f" must be a whole number >= 0; got {a[i].item()!r}"])
        rows.append(a.astype(np.int64))
    return np.array(rows).reshape(len(rows), n)


def candidates(
    requirement: Mapping[str, ArrayLike], shift_types: Sequence[ShiftType], interval_min: int
) -> Candidates:
    """Check the rules and generate the shift and break columns they allow (module doc)."""
    if isinstance(interval_min, bool) or not isinstance(interval_min, int) \
            or interval_min <= 0 or MIN_PER_DAY % interval_min:
        raise RosterRuleError([f"interval_min must divide the day (15, 30, 60, ...); "
                               f"got {interval_min!r}"])
    if not requirement:
        raise RosterRuleError(["requirement: no group"])
    groups = tuple(requirement)
    need = _requirement(requirement, interval_min)
    problems = [p for st in shift_types for p in _check_type(st, groups, interval_min)]
    names = [st.name for st in shift_types]
    problems += [f"shift type {n!r} is defined twice" for n in sorted(set(names))
                 if names.count(n) > 1]
    problems += [f"group {g!r} has no shift type (it needs up to {need[i].max()} agents)"
                 for i, g in enumerate(groups)
                 if need[i].any() and not any(st.group == g for st in shift_types)]
    if problems:
        raise RosterRuleError(problems)

    shift = {k: [] for k in ("type", "day", "start", "paid", "cost", "upper")}
    brk = {k: [] for k in ("shift", "index", "start", "end")}
    pieces = []  # (shift column, start, end, sign) in minutes of the week
    for t, st in enumerate(shift_types):
        top = int(need[groups.index(st.group)].max(initial=0))
        upper = max(top, st.min_agents) if st.max_agents is None else st.max_agents
        paid = st.length_min - sum(b.length_min for b in st.breaks if not b.paid)
        for day in st.day_indices():
            for start in range(st.earliest_start_min, st.latest_start_min + 1,
                               st.start_step_min):
                s = len(shift["type"])
                origin = day * MIN_PER_DAY + start
                pieces.append((s, origin, origin + st.length_min, 1))
                for key, value in zip(shift, (t, day, start, paid, paid / 60 * st.cost_per_hour,
                                              upper), strict=True):
                    shift[key].append(value)
                for b, br in enumerate(st.breaks):
                    seen = set()
                    for offset in range(br.earliest_min, br.latest_min + 1,
                                        br.step_min or interval_min):
                        lo, hi = start + offset, start + offset + br.length_min
                        key = _cut(lo, hi, interval_min)  # placements cutting alike merge
                        if key in seen:
                            continue
                        seen.add(key)
                        pieces.append((s, day * MIN_PER_DAY + lo, day * MIN_PER_DAY + hi, -1))
                        for k2, v in zip(brk, (s, b, lo, hi), strict=True):
                            brk[k2].append(v)
                if len(pieces) > MAX_CANDIDATES:
                    raise RosterRuleError([f"more than {MAX_CANDIDATES} candidate columns: "
                                           "coarsen start_step_min or the break steps"])
    n_shifts = len(shift["type"])
    # A break column's pieces sit after the shift columns: renumber them.
    column = np.empty(len(pieces), dtype=np.int64)
    is_break = np.array([p[3] < 0 for p in pieces])
    column[~is_break] = [p[0] for p in pieces if p[3] > 0]
    column[is_break] = n_shifts + np.arange(int(is_break.sum()))
    lo, hi, sign = (np.array([p[i] for p in pieces], dtype=np.int64) for i in (1, 2, 3))
    types = np.array(shift["type"], dtype=np.int64)
    owner = np.where(is_break, np.array([p[0] for p in pieces]), column)
    group_of = np.array([groups.index(shift_types[t].group) for t in types])[owner]
    found = Candidates(
        groups=groups, interval_min=interval_min, requirement=need,
        cover=_cover(column, lo, hi, sign, group_of, len(groups), interval_min,
                     n_shifts + int(is_break.sum())),
        type_index=types, day=np.array(shift["day"]), start_min=np.array(shift["start"]),
        paid_min=np.array(shift["paid"]), cost=np.array(shift["cost"], dtype=float),
        upper=np.array(shift["upper"]),
        **{f"break_{k}": np.array(v, dtype=np.int64) for k, v in brk.items()},
    )
    problems = _uncovered(found, shift_types)
    if problems:
        raise RosterRuleError(problems)
    return found


def _cut(lo: int, hi: int, interval_min: int) -> tuple[tuple[int, int], ...]:
    """(interval, minutes) that the stretch [lo, hi) takes from each interval it touches."""
    return tuple((k, min(hi, (k + 1) * interval_min) - max(lo, k * interval_min))
                 for k in range(lo // interval_min, (hi - 1) // interval_min + 1))


def _cover(col, lo, hi, sign, group, n_groups, interval_min, n_cols) -> sparse.csc_array:
    """Signed minutes each column adds in each (group, interval) row, from its pieces."""
    week, n = 7 * MIN_PER_DAY, 7 * MIN_PER_DAY // interval_min
    # The week is cyclic: a piece that starts after Sunday midnight belongs to Monday, and
    # one that runs past it is split there.
    late = lo >= week
    lo, hi = np.where(late, lo - week, lo), np.where(late, hi - week, hi)
    wrap = hi > week
    col, sign, group = (np.concatenate([v, v[wrap]]) for v in (col, sign, group))
    lo = np.concatenate([lo, np.zeros(int(wrap.sum()), np.int64)])
    hi = np.concatenate([np.minimum(hi, week), hi[wrap] - week])
    first, last = lo // interval_min, (hi - 1) // interval_min
    span = last - first + 1
    rep = np.repeat(np.arange(col.size), span)
    k = first[rep] + np.arange(span.sum()) - np.repeat(np.cumsum(span) - span, span)
    minutes = np.minimum(hi[rep], (k + 1) * interval_min) - np.maximum(lo[rep], k * interval_min)
    cover = sparse.csc_array((sign[rep] * minutes, (group[rep] * n + k, col[rep])),
                             shape=(n_groups * n, n_cols))
    cover.sum_duplicates()
    return cover


def _uncovered(c: Candidates, shift_types: Sequence[ShiftType]) -> list[str]:
    """Intervals whose requirement no roster can reach, even at every type's max_agents: one
    agent of a shift reaches its span's minutes less, per break, the fewest minutes any
    placement of that break takes from the interval."""
    cover = sparse.csc_array(c.cover)
    reach = cover[:, :c.n_shifts].toarray().astype(float)
    pairs, which = np.unique(np.stack([c.break_shift, c.break_index], axis=1), axis=0,
                             return_inverse=True)
    for k, (s, _) in enumerate(pairs):
        cols = c.n_shifts + np.flatnonzero(which == k)
        reach[:, s] += cover[:, cols].toarray().max(axis=1)  # break minutes are negative
    reach /= c.interval_min
    capacity = np.zeros(reach.shape[0])
    for t, st in enumerate(shift_types):
        for day in np.unique(c.day[c.type_index == t]):
            best = reach[:, (c.type_index == t) & (c.day == day)].max(axis=1)
            capacity += np.where(best > 0, np.inf if st.max_agents is None else
                                 st.max_agents * best, 0.0)
    need = c.requirement.ravel()
    problems = []
    n = c.n_intervals
    for g, group in enumerate(c.groups):
        short = np.flatnonzero(capacity[g * n:(g + 1) * n] < need[g * n:(g + 1) * n])
        if not short.size:
            continue
        i = int(short[0])
        cap = capacity[g * n + i]
        what = ("no shift type covers" if cap == 0 else
                f"the shift types' max_agents allow at most {cap:g} agents at")
        more = f" (and {short.size - 1} more intervals)" if short.size > 1 else ""
        problems.append(f"group {group!r}: {what} {interval_label(i, c.interval_min)}, which "
                        f"needs {need[g * n + i]}{more}")
    return problems
