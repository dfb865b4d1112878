"""Repro scripts written by ``convspec verify`` (``convspec/verify/repro.py``) and the library-only
upstream scripts (``convspec/verify/upstream.py``): they run from any directory, bfloat16 survives,
a law's repro replays the failing example itself, and an upstream script needs no convspec.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from verify_runs import CONV, FIXTURES, outcomes, run_script, verify  # noqa: E402

from convspec.verify import upstream  # noqa: E402
from convspec.verify.conformance import Call  # noqa: E402
from convspec.spec.dtypes import numpy_dtype  # noqa: E402
from convspec.spec.geometry import ConvGeometry, PoolGeometry  # noqa: E402
from convspec.verify.tolerance import Tolerance  # noqa: E402

LINEARITY = "test_linearity_in_input_and_kernel"


def test_bfloat16_repro_runs_from_another_directory_and_prints_its_arrays(tmp_path: Path) -> None:
    done, document = verify(tmp_path, "broken_backends:flipped", "--dtype", "bfloat16",
                            selection=CONV)
    assert done.returncode == 1, done.stdout + done.stderr
    entry = outcomes(document)[CONV]
    assert entry["nodeid"] == f"convspec/properties/test_a_convolution.py::{CONV}"
    assert entry["repro"] == f"convspec-repro/broken_backends_flipped/{CONV}.py"
    assert "bfloat16" in entry["call"]
    replay = run_script(tmp_path / entry["repro"], tmp_path / "elsewhere")
    assert replay.returncode == 1, replay.stdout + replay.stderr
    assert "differs from the specification" in replay.stdout
    assert "x: shape" in replay.stdout and "bfloat16" in replay.stdout


def test_the_repro_folder_holds_only_this_runs_failures(tmp_path: Path) -> None:
    stale = tmp_path / "convspec-repro" / "broken_backends_correct" / "old_failure.py"
    other = tmp_path / "convspec-repro" / "another_backend" / "kept.py"
    for path in (stale, other):
        path.parent.mkdir(parents=True)
        path.write_text("raise SystemExit(1)\n")
    done, _ = verify(tmp_path, "broken_backends:correct",
                     selection="test_max_pool_matches_reference")
    assert done.returncode == 0, done.stdout + done.stderr
    assert not stale.exists() and other.exists()


def test_a_law_repro_replays_the_failing_example(tmp_path: Path) -> None:
    """A failure found by the random ``dev`` profile on a law between calls: the repro replays
    Hypothesis' @reproduce_failure blob (not the ci profile's examples), from any directory,
    and passes once the backend is fixed."""
    done, document = verify(tmp_path, "slow_broken:nonlinear", "--profile", "dev",
                            selection=LINEARITY)
    assert done.returncode == 1, done.stdout + done.stderr
    entry = outcomes(document)[LINEARITY]
    assert entry["outcome"] == "failed" and "not linear" in entry["reason"], entry
    assert entry["replay"] == "the failing example (@reproduce_failure)", entry
    script = tmp_path / entry["repro"]
    assert "--convspec-reproduce" in script.read_text()
    assert str(FIXTURES.resolve()) in script.read_text()  # the backend's folder, recorded
    replay = run_script(script, tmp_path / "elsewhere")
    assert replay.returncode == 1, replay.stdout + replay.stderr
    assert "not linear" in replay.stdout
    fixed = run_script(script, tmp_path / "elsewhere", extra_env={"CONVSPEC_FIXTURE_FIXED": "1"})
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr


def _cases(dtype: str) -> list[Call]:
    rng = np.random.default_rng(0)
    dt = numpy_dtype(dtype)

    def ints(shape: tuple[int, ...]) -> np.ndarray:
        return rng.integers(-3, 4, size=shape).astype(dt)

    g = ConvGeometry.make(2, 4, (2, 3), stride=(2, 1), padding=((1, 0), (0, 2)), groups=2)
    t = ConvGeometry.make(2, 4, (2, 3), stride=(2, 1), padding=1, groups=2, transposed=True)
    p = PoolGeometry.make((2, 2), stride=2, padding=1, ceil_mode=True)
    x = ints((2, 2, 5, 6))
    return [
        Call("conv", {"x": x, "w": ints(g.weight_shape), "b": ints(g.bias_shape)}, g.kwargs()),
        Call("conv_vjp", {"x": x, "w": ints(g.weight_shape), "b": ints(g.bias_shape),
                          "dy": ints(g.output_shape(x.shape))}, g.kwargs()),
        Call("conv_transpose", {"x": x, "w": ints(t.weight_shape), "b": None}, t.kwargs()),
        Call("conv_transpose_vjp", {"x": x, "w": ints(t.weight_shape), "b": ints(t.bias_shape),
                                    "dy": ints(t.output_shape(x.shape))}, t.kwargs()),
        Call("max_pool", {"x": x}, p.max_pool_kwargs()),
        Call("avg_pool", {"x": x}, p.avg_pool_kwargs()),
        Call("max_pool_vjp", {"x": x, "dy": ints(p.output_shape(x.shape))},
             p.max_pool_kwargs()),
        Call("avg_pool_vjp", {"x": x, "dy": ints(p.output_shape(x.shape))},
             p.avg_pool_kwargs()),
    ]


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_torch_upstream_scripts_need_no_convspec_and_fail_on_a_wrong_result(
        tmp_path: Path, dtype: str) -> None:
    pytest.importorskip("torch")
    for call in _cases(dtype):
        expected, allowed = upstream.expected_and_allowed(call, Tolerance(dtype))
        right = tmp_path / f"{call.operation}.upstream.py"
        right.write_text(upstream.script("torch", call, dtype, expected=expected,
                                         allowed=allowed))
        done = run_script(right, tmp_path / "elsewhere", isolated=True)
        assert done.returncode == 0, (call.operation, done.stdout + done.stderr)
        assert "torch" in done.stdout and "agrees" in done.stdout
        planted = {name: value + 1 for name, value in expected.items()}  # a wrong "expected"
        wrong = tmp_path / f"{call.operation}.wrong.upstream.py"
        wrong.write_text(upstream.script("torch", call, dtype, expected=planted,
                                         allowed=allowed))
        done = run_script(wrong, tmp_path / "elsewhere", isolated=True)
        assert done.returncode == 1, (call.operation, done.stdout + done.stderr)
        assert "elements differ; worst at" in done.stdout


@pytest.mark.parametrize("spec, module", [("jax", "jax"), ("onnxruntime", "onnxruntime")])
def test_jax_and_onnxruntime_upstream_scripts_run_alone(tmp_path: Path, spec: str,
                                                        module: str) -> None:
    pytest.importorskip(module)
    for call in _cases("float32"):
        if upstream.unsupported(spec, call.operation):
            continue
        text = upstream.build(spec, call, "float32", Tolerance("float32"))
        path = tmp_path / f"{call.operation}.upstream.py"
        path.write_text(text)
        done = run_script(path, tmp_path / "elsewhere", isolated=True)
        assert done.returncode == 0, (call.operation, done.stdout + done.stderr)


def test_upstream_says_which_cases_it_does_not_cover() -> None:
    assert upstream.unsupported("torch", "avg_pool_vjp") is None
    assert "forward operations only" in upstream.unsupported("onnxruntime", "conv_vjp")
    assert "scipy" in upstream.unsupported("scipy", "conv")
    assert "built-in" in upstream.unsupported("mypkg:backend", "conv")
