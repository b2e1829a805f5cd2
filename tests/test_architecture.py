"""The rooms' doors open one way: read every import of ``cxsim/`` (module level and inside
functions) from the syntax trees, and fail on any import cycle between modules and on any
import from a later room into an earlier one (the order of docs/architecture.md)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "cxsim"
# The rooms, earliest first: a module may import from its own room and from earlier ones.
ROOMS = ("fileio", "progress", "spec", "metrics", "outcomes", "engine", "data", "calibrate",
         "forecast", "workforce", "results", "backtest", "plots", "apps")


def module_of(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_of(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str) -> set[str]:
    """The cxsim modules ``name`` imports, wherever in the file (``from a import b`` counts as
    ``a.b`` when that is a module, else ``a``)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in MODULES else base)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: imports_of(name) for name in MODULES}


def room(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else None


def closure(name: str) -> set[str]:
    seen, todo = set(), [name]
    while todo:
        for m in GRAPH[todo.pop()]:
            if m not in seen:
                seen.add(m)
                todo.append(m)
    return seen


def test_the_rooms_are_the_documented_ones_in_the_documented_order() -> None:
    assert {room(m) for m in MODULES} - {None} == set(ROOMS)
    doc = (ROOT / "docs" / "architecture.md").read_text()
    line = re.search(r"^Room order: (.*)$", doc, flags=re.M)
    assert line, "docs/architecture.md states the room order on a line 'Room order: ...'"
    assert tuple(re.findall(r"`([a-z]+)`", line.group(1))) == ROOMS


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_import_from_a_later_room(name: str) -> None:
    mine = room(name)
    if mine is None:
        return
    later = [m for m in GRAPH[name] if room(m) and ROOMS.index(room(m)) > ROOMS.index(mine)]
    assert not later, f"{name} ({mine}) imports from a later room: {sorted(later)}"


def test_no_import_cycle() -> None:
    """Depth-first search for a back edge; the cycle found is named."""
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(GRAPH[m]):
            if state.get(n) == 1:
                cycle = stack[stack.index(n):] + [n]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(GRAPH):
        if m not in state:
            visit(m)


@pytest.mark.parametrize(("importer", "forbidden"), [
    ("cxsim.forecast", "cxsim.calibrate.micro.fit"),  # posterior draws, not the sampler
    ("cxsim.apps.check", "cxsim.apps.fit"),
    ("cxsim.metrics", "cxsim.spec"),  # KPI formulas know nothing of scenarios
])
def test_rooms_that_must_stay_apart(importer: str, forbidden: str) -> None:
    """Not even through another module: ``forecast`` reads posterior draws without the
    sampling module, one app does not import another."""
    for name in [m for m in MODULES if m == importer or m.startswith(importer + ".")]:
        assert forbidden not in closure(name), f"{name} reaches {forbidden}"


def test_the_reader_finds_imports() -> None:
    """The test reads what it should (it cannot pass by reading nothing)."""
    assert "cxsim.engine.episode" in GRAPH["cxsim.engine.journey"]
    assert "cxsim.spec.kinds" in GRAPH["cxsim.engine.nodes"]
    assert "cxsim.calibrate.micro.draws" in GRAPH["cxsim.forecast.propagate"]
    assert "cxsim.calibrate.store" in GRAPH["cxsim.forecast.study"]  # inside a function
