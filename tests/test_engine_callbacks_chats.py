"""Call-backs (virtual hold) and chat concurrency on the FIFO queue.

Ground truths: with ``chats`` k and no stretch, c agents are c*k servers of M/M/(ck), Erlang
C; with a stretch, or with call-backs on an Erlang A queue, a reference simulator written
here (plain lists and loops over the same arrival law, no engine code) gives the long-run
figures. Tolerances are Monte Carlo errors: the engine's reported 95% half-width over
replications and the reference's own standard error over independent batches, combined,
allowing ``Q`` standard errors at a family-wise 0.2% over the file's comparisons.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from erlang_reference import erlang_c
from scipy import stats

from cxsim.engine import simulate
from cxsim.engine.stats import F
from cxsim.spec import SpecError, compose_scenario

REPS = 10
T95 = stats.t.ppf(0.975, REPS - 1)
N_COMPARISONS = 2 * 3 + 2 + 4  # Erlang C cases x metrics, stretch, call-backs
Q = stats.norm.ppf(1 - 0.002 / (2 * N_COMPARISONS))


def erlang(c: int, lam: float, *extra: str, theta: float = 0.0, seed: int = 3):
    return compose_scenario([
        "experiment=erlang", f"queue.agents={c}", f"queue.arrival_rate={lam}",
        "queue.service_rate=1", f"queue.patience_rate={theta}", "horizon=1.25",
        "warmup=0.25", f"replications={REPS}", f"seed={seed}", *extra])


def close(name: str, sim: float, half: float, ref: float, ref_se: float = 0.0) -> None:
    se = math.hypot(half / T95, ref_se)
    assert se > 0, name
    assert abs(sim - ref) <= Q * se, (
        f"{name}: engine {sim:.5f} ± {half:.5f} vs reference {ref:.5f} ± {ref_se:.5f} se "
        f"({(sim - ref) / se:+.1f} se, allowed {Q:.1f})")


def test_one_chat_and_a_never_offered_callback_change_nothing():
    base = simulate(erlang(5, 4.5, theta=0.2, seed=11)).metrics
    same = simulate(erlang(5, 4.5, "touchpoints.phone.concurrency.chats=1",
                           "touchpoints.phone.concurrency.stretch=[1.0]",
                           "touchpoints.phone.callback.offer_wait_s=1e9",
                           theta=0.2, seed=11)).metrics
    phone = same["touchpoints"]["phone"]
    assert phone["callbacks"] == 0 and phone["callback_missed"] == 0
    for key in [k for k in phone if k.startswith("callback")]:
        phone.pop(key)
    assert same == base


@pytest.mark.parametrize("agents, chats, lam", [(3, 3, 8.1), (2, 4, 7.2)])
def test_unstretched_chats_are_servers_of_erlang_c(agents, chats, lam):
    m = simulate(erlang(agents, lam, f"touchpoints.phone.concurrency.chats={chats}",
                        seed=20 + chats)).metrics
    exact = erlang_c(agents * chats, lam, 1.0, 1 / 3)
    for name in ("p_wait", "mean_wait"):
        close(name, m[name], m[f"{name}_ci"], exact[name])
    close("occupancy", m["occupancy"], m["occupancy_ci"], lam / (agents * chats))


def reference_queue(lam: float, agents: int, chats: int, stretch: tuple[float, ...],
                    n: int, rng: np.random.Generator, theta: float = 0.0,
                    callback: tuple[float, float, float, float] | None = None) -> dict:
    """A FIFO queue of ``agents`` x ``chats`` slots, Poisson arrivals, unit-mean exponential
    handles (stretched by the chats the agent holds when one starts), exponential patience
    of rate ``theta`` and call-backs ``(offer_after_min, accept, answer, attempt_min)``
    offered on the wait announced from the queue length; the longest-free slot serves."""
    arrivals = np.cumsum(rng.exponential(1 / lam, n))
    handles = rng.exponential(1.0, n)
    patience = rng.exponential(1 / theta, n) if theta else np.full(n, math.inf)
    u_accept, u_answer = rng.random(n), rng.random(n)
    slots = [[0.0, a] for a in range(agents) for _ in range(chats)]  # [free from, agent]
    held: list[list[float]] = [[] for _ in range(agents)]
    leaving: list[float] = []  # when customers now waiting leave the queue
    waits, abandoned, called = [], 0, 0
    for i, t in enumerate(arrivals):
        slot = min(slots)
        start = max(t, slot[0])
        if callback is not None and start > t:
            leaving = [x for x in leaving if x > t]
            announced = (len(leaving) + 1) / (agents * chats)  # handle mean 1
            if announced > callback[0] and u_accept[i] < callback[1]:
                called += 1
                leaving.append(start)
                slot[0] = start + (handles[i] if u_answer[i] < callback[2] else callback[3])
                continue
        if start - t > patience[i]:
            abandoned += 1
            waits.append(patience[i])
            if callback is not None:
                leaving.append(t + patience[i])
            continue
        waits.append(start - t)
        if callback is not None and start > t:
            leaving.append(start)
        agent = held[slot[1]]
        agent[:] = [end for end in agent if end > start]
        handle = handles[i] * (stretch[len(agent)] if stretch else 1.0)
        agent.append(start + handle)
        slot[0] = start + handle
    on_line = n - called
    return {"mean_wait": sum(waits) / on_line, "abandon_rate": abandoned / n,
            "p_wait": sum(w > 0 for w in waits) / on_line, "callback_rate": called / n}


def reference(batches: int = 8, **kw) -> tuple[dict, dict]:
    """Mean and standard error of each figure over independent batches (a tenth dropped
    at the start of each as a warm-up is below their error: started empty)."""
    rng = np.random.default_rng(2024)
    runs = [reference_queue(rng=rng, **kw) for _ in range(batches)]
    mean = {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}
    se = {k: float(np.std([r[k] for r in runs], ddof=1) / math.sqrt(batches)) for k in runs[0]}
    return mean, se


def test_stretched_chats_against_a_reference_simulator():
    stretch = [1.0, 1.3, 1.7]
    m = simulate(erlang(3, 4.5, "touchpoints.phone.concurrency.chats=3",
                        f"touchpoints.phone.concurrency.stretch={stretch}", seed=31)).metrics
    ref, se = reference(lam=4.5, agents=3, chats=3, stretch=tuple(stretch), n=40_000)
    for name in ("mean_wait", "p_wait"):
        close(name, m[name], m[f"{name}_ci"], ref[name], se[name])


def test_callback_waits_of_the_others_against_a_reference_simulator():
    cb = (1.0, 0.6, 0.8, 0.5)  # offered beyond 60 s announced, accept, answer, attempt
    m = simulate(erlang(6, 6.3, "touchpoints.phone.callback.offer_wait_s=60",
                        "touchpoints.phone.callback.accept=0.6",
                        "touchpoints.phone.callback.answer=0.8",
                        "touchpoints.phone.callback.attempt_min=0.5",
                        theta=0.5, seed=41)).metrics["touchpoints"]["phone"]
    ref, se = reference(lam=6.3, agents=6, chats=1, stretch=(), theta=0.5, callback=cb,
                        n=40_000)
    for name in ("mean_wait", "p_wait", "abandon_rate", "callback_rate"):
        close(name, m[name], m[f"{name}_ci"], ref[name], se[name])
    close("callback_answer_rate", m["callback_answer_rate"], m["callback_answer_rate_ci"],
          0.8, 0.0)
    assert m["callback_rate"] > 0.05  # the offer is taken often enough to matter


def test_every_contact_is_served_abandoned_called_back_or_unserved():
    s = compose_scenario([
        "touchpoints.phone_front.callback.offer_wait_s=30",
        "touchpoints.phone_front.redial.prob=0.5", "touchpoints.chat_agents.concurrency.chats=2",
        "touchpoints.chat_agents.concurrency.stretch=[1.0,1.4]", "horizon=3", "warmup=1",
        "replications=2"])
    result = simulate(s)
    for rep in result.replications:
        for i, name in enumerate(s.touchpoints):
            if s.touchpoints[name].kind not in ("queue", "async", "store"):
                continue
            g = rep.touchpoint_sums[i].sum(axis=-1)
            assert g[F["arrivals"]] == (g[F["served"]] + g[F["abandoned"]] + g[F["unserved"]]
                                        + g[F["callback_missed"]]), name
            assert g[F["callbacks"]] == g[F["callback_answered"]] + g[F["callback_missed"]] \
                or g[F["unserved"]] > 0, name
    phone = result.metrics["touchpoints"]["phone_front"]
    assert phone["callbacks"] > 0 and phone["callback_mean_delay"] > 0.5


@pytest.mark.parametrize("override, key", [
    ("touchpoints.chat_agents.concurrency.chats=0", "touchpoints.chat_agents.concurrency.chats"),
    ("touchpoints.chat_agents.concurrency={chats:2,stretch:[1.0]}",
     "touchpoints.chat_agents.concurrency.stretch"),
    ("touchpoints.store_desk.concurrency.chats=2", "touchpoints.store_desk.concurrency.chats"),
    ("touchpoints.email_inbox.callback.offer_wait_s=60",
     "touchpoints.email_inbox.callback.offer_wait_s"),
    ("touchpoints.phone_front.callback.offer_wait_s=-5",
     "touchpoints.phone_front.callback.offer_wait_s"),
    ("touchpoints.phone_front.callback.answer=1.5", "touchpoints.phone_front.callback.answer"),
    ("touchpoints.phone_front.callback.offer_wait_s=60 "
     "touchpoints.phone_front.priority=[{flag:0.2}]",
     "touchpoints.phone_front.callback.offer_wait_s"),
    ("touchpoints.chat_agents.concurrency={chats:2,stretch:[1.0,1.5]} "
     "touchpoints.chat_agents.priority=[{flag:0.2}]",
     "touchpoints.chat_agents.concurrency.stretch"),
])
def test_malformed_callbacks_and_chats_are_refused_by_key(override, key):
    with pytest.raises(SpecError) as err:
        compose_scenario(override.split())
    assert err.value.key == key
