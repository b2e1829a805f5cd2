"""Progress of long work in any terminal: a bar where stderr is a terminal, otherwise (a log
file, CI, a batch job) a line every ``every_s`` seconds and one at the end.

>>> import io
>>> out = io.StringIO()
>>> with Progress(3, "simulating", "day", stream=out, every_s=0.0) as bar:
...     for _ in range(3):
...         bar.update()
>>> out.getvalue().splitlines()[-1].startswith("simulating: 3/3 days (100%)")
True
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, TextIO


class Progress:
    """Counts ``total`` steps of ``unit``; does nothing unless ``enabled``."""

    def __init__(self, total: int, desc: str, unit: str, enabled: bool = True,
                 every_s: float = 30.0, stream: TextIO | None = None) -> None:
        self.total, self.desc, self.unit, self.enabled = total, desc, unit, enabled
        self.every_s, self.stream = every_s, stream or sys.stderr
        self.done, self._t0 = 0, time.perf_counter()
        self._last = self._t0
        self._bar: Any = None
        if enabled and self.stream.isatty():
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=desc, unit=unit, leave=False, file=self.stream)
        elif enabled:  # a log: say at once what is starting, not only after every_s
            print(f"{desc}: 0/{total} {unit}s", file=self.stream, flush=True)

    def update(self, n: int = 1) -> None:
        if not self.enabled:
            return
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
            return
        now = time.perf_counter()
        if now - self._last >= self.every_s or self.done >= self.total:
            self._last = now
            share = 100 * self.done / self.total if self.total else 100.0
            print(f"{self.desc}: {self.done}/{self.total} {self.unit}s ({share:.0f}%), "
                  f"{now - self._t0:.0f} s", file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Heartbeat:
    """For work that reports no steps (a sampler whose own bar is off, as it is off a
    terminal): a line ``desc: N s`` every ``every_s`` seconds from a background thread, one at
    the start and one at the end. Does nothing unless ``enabled``.

    >>> import io
    >>> out = io.StringIO()
    >>> with Heartbeat("sampling", stream=out, every_s=0.05):
    ...     time.sleep(0.12)
    >>> lines = out.getvalue().splitlines()
    >>> lines[0], lines[-1].startswith("sampling: done in"), len(lines) >= 3
    ('sampling: started', True, True)
    """

    def __init__(self, desc: str, enabled: bool = True, every_s: float = 30.0,
                 stream: TextIO | None = None) -> None:
        self.desc, self.enabled, self.every_s = desc, enabled, every_s
        self.stream = stream or sys.stderr
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _beat(self) -> None:
        t0 = time.perf_counter()
        while not self._stop.wait(self.every_s):
            print(f"{self.desc}: {time.perf_counter() - t0:.0f} s", file=self.stream,
                  flush=True)

    def __enter__(self) -> Heartbeat:
        if self.enabled:
            self._t0 = time.perf_counter()
            print(f"{self.desc}: started", file=self.stream, flush=True)
            self._thread = threading.Thread(target=self._beat, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            print(f"{self.desc}: done in {time.perf_counter() - self._t0:.0f} s",
                  file=self.stream, flush=True)
