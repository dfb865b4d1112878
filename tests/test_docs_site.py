"""The documentation site: its generated sources and every example on it (fast), every shell
command on it run (slow), and the whole build opened in headless Chromium (slow: ``mkdocs build
--strict`` draws every picture and runs every example).

Every code example a reader sees runs: the worked examples of the section pages (run when the
pages are generated), the ``python exec`` blocks of the hand-written pages, the docstring
examples of the API pages (doctest), and the shell commands of every page (those a test cannot
run are listed in :data:`sitegen.shell.NOT_RUN`, each with its reason).

The browser checks what a reader sees: a section page's formulas typeset by MathJax (SVG output
elements, no MathJax error), its pictures loaded, and nothing fetched from outside the site.
"""

from __future__ import annotations

import contextlib
import doctest
import functools
import importlib
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

from convspec import reference
from convspec.cli import build_parser
from convspec.spec import inventory

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs"))
pytest.importorskip("mkdocs")

from sitegen.examples import EXAMPLES  # noqa: E402
from sitegen import shell  # noqa: E402
from sitegen.pages import api_modules, generated, section_path  # noqa: E402
from sitegen.pictures import PICTURES  # noqa: E402
from sitegen.run import EXEC_BLOCK, ExampleError, run_example  # noqa: E402
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


@functools.cache
def _site() -> dict[str, str]:
    """Every page of the site by its path: the hand-written ones, then the generated ones."""
    pages = {str(p.relative_to(ROOT / "docs" / "pages")): p.read_text(encoding="utf-8")
             for p in sorted((ROOT / "docs" / "pages").rglob("*.md"))}
    return {**pages, **generated()}


def _commands() -> list[shell.Command]:
    return [command for page, text in _site().items() for command in shell.commands(page, text)]


def test_every_convspec_command_on_the_site_parses():
    """The shell examples' ``convspec`` command lines are accepted by the command's own parser
    (every option exists and every value parses), those not run included."""
    lines = [c.text for c in _commands() if c.program == "convspec"]
    assert len(lines) >= 20
    parser = build_parser()
    for line in lines:
        words = shlex.split(line)
        try:
            parser.parse_args(words[words.index("convspec") + 1:])
        except SystemExit:
            pytest.fail(f"the site shows a command convspec rejects: {line}")


def test_the_commands_not_run_are_on_the_site_each_with_a_reason():
    shown = {c.text for c in _commands()}
    stale = sorted(set(shell.NOT_RUN) - shown)
    assert not stale, f"sitegen.shell.NOT_RUN names commands no page shows: {stale}"
    assert all(reason.strip() for reason in shell.NOT_RUN.values())
    run = [c for c in _commands() if c.text not in shell.NOT_RUN]
    assert len(run) >= 15 and any(c.output for c in run) and any(c.exit_status == 2 for c in run)


@pytest.mark.parametrize("markdown, expected", [
    ("```sh\nconvspec errata          # the errata\nA=1 convspec x \\\n    --y 2  # exits 2\n```\n",
     [("convspec errata", "the errata", None, 0), ("A=1 convspec x --y 2", "exits 2", None, 2)]),
    ("```console\n$ convspec shape 1,1,5 conv -k 3\nlayer  conv\n\n$ convspec errata\n```\n",
     [("convspec shape 1,1,5 conv -k 3", "", ("layer  conv",), 0),
      ("convspec errata", "", (), 0)]),
])
def test_shell_blocks_become_commands(markdown, expected):
    found = [(c.text, c.comment, c.output, c.exit_status) for c in shell.commands("p", markdown)]
    assert found == expected


def test_every_python_example_on_the_hand_written_pages_runs():
    """The ``python exec`` blocks (the build runs them too; here without building)."""
    blocks = [(page, code) for page, text in _site().items() if not page.startswith("api/")
              for code in EXEC_BLOCK.findall(text)]
    assert len(blocks) >= 5
    for page, code in blocks:
        assert ">>> " in run_example(code, page)


@pytest.mark.parametrize("module", api_modules())
def test_every_docstring_example_on_the_api_pages_runs(module):
    """The API pages show each module's docstrings; their ``>>>`` examples run as doctests
    (``convspec.reference``'s as ``tests/test_reference_doctests.py`` writes them, with ``ref``)."""
    result = doctest.testmod(importlib.import_module(module), extraglobs={"ref": reference},
                             optionflags=doctest.ELLIPSIS, report=False)
    assert result.failed == 0, f"{module}: {result.failed} of {result.attempted} examples failed"


def _environment() -> dict[str, str]:
    """The reader's shell: this environment's ``bin`` (the repository's .venv) first on PATH, no
    pytest variables leaking into the commands that run pytest themselves."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["MPLBACKEND"] = "Agg"
    return env


def _magic_ok(path: Path) -> bool:
    head = path.read_bytes()[:512]
    expected = {".png": b"\x89PNG", ".gif": b"GIF8", ".svg": b"<svg", ".json": b"{"}
    want = expected.get(path.suffix)
    return want is None or want in head


def _run_command(command: shell.Command, cwd: Path, env: dict[str, str]) -> list[str]:
    """What is wrong with one command's run: its exit status, output and files."""
    done = subprocess.run(["bash", "-c", command.text], cwd=cwd, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    output = [line.rstrip() for line in done.stdout.rstrip("\n").splitlines()]
    problems = []
    if done.returncode != command.exit_status:
        problems.append(f"{command}: exit status {done.returncode}, the page says "
                        f"{command.exit_status}; its output ends:\n{done.stdout[-2000:]}")
    if command.output is not None and output != list(command.output):
        problems.append(f"{command}: printed\n" + "\n".join(output) + "\nbut the page shows\n"
                        + "\n".join(command.output))
    for name in command.written:
        path = cwd / name
        if not (path.is_file() and path.stat().st_size > 0 and _magic_ok(path)):
            problems.append(f"{command}: did not write {name} (or wrote it empty or garbled)")
    return problems


@pytest.mark.slow
def test_every_shell_command_on_the_site_runs(tmp_path):
    """Each page's commands, in the page's order, in a fresh directory per page (a command may
    read what one before it wrote: ``convspec report torch.json``). About 2.5 min on 2 cores,
    most of it ``convspec backends`` (probes every backend) and the three ``verify`` runs."""
    env = _environment()
    problems, ran = [], 0
    for page, text in _site().items():
        page_commands = [c for c in shell.commands(page, text) if c.text not in shell.NOT_RUN]
        if not page_commands:
            continue
        cwd = tmp_path / page.replace("/", "_").removesuffix(".md")
        cwd.mkdir()
        for command in page_commands:
            problems += _run_command(command, cwd, env)
            ran += 1
    assert ran >= 15
    assert not problems, "\n\n".join(problems)


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
