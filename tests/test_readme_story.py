"""The README's story, run as written: simulate -> export -> fit -> what-if (issue 17, 1).

The three commands are read from README.md (the export in its console block, the fit and the
what-if in their bash blocks), run verbatim in a fresh directory as a user would type them
(progress on, stdout not a terminal), and the story must end with a fit that passes its
diagnostics and a forecast made without ``force=true``. About 4-6 minutes on 2 idle cores:
slow-marked, and run by .ci/run on its own.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from apprun import APPS

ROOT = Path(__file__).resolve().parents[1]


def readme_story() -> dict[str, list[str]]:
    """The README's story commands by app: the export (``$ cxsim-simulate
    export_observed=true ...``), then the first ``cxsim-fit`` and ``cxsim-whatif`` lines."""
    text = (ROOT / "README.md").read_text()
    found: dict[str, list[str]] = {}
    for block in re.findall(r"```(?:console|bash)\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            words = shlex.split(line.removeprefix("$ "))
            if not words:
                continue
            app = words[0]
            if app == "cxsim-simulate" and "export_observed=true" not in words:
                continue
            if app in ("cxsim-simulate", "cxsim-fit", "cxsim-whatif"):
                found.setdefault(app, words)
    return found


def test_readme_names_the_story() -> None:
    story = readme_story()
    assert list(story) == ["cxsim-simulate", "cxsim-fit", "cxsim-whatif"]
    assert "posterior=outputs/fit/posterior.nc" in story["cxsim-whatif"]
    assert not any(w.startswith("force") for w in story["cxsim-whatif"])


def _run(words: list[str], cwd: Path) -> subprocess.CompletedProcess:
    app, *args = words
    return subprocess.run([sys.executable, "-m", f"cxsim.apps.{APPS[app]}", *args],
                          cwd=cwd, capture_output=True, text=True, timeout=1800)


@pytest.mark.slow
def test_readme_story_verbatim(tmp_path: Path) -> None:
    story = readme_story()
    sim = _run(story["cxsim-simulate"], tmp_path)
    assert sim.returncode == 0, sim.stderr
    metrics = json.loads((tmp_path / "outputs/observed/metrics.json").read_text())
    assert metrics["mean_wait"] > 0 and metrics["service_level"] < 1  # queues with waiting

    fit = _run(story["cxsim-fit"], tmp_path)
    assert fit.returncode == 0, fit.stderr
    summary = json.loads((tmp_path / "outputs/fit/summary.json").read_text())
    assert summary["fit_for_forecasting"], summary["failed_checks"]
    assert "posterior fit for forecasting" in fit.stdout
    assert "sampling" in fit.stderr  # progress lines, though stdout is no terminal

    whatif = _run(story["cxsim-whatif"], tmp_path)
    assert whatif.returncode == 0, whatif.stderr
    assert "force=true" not in whatif.stderr
    [path] = list((tmp_path / "outputs/whatif").rglob("whatif.json"))
    doc = json.loads(path.read_text())
    assert doc["behaviour"] == "posterior" and doc["scenarios"]
    assert (path.parent / "whatif.csv").is_file()
    print(f"fit: {summary['diagnostics']}")
