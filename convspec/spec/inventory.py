"""The inventory of the notes: every formula and claim, with its ID (A1 … H5), inside the package.

``inventory.md`` next to this module is the inventory itself (a copy of the project's
``SPEC_INVENTORY.md``: ``tests/test_inventory_coverage.py`` checks the two agree where the
original is present). Each item is a line ``- ID statement (seeds)`` under a heading
``## X. Title``; its indented continuation lines belong to it, and it is an erratum when it says
``**Erratum**``. ``convspec inventory [ID]`` prints it; ``pytest -k B7`` and
``convspec verify --spec B7`` select the properties that name an ID in ``spec(...)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

#: The inventory's sections, by letter (short titles for tables).
SECTIONS: dict[str, str] = {
    "A": "Convolution and correlation", "B": "Size arithmetic",
    "C": "Parameter and compute counts", "D": "Matrix forms",
    "E": "Properties of convolution layers", "F": "Gradients", "G": "Pooling",
    "H": "Training formulas",
}

_ID = re.compile(r"^[A-H]([1-9]\d?)$")


@dataclass(frozen=True)
class Entry:
    """One inventory item: ``id`` (``"B7"``), its section letter, the statement as written
    (formulas in backticks), the seeds it comes from (``("002", "003")``) and whether the notes
    state it wrongly (an erratum, whose correct form the spec implements)."""

    id: str
    section: str
    statement: str
    seeds: tuple[str, ...]
    erratum: bool

    def __str__(self) -> str:
        mark = " [erratum]" if self.erratum else ""
        return f"{self.id}{mark} ({SECTIONS[self.section]}): {self.statement}"


def parse(text: str) -> tuple[Entry, ...]:
    """The entries of an inventory in Markdown, in order."""
    items: list[tuple[str, str, list[str]]] = []
    section = None
    for line in text.splitlines():
        heading = re.match(r"^## ([A-Z])\. ", line)
        if heading:
            section = heading.group(1)
            continue
        item = re.match(r"^- ([A-Z]\d+) (.*)$", line)
        if item and section:
            items.append((item.group(1), section, [item.group(2)]))
        elif line.startswith("  ") and items and items[-1][1] == section:
            items[-1][2].append(line.strip())
    entries = []
    for ident, letter, lines in items:
        statement = " ".join(lines)
        seeds = tuple(dict.fromkeys(re.findall(r"\b(00\d)\b", statement)))
        entries.append(Entry(ident, letter, statement, seeds, "**Erratum**" in statement))
    return tuple(entries)


@cache
def entries() -> tuple[Entry, ...]:
    """Every entry of the inventory shipped with convspec."""
    text = resources.files(__package__).joinpath("inventory.md").read_text(encoding="utf-8")
    return parse(text)


def entry(ident: str) -> Entry:
    """The entry with this ID; ``KeyError`` naming the IDs of its section otherwise."""
    wanted = ident.strip().upper()
    for item in entries():
        if item.id == wanted:
            return item
    section = [e.id for e in entries() if e.id[0] == wanted[:1]]
    hint = (f"section {wanted[:1]} has {section[0]} to {section[-1]}" if section
            else f"sections are {', '.join(SECTIONS)}")
    raise KeyError(f"no inventory ID {ident!r}: {hint}")


def is_id(text: str) -> bool:
    """Whether ``text`` looks like an inventory ID (a section letter and a number)."""
    return bool(_ID.match(text.strip().upper()))


#: Every ID of the inventory, by section, in the inventory's order.
INVENTORY: dict[str, tuple[str, ...]] = {
    letter: tuple(e.id for e in entries() if e.section == letter) for letter in SECTIONS
}

#: All IDs, in order.
INVENTORY_IDS: tuple[str, ...] = tuple(e.id for e in entries())

#: The IDs the inventory marks **Erratum**: the notes' statement is wrong.
ERRATA_IDS: tuple[str, ...] = tuple(e.id for e in entries() if e.erratum)
