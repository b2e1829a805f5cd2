"""What patience laws and redials cost the FIFO fast path, as ratios to the default.

    python benchmarks/patience_redial.py [--quick]

M/M/10+G at rho 0.9, mean patience 2 min: the default (exponential patience, no redials)
against Weibull and empirical patience, and against redials on (probability 0.5, limit 3);
each best of a few repetitions taken in turn, in the same run. Ratios are time / default
time (1.0: no cost). The script reports; it always exits 0.
"""

from __future__ import annotations

import argparse
import time

from cxsim.engine import simulate
from cxsim.spec import compose_scenario

VARIANTS = {
    "default (exponential, no redials)": [],
    "weibull patience cv 0.5": ["touchpoints.phone.patience.dist=weibull",
                                "touchpoints.phone.patience.cv=0.5"],
    "empirical patience (4 values)": ["touchpoints.phone.patience.dist=empirical",
                                      "touchpoints.phone.patience.values=[0.5,1,2,4]"],
    "redials on (p 0.5, limit 3)": ["touchpoints.phone.redial.prob=0.5"],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a shorter horizon, fewer repetitions")
    args = ap.parse_args()
    days, reps = (2.0, 2) if args.quick else (10.0, 5)
    base = ["experiment=erlang", "queue.agents=10", "queue.arrival_rate=9",
            "queue.patience_rate=0.5", f"horizon={days}", "warmup=0.25", "replications=1"]
    print(f"M/M/10+G, rho 0.9, {days:g} days (~{9 * 1440 * days:,.0f} calls), best of {reps}")
    print(f"  {'variant':36s} {'seconds':>8s} {'calls':>9s} {'abandon':>8s} {'ratio':>6s}")
    scenarios = {name: compose_scenario(base + extra) for name, extra in VARIANTS.items()}
    best = dict.fromkeys(VARIANTS, float("inf"))
    metrics = {}
    # Round robin, so that a shared machine's changing load hits every variant alike.
    for _ in range(reps):
        for name, s in scenarios.items():
            t0 = time.perf_counter()
            metrics[name] = simulate(s).metrics
            best[name] = min(best[name], time.perf_counter() - t0)
    first = best[next(iter(VARIANTS))]
    for name, m in metrics.items():
        print(f"  {name:36s} {best[name]:8.3f} {m['volume']:9,.0f} {m['abandon_rate']:8.4f} "
              f"{best[name] / first:6.2f}")

if __name__ == "__main__":
    main()
