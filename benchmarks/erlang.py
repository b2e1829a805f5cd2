"""Erlang benchmark: cxsim.workforce's vectorised Erlang C and A against pyworkforce.

    python benchmarks/erlang.py [--quick]

A week of 336 half-hour intervals (a daily curve with two peaks, quieter weekends, nights
closed), 5-minute handle time, 3-minute mean patience, service level within 20 s, and for
each interval several agent counts around its requirement. Both libraries get the same
inputs in the same run: pyworkforce element by element (its classes take calls per interval,
AHT and patience in minutes), cxsim in one broadcast call per model. The script prints the
largest absolute and relative differences per figure where both compute it (pyworkforce's
Erlang C refuses counts at or below the load), the time per evaluation of each and their
ratio, and the requirement both find for 80% within 20 s. It reports; it always exits 0.
"""

from __future__ import annotations

import argparse
import time
import timeit
from decimal import Decimal, localcontext

import numpy as np
from pyworkforce.queuing import ErlangA, ErlangC

from cxsim.workforce import Targets, erlang_a_figures, erlang_c_figures, requirement

INTERVAL_MIN, AHT, PATIENCE, THRESHOLD = 30, 5.0, 3.0, 20 / 60
OFFSETS = np.arange(-3, 5)  # agent counts around the Erlang C requirement: 8 per interval


def week_calls() -> np.ndarray:
    """Calls per half-hour, 7 x 48 flattened; closed 22:00-07:00."""
    t = np.arange(48) / 2 + 0.25
    shape = np.exp(-((t - 10.5) / 1.8) ** 2) + 0.8 * np.exp(-((t - 14.5) / 2.2) ** 2)
    shape[(t < 7) | (t >= 22)] = 0.0
    level = np.array([1.0, 0.95, 0.9, 0.9, 0.85, 0.5, 0.3])
    return (np.outer(level, shape) / shape.sum() * 4000).ravel()


def best_of(fn, repeat: int = 5) -> tuple[float, object]:
    """(fastest of ``repeat`` wall times, the result)."""
    return min(timeit.repeat(fn, number=1, repeat=repeat)), fn()


def diff_table(name: str, ours: dict[str, np.ndarray], theirs: dict[str, np.ndarray]) -> None:
    print(f"\n{name}: largest differences where both compute the figure")
    print(f"  {'figure':>14} {'values':>7} {'max abs':>10} {'max rel':>10} {'max rel (>1e-9)':>16}")
    for key, mine in ours.items():
        other = theirs[key]
        ok = np.isfinite(other) & np.isfinite(mine)
        a, b = mine[ok], other[ok]
        scale = np.maximum(np.abs(a), np.abs(b))
        rel = np.where(scale > 0, np.abs(a - b) / np.where(scale > 0, scale, 1), 0.0)
        big = scale > 1e-9
        print(f"  {key:>14} {ok.sum():>7} {np.abs(a - b).max():>10.2e} {rel.max():>10.2e} "
              f"{(rel[big].max() if big.any() else 0):>16.2e}")


def decimal_erlang_a(c: int, lam: float, mu: float, theta: float) -> tuple[float, float]:
    """(p_wait, abandon_rate) of M/M/c+M from 50-digit sums over the state distribution, the
    arbiter where the two libraries differ in relative terms."""
    with localcontext() as ctx:
        ctx.prec = 50
        lam, mu, theta = Decimal(lam), Decimal(mu), Decimal(theta)
        e = Decimal(0)
        for k in range(1, c + 1):  # E_k = (k/a)(1 + E_{k-1})
            e = Decimal(k) * mu / lam * (1 + e)
        x, y = c * mu / theta, lam / theta
        term, s0, s1, k = Decimal(1), Decimal(0), Decimal(0), 0
        while term > Decimal(10) ** -45 * (s0 + 1):
            s0, s1 = s0 + term, s1 + k * term
            k += 1
            term *= y / (x + k)
        return float(s0 / (e + s0)), float(s1 / (y * (e + s0)))


def arbitrate(agents, lam, mu, theta, ours, theirs) -> None:
    """The 50-digit values where cxsim and pyworkforce differ most in relative terms."""
    print("\nErlang A, the largest relative differences above 1e-9, against 50-digit sums")
    for key, col in (("p_wait", 0), ("abandon_rate", 1)):
        a, b = ours[key], theirs[key]
        rel = np.abs(a - b) / np.maximum(np.maximum(np.abs(a), np.abs(b)), 1e-300)
        rel[np.maximum(a, b) <= 1e-9] = 0
        for flat in np.argsort(rel, axis=None)[::-1][:2]:
            i, k = np.unravel_index(flat, a.shape)
            exact = decimal_erlang_a(int(agents[i, k]), lam[i], mu, theta)[col]
            print(f"  {key:>12} at load {lam[i] / mu:.3f}, {agents[i, k]} agents: cxsim "
                  f"{a[i, k]:.15e} (rel {abs(a[i, k] / exact - 1):.1e}), pyworkforce "
                  f"{b[i, k]:.15e} (rel {abs(b[i, k] / exact - 1):.1e}), exact {exact:.15e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one day instead of the week")
    args = parser.parse_args()
    calls = week_calls()
    open_ = calls > 0
    calls = calls[open_][:26] if args.quick else calls[open_]
    lam, mu, theta = calls / INTERVAL_MIN, 1 / AHT, 1 / PATIENCE
    base = requirement(lam, mu, Targets(service_level=0.8, sl_threshold=THRESHOLD)).agents
    agents = np.maximum(base[:, None] + OFFSETS[None, :], 1)
    n = agents.size
    print(f"{calls.size} open half-hours (of 336) x {OFFSETS.size} agent counts = {n} "
          f"evaluations per model; {calls.min():.0f}-{calls.max():.0f} calls per interval")

    t_c, fc = best_of(lambda: erlang_c_figures(agents, lam[:, None], mu, THRESHOLD))
    t_a, fa = best_of(lambda: erlang_a_figures(agents, lam[:, None], mu, theta, THRESHOLD))

    keys_c = {"p_wait": "waiting_probability", "service_level": "service_level",
              "occupancy": "achieved_occupancy"}
    keys_a = {"p_wait": "waiting_probability", "abandon_rate": "abandonment_probability",
              "service_level": "service_level", "mean_wait": "average_speed_of_answer",
              "occupancy": "achieved_occupancy"}
    theirs_c = {k: np.full(agents.shape, np.nan) for k in keys_c}
    theirs_a = {k: np.full(agents.shape, np.nan) for k in keys_a}
    stable = agents > (lam / mu)[:, None]
    t0 = time.perf_counter()
    for i, x in enumerate(calls):
        model = ErlangC(transactions=float(x), aht=AHT, asa=THRESHOLD, interval=INTERVAL_MIN)
        for k, c in enumerate(agents[i]):
            if stable[i, k]:
                for mine, method in keys_c.items():
                    theirs_c[mine][i, k] = getattr(model, method)(int(c))
    t_pc = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i, x in enumerate(calls):
        model = ErlangA(transactions=float(x), aht=AHT, asa=THRESHOLD, interval=INTERVAL_MIN,
                        patience=PATIENCE)
        for k, c in enumerate(agents[i]):
            for mine, method in keys_a.items():
                theirs_a[mine][i, k] = getattr(model, method)(int(c))
    t_pa = time.perf_counter() - t0

    diff_table("Erlang C", {k: getattr(fc, k) for k in keys_c}, theirs_c)
    diff_table("Erlang A", {k: getattr(fa, k) for k in keys_a}, theirs_a)
    arbitrate(agents, lam, mu, theta, {k: getattr(fa, k) for k in keys_a}, theirs_a)
    n_c = int(stable.sum())
    print("\ntime per evaluation (every figure of one interval at one count)")
    print(f"  Erlang C: cxsim {t_c / n * 1e6:8.2f} us (one call, {t_c * 1e3:.1f} ms for all), "
          f"pyworkforce {t_pc / n_c * 1e6:9.1f} us: ratio {t_pc / n_c / (t_c / n):7.0f}x")
    print(f"  Erlang A: cxsim {t_a / n * 1e6:8.2f} us (one call, {t_a * 1e3:.1f} ms for all), "
          f"pyworkforce {t_pa / n * 1e6:9.1f} us: ratio {t_pa / (t_a / n) / n:7.0f}x "
          "(target >= 100x)")

    t0 = time.perf_counter()
    theirs = np.array([ErlangC(transactions=float(x), aht=AHT, asa=THRESHOLD,
                               interval=INTERVAL_MIN).required_positions(0.8)["raw_positions"]
                       for x in calls])
    t_req = time.perf_counter() - t0
    t_ours, _ = best_of(lambda: requirement(lam, mu, Targets(service_level=0.8,
                                                              sl_threshold=THRESHOLD)))
    differ = np.flatnonzero(theirs != base)
    print(f"\nErlang C requirement for 80% within 20 s: the same count in "
          f"{calls.size - differ.size} of {calls.size} intervals; cxsim {t_ours * 1e3:.1f} ms, "
          f"pyworkforce {t_req * 1e3:.0f} ms")
    for i in differ[:5]:
        c = int(base[i])
        sl = erlang_c_figures([c - 1, c, c + 1], lam[i], mu, THRESHOLD).service_level
        print(f"  {calls[i]:.1f} calls (load {lam[i] / mu:.2f}): cxsim {c}, pyworkforce "
              f"{theirs[i]}; SL at {c - 1}/{c}/{c + 1} agents: "
              + "/".join(f"{v:.4f}" for v in sl))


if __name__ == "__main__":
    main()
