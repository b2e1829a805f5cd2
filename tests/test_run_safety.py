"""Run directories under interruption and concurrency (issue 22): only a finished run looks
finished (a marker with the hash of every result, written last); a starting run clears what
an earlier one left and the hidden .tmp files of killed atomic writes; resume trusts the
marker, not a file of the right name; corrupt SBC pieces are redone; workers die with their
parent; one writer per run directory.

The kill -9 matrix of the apps is slow (each case compiles and samples a model) and marked
so; the rest runs in the default suite.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from apprun import app_command, run_app

from cxsim.calibrate.sbc import load_results
from cxsim.fileio import FINISHED, begin_run, finish_run, finished_run, lock_run, write_json

ROOT = Path(__file__).resolve().parents[1]
TINY = ("horizon=2", "warmup=0", "replications=1", "population.customers=50")
LOCKER = ("import sys, time; from cxsim.fileio import lock_run; lock_run(sys.argv[1]); "
          "print('locked', flush=True); time.sleep(120)")


def _leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.rglob(".*.tmp"))


def test_finished_marker_covers_every_result_and_is_written_last(tmp_path: Path) -> None:
    out = tmp_path / "run"
    begin_run(out)
    write_json(out / "summary.json", {"a": 1})
    (out / "sub").mkdir()
    (out / "sub" / "x.png").write_bytes(b"png")
    assert finished_run(out) is None  # not marked yet: a kill here leaves it unfinished
    finish_run(out)
    assert set(finished_run(out)) == {"summary.json", "sub/x.png"}
    (out / "summary.json").write_text('{"a": 2}\n')  # hand-edited
    assert finished_run(out) is None
    finish_run(out)
    (out / "sub" / "x.png").write_bytes(b"pn")  # truncated
    assert finished_run(out) is None
    finish_run(out)
    (out / "sub" / "x.png").unlink()  # removed
    assert finished_run(out) is None


def test_a_starting_run_unmarks_clears_its_old_results_and_stale_tmp_files(tmp_path: Path
                                                                         ) -> None:
    out = tmp_path / "run"
    out.mkdir()
    for name in ("summary.json", "posterior.nc", "ppc_answers.png", "keep.txt",
                 ".summary.json.abc123.tmp"):
        (out / name).write_text("old")
    (out / "sims").mkdir()
    (out / "sims" / ".sim_00001.json.x.tmp").write_text("half")
    finish_run(out)
    begin_run(out, ("summary.json", "posterior.nc", "*.png"))
    assert not (out / FINISHED).exists()
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == \
        ["keep.txt", "sims"]
    assert _leftovers(out) == []


def test_a_second_writer_is_refused_while_the_first_lives(tmp_path: Path) -> None:
    """The lock is the kernel's (flock): held by a live process, released by its death,
    even by kill -9 - so a killed run never leaves a directory locked."""
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", LOCKER, str(out)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        done = run_app("simulate", *TINY, out=out, timeout=120)
        assert done.returncode == 2, done.stderr[-2000:]
        assert f"is in use by another run (pid {holder.pid})" in done.stderr
        assert "Traceback" not in done.stderr and not (out / "metrics.json").exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    lock_run(out)  # free again once its holder died by kill -9


def test_a_run_finishes_with_its_marker(tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = run_app("simulate", *TINY, out=out, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "metrics.json" in finished_run(out)


def test_sweep_resume_trusts_the_marker_not_a_hand_edited_metrics_file(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    args = [*TINY, "seed=1,2"]
    first = run_app("simulate", *args, out=sweep, multirun=True, timeout=300, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    edited = sweep / "0" / "metrics.json"
    doc = json.loads(edited.read_text())
    doc["service_level"] = 0.999  # overrides and config hash untouched: looks like the job's
    edited.write_text(json.dumps(doc))
    rerun = run_app("simulate", *args, out=sweep, multirun=True, timeout=300, cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    skipped = {int(n) for n in re.findall(r"skipping job (\d+)", rerun.stdout)}
    assert skipped == {1}
    assert json.loads(edited.read_text())["service_level"] != 0.999
    assert finished_run(sweep / "0") is not None


def test_corrupt_sbc_pieces_are_dropped_and_removed_to_be_redone(tmp_path: Path) -> None:
    sims = tmp_path / "sims"
    good = {"sim": 0, "ranks": {"a": 3}, "cover90": {"a": True}, "cover50": {"a": False}}
    write_json(sims / "sim_00000.json", good)
    text = json.dumps({**good, "sim": 1})
    (sims / "sim_00001.json").write_text(text[: len(text) // 2])  # truncated
    write_json(sims / "sim_00002.json", {**good, "sim": 7})  # not simulation 2
    (sims / "sim_00003.json").write_text("[1, 2]")
    assert [r["sim"] for r in load_results(tmp_path)] == [0]
    assert sorted(p.name for p in sims.iterdir()) == ["sim_00000.json"]


WORKER = ("import os, time; from cxsim.fileio import die_with_parent; "
          "die_with_parent(os.getppid()); time.sleep(120)")
PARENT = ("import subprocess, sys, time; c = subprocess.Popen([sys.executable, '-c', "
          f"{WORKER!r}]); print(c.pid, flush=True); time.sleep(120)")


def test_a_worker_dies_with_its_parent_killed_by_kill_9() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE,
                              text=True, cwd=ROOT)
    child = int(parent.stdout.readline())
    time.sleep(8)  # the worker imports cxsim and starts its watch
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.kill(child, signal.SIGKILL)
    pytest.fail("the worker outlived its parent by 10 s")


# -- the kill -9 matrix (slow) -----------------------------------------------------------

def _start(app: str, out: Path, *args: str, log: Path) -> subprocess.Popen:
    return subprocess.Popen(app_command(app, *args, out=out), cwd=ROOT, stdout=open(log, "w"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def _until(proc: subprocess.Popen, ready, log: Path, limit: float = 900) -> None:
    deadline = time.monotonic() + limit
    while not ready():
        assert proc.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, "the moment to kill never came"
        time.sleep(0.05)


def _kill(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _results(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if not p.name.startswith(".")
                  and p.suffix != ".log")


FIT = ("sampler.draws=10", "sampler.tune=10", "sampler.chains=2")


@pytest.mark.slow
def test_kill_9_of_a_fit_rerun_never_leaves_the_previous_results_looking_finished(
        tmp_path: Path) -> None:
    out, log = tmp_path / "fit", tmp_path / "fit.out"
    first = run_app("fit", *FIT, out=out, cwd=ROOT)
    assert first.returncode == 0 and finished_run(out) is not None, first.stderr[-2000:]
    # 1. killed while sampling: the old summary.json and posterior.nc are gone, no marker
    proc = _start("fit", out, *FIT, "sampler.seed=2", log=log)
    _until(proc, lambda: "micro-data model on" in log.read_text(), log)
    _kill(proc)
    assert not (out / FINISHED).exists() and finished_run(out) is None
    assert "summary.json" not in _results(out) and "posterior.nc" not in _results(out)
    # 2. killed between its data files and its figures: summary.json, no marker
    proc = _start("fit", out, *FIT, "sampler.seed=3", log=log)
    _until(proc, lambda: (out / "summary.json").exists(), log)
    _kill(proc)
    assert finished_run(out) is None
    # 3. the next run clears the stale .tmp files and finishes
    (out / ".posterior.nc.killed.tmp").write_text("half")
    again = run_app("fit", *FIT, out=out, cwd=ROOT)
    assert again.returncode == 0 and finished_run(out) is not None
    assert _leftovers(out) == []


@pytest.mark.slow
def test_kill_9_of_a_whatif_leaves_nothing_that_looks_finished(tmp_path: Path) -> None:
    out, log = tmp_path / "whatif", tmp_path / "whatif.out"
    args = ("study=simpler_returns", *TINY)
    first = run_app("whatif", *args, out=out, cwd=ROOT)
    assert first.returncode == 0 and finished_run(out) is not None, first.stderr[-2000:]
    proc = _start("whatif", out, *args, log=log)
    _until(proc, lambda: "cxsim-whatif:" in log.read_text(), log)
    _kill(proc)
    assert finished_run(out) is None and "whatif.json" not in _results(out)
    again = run_app("whatif", *args, out=out, cwd=ROOT)
    assert again.returncode == 0 and finished_run(out) is not None


SBC = ("mode=sbc", "sbc.n_sims=6", "sbc.draws=30", "sbc.tune=30", "sbc.customers=100",
       "sbc.ranks=9", "sbc.n_jobs=2")


@pytest.mark.slow
def test_kill_9_of_the_sbc_main_process_its_workers_die_and_a_truncated_piece_is_redone(
        tmp_path: Path) -> None:
    out, log = tmp_path / "sbc", tmp_path / "sbc.out"
    proc = _start("check", out, *SBC, log=log)
    _until(proc, lambda: len(list((out / "sims").glob("sim_*.json"))) >= 2, log)
    workers = [int(p) for p in subprocess.run(["pgrep", "-P", str(proc.pid)],
                                              capture_output=True, text=True).stdout.split()]
    os.kill(proc.pid, signal.SIGKILL)  # the main process only, as a user's kill would
    proc.wait()
    deadline = time.monotonic() + 15
    alive = workers
    while alive and time.monotonic() < deadline:
        time.sleep(0.5)
        alive = [w for w in alive if Path(f"/proc/{w}").exists()
                 and "Z" not in Path(f"/proc/{w}/stat").read_text().split()[2]]
    assert not alive, f"workers {alive} outlived the killed SBC process"
    piece = sorted((out / "sims").glob("sim_*.json"))[0]
    piece.write_text(piece.read_text()[:40])  # truncated
    again = run_app("check", *SBC, out=out, cwd=ROOT)
    assert again.returncode in (0, 1), again.stderr[-2000:]  # calibrated or not: it ran
    assert json.loads((out / "sbc.json").read_text())["n_sims"] == 6
    assert finished_run(out) is not None


@pytest.mark.slow
def test_kill_9_of_a_sweeps_main_process_its_joblib_workers_die(tmp_path: Path) -> None:
    """A multirun on the joblib launcher whose main process is killed (alone, as a crash
    would): its loky workers, which Hydra's launcher leaves running, exit within seconds."""
    proc = subprocess.Popen(app_command("simulate", "sweep=erlang", "cluster=local",
                                        "horizon=60", out=tmp_path / "sweep", multirun=True),
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def workers() -> list[int]:
        ps = subprocess.run(["ps", "-eo", "pid=,ppid=,args="], capture_output=True, text=True)
        return [int(line.split()[0]) for line in ps.stdout.splitlines()
                if int(line.split()[1]) == proc.pid and "loky" in line and "popen" in line]

    deadline = time.monotonic() + 300
    while len(workers()) < 2:
        assert proc.poll() is None and time.monotonic() < deadline, "no workers started"
        time.sleep(0.2)
    children = workers()
    time.sleep(5)  # the workers import cxsim and start their jobs (and watches)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 15
    alive = children
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in children if _alive(pid)]
        time.sleep(0.2)
    for pid in alive:
        os.kill(pid, signal.SIGKILL)
    assert not alive, f"workers {alive} outlived the sweep's main process by 15 s"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat").read_text().split()[2] if Path(f"/proc/{pid}").exists() \
        else "X"
    return status not in ("Z", "X")  # a zombie has exited
