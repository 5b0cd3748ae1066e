"""The package's four layers, arrows pointing down only, and no import cycle anywhere.

``connection`` (one server session) sits under ``pool`` (lending and lifecycle); neither
imports Django. ``integration`` wires them to Django; ``operations`` (checks, command,
metrics, toolbar) sits on top and reads the pool only through its public snapshot. Every
import counts, a late one inside a function or one only for type checking included: each
is an arrow a reader has to follow.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import django_mysqlpool

PACKAGE = Path(django_mysqlpool.__file__).parent
#: Each layer may import only from the layers before it (and from itself).
LAYERS = ["connection", "pool", "integration", "operations"]
#: The most lines a module or a class may have (the house style's "small modules").
MAX_MODULE_LINES = 350
MAX_CLASS_LINES = 200


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, source: str, is_package: bool, known: set[str]) -> set[str]:
    """The package's modules that ``name`` (its ``source``) imports, wherever the import
    statement is."""
    package = name if is_package else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            found.add(stem)
            found.update(f"{stem}.{alias.name}" for alias in node.names)
    # Importing a module runs its packages' __init__ first: arrows to them too, except to
    # the importer's own packages, which are imported before it anyway.
    found |= {parent for module in found for parent in packages_of(module)}
    return {module for module in found if module in known and module != name} - set(
        packages_of(name)
    )


def packages_of(module: str) -> list[str]:
    """``a.b.c`` -> ``["a.b", "a"]``."""
    return [module.rsplit(".", depth)[0] for depth in range(1, module.count(".") + 1)]


def import_graph() -> dict[str, set[str]]:
    modules = package_modules()
    return {
        name: imports_of(name, path.read_text(), path.name == "__init__.py", set(modules))
        for name, path in modules.items()
    }


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def test_there_are_four_layers_and_no_core():
    folders = {path.name for path in PACKAGE.iterdir() if (path / "__init__.py").exists()}
    assert set(LAYERS) <= folders
    assert "core" not in folders


def test_no_layer_imports_from_a_layer_above_it():
    upward = []
    for module, imported in import_graph().items():
        layer = layer_of(module)
        if layer is None:
            continue  # the package root, the backend, the app: they sit on top
        allowed = set(LAYERS[: LAYERS.index(layer) + 1])
        for target in sorted(imported):
            if layer_of(target) not in allowed:
                upward.append(f"{module} -> {target}")
    assert upward == []


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    cycles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycles.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    assert cycles == []


def test_the_graph_sees_late_and_type_only_imports():
    """The walk itself: a late import and a TYPE_CHECKING one are arrows too."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from ..pool.stats import x\n"
        "def f():\n    from . import driver\n"
    )
    found = imports_of("django_mysqlpool.connection.probe", source, False, set(package_modules()))
    assert found == {
        "django_mysqlpool.pool.stats",
        "django_mysqlpool.connection.driver",
        "django_mysqlpool.pool",
    }


def test_connection_and_pool_import_without_django():
    lower = sorted(m for m in package_modules() if layer_of(m) in ("connection", "pool"))
    code = (
        "import sys, importlib\n"
        f"for name in {lower!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m == 'django' or m.startswith('django.')))\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert found.stdout.strip() == "[]"
    assert len(lower) >= 20


def test_operations_read_the_pool_through_its_public_names_only():
    """Status, metrics and the toolbar see ``pool_stats()`` and the package's public
    names, never a module below ``integration``."""
    below = []
    for module, imported in import_graph().items():
        if layer_of(module) == "operations":
            below += [f"{module} -> {t}" for t in sorted(imported) if reaches_below(t)]
    assert below == []


def reaches_below(module: str) -> bool:
    """A module under ``connection``, or one inside ``pool`` past its public names."""
    return layer_of(module) == "connection" or (
        layer_of(module) == "pool" and module != "django_mysqlpool.pool"
    )


def test_modules_and_classes_stay_small():
    too_big = []
    for module, path in package_modules().items():
        text = path.read_text()
        lines = len(text.splitlines())
        if lines > MAX_MODULE_LINES:
            too_big.append(f"{module}: {lines} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef):
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                if size > MAX_CLASS_LINES:
                    too_big.append(f"{module}.{node.name}: {size} lines")
    assert too_big == []
