"""The README's story, timed: the three commands of tests/test_readme_story.py (simulate ->
export, fit, what-if), run as written in a fresh directory, each step's wall time printed
beside a same-run baseline (a 3-day, 2,000-customer ``cxsim-simulate``, mostly start-up), so
the figures quoted in README.md come from a run and can be compared across machines.

    python benchmarks/readme_story.py

Prints one line per step: seconds and the ratio to the baseline; always exits 0 unless a
step fails. The times in README.md are this script's (2 CPUs shared with other work: read
them as an upper bound).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from apprun import APPS  # noqa: E402
from test_readme_story import readme_story  # noqa: E402

BASELINE = ["cxsim-simulate", "horizon=3", "warmup=1", "replications=1",
            "population.customers=2000", "figures=false", "hydra.run.dir=outputs/baseline"]


def timed(words: list[str], cwd: Path) -> float:
    app, *args = words
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", f"cxsim.apps.{APPS[app]}", *args], cwd=cwd,
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(words)} failed:\n{done.stderr}")
    return time.perf_counter() - t0


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        base = timed(BASELINE, cwd)
        print(f"{'baseline (3-day simulate)':<28} {base:7.1f} s   1.0x")
        for app, words in readme_story().items():
            seconds = timed(words, cwd)
            print(f"{app:<28} {seconds:7.1f} s  {seconds / base:5.1f}x")


if __name__ == "__main__":
    main()
