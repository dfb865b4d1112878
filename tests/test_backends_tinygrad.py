"""``tinygrad`` (``Tensor`` operations on tinygrad's CPU device, compiled with clang; gradients
by ``Tensor.gradient``) against convspec.reference on the adapter sweep.

The sweep's integer inputs tie in max pooling windows, where tinygrad's gradient of a maximum
splits ``dy`` evenly among the tied cells and F4 sends it to the first arg-max
(``tinygrad_backend.MAX_POOL_TIES``): those cases are strict xfails, so a tinygrad that
changes its rule shows up. Every case lowers and compiles new kernels (seconds of tinygrad's
Python each, in every process): the sweep takes about 5 minutes, hence slow."""

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("tinygrad")
sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from backend_sweep import CASES, sweep_tests  # noqa: E402

from convspec.backends.protocol import DTYPES  # noqa: E402
from convspec.backends.tinygrad_backend import MAX_POOL_TIES  # noqa: E402

#: Every max-pool gradient case of the sweep with a sample in its batch holds ties.
TIES = {(case.id, "max_pool_vjp", dtype): MAX_POOL_TIES
        for case in CASES if "max_pool_vjp" in case.operations and case.batch
        for dtype in DTYPES}

adapter, test_agrees_with_reference = sweep_tests("tinygrad", deviations=TIES)
test_agrees_with_reference = pytest.mark.slow(test_agrees_with_reference)


def test_the_newest_versioned_clang_is_found(tmp_path):
    """Debian installs clang-19 without a ``clang``: the adapter finds versioned ones on PATH,
    newest first, skipping what is not executable or not a version."""
    for name, mode in (("clang-14", 0o755), ("clang-19", 0o755), ("clang-20", 0o644),
                       ("clang-format-19", 0o755), ("clang", 0o644)):
        path = tmp_path / name
        path.write_text("#!/bin/sh\n")
        path.chmod(mode)
    from convspec.backends.tinygrad_backend import versioned_clangs

    assert versioned_clangs(str(tmp_path)) == ["clang-19", "clang-14"]


MISSING_CLANG = """
import os, sys
os.environ.pop("CC", None)
os.environ["PATH"] = sys.argv[1]
from convspec.cli import main
sys.exit(main(["backends", "tinygrad"]))
"""


def test_backends_says_clang_is_missing_and_how_to_install_it(tmp_path):
    """Without any clang on PATH (and CC unset) tinygrad's CPU device cannot compile: the row
    is unavailable, says so and how to install one, and nothing crashes."""
    done = subprocess.run([sys.executable, "-c", MISSING_CLANG, str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    row = next(line for line in done.stdout.splitlines() if line.startswith("tinygrad"))
    assert row.split()[1] == "unavailable"
    assert "no clang is on PATH" in done.stdout
    assert "apt-get install clang-19" in done.stdout and "CC" in done.stdout
    assert "broken" not in done.stdout


def test_a_cc_that_is_not_there_is_named(tmp_path):
    """CC pointing at nothing: unavailable, naming the CC value."""
    code = MISSING_CLANG.replace('os.environ.pop("CC", None)',
                                 'os.environ["CC"] = "clang-99"')
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "CC='clang-99', which is not an executable on PATH" in done.stdout


def test_compiler_output_is_kept_out_of_stderr_unless_a_call_fails(capfd):
    """clang warns on standard error for every kernel (``-march=native``): the adapter keeps
    that text, out of the run's output, and hands it to the exception of a call that fails."""
    import os

    from convspec.backends.tinygrad_backend import compiler_output

    with compiler_output() as kept:
        os.write(2, b"warning: invalid feature combination\n")
    assert kept == ["warning: invalid feature combination"]
    with pytest.raises(RuntimeError) as failed, compiler_output():
        os.write(2, b"clang: error: unknown type name '__bf16'\n")
        raise RuntimeError("compile failed")
    if sys.version_info >= (3, 11):  # exception notes
        assert "unknown type name '__bf16'" in "".join(failed.value.__notes__)
    assert capfd.readouterr().err == ""
