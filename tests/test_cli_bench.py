"""``convspec bench``: the table, the JSON, the progress bar, skips and GPU-free machines."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from convspec.cli import main
from convspec.cli.bench import Progress

QUICK = ["--budget", "0.01", "--min-repeats", "2"]


def test_table_json_and_progress_for_the_reference_backend(tmp_path: Path, capsys):
    out = tmp_path / "bench.json"
    status = main(["bench", "--backend", "reference", "--workloads", "tiny/conv3x3,tiny/maxpool2x2",
                   *QUICK, "--no-roofline", "--json", str(out)])
    assert status == 0
    captured = capsys.readouterr()
    header, *rows = captured.out.splitlines()[1:4]
    assert header.split()[:4] == ["workload", "×", "GFLOP", "median"]
    assert [r.split()[0] for r in rows] == ["tiny/conv3x3", "tiny/maxpool2x2"]
    assert "harness overhead (empty call)" in captured.out
    assert "2/2 done" in captured.err  # the progress bar, on stderr
    document = json.loads(out.read_text())
    assert document["workloads"] == "tiny/conv3x3,tiny/maxpool2x2"
    assert [r["workload"] for r in document["results"]] == ["tiny/conv3x3", "tiny/maxpool2x2"]
    assert all(r["gflops"] > 0 and r["repeats"] >= 2 for r in document["results"])


def test_roofline_columns_come_from_the_calibration(capsys, monkeypatch):
    from convspec.perf import roofline

    fixed = roofline.Calibration("cpu", "float32", peak_flops=1e12, bandwidth=1e9, gemm_n=64,
                                 copy_bytes=1, library="test", machine="test")
    monkeypatch.setattr("convspec.cli.bench.calibrate", lambda device, dtype: fixed)
    assert main(["bench", "--backend", "reference", "--workloads", "tiny/maxpool2x2", *QUICK]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("tiny/maxpool2x2"))
    assert row.split()[-2:][0] == "memory"  # pooling sits far left of the ridge (1000 FLOP/B)
    assert "peak 1000.0 GFLOP/s" in out and "bandwidth 1.0 GB/s" in out


def test_unknown_workloads_and_backends_fail_with_one_line(capsys):
    assert main(["bench", "--backend", "reference", "--workloads", "tiny/nonexistent"]) == 2
    assert "conv3x3" in capsys.readouterr().err
    assert main(["bench", "--backend", "reference", "--workloads", "lenet"]) == 2
    assert "suite" in capsys.readouterr().err
    assert main(["bench", "--backend", "no.such.module:Backend", "--workloads", "tiny"]) == 2
    assert "cannot be used" in capsys.readouterr().err


def test_progress_bar_redraws_in_place_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    bar = Progress(2, stream=stream, width=4)
    bar.step("a")
    bar.step("b")
    bar.close()
    text = stream.getvalue()
    assert text.count("\r\033[K") == 3 and text.endswith("[####] 2/2 done\n")


def test_cuda_backends_refuse_without_initializing_cuda_on_a_cpu_machine():
    """On a machine without a GPU: the CUDA backend is refused with its reason, and neither
    that nor a CPU benchmark run with roofline calibration initializes CUDA."""
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    script = (
        "import sys, torch\n"
        "from convspec.cli import main\n"
        "assert main(['bench', '--backend', 'torch-cuda', '--workloads', 'tiny']) == 2\n"
        "assert main(['bench', '--backend', 'torch', '--workloads', 'tiny/conv3x3', "
        "'--budget', '0.01', '--min-repeats', '2']) == 0\n"
        "from convspec.perf.roofline import device_kinds\n"
        "assert device_kinds() == ('cpu',)\n"
        "print('cuda initialized:', torch.cuda.is_initialized())\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "cuda initialized: False" in done.stdout
    assert "no CUDA device" in done.stderr


def test_a_noisy_row_is_flagged_and_the_warning_says_why(capsys, monkeypatch):
    """Rows whose IQR/median exceeds NOISY_RELATIVE_IQR get a "!" and one warning naming them
    and the usual cause on a shared CPU (OpenMP threads spinning)."""
    from convspec.cli import bench
    from convspec.perf.roofline import WorkloadResult
    from convspec.perf.timing import NOISY_RELATIVE_IQR, Measurement
    from convspec.perf.workloads import select

    calm, noisy = select("tiny/conv3x3,tiny/maxpool2x2", batch=1, direction="forward")
    steady = Measurement(times=(1.0, 1.0, 1.01, 1.0), overhead=0.0)
    spread = Measurement(times=(1.0, 1.5, 2.0, 0.8), overhead=0.0)
    assert not steady.noisy and spread.noisy and spread.relative_iqr > NOISY_RELATIVE_IQR
    results = [WorkloadResult("reference", calm, "float32", steady, None),
               WorkloadResult("reference", noisy, "float32", spread, None)]
    table = bench.format_table(results).splitlines()
    assert table[1].split()[4] != "!" and table[2].split()[5] == "!"
    warning = bench.noise_warning(results)
    assert warning.startswith("warning: 1 of 2 rows spread more than 10 %")
    assert "tiny/maxpool2x2" in warning and "tiny/conv3x3" not in warning
    assert "OMP_WAIT_POLICY=PASSIVE" in warning
    assert bench.noise_warning(results[:1]) is None
    assert spread.as_dict()["noisy"] is True
