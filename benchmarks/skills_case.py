"""Case 4 of ``benchmarks/engine.py``: a 2-skill, 3-group centre with overflow, cxsim against
Ciw on the closest model Ciw expresses.

cxsim: general calls (60%) to 4 generalists, billing calls (40%) to 3 billing agents, 8 calls
a minute, exponential handling of mean 1 minute; a call waiting 60 s overflows to a group of 3
flexible agents, who take overflowed calls of either skill first come first served (their own
skill, ``escalation``, no call needs). Ciw has no skills; its closest model is a network of
three nodes, the general and billing queues reneging after a deterministic 60 s to a third
node (jockeying). The two differ in one rule (in cxsim an overflowed call may still be taken
by its own group; in Ciw it has left that queue), so their waits are close but not equal:
the case compares speed on systems of the same size and structure, and prints both.
"""

from __future__ import annotations

import time

import ciw

from cxsim.engine import simulate
from cxsim.spec import compose_scenario

SEED = 20261203
LAM, SHARE_GENERAL, MU = 8.0, 0.6, 1.0
GENERALISTS, BILLING, FLEXIBLE = 4, 3, 3
AFTER_MIN = 1.0


def overrides(days: float) -> list[str]:
    return [
        "experiment=skills", f"queue.arrival_rate={LAM}", f"queue.service_rate={MU}",
        f"journeys.call.share={SHARE_GENERAL}", f"journeys.billing.share={1 - SHARE_GENERAL:g}",
        f"horizon={days}", "warmup=0", "replications=1", f"seed={SEED}",
        # experiment=skills' two groups re-cast, and a third added
        f"touchpoints.phone.groups.generalists.shifts=[{{agents:{GENERALISTS}}}]",
        "touchpoints.phone.groups.generalists.overflow_to=flexible",
        f"touchpoints.phone.groups.generalists.overflow_after_s={AFTER_MIN * 60:g}",
        "touchpoints.phone.groups.flexible.skills=[escalation]",
        f"touchpoints.phone.groups.flexible.shifts=[{{agents:{FLEXIBLE}}}]",
        "++touchpoints.phone.groups={billing_team:{skills:[billing],"
        f"shifts:[{{agents:{BILLING}}}],overflow_to:flexible,"
        f"overflow_after_s:{AFTER_MIN * 60:g}}}}}",
    ]


def cxsim_centre(days: float) -> tuple[int, float, float]:
    m = simulate(compose_scenario(overrides(days))).metrics
    w = m["touchpoints"]["phone"]["mean_wait_by_skill"]
    return int(m["volume"]), w["general"], w["billing"]


class OverflowTo(ciw.routing.Leave):
    """Leave after service; after reneging, join node ``to`` (Ciw's jockeying)."""

    def __init__(self, to: int) -> None:
        self.to = to

    def next_node_for_jockeying(self, ind):
        return self.simulation.nodes[self.to]


def ciw_centre(days: float) -> tuple[int, float, float]:
    ciw.seed(SEED)
    exp = ciw.dists.Exponential
    net = ciw.create_network(
        arrival_distributions={"general": [exp(LAM * SHARE_GENERAL), None, None],
                               "billing": [None, exp(LAM * (1 - SHARE_GENERAL)), None]},
        service_distributions={c: [exp(MU)] * 3 for c in ("general", "billing")},
        number_of_servers=[GENERALISTS, BILLING, FLEXIBLE],
        reneging_time_distributions={
            "general": [ciw.dists.Deterministic(AFTER_MIN), None, None],
            "billing": [None, ciw.dists.Deterministic(AFTER_MIN), None]},
        routing={c: ciw.routing.NetworkRouting(
            routers=[OverflowTo(3), OverflowTo(3), ciw.routing.Leave()])
            for c in ("general", "billing")},
    )
    q = ciw.Simulation(net)
    q.simulate_until_max_time(days * 1440.0)
    recs = q.get_all_records()
    arrived: dict[int, float] = {}  # first arrival of each customer
    wait: dict[int, tuple[str, float]] = {}
    for r in sorted(recs, key=lambda r: r.arrival_date):
        arrived.setdefault(r.id_number, r.arrival_date)
        if r.record_type == "service":
            wait[r.id_number] = (r.customer_class, r.service_start_date - arrived[r.id_number])
    by = {c: [w for k, w in wait.values() if k == c] for c in ("general", "billing")}
    return len(arrived), sum(by["general"]) / len(by["general"]), \
        sum(by["billing"]) / len(by["billing"])


def case4(customers: int, reps: int) -> dict[str, float]:
    days = customers / LAM / 1440.0
    cxsim_centre(0.01)  # untimed warm-up: imports and first compose
    print(f"\nCase 4 - 2 skills, 3 groups with overflow after {AFTER_MIN * 60:g} s, "
          f"{LAM:g} calls/min, horizon {days:.2f} days (~{customers:,} contacts); best of "
          f"{reps} repetition(s)\n"
          f"  {'implementation':<34}{'contacts':>10}{'seconds':>9}{'cont/s':>10}"
          f"{'wait gen.':>11}{'wait bill.':>11}")
    rate = {}
    for key, name, fn in (("cxsim", "cxsim (skills-based routing)", cxsim_centre),
                          ("Ciw", "Ciw (3 nodes, reneging = overflow)", ciw_centre)):
        best, out = float("inf"), None
        for _ in range(reps):
            t = time.perf_counter()
            out = fn(days)
            best = min(best, time.perf_counter() - t)
        n, wg, wb = out
        rate[key] = n / best
        print(f"  {name:<34}{n:>10,}{best:>9.2f}{n / best:>10,.0f}{wg:>11.4f}{wb:>11.4f}")
    return {"cxsim/Ciw": rate["cxsim"] / rate["Ciw"]}
