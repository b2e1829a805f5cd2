"""Contact-log benchmark (must-show 5): ingest and calibrate a 1M-contact log.

    python benchmarks/calibrate_log.py [--contacts 1000000] [--format technion|canonical]

The log is generated here (vectorised NumPy, not timed) in the Technion call-centre format:
tab-separated, CRLF, ``h:mm:ss`` times on a ``yymmdd`` date, ``0:00:00`` sentinels, VRU
hang-ups and phantom calls to set apart, calls crossing midnight, a missing week. Each
measurement runs in a fresh process: cxsim's ``read_contacts`` + ``calibrate_operations``
(pooled and by reason), against the baseline of the same file read by ``pyarrow.csv`` alone
(every column as text, no parsing). Peak memory is the process's VmHWM (resident high-water
mark, imports included). Targets: under 60 s and under 2 GB; the ratios to the baseline are
printed too. The script reports; it always exits 0.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20261118
FIELDS = ("vru+line", "call_id", "customer_id", "priority", "type", "date", "vru_entry",
          "vru_exit", "vru_time", "q_start", "q_exit", "q_time", "outcome", "ser_start",
          "ser_exit", "ser_time", "server")
TYPES = np.array(["PS", "PE", "IN", "NE", "NW", "TT"])


def _hms(seconds: np.ndarray) -> pd.Series:
    s = pd.Series(np.asarray(seconds, dtype=np.int64) % 86400)
    return (s // 3600).astype(str) + ":" + (s // 60 % 60).astype(str).str.zfill(2) + ":" + (
        s % 60).astype(str).str.zfill(2)


def generate(n: int, path: Path, fmt: str) -> dict:
    """A log of ``n`` rows (about 1% VRU hang-ups, 0.1% phantoms) over a year, day 120-126
    missing; returns what was written."""
    rng = np.random.default_rng(SEED)
    days = 365
    per_day = n / (days - 7)
    day = np.repeat(np.arange(days), rng.poisson(per_day, days))
    day = day[(day < 120) | (day > 126)][:n]
    n = day.size
    tod = np.clip(rng.normal(13.5 * 3600, 3.5 * 3600, n), 7 * 3600, 86399)
    arrival = np.sort(day * 86400.0 + np.round(tod))
    vru = rng.integers(3, 60, n)
    queued = rng.random(n) < 0.6
    wait = np.where(queued, np.round(rng.exponential(90, n)), 0)
    patience = rng.weibull(0.8, n) * 600
    abandon = queued & (patience < wait)
    wait = np.where(abandon, np.round(patience), wait)
    handle = np.round(np.exp(np.log(180) + 1.0 * rng.standard_normal(n)))
    kind = rng.random(n)
    hang_vru, phantom = kind < 0.01, (kind > 0.01) & (kind < 0.011)
    served = ~abandon & ~hang_vru & ~phantom
    entry = arrival - vru
    q_start, q_exit = arrival, arrival + wait
    s0, s1 = q_exit, q_exit + handle
    never = ~queued | hang_vru | phantom
    zero = "0:00:00"
    cols = {
        "vru+line": pd.Series(rng.integers(1, 7, n)).map("AA0{}".format) + pd.Series(
            rng.integers(1, 17, n)).astype(str).str.zfill(2),
        "call_id": pd.Series(np.arange(n) + 10_000).astype(str),
        "customer_id": pd.Series(np.where(rng.random(n) < 0.1, 0, rng.integers(1, n // 4, n))
                                 ).astype(str),
        "priority": pd.Series(rng.integers(0, 3, n)).astype(str),
        "type": pd.Series(TYPES[rng.integers(0, 6, n)]),
        "date": pd.Series(pd.to_datetime("1999-01-01") + pd.to_timedelta(entry // 86400,
                                                                         unit="D")
                          ).dt.strftime("%y%m%d"),
        "vru_entry": _hms(entry), "vru_exit": _hms(arrival), "vru_time": pd.Series(vru).astype(
            str),
        "q_start": _hms(q_start).where(~never, zero), "q_exit": _hms(q_exit).where(~never, zero),
        "q_time": pd.Series(np.where(never, 0, wait).astype(int)).astype(str),
        "outcome": pd.Series(np.where(phantom, "PHANTOM", np.where(served, "AGENT", "HANG"))),
        "ser_start": _hms(s0).where(served, zero), "ser_exit": _hms(s1).where(served, zero),
        "ser_time": pd.Series(np.where(served, handle, 0).astype(int)).astype(str),
        "server": pd.Series(np.array([f"AGENT{i:02d}" for i in range(40)])[
            rng.integers(0, 40, n)]).where(served, "NO_SERVER"),
    }
    frame = pd.DataFrame(cols)
    if fmt == "technion":
        frame.to_csv(path, sep="\t", index=False, lineterminator="\r\n")
    else:  # the canonical table of the same calls (minutes since 1999-01-01)
        keep = ~hang_vru & ~phantom
        canon = pd.DataFrame({
            "contact_id": cols["call_id"], "customer_id": cols["customer_id"].replace("0", ""),
            "channel": "phone", "queue": cols["type"], "arrival": arrival / 60,
            "queue_entry": np.where(never, np.nan, q_start / 60),
            "queue_exit": np.where(never, np.nan, q_exit / 60),
            "service_start": np.where(served, s0 / 60, np.nan),
            "service_end": np.where(served, s1 / 60, np.nan),
            "outcome": np.where(served, "served", "abandoned"),
            "agent_id": cols["server"].where(served, ""), "case_id": "", "reason": cols["type"],
            "priority": cols["priority"], "transfer_from": ""})[keep]
        canon.to_csv(path, index=False)
    return {"rows": n, "bytes": path.stat().st_size, "vru_hangs": int(hang_vru.sum()),
            "phantoms": int(phantom.sum())}


def _hwm() -> int:
    with open("/proc/self/status") as f:
        return next(int(x.split()[1]) * 1024 for x in f if x.startswith("VmHWM"))


def child(path: str, fmt: str, what: str) -> None:
    """In a fresh process: the timed work, then its figures as one JSON line."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from cxsim.calibrate.operations import calibrate_operations
    from cxsim.data.contacts import read_contacts

    mapping = "technion" if fmt == "technion" else "canonical"
    overrides = None if fmt == "technion" else {"origin": "1999-01-01T00:00:00"}
    t0 = time.perf_counter()
    out: dict = {}
    if what == "baseline":
        sep = "\t" if fmt == "technion" else ","
        header = Path(path).open().readline().rstrip("\r\n").split(sep)
        table = pacsv.read_csv(path, parse_options=pacsv.ParseOptions(delimiter=sep),
                               convert_options=pacsv.ConvertOptions(
                                   column_types=dict.fromkeys(header, pa.string())))
        out["rows"] = table.num_rows
        out["read_s"] = time.perf_counter() - t0
    else:
        log = read_contacts(path, mapping, overrides=overrides)
        t1 = time.perf_counter()
        pooled = calibrate_operations(log, by=None)
        t2 = time.perf_counter()
        by_reason = calibrate_operations(log, by="reason")
        t3 = time.perf_counter()
        doc = json.dumps(by_reason.to_json(), allow_nan=False)
        q = pooled.to_json()["queues"]["all"]
        out = {"read_s": t1 - t0, "calibrate_pooled_s": t2 - t1, "calibrate_by_reason_s": t3 - t2,
               "contacts": len(log.contacts), "excluded": log.counts["excluded"],
               "missing_days": int((~log.calendar.observed).sum()),
               "crossed_midnight": log.counts["notes"]["crossed_midnight"],
               "json_bytes": len(doc), "handle": q["handle"]["distribution"],
               "handle_mean_min": q["handle"]["mean_min"],
               "patience": q["patience"]["distribution"],
               "censored_share": q["patience"]["censored_share"]}
    out["total_s"] = time.perf_counter() - t0
    out["hwm"] = _hwm()
    print(json.dumps(out))


def run_child(path: Path, fmt: str, what: str) -> dict:
    cmd = [sys.executable, __file__, "--child", what, "--format", fmt, str(path)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--contacts", type=int, default=1_000_000)
    ap.add_argument("--format", choices=("technion", "canonical"), default="technion")
    ap.add_argument("--child", choices=("baseline", "cxsim"), help=argparse.SUPPRESS)
    ap.add_argument("path", nargs="?", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.path, args.format, args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"log.{'txt' if args.format == 'technion' else 'csv'}"
        t = time.perf_counter()
        made = generate(args.contacts, path, args.format)
        print(f"generated {made['rows']:,} rows ({made['bytes'] / 2**20:.0f} MiB, "
              f"{args.format} format) in {time.perf_counter() - t:.1f} s")
        base = run_child(path, args.format, "baseline")
        ours = run_child(path, args.format, "cxsim")
    gib = 2**30
    print(f"\n  {'':<34}{'seconds':>10}{'peak RSS':>12}")
    print(f"  {'baseline: pyarrow.csv, text only':<34}{base['total_s']:>10.2f}"
          f"{base['hwm'] / gib:>10.2f} GB")
    print(f"  {'cxsim: read_contacts':<34}{ours['read_s']:>10.2f}")
    print(f"  {'cxsim: calibrate_operations pooled':<34}{ours['calibrate_pooled_s']:>10.2f}")
    print(f"  {'cxsim: ... by reason (6 groups)':<34}{ours['calibrate_by_reason_s']:>10.2f}")
    print(f"  {'cxsim: total':<34}{ours['total_s']:>10.2f}{ours['hwm'] / gib:>10.2f} GB")
    print(f"\n  contacts kept {ours['contacts']:,}; excluded {ours['excluded']}; missing days "
          f"{ours['missing_days']}; crossed midnight {ours['crossed_midnight']:,}")
    print(f"  handle {ours['handle']} (mean {ours['handle_mean_min']:.2f} min), patience "
          f"{ours['patience']} ({ours['censored_share']:.0%} censored); calibration.json part "
          f"{ours['json_bytes'] / 1024:.0f} KiB")
    print("\nSummary (measured in this run)")
    for name, value, target, unit in (("time, read + calibrate", ours["total_s"], 60.0, "s"),
                                      ("peak memory", ours["hwm"] / gib, 2.0, "GB")):
        print(f"  {name:<26}{value:>8.2f} {unit}  target < {target:g} {unit}: "
              f"{'PASS' if value < target else 'FAIL'}")
    print(f"  ratio to the text-only read: time {ours['total_s'] / base['total_s']:.1f}x, "
          f"memory {ours['hwm'] / base['hwm']:.1f}x")


if __name__ == "__main__":
    main()
