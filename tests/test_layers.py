"""The layers in DESIGN.md hold: an import only goes down, and a solution never imports another solution."""

from __future__ import annotations

import ast
from pathlib import Path

import opsdesk

_SRC = Path(opsdesk.__file__).parent

# Bottom up. Packages on one layer may import each other, except the solutions.
_LAYER = {
    "core": 0,
    "db": 1,
    "auth": 2,
    "providers": 2,
    "jobs": 2,
    "events": 2,
    "knowledge": 3,
    "conversation": 3,
    "gateway": 3,
    "workspaces": 3,
    "orders": 4,
    "planner": 4,
    "voice": 4,
    "crew": 4,
    "demo": 5,
    "web": 5,
    "app": 6,
    "api": 7,
    "cli": 7,
}
_SOLUTIONS = {"orders", "planner", "voice", "crew"}
# What a process holds (settings, database, providers) is handed to every domain; it imports only core, db and
# providers, so depending on it is depending on those.
_CONTEXT = "opsdesk.app.context"


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
    return [name for name in names if name.startswith("opsdesk.")]


def _package(path: Path) -> str:
    return path.relative_to(_SRC).parts[0].removesuffix(".py")


def _violations() -> list[str]:
    found: list[str] = []
    for path in sorted(_SRC.rglob("*.py")):
        if "migrations" in path.parts:  # Alembic loads every domain's tables: wiring, like app/
            continue
        source = _package(path)
        if source not in _LAYER:
            continue
        for module in _imports(path):
            target = module.split(".")[1]
            if target == source or target not in _LAYER:
                continue
            if module == _CONTEXT and _LAYER[source] >= _LAYER["auth"]:
                continue
            if _LAYER[target] > _LAYER[source]:
                found.append(f"{path.relative_to(_SRC)} imports {module} (up a layer)")
            elif source in _SOLUTIONS and target in _SOLUTIONS:
                found.append(f"{path.relative_to(_SRC)} imports {module} (another solution)")
    return found


def test_every_top_level_package_has_a_layer() -> None:
    packages = {_package(path) for path in _SRC.rglob("*.py")} - {"__init__", "__main__"}
    assert packages <= set(_LAYER), sorted(packages - set(_LAYER))


def test_imports_only_go_down_and_solutions_stay_apart() -> None:
    assert _violations() == []


def test_the_app_context_needs_only_the_floor() -> None:
    allowed = ("opsdesk.core", "opsdesk.db", "opsdesk.providers")
    assert [name for name in _imports(_SRC / "app" / "context.py") if not name.startswith(allowed)] == []
