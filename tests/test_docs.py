"""Every command shown in README.md and docs/ runs, and shows what the docs say it shows."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from apprun import run_app

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
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
    # a relative run directory, as the docs show it, lands in tmp_path (the cwd)
    run_dir = next((a.split("=", 1)[1] for a in args if a.startswith("hydra.run.dir=")), ".")
    args = [a for a in args if not a.startswith("hydra.run.dir=")]
    done = run_app(app, *args, out=Path(run_dir), cwd=tmp_path, timeout=600)
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
        assert (tmp_path / run_dir / WRITES[app]).exists()
        assert expected in done.stdout
