"""Why two fits of the same data and seed differed, and what each cure costs.

    python benchmarks/fit_determinism.py [--customers 3000] [--calls 200]

The micro model's data are constants of its PyTensor graph, so the numba code nutpie samples
with is compiled per data set and cached on disk (PyTensor's ``base_compiledir``). For each
data set (the bundled example, and one simulated with ``--customers`` customers and every
survey sent, as ``benchmarks/fit.py`` makes them) and for numba's fastmath on and off, a
FRESH subprocess compiles the model into an empty cache directory ("cold"), then another
compiles it again from that directory ("warm"). Each reports the compile seconds, the
logp+gradient at 50 fixed points (a hash of their bits) and the median time per call. A last
subprocess compiles the simulated data with the cache the example left ("other data") to show
that a cache serves only the same data.

Reads: whether cold and warm give the same bits for each fastmath setting, and the cost of
each cure, as ratios against the current settings measured in the same run: fastmath off
(gradient time off/on) or the numba cache off (every fit pays the cold compile; measured
as cold - warm compile seconds). Always exits 0.

Measured 2026-12-02 (2 CPUs shared with other jobs, load average 3-5; 11 min):

                data  fastmath  cold==warm   ms/grad  off/on  cold-warm compile s
             example      True       False     0.198    1.00                 71.3
             example     False        True     0.279    1.40                 75.2
      3000 customers      True       False     1.094    1.00                 78.8
      3000 customers     False        True     1.198    1.09                122.0

(example: 371 answers; 3000 customers: 5,098 answers. The simulated data compiled with the
example's cache in 56 s against 102 s cold: only the ops they share were cached.)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def worker(path: str, calls: int) -> None:
    import nutpie

    from cxsim.calibrate.micro.fit import FitSettings, anchor_of
    from cxsim.calibrate.micro.model import build_model, centred_churn
    from cxsim.calibrate.micro.prepare import prepare

    data = pickle.loads(Path(path).read_bytes())
    s = FitSettings()
    prep = prepare(data, s.churn_period_days, s.fatigue_days)
    centred = centred_churn(prep, s.priors)
    model = build_model(prep, anchor_of(data, s), s.anchor_base, s.priors, centred=centred)
    t0 = time.perf_counter()
    compiled = nutpie.compile_pymc_model(model, backend="numba")
    compile_s = time.perf_counter() - t0
    x0 = compiled.initial_point_func(7)
    points = x0 + 0.1 * np.random.default_rng(0).standard_normal((50, x0.size))
    bits = b"".join(np.float64(lp).tobytes() + g.tobytes()
                    for lp, g in (compiled.logp_func(x) for x in points))
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        for i in range(calls):
            compiled.logp_func(points[i % 50])
        times.append((time.perf_counter() - t0) / calls)
    print(json.dumps({"compile_s": compile_s, "ms": 1e3 * float(np.median(times)),
                      "bits": hashlib.sha256(bits).hexdigest()[:12], "dim": int(x0.size)}))


def run(path: Path, cache: Path, fastmath: bool, calls: int) -> dict:
    env = {**os.environ,
           "PYTENSOR_FLAGS": f"base_compiledir={cache},numba__fastmath={fastmath}"}
    done = subprocess.run([sys.executable, __file__, "--worker", str(path), "--calls",
                           str(calls)], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=3000)
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.calls)
        return

    sys.path.insert(0, str(HERE))
    from fit import simulate_data

    from cxsim.data import load_observed
    from cxsim.data.synthetic import example_path

    with tempfile.TemporaryDirectory(prefix="cxdet") as tmp:
        tmp = Path(tmp)
        sets = {"example": load_observed(example_path()),
                f"{args.customers} customers": simulate_data(args.customers)}
        paths = {}
        for name, data in sets.items():
            paths[name] = tmp / f"{len(paths)}.pkl"
            paths[name].write_bytes(pickle.dumps(data))
            print(f"{name}: {len(data.customers):,} customers, {len(data.episodes):,} "
                  f"episodes, {int(data.surveys['answered'].sum()):,} answers", flush=True)
        rows = []
        for name, path in paths.items():
            for fastmath in (True, False):
                cache = tmp / f"cache-{name.split()[0]}-{fastmath}"
                for state in ("cold", "warm"):
                    r = run(path, cache, fastmath, args.calls)
                    rows.append({"data": name, "fastmath": fastmath, "cache": state, **r})
                    print(f"  {name:>16} fastmath={fastmath!s:5} {state}: compile "
                          f"{r['compile_s']:6.1f} s, {r['ms']:.3f} ms/gradient, bits "
                          f"{r['bits']}", flush=True)
        other = run(paths[f"{args.customers} customers"], tmp / "cache-example-True", True,
                    args.calls)
        print(f"  {args.customers} customers with the example's cache: compile "
              f"{other['compile_s']:.1f} s (cold: the data are in the cache key)\n")

        def pick(data, fastmath, cache):
            return next(r for r in rows if (r["data"], r["fastmath"], r["cache"])
                        == (data, fastmath, cache))

        print(f"{'data':>16}  {'fastmath':>8}  cold==warm  {'ms/grad':>8}  off/on  "
              f"{'cold-warm compile s':>19}")
        for name in paths:
            on = pick(name, True, "warm")
            for fastmath in (True, False):
                cold, warm = pick(name, fastmath, "cold"), pick(name, fastmath, "warm")
                ratio = warm["ms"] / on["ms"]
                print(f"{name:>16}  {fastmath!s:>8}  {cold['bits'] == warm['bits']!s:>10}  "
                      f"{warm['ms']:8.3f}  {ratio:6.2f}  "
                      f"{cold['compile_s'] - warm['compile_s']:19.1f}")


if __name__ == "__main__":
    main()
