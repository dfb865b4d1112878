"""Which properties name which inventory IDs, read from the property modules' source.

The modules are parsed with :mod:`ast`, not imported, so a module whose backend is absent still
counts, and nothing here runs a test. ``spec("B7", ...)`` markers name the IDs a property checks;
``erratum("B7")`` calls show an erratum failing.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from importlib import resources
from pathlib import Path


def properties_directory() -> Path:
    """Where the installed property modules (``convspec.properties``) are."""
    return Path(str(resources.files("convspec.properties")))


def _calls(tree: ast.AST, name: str) -> Iterator[list[str]]:
    """String arguments of every call ``….name("X", ...)`` or ``name("X")`` in a module."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if called == name:
            yield [a.value for a in node.args
                   if isinstance(a, ast.Constant) and isinstance(a.value, str)]


def _is_spec_marker(node: ast.Call) -> bool:
    func = node.func
    return (isinstance(func, ast.Attribute) and func.attr == "spec"
            and isinstance(func.value, ast.Attribute) and func.value.attr == "mark")


def collect(directory: Path | None = None) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """``({ID: "module.py::property" naming it in spec(...)}, {erratum ID: modules calling
    erratum(ID)})`` for the ``test_*.py`` modules of ``directory`` (default: the installed
    properties)."""
    directory = properties_directory() if directory is None else directory
    marked: dict[str, set[str]] = defaultdict(set)
    shown: dict[str, set[str]] = defaultdict(set)
    for path in sorted(directory.glob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef):
                continue
            for decorator in function.decorator_list:
                if isinstance(decorator, ast.Call) and _is_spec_marker(decorator):
                    for arg in decorator.args:
                        if isinstance(arg, ast.Constant):
                            marked[arg.value].add(f"{path.name}::{function.name}")
        for args in _calls(tree, "erratum"):
            for name in args:
                shown[name].add(path.name)
    return marked, shown
