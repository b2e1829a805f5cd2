"""Engine benchmark: cxsim against hand-written SimPy and Ciw models of the same systems.

    python benchmarks/engine.py [--quick]

Every target is a RATIO measured against baselines in the same run, never an absolute time.
Case 1: M/M/10 at rho 0.9 (cxsim vs textbook SimPy vs Ciw). Case 2: the 5-touchpoint journey
of ``experiment=journey5`` (cxsim vs a textbook SimPy model of the same rules). Case 3: peak
memory of cxsim with the experience log off at N and 10N customers, each in a fresh process.
Case 4 (``skills_case.py``): a 2-skill, 3-group centre with overflow, 1M contacts, cxsim's
skills-based routing vs Ciw's closest model (three nodes, overflow as reneging).
The script reports; it always exits 0.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import resource
import subprocess
import sys
import time
import tracemalloc
from types import SimpleNamespace

import ciw
import simpy
from skills_case import case4

from cxsim.engine import simulate
from cxsim.spec import Scenario, compose_scenario

SEED = 20261122
AGENTS, LAM, MU = 10, 9.0, 1.0  # case 1: M/M/10, 9 calls/min, 1 call/agent/min
RESOLVED, FAILED, ABANDONED, UNRESOLVED, HANDOFF = range(5)


def erlang_c(c: int, lam: float, mu: float) -> tuple[float, float]:
    """P(wait) and mean wait of M/M/c (Erlang C)."""
    a, term, head = lam / mu, 1.0, 1.0
    for k in range(1, c):
        term *= a / k
        head += term
    tail = term * a / (c - a)  # a^c / c! * c / (c - a)
    p = tail / (head + tail)
    return p, p / (c * mu - lam)


def best_of(reps: int, fn):
    """(best wall time in seconds, result of the last call) over ``reps`` calls of ``fn``."""
    best, out = math.inf, None
    for _ in range(reps):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def wait_stats(waits: list[float]) -> tuple[float, float]:
    """P(wait) and mean wait of the customers whose wait is known."""
    return sum(w > 0 for w in waits) / len(waits), sum(waits) / len(waits)


# -- case 1: M/M/10 ---------------------------------------------------------------------------
def erlang_overrides(days: float) -> list[str]:
    return (
        f"experiment=erlang queue.agents={AGENTS} queue.arrival_rate={LAM} "
        f"queue.service_rate={MU} queue.patience_rate=0 horizon={days} warmup=0 replications=1"
    ).split()


def cxsim_mmc(days: float, s: Scenario | None = None) -> tuple[int, float, float]:
    r = simulate(s or compose_scenario(erlang_overrides(days)))
    return r.replications[0].arrivals, r.metrics["p_wait"], r.metrics["mean_wait"]


def simpy_mmc(days: float) -> tuple[int, float, float]:
    """The textbook SimPy model: a process per customer, a Resource, an arrival process."""
    rng = random.Random(SEED)
    env = simpy.Environment()
    agents = simpy.Resource(env, capacity=AGENTS)
    waits: list[float] = []

    def customer():
        arrive = env.now
        with agents.request() as req:
            yield req
            waits.append(env.now - arrive)
            yield env.timeout(rng.expovariate(MU))

    def source():
        while True:
            yield env.timeout(rng.expovariate(LAM))
            env.process(customer())

    env.process(source())
    env.run(until=days * 1440.0)
    return (len(waits) + len(agents.queue), *wait_stats(waits))  # served or still waiting


def ciw_mmc(days: float) -> tuple[int, float, float]:
    ciw.seed(SEED)
    net = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=LAM)],
        service_distributions=[ciw.dists.Exponential(rate=MU)],
        number_of_servers=[AGENTS],
    )
    q = ciw.Simulation(net)
    q.simulate_until_max_time(days * 1440.0)
    waits = [r.waiting_time for r in q.get_all_records()]
    return (q.nodes[0].number_of_individuals, *wait_stats(waits))


def case1(customers: int, reps: int) -> dict[str, float]:
    days = customers / LAM / 1440.0
    cxsim_mmc(0.01)  # untimed warm-up: Hydra's and the engine's imports and first compose
    p_ref, w_ref = erlang_c(AGENTS, LAM, MU)
    print(
        f"\nCase 1 - M/M/{AGENTS}, rho {LAM / (AGENTS * MU):.2f}, horizon {days:.3f} days "
        f"(~{customers:,} customers); best of {reps} repetition(s) each\n"
        f"  {'implementation':<30}{'customers':>10}{'seconds':>9}{'cust/s':>10}"
        f"{'P(wait)':>9}{'mean wait':>11}"
    )
    pre = compose_scenario(erlang_overrides(days))
    rate = {}
    runs = (
        ("cxsim", "cxsim (compose + simulate)", cxsim_mmc),
        ("info", "(info) cxsim simulate only", lambda d: cxsim_mmc(d, pre)),
        ("SimPy", "SimPy textbook", simpy_mmc),
        ("Ciw", "Ciw", ciw_mmc),
    )
    for key, name, fn in runs:
        sec, (n, p, w) = best_of(reps, lambda fn=fn: fn(days))
        rate[key] = n / sec
        print(f"  {name:<30}{n:>10,}{sec:>9.3f}{n / sec:>10,.0f}{p:>9.4f}{w:>11.4f}")
    print(f"  {'Erlang C (exact)':<30}{'':>29}{p_ref:>9.4f}{w_ref:>11.4f}")
    return {"cxsim/Ciw": rate["cxsim"] / rate["Ciw"], "cxsim/SimPy": rate["cxsim"] / rate["SimPy"]}


# -- case 2: the 5-touchpoint journey ---------------------------------------------------------
class SimpyJourney:
    """Textbook SimPy model of ``experiment=journey5``: a process per episode, a Resource per
    agent queue, patience as ``req | timeout``. Mirrors cxsim's journey.py / nodes.py rules."""

    def __init__(self, s: Scenario, seed: int) -> None:
        (seg,) = s.segments.values()
        (jr,) = s.journeys.values()
        h = s.handoffs
        self.env = env = simpy.Environment()
        self.rng = random.Random(seed)
        self.tps: dict[str, SimpleNamespace] = {}
        for i, (name, tp) in enumerate(s.touchpoints.items()):
            queue = tp.kind == "queue"
            d = tp.handle if queue else tp.duration
            assert d.dist == "exponential" and tp.travel_min == 0 and tp.patience_factor == 1
            assert tp.context_carryover is None and tp.kind in ("self_service", "bot", "queue")
            if queue:
                (shift,) = tp.shifts
                assert (shift.start_hour, shift.end_hour, shift.days) == (0, 24, "all")
            self.tps[name] = SimpleNamespace(
                kind=tp.kind, bit=1 << i, weight=seg.preference.get(tp.channel, 0.0),
                mean=d.mean_min, containment=tp.containment, loop=tp.loop_min, fcr=tp.fcr,
                escalation=tp.escalation if tp.escalate_to else 0.0, transfer=tp.transfer_prob,
                target=tp.escalate_to or tp.transfer_to,  # bot escalation / agent transfer
                res=simpy.Resource(env, capacity=tp.shifts[0].agents) if queue else None,
            )  # fmt: skip
        assert jr.handle_factor == 1 and seg.pain_intolerant == 0
        self.entries = [self.tps[n] for n in jr.touchpoints if self.tps[n].weight > 0]
        self.rate = s.population.customers * seg.needs_per_month / (30 * 1440.0)
        self.patience, self.retry = seg.patience_min, seg.retry_prob
        self.carry, self.repeat_min = h.context_carryover, h.repeat_explanation_min
        self.retry_delay, self.recontact = h.retry_delay_min, h.recontact_delay_hour * 60.0
        self.max_contacts = h.max_contacts
        self.lo, self.hi = s.warmup * 1440.0, s.horizon * 1440.0
        keys = ("episodes", "needs", "resolved", "contacts", "transfers", "repeats")
        self.st = dict.fromkeys(keys + ("q_arrivals", "q_wait", "q_abandoned"), 0.0)

    def choose(self, tried: int, again: bool) -> SimpleNamespace | None:
        options = [tp for tp in self.entries if again or not tried & tp.bit]
        if not options:
            return None
        pick = self.rng.random() * sum(tp.weight for tp in options)
        for tp in options:
            pick -= tp.weight
            if pick < 0:
                return tp
        return options[-1]

    def source(self):
        while True:
            yield self.env.timeout(self.rng.expovariate(self.rate))
            self.st["episodes"] += 1
            self.env.process(self.episode(self.env.now))

    def episode(self, t0: float):
        env, rng, st = self.env, self.rng, self.st
        counted = t0 >= self.lo
        st["needs"] += counted
        tried, contacts, explained = 0, 0, False
        tp = self.choose(0, again=False)
        while True:
            contacts += 1
            tried |= tp.bit
            st["contacts"] += counted
            if tp.kind != "queue":  # web, app, chatbot: no contention
                yield env.timeout(rng.expovariate(1.0 / tp.mean))
                if rng.random() < tp.containment:
                    outcome = RESOLVED
                elif tp.kind == "bot" and rng.random() < tp.escalation:
                    outcome = HANDOFF
                else:
                    if tp.kind == "bot":
                        yield env.timeout(tp.loop)
                    outcome = FAILED
            else:
                repeat = explained and rng.random() >= self.carry
                explained = True
                st["repeats"] += counted and repeat
                handle = rng.expovariate(1.0 / tp.mean) + repeat * self.repeat_min
                patience = rng.expovariate(1.0 / self.patience)
                arrive = env.now
                live = arrive >= self.lo
                with tp.res.request() as req:
                    got = yield req | env.timeout(patience)
                    st["q_arrivals"] += live
                    if req not in got:
                        st["q_wait"] += live * patience
                        st["q_abandoned"] += live
                        outcome = ABANDONED
                    else:
                        st["q_wait"] += live * (env.now - arrive)
                        yield env.timeout(handle)
                        u = rng.random()
                        if u < tp.fcr:
                            outcome = RESOLVED
                        elif u < tp.fcr + tp.transfer and tp.target:
                            outcome = HANDOFF
                        else:
                            outcome = UNRESOLVED
            if outcome == RESOLVED:
                st["resolved"] += counted
                return
            if outcome == HANDOFF:
                st["transfers"] += counted
                tp = self.tps[tp.target]
                continue
            if rng.random() >= self.retry or contacts >= self.max_contacts:
                return  # gives up (or abandons for good)
            again = outcome == UNRESOLVED
            yield env.timeout(self.recontact if again else self.retry_delay)
            tp = self.choose(tried, again)
            if tp is None:
                return

    def run(self) -> dict[str, float]:
        self.env.process(self.source())
        self.env.run(until=self.hi)
        return self.st


FIGURES = ("resolved share", "contacts per need", "transfers per need", "repeats per need",
           "live-queue mean wait (min)", "live-queue abandonment")  # fmt: skip


def cxsim_journey(s: Scenario | None, days: float) -> tuple[int, list[float]]:
    r = simulate(s or compose_scenario(["experiment=journey5", f"horizon={days}"]))
    m, n = r.metrics, r.metrics["needs"]
    keys = ("resolved_rate", "contacts_per_need", "transfers_per_need", "repeats_per_need")
    return r.replications[0].arrivals, [n[k] for k in keys] + [m["mean_wait"], m["abandon_rate"]]


def simpy_journey(s: Scenario) -> tuple[int, list[float]]:
    st = SimpyJourney(s, SEED).run()
    n, q = st["needs"], st["q_arrivals"]
    per_need = [st[k] / n for k in ("resolved", "contacts", "transfers", "repeats")]
    return int(st["episodes"]), per_need + [st["q_wait"] / q, st["q_abandoned"] / q]


def case2(days: float, reps: int) -> dict[str, float]:
    print(
        f"\nCase 2 - experiment=journey5 (5 touchpoints, 2 agent queues), horizon {days:g} "
        f"days; cxsim timed compose + simulate, SimPy build + run (its parameters read from a\n"
        f"  scenario composed untimed); best of {reps} repetition(s); different random streams, "
        "so outcome figures differ by noise"
    )
    cx_sec, (cx_n, cx) = best_of(reps, lambda: cxsim_journey(None, days))
    pre = compose_scenario(["experiment=journey5", f"horizon={days}"])
    sim_sec, _ = best_of(reps, lambda: cxsim_journey(pre, days))
    sp_sec, (sp_n, sp) = best_of(reps, lambda: simpy_journey(pre))
    print(f"  {'':<30}{'cxsim':>12}{'SimPy textbook':>16}{'diff':>9}")
    for key, a, b in zip(FIGURES, cx, sp, strict=True):
        print(f"  {key:<30}{a:>12.4f}{b:>16.4f}{(a - b) / b:>+9.1%}")
    print(f"  {'episodes':<30}{cx_n:>12,}{sp_n:>16,}")
    print(f"  {'seconds':<30}{cx_sec:>12.3f}{sp_sec:>16.3f}")
    print(f"  {'episodes/s':<30}{cx_n / cx_sec:>12,.0f}{sp_n / sp_sec:>16,.0f}")
    print(
        f"  {'(info) cxsim simulate only':<30}{cx_n / sim_sec:>12,.0f}  episodes/s, ratio "
        f"{cx_n / sim_sec / (sp_n / sp_sec):.2f}"
    )
    return {"cxsim/SimPy": cx_n / cx_sec / (sp_n / sp_sec)}


# -- case 3: memory -----------------------------------------------------------------------------
def memory_child(days: float) -> None:
    """In a fresh process: peak traced memory of one simulation with the log off."""
    s = compose_scenario(erlang_overrides(days))
    simulate(compose_scenario(erlang_overrides(0.01)))  # lazy imports and caches, untraced
    tracemalloc.start()
    r = simulate(s, keep_rows=False)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    # ru_maxrss survives fork + exec (it starts at the parent's size); VmHWM is this process's.
    with open("/proc/self/status") as f:
        hwm = next((int(x.split()[1]) * 1024 for x in f if x.startswith("VmHWM")), 0)
    n = r.replications[0].arrivals
    print(json.dumps({"arrivals": n, "peak": peak, "rss": rss, "hwm": hwm}))


def case3(customers: int) -> dict[str, float]:
    print(
        f"\nCase 3 - memory of M/M/{AGENTS} with the experience log off (keep_rows=False), "
        "each size in a fresh process; tracemalloc peak over simulate() only\n"
        f"  {'customers':>12}{'tracemalloc peak':>18}{'ru_maxrss (info)':>18}{'VmHWM (info)':>16}"
    )
    peaks = []
    for n in (customers, 10 * customers):
        cmd = [sys.executable, __file__, "--memory-child", str(n / LAM / 1440.0)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        m = json.loads(out.strip().splitlines()[-1])
        peaks.append(m["peak"])
        mib = [m[k] / 2**20 for k in ("peak", "rss", "hwm")]
        print(f"  {m['arrivals']:>12,}{mib[0]:>14.2f} MiB{mib[1]:>14.1f} MiB{mib[2]:>12.1f} MiB")
    print("  (ru_maxrss counts the parent's size too: Linux keeps it across fork + exec)")
    return {"10N/N": peaks[1] / peaks[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, one repetition")
    ap.add_argument("--memory-child", type=float, metavar="DAYS", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child is not None:
        memory_child(args.memory_child)
        return
    reps = 1 if args.quick else 3
    print(
        f"cxsim engine benchmark ({'quick' if args.quick else 'full'}), Python "
        f"{sys.version.split()[0]}, simpy {simpy.__version__}, ciw {ciw.__version__}"
    )
    r1 = case1(40_000 if args.quick else 180_000, reps)
    r2 = case2(7 if args.quick else 60, reps)  # ~150k episodes, like case 1's customers
    r3 = case3(20_000 if args.quick else 100_000)
    r4 = case4(100_000 if args.quick else 1_000_000, 1)
    targets = (
        ("case 1 speed cxsim/Ciw", r1["cxsim/Ciw"], ">=", 4.0),
        ("case 1 speed cxsim/SimPy textbook", r1["cxsim/SimPy"], ">=", 2.0),
        ("case 2 speed cxsim/SimPy textbook", r2["cxsim/SimPy"], ">=", 3.0),
        ("case 3 memory peak 10N/N", r3["10N/N"], "<=", 1.5),
        ("case 4 speed cxsim/Ciw (skills)", r4["cxsim/Ciw"], ">=", 2.0),
    )
    print("\nSummary (ratios measured in this run)")
    for name, value, op, target in targets:
        ok = value >= target if op == ">=" else value <= target
        print(f"  {name:<36}{value:>8.2f}  target {op} {target:<5}{'PASS' if ok else 'MISS'}")


if __name__ == "__main__":
    main()
