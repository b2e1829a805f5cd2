"""Argument checks and small array helpers shared by the KPI formulas (private)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatOrArray = float | NDArray[np.float64]


def _arr(x: ArrayLike, name: str, ndim: int | None = None, nonneg: bool = False) -> NDArray:
    """Numeric/boolean array, optionally of a given ndim; ``nonneg``: float, finite, >= 0."""
    a = np.asarray(x)
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric or boolean, got dtype {a.dtype}")
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {a.shape}")
    if nonneg:
        a = a.astype(float)
        _reject(a, ~(np.isfinite(a) & (a >= 0)), name, "finite and >= 0")
    return a


def _reject(a: NDArray, bad: NDArray, name: str, expected: str) -> None:
    if np.any(bad):
        raise ValueError(f"{name} must be {expected}; got {a[bad].flat[0].item()!r}")


def _int_param(value: int, name: str, lo: int, hi: int | None = None) -> int:
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool)
    if not ok or value < lo or (hi is not None and value > hi):
        raise ValueError(f"{name} must be an integer in {lo}..{hi or ''}; got {value!r}")
    return int(value)


def _ints(x: ArrayLike, name: str, lo: int, hi: int) -> NDArray:
    a = _arr(x, name, ndim=1)
    if a.dtype.kind == "b":
        raise ValueError(f"{name} must be integer scores, got booleans")
    if a.dtype.kind == "f":
        _reject(a, ~np.isfinite(a) | (a != np.round(a)), name, "integers")
    _reject(a, (a < lo) | (a > hi), name, f"in {lo}..{hi}")
    return a


def _flags(x: ArrayLike, name: str) -> NDArray[np.bool_]:
    a = _arr(x, name, ndim=1)
    if a.dtype.kind != "b":
        _reject(a, (a != 0) & (a != 1), name, "booleans or 0/1")
    return a.astype(bool)


def _masked(x: ArrayLike, flags: ArrayLike, name: str, fname: str) -> tuple[NDArray, NDArray]:
    """Times and flags of equal 1-D shape; times must be finite and >= 0 where flagged."""
    a = _arr(x, name, ndim=1).astype(float)
    f = _flags(flags, fname)
    if a.shape != f.shape:
        raise ValueError(f"{name} {a.shape} and {fname} {f.shape} must have the same shape")
    _arr(a[f], f"{name} (where {fname})", nonneg=True)
    return a, f


def _count_pair(k: ArrayLike, n: ArrayLike, kname: str, nname: str) -> tuple[NDArray, NDArray]:
    """Broadcast non-negative counts k <= n (e.g. successes <= trials)."""
    k, n = _arr(k, kname, nonneg=True), _arr(n, nname, nonneg=True)
    try:
        k, n = np.broadcast_arrays(k, n)
    except ValueError:
        raise ValueError(f"{kname} {k.shape} and {nname} {n.shape} do not broadcast") from None
    _reject(k, k > n, kname, f"<= {nname}")
    return k, n


def _categories(p: ArrayLike, name: str, k: int) -> NDArray:
    """An array whose last axis holds ``k`` categories (probabilities, shares or counts)."""
    a = _arr(p, name)
    if a.ndim == 0 or a.shape[-1] != k:
        raise ValueError(f"{name} must have {k} categories on its last axis; got shape {a.shape}")
    return a


def _div(a: NDArray, b: NDArray) -> NDArray:
    return np.divide(a, b, out=np.full(np.shape(a), np.nan), where=b > 0)


def _share(flags: NDArray[np.bool_]) -> float:
    return float("nan") if flags.size == 0 else int(np.count_nonzero(flags)) / flags.size


def _mean(a: NDArray) -> float:
    return float("nan") if a.size == 0 else float(a.mean())


def _out(a: NDArray) -> FloatOrArray:
    return float(a) if np.ndim(a) == 0 else np.asarray(a, dtype=float)


def _level(level: float) -> float:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1); got {level!r}")
    return (1.0 + level) / 2.0
