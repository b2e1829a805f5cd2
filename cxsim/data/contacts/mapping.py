"""Mappings: how an export becomes a canonical table, read from YAML and validated.

A mapping is shipped (``cxsim/data/contacts/mappings/NAME.yaml``, selected by name) or the
user's own file; ``extends: NAME`` starts from another mapping and overrides its keys, and
``overrides`` (what a Hydra app passes as ``log.columns.arrival=...``) go on top. Every key
is checked (unknown keys, types, canonical names, formats, time zones) before any data is read,
and an error names the mapping file, the key's line, the key and its value. See
``docs/contact_logs.md`` for each key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from cxsim.data.contacts.timeparse import TimeFormat
from cxsim.data.contacts.yamlnodes import Lines, load_yaml
from cxsim.data.errors import DataError

SURVEY_KINDS = ("post_interaction", "periodic")
LINE_ENDS = ("auto", "lf", "crlf", "cr")
SEPARATOR_WORDS = {"comma": ",", "semicolon": ";", "tab": "\t", "pipe": "|", "space": " "}
UNITS_S = {"ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0}
SECTIONS = {
    "kind": str, "extends": str, "description": str, "file": dict, "timezone": str,
    "origin": str, "columns": dict, "constants": dict, "times": dict, "durations": dict,
    "placeholders": dict, "sentinels": dict, "values": dict, "exclude": dict, "policy": dict,
}
FILE_KEYS = ("separator", "line_end", "encoding", "quote", "names")
TIME_KEYS = ("format", "columns", "date", "chain", "max_backstep_hours")
POLICY_KEYS = ("abandoned_before_queue", "duplicate_rows", "max_unusable_share",
               "missing_day_share")
CONTACTS_ONLY = ("durations", "policy")


@dataclass(frozen=True)
class Policy:
    """What a contact log's reader does with rows that are valid but kept apart."""

    abandoned_before_queue: str = "exclude"  # or keep (as abandoned, with a zero wait)
    duplicate_rows: str = "exclude"  # or error
    max_unusable_share: float = 0.05  # more inconsistent rows than this: the mapping is wrong
    missing_day_share: float = 0.1  # a day under this share of its weekday's median is missing


@dataclass(frozen=True)
class Mapping:
    """A validated mapping. ``columns`` maps a canonical column to the export's column;
    ``formats`` maps an export time column to its format; ``missing`` the values that mean
    "no value" per canonical column (placeholders and sentinels); ``exclude`` maps a reason to
    conditions on export columns (all must hold). ``lines`` locates each key for errors."""

    name: str
    kind: str
    description: str
    separator: str
    line_end: str
    encoding: str
    quote: str | None
    names: tuple[str, ...] | None
    timezone: str
    origin: str | None
    columns: dict[str, str]
    constants: dict[str, str]
    formats: dict[str, TimeFormat]
    date: tuple[str, TimeFormat] | None
    chain: tuple[str, ...]
    max_backstep_hours: float
    durations: dict[str, tuple[str, float]]
    missing: dict[str, frozenset[str]]
    values: dict[str, dict[str, str]]
    exclude: dict[str, dict[str, frozenset[str]]]
    policy: Policy
    lines: Lines = field(default_factory=dict, repr=False)

    def error(self, key: str, reason: str, value: Any = None) -> DataError:
        """A DataError located at ``key`` of the mapping (file and line where it was set)."""
        return located(self.lines, self.name, key, reason, value)

    def raw_columns(self) -> set[str]:
        """Every export column the mapping reads (each must be in the file's header)."""
        used = set(self.columns.values()) | set(self.chain)
        used |= {c for c, _ in self.durations.values()}
        used |= {c for cond in self.exclude.values() for c in cond}
        if self.date is not None:
            used.add(self.date[0])
        return used

    def key_of_column(self, raw: str) -> str:
        """The mapping key that names export column ``raw`` (for an error message)."""
        for canon, col in self.columns.items():
            if col == raw:
                return f"columns.{canon}"
        if self.date is not None and self.date[0] == raw:
            return "times.date.column"
        for name, (col, _) in self.durations.items():
            if col == raw:
                return f"durations.{name}.column"
        for reason, cond in self.exclude.items():
            if raw in cond:
                return f"exclude.{reason}.{raw}"
        return "times.chain"


def located(lines: Lines, name: str, key: str, reason: str, value: Any = None) -> DataError:
    """A DataError at mapping key ``key``: the file and line that set it (or its section)."""
    file, line = lines.get(key) or lines.get(key.rsplit(".", 1)[0]) or (name, None)
    return DataError(file, reason, row=line, column=key,
                     value=None if value is None else str(value))


def shipped() -> list[str]:
    """Names of the mappings that ship with cxsim."""
    folder = resources.files("cxsim.data.contacts") / "mappings"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def _source(name: str, folder: Path | None = None) -> tuple[str, str, Path | None]:
    """(file name for messages, YAML text, its folder) of a shipped name or a path (relative
    to ``folder``, the folder of the mapping that extends it, if given)."""
    if name in shipped():
        path = resources.files("cxsim.data.contacts") / "mappings" / f"{name}.yaml"
        return f"{name}.yaml", path.read_text(encoding="utf-8"), None
    path = Path(name)
    if folder is not None and not path.is_absolute():
        path = folder / path
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return path.name, path.read_text(encoding="utf-8"), path.parent
    raise DataError(name, "no such mapping: neither a shipped one (" + ", ".join(shipped())
                    + ") nor a .yaml file")


def _merge(base: dict, top: dict) -> dict:
    out = dict(base)
    for k, v in top.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _document(name: str, folder: Path | None = None, seen: tuple[str, ...] = ()
              ) -> tuple[str, dict, Lines]:
    file, text, here = _source(name, folder)
    doc, lines = load_yaml(file, text)
    parent = doc.get("extends")
    if parent is None:
        return file, doc, lines
    key = str(here / parent) if here is not None else str(parent)
    if not isinstance(parent, str) or key in seen or Path(key).name == file:
        raise DataError(file, "extends must name another mapping, without a cycle",
                        row=lines.get("extends", (file, None))[1], column="extends",
                        value=str(parent))
    _, base, base_lines = _document(parent, here, (*seen, key))
    return file, _merge(base, {k: v for k, v in doc.items() if k != "extends"}), \
        {**base_lines, **lines}


def _override_lines(overrides: dict, prefix: str = "") -> Lines:
    out: Lines = {}
    for k, v in overrides.items():
        key = f"{prefix}{k}"
        out[key] = (f"override {key}", None)
        if isinstance(v, dict):
            out.update(_override_lines(v, f"{key}."))
    return out


def _stringify(value: Any) -> Any:
    """Overrides from Python or Hydra carry ints and floats: the mapping reads text."""
    if isinstance(value, dict):
        return {str(k): _stringify(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_stringify(v) for v in value]
    return None if value is None else str(value)
