"""``convspec inventory [ID ...]``: the notes' formulas and claims by ID, and where convspec
states, implements and checks each one.

Without an ID: every section with its IDs and their first words. With IDs (``B7``, ``b7``, or a
section letter ``B``): the statement, the seeds, whether it is an erratum, the spec and reference
functions whose docstrings name it, and the properties that check it (``spec(...)`` markers).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import pkgutil
import re
import textwrap
from types import ModuleType

from ..spec import inventory
from ._usage import UsageError

COMMAND = "inventory"
HELP = "list the inventory of the notes, or show one ID: statement, spec, reference, properties"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ids", nargs="*", metavar="ID",
                        help="inventory IDs (B7) or section letters (B); none: list every ID")


def _modules(package: str) -> list[ModuleType]:
    root = importlib.import_module(package)
    found = [root]
    for info in pkgutil.iter_modules(root.__path__):
        found.append(importlib.import_module(f"{package}.{info.name}"))
    return found


def naming(ident: str, package: str) -> list[str]:
    """Public functions and classes of ``package`` whose docstrings name ``ident``."""
    pattern = re.compile(rf"(?<![A-Za-z0-9]){re.escape(ident)}(?![0-9])")
    names: dict[str, None] = {}
    for module in _modules(package):
        if module is inventory:
            continue  # the inventory's own docstrings use IDs as examples
        for name, obj in vars(module).items():
            if name.startswith("_") or not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            if getattr(obj, "__module__", None) != module.__name__:
                continue  # re-exported: listed where it is defined
            if pattern.search(inspect.getdoc(obj) or ""):
                names[f"{module.__name__}.{name}"] = None
            if inspect.isclass(obj):
                for member, value in vars(obj).items():
                    doc = inspect.getdoc(getattr(value, "fget", value)) if not member.startswith("_") else None
                    if doc and pattern.search(doc):
                        names[f"{module.__name__}.{name}.{member}"] = None
    return list(names)


def _show(entry: inventory.Entry, marked: dict[str, set[str]]) -> list[str]:
    wrap = textwrap.TextWrapper(width=96, initial_indent="  ", subsequent_indent="  ")
    lines = [f"{entry.id}  {inventory.SECTIONS[entry.section]}"
             + ("  (erratum: the notes state it wrongly; the spec implements the correction)"
                if entry.erratum else ""),
             *wrap.wrap(entry.statement),
             f"  seeds: {', '.join(entry.seeds) or 'none (derived)'}"]
    for title, found in (("spec", naming(entry.id, "convspec.spec")),
                         ("reference", naming(entry.id, "convspec.reference")),
                         ("properties", sorted(marked.get(entry.id, ())))):
        lines.append(f"  {title}:" + ("".join(f"\n    {name}" for name in found) if found else " -"))
    lines.append(f"  run them: convspec verify --spec {entry.id}")
    return lines


def _listing() -> list[str]:
    lines = []
    for letter, title in inventory.SECTIONS.items():
        lines.append(f"{letter}  {title}")
        for entry in inventory.entries():
            if entry.section == letter:
                mark = "*" if entry.erratum else " "
                lines.append(f"  {entry.id:<4}{mark} {textwrap.shorten(entry.statement, 86)}")
    lines.append("* erratum.  convspec inventory B7: one ID in full")
    return lines


def run(args: argparse.Namespace) -> int:
    from ..verify.markers import collect

    if not args.ids:
        print("\n".join(_listing()))
        return 0
    chosen: list[inventory.Entry] = []
    for ident in args.ids:
        text = ident.strip().upper()
        if text in inventory.SECTIONS:
            chosen += [e for e in inventory.entries() if e.section == text]
            continue
        try:
            chosen.append(inventory.entry(text))
        except KeyError as exc:
            raise UsageError(f"{ident}: {exc.args[0]}; `convspec inventory` lists them") from None
    marked, _ = collect()
    print("\n\n".join("\n".join(_show(e, marked)) for e in chosen))
    return 0
