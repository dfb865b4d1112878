"""The package's import graph follows its architecture (issue 15).

convspec/spec is the bottom (the notes' formulas); reference implementations and backends sit on
it; convspec/verify and convspec/perf sit on those and never on each other; the command line sits
on top. No module reaches into another package's private module (a name starting with ``_``).
Every import counts, including those inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIRS = {
    "convspec": ROOT / "convspec",
    "convspec.reference": ROOT / "reference",
    "convspec.properties": ROOT / "properties",
}

# importer package -> packages it must never import
FORBIDDEN = {
    "convspec.spec": ("convspec.verify", "convspec.perf", "convspec.backends", "convspec.cli",
                      "convspec.properties"),
    "convspec.reference": ("convspec.verify", "convspec.perf", "convspec.backends", "convspec.cli",
                           "convspec.properties"),
    "convspec.backends": ("convspec.verify", "convspec.perf", "convspec.cli", "convspec.properties"),
    "convspec.perf": ("convspec.verify", "convspec.cli", "convspec.properties"),
    "convspec.verify": ("convspec.cli", "convspec.perf"),
    "convspec.draw": ("convspec.verify", "convspec.perf", "convspec.cli"),
}


def _modules() -> dict[str, Path]:
    found = {}
    for package, directory in PACKAGE_DIRS.items():
        for path in directory.rglob("*.py"):
            parts = list(path.relative_to(directory).with_suffix("").parts)
            if package == "convspec" and parts[0] in ("reference", "properties"):
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([package, *parts])] = path
    return found


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def imports_of(name: str) -> set[str]:
    """Absolute names of every module ``name`` imports (``from a import b`` counts ``a.b`` when
    ``a.b`` is a module)."""
    tree = ast.parse(MODULES[name].read_text())
    package = name if _is_package(name) else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets.add(module)
            targets.update(f"{module}.{alias.name}" for alias in node.names
                           if f"{module}.{alias.name}" in MODULES)
    return {t for t in targets if t == "convspec" or t.startswith("convspec.")}


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _private_owner(target: str) -> str | None:
    """The package that owns ``target`` if ``target`` is (inside) a private module."""
    parts = target.split(".")
    for i, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:i])
    return None


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_run_downwards(name: str) -> None:
    wrong = []
    for importer_package, forbidden in FORBIDDEN.items():
        if _within(name, importer_package):
            wrong += [t for t in imports_of(name) if any(_within(t, f) for f in forbidden)]
    assert not wrong, f"{name} imports {sorted(wrong)}, which sit above it in the layering"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_private_module_of_another_package(name: str) -> None:
    wrong = []
    for target in imports_of(name):
        owner = _private_owner(target)
        if owner is not None and not _within(name, owner):
            wrong.append(target)
    assert not wrong, f"{name} imports private modules of other packages: {sorted(wrong)}"


def test_the_rules_see_a_violation() -> None:
    """The scanner finds imports inside functions and relative imports (so the rules can fail)."""
    assert "convspec.spec.geometry" in imports_of("convspec.backends.protocol")
    assert any(_within(t, "convspec.reference") for t in imports_of("convspec.spec.errata"))


def test_every_package_is_installed() -> None:
    """A non-editable install ships only the packages pyproject.toml lists: each one here must be."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    packages = {name for name in MODULES if _is_package(name)}
    assert packages <= listed, f"packages missing from pyproject.toml: {sorted(packages - listed)}"
