"""The generated pages: one per inventory section, the errata, the API, the benchmark guide.

Everything comes from the package: statements from :mod:`convspec.spec.inventory`, the spec and
reference functions naming an ID from their docstrings (as ``convspec inventory`` finds them),
the properties from their ``spec(...)`` markers (:mod:`convspec.verify.markers`), examples run
by :mod:`.run`, pictures drawn by :mod:`.pictures`.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import textwrap
from functools import cache
from pathlib import Path

from convspec.cli.inventory import naming
from convspec.spec import inventory
from convspec.spec.errata import ERRATA
from convspec.verify.markers import collect, properties_directory

from .examples import EXAMPLES
from .pictures import PICTURES
from .run import run_example
from .tex import statement_markdown, to_tex

ROOT = Path(__file__).resolve().parents[2]
API_PACKAGES = ("convspec.spec", "convspec.reference", "convspec.draw")
MAX_SOURCES = 4


def section_path(letter: str) -> str:
    return f"sections/{letter.lower()}.md"


def api_path(module: str) -> str:
    return f"api/{module}.md"


@cache
def api_modules() -> tuple[str, ...]:
    """The modules with an API page: every public module of the documented packages."""
    found = []
    for package in API_PACKAGES:
        root = importlib.import_module(package)
        found.append(package)
        found += [f"{package}.{m.name}" for m in pkgutil.iter_modules(root.__path__)
                  if not m.name.startswith("_")]
    return tuple(found)


def _object(dotted: str) -> object:
    """The object a dotted name like ``convspec.spec.sizes.conv_output_size`` names."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def _module_of(dotted: str) -> str:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        if ".".join(parts[:cut]) in api_modules():
            return ".".join(parts[:cut])
    raise KeyError(dotted)


def _summary(obj: object) -> str:
    doc = inspect.getdoc(getattr(obj, "fget", obj)) or ""
    return doc.split("\n\n")[0].replace("\n", " ")


def _api_link(dotted: str, *, depth: int = 1) -> str:
    up = "../" * depth
    short = dotted.split(".", 2)[-1]
    return f"[`{short}`]({up}{api_path(_module_of(dotted))}#{dotted})"


@cache
def _markers() -> dict[str, set[str]]:
    return collect()[0]


@cache
def _property_docs() -> dict[str, str]:
    """``module.py::name`` → the first line of the property's docstring."""
    docs = {}
    for path in sorted(properties_directory().glob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                doc = ast.get_docstring(node) or ""
                docs[f"{path.name}::{node.name}"] = doc.split("\n\n")[0].replace("\n", " ")
    return docs


def _indent(text: str, by: int = 4) -> str:
    return textwrap.indent(text, " " * by)


def _pictures(ident: str) -> list[str]:
    lines = []
    for k, picture in enumerate(PICTURES.get(ident, ())):
        name = f"{ident}-{k + 1}.{picture.suffix}"
        lines += ["<figure markdown=\"span\" class=\"convspec-picture\">",
                  f"  ![{picture.caption}](../pictures/{name}){{ loading=lazy }}",
                  f"  <figcaption>{picture.caption}<br><code>{picture.command(name)}</code>"
                  "</figcaption>",
                  "</figure>", ""]
    return lines


def _title(statement: str) -> str:
    """The words of a statement before its first formula, seeds or clause: "output size"."""
    head = re.split(r"`| \(00|[:;.]\s|, (?=[a-z]+ )", statement, maxsplit=1)[0].strip(" ,")
    if not head:  # the statement opens with its formula (F1: ∂f/∂W = ...)
        head = re.split(r" \(00", statement.replace("`", ""), maxsplit=1)[0]
    return textwrap.shorten(head.replace("**", ""), 60, placeholder=" …")


def entry_markdown(entry: inventory.Entry) -> str:
    """One ID: statement, formula, picture, worked example, spec, reference source, properties."""
    title = _title(entry.statement)
    lines = [f"## {entry.id} · {title} {{ #{entry.id} }}", ""]
    if entry.erratum:
        lines += ['!!! warning "Erratum: the notes state this wrongly"',
                  "    The spec implements the correct statement; the [errata page](../errata.md)"
                  " shows the notes' form failing on a counterexample.", ""]
    lines += [statement_markdown(entry.statement), ""]
    formulas = [f.strip() for f in entry.statement.split("`")[1::2]]
    if formulas:
        lines += ["$$", r" \qquad ".join(to_tex(f) for f in formulas[:1]), "$$", ""]
    lines += [f"*Seeds: {', '.join(entry.seeds) or 'none (derived)'}.*", ""]
    lines += _pictures(entry.id)
    if entry.id in EXAMPLES:
        lines += ["**Worked example** (run by the build):", "", "```pycon",
                  run_example(EXAMPLES[entry.id], f"example {entry.id}"), "```", ""]
    spec = naming(entry.id, "convspec.spec")
    if spec:
        lines += ["**In the spec:**", ""]
        lines += [f"- {_api_link(name)}: {_summary(_object(name))}" for name in spec]
        lines.append("")
    reference = naming(entry.id, "convspec.reference")
    if reference:
        lines += ["**Reference implementation:**", ""]
        for name in reference[:MAX_SOURCES]:
            source = textwrap.dedent(inspect.getsource(_object(name)))
            lines += [f'??? example "`{name}`"', "", _indent("```python"),
                      _indent(source.rstrip()), _indent("```"), ""]
        if len(reference) > MAX_SOURCES:
            more = ", ".join(_api_link(n) for n in reference[MAX_SOURCES:])
            lines += [f"Also: {more}.", ""]
    checks = sorted(_markers().get(entry.id, ()))
    if checks:
        lines += ["**Checked by:**", ""]
        lines += [f"- `{name}`: {_property_docs().get(name, '')}" for name in checks]
        lines += ["", f"Run them: `convspec verify --spec {entry.id}` "
                      f"(or `pytest -k {entry.id} --pyargs convspec.properties`).", ""]
    return "\n".join(lines)


def section_markdown(letter: str) -> str:
    entries = [e for e in inventory.entries() if e.section == letter]
    lines = [f"# {letter}. {inventory.SECTIONS[letter]}", "",
             f"{len(entries)} items of the notes' inventory, {entries[0].id} to "
             f"{entries[-1].id}. For each: the statement (formulas typeset), the seeds it comes "
             "from, a worked example run by the build, the spec functions and reference "
             "implementations whose docstrings name it, and the properties that check it.",
             "", "| ID | statement |", "| --- | --- |"]
    for e in entries:
        short = textwrap.shorten(e.statement.replace("`", "").replace("|", "/"), 90,
                                 placeholder=" …")
        lines.append(f"| [{e.id}](#{e.id}) | {short} |")
    lines.append("")
    lines += [entry_markdown(e) for e in entries]
    return "\n".join(lines)


def _value(value: object) -> str:
    """One line, for a table cell: arrays as nested lists."""
    if isinstance(value, tuple):
        return "(" + ", ".join(_value(v) for v in value) + ")"
    text = repr(value.tolist()) if hasattr(value, "tolist") else repr(value)
    return text if len(text) < 300 else text[:300] + " …"


def errata_markdown() -> str:
    lines = ["# Errata", "",
             "Where the notes are wrong, the spec implements the correct statement, and "
             "`convspec errata` (and `tests/test_errata.py`) evaluate the notes' literal "
             "statement on a counterexample, where it fails, and the correction, where it holds.",
             ""]
    for erratum in ERRATA:
        check = erratum.check()
        entry = inventory.entry(erratum.id)
        lines += [f"## {erratum.id} · {inventory.SECTIONS[entry.section]} {{ #{erratum.id} }}",
                  "", f"**The notes (seed {erratum.seed}):** {erratum.statement_zh}", "",
                  f"> {erratum.statement_en}", "",
                  f"**Correction:** {erratum.correction}", "",
                  "**Counterexample:** " + ", ".join(f"`{k} = {_value(v)}`" for k, v
                                                     in erratum.counterexample.items()), "",
                  f"| form | {erratum.sides} | holds? |", "| --- | --- | --- |",
                  f"| as the notes state it | `{_value(check.literal)}` | "
                  f"{'yes' if check.literal_holds else '**no**'} |",
                  f"| corrected | `{_value(check.corrected)}` | "
                  f"{'yes' if check.corrected_holds else '**no**'} |", "",
                  f"The inventory: [{erratum.id}]({section_path(entry.section)}#{erratum.id}).",
                  ""]
        for label, form in (("the notes' form", erratum.literal_form),
                            ("the corrected form", erratum.corrected_form)):
            lines += [f'??? example "Source of {label}"', "", _indent("```python"),
                      _indent(textwrap.dedent(inspect.getsource(form)).rstrip()),
                      _indent("```"), ""]
    return "\n".join(lines)


def api_markdown(module: str) -> str:
    return "\n".join([f"# `{module}`", "", f"::: {module}", "    options:",
                      "      show_source: true", "      members_order: source", ""])


def benchmarks_markdown() -> str:
    """bench/README.md, the benchmark guide, as it is in the repository (its links into
    docs/pages/, such as the dashboard's screenshots, made relative to the site's root)."""
    text = (ROOT / "bench" / "README.md").read_text(encoding="utf-8")
    text = text.replace("](../docs/pages/", "](")
    return text + "\n\n*This page is `bench/README.md` of the repository.*\n"


def defects_markdown() -> str:
    """The library defects page: each catalogued defect (``convspec report-bug --table`` has
    them as one table) with its reproduction as a code block, grouped by library."""
    from convspec.verify.defect_catalog import CATALOG

    lines = ["# Library defects", "",
             "Every bug convspec has found in the libraries it verifies, on any CPU: an adapter "
             "declares a probed defect only where its probe sees it, so what one machine "
             "declares depends on its kernels. `convspec report-bug --backend NAME --defect "
             "NAME` writes an upstream-ready report of one, `convspec report-bug RESULTS.json` "
             "of a failure; `convspec report-bug --table` prints them all as one table (the "
             "README's).", ""]
    library = None
    for entry in CATALOG:
        if entry.library != library:
            library = entry.library
            lines += [f"## {library}", ""]
        status = entry.status + (f"; avoided by `{entry.workaround}`" if entry.workaround
                                 else "")
        lines += [f"### `{entry.name}`", "", entry.summary[0].upper() + entry.summary[1:] + ".",
                  "", f"- **Backends:** {', '.join(f'`{b}`' for b in entry.backends)}",
                  f"- **Found by:** {entry.found_by}", f"- **Declared since:** {entry.since}",
                  f"- **Status:** {status}", ""]
        if entry.repro:
            # A shell line with what it should print after it: a text block, not one of the
            # site's executed sh blocks (report-bug runs it, on the library it needs).
            lines += ["Reproduction:", "", "```text", entry.repro, "```", ""]
    return "\n".join(lines)


def generated() -> dict[str, str]:
    """Every generated page: path in the site's sources → Markdown."""
    pages = {section_path(letter): section_markdown(letter) for letter in inventory.SECTIONS}
    pages["errata.md"] = errata_markdown()
    pages["benchmarks.md"] = benchmarks_markdown()
    pages["defects.md"] = defects_markdown()
    pages.update({api_path(m): api_markdown(m) for m in api_modules()})
    pages["api/index.md"] = "\n".join(
        ["# API", "", "Every public module of the spec, the reference implementations and the "
         "pictures, with each function's docstring and source.", ""]
        + [f"- [`{m}`]({m}.md): {_summary(importlib.import_module(m))}" for m in api_modules()]
        + [""])
    return pages
