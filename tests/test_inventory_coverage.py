"""Every inventory ID is checked by at least one property, and every erratum is shown failing.

The IDs come from the checked-in copy ``convspec/spec/inventory.py``; where the inventory file
(``../shared/SPEC_INVENTORY.md``, or ``$CONVSPEC_INVENTORY``) is present, the copy must match
it. Markers are read from the property modules' source with :mod:`ast` (no import, so a
module that needs an absent backend still counts).
"""

from __future__ import annotations

import ast
import os
import re
from collections import defaultdict
from pathlib import Path

import pytest

from convspec.spec.errata import ERRATA
from convspec.spec.inventory import ERRATA_IDS, INVENTORY, INVENTORY_IDS

ROOT = Path(__file__).resolve().parents[1]
PROPERTIES = ROOT / "properties"
INVENTORY_FILE = Path(os.environ.get("CONVSPEC_INVENTORY",
                                     ROOT.parent / "shared" / "SPEC_INVENTORY.md"))


def parse_inventory(text: str) -> tuple[dict[str, tuple[str, ...]], tuple[str, ...]]:
    """``({section: IDs}, erratum IDs)`` of the inventory's Markdown.

    An item is a line ``- ID text`` under a heading ``## X. Title``; its continuation lines
    belong to it, and it is an erratum when its text says ``**Erratum**``.
    """
    sections: dict[str, list[str]] = defaultdict(list)
    errata: list[str] = []
    section = current = None
    for line in text.splitlines():
        heading = re.match(r"^## ([A-Z])\. ", line)
        if heading:
            section, current = heading.group(1), None
            continue
        item = re.match(r"^- ([A-Z]\d+) ", line)
        if item and section:
            current = item.group(1)
            sections[section].append(current)
        elif not line.startswith("  "):
            current = None
        if current and "**Erratum**" in line and current not in errata:
            errata.append(current)
    return {k: tuple(v) for k, v in sections.items()}, tuple(errata)


def _calls(tree: ast.AST, name: str):
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


def collect(directory: Path = PROPERTIES) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """``({ID: tests naming it in spec(...)}, {erratum ID: modules calling erratum(ID)})``."""
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


def test_checked_in_ids_match_the_inventory():
    if not INVENTORY_FILE.is_file():
        pytest.skip(f"no inventory at {INVENTORY_FILE} (a fresh clone has no ../shared); the "
                    "checked-in copy convspec/spec/inventory.py is used")
    sections, errata = parse_inventory(INVENTORY_FILE.read_text(encoding="utf-8"))
    assert sections == INVENTORY, "convspec/spec/inventory.py differs from SPEC_INVENTORY.md"
    assert sorted(errata) == sorted(ERRATA_IDS)


def test_parser_reads_items_continuations_and_errata():
    text = ("## A. One\n- A1 first (000).\n- A2 second,\n  continued. **Erratum** (001): x.\n"
            "## B. Two\n- B1 third.\n  **Erratum** too.\n- B2 not one.\n")
    assert parse_inventory(text) == ({"A": ("A1", "A2"), "B": ("B1", "B2")}, ("A2", "B1"))


def test_every_id_is_checked_by_a_property():
    marked, _ = collect()
    missing = [i for i in INVENTORY_IDS if not marked.get(i)]
    assert not missing, f"inventory IDs no property names in spec(...): {missing}"


def test_every_marker_names_an_inventory_id():
    marked, _ = collect()
    unknown = {i: sorted(tests) for i, tests in marked.items() if i not in INVENTORY_IDS}
    assert not unknown, f"spec(...) markers with IDs the inventory lacks: {unknown}"


def test_every_section_has_its_module():
    for letter in INVENTORY:
        modules = list(PROPERTIES.glob(f"test_{letter.lower()}_*.py"))
        assert len(modules) == 1, f"section {letter}: expected one module, found {modules}"
        assert f'pytest.mark.section("{letter}")' in modules[0].read_text(encoding="utf-8")


def test_every_erratum_is_shown_failing_by_a_property():
    """Each erratum of the inventory has a record in :mod:`convspec.spec.errata` and a property that
    evaluates it (``erratum("ID")``) and is marked with its ID."""
    marked, shown = collect()
    assert sorted(e.id for e in ERRATA) == sorted(ERRATA_IDS)
    for name in ERRATA_IDS:
        assert shown.get(name), f"no property calls erratum({name!r})"
        assert marked.get(name)


def test_collector_finds_markers_and_errata(tmp_path):
    (tmp_path / "test_x_demo.py").write_text(
        "import pytest\nfrom convspec.spec.errata import erratum\n\n"
        "@pytest.mark.spec('A1', 'B7')\ndef test_one():\n    erratum('B7').check()\n"
        "@pytest.mark.ops('conv')\ndef test_two():\n    pass\n")
    marked, shown = collect(tmp_path)
    assert dict(marked) == {"A1": {"test_x_demo.py::test_one"},
                            "B7": {"test_x_demo.py::test_one"}}
    assert dict(shown) == {"B7": {"test_x_demo.py"}}
