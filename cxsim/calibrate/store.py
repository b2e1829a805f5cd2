"""A fit's identity and its saved posterior: the model hash, the data hash, and
``posterior.nc`` written with both and read back with its identity checked.

As in PyMC-Marketing's model IO, a saved posterior carries what made it: the kind of model,
the config of the fit, the model hash (the model's code as parsed, without docstrings and
comments, plus the settings that shape it: priors, anchor, the company's process) and the data
hash. :func:`load_posterior` identifies the model from the file, recomputes the hash with this
code, and says so when they differ: draws of another model mean other things.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cxsim.fileio import atomic_write
from cxsim.spec.config import AnchorConfig, Priors, ProcessConfig

MODELS = ("micro", "cohort")  # each is a subpackage of cxsim.calibrate: its code is hashed
HERE = Path(__file__).resolve().parent


class PosteriorError(ValueError):
    """A posterior file that cannot be used: missing, unreadable, of another kind or model."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path, self.reason = str(path), reason
        super().__init__(f"posterior = {path}: {reason}")


def model_hash(model: str, settings: dict) -> str:
    """What defines ``model`` (its code and the ``settings`` that shape it), not the data: the
    code of ``cxsim/calibrate/<model>/`` as parsed, without docstrings and comments, so that
    editing prose keeps a baseline (``cxsim-check``) valid and editing code does not."""
    if model not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}; got {model!r}")
    h = hashlib.sha256(model.encode())
    for path in sorted((HERE / model).glob("*.py")):
        h.update(path.name.encode())
        h.update(_code_only(path.read_text()).encode())
    h.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def micro_identity(anchor_segment: str | None, anchor_base: float, churn_period_days: float,
                   fatigue_days: float, priors: dict) -> str:
    """The micro-data model's hash: its code and what shapes it (the priors, the anchor of
    the satisfaction scale, the company's process)."""
    return model_hash("micro", {"anchor_segment": anchor_segment, "anchor_base": anchor_base,
                                "churn_period_days": churn_period_days,
                                "fatigue_days": fatigue_days, "priors": priors})


def identity_of_config(model: str, config: dict) -> str:
    """The hash of the ``model`` a fit of ``config`` (a saved ``cxsim-fit`` config) builds
    with this code; priors a config does not hold are the defaults."""
    if model == "cohort":
        return model_hash("cohort", {})
    anchor = {**asdict(AnchorConfig()), **config.get("anchor", {})}
    process = {**asdict(ProcessConfig()), **config.get("process", {})}
    priors = {**asdict(Priors()), **(config.get("priors") or {})}
    return micro_identity(anchor["segment"], float(anchor["satisfaction_base"]),
                          float(process["churn_period_days"]), float(process["fatigue_days"]),
                          priors)


def _code_only(source: str) -> str:
    r"""``source`` as its syntax tree with docstrings dropped (comments never reach it).

    >>> _code_only("def f():\n    'Doc.'\n    return 1  # one") == _code_only(
    ...     "def f():\n    return 1")
    True
    >>> _code_only("x = 1") == _code_only("x = 2")
    False
    """
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, annotate_fields=False)


def data_hash(paths: list[Path]) -> str:
    """The data a fit read: names and bytes of ``paths``, in name order."""
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def csv_files(directory: Path) -> list[Path]:
    """The CSV files of an observed-data directory: what its data hash covers."""
    return [p for p in Path(directory).iterdir() if p.suffix == ".csv"]


@dataclass
class SavedPosterior:
    """A posterior read from disk, with what its file says about the fit."""

    tree: Any  # the ArviZ DataTree
    path: Path
    model: str  # micro or cohort
    config: dict  # the fit's config
    model_hash: str
    data_hash: str
    fit_for_forecasting: bool


def save_posterior(tree: Any, path: Path, *, model: str, config: dict, model_hash: str,
                   data_hash: str, fit_for_forecasting: bool) -> Path:
    """Write ``tree`` as netCDF (atomically) with the fit's identity in its attributes."""
    attrs = {"model": model, "config": config, "model_hash": model_hash,
             "data_hash": data_hash, "fit_for_forecasting": fit_for_forecasting}
    tree.attrs.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in attrs.items()})
    atomic_write(path, lambda tmp: tree.to_netcdf(tmp, engine="h5netcdf"))
    return Path(path)


def load_posterior(path: str | os.PathLike, model: str = "micro") -> SavedPosterior:
    """Read a ``posterior.nc`` (or the directory holding it) of a ``model`` fit.

    A file without a ``model`` attribute (written before it was recorded) is a micro-data
    posterior if it has the micro model's coordinates. Raises :class:`PosteriorError`.
    """
    import xarray as xr

    path = Path(path)
    if path.is_dir():
        path = path / "posterior.nc"
    if not path.is_file():
        raise PosteriorError(path, "no such file (cxsim-fit writes posterior.nc)")
    try:
        tree = xr.open_datatree(path, engine="h5netcdf")
        post = tree["posterior"].to_dataset()
        attrs = dict(tree.attrs)
    except (OSError, ValueError, KeyError) as e:
        raise PosteriorError(path, f"not a cxsim-fit posterior: {e}") from None
    kind = str(attrs.get("model") or ("micro" if "free_segment" in post.coords else "cohort"))
    if kind != model:
        raise PosteriorError(path, f"a posterior of the {kind} model, not of the {model} model "
                             "(cxsim-fit model=...)")
    if kind == "micro" and "free_segment" not in post.coords:
        raise PosteriorError(path, "not a micro-data posterior of cxsim-fit")
    fit_ok = json.loads(str(attrs.get("fit_for_forecasting", "false")).lower())
    return SavedPosterior(tree, path, kind, json.loads(attrs.get("config", "{}")),
                          str(attrs.get("model_hash", "")), str(attrs.get("data_hash", "")),
                          bool(fit_ok))


def same_model(saved: SavedPosterior, current_hash: str) -> str | None:
    """None if ``saved`` was fitted by the model this code builds (``current_hash`` from its
    saved settings), else why not, in words."""
    if saved.model_hash == current_hash:
        return None
    return (f"fitted by another version of the {saved.model} model (model hash "
            f"{saved.model_hash or 'unknown'}, this code's {current_hash})")
