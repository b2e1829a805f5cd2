"""Fit benchmark: cxsim's micro-data model against a plain PyMC model of the same likelihood.

    python benchmarks/fit.py [--quick] [--sizes 10000 50000 200000]

Data: the default scenario with survey rates raised (every episode and every customer gets
a survey, higher response), simulated by the engine and exported with ``observe``, with
``population.customers`` chosen from a small pilot's responses per customer so that about N
surveys are answered. cxsim's model (:func:`cxsim.calibrate.micro.model.build_model`, sampled with
nutpie as :func:`cxsim.calibrate.micro.fit.sample` does) is compared with ``plain_model.py``: the
same priors, one observed row per datum, PyMC's default ``OrderedLogistic(compute_p=True)``,
PyMC's own NUTS. Before timing, both likelihoods are evaluated at the same points of a small
data set, with an independent computation from the data frames (``tests/micro_reference.py``):
cxsim's must equal it, the plain model's must equal cxsim's within the rounding of its
``compute_p`` probabilities.

Each (size, model) fit runs in a FRESH subprocess (same seed, tune, draws and chains) that
reports: setup seconds (compilation, initialisation, trace conversion: wall - sampling),
sampling seconds (the sampler's own clock), min/median bulk ESS over the free parameters,
ESS/s = min bulk ESS / sampling seconds, divergences, and peak memory: VmHWM of the process,
and the peak summed PSS of the process and its children (PyMC's chains run in forked worker
processes; PSS shares common pages fairly). Before a full plain fit, a short pilot times a
leapfrog step; if the full fit would take longer than ``--plain-budget-min`` or need more
memory than is available, it is extrapolated instead, and the table says so. Target: ESS/s
of cxsim / plain >= 3x at every size, cxsim's peak memory < 4 GB at 200k. Always exits 0.

Measured 2026-11-22 (commit 7d5fcf1, 2 CPUs, load average ~1-2: nothing else sampling):

    N      model  sample s  min ESS  ESS/s  steps/it  ms/step  peak PSS GB
    10k    cxsim      13.5      382  28.41       7.1     3.17    0.46
    10k    plain      93.0      198   2.13      17.8     8.70    1.55   -> 13.3x
    50k    cxsim      42.5      475  11.18       6.5    10.93    0.55
    50k    plain     523.4      242   0.46      16.8    51.90    7.73   -> 24.1x
    200k   cxsim     166.1      302   1.82       6.0    46.25    0.97 (VmHWM 1.04)
    200k   plain   ~1891 (extrapolated: ~20 GB; ESS of 50k)   187.49   -> 14.2x

Where the ratio comes from: a leapfrog step of cxsim costs 2.7-4.7x less than plain's (the
sufficient statistics), and at these sizes cxsim samples as cxsim-fit does: centred churn
intercepts and nutpie's low-rank mass matrix at target_accept 0.9 (docs/calibrate.md,
"Sampling geometry"), which needs 2.5x fewer steps per iteration and mixes the correlated
cutpoints and weights better than PyMC's NUTS with its diagonal one (plain, same priors, same
target_accept). Before those two choices (commit 9282ab3, loaded machine) the ratio was 2.0x
at 10k and 1.0x at 50k and 200k: nutpie's diagonal adaptation mixed the non-centred churn
hierarchy poorly (min ESS 37-79, churn_mu).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

SEED = 20261122
SURVEYS = ("behaviour.post_survey_prob=1.0", "behaviour.periodic_survey_share=1.0",
           "behaviour.response_base=-1.5", "horizon=91", "replications=1")
PILOT_CUSTOMERS = 2000
PILOT_ITERS = (10, 5)  # tune, draws of the plain model's pilot
TARGET_RATIO, TARGET_GB = 3.0, 4.0
GB = 2**30
sys.path.append(str(Path(__file__).resolve().parent.parent / "tests"))  # micro_reference


# -- data ----------------------------------------------------------------------------------------
def simulate_data(customers: int):
    from cxsim.data.synthetic import observe
    from cxsim.engine import simulate
    from cxsim.spec import compose_scenario

    s = compose_scenario([*SURVEYS, f"population.customers={customers}", f"seed={SEED}"])
    return observe(simulate(s, keep_rows=True), s)


def arrays(data) -> dict:
    """What a fit subprocess needs: cxsim's prepared arrays, the plain model's queries."""
    from plain_model import full_queries

    from cxsim.calibrate.micro.fit import FitSettings, anchor_of
    from cxsim.calibrate.micro.prepare import prepare

    prep = prepare(data)
    return {"prep": prep, "full": full_queries(data, prep),
            "anchor": anchor_of(data, FitSettings())}


def describe(a: dict) -> str:
    p, f = a["prep"], a["full"]
    sent = p.post_episode.size + f.nps_q.customer.size
    return (f"customers {p.n_customers:,}, episodes {p.steps.size:,}, responses "
            f"{p.raw['responses']:,} (post {p.ces.size:,} + NPS {f.nps_value.size:,}) of "
            f"{sent:,} surveys, churn rows {f.churn_q.customer.size:,}, pairs "
            f"{f.nps_q.pair_query.size + f.churn_q.pair_query.size:,}")


# -- the log-density check -----------------------------------------------------------------------
def logp_check(a: dict, data) -> None:
    """cxsim's likelihood against an independent computation, and the plain model's against it.

    At three points (the initial point, and it perturbed by N(0, 0.1) and N(0, 0.3) on the
    unconstrained scale): cxsim's likelihood term must equal ``tests/micro_reference.py``'s
    computation from the data frames to 1e-9 relative; the plain model's log-density must equal
    cxsim's (same priors) up to the rounding of PyMC's ``compute_p``: it takes a difference of
    two sigmoids, so an answer of probability p carries an absolute error of about 2**-52 in p,
    i.e. 2**-52/p in log p (an NPS answer of p ~ 1e-16 is off by ~0.5). The bound is that sum
    over every answer, times 4; gradients are compared where the bound is negligible."""
    from micro_reference import ModelFunctions, reference_loglik
    from plain_model import build_plain_model

    from cxsim.calibrate.micro.model import build_model

    prep, anchor = a["prep"], a["anchor"]
    cx = build_model(prep, anchor, 0.5)
    plain = build_plain_model(prep, a["full"], anchor, 0.5)
    names = [v.name for v in cx.value_vars]
    assert names == [v.name for v in plain.value_vars], "different parameters"
    rng = np.random.default_rng(SEED)
    x0 = cx.initial_point()
    points = [x0, *({k: v + rng.normal(0, sd, np.shape(v)) for k, v in x0.items()}
                    for sd in (0.1, 0.3))]
    ref = ModelFunctions(cx, prep.segments, anchor)
    lc, lp = cx.compile_logp(), plain.compile_logp()
    gc, gp = cx.compile_dlogp(), plain.compile_dlogp()
    probs = [plain[f"{k}_probs"] for k in ("ces", "csat", "nps")]
    fn = plain.compile_fn(plain.replace_rvs_by_values(probs), inputs=plain.value_vars,
                          point_fn=True, on_unused_input="ignore")
    ys = (prep.ces, prep.csat, a["full"].nps_value)
    print(f"log-density check ({describe(a)}):", flush=True)
    ok_ref = ok_plain = True
    for i, x in enumerate(points):
        want = reference_loglik(data, ref.theta(x), anchor)
        d_ref = ref.loglik(x) - want
        d_plain = float(lc(x) - lp(x))
        p = np.concatenate([pr[np.arange(y.size), y] for pr, y in zip(fn(x), ys, strict=True)])
        bound = 4 * float(np.sum(2.0**-52 / p)) + 1e-9 * abs(want)
        g1, g2 = gc(x), gp(x)
        grad = float(np.abs(g1 - g2).max())
        checked = bound < 1e-6 * abs(want)
        ok_ref &= abs(d_ref) < 1e-9 * abs(want)
        ok_plain &= abs(d_plain) <= bound and (not checked or grad < 1e-6 * np.abs(g1).max())
        print(f"  x{i}: loglik {want:.2f}; cxsim - reference {d_ref:.1e}; cxsim - plain "
              f"{d_plain:.1e} (plain's rounding bound {bound:.1e}, smallest answer probability "
              f"{p.min():.1e}); max |gradient difference| {grad:.1e} of {np.abs(g1).max():.1e}"
              f"{'' if checked else ' (not compared: rounding)'}", flush=True)
    print(f"  -> cxsim {'EQUALS' if ok_ref else 'DIFFERS FROM'} the independent reference; "
          f"plain {'equals' if ok_plain else 'DIFFERS FROM'} cxsim within its rounding "
          f"-> {'SAME likelihood' if ok_ref and ok_plain else 'MISMATCH'}", flush=True)


# -- one fit, in a fresh process -----------------------------------------------------------------
def _pss_tree(pid: int) -> int:
    """Summed PSS (bytes) of ``pid`` and its descendants."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def worker(model: str, path: str, tune: int, draws: int, chains: int, pilot: bool) -> None:
    peak = [0]
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(0.5):
            peak[0] = max(peak[0], _pss_tree(os.getpid()))

    threading.Thread(target=poll, daemon=True).start()
    import arviz as az
    import pymc as pm
    from plain_model import build_plain_model, probs_per_draw

    from cxsim.calibrate.micro.fit import FitSettings, sampler_options
    from cxsim.calibrate.micro.model import build_model, centred_churn
    from cxsim.spec.config import Priors

    a = pickle.loads(Path(path).read_bytes())
    t0 = time.perf_counter()
    # cxsim samples as cxsim-fit does; plain with PyMC's NUTS at the same target_accept.
    centred = centred_churn(a["prep"], Priors())
    options = sampler_options(FitSettings(chains=chains), centred)
    if model == "cxsim":
        m = build_model(a["prep"], a["anchor"], 0.5, centred=centred)
    else:
        m = build_plain_model(a["prep"], a["full"], a["anchor"], 0.5)
        options = {"nuts_sampler": "pymc", "target_accept": options["target_accept"],
                   "cores": min(chains, 2)}
    tree = pm.sample(draws=draws, tune=tune, chains=chains, random_seed=SEED, model=m,
                     progressbar=False, compute_convergence_checks=False,
                     discard_tuned_samples=not pilot, **options)
    wall = time.perf_counter() - t0
    sampling = float(tree["posterior"].attrs["sampling_time"])
    stats = [tree[g].to_dataset() for g in ("sample_stats", "warmup_sample_stats") if g in tree]
    steps = sum(float(s["n_steps"].sum()) for s in stats)
    names = [v.name for v in m.free_RVs]
    ess = az.ess(tree, var_names=names)
    ess = ess.to_dataset() if hasattr(ess, "to_dataset") else ess
    labels = [f"{n}{list(i) if len(i) else ''}" for n in names for i in np.ndindex(ess[n].shape)]
    ess = np.concatenate([np.ravel(ess[n].values) for n in names])
    stop.set()
    peak[0] = max(peak[0], _pss_tree(os.getpid()))
    status = Path("/proc/self/status").read_text()
    hwm = next(int(x.split()[1]) * 1024 for x in status.splitlines() if x.startswith("VmHWM"))
    out = {"setup": wall - sampling, "sampling": sampling, "ess_min": float(ess.min()),
           "ess_median": float(np.median(ess)), "worst": labels[int(ess.argmin())],
           "steps": steps, "iters": tune + draws, "chains": chains,
           "divergences": int(sum(int(s["diverging"].sum()) for s in stats[:1])),
           "hwm": hwm, "pss": peak[0], "probs_per_draw": probs_per_draw(a["prep"], a["full"])}
    print("RESULT " + json.dumps(out), flush=True)


def run_fit(model: str, path: Path, tune: int, draws: int, chains: int,
            pilot: bool = False) -> dict:
    cmd = [sys.executable, __file__, "--worker", model, str(path), str(tune), str(draws),
           str(chains), str(int(pilot))]
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    lines = [x for x in r.stdout.splitlines() if x.startswith("RESULT ")]
    if r.returncode != 0 or not lines:
        print(f"  {model} fit failed (exit {r.returncode}):\n{r.stderr[-3000:]}", flush=True)
        return {"failed": True}
    out = json.loads(lines[-1][7:])
    out["process"] = time.perf_counter() - t
    return out


def mem_available() -> int:
    line = next(x for x in Path("/proc/meminfo").read_text().splitlines()
                if x.startswith("MemAvailable"))
    return int(line.split()[1]) * 1024


def plain_fit(path: Path, tune: int, draws: int, chains: int, budget_s: float,
              reference: dict | None, cx: dict) -> dict:
    """A full plain fit if the pilot says it fits in time and memory, else an extrapolation.

    Extrapolated sampling time = (pilot seconds per leapfrog step of a chain) x (steps per
    iteration of the reference: the full plain fit at the previous size, else the larger of
    the pilot's and cxsim's at this size) x (tune + draws): a LOWER bound in practice, as
    PyMC's trees grow with N; its ESS is the reference's min ESS (else cxsim's at this size);
    memory = pilot peak + the compute_p draws a full trace adds (PyMC stores tuning draws)."""
    pt, pd = PILOT_ITERS
    pilot = run_fit("plain", path, pt, pd, chains, pilot=True)
    if pilot.get("failed"):
        return pilot
    per_step = pilot["sampling"] / (pilot["steps"] / chains)
    def per_iter(r: dict) -> float:
        return r["steps"] / chains / r["iters"]

    # A 15-iteration pilot's trees say little (early tuning): never assume fewer steps per
    # iteration than cxsim's sampler needed on the same data.
    steps_per_iter = per_iter(reference) if reference else max(per_iter(pilot), per_iter(cx))
    est_s = per_step * steps_per_iter * (tune + draws)
    extra = pilot["probs_per_draw"] * 8 * chains * (tune + draws - pt - pd)
    est_mem = pilot["pss"] + extra
    print(f"  plain pilot ({pt}+{pd} iterations): {per_step * 1e3:.2f} ms per leapfrog step, "
          f"{steps_per_iter:.1f} steps/iteration "
          f"({'previous size' if reference else 'pilot/cxsim'}) -> full fit "
          f"~{est_s / 60:.1f} min, ~{est_mem / GB:.1f} GB", flush=True)
    if est_s <= budget_s and est_mem < 0.8 * (mem_available() + pilot["pss"]):
        return run_fit("plain", path, tune, draws, chains)
    ess = (reference or cx).get("ess_min", float("nan"))
    return {"setup": pilot["setup"], "sampling": est_s, "ess_min": ess,
            "ess_median": float("nan"), "divergences": -1, "hwm": pilot["hwm"],
            "pss": est_mem, "extrapolated": True, "pilot": pilot, "chains": chains,
            "steps": steps_per_iter * (tune + draws) * chains, "iters": tune + draws,
            "note": f"EXTRAPOLATED from a {pt}+{pd}-iteration pilot; ESS from "
                    f"{'plain at the previous size' if reference else 'cxsim at this size'}"}


# -- report --------------------------------------------------------------------------------------
HEAD = (f"{'N':>7} {'responses':>9} {'model':>6} {'setup s':>8} {'sample s':>9} {'minESS':>7} "
        f"{'medESS':>7} {'ESS/s':>7} {'div':>4} {'steps/it':>8} {'ms/step':>8} {'VmHWM GB':>9} "
        f"{'PSS GB':>7}")


def row(n: int, responses: int, model: str, r: dict) -> str:
    if r.get("failed"):
        return f"{n:>7} {responses:>9} {model:>6}  FAILED"
    rate = r["ess_min"] / r["sampling"]
    div = "?" if r["divergences"] < 0 else str(r["divergences"])
    flag = "  * " + r["note"] if r.get("extrapolated") else f"  (min ESS: {r['worst']})"
    per_chain = r["steps"] / r["chains"]
    return (f"{n:>7} {responses:>9} {model:>6} {r['setup']:>8.1f} {r['sampling']:>9.1f} "
            f"{r['ess_min']:>7.0f} {r['ess_median']:>7.0f} {rate:>7.2f} {div:>4} "
            f"{per_chain / r['iters']:>8.1f} {1e3 * r['sampling'] / per_chain:>8.2f} "
            f"{r['hwm'] / GB:>9.2f} {r['pss'] / GB:>7.2f}{flag}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="2k responses, short chains")
    ap.add_argument("--sizes", type=int, nargs="+", default=None, help="answered surveys")
    ap.add_argument("--plain-budget-min", type=float, default=15.0,
                    help="run the plain model in full only if estimated below this")
    ap.add_argument("--tune", type=int, help="tuning iterations (default 300, quick 100)")
    ap.add_argument("--draws", type=int, help="draws per chain (default 300, quick 100)")
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--worker", nargs=6, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        m, path, tune, draws, chains, pilot = args.worker
        return worker(m, path, int(tune), int(draws), int(chains), pilot == "1")
    sizes = args.sizes or ([2000] if args.quick else [10000, 50000, 200000])
    tune = args.tune or (100 if args.quick else 300)
    draws, chains = args.draws or (100 if args.quick else 300), args.chains
    print(f"fit benchmark: sizes {sizes}, {chains} chains x ({tune} tune + {draws} draws), "
          f"seed {SEED}; cxsim = nutpie on build_model, plain = pm.sample(nuts_sampler='pymc')"
          f"; {os.cpu_count()} CPUs, {mem_available() / GB:.1f} GB available", flush=True)

    t = time.perf_counter()
    pilot_data = simulate_data(PILOT_CUSTOMERS)
    pilot = arrays(pilot_data)
    per_customer = pilot["prep"].raw["responses"] / pilot["prep"].n_customers
    print(f"pilot: {per_customer:.3f} responses per customer ({time.perf_counter() - t:.1f} s)")
    logp_check(pilot, pilot_data)

    results, reference = [], None
    with tempfile.TemporaryDirectory(prefix="cxsim-fitbench-") as tmp:
        for n in sizes:
            t = time.perf_counter()
            a = arrays(simulate_data(math.ceil(n / per_customer)))
            responses = a["prep"].raw["responses"]
            print(f"\nN={n}: {describe(a)} ({time.perf_counter() - t:.1f} s to simulate)",
                  flush=True)
            path = Path(tmp) / f"data{n}.pkl"
            path.write_bytes(pickle.dumps(a))
            del a
            cx = run_fit("cxsim", path, tune, draws, chains)
            print("  " + row(n, responses, "cxsim", cx), flush=True)
            plain = plain_fit(path, tune, draws, chains, 60 * args.plain_budget_min,
                              reference, cx)
            print("  " + row(n, responses, "plain", plain), flush=True)
            if not plain.get("failed") and not plain.get("extrapolated"):
                reference = plain
            results.append((n, responses, cx, plain))

    print("\n" + HEAD)
    for n, responses, cx, plain in results:
        print(row(n, responses, "cxsim", cx))
        print(row(n, responses, "plain", plain))
    print()
    for n, _, cx, plain in results:
        if cx.get("failed") or plain.get("failed"):
            print(f"N={n}: a fit failed, no ratio")
            continue
        ratio = (cx["ess_min"] / cx["sampling"]) / (plain["ess_min"] / plain["sampling"])
        verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
        extra = " (plain extrapolated)" if plain.get("extrapolated") else ""
        print(f"N={n}: ESS/s cxsim/plain = {ratio:.1f}x{extra}, {verdict} the "
              f"{TARGET_RATIO:.0f}x target; peak memory cxsim {cx['pss'] / GB:.2f} GB PSS / "
              f"{cx['hwm'] / GB:.2f} GB VmHWM, plain {plain['pss'] / GB:.2f} GB PSS")
    big = [r for r in results if r[0] >= 200000 and not r[2].get("failed")]
    for n, _, cx, _ in big:
        ok = "meets" if max(cx["pss"], cx["hwm"]) < TARGET_GB * GB else "MISSES"
        print(f"peak memory of cxsim at N={n}: {max(cx['pss'], cx['hwm']) / GB:.2f} GB, {ok} "
              f"the < {TARGET_GB:.0f} GB target")


if __name__ == "__main__":
    main()
