"""Every command shown in README.md and docs/ runs, and shows what the docs say it shows."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
APPS = {"cxsim-simulate": "cxsim.apps.simulate", "cxsim-whatif": "cxsim.apps.whatif"}
WRITES = {"cxsim-simulate": "metrics.json", "cxsim-whatif": "whatif.json"}


def console_examples() -> list[tuple[str, str, str]]:
    """(file, command, expected output) for each ``$ cxsim-...`` line in a console block."""
    found = []
    for path in DOCS:
        for block in re.findall(r"```console\n(.*?)```", path.read_text(), flags=re.S):
            lines = block.splitlines()
            for i, line in enumerate(lines):
                if line.startswith("$ cxsim-"):
                    expected = []
                    for nxt in lines[i + 1 :]:
                        if nxt.startswith("$ "):
                            break
                        expected.append(nxt)
                    found.append((path.name, line[2:], "\n".join(expected).strip()))
    return found


@pytest.mark.parametrize("doc,command,expected", console_examples(),
                         ids=lambda x: x if len(x) < 60 else x[:60])
def test_console_example(doc, command, expected, tmp_path):
    app, *args = shlex.split(command)
    args = [a for a in args if not a.startswith("hydra.run.dir=")]
    cmd = [sys.executable, "-m", APPS[app], *args, f"hydra.run.dir={tmp_path}", "progress=false"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    if "-m" in args:  # a sweep: its jobs and sweep.csv land under hydra.sweep.dir, in tmp_path
        assert done.returncode == 0, done.stderr
        assert list(tmp_path.rglob("sweep.csv"))
        assert expected in done.stdout
        return
    if expected.startswith("cxsim: error"):
        assert done.returncode == 2, done.stderr
        assert expected in done.stderr
        assert "Traceback" not in done.stderr
    else:
        assert done.returncode == 0, done.stderr
        assert (tmp_path / WRITES[app]).exists()
        assert expected in done.stdout
