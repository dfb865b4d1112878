"""``convspec report``: the conformance matrix from ``verify --json`` results."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from convspec.cli import main
from convspec.verify.report import ReportError, build_matrix, load_runs, to_html, to_markdown


def _document(backend: str, outcomes: dict[str, tuple[str, str]]) -> dict:
    tests = []
    for name, (outcome, reason) in outcomes.items():
        section = name.split("_")[1].upper()
        tests.append({"name": name, "nodeid": f"x.py::{name}", "outcome": outcome,
                      "section": section, "ids": [f"{section}1"], "reason": reason})
    document = {"backend": backend, "backend_name": backend, "profile": "ci", "duration": 12.5,
                "precision": {"float32": {"declared": None, "effective_bits": 27.3}},
                "summary": {}, "tests": tests}
    if backend == "torch":  # what verify records since the library version and machine
        document.update(library_version="2.13.0+cpu", device="cpu",
                        machine={"cpu": "AMD EPYC", "logical_cores": 2})
    return document


@pytest.fixture
def results(tmp_path: Path) -> list[Path]:
    docs = {
        "torch": {"test_a_conv": ("passed", ""), "test_g_pool": ("passed", "")},
        "scipy": {"test_a_conv": ("failed", "conv output y differs | worse"),
                  "test_g_pool": ("skipped", "operation 'max_pool_vjp' is not supported"),
                  "test_b_only_here": ("passed", "")},
    }
    paths = []
    for name, outcomes in docs.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(_document(name, outcomes)))
        paths.append(path)
    return paths


def test_matrix_has_a_row_per_property_and_a_column_per_run(results: list[Path]) -> None:
    runs = load_runs(results)
    rows = build_matrix(runs)
    assert [r.name for r in rows] == ["test_a_conv", "test_b_only_here", "test_g_pool"]
    only = rows[1]
    assert only.cells[0] is None and only.cells[1]["outcome"] == "passed"


def test_markdown_shows_outcomes_reasons_and_totals(results: list[Path]) -> None:
    text = to_markdown(load_runs(results))
    assert "| section | property | IDs | torch | scipy |" in text
    assert "| A | `test_a_conv` | A1 | pass | FAIL |" in text
    assert "| B | `test_b_only_here` | B1 | — | pass |" in text
    assert "**scipy** `test_a_conv` FAIL: conv output y differs \\| worse" in text
    assert "not supported" in text
    assert "| scipy | not recorded | ci | 1 | 1 | 1 | 12 | float32 ≈ 27.3 bits |" in text
    assert "| torch | 2.13.0+cpu on cpu; AMD EPYC, 2 cores | ci | 2 | 0 | 0 |" in text
    failures = text.index("FAIL: conv"), text.index("skip: operation")
    assert failures[0] < failures[1], "failures are listed before skips"


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.classes: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "td":
            self.classes.append(dict(attrs).get("class", ""))


def test_html_is_escaped_and_marks_each_cell(results: list[Path]) -> None:
    page = to_html(load_runs(results))
    cells = _Cells()
    cells.feed(page)
    assert cells.classes.count("failed") == 1 and cells.classes.count("skipped") == 1
    assert cells.classes.count("missing") == 1
    assert "conv output y differs | worse" in page and "<script" not in page


def test_a_backend_on_a_share_of_the_examples_says_so(tmp_path: Path) -> None:
    document = _document("torch-compile", {"test_a_conv": ("passed", "")})
    document["examples"] = {"profile": 12, "per_property": 3, "reason": "it compiles"}
    path = tmp_path / "torch-compile.json"
    path.write_text(json.dumps(document))
    assert "| torch-compile | not recorded | ci (3 of 12 examples) | 1 | 0 | 0 |" in to_markdown(load_runs([path]))


def test_the_same_backend_twice_keeps_both_columns(tmp_path: Path, results: list[Path]) -> None:
    again = tmp_path / "torch-nightly.json"
    again.write_text(results[0].read_text())
    labels = [r.label for r in load_runs([results[0], again])]
    assert labels == ["torch", "torch (torch-nightly)"]


def test_command_writes_markdown_and_html(tmp_path: Path, results: list[Path],
                                          capsys: pytest.CaptureFixture) -> None:
    md, page = tmp_path / "m.md", tmp_path / "m.html"
    assert main(["report", *map(str, results), "--markdown", str(md), "--html", str(page)]) == 0
    assert md.read_text().startswith("# convspec conformance")
    assert "<table id='matrix'>" in page.read_text()
    assert main(["report", *map(str, results)]) == 0
    assert "| A | `test_a_conv`" in capsys.readouterr().out


def test_html_alone_prints_where_it_went_not_the_markdown(tmp_path: Path, results: list[Path],
                                                          capsys: pytest.CaptureFixture) -> None:
    page = tmp_path / "m.html"
    assert main(["report", *map(str, results), "--html", str(page)]) == 0
    out = capsys.readouterr().out
    assert "<table id='matrix'>" in page.read_text()
    assert "| A |" not in out and out.strip() == f"wrote the HTML matrix of {len(results)} run(s) to {page}"


@pytest.mark.parametrize("content, message", [
    (None, "cannot read it"), ("{not json", "not JSON"),
    ('{"backend": "x"}', "missing profile, tests")])
def test_bad_results_files_are_explained(tmp_path: Path, content: str | None, message: str,
                                         capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "r.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ReportError, match=message):
        load_runs([path])
    assert main(["report", str(path)]) == 2
    assert message in capsys.readouterr().err
