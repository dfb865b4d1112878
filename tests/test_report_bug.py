"""``convspec report-bug`` (``convspec/cli/report_bug.py``, ``convspec/verify/bugreport.py``,
``convspec/verify/defect_catalog.py``): a failure of ``verify --json`` or a declared known
defect as a Markdown issue body whose Python block, run alone in a fresh interpreter without
convspec, reproduces the bug; the catalog covers every defect a backend declares here; the
README's defects table is the generated one; bad input is one line and exit 2.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from verify_runs import CONV, run_script, verify  # noqa: E402

from convspec.backends import capabilities_of  # noqa: E402
from convspec.backends.registry import BackendUnavailable, load_backend  # noqa: E402
from convspec.cli import main  # noqa: E402
from convspec.spec.geometry import ConvGeometry  # noqa: E402
from convspec.verify import bugreport, defect_catalog, upstream  # noqa: E402
from convspec.verify.conformance import Call  # noqa: E402
from convspec.verify.tolerance import Tolerance  # noqa: E402

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- defects-table:start -->", "<!-- defects-table:end -->"


def _report(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["report-bug", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def _python_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)\n```$", markdown, re.S | re.M)


def _section(markdown: str, title: str) -> str:
    match = re.search(rf"^### {re.escape(title)}\n(.*?)(?=^### |\Z)", markdown, re.S | re.M)
    assert match, f"no section {title!r} in:\n{markdown}"
    return match.group(1)


def _declared(spec: str, name: str) -> None:
    """Skip unless ``spec`` loads here and declares defect ``name``."""
    try:
        caps = capabilities_of(load_backend(spec))
    except BackendUnavailable as exc:
        pytest.skip(f"{spec} is unavailable here: {exc.reason}")
    if name not in {d.name for d in caps.defects}:
        pytest.skip(f"{spec} does not declare {name} on this machine (its probe passed)")


# -- one-line reproductions ----------------------------------------------------------------------
def test_every_catalogued_repro_parses_into_python_and_round_trips_through_the_shell() -> None:
    parsed = 0
    for entry in defect_catalog.CATALOG:
        for repro in bugreport.parse_repros(entry.repro):
            ast.parse(repro.script)  # one statement a line, still Python
            assert bugreport.parse_repros(repro.shell)[0].code == repro.code, entry.name
            parsed += 1
    assert parsed >= 20
    labelled = bugreport.parse_repros(defect_catalog.find("tf-onednn-strided-unit-output").repro)
    assert [r.label for r in labelled] == ["bfloat16", "float32"]
    assert "five 3s" in labelled[0].note and "four 2s" in labelled[1].note
    (slow,) = bugreport.parse_repros(
        defect_catalog.find("inductor-avg-pool-vjp-compile-time").repro)
    assert slow.env == {"TORCHINDUCTOR_FORCE_DISABLE_CACHES": "1"}
    assert slow.script.splitlines()[0] == "import torch"


def test_a_reason_loses_its_repro_and_quoted_code_keeps_its_escapes() -> None:
    reason = ('lib 1.0: wrong; repro: python -c "print(\\"a\\\\nb\\")" (prints a, b); '
              "X=1 avoids it")
    assert bugreport.reason_without_repro(reason) == "lib 1.0: wrong"
    (repro,) = bugreport.parse_repros(reason)
    assert repro.code == 'print("a\\nb")' and repro.note == "prints a, b"
    assert bugreport.run_python(repro.code).stdout == "a\nb\n"


def test_the_catalog_names_each_defect_once_with_a_tracker_and_metadata() -> None:
    names = [e.name for e in defect_catalog.CATALOG]
    assert len(names) == len(set(names))
    for entry in defect_catalog.CATALOG:
        assert entry.library in defect_catalog.TRACKERS, entry.name
        assert entry.found_by and entry.since and entry.status and entry.summary, entry.name


@pytest.mark.parametrize("spec", ["torch", "torch-channels-last", "torch-compile", "tensorflow",
                                  pytest.param("jax", marks=pytest.mark.slow), "openvino",
                                  pytest.param("tinygrad", marks=pytest.mark.slow)])
def test_every_defect_a_backend_declares_here_is_catalogued_with_its_repro(spec: str) -> None:
    try:
        caps = capabilities_of(load_backend(spec))
    except BackendUnavailable as exc:
        pytest.skip(f"{spec} is unavailable here: {exc.reason}")
    catalogued = {e.name: e for e in defect_catalog.entries(spec)}
    missing = [d.name for d in caps.defects if d.name not in catalogued]
    assert not missing, (f"{spec} declares {missing} here, which "
                         "convspec/verify/defect_catalog.py does not list")
    for defect in caps.defects:
        declared = {r.code for r in bugreport.parse_repros(defect.reason)}
        ours = {r.code for r in bugreport.parse_repros(catalogued[defect.name].repro)}
        assert not declared or declared <= ours, (defect.name, declared - ours)
    for entry in catalogued.values():
        if entry.reason_key and entry.reason_key in caps.reasons:
            declared = {r.code for r in bugreport.parse_repros(caps.reasons[entry.reason_key])}
            assert declared <= {r.code for r in bugreport.parse_repros(entry.repro)}, entry.name


# -- known defects ---------------------------------------------------------------------------------
@pytest.mark.parametrize("spec, name, bug, right", [
    pytest.param("tensorflow", "tf-onednn-empty-batch-conv-shape", "(0, 5, 5, 2)",
                 "(0, 3, 3, 4)", marks=pytest.mark.slow),  # 25 s: TensorFlow starts twice
    ("openvino", "openvino-avg-pool-ceil-divisor", "1.3333334", "[[[1., 3., 2.]]]"),
])
def test_a_defect_report_holds_a_block_that_reproduces_it_alone(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, spec: str, name: str, bug: str,
        right: str) -> None:
    _declared(spec, name)
    status, out, err = _report(capsys, "--backend", spec, "--defect", name)
    assert status == 0, err
    title = out.splitlines()[0]
    assert title.startswith(f"# {spec}") and "2" in title, title  # library and its version
    assert defect_catalog.TRACKERS[spec] in out
    (block,) = _python_blocks(out)
    script = tmp_path / "repro.py"
    script.write_text(block)
    alone = run_script(script, tmp_path / "fresh", isolated=True, timeout=300)
    assert alone.returncode == 0 and bug in alone.stdout, alone.stdout + alone.stderr
    reproduction = _section(out, "Reproduction")
    (computed,) = [line for line in reproduction.splitlines()
                   if line.startswith("**Expected**, computed by convspec's float64 reference")]
    assert right in computed and bug not in computed, computed
    assert bug in reproduction.split("**Actual**")[1]  # this machine's output
    environment = _section(out, "Environment")
    for needed in ("avx512_bf16", "amx_bf16", "Python 3.", "numpy", "OS: ", "CPU: "):
        assert needed in environment, needed
    assert re.search(rf"{spec}\S* \d+\.\d+", environment), environment
    workaround = _section(out, "Workaround")
    if spec == "tensorflow":  # the switch is run too, and shown to avoid the defect
        assert "`TF_ENABLE_ONEDNN_OPTS=0` avoids it" in workaround
        assert right in workaround and bug not in workaround, workaround
    else:
        assert "None known." in workaround


def test_a_torch_defect_report_quotes_the_declaration_and_its_found_by(
        capsys: pytest.CaptureFixture[str]) -> None:
    entry = defect_catalog.find("avg-pool3d-small-input-refused")
    status, out, err = _report(capsys, "--backend", "torch", "--defect", entry.name,
                               "--no-run")
    assert status == 0, err
    assert out.startswith("# torch 2.")
    assert entry.found_by in _section(out, "How it was found")
    assert "Not run by this report" in out
    (block,) = _python_blocks(out)
    assert "torch.nn.functional.avg_pool3d" in block and "python -c" not in block
    caps = capabilities_of(load_backend("torch"))
    if entry.name in {d.name for d in caps.defects}:
        assert "In full, as convspec declares it: torch 2." in out
    else:
        assert "Not declared on this machine" in out


def test_a_user_backends_declared_defect_is_reported_from_its_declaration(
        capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _report(capsys, "--backend", "broken_backends:declared_garbage",
                               "--defect", "strided-nan")
    assert status == 0, err
    assert out.startswith("# broken_backends:declared_garbage: strided conv returns NaN")
    assert "No one-line reproduction is recorded" in _section(out, "Reproduction")
    assert "declares it to convspec as known defect `strided-nan`" in out
    assert "file it where its author takes reports" in out


# -- failures of verify ----------------------------------------------------------------------------
@pytest.mark.slow  # 32 s: a verify run, then its report
def test_a_user_backends_failure_report_quotes_its_convspec_repro(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    done, document = verify(tmp_path, "broken_backends:wrong_side", selection=CONV)
    assert done.returncode == 1, done.stdout + done.stderr
    monkeypatch.chdir(tmp_path)
    status, out, err = _report(capsys, "results.json", "--test", CONV)
    assert status == 0, err
    (entry,) = [t for t in document["tests"] if t["name"] == CONV]
    assert out.startswith("# broken_backends:wrong_side: conv in ")
    (block,) = _python_blocks(out)
    assert block == (tmp_path / entry["repro"]).read_text().rstrip()
    worst = entry["worst_values"]
    values = _section(out, "Expected and actual")
    assert f"**actual** {worst['actual']!r}, **expected** {worst['expected']!r}" in values
    assert "differs from the specification" in values  # the repro's own output, run here
    assert "float64" in values
    assert CONV in _section(out, "How it was found")
    assert "not a built-in adapter" in _section(out, "Environment")


def _torch_failure(tmp_path: Path) -> Path:
    """A results file with one torch failure whose upstream script expects wrong values."""
    g = ConvGeometry.make(2, 2, (2, 2), padding=1)
    x = np.arange(18, dtype=np.float32).reshape(1, 2, 3, 3) % 5 - 2
    call = Call("conv", {"x": x, "w": np.ones(g.weight_shape, np.float32), "b": None},
                g.kwargs())
    expected, allowed = upstream.expected_and_allowed(call, Tolerance("float32"))
    planted = {k: v + 1 for k, v in expected.items()}
    script = tmp_path / "convspec-repro" / "torch" / "test_x.upstream.py"
    script.parent.mkdir(parents=True)
    script.write_text(upstream.script("torch", call, "float32", expected=planted,
                                      allowed=allowed, title="planted"))
    entry = {"name": "test_x", "nodeid": "convspec/properties/test_a.py::test_x",
             "outcome": "failed", "ids": ["A1"], "operations": ["conv"],
             "reason": "conv output y differs from the specification", "call": call.describe(),
             "operation": "conv", "counterexample": ["Falsifying example: test_x(data=...)"],
             "worst_values": {"index": [0, 0, 0, 0], "actual": 1.0, "expected": 2.0,
                              "error": 1.0, "allowed": 1e-6},
             "repro": "convspec-repro/torch/test_x.py",
             "upstream": "convspec-repro/torch/test_x.upstream.py"}
    results = tmp_path / "r.json"
    results.write_text(json.dumps({"backend": "torch", "profile": "ci", "status": "complete",
                                   "tests": [{"name": "test_ok", "outcome": "passed"}, entry]}))
    return results


def test_a_built_in_failure_report_quotes_its_library_only_script(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    pytest.importorskip("torch")
    results = _torch_failure(tmp_path)
    # The repro paths are relative to verify's directory: found next to the JSON file.
    status, out, err = _report(capsys, str(results))
    assert status == 0, err
    assert out.startswith("# torch 2.") and "conv in float32" in out.splitlines()[0]
    (block,) = _python_blocks(out)
    script = tmp_path / "convspec-repro" / "torch" / "test_x.upstream.py"
    assert block == script.read_text().rstrip()
    assert "no convspec" in _section(out, "Reproduction")
    values = _section(out, "Expected and actual")
    assert "**actual** 1.0, **expected** 2.0" in values and "exit status 1" in values
    assert "elements differ; worst at" in values
    assert "Falsifying example: test_x" in _section(out, "How it was found")
    alone = run_script(script, tmp_path / "fresh", isolated=True)
    assert alone.returncode == 1 and "elements differ" in alone.stdout, alone.stdout


# -- the table -------------------------------------------------------------------------------------
def test_the_table_lists_every_catalogued_defect_in_seven_columns(
        capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _report(capsys, "--table")
    assert status == 0, err
    rows = out.strip().splitlines()
    assert len(rows) == 2 + len(defect_catalog.CATALOG)
    for row, entry in zip(rows[2:], defect_catalog.CATALOG):
        cells = re.split(r"(?<!\\)\|", row)[1:-1]
        assert len(cells) == 7, row
        assert f"`{entry.name}`" in cells[1] and entry.since in cells[5]
    assert "python -c" in out and "ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16" in out


def test_the_readme_table_is_the_generated_one(capsys: pytest.CaptureFixture[str]) -> None:
    text = README.read_text()
    if START not in text or END not in text:
        pytest.skip(f"README.md has no {START} / {END} markers yet: the table goes between them")
    inside = text.split(START, 1)[1].split(END, 1)[0].strip()
    assert inside == bugreport.defects_table(defect_catalog.CATALOG).strip(), (
        "README.md's defects table is stale: replace it with `convspec report-bug --table`")


# -- bad input --------------------------------------------------------------------------------------
def test_bad_input_is_one_line_naming_the_problem_and_exit_2(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "passed.json").write_text(json.dumps(
        {"backend": "torch", "status": "complete", "tests": [{"name": "t", "outcome": "passed"}]}))
    (tmp_path / "other.json").write_text(json.dumps({"runs": []}))
    results = _torch_failure(tmp_path)
    cases = [
        ((), "nothing to report"),
        (("--backend", "no-such-backend", "--defect", "x"), "unknown backend 'no-such-backend'"),
        (("--backend", "torch", "--defect", "no-such-defect"),
         "--defect no-such-defect: torch declares no such defect; known for torch: "),
        (("--backend", "torch"), "name the defect with --defect NAME"),
        (("--defect", "x"), "--defect NAME needs --backend NAME"),
        ((str(results), "--test", "test_nope"), "--test test_nope: not a failure of"),
        ((str(tmp_path / "bad.json"),), "not JSON (line 1"),
        ((str(tmp_path / "missing.json"),), "no such file"),
        ((str(tmp_path),), "is a directory"),
        ((str(tmp_path / "passed.json"),), "no failures to report (1 results, none failed"),
        ((str(tmp_path / "other.json"),), "not `convspec verify --json` results"),
        ((str(results), "--table"), "cannot be combined"),
        (("--table", "--timeout", "0"), "--timeout 0: give a number of seconds above 0"),
    ]
    for argv, message in cases:
        status, out, err = _report(capsys, *argv)
        assert status == 2, (argv, out, err)
        assert err.startswith("convspec report-bug: ") and message in err, (argv, err)
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, (argv, err)
        assert out == "", argv
    _, _, err = _report(capsys, str(results), "--test", "test_nope")
    assert err.rstrip().endswith("its failures: test_x")
