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
from collections.abc import Callable, Iterator
from itertools import chain, repeat

import numpy as np

from cxsim.spec import Duration, Patience

BLOCK = 4096


def generator(seed: int, replication: int, name: str) -> np.random.Generator:
    """The generator of stream ``name`` in ``replication`` (see module doc)."""
    key = (replication, zlib.crc32(name.encode()))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


def uniforms(gen: np.random.Generator) -> Callable[[], float]:
    """A function returning the stream's next standard uniform, drawn in blocks.

    It is the ``__next__`` of an endless chain of blocks: one C call per number.
    """
    return chain.from_iterable(_blocks(lambda: gen.random(BLOCK))).__next__


def durations(d: Duration, gen: np.random.Generator) -> Callable[[], float]:
    """A function returning draws of one :class:`~cxsim.spec.Duration` in minutes.

    ``lognormal`` and ``gamma`` are parameterised by mean and coefficient of variation:
    lognormal sigma^2 = log(1 + cv^2), mu = log(mean) - sigma^2/2; gamma shape 1/cv^2,
    scale mean*cv^2; ``weibull`` the shape of that cv (:func:`weibull_shape`) and the scale of
    that mean. ``exponential`` ignores cv (it is 1); ``fixed`` always returns the mean;
    ``empirical`` one of ``values``, each equally likely.
    """
    m, cv = float(d.mean_min), float(d.cv)
    if d.dist == "empirical":
        return _empirical(np.asarray(d.values, float), gen)
    if d.dist == "fixed" or m == 0 or (cv == 0 and d.dist != "exponential"):
        return repeat(m).__next__
    if d.dist == "exponential":
        draw = lambda: gen.exponential(m, BLOCK)  # noqa: E731
    elif d.dist == "gamma":
        draw = lambda: gen.gamma(1.0 / cv**2, m * cv**2, BLOCK)  # noqa: E731
    elif d.dist == "weibull":
        k = weibull_shape(cv)
        scale = m / math.gamma(1.0 + 1.0 / k)
        draw = lambda: scale * gen.weibull(k, BLOCK)  # noqa: E731
    else:
        s2 = math.log1p(cv**2)
        mu, sigma = math.log(m) - s2 / 2, math.sqrt(s2)
        draw = lambda: gen.lognormal(mu, sigma, BLOCK)  # noqa: E731
    return chain.from_iterable(_blocks(draw)).__next__


def patiences(p: Patience, gen: np.random.Generator) -> Callable[[], float]:
    """Draws of patience relative to its mean (mean 1) by the law ``p``: an empirical table
    is rescaled to mean 1; ``exponential`` draws exactly as a unit-mean exponential
    :class:`~cxsim.spec.Duration`."""
    if p.dist == "empirical":
        values = np.asarray(p.values, float)
        return _empirical(values / values.mean(), gen)
    return durations(Duration(mean_min=1.0, cv=float(p.cv), dist=p.dist), gen)


def weibull_shape(cv: float) -> float:
    """The Weibull shape k of coefficient of variation ``cv``: the root of
    Gamma(1 + 2/k) / Gamma(1 + 1/k)^2 = 1 + cv^2 (decreasing in k), by bisection on log k."""
    target = math.log1p(cv**2)
    lo, hi = math.log(1e-2), math.log(1e7)
    for _ in range(200):
        mid = (lo + hi) / 2
        k = math.exp(mid)
        if math.lgamma(1 + 2 / k) - 2 * math.lgamma(1 + 1 / k) > target:
            lo = mid
        else:
            hi = mid
    return math.exp((lo + hi) / 2)


def _empirical(values: np.ndarray, gen: np.random.Generator) -> Callable[[], float]:
    draw = lambda: values[gen.integers(0, len(values), BLOCK)]  # noqa: E731
    return chain.from_iterable(_blocks(draw)).__next__


def _blocks(draw: Callable[[], np.ndarray]) -> Iterator[list[float]]:
    while True:
        yield draw().tolist()
