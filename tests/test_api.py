"""Each module's ``__all__`` names what the other modules of the package take from it."""

from __future__ import annotations

import ast
import importlib
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "watchdog_mdm"


def imported_names() -> dict[str, set[str]]:
    """For each module of the package, the names other modules of it import from it."""
    names: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("watchdog_mdm."):
                names[str(node.module)] |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module == "watchdog_mdm":
                # `from watchdog_mdm import report`: then the attributes read from it (not
                # `__version__` or `PROG`, the package's own)
                for alias in node.names:
                    if (PACKAGE / f"{alias.name}.py").exists():
                        names[f"watchdog_mdm.{alias.name}"] |= _attributes(path, alias.name)
    return names


def _attributes(path: Path, module: str) -> set[str]:
    return {
        node.attr
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == module
    }


def test_every_name_one_module_takes_from_another_is_in_its_all() -> None:
    names = imported_names()
    assert {"watchdog_mdm.report", "watchdog_mdm.patterns", "watchdog_mdm.state"} <= set(names)
    for module, taken in sorted(names.items()):
        exported = set(importlib.import_module(module).__all__)
        assert taken <= exported, f"{module}.__all__ lacks {sorted(taken - exported)}"


def test_the_package_imports_its_own_modules_by_their_full_names() -> None:
    # the check above reads only `from watchdog_mdm.x import`: a relative import would
    # escape it
    relative = [
        f"{path.name}:{node.lineno}"
        for path in PACKAGE.glob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and node.level > 0
    ]
    assert relative == []
