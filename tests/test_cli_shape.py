"""The ``convspec shape`` and ``convspec errata`` commands."""

from __future__ import annotations

import subprocess
import sys

import pytest

from convspec.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(["shape", *argv])
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.spec("B6", "C1", "C3")
def test_alexnet_conv1(capsys) -> None:
    code, out, _ = run(capsys, "1,3,227,227", "conv", "-c", "96", "-k", "11", "-s", "4")
    assert code == 0
    assert "(1, 96, 55, 55)" in out
    assert "34,944" in out and "34,848 weights" in out
    assert f"{55 * 55 * 96 * 363:,}" in out
    assert "receptive field  11×11, stride 4×4" in out


@pytest.mark.spec("B1")
def test_the_notes_invalid_geometry(capsys) -> None:
    code, out, _ = run(capsys, "1x1x10x10", "conv", "-k", "3", "-s", "2")
    assert code == 0 and "(1, 1, 4, 4)" in out  # floored, as libraries do
    code, out, err = run(capsys, "1,1,10,10", "conv", "-k", "3", "-s", "2", "--exact")
    assert code == 2 and out == ""
    assert "4.5 is not an integer" in err and "Traceback" not in err
    assert err.count("\n") == 1


@pytest.mark.spec("B4", "B3", "B10", "B9")
def test_modes_and_layers(capsys) -> None:
    _, out, _ = run(capsys, "1,3,10", "conv", "-k", "4", "-p", "same")
    assert "(1, 3, 10)" in out and "((1, 2),)" in out
    _, out, _ = run(capsys, "1,3,10", "conv", "-k", "4", "-p", "same", "--same-convention",
                    "onnx_lower")
    assert "((2, 1),)" in out
    _, out, _ = run(capsys, "1,3,10,10", "conv", "-k", "3", "-p", "full", "-d", "2")
    assert "(1, 3, 14, 14)" in out
    _, out, _ = run(capsys, "1,16,7,7", "conv_transpose", "-c", "8", "-k", "3", "-s", "2",
                    "-p", "1", "--output-padding", "1")
    assert "(1, 8, 14, 14)" in out and "(16, 8, 3, 3)" in out and "n/a" in out
    _, out, _ = run(capsys, "1,96,55,55", "max_pool", "-k", "3", "-s", "2")
    assert "(1, 96, 27, 27)" in out and "parameters       0" in out
    _, out, _ = run(capsys, "1,3,9,9", "avg_pool", "-k", "2", "--ceil-mode", "--exclude-pad")
    assert "(1, 3, 5, 5)" in out
    _, out, _ = run(capsys, "1,4,8,8", "conv", "-k", "3,1", "-p", "1:1,0", "-g", "4", "--no-bias")
    assert "(1, 4, 8, 8)" in out and "12 weights + 0 biases" in out


@pytest.mark.parametrize("argv,needle", [
    (["1,4,10,10", "conv", "-k", "3", "-g", "3"], "groups=3 does not divide"),
    (["1,3,10,10", "conv", "-k", "30"], "larger than the padded input"),
    (["1,3,10,10", "conv", "-k", "3", "-s", "2", "-p", "same"], "stride 1"),
    (["1,3,10,10", "max_pool", "-k", "2", "-p", "2"], "half the window"),
    (["1,3,10,10", "avg_pool", "-k", "2", "-d", "2"], "dilation"),
    (["1,3,10,10", "max_pool", "-k", "2", "-s", "1", "-p", "same"], "pads both sides"),
    (["1,3,10,10", "conv_transpose", "-k", "3", "-p", "same"], "forward convolution"),
    (["1,3,10,10", "conv_transpose", "-k", "3", "-s", "2", "--output-padding", "2"],
     "output_padding"),
    (["1,3,10,10", "conv", "-k", "3", "--output-padding", "1"], "output_padding"),
])
def test_invalid_geometry_is_one_line_exit_2(capsys, argv, needle) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert needle in err and err.startswith("convspec shape: invalid geometry:")
    assert "Traceback" not in err


@pytest.mark.parametrize("argv", [
    ["1,3", "conv", "-k", "3"],
    ["1,3,10,10", "conv", "-k", "x"],
    ["1,3,10,10", "conv", "-k", "3", "-p", "1:"],
    ["1,3,10,10", "pool", "-k", "3"],
    ["1,3,10,10", "conv"],
])
def test_usage_errors_exit_2(capsys, argv) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2 and "usage" in err


def test_help_reads_well(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["shape", "--help"])
    out = capsys.readouterr().out
    for phrase in ("INPUT_SHAPE", "conv_transpose", "--same-convention", "BEFORE:AFTER",
                   "examples:", "--exact"):
        assert phrase in out


def test_console_entry_point_runs() -> None:
    result = subprocess.run([sys.executable, "-m", "convspec", "shape", "1,3,5,5", "conv", "-c",
                             "1", "-k", "3", "-s", "2", "-p", "1"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "(1, 1, 3, 3)" in result.stdout  # the 5×5 demo gives 3


@pytest.mark.spec("B7", "E2", "C7")
def test_errata_command(capsys) -> None:
    assert main(["errata"]) == 0
    out = capsys.readouterr().out
    assert out.count("literal:") == 3 and out.count("FAILS") == 3 and out.count("holds") == 3
    assert "20 vs 19" in out and "(5, False) vs (7, True)" in out
    assert main(["errata", "C7"]) == 0
    assert "B7" not in capsys.readouterr().out
    assert main(["errata", "Z9"]) == 2
