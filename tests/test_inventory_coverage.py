"""Every inventory ID is checked by at least one property, and every erratum is shown failing.

The IDs come from the package's copy ``convspec/spec/inventory.md``; where the inventory file
(``../shared/SPEC_INVENTORY.md``, or ``$CONVSPEC_INVENTORY``) is present, the copy must match
it. Markers are read from the property modules' source with :mod:`ast` (no import, so a
module that needs an absent backend still counts).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from convspec.spec.errata import ERRATA
from convspec.spec import inventory
from convspec.spec.inventory import ERRATA_IDS, INVENTORY, INVENTORY_IDS
from convspec.verify.markers import collect

ROOT = Path(__file__).resolve().parents[1]
PROPERTIES = ROOT / "properties"
INVENTORY_FILE = Path(os.environ.get("CONVSPEC_INVENTORY",
                                     ROOT.parent / "shared" / "SPEC_INVENTORY.md"))


def test_checked_in_ids_match_the_inventory():
    if not INVENTORY_FILE.is_file():
        pytest.skip(f"no inventory at {INVENTORY_FILE} (a fresh clone has no ../shared); the "
                    "copy convspec/spec/inventory.md is used")
    original = INVENTORY_FILE.read_text(encoding="utf-8")
    assert inventory.parse(original) == inventory.entries(), (
        "convspec/spec/inventory.md differs from SPEC_INVENTORY.md: copy it over")


def test_parser_reads_items_continuations_and_errata():
    text = ("## A. One\n- A1 first (000).\n- A2 second,\n  continued. **Erratum** (001): x.\n"
            "## B. Two\n- B1 third.\n  **Erratum** too.\n- B2 not one.\n")
    entries = inventory.parse(text)
    assert [e.id for e in entries] == ["A1", "A2", "B1", "B2"]
    assert [e.id for e in entries if e.erratum] == ["A2", "B1"]
    assert entries[1].statement == "second, continued. **Erratum** (001): x."
    assert entries[1].seeds == ("001",) and entries[0].seeds == ("000",)


def test_every_entry_reads_as_a_statement_with_its_seeds():
    assert len(INVENTORY_IDS) == 86 and set(INVENTORY) == set(inventory.SECTIONS)
    for entry in inventory.entries():
        # E4 alone cites no seed: the inventory derives it ("implied by D1").
        assert entry.statement and (entry.seeds or "implied by" in entry.statement), entry
    assert inventory.entry("b7").erratum and "m + (m-1)(d-1)" in inventory.entry("B7").statement
    with pytest.raises(KeyError, match="section B has B1 to B14"):
        inventory.entry("B15")


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
