"""Random streams: one independent, named NumPy generator per purpose, drawn in blocks.

Every stream is seeded by ``SeedSequence(seed, spawn_key=(replication, crc32(name)))``: a
stream's numbers depend only on the seed, the replication and its own name, never on which
other streams exist. Two scenarios that differ in one touchpoint therefore share every other
stream (common random numbers), and a result is reproducible bit for bit in any process.
Draws come from pre-drawn blocks because one NumPy call per number would cost more than the
simulation step that uses it.
"""

from __future__ import annotations

import math
import zlib

import numpy as np

from cxsim.spec import Duration

BLOCK = 4096


def generator(seed: int, replication: int, name: str) -> np.random.Generator:
    """The generator of stream ``name`` in ``replication`` (see module doc)."""
    key = (replication, zlib.crc32(name.encode()))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


class Uniforms:
    """Standard uniforms from one stream, served one at a time from blocks."""

    __slots__ = ("_gen", "_block", "_i")

    def __init__(self, gen: np.random.Generator) -> None:
        self._gen = gen
        self._block: list[float] = []
        self._i = 0

    def __call__(self) -> float:
        i = self._i
        if i == len(self._block):
            self._block = self._gen.random(BLOCK).tolist()
            i = 0
        self._i = i + 1
        return self._block[i]


class Durations:
    """Draws of one :class:`~cxsim.spec.Duration` (minutes), served one at a time from blocks.

    ``lognormal`` and ``gamma`` are parameterised by mean and coefficient of variation:
    lognormal sigma^2 = log(1 + cv^2), mu = log(mean) - sigma^2/2; gamma shape 1/cv^2,
    scale mean*cv^2. ``exponential`` ignores cv (it is 1); ``fixed`` always returns the mean.
    """

    __slots__ = ("_draw", "_block", "_i")

    def __init__(self, d: Duration, gen: np.random.Generator) -> None:
        m, cv = float(d.mean_min), float(d.cv)
        if d.dist == "fixed" or m == 0 or (cv == 0 and d.dist != "exponential"):
            self._draw = lambda n: np.full(n, m)
        elif d.dist == "exponential":
            self._draw = lambda n: gen.exponential(m, n)
        elif d.dist == "gamma":
            self._draw = lambda n: gen.gamma(1.0 / cv**2, m * cv**2, n)
        else:
            s2 = math.log1p(cv**2)
            mu, sigma = math.log(m) - s2 / 2, math.sqrt(s2)
            self._draw = lambda n: gen.lognormal(mu, sigma, n)
        self._block: list[float] = []
        self._i = 0

    def __call__(self) -> float:
        i = self._i
        if i == len(self._block):
            self._block = self._draw(BLOCK).tolist()
            i = 0
        self._i = i + 1
        return self._block[i]
