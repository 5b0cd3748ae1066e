"""The package's three layers: core imports nothing from Django, and no layer reaches up.

``core`` (the pool) works on DB-API connections and SQLAlchemy alone, ``integration`` wires
it to Django, ``operations`` (checks, command, metrics) sits on both.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import django_mysqlpool

PACKAGE = Path(django_mysqlpool.__file__).parent
LAYERS = ["core", "integration", "operations"]  # each may import only those before it


def modules_of(layer: str) -> list[str]:
    paths = (PACKAGE / layer).glob("*.py")
    return sorted(f"django_mysqlpool.{layer}.{p.stem}" for p in paths if p.stem != "__init__")


def test_the_core_imports_without_django():
    code = (
        "import sys, importlib\n"
        f"for name in {modules_of('core')!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m == 'django' or m.startswith('django.')))\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert found.stdout.strip() == "[]"
    assert len(modules_of("core")) >= 15


def imported_layers(path: Path) -> set[str]:
    """The layers a module imports from (relative or absolute imports of the package)."""
    layers = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level >= 2 and node.module:
                layers.add(node.module.split(".")[0])
            elif node.level == 0 and (node.module or "").startswith("django_mysqlpool."):
                layers.add((node.module or "").split(".")[1])
    return layers & set(LAYERS)


def test_no_layer_imports_from_a_layer_above_it():
    upward = []
    for rank, layer in enumerate(LAYERS):
        above = set(LAYERS[rank + 1 :])
        for path in (PACKAGE / layer).glob("*.py"):
            if imported_layers(path) & above:
                upward.append(
                    f"{layer}/{path.name} imports {sorted(imported_layers(path) & above)}"
                )
    assert upward == []
