"""Usage errors are usage errors: the real ``convspec`` command, in a subprocess, answers a bad
option value, an unwritable output path, an unreachable or malformed Redis URL, a backend
whose import or constructor raises, with ONE line on stderr naming the option and exit
status 2, no traceback, and before any property runs. A closed stdout pipe ends a command
quietly. ``--backend module:attr`` finds a module in the working directory, as the README's
smallest backend example needs."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from convspec.cli import build_parser
from convspec.cli.verify import pytest_arguments

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(sys.executable).with_name("convspec")
#: A usage error is found before pytest starts: seconds, not a run (generous for a shared VM).
QUICK_S = 30.0


def command() -> list[str]:
    """The installed console script when there is one, else ``python -m convspec``."""
    return [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "convspec"]


def convspec(*argv: str, cwd: Path, env: dict[str, str] | None = None,
             timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*command(), *argv], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def assert_usage_error(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    err = result.stderr
    assert result.returncode == 2, (result.returncode, result.stdout[-2000:], err[-2000:])
    assert "Traceback" not in err and "Traceback" not in result.stdout, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def verify_rejects(tmp_path: Path, *argv: str, needles: tuple[str, ...],
                   env: dict[str, str] | None = None) -> str:
    """``convspec verify ARGV`` is a usage error, and no property ran: it returned at once,
    wrote no JSON results and no repro directory."""
    results = tmp_path / "results.json"
    extra = [] if "--json" in argv else ["--json", str(results)]
    started = time.monotonic()
    result = convspec("verify", *argv, *extra, cwd=tmp_path, env=env)
    elapsed = time.monotonic() - started
    line = assert_usage_error(result, *needles)
    assert line.startswith("convspec verify: "), line
    assert elapsed < QUICK_S, f"took {elapsed:.1f} s: did properties run?"
    assert not results.exists()
    assert not (tmp_path / "convspec-repro").exists()
    assert "passed" not in result.stdout and "bringing up nodes" not in result.stdout
    return line


# -- verify: option values -------------------------------------------------------------------

@pytest.mark.parametrize("value", ["0", "-1"])
def test_call_timeout_must_be_above_zero(tmp_path: Path, value: str) -> None:
    line = verify_rejects(tmp_path, "--call-timeout", value,
                          needles=(f"--call-timeout {value}", "above 0", "--call-timeout 120"))
    assert line == (f"convspec verify: --call-timeout {value}: must be a number of seconds above "
                    "0 (e.g. --call-timeout 120)")


@pytest.mark.parametrize("option", ["--shrink-seconds", "--shrink-budget"])
@pytest.mark.parametrize("value", ["0", "-5", "nan"])
def test_shrink_times_must_be_above_zero(tmp_path: Path, option: str, value: str) -> None:
    verify_rejects(tmp_path, option, value, needles=(f"{option} {value}", "above 0"))


def test_jobs_must_be_at_least_one(tmp_path: Path) -> None:
    verify_rejects(tmp_path, "--jobs", "0", needles=("--jobs 0", "at least 1"))


@pytest.mark.parametrize("argv, needle", [
    (("--section", "Z"), "--section Z"),
    (("--dtype", "float8"), "--dtype float8"),
    (("--operation", "convolve"), "--operation convolve"),
    (("--precision", "float32=float8"), "--precision"),
])
def test_selection_values_are_checked_up_front(tmp_path: Path, argv: tuple[str, ...],
                                               needle: str) -> None:
    verify_rejects(tmp_path, *argv, needles=(needle,))


# -- verify: --redis -------------------------------------------------------------------------

def test_redis_unreachable(tmp_path: Path) -> None:
    pytest.importorskip("redis")
    verify_rejects(tmp_path, "--profile", "nightly", "--redis", "redis://127.0.0.1:1/0",
                   needles=("--redis redis://127.0.0.1:1/0", "no Redis server answers"))


@pytest.mark.parametrize("url", ["notaurl", "http://x"])
def test_redis_malformed_url(tmp_path: Path, url: str) -> None:
    pytest.importorskip("redis")
    verify_rejects(tmp_path, "--profile", "nightly", "--redis", url,
                   needles=(f"--redis {url}", "not a Redis URL", "redis://"))


def test_redis_without_the_client_installed(tmp_path: Path) -> None:
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "redis.py").write_text('raise ImportError("No module named \'redis\' (test shim)")\n')
    path = os.pathsep.join(p for p in (str(shim), os.environ.get("PYTHONPATH", "")) if p)
    verify_rejects(tmp_path, "--profile", "nightly", "--redis", "redis://127.0.0.1:6379/0",
                   env={"PYTHONPATH": path},
                   needles=("--redis", "redis client is not installed", "pip install"))


# -- verify: output paths --------------------------------------------------------------------

def test_json_naming_a_directory(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    verify_rejects(tmp_path, "--json", "out", needles=("--json out", "is a directory"))
    assert not (tmp_path / "convspec-repro").exists()


@pytest.mark.parametrize("option", ["--json", "--junit-xml"])
def test_output_file_below_a_regular_file(tmp_path: Path, option: str) -> None:
    (tmp_path / "somefile").write_text("x")
    verify_rejects(tmp_path, option, "somefile/out.json",
                   needles=(f"{option} somefile/out.json", "is a file, not a directory"))
    assert (tmp_path / "somefile").read_text() == "x"


@pytest.mark.parametrize("value", ["somefile/repro", "somefile"])
def test_repro_dir_below_or_at_a_regular_file(tmp_path: Path, value: str) -> None:
    (tmp_path / "somefile").write_text("x")
    verify_rejects(tmp_path, "--repro-dir", value,
                   needles=(f"--repro-dir {value}", "is a file, not a directory"))


# -- verify: backends that fail to load ------------------------------------------------------

@pytest.mark.parametrize("source, spec, needles", [
    ('raise RuntimeError("boom")\n', "boom_at_import:Backend",
     ("--backend boom_at_import:Backend", "RuntimeError: boom", "boom_at_import.py:1")),
    ('class Backend:\n    name = "b"\n    def __init__(self):\n'
     '        raise ValueError("no device 7")\n    def conv(self, *a, **k):\n        pass\n',
     "boom_in_constructor:Backend",
     ("--backend boom_in_constructor:Backend", "ValueError: no device 7", "constructing")),
    ("def broken(:\n", "boom_syntax:Backend", ("--backend boom_syntax:Backend", "SyntaxError")),
])
def test_backend_import_or_constructor_raising(tmp_path: Path, source: str, spec: str,
                                               needles: tuple[str, ...]) -> None:
    (tmp_path / f"{spec.partition(':')[0]}.py").write_text(source)
    verify_rejects(tmp_path, "--backend", spec, needles=needles)


def test_unknown_backend_module(tmp_path: Path) -> None:
    verify_rejects(tmp_path, "--backend", "no_such_module_here:Backend",
                   needles=("--backend no_such_module_here:Backend", "cannot import module"))


# -- other commands --------------------------------------------------------------------------

def test_report_html_below_a_regular_file(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text('{"backend": "reference", "profile": "ci", "tests": []}')
    (tmp_path / "somefile").write_text("x")
    result = convspec("report", "x.json", "--html", "somefile/matrix.html", cwd=tmp_path)
    line = assert_usage_error(result, "--html somefile/matrix.html", "is a file")
    assert line.startswith("convspec report: ")
    assert result.stdout == ""  # nothing rendered before the check


@pytest.mark.parametrize("content, needle", [
    (None, "cannot read it"),
    ("{not json", "not JSON"),
    ('{"backend": "x"}', "missing profile, tests"),
    ('{"backend": "x", "profile": "ci", "tests": [{"outcome": "passed"}]}', "malformed"),
    ('{"backend": "x", "profile": "ci", "tests": 3}', "malformed"),
])
def test_report_bad_results_files(tmp_path: Path, content: str | None, needle: str) -> None:
    if content is not None:
        (tmp_path / "r.json").write_text(content)
    result = convspec("report", "r.json", cwd=tmp_path)
    assert_usage_error(result, "r.json", needle)


@pytest.mark.parametrize("argv, needle", [
    (("--min-repeats", "0"), "--min-repeats 0"),
    (("--budget", "nan"), "--budget nan"),
    (("--budget", "-1"), "--budget -1"),
    (("--batch", "0"), "batch"),
    (("--workloads", "no-such-suite"), "no-such-suite"),
    (("--json", "somefile/bench.json"), "--json somefile/bench.json"),
    (("--backend", "boom_at_import:Backend"), "RuntimeError: boom"),
])
def test_bench_usage_errors(tmp_path: Path, argv: tuple[str, ...], needle: str) -> None:
    (tmp_path / "somefile").write_text("x")
    (tmp_path / "boom_at_import.py").write_text('raise RuntimeError("boom")\n')
    started = time.monotonic()
    result = convspec("bench", "--workloads", "tiny", "--no-roofline", *argv, cwd=tmp_path)
    assert_usage_error(result, needle)
    assert time.monotonic() - started < QUICK_S and result.stdout == ""


@pytest.mark.parametrize("argv, needle", [
    (("shape", "1,3,10,10", "conv", "-k", "0"), "kernel"),
    (("shape", "1,3,10,10", "conv", "-k", "3", "-s", "2", "--exact"), "4.5"),
    (("shape", "1,3,10,10", "max_pool", "-k", "3", "-p", "same"), "same"),
    (("errata", "Z9"), "Z9"),
])
def test_shape_and_errata_usage_errors(tmp_path: Path, argv: tuple[str, ...],
                                       needle: str) -> None:
    assert_usage_error(convspec(*argv, cwd=tmp_path), needle)


# -- closed pipes ----------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [("errata",), ("backends", "reference"),
                                  ("shape", "1,3,227,227", "conv", "-k", "11", "-s", "4")])
def test_a_closed_pipe_ends_quietly(tmp_path: Path, argv: tuple[str, ...]) -> None:
    """``convspec ... | head -0``: the reader is gone before the command writes anything."""
    read, write = os.pipe()
    os.close(read)  # every write to the pipe now fails with EPIPE
    try:
        result = subprocess.run([*command(), *argv], cwd=tmp_path, stdout=write,
                                stderr=subprocess.PIPE, text=True, timeout=300)
    finally:
        os.close(write)
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr, result.stderr
    assert result.stderr == ""
    assert result.returncode in (0, 141), result.returncode


def test_head_of_backends_is_quiet(tmp_path: Path) -> None:
    """The shell form, ``convspec backends | head -2``."""
    shell = " ".join(f"'{part}'" for part in command())
    result = subprocess.run(f"{shell} backends reference scipy | head -2", shell=True,
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert len(result.stdout.splitlines()) == 2
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr


# -- the README's smallest backend, from the working directory --------------------------------

def readme_backend() -> tuple[str, str, str]:
    """The README's smallest backend: (file name, source, the verify command it gives)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```python\n(# (\w+\.py)\n.*?)```", text, re.S)
    assert block, "the README's smallest backend example (a python block starting '# NAME.py')"
    source, filename = block.group(1), block.group(2)
    after = text[block.end():]
    spec = re.search(r"`convspec verify --backend (\S+)`", after)
    assert spec, "the README says which command verifies the example"
    return filename, textwrap.dedent(source), spec.group(1)


def test_readme_backend_example_runs_from_its_directory(tmp_path: Path) -> None:
    filename, source, spec = readme_backend()
    assert spec.partition(":")[0] + ".py" == filename
    (tmp_path / filename).write_text(source)
    results = tmp_path / "mine.json"
    # The README's command, restricted to one conv property so that it stays quick; the
    # workers (pytest-xdist processes) import the module again, from the same directory.
    result = convspec("verify", "--backend", spec, "--section", "A", "-k", "test_library_conv_is_cross_correlation",
                      "--operation", "conv", "--json", str(results), "--jobs", "2",
                      cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    import json

    document = json.loads(results.read_text())
    outcomes = {t["name"]: t["outcome"] for t in document["tests"]}
    assert outcomes and "passed" in outcomes.values(), outcomes
    assert document["backend_name"] == "mine"


# -- argument building -----------------------------------------------------------------------

def _args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["verify", *argv])


def test_include_known_defects_and_exitfirst_reach_pytest() -> None:
    plain = pytest_arguments(_args(), "crumbs")
    assert "--convspec-include-known-defects" not in plain and "-x" not in plain
    argv = pytest_arguments(_args("--include-known-defects", "-x"), "crumbs")
    assert "--convspec-include-known-defects" in argv and "-x" in argv
    assert "-x" in pytest_arguments(_args("--exitfirst"), "crumbs")


def test_exitfirst_stops_at_the_first_failure_with_status_1(tmp_path: Path) -> None:
    """With pytest-xdist, ``-x`` ends the session as interrupted; verify still says 1 (a
    property failed), not 2 (usage)."""
    (tmp_path / "flipped.py").write_text(textwrap.dedent('''
        import numpy as np
        from convspec.reference import ops

        class Flipped:
            name = "flipped"
            def conv(self, x, w, b, *, stride, padding, dilation, groups):
                w = np.ascontiguousarray(w[(..., *([slice(None, None, -1)] * (w.ndim - 2)))])
                return ops.conv(x, w, b, stride=stride, padding=padding, dilation=dilation,
                                groups=groups)
        '''))
    result = convspec("verify", "--backend", "flipped:Flipped", "--section", "A", "--jobs", "1",
                      "-k", "cross_correlation or real_valued or rotated_kernel", "-x",
                      cwd=tmp_path, timeout=600)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert "stopping after" in result.stdout


def test_python_dash_m_convspec_reports_usage_errors_the_same_way(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "convspec", "verify", "--jobs", "0"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert_usage_error(result, "--jobs 0")
