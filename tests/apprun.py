"""The one way the tests run a cxsim app: a fresh process, as a user would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

APPS = {"cxsim-simulate": "simulate", "cxsim-whatif": "whatif", "cxsim-fit": "fit",
        "cxsim-check": "check", "cxsim-calibrate": "calibrate", "cxsim-staff": "staff"}


def app_command(app: str, *args: str, out: Path | None = None,
                multirun: bool = False) -> list[str]:
    """The command line of ``cxsim-APP ARGS`` (``python -m cxsim.apps.APP``; ``app`` may be
    given as ``cxsim-APP``) with progress bars off, into run directory ``out`` (with
    ``multirun``: a sweep into the sweep directory ``out``)."""
    module = APPS.get(app, app)
    where = [] if out is None else [f"hydra.{'sweep' if multirun else 'run'}.dir={out}"]
    return [sys.executable, "-m", f"cxsim.apps.{module}", *(["-m"] if multirun else []), *args,
            "progress=false", *where]


def run_app(app: str, *args: str, out: Path | None = None, multirun: bool = False,
            timeout: float = 900, **kw) -> subprocess.CompletedProcess:
    """Run :func:`app_command` to its end, output captured; ``kw`` goes to
    :func:`subprocess.run` (``cwd``, ``env``)."""
    return subprocess.run(app_command(app, *args, out=out, multirun=multirun),
                          capture_output=True, text=True, timeout=timeout, **kw)
