"""The conformance matrix: backends × properties, from ``convspec verify --json`` results.

:func:`load_runs` reads and checks result files, :func:`build_matrix` lines them up (one row
per property, grouped by inventory section, one column per backend run), and
:func:`to_markdown` / :func:`to_html` render it. A cell is ``pass``, ``FAIL`` or ``skip``;
failure and skip reasons are listed under the table (Markdown) or shown on hover and in a
list (HTML), so a reader sees *why* a backend does not run a property.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..spec.inventory import SECTIONS

SYMBOL = {"passed": "pass", "failed": "FAIL", "skipped": "skip"}
REQUIRED_KEYS = ("backend", "profile", "tests")


class ReportError(ValueError):
    """A results file that cannot be read or is not ``convspec verify --json`` output."""


@dataclass(frozen=True)
class Run:
    """One ``convspec verify`` run: its backend and its per-property outcomes."""

    label: str
    source: str
    profile: str
    duration: float
    precision: dict[str, Any]
    tests: dict[str, dict[str, Any]]


@dataclass
class Row:
    """One property: its section, inventory IDs and each run's entry (``None``: not run)."""

    name: str
    section: str
    ids: tuple[str, ...]
    cells: list[dict[str, Any] | None] = field(default_factory=list)


def load_runs(paths: Iterable[str | Path]) -> list[Run]:
    """Read result files; a backend verified twice keeps both columns, labelled apart."""
    runs: list[Run] = []
    seen: dict[str, int] = {}
    for path in paths:
        path = Path(path)
        try:
            document = json.loads(path.read_text())
        except OSError as exc:
            raise ReportError(f"{path}: cannot read it ({exc.strerror})") from None
        except ValueError as exc:
            raise ReportError(f"{path}: not JSON ({exc})") from None
        missing = [k for k in REQUIRED_KEYS if not isinstance(document, dict) or k not in document]
        if missing:
            raise ReportError(f"{path}: not a `convspec verify --json` results file (missing "
                              f"{', '.join(missing)})")
        label = str(document.get("backend_name") or document["backend"])
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            label = f"{label} ({path.stem})"
        tests = {t["name"]: t for t in document["tests"]}
        profile = str(document["profile"])
        examples = document.get("examples") or {}
        if "reason" in examples:  # the backend ran a share of the profile's examples
            profile += f" ({examples['per_property']} of {examples['profile']} examples)"
        runs.append(Run(label, str(path), profile,
                        float(document.get("duration", 0.0)), dict(document.get("precision", {})),
                        tests))
    if not runs:
        raise ReportError("no results files given; pass the files `convspec verify --json` wrote")
    return runs


def build_matrix(runs: Sequence[Run]) -> list[Row]:
    """One row per property any run reports, sorted by section then name."""
    rows: dict[str, Row] = {}
    for run in runs:
        for name, entry in run.tests.items():
            row = rows.setdefault(name, Row(name, str(entry.get("section", "?")),
                                            tuple(entry.get("ids", ()))))
            if not row.ids and entry.get("ids"):
                row.ids = tuple(entry["ids"])
    ordered = sorted(rows.values(), key=lambda r: (r.section, r.name))
    for row in ordered:
        row.cells = [run.tests.get(row.name) for run in runs]
    return ordered


def totals(run: Run) -> dict[str, int]:
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    for entry in run.tests.values():
        counts[entry["outcome"]] = counts.get(entry["outcome"], 0) + 1
    return counts


def _note(entry: dict[str, Any]) -> str:
    text = str(entry.get("reason", "")).strip()
    if entry.get("call"):
        text += f" — call: {entry['call']}"
    return " ".join(text.split())


def _precision(run: Run) -> str:
    parts = []
    for dtype, row in sorted(run.precision.items()):
        declared = f" (declared {row['declared']})" if row.get("declared") else ""
        parts.append(f"{dtype} ≈ {row['effective_bits']:.1f} bits{declared}")
    return "; ".join(parts) or "n/a"


def _notes(rows: Sequence[Row], runs: Sequence[Run]) -> list[tuple[str, str, str, str]]:
    """(backend, property, outcome, reason) for every failure and skip, failures first."""
    notes = [(run.label, row.name, cell["outcome"], _note(cell))
             for row in rows for run, cell in zip(runs, row.cells)
             if cell is not None and cell["outcome"] != "passed"]
    return sorted(notes, key=lambda n: (n[2] != "failed", n[0], n[1]))


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def to_markdown(runs: Sequence[Run]) -> str:
    """The matrix as a GitHub-flavoured Markdown document."""
    rows = build_matrix(runs)
    header = ["section", "property", "IDs"] + [_md(r.label) for r in runs]
    lines = ["# convspec conformance", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [SYMBOL.get(c["outcome"], c["outcome"]) if c else "—" for c in row.cells]
        lines.append("| " + " | ".join([row.section, f"`{row.name}`", ", ".join(row.ids)]
                                       + cells) + " |")
    lines += ["", "## Backends", "", "| backend | profile | passed | failed | skipped | "
              "seconds | effective precision |", "|---|---|---|---|---|---|---|"]
    for run in runs:
        t = totals(run)
        lines.append(f"| {_md(run.label)} | {run.profile} | {t['passed']} | {t['failed']} | "
                     f"{t['skipped']} | {run.duration:.0f} | {_md(_precision(run))} |")
    notes = _notes(rows, runs)
    if notes:
        lines += ["", "## Failures and skips", ""]
        lines += [f"- **{_md(b)}** `{p}` {SYMBOL[o]}: {_md(r)}" for b, p, o, r in notes]
    sections = sorted({row.section for row in rows})
    lines += ["", "Sections: " + "; ".join(f"{s} {SECTIONS.get(s, '')}".strip()
                                           for s in sections) + "."]
    return "\n".join(lines) + "\n"


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; }
table { border-collapse: collapse; font-size: 14px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
td.passed { background: #d8f5d8; } td.failed { background: #f8c8c8; font-weight: bold; }
td.skipped { background: #eee; color: #666; } td.missing { color: #aaa; }
tr.section th { background: #f4f4f4; }
"""


def to_html(runs: Sequence[Run]) -> str:
    """The matrix as a standalone HTML page (reasons on hover and listed below)."""
    e = html.escape
    rows = build_matrix(runs)
    out = ["<!DOCTYPE html>", "<html><head><meta charset='utf-8'>",
           "<title>convspec conformance</title>", f"<style>{_STYLE}</style></head><body>",
           "<h1>convspec conformance</h1>", "<table id='matrix'><thead><tr><th>property</th>"
           "<th>IDs</th>" + "".join(f"<th>{e(r.label)}</th>" for r in runs) + "</tr></thead>",
           "<tbody>"]
    section = None
    for row in rows:
        if row.section != section:
            section = row.section
            title = f"{section} {SECTIONS.get(section, '')}".strip()
            out.append(f"<tr class='section'><th colspan='{2 + len(runs)}'>{e(title)}</th></tr>")
        cells = []
        for cell in row.cells:
            if cell is None:
                cells.append("<td class='missing'>—</td>")
            else:
                outcome = cell["outcome"]
                cells.append(f"<td class='{e(outcome)}' title='{e(_note(cell), quote=True)}'>"
                             f"{SYMBOL.get(outcome, e(outcome))}</td>")
        out.append(f"<tr><td><code>{e(row.name)}</code></td><td>{e(', '.join(row.ids))}</td>"
                   + "".join(cells) + "</tr>")
    out.append("</tbody></table><h2>Backends</h2><table id='backends'><tr><th>backend</th>"
               "<th>profile</th><th>passed</th><th>failed</th><th>skipped</th><th>seconds</th>"
               "<th>effective precision</th></tr>")
    for run in runs:
        t = totals(run)
        out.append(f"<tr><td>{e(run.label)}</td><td>{e(run.profile)}</td><td>{t['passed']}</td>"
                   f"<td>{t['failed']}</td><td>{t['skipped']}</td><td>{run.duration:.0f}</td>"
                   f"<td>{e(_precision(run))}</td></tr>")
    out.append("</table>")
    notes = _notes(rows, runs)
    if notes:
        out.append("<h2>Failures and skips</h2><ul id='notes'>")
        out += [f"<li><b>{e(b)}</b> <code>{e(p)}</code> {SYMBOL[o]}: {e(r)}</li>"
                for b, p, o, r in notes]
        out.append("</ul>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
