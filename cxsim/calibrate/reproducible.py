"""Fits that are a function of (data, config, seed): the samplers' code without fastmath.

PyTensor compiles a model to numba with fastmath by default, which lets LLVM reassociate and
fuse floating-point operations wherever it finds them. What it finds depends on what it
compiles together: nutpie wraps the model's log-density in a function of its own, which
inlines the model's code when that code was compiled in this process and only calls it when
it came from PyTensor's disk cache (``base_compiledir``). So the first fit of a data set (the
data are constants of the graph, so a new data set compiles afresh) and every later fit of the
same data and seed differed in the last bits of the gradient, and after a few hundred
leapfrog steps in everything: other draws, other divergences, another population NPS. Without
fastmath LLVM keeps the order of the operations as written, and both paths agree bit for bit.
``benchmarks/fit_determinism.py`` shows both and measures the cost (docs/calibrate.md,
"Reproducible fits").
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def exact_arithmetic() -> Iterator[None]:
    """Compile PyTensor's numba code inside this block without fastmath (the cache keeps the
    two kinds apart: its key carries the flag)."""
    import pytensor

    with pytensor.config.change_flags(numba__fastmath=False):
        yield
