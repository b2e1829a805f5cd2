"""Atomic file writes: a reader sees the old file or the new one, never half of one, and an
interrupted run leaves no half-written result. Run directories: one writer at a time (a lock
the kernel releases when its process dies), and only a finished run looks finished (a marker
with the hash of every result, written last)."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write: Callable[[str], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it over ``path``.

    The file gets ordinary permissions (0666 less the umask), not mkstemp's private 0600.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` as UTF-8 (no newline translation), atomically and durably."""

    def dump(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())

    atomic_write(path, dump)


def write_json(path: Path, doc: dict) -> None:
    """Write ``doc`` as indented JSON (NaN refused: use None), atomically."""
    atomic_write_text(path, json.dumps(doc, indent=2, allow_nan=False) + "\n")


# -- run directories: one writer at a time, and only a finished run looks finished ---------

FINISHED = ".finished.json"  # written last, with the hash of every result file
LOCK = ".lock"
_locks: dict[Path, int] = {}  # run directory -> its open, locked file (held until exit)


class RunDirBusy(RuntimeError):
    """Another live process holds the run directory."""


def lock_run(directory: Path) -> None:
    """Hold ``directory``'s lock for the rest of this process (the kernel drops it when the
    process dies, even by kill -9); raise :class:`RunDirBusy` if another process holds it."""
    directory = Path(directory).resolve()
    if directory in _locks:
        return
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / LOCK, os.O_RDWR | os.O_CREAT, 0o666 & ~_umask())
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise RunDirBusy(f"run directory {directory} is in use by another run (pid {holder}): "
                         "wait for it, or choose another hydra.run.dir") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _locks[directory] = fd


def _results(directory: Path) -> list[Path]:
    """The result files of a run: regular files, not hidden, not logs, not Hydra's."""
    return sorted(p for p in directory.rglob("*") if p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(directory).parts)
                  and p.suffix != ".log")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def begin_run(directory: Path, stale: tuple[str, ...] = ()) -> None:
    """Start a run in ``directory``: lock it, drop the finished marker (a run that dies now
    must not look finished), remove what an earlier run wrote that this one rewrites (glob
    patterns ``stale``) and the hidden ``.NAME.*.tmp`` files of killed atomic writes."""
    directory = Path(directory)
    lock_run(directory)
    (directory / FINISHED).unlink(missing_ok=True)
    for pattern in stale:
        for path in directory.glob(pattern):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
    for tmp in directory.rglob(".*.tmp"):
        tmp.unlink(missing_ok=True)


def finish_run(directory: Path) -> None:
    """Mark ``directory`` finished: the hash of every result file, written last."""
    directory = Path(directory)
    files = {str(p.relative_to(directory)): _sha256(p) for p in _results(directory)}
    write_json(directory / FINISHED, {"files": files})


def finished_run(directory: Path) -> dict[str, str] | None:
    """The result files (name -> sha256) of a finished run in ``directory``, or None if it
    did not finish or a file has changed since (edited, truncated, removed)."""
    directory = Path(directory)
    try:
        files = json.loads((directory / FINISHED).read_text())["files"]
        same = all(_sha256(directory / name) == digest for name, digest in files.items())
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return files if same else None


_watching: list[int] = []  # in a worker: the parent's pid, once the watch started


def die_with_parent(parent: int) -> None:
    """In a worker process (SBC's, a joblib sweep's): exit as soon as ``parent`` is gone - a
    kill -9 of the main process would otherwise leave its workers computing for nobody.
    Only in a direct child of ``parent`` (a Ray or Slurm job is not one). Polls once a
    second."""
    import threading
    import time

    if _watching or os.getpid() == parent or os.getppid() != parent:
        return
    _watching.append(parent)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


def finished_piece(path: Path, valid: Callable[[dict], bool]) -> dict | None:
    """The record of one finished piece of a resumable run (an SBC simulation, a back-test
    world) in JSON file ``path``, or None: missing, or corrupt (truncated, edited into
    something ``valid`` refuses) - and then removed, so that the piece is redone rather than
    the resume failing."""
    try:
        doc = json.loads(Path(path).read_text())
        if isinstance(doc, dict) and valid(doc):
            return doc
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        pass
    Path(path).unlink(missing_ok=True)
    return None
