"""A reference simulator of skills-based routing, written for the tests and sharing no code
with the engine: an event list (a heap of arrivals, call ends and overflow times) over plain
lists, for Poisson arrivals of several skills, exponential handle times and patience.

Policy (what ``docs/scenario.md`` declares for agent groups): an arriving contact goes to an
idle agent of the first group (in declaration order) that holds its skill, the longest idle
within the group (``policy="group_order"``), or to the longest idle agent of any such group
(``policy="longest_idle"``); otherwise it waits. A contact waiting ``after`` minutes for its
primary group (the first holding its skill) becomes eligible to that group's overflow group
too (and on along the chain). A freeing agent takes the oldest waiting contact of the first
skill it holds that has one (its own order of skills), then the oldest overflowed to its
group; otherwise it goes idle.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Group:
    agents: int
    skills: tuple[str, ...]
    overflow_to: int | None = None  # index of the group
    after: float = 0.0  # minutes


def simulate_skills(rates: dict[str, float], groups: list[Group], mu: float, n_min: float,
                    rng: np.random.Generator, theta: float = 0.0,
                    policy: str = "group_order", warmup_min: float = 0.0) -> dict:
    """Per skill: mean wait, P(wait), abandonment over contacts arriving after
    ``warmup_min`` until ``n_min``; per group: busy agent-minutes / agent-minutes."""
    skills = list(rates)
    total = sum(rates.values())
    events: list[tuple] = []
    seq = 0

    def push(t: float, kind: str, data: object) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (t, seq, kind, data))

    push(rng.exponential(1 / total), "arrival", None)
    idle = [[(0.0, a) for a in range(g.agents)] for g in groups]  # (idle since, agent)
    waiting = {s: [] for g in groups for s in g.skills}  # FIFO lists of contacts (dicts)
    overflowed = [[] for _ in groups]
    primary = {s: next(i for i, g in enumerate(groups) if s in g.skills) for s in skills}
    busy = [0.0] * len(groups)
    stats = {s: [0, 0, 0.0, 0] for s in skills}  # arrivals, waited, wait sum, abandoned
    lo = warmup_min

    def serve(c: dict, t: float, gi: int) -> None:
        c["state"] = "served"
        handle = rng.exponential(1 / mu)
        if c["t"] >= lo:
            st = stats[c["skill"]]
            st[2] += t - c["t"]
            st[1] += t > c["t"]
        lo_b, hi_b = max(t, lo), min(t + handle, n_min)
        busy[gi] += max(0.0, hi_b - lo_b)
        push(t + handle, "end", gi)

    def take(gi: int, t: float) -> bool:
        # its skills' queues in its own order, then the calls overflowed to its group
        for q in [*(waiting[s] for s in groups[gi].skills), overflowed[gi]]:
            while q and q[0]["state"] != "waiting":
                q.pop(0)
            if q:
                serve(q.pop(0), t, gi)
                return True
        return False

    while events:
        t, _, kind, data = heapq.heappop(events)
        if t >= n_min:
            break
        if kind == "arrival":
            push(t + rng.exponential(1 / total), "arrival", None)
            s = skills[int(np.searchsorted(np.cumsum([rates[k] for k in skills]) / total,
                                           rng.random(), side="right"))]
            patience = rng.exponential(1 / theta) if theta else math.inf
            c = {"t": t, "skill": s, "state": "waiting"}
            if t >= lo:
                stats[s][0] += 1
            holders = [i for i, g in enumerate(groups) if s in g.skills]
            free = [i for i in holders if idle[i]]
            if free:
                if policy == "group_order":
                    gi = free[0]
                else:
                    gi = min(free, key=lambda i: min(idle[i])[0])
                agent = min(idle[gi])
                idle[gi].remove(agent)
                serve(c, t, gi)
                continue
            waiting[s].append(c)
            if patience < math.inf:
                push(t + patience, "abandon", c)
            g = groups[primary[s]]
            if g.overflow_to is not None:
                push(t + g.after, "overflow", (c, g.overflow_to))
        elif kind == "end":
            gi = data
            if not take(gi, t):
                idle[gi].append((t, -seq))
        elif kind == "abandon":
            c = data
            if c["state"] == "waiting":
                c["state"] = "gone"
                if c["t"] >= lo:
                    st = stats[c["skill"]]
                    st[3] += 1
                    st[1] += 1
                    st[2] += t - c["t"]
        elif kind == "overflow":
            c, gi = data
            if c["state"] != "waiting":
                continue
            if idle[gi]:
                agent = min(idle[gi])
                idle[gi].remove(agent)
                serve(c, t, gi)
            else:
                overflowed[gi].append(c)
            nxt = groups[gi]
            if nxt.overflow_to is not None:
                push(t + nxt.after, "overflow", (c, nxt.overflow_to))
    out = {}
    for s, (n, waited, wait_sum, abandoned) in stats.items():
        out[s] = {"mean_wait": wait_sum / n, "p_wait": waited / n, "abandon_rate": abandoned / n,
                  "volume": n}
    span = n_min - lo
    out["occupancy"] = [busy[i] / (g.agents * span) for i, g in enumerate(groups)]
    return out
