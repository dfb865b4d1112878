"""TensorFlow's defects the suite found (issue 17), reproduced in TensorFlow's own API where
this machine has them: each is declared by the ``tensorflow`` backend and still real on the
release it was found on (2.21), so a fixed TensorFlow fails its test, saying which declaration
to drop. The gradient crash of the generic 3-D pooling ops is avoided by the adapter (it passes
``data_format``) rather than declared; its test says when that workaround can go."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from convspec import ConvGeometry

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
tf = pytest.importorskip("tensorflow")

from convspec.backends import tensorflow_backend  # noqa: E402
from convspec.backends.registry import load_backend  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from cpu_kernels import NOT_AMX, amx_kernels  # noqa: E402

#: The release the defects were found on: there, a defect that no longer reproduces fails.
FOUND_ON = "2.21."


def _found_here() -> bool:
    return tf.__version__.startswith(FOUND_ON)


DROP = "drop its declaration from convspec/backends/tensorflow_backend.py"


def _absent(what: str, fix: str = DROP) -> None:
    """A defect that does not reproduce: a failure on the release and the CPU kernels it was
    found on (``fix`` says what to change), a skip elsewhere."""
    if _found_here() and amx_kernels():
        pytest.fail(f"tensorflow {tf.__version__} no longer shows {what}: {fix}")
    pytest.skip(f"tensorflow {tf.__version__} does not show {what}")


def _amx_or_skip() -> None:
    """The bfloat16 and float32 oneDNN defects were measured with AMX kernels; without AVX-512
    TensorFlow has no bfloat16 convolution at all."""
    if not amx_kernels():
        pytest.skip(NOT_AMX)


def _defect(name: str):
    caps = load_backend("tensorflow").capabilities()
    return next((d for d in caps.defects if d.name == name), None), caps


def test_empty_batch_conv_shape_is_declared_and_still_real():
    """oneDNN's float32 conv2d of a batch of zero samples has the input's shape (0, 5, 5, 2),
    not (0, 3, 3, 4), and float64 (Eigen) is right; the backend declares it for the
    convolutions whose empty batch it probes wrong, float32 and bfloat16, and not for a batch
    of one or for float64."""
    y = tf.nn.conv2d(tf.ones((0, 5, 5, 2)), tf.ones((3, 3, 2, 4)), 1, "VALID")
    assert tf.nn.conv2d(tf.ones((0, 5, 5, 2), tf.float64), tf.ones((3, 3, 2, 4), tf.float64),
                        1, "VALID").shape == (0, 3, 3, 4)
    if tuple(y.shape) == (0, 3, 3, 4):
        _absent("the empty-batch conv shape defect")
    assert tuple(y.shape) == (0, 5, 5, 2)
    defect, caps = _defect("tf-onednn-empty-batch-conv-shape")
    assert defect is not None
    assert {"conv", "conv_vjp"} <= defect.operations and "float32" in defect.dtypes
    assert "float64" not in defect.dtypes
    g = ConvGeometry.make(2, 4, (3, 3))
    assert caps.case_skip_reason("conv", "float32", g, batch=0, spatial=(5, 5))
    assert not caps.case_skip_reason("conv", "float32", g, batch=1, spatial=(5, 5))
    assert not caps.case_skip_reason("conv", "float64", g, batch=0, spatial=(5, 5))


def test_empty_batch_conv_shape_repro_and_its_switch():
    """The declared repro prints the wrong shape in a fresh Python; TF_ENABLE_ONEDNN_OPTS=0
    (TensorFlow's own kernels) prints the right one."""
    code = tensorflow_backend.EMPTY_BATCH_REPRO.split('"')[1]
    shapes = {}
    for onednn in ("1", "0"):
        env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": onednn, "TF_CPP_MIN_LOG_LEVEL": "3"}
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=300, env=env)
        assert done.returncode == 0, done.stderr[-2000:]
        shapes[onednn] = done.stdout.strip()
    assert shapes["0"] == "(0, 3, 3, 4)"
    if shapes["1"] == "(0, 3, 3, 4)":
        _absent("the empty-batch conv shape defect")
    assert shapes["1"] == "(0, 5, 5, 2)"


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_strided_unit_output_is_declared_and_still_real(dtype):
    """The dtype's repro (a conv2d whose one output column, stride 2, must equal the kernel's
    length everywhere) is wrong in float32 and bfloat16 and right in float64; the backend
    declares the region, which holds that call and the transposed input gradient found by
    verify, and spares stride 1, float64, 1-D and the transposed convolution itself."""
    _amx_or_skip()
    (x1, w1), (x2, w2) = tensorflow_backend._UNIT_OUTPUT_CASES
    wrong = tensorflow_backend.unit_output_wrong_dtypes(tf)
    for x, w in ((x1, w1), (x2, w2)):
        y = tf.nn.conv2d(tf.ones(x, tf.float64), tf.ones(w, tf.float64), [1, 1, 2, 1], "VALID")
        assert (y.numpy() == w[1]).all()
    if dtype not in wrong:
        _absent(f"the {dtype} strided unit-output defect")
    code = tensorflow_backend.UNIT_OUTPUT_REPROS[dtype].split('"')[1]
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    values = [float(v) for v in done.stdout.strip().strip("[]").split()]
    kernel = {"float32": 2.0, "bfloat16": 3.0}[dtype]
    assert values and any(v != kernel for v in values), (done.stdout, done.stderr[-2000:])
    defect, _ = _defect("tf-onednn-strided-unit-output")
    assert defect is not None and dtype in defect.dtypes
    found = ConvGeometry.make(1, 1, (1, 2), stride=(1, 2), padding=((0, 0), (1, 0)),
                              dilation=(2, 1))
    assert defect.hits("conv", dtype, found, (4, 2))  # E3's translation case, float32
    transposed = ConvGeometry.make(1, 1, (1, 3), stride=(1, 2), transposed=True)
    assert defect.hits("conv_transpose_vjp", dtype, transposed, (4, 1))
    assert not defect.hits("conv_transpose", dtype, transposed, (4, 1))
    assert not defect.hits("conv", dtype, ConvGeometry.make(1, 1, (1, 2)), (4, 2))
    assert not defect.hits("conv", "float64", found, (4, 2))
    assert not defect.hits("conv", dtype, ConvGeometry.make(1, 1, (3,), stride=2), (4,))


def test_bf16_bias_gradient_drift_is_declared_and_still_real():
    """The bfloat16 bias gradient of 16,384 samples of 2x2 (65,536 elements) is off by far
    more than bfloat16 rounding, 4,096 samples and float32 are exact; the backend declares it
    for calls whose batch times output positions reach 2^16, with a bias only."""
    _amx_or_skip()
    rng = np.random.default_rng(0)

    def bias_grad(n: int, dtype) -> tuple[float, float]:
        dy = rng.integers(-2, 3, (n, 2, 2, 1)).astype(np.float32)
        b = tf.zeros((1,), dtype)
        with tf.GradientTape() as tape:
            tape.watch(b)
            y = tf.nn.bias_add(tf.zeros(dy.shape, dtype), b)
        return float(tape.gradient(y, b, tf.constant(dy, dtype)).numpy()[0]), float(dy.sum())

    got, exact = bias_grad(4096, tf.bfloat16)
    assert got == exact
    got, exact = bias_grad(16384, tf.float32)
    assert got == exact
    if not tensorflow_backend.bf16_bias_grad_drifts(tf):
        _absent("the bfloat16 bias-gradient drift")
    defect, caps = _defect("tf-bf16-bias-grad-accumulation")
    assert defect is not None
    g = ConvGeometry.make(1, 1, (1, 1))
    assert caps.case_skip_reason("conv_vjp", "bfloat16", g, batch=65549, spatial=(2, 2))
    assert caps.case_skip_reason("conv_vjp", "bfloat16", g, batch=16384, spatial=(2, 2))
    assert not caps.case_skip_reason("conv_vjp", "bfloat16", g, batch=4096, spatial=(2, 2))
    assert not caps.case_skip_reason("conv_vjp", "float32", g, batch=65549, spatial=(2, 2))
    unbiased = ConvGeometry.make(1, 1, (1, 1), bias=False)
    assert not caps.case_skip_reason("conv_vjp", "bfloat16", unbiased, batch=65549,
                                     spatial=(2, 2))


def test_stride_cost_is_declared_and_still_real():
    """A float32 conv of 64 samples at stride 10^6 takes far longer than in float64 (its cost
    grows with the stride); declared on 2.21 for strides above 2^10, float32 and bfloat16."""
    import time

    x = tf.ones((64, 1, 5, 1))

    def seconds(dtype) -> float:
        start = time.perf_counter()
        y = tf.nn.conv2d(tf.cast(x, dtype), tf.ones((1, 2, 1, 1), dtype), [1, 1, 10 ** 6, 1],
                         "VALID")
        assert y.shape == (64, 1, 1, 1)
        return time.perf_counter() - start

    seconds(tf.float64)  # the first call of a dtype pays for set-up
    slow, fast = seconds(tf.float32), seconds(tf.float64)
    if slow < 20 * fast + 0.2:
        _absent("the stride cost of oneDNN's convolutions")
    if not _found_here():
        pytest.skip(f"declared for tensorflow {FOUND_ON}x only")
    defect, caps = _defect("tf-onednn-stride-cost")
    assert defect is not None
    huge = ConvGeometry.make(1, 1, (2,), stride=2 ** 31 - 2, padding=1)
    assert caps.case_skip_reason("conv", "float32", huge, spatial=(3,))
    assert not caps.case_skip_reason("conv", "float64", huge, spatial=(3,))
    assert not caps.case_skip_reason("conv", "float32", ConvGeometry.make(1, 1, (2,), stride=3),
                                     spatial=(3,))


def test_bf16_avg_pool_gradient_sums_in_bfloat16():
    """Three windows of 3 meeting on one input with dy -1, 2, -1 (three channels) give a
    bfloat16 input gradient of -0.0013 where 0 is exact (float32: 0); the backend declares
    bfloat16 avg_pool_vjp a hole (reduced accumulation precision, as PyTorch's half types)."""
    _amx_or_skip()
    if not tensorflow_backend.bf16_avg_pool_grad_rounds(tf):
        _absent("the bfloat16 avg_pool_vjp rounding", "drop the avg_pool_vjp:dtype:bfloat16 "
                "hole from convspec/backends/tensorflow_backend.py")
    caps = load_backend("tensorflow").capabilities()
    assert caps.skip_reason("avg_pool_vjp", "bfloat16", 1)
    assert caps.skip_reason("avg_pool_vjp", "float32", 1) is None


def test_generic_3d_pooling_gradient_needs_data_format():
    """tf.nn.max_pool / avg_pool on 5-D input under GradientTape raise "'NoneType' object has
    no attribute 'decode'" unless data_format="NDHWC" is given; the adapter gives it (a fixed
    TensorFlow fails this test: the adapter's note on it can go)."""
    x = tf.ones((1, 4, 4, 4, 2))
    for pool in (tf.nn.max_pool, tf.nn.avg_pool):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = pool(x, 2, 2, "VALID", data_format="NDHWC")
        assert tape.gradient(y, x).shape == x.shape
        try:
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = pool(x, 2, 2, "VALID")
            tape.gradient(y, x)
        except AttributeError as exc:
            assert "decode" in str(exc)
        else:
            _absent(f"the {pool.__name__} 3-D gradient crash without data_format",
                    "drop the note on it from the tensorflow_backend docstring")
