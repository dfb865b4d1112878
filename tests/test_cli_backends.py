"""``convspec backends``: the table and ``--json``, and the table on a base install (torch, JAX,
ONNX Runtime, SciPy and CuPy imports blocked in a subprocess), where every adapter of a missing
library is a row with its reason and the reference is still available."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
import textwrap

import pytest

from convspec.backends.registry import BUILTIN_BACKENDS
from convspec.cli import main

BLOCKED = ("torch", "jax", "jaxlib", "onnx", "onnxruntime", "openvino", "tensorflow", "tinygrad",
           "paddle", "scipy", "cupy", "cupyx")

#: A base install, simulated: importing any of BLOCKED fails as if it were not installed.
BASE_INSTALL = textwrap.dedent(f"""
    import sys

    class NotInstalled:
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in {BLOCKED!r}:
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            return None

    sys.meta_path.insert(0, NotInstalled())
    from convspec.cli import main
    code = main(sys.argv[1:])
    leaked = sorted(m for m in sys.modules if m.partition(".")[0] in {BLOCKED!r})
    assert not leaked, leaked
    sys.exit(code)
""")


def _base_install(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BASE_INSTALL, "backends", *args],
                          capture_output=True, text=True, timeout=120)


def test_table_lists_backends_with_capabilities(capsys: pytest.CaptureFixture) -> None:
    assert main(["backends", "reference", "scipy", "cupy"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["backend", "status", "version", "device"]
    lines = {line.split()[0]: line for line in out.splitlines() if line and line[0] != " "}
    assert lines["reference"].split()[1] == "available"
    assert lines["scipy"].split()[1:3] == ["available", __import__("scipy").__version__]
    cupy_row = lines["cupy"].split()[1]  # available only where CuPy and a GPU are
    assert cupy_row == "available" or "why: CuPy" in out
    assert "features:   all except conv_dilation" in out
    assert "- conv_transpose: scipy" in out  # the declared reason of a missing operation
    assert f"{2 + (cupy_row == 'available')} of 3 backends available here" in out


def test_json_describes_each_backend(capsys: pytest.CaptureFixture) -> None:
    assert main(["backends", "--json", "reference", "onnxruntime", "no-such-backend"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    reference = rows["reference"]
    assert reference["available"] and reference["capabilities"]["dtypes"] == [
        "float64", "float32", "float16", "bfloat16"]
    ort = rows["onnxruntime"]
    assert ort["available"] and ort["version"].startswith(__import__("onnxruntime").__version__)
    assert ort["capabilities"]["operations"] == ["conv", "conv_transpose", "max_pool",
                                                 "avg_pool"]
    assert "no gradients" in ort["capabilities"]["reasons"]["conv_vjp"]
    missing = rows["no-such-backend"]
    assert not missing["available"] and missing["capabilities"] is None
    assert "unknown backend 'no-such-backend'" in missing["reason"]


def test_table_on_a_base_install() -> None:
    result = _base_install()
    assert result.returncode == 0, result.stderr
    out = result.stdout
    rows = {line.split()[0]: line for line in out.splitlines()[1:] if line and line[0] != " "}
    assert set(BUILTIN_BACKENDS) <= set(rows)
    assert rows["reference"].split()[1] == "available"
    for name in BUILTIN_BACKENDS:
        if name != "reference":
            assert rows[name].split()[1] == "unavailable", name
    assert "why: PyTorch is not installed" in out
    assert "why: JAX is not installed" in out
    assert "why: onnx/onnxruntime are not installed" in out
    assert "why: SciPy is not installed" in out
    assert "why: CuPy is not installed" in out
    assert "broken" not in out


def test_json_on_a_base_install() -> None:
    result = _base_install("--json", "reference", "torch", "jax")
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["reference"]["available"]
    assert "pip install 'convspec[torch]'" in rows["torch"]["reason"]
    assert "pip install 'convspec[jax]'" in rows["jax"]["reason"]


def test_a_probe_that_segfaults_is_a_listed_finding_not_the_end_of_the_table(tmp_path) -> None:
    """``convspec backends`` probes as ``verify`` does, in a child process: the segfault in the
    fixture's float16 2-D probe case is printed as a finding, the next backend still listed."""
    fixtures = Path(__file__).parent / "fixtures"
    done = subprocess.run([sys.executable, "-m", "convspec", "backends",
                           "probe_backends:SegfaultsInProbe", "reference"],
                          cwd=fixtures, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "probe finding: conv float16 2-D: died: the process died of SIGSEGV" in done.stdout, \
        done.stdout
    assert "2 of 2 backends available here" in done.stdout
