"""Checks of a queue's agent groups and skills (``touchpoints.<name>.groups``, ``skills``,
``routing``): what the skills-based router (:mod:`cxsim.engine.routing`) can run, refused with
the key and value otherwise: a skill no group holds, an overflow to an unknown group or in a
cycle, a contact reason or segment with no skill, agents both on the touchpoint and in groups.
"""

from __future__ import annotations

from cxsim.spec.checks import SpecError, fifo_only, finite, one_of, staffing
from cxsim.spec.kinds import KINDS, kinds_where
from cxsim.spec.schema import Scenario, Touchpoint

ROUTING_POLICIES = ("group_order", "longest_idle")
SKILL_SOURCES = ("reason", "segment")


def check_groups(s: Scenario, key: str, tp: Touchpoint) -> None:
    """Refuse ``tp``'s groups, skills or routing (at ``key``) if the router cannot run them."""
    one_of(f"{key}.routing", tp.routing, ROUTING_POLICIES)
    sk = tp.skills
    if not tp.groups:
        if sk.map or sk.default is not None:
            raise SpecError(f"{key}.skills", {"map": dict(sk.map), "default": sk.default},
                            "skills route contacts to agent groups: declare groups too")
        return
    if not KINDS[tp.kind].assisted:
        raise SpecError(f"{key}.groups", list(tp.groups),
                        f"a {tp.kind} has no agents: groups apply to "
                        f"{'/'.join(kinds_where('assisted'))}")
    if tp.shifts or tp.staffing.agents:
        raise SpecError(f"{key}.shifts", [vars(sh) for sh in tp.shifts],
                        "with agent groups every agent is in a group: put the shifts on the "
                        "groups (groups.<name>.shifts)")
    fifo_only(key, tp, "agent groups")
    held: dict[str, list[str]] = {}
    for name, g in tp.groups.items():
        gk = f"{key}.groups.{name}"
        if not g.skills or not all(isinstance(x, str) and x for x in g.skills):
            raise SpecError(f"{gk}.skills", list(g.skills or []),
                            "a group holds at least one skill (names)")
        if len(set(g.skills)) != len(g.skills):
            raise SpecError(f"{gk}.skills", list(g.skills), "a skill is listed twice")
        for x in g.skills:
            held.setdefault(x, []).append(name)
        staffing(gk, g.shifts, g.staffing)
        if not g.shifts and not g.staffing.agents:
            raise SpecError(f"{gk}.shifts", [], "a group needs shifts or an interval table")
        finite(f"{gk}.overflow_after_s", g.overflow_after_s)
        if g.overflow_to is not None:
            if g.overflow_to not in tp.groups:
                raise SpecError(f"{gk}.overflow_to", g.overflow_to,
                                f"no group of that name (groups: {', '.join(tp.groups)})")
            if g.overflow_to == name:
                raise SpecError(f"{gk}.overflow_to", name, "a group cannot overflow to itself")
    _no_overflow_cycle(key, tp)
    _skills(s, key, tp, held)


def _no_overflow_cycle(key: str, tp: Touchpoint) -> None:
    for start in tp.groups:
        path, g = [start], tp.groups[start].overflow_to
        while g is not None:
            if g in path:
                loop = " -> ".join([*path[path.index(g):], g])
                raise SpecError(f"{key}.groups.{path[-1]}.overflow_to", g,
                                f"overflows go round in a cycle ({loop})")
            path.append(g)
            g = tp.groups[g].overflow_to


def _skills(s: Scenario, key: str, tp: Touchpoint, held: dict[str, list[str]]) -> None:
    sk = tp.skills
    one_of(f"{key}.skills.by", sk.by, SKILL_SOURCES)
    names = list(s.journeys) if sk.by == "reason" else list(s.segments)
    for name, skill in sk.map.items():
        if name not in names:
            raise SpecError(f"{key}.skills.map.{name}", skill,
                            f"no {sk.by} {name!r} (known: {', '.join(names)})")
        if skill not in held:
            raise SpecError(f"{key}.skills.map.{name}", skill,
                            f"no group holds skill {skill!r} (groups hold: "
                            f"{', '.join(sorted(held))})")
    if sk.default is None:
        unmapped = [n for n in names if n not in sk.map]
        if unmapped:
            raise SpecError(f"{key}.skills.default", None,
                            f"{sk.by}s {', '.join(unmapped)} need a skill: map them or give "
                            "a default")
    elif sk.default not in held:
        raise SpecError(f"{key}.skills.default", sk.default,
                        f"no group holds skill {sk.default!r} (groups hold: "
                        f"{', '.join(sorted(held))})")
