"""What the Hydra apps share: the run directory, atomic writes, clean user errors, the exit
code of a bad config, progress."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from omegaconf import DictConfig

from cxsim.fileio import RunDirBusy, atomic_write, begin_run, die_with_parent, lock_run
from cxsim.spec import SpecError, config_dir
from cxsim.spec.config import SCHEMAS, to_typed, unknown_override

if TYPE_CHECKING:
    import pandas as pd

# numpy, pandas, the data room and Hydra are imported where used: `cxsim-APP --help` and a
# misspelt key are answered before they load.

__all__ = ["bars_of", "console_script", "fail", "heartbeat_of", "job_seed", "progress_of",
           "quiet_sampler", "run_dir", "bundled_or", "data_dir", "start", "with_lock",
           "task_started",
           "user_errors", "write_parquet"]

USER_ERROR = 2
MAIN_PID = "CXSIM_MAIN_PID"  # the app's own process: its sweep workers die with it
_started = False  # set once an app's task runs: a Hydra exit before that is a config error


def fail(message: str) -> NoReturn:
    """Report a user error (bad config or data) without a traceback and exit with code 2."""
    print(f"cxsim: error: {message}", file=sys.stderr)
    raise SystemExit(USER_ERROR)


@contextmanager
def user_errors(prefix: str = "") -> Iterator[None]:
    """Turn the rooms' errors of bad input - a scenario or config (SpecError), a data file
    (DataError), a missing file - into :func:`fail`: one line, exit code 2."""
    from cxsim.data import DataError

    try:
        yield
    except (DataError, SpecError) as e:
        fail(f"{prefix}{e}")
    except (FileNotFoundError, NotADirectoryError) as e:
        fail(f"{prefix}cannot read the data: {e}")


def task_started() -> None:
    """Hydra composed the config without error: what fails from now on is the task's."""
    global _started
    _started = True


def _group_names() -> set[str]:
    return {p.name for p in config_dir().iterdir() if p.is_dir()} | {"hydra"}


def check_overrides(config_name: str, args: list[str]) -> None:
    """Refuse (exit 2, with "did you mean") an override whose key names no field of the app's
    schema, in the words typed, before Hydra composes anything. Keys added with ``+``, removed
    with ``~``, config groups (``study=NAME``) and ``hydra.*`` are left to Hydra and
    :func:`cxsim.spec.config.to_typed`."""
    schema = SCHEMAS.get(config_name)
    if schema is None:
        return
    groups = _group_names()
    for arg in args:
        if arg.startswith(("-", "+", "~")) or "=" not in arg:
            continue
        key, value = arg.split("=", 1)
        if key.split(".", 1)[0] in groups and ("." not in key or key.startswith("hydra.")):
            continue
        why = unknown_override(schema, key)
        if why is not None:
            why = why.replace(": no such key", f" = {value}: no such key", 1)
            fail(f"{why}; cxsim-{config_name} --help lists the main keys")


def console_script(config_name: str, task: Callable[[DictConfig], Any],
                   help_text: str = "") -> Callable[[], None]:
    """The console-script entry point of an app: Hydra composes ``configs/<config_name>.yaml``
    with the command line and calls ``task(cfg)`` (in a sweep, once per job; its return value
    goes to the sweeper). Hydra's own exit on a bad config or override (code 1, before the
    task starts) becomes exit code 2, and so does a key added with ``+`` that the app's schema
    lacks (:func:`cxsim.spec.config.to_typed`). ``--help`` prints ``help_text`` (what the
    app does, its main keys, an example) without composing anything."""
    import hydra

    @hydra.main(config_path=str(config_dir()), config_name=config_name, version_base="1.3")
    @functools.wraps(task)  # Hydra names the job after the task's module
    def hydra_main(cfg: DictConfig) -> Any:
        task_started()
        _release_stderr()
        main_pid = os.environ.get(MAIN_PID)
        if main_pid and int(main_pid) != os.getpid():  # a sweep's worker process
            die_with_parent(int(main_pid))
        with user_errors():
            to_typed(cfg)
        return task(cfg)

    def main() -> None:
        args = sys.argv[1:]
        if help_text and ("--help" in args or "-h" in args):
            print(help_text.strip() + "\n\nEvery scenario key is an override (key=value): "
                  f"cxsim-{config_name} --cfg job prints the whole config, --hydra-help "
                  "Hydra's options.")
            return
        check_overrides(config_name, args)
        os.environ[MAIN_PID] = str(os.getpid())  # inherited by a joblib sweep's workers
        _hold_stderr()
        try:
            hydra_main()
        except SystemExit as e:
            held = _release_stderr()
            if e.code == 1 and not _started:
                print(config_error(held), file=sys.stderr, end="")
                raise SystemExit(USER_ERROR) from None
            sys.stderr.write(held)
            raise
        finally:
            sys.stderr.write(_release_stderr())

    return main


class _HeldStderr:
    """Stands for stderr while Hydra composes: keeps what is written until released, then
    passes writes on (a logging handler made meanwhile keeps it)."""

    def __init__(self, real: Any) -> None:
        self.real, self.held, self.holding = real, [], True

    def write(self, text: str) -> int:
        if self.holding:
            self.held.append(text)
            return len(text)
        return self.real.write(text)

    def flush(self) -> None:
        if not self.holding:
            self.real.flush()

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding...: the real one's
        return getattr(self.real, name)


def _hold_stderr() -> None:
    """Hold what is written to stderr until the task starts: a file Hydra cannot parse makes
    it print a traceback, which :func:`config_error` turns into the message alone."""
    sys.stderr = _HeldStderr(sys.stderr)


def _release_stderr() -> str:
    """Give stderr back; what was held, unprinted (nothing if nothing is held)."""
    held = sys.stderr
    if not isinstance(held, _HeldStderr) or not held.holding:
        return ""
    held.holding, sys.stderr = False, held.real
    return "".join(held.held)


def config_error(text: str) -> str:
    """What Hydra printed on a failed composition, without the traceback of a file it could
    not parse: the exception's message, which names the file, line and column.

    >>> config_error('Traceback (most recent call last):\\n  File "x.py", line 1, in f\\n'
    ...              '    g()\\nyaml.parser.ParserError: while parsing\\n  in "s.yaml", line 4\\n')
    'cxsim: error: yaml.parser.ParserError: while parsing\\n  in "s.yaml", line 4\\n'
    """
    lines = text.splitlines(keepends=True)
    frames = [i for i, line in enumerate(lines) if line.startswith('  File "')]
    if "Traceback (most recent call last):" not in text or not frames:
        return text
    i = frames[-1] + 1
    while i < len(lines) and lines[i].startswith("    "):
        i += 1
    return "cxsim: error: " + "".join(lines[i:])


def bundled_or(given: str | None, key: str, bundled: Path, name: str, app: str) -> Path:
    """The data file or directory ``given`` as ``key``, or ``bundled`` when asked for by
    ``name`` (the config's default) - and then the run says so. An empty or null value is
    refused: the bundled data are never a fallback for data the user meant to give."""
    if given is None or not str(given).strip():
        fail(f"{key} = {given!r}: give your data ({key}=PATH), or {key}={name} for the "
             "bundled data")
    if given == name:
        print(f"cxsim-{app}: fitting the BUNDLED {name} data ({bundled}), not yours: asked "
              f"for as {key}={name}", file=sys.stderr)
        return bundled
    return Path(given)


def data_dir(given: str | None, example: Path, app: str) -> Path:
    """``data.dir`` of the micro model (:func:`bundled_or`; ``example`` names the bundled
    example)."""
    return bundled_or(given, "data.dir", example, "example", app)


def start(out: Path, stale: tuple[str, ...] = ()) -> None:
    """Begin the work in run directory ``out`` (:func:`cxsim.fileio.begin_run`: locked,
    no longer marked finished, this app's old results and stale temporary files removed);
    another live run there is a user error."""
    try:
        begin_run(out, stale)
    except RunDirBusy as e:
        fail(str(e))


def with_lock(out: Path) -> None:
    """Lock run directory ``out`` for this process (:func:`cxsim.fileio.lock_run`) before
    reading what an earlier run left there; another live run there is a user error."""
    try:
        lock_run(out)
    except RunDirBusy as e:
        fail(str(e))


def progress_of(cfg: Any) -> bool:
    """Whether to report progress (``progress=false`` turns it off): a bar on a terminal,
    otherwise periodic lines (:class:`cxsim.progress.Progress`)."""
    return bool(cfg.get("progress", True))


def bars_of(cfg: Any) -> bool:
    """Whether the samplers may draw their own progress bars: asked for, on a terminal."""
    return progress_of(cfg) and sys.stderr.isatty()


def heartbeat_of(cfg: Any, desc: str) -> Any:
    """Periodic lines for a long step whose own bar is off (progress asked for, stderr not a
    terminal: CI logs, notebooks, nohup): :class:`cxsim.progress.Heartbeat`."""
    from cxsim.progress import Heartbeat

    return Heartbeat(desc, enabled=progress_of(cfg) and not sys.stderr.isatty())


@contextmanager
def quiet_sampler() -> Iterator[None]:
    """Without PyMC's notice about its own option names (``nuts_sampler_kwargs``), printed to
    every user of every fit and about nothing they can change."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*nuts_sampler_kwargs",
                                category=FutureWarning)
        yield


def run_dir() -> Path:
    """The Hydra run (or sweep job) directory, created if needed."""
    from hydra.core.hydra_config import HydraConfig

    out = Path(HydraConfig.get().runtime.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    return out


def write_parquet(path: Path, frame: pd.DataFrame) -> None:
    atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))


def job_seed(base_seed: int, job_num: int) -> int:
    """The seed of job ``job_num`` of a sweep whose configs carry ``base_seed``.

    ``SeedSequence(base_seed, spawn_key=(job_num,))``: each job of a sweep gets an independent
    stream, and the same one whatever launcher runs it or in what order (it depends only on the
    seed and ``hydra.job.num``, never on a process or job id). A single run with
    ``seed=<job_seed>`` reproduces the job.

    >>> job_seed(20261122, 0), job_seed(20261122, 1)
    (3108791984, 4199102476)
    >>> job_seed(20261122, 0) == job_seed(20261122, 0)
    True
    """
    import numpy as np

    return int(np.random.SeedSequence(base_seed, spawn_key=(job_num,)).generate_state(1)[0])
