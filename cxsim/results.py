"""A sweep's results as one table: every job's overrides and metrics, one row per job.

A Hydra multirun (``cxsim-simulate -m ...``) writes one directory per job under its sweep
directory (``0/``, ``1/``, ... by ``hydra.job.num``). A job writes ``.hydra/overrides.yaml``
when it starts and ``metrics.json`` atomically when it ends, so a job directory holds either
its complete metrics or none. :func:`load_sweep` reads them all:

- one row per job directory that holds ``.hydra/overrides.yaml`` (jobs that never started
  are not on disk and so not in the table), sorted by ``job`` (``hydra.job.num``);
- ``complete``: the job's ``metrics.json`` exists and was written for these overrides; rows of
  incomplete jobs carry their overrides and NaN metrics;
- one column per override key, with typed values (``seed=2`` gives the int 2,
  ``touchpoints.chatbot.containment=0.6`` the float 0.6, ``sweep=staffing`` a string);
- the job's metrics: every top-level scalar of ``metrics.json``, plus ``needs.*`` and
  ``channels.<channel>.*`` flattened with dots. ``seed`` becomes ``job_seed`` (the seed the job
  ran with, derived from ``base_seed`` and the job number); per-touchpoint, per-hour and
  observed-data figures stay in each job's ``metrics.json`` (their names would clash with the
  override keys ``touchpoints.<name>.<field>``).

:func:`to_xarray` turns the table into an ``xarray.Dataset`` on the swept keys, and
:class:`SweepTable` is the Hydra callback that writes ``sweep.csv`` when a sweep ends.

>>> import json, tempfile
>>> from pathlib import Path
>>> root = Path(tempfile.mkdtemp())
>>> for num, agents in enumerate([4, 5]):
...     (root / str(num) / ".hydra").mkdir(parents=True)
...     ov = ["sweep=staffing", f"queue.agents={agents}", "cluster=local"]
...     _ = (root / str(num) / ".hydra" / "overrides.yaml").write_text(json.dumps(ov))
>>> doc = {"seed": 7, "base_seed": 1, "job_num": 0, "service_level": 0.8,
...        "overrides": ["queue.agents=4", "sweep=staffing"]}
>>> _ = (root / "0" / "metrics.json").write_text(json.dumps(doc))
>>> table = load_sweep(root)
>>> table[["job", "complete", "queue.agents", "service_level", "job_seed"]]
   job  complete  queue.agents  service_level  job_seed
0    0      True             4            0.8       7.0
1    1     False             5            NaN       NaN
>>> to_xarray(table)["service_level"].sel({"queue.agents": 4}).item()
0.8
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from cxsim.fileio import atomic_write

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "IGNORED_KEYS",
    "SweepTable",
    "job_overrides",
    "load_sweep",
    "parse_overrides",
    "to_xarray",
]

# Overrides that say how a job runs, not what it computes: a job is the same job whatever
# launcher runs it, with or without a progress bar, resumed or not.
IGNORED_KEYS = frozenset({"cluster", "progress", "resume"})
# Nested blocks of metrics.json that the table flattens (``needs.fcr``, ``channels.phone.asa``).
FLATTENED = ("needs", "channels")
# Per-job bookkeeping in metrics.json that is not a metric.
BOOKKEEPING = ("overrides", "config_sha256", "job_num")


def parse_overrides(overrides: Iterable[str]) -> dict[str, Any]:
    """Each override's key and typed value (deletions ``~key`` are left out).

    >>> parse_overrides(["seed=2", "touchpoints.chatbot.containment=0.6", "+x=null", "~y"])
    {'seed': 2, 'touchpoints.chatbot.containment': 0.6, 'x': None}
    """
    parsed = OverridesParser.create().parse_overrides(list(overrides))
    return {_key(o): o.value() for o in parsed if not o.is_delete()}


def _key(o: Override) -> str:
    """An override's key without its ``+``/``++`` prefix (``group@package`` for a package)."""
    return o.key_or_group if o.package is None else f"{o.key_or_group}@{o.package}"


def job_overrides(overrides: Iterable[str]) -> list[str]:
    """The overrides that decide what a job computes: all but ``IGNORED_KEYS``, sorted.

    >>> job_overrides(["seed=2", "cluster=ray", "sweep=staffing", "progress=false"])
    ['seed=2', 'sweep=staffing']
    """
    overrides = list(overrides)
    parsed = OverridesParser.create().parse_overrides(overrides)
    return sorted(
        t for t, o in zip(overrides, parsed, strict=True) if o.key_or_group not in IGNORED_KEYS
    )


def _flat_metrics(doc: dict) -> dict[str, Any]:
    """Top-level scalars of a metrics.json document and its ``FLATTENED`` blocks, dotted."""
    flat: dict[str, Any] = {}
    for key, value in doc.items():
        if key in BOOKKEEPING:
            continue
        if key in FLATTENED and isinstance(value, dict):
            for sub, inner in value.items():
                if isinstance(inner, dict):
                    flat.update(
                        {
                            f"{key}.{sub}.{k}": v
                            for k, v in inner.items()
                            if not isinstance(v, dict | list)
                        }
                    )
                elif not isinstance(inner, list):
                    flat[f"{key}.{sub}"] = inner
        elif not isinstance(value, dict | list):
            flat["job_seed" if key == "seed" else key] = value
    return flat


def _read_job(job_dir: Path) -> dict[str, Any] | None:
    """One row of the table, or None if ``job_dir`` is not a started job."""
    ov_file = job_dir / ".hydra" / "overrides.yaml"
    if not ov_file.is_file():
        return None
    overrides = [str(x) for x in (yaml.safe_load(ov_file.read_text()) or [])]
    doc = None
    try:
        doc = json.loads((job_dir / "metrics.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        pass
    complete = doc is not None and doc.get("overrides") == job_overrides(overrides)
    num = doc.get("job_num") if complete else None
    if num is None and job_dir.name.isdigit():
        num = int(job_dir.name)
    values = parse_overrides(overrides)
    metrics = _flat_metrics(doc) if complete else {}
    for key in list(metrics):  # a metric named like an override (replications=2) defers to it
        if key in values:
            value = metrics.pop(key)
            if value != values[key]:
                metrics[f"job_{key}"] = value
    return {"job": num, "complete": complete, "_overrides": list(values), **values, **metrics}


def load_sweep(directory: str | Path) -> pd.DataFrame:
    """Every job of the sweep in ``directory`` as one row: overrides, then metrics.

    ``table.attrs["overrides"]`` lists the override columns (what :func:`to_xarray` indexes on).
    """
    root = Path(directory)
    if not root.is_dir():
        raise FileNotFoundError(f"no sweep directory {root}")
    rows = [row for d in root.iterdir() if d.is_dir() and (row := _read_job(d)) is not None]
    rows.sort(key=lambda r: (r["job"] is None, r["job"] if r["job"] is not None else 0))
    keys: list[str] = []
    for row in rows:
        keys.extend(k for k in row.pop("_overrides") if k not in keys)
    table = pd.DataFrame(rows, columns=None if rows else ["job", "complete"])
    front = ["job", "complete", *keys]
    table = table[front + [c for c in table.columns if c not in front]]
    table.attrs["overrides"] = keys
    return table


def to_xarray(table: pd.DataFrame, dims: Sequence[str] | None = None) -> xr.Dataset:
    """The table as an ``xarray.Dataset`` with one dimension per swept key.

    ``dims`` defaults to the override columns whose values differ between jobs; overrides
    that are the same for every job become attributes. A grid with jobs missing (an incomplete
    sweep) is filled with NaN. An optimiser's trials are scattered, not a grid: keep them as a
    table, or pass ``dims=["job"]``.
    """
    keys = list(table.attrs.get("overrides", []))
    if dims is None:
        if "overrides" not in table.attrs:
            raise ValueError("the table carries no override keys (table.attrs): pass dims=")
        dims = [k for k in keys if table[k].astype(str).nunique() > 1] or ["job"]
    dims = list(dims)
    if table.duplicated(subset=dims).any():
        raise ValueError(f"several jobs share the same {dims}: pass dims= that tell them apart")
    constant = [k for k in keys if k not in dims]
    ds = table.drop(columns=constant).set_index(dims).to_xarray()
    for key in constant:
        value = table[key].iloc[0] if len(table) else None
        ds.attrs[key] = value if isinstance(value, str | int | float) else str(value)
    return ds


class SweepTable(Callback):
    """Hydra callback: when a ``-m`` sweep ends, write :func:`load_sweep`'s table as
    ``sweep.csv`` (atomically) in the sweep directory. Registered in ``configs/simulate.yaml``."""

    def __init__(self, filename: str = "sweep.csv") -> None:
        self.filename = filename

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        directory = Path(str(config.hydra.sweep.dir))
        table = load_sweep(directory)
        path = directory / self.filename
        atomic_write(path, lambda tmp: table.to_csv(tmp, index=False))
        done = int(table["complete"].sum()) if len(table) else 0
        print(f"cxsim: {done} of {len(table)} jobs complete; table written to {path}", flush=True)
