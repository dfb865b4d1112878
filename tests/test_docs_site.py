"""The documentation site: its generated sources (fast), and the whole build opened in headless
Chromium (slow: ``mkdocs build --strict`` draws every picture and runs every example).

The browser checks what a reader sees: a section page's formulas typeset by MathJax (SVG output
elements, no MathJax error), its pictures loaded, and nothing fetched from outside the site.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from convspec.cli import build_parser
from convspec.spec import inventory

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs"))
pytest.importorskip("mkdocs")

from sitegen.examples import EXAMPLES  # noqa: E402
from sitegen.pages import generated, section_path  # noqa: E402
from sitegen.pictures import PICTURES  # noqa: E402
from sitegen.run import ExampleError, run_example  # noqa: E402
from sitegen.tex import to_tex  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: The IDs issue 18 asks a picture for.
GEOMETRIC = ("B1 B2 B3 B4 B5 B6 B7 B8 B9 B10 B13 C12 D1 D2 D3 D4 D5 D6 D7 D8 E1 E14 E15 F2 F6 "
             "F9 G1 G2").split()


# -- the sources (fast) ------------------------------------------------------------------------

def test_every_id_has_an_example_that_runs():
    assert set(EXAMPLES) == set(inventory.INVENTORY_IDS)
    session = run_example(EXAMPLES["B6"], "B6")
    assert ">>> cs.conv_output_size(227, 11, stride=4)" in session and "(55, 3025)" in session


def test_a_failing_example_stops_the_build():
    with pytest.raises(ExampleError, match="example X1: the example raised ZeroDivisionError"):
        run_example("x = 1\n1 / 0", "example X1")


def test_every_geometric_id_has_a_picture_drawn_by_a_valid_command():
    assert set(GEOMETRIC) <= set(PICTURES)
    parser = build_parser()
    for ident, pictures in PICTURES.items():
        for picture in pictures:
            args = parser.parse_args(["draw", *shlex.split(picture.args)])
            assert args.gif == (picture.suffix == "gif"), f"{ident}: {picture.args}"


@pytest.mark.parametrize("formula, tex", [
    ("y_ij = Σ_u Σ_v w_uv x_{i+u-1, j+v-1}", r"y_{ij} = \sum_{u} \sum_{v} w_{uv} x_{i+u-1, j+v-1}"),
    ("W ~⊗ X ≜ W ⊗ X̃", r"W \mathbin{\tilde{\otimes}} X \triangleq W \otimes \tilde{X}"),
    ("(C_out, C_in/G, kh, kw)", r"(C_{\text{out}}, C_{\text{in}}/G, k_h, k_w)"),
    ("C_I√C_O + C_O^{3/2}", r"C_{I}\sqrt{C_{O}} + C_{O}^{3/2}"),
    ("<Cx, z> = <x, C^T z>", r"\langle Cx, z\rangle = \langle x, C^T z\rangle"),
])
def test_formulas_become_tex(formula, tex):
    assert to_tex(formula) == tex


def test_every_formula_is_balanced_tex():
    for entry in inventory.entries():
        for formula in entry.statement.split("`")[1::2]:
            tex = to_tex(formula)
            assert tex.count("{") == tex.count("}"), f"{entry.id}: {tex}"
            assert not re.search(r"[Σ∫⊗⊙×·∂δβθαρηΔ∈≜√]", tex), f"{entry.id}: {tex}"


def test_generated_pages_name_every_id():
    pages = generated()
    for letter in inventory.SECTIONS:
        page = pages[section_path(letter)]
        for ident in inventory.INVENTORY[letter]:
            assert f"{{ #{ident} }}" in page
    b = pages[section_path("B")]
    assert "../pictures/B6-1.gif" in b and "convspec verify --spec B7" in b
    assert "```pycon" in b and "??? example" in b
    errata = pages["errata.md"]
    assert all(f"## {e}" in errata for e in inventory.ERRATA_IDS)
    assert "| as the notes state it |" in errata and "**no**" in errata


def _shell_lines(markdown: str) -> list[str]:
    blocks = re.findall(r"^```sh\n(.*?)^```$", markdown, re.S | re.M)
    return [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()
            if line.startswith("convspec ")]


def test_every_convspec_command_on_the_site_parses():
    """The shell examples' command lines are accepted by the command's own parser (every
    option exists and every value parses); the build runs every Python example."""
    sources = [p.read_text() for p in (ROOT / "docs" / "pages").rglob("*.md")]
    lines = [line for text in sources for line in _shell_lines(text)]
    assert len(lines) >= 15
    parser = build_parser()
    for line in lines:
        try:
            parser.parse_args(shlex.split(line)[1:])
        except SystemExit:
            pytest.fail(f"the site shows a command convspec rejects: {line}")


# -- the built site in a browser (slow) --------------------------------------------------------

def _build(out: Path) -> None:
    done = subprocess.run(["bash", str(ROOT / "docs" / "build.sh"), "build", "--site-dir",
                           str(out)], cwd=ROOT, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1",
                               "PYTHON": sys.executable})
    assert done.returncode == 0, done.stderr[-3000:]


@contextlib.contextmanager
def _served(directory: Path):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def _browser(profile: Path, url: str, *mode: str) -> str:
    profile.mkdir(exist_ok=True)
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--virtual-time-budget=20000", "--window-size=1300,2400",
         *mode, url], capture_output=True, text=True, timeout=180)
    return done.stdout


@pytest.mark.slow
def test_site_builds_offline_and_shows_formulas_and_pictures(tmp_path):
    """One build (a few minutes on 2 cores; one test, so parallel workers do not build twice),
    then every page there, nothing loaded from outside, and the pages in Chromium."""
    site = tmp_path / "site"
    _build(site)
    _check_pages(site)
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (Debian: chromium): the browser checks")
    with _served(site) as url:
        _check_section_page(site, url, tmp_path)
        _check_every_formula(url, tmp_path)


def _check_pages(site: Path) -> None:
    for page in ["index.html", "errata.html", "verify.html", "draw.html", "benchmarks.html",
                 "api/index.html", "api/convspec.reference.ops.html",
                 *(section_path(s).replace(".md", ".html") for s in inventory.SECTIONS)]:
        assert (site / page).is_file(), page
    assert (site / "assets" / "mathjax" / "tex-svg-full.js").stat().st_size > 1_000_000
    for html in site.rglob("*.html"):
        text = html.read_text()
        external = re.findall(r'<(?:script|link)[^>]+(?:src|href)="(https?://[^"]+)"', text)
        assert not external, f"{html.name} loads {external}: the site must work offline"
    ops = (site / "api" / "convspec.reference.ops.html").read_text()
    assert "Source code in" in ops and "reference/ops.py" in ops, "the reference's source"


def _check_section_page(site: Path, url: str, tmp_path: Path) -> None:
    """The B page: its formulas typeset by MathJax (SVG), none failed, its pictures there."""
    dom = _browser(tmp_path / "profile", url + "sections/b.html", "--dump-dom")
    shot = tmp_path / "b.png"
    _browser(tmp_path / "profile", url + "sections/b.html", f"--screenshot={shot}")
    typeset = dom.count("<mjx-container")
    assert typeset >= 20, f"only {typeset} formulas typeset on the B page"
    assert "<svg" in dom.split("<mjx-container", 1)[1][:2000], "MathJax's SVG output"
    assert "<mjx-merror" not in dom and "data-mjx-error" not in dom, "a formula failed"
    pictures = re.findall(r'<img[^>]+src="\.\./pictures/(B[0-9]+-[0-9]+\.(?:svg|gif))"', dom)
    assert {"B1-1.svg", "B6-1.gif", "B10-1.gif", "B10-2.svg"} <= set(pictures)
    for name in pictures:
        assert (site / "pictures" / name).stat().st_size > 5_000
    assert shot.stat().st_size > 50_000


def _check_every_formula(url: str, tmp_path: Path) -> None:
    for page in [section_path(s).replace(".md", ".html") for s in inventory.SECTIONS]:
        dom = _browser(tmp_path / "profile", url + page, "--dump-dom")
        assert "<mjx-container" in dom, f"{page}: no formula typeset"
        assert "<mjx-merror" not in dom and "data-mjx-error" not in dom, f"{page}: a formula"
