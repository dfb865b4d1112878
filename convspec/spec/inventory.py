"""The inventory IDs of ``SPEC_INVENTORY.md``, checked in.

The inventory itself lives outside the repository (``../shared/SPEC_INVENTORY.md``), which a
fresh clone does not have; ``tests/test_inventory_coverage.py`` compares this copy with the
inventory where the file is present and checks that every ID here is named by a ``spec(...)``
marker of some property, and that every erratum is shown failing by some property.
"""

from __future__ import annotations

#: The inventory's sections, by letter.
SECTIONS: dict[str, str] = {
    "A": "Convolution and correlation", "B": "Size arithmetic",
    "C": "Parameter and compute counts", "D": "Matrix forms",
    "E": "Properties of convolution layers", "F": "Gradients", "G": "Pooling",
    "H": "Training formulas",
}

#: Every ID of the inventory, by section, in the inventory's order.
INVENTORY: dict[str, tuple[str, ...]] = {
    "A": tuple(f"A{i}" for i in range(1, 9)),
    "B": tuple(f"B{i}" for i in range(1, 15)),
    "C": tuple(f"C{i}" for i in range(1, 14)),
    "D": tuple(f"D{i}" for i in range(1, 9)),
    "E": tuple(f"E{i}" for i in range(1, 24)),
    "F": tuple(f"F{i}" for i in range(1, 10)),
    "G": tuple(f"G{i}" for i in range(1, 7)),
    "H": tuple(f"H{i}" for i in range(1, 6)),
}

#: All IDs, in order.
INVENTORY_IDS: tuple[str, ...] = tuple(i for ids in INVENTORY.values() for i in ids)

#: The IDs the inventory marks **Erratum**: the notes' statement is wrong.
ERRATA_IDS: tuple[str, ...] = ("B7", "C7", "E2")
