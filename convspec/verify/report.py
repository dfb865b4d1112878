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
    #: Features and feature pairs reached per operation (``verify --json``'s ``coverage``).
    coverage: dict[str, Any] = field(default_factory=dict)
    #: The library version, device and CPU it ran on, where the JSON records them.
    build: str = ""


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
                        tests, dict(document.get("coverage") or {}), _build(document)))
    if not runs:
        raise ReportError("no results files given; pass the files `convspec verify --json` wrote")
    return runs


def _build(document: dict[str, Any]) -> str:
    """``"torch 2.13.0+cpu on cpu; AMD EPYC, 2 cores"`` from what the JSON records."""
    machine = document.get("machine") or {}
    parts = [" on ".join(str(v) for v in (document.get("library_version"),
                                          document.get("device")) if v)]
    if machine.get("cpu"):
        parts.append(f"{machine['cpu']}, {machine.get('logical_cores')} cores")
    return "; ".join(p for p in parts if p)


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


def _missing(row: dict[str, Any], most: int = 4) -> str:
    """What a coverage row has not reached: the features, then the pairs (the first few)."""
    gaps = list(row["features"]["missing"]) + list(row["pairs"]["missing"])
    more = f" and {len(gaps) - most} more" if len(gaps) > most else ""
    return ", ".join(gaps[:most]) + more


def coverage_cells(row: dict[str, Any]) -> tuple[str, str]:
    """``("10/10", "41/41")``: features and pairs reached of those supported."""
    return tuple(f"{row[k]['hit']}/{row[k]['supported']}" for k in ("features", "pairs"))


def coverage_lines(coverage: dict[str, Any], explicit: dict[str, Any]) -> list[str]:
    """The terminal summary's coverage block: one line per operation, one for the explicit
    cases (external suites, covering design) run and skipped."""
    if not coverage and not explicit:
        return []
    lines = ["coverage (features, feature pairs reached by the backend calls, of those the "
             "backend supports):"] if coverage else []
    for operation, row in coverage.items():
        features, pairs = coverage_cells(row)
        gap = _missing(row)
        lines.append(f"  {operation:<20} {features:>6} features {pairs:>8} pairs"
                     + (f"; not reached: {gap}" if gap else ""))
    parts = []
    for kind, row in explicit.items():
        text = f"{kind} {row['run']} of {row['total']} run"
        if row["failed"]:
            text += f", {row['failed']} failed"
        if row["skipped"]:
            reason, count = next(iter(row["skipped"].items()))
            others = len(row["skipped"]) - 1
            total = sum(row["skipped"].values())
            text += (f" ({total} skipped: {reason})" if not others else
                     f" ({total} skipped; {count}: {reason}; and {others} other "
                     f"reason{'s' * (others > 1)})")
        parts.append(text)
    if parts:
        lines.append("explicit cases: " + "; ".join(parts))
    return lines


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
    lines += ["", "## Backends", "", "| backend | library and machine | profile | passed | "
              "failed | skipped | seconds | effective precision |",
              "|---|---|---|---|---|---|---|---|"]
    for run in runs:
        t = totals(run)
        lines.append(f"| {_md(run.label)} | {_md(run.build) or 'not recorded'} | {run.profile} "
                     f"| {t['passed']} | {t['failed']} | {t['skipped']} | {run.duration:.0f} | "
                     f"{_md(_precision(run))} |")
    if any(run.coverage for run in runs):
        lines += ["", "## Coverage", "", "Features and feature pairs reached by the backend "
                  "calls, of those the backend supports.", "",
                  "| backend | operation | features | pairs | not reached |", "|---|---|---|---|---|"]
        for run in runs:
            for operation, row in run.coverage.items():
                features, pairs = coverage_cells(row)
                lines.append(f"| {_md(run.label)} | {operation} | {features} | {pairs} | "
                             f"{_md(_missing(row)) or '—'} |")
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
               "<th>library and machine</th><th>profile</th><th>passed</th><th>failed</th>"
               "<th>skipped</th><th>seconds</th><th>effective precision</th></tr>")
    for run in runs:
        t = totals(run)
        out.append(f"<tr><td>{e(run.label)}</td><td>{e(run.build or 'not recorded')}</td>"
                   f"<td>{e(run.profile)}</td><td>{t['passed']}</td>"
                   f"<td>{t['failed']}</td><td>{t['skipped']}</td><td>{run.duration:.0f}</td>"
                   f"<td>{e(_precision(run))}</td></tr>")
    out.append("</table>")
    if any(run.coverage for run in runs):
        out.append("<h2>Coverage</h2><p>Features and feature pairs reached by the backend calls, "
                   "of those the backend supports.</p><table id='coverage'><tr><th>backend</th>"
                   "<th>operation</th><th>features</th><th>pairs</th><th>not reached</th></tr>")
        for run in runs:
            for operation, row in run.coverage.items():
                features, pairs = coverage_cells(row)
                full = not _missing(row)
                out.append(f"<tr><td>{e(run.label)}</td><td>{e(operation)}</td>"
                           f"<td class='{'passed' if full else 'failed'}'>{features}</td>"
                           f"<td class='{'passed' if full else 'failed'}'>{pairs}</td>"
                           f"<td>{e(_missing(row, most=50)) or '—'}</td></tr>")
        out.append("</table>")
    notes = _notes(rows, runs)
    if notes:
        out.append("<h2>Failures and skips</h2><ul id='notes'>")
        out += [f"<li><b>{e(b)}</b> <code>{e(p)}</code> {SYMBOL[o]}: {e(r)}</li>"
                for b, p, o, r in notes]
        out.append("</ul>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
