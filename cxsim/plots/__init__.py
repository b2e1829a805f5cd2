"""Figures (matplotlib). Never imported by the core rooms: only apps and notebooks use them."""

from __future__ import annotations

from pathlib import Path

from cxsim.fileio import atomic_write


def save_png(fig: object, path: Path) -> Path:
    """Write ``fig`` (a matplotlib Figure) to ``path`` as PNG, atomically."""
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=120, bbox_inches="tight",
                                               format="png"))
    return path
