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


# -- invalid calls (issue 17, item 1: the library judges) ------------------------------------
def _run(code: str, onednn: str = "1") -> subprocess.CompletedProcess:
    """``code`` in a fresh Python (a TensorFlow abort kills that one, not the test run)."""
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": onednn, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env=env)


def test_empty_output_conv_shape_is_declared_and_still_real():
    """Where TensorFlow sizes a convolution's output 0 (kernel 5 on 4 inputs), oneDNN's float32
    conv2d returns the input's shape (1, 1, 4, 1) and TensorFlow's own kernels (float64, or
    TF_ENABLE_ONEDNN_OPTS=0) the empty (1, 1, 0, 1); the backend declares the defect over the
    kernel_too_large kind of conv and conv_vjp, next to the empty output's convention."""
    code = tensorflow_backend.EMPTY_OUTPUT_REPRO.split('"')[1]
    shapes = {}
    for onednn in ("1", "0"):
        done = _run(code, onednn)
        assert done.returncode == 0, done.stderr[-2000:]
        shapes[onednn] = done.stdout.strip()
    assert shapes["0"] == "(1, 1, 0, 1)"
    wrong = tensorflow_backend.empty_output_wrong_dtypes(tf, ("float32", "float64"))
    assert "float64" not in wrong
    if shapes["1"] == "(1, 1, 0, 1)":
        assert not wrong
        _absent("the empty-output conv shape defect")
    assert shapes["1"] == "(1, 1, 4, 1)" and "float32" in wrong
    defect, caps = _defect("tf-onednn-empty-output-conv-shape")
    assert defect is not None and defect.invalid_kinds == {"kernel_too_large"}
    assert defect.operations == {"conv", "conv_vjp"} and "float64" not in defect.dtypes
    assert caps.accepting("conv", "kernel_too_large")


@pytest.mark.parametrize("call", [
    "tf.nn.conv2d(tf.ones((2, 5, 4)), tf.ones((3, 3, 4, 3)), 1, 'VALID')",
    "tf.nn.max_pool3d(tf.ones((2, 5, 5, 4)), 2, 2, 'VALID', data_format='NDHWC')"])
def test_fewer_axes_abort_onednn_and_the_adapter_refuses_them(call):
    """oneDNN's Conv2D and MaxPool3D abort the process on an input with one axis fewer than
    they take (tensorflow/tensorflow#111453, #111457), TensorFlow's own kernels raise; so the
    adapter refuses such an input with a ValueError naming x before calling TensorFlow."""
    own = _run(f"import tensorflow as tf\ntry:\n    {call}\nexcept tf.errors.OpError as e:\n"
               "    print(type(e).__name__)", onednn="0")
    assert own.stdout.strip() == "InvalidArgumentError", own.stderr[-2000:]
    backend = load_backend("tensorflow")
    x = np.ones((2, 4, 5, 5) if "pool" in call else (2, 4, 5), np.float32)
    with pytest.raises(ValueError, match="^x: .*rank at least"):
        if "pool" in call:
            backend.max_pool(x, kernel=(2, 2, 2), stride=(2, 2, 2), padding=(0, 0, 0),
                             dilation=(1, 1, 1), ceil_mode=False)
        else:
            backend.conv(x, np.ones((3, 4, 3, 3), np.float32), None, stride=(1, 1),
                         padding=((0, 0), (0, 0)), dilation=(1, 1), groups=1)
    done = _run(f"import tensorflow as tf\n{call}")
    if done.returncode >= 0:
        _absent(f"the oneDNN abort of {call.split('(')[0]} on fewer axes",
                "the adapter's FEWER_AXES refusal can go (TensorFlow judges the call)")


def test_avg_pool_gradient_reads_any_dy_and_the_adapter_refuses_it():
    """AvgPoolGrad takes a gradient of another shape than the pooling's output and reads it
    as if it had that shape (one of more channels here; a smaller one overflows the heap,
    tensorflow/tensorflow#63353, #64642); the adapter refuses such a dy with a ValueError."""
    done = _run("import tensorflow as tf\nprint(tf.raw_ops.AvgPoolGrad(orig_input_shape=[1, 4, "
                "4, 2], grad=tf.ones((1, 2, 2, 3)), ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], "
                "padding='VALID').shape)")
    backend = load_backend("tensorflow")
    with pytest.raises(ValueError, match="^dy: "):
        backend.avg_pool_vjp(np.ones((1, 2, 4, 4), np.float32), np.ones((1, 3, 2, 2),
                             np.float32), kernel=(2, 2), stride=(2, 2), padding=(0, 0),
                             ceil_mode=False, count_include_pad=True)
    if done.returncode != 0 or done.stdout.strip() != "(1, 4, 4, 2)":
        _absent("AvgPoolGrad reading a dy of another shape",
                "the adapter's AVG_POOL_DY refusal can go (TensorFlow judges dy)")


def test_declared_conventions_are_tensorflows():
    """What ``accepts_invalid`` declares is TensorFlow's: the empty output of a kernel one
    longer than the input (and of kernel 8, stride 3 on 4, where the documented ceil is -1),
    refused below; a max_pool2d padding below the window, refused at the window; a conv2d input
    with an extra leading axis convolved as a batch."""
    x = tf.ones((1, 1, 4, 1), tf.float64)
    assert tf.nn.conv2d(x, tf.ones((1, 5, 1, 1), tf.float64), 1, "VALID").shape == (1, 1, 0, 1)
    assert tf.nn.conv2d(x, tf.ones((1, 8, 1, 1), tf.float64), [1, 1, 3, 1],
                        "VALID").shape == (1, 1, 0, 1)
    with pytest.raises(tf.errors.InvalidArgumentError, match="would be negative"):
        tf.nn.conv2d(x, tf.ones((1, 6, 1, 1), tf.float64), 1, "VALID")
    # explicit padding, as the adapter pools ("VALID" dies of SIGFPE, tensorflow#125509)
    assert tf.nn.max_pool1d(tf.ones((1, 4, 1)), 5, 1, [[0, 0]] * 3).shape == (1, 0, 1)
    pads = [[0, 0], [2, 2], [0, 0]]
    assert tf.nn.max_pool1d(tf.ones((1, 5, 1)), 3, 1, pads).shape == (1, 7, 1)
    with pytest.raises(tf.errors.InvalidArgumentError, match="smaller than the window"):
        tf.nn.max_pool1d(tf.ones((1, 6, 1)), 2, 2, pads)
    rng = np.random.default_rng(0)
    x5 = rng.standard_normal((2, 3, 5, 5, 2))
    w = rng.standard_normal((2, 2, 2, 4))
    y = tf.nn.conv2d(x5, w, 1, "VALID").numpy()
    assert np.allclose(y[1, 2], tf.nn.conv2d(x5[1:2, 2], w, 1, "VALID").numpy()[0])
    backend, reference = load_backend("tensorflow"), load_backend("reference")
    x4 = rng.standard_normal((2, 3, 4, 7))  # (N, C, extra, W) to a 1-D kernel, padded
    w1 = rng.standard_normal((5, 3, 3))
    kw = dict(stride=(2,), padding=((1, 2),), dilation=(1,), groups=1)
    assert np.allclose(backend.conv(x4, w1, None, **kw), np.stack(
        [reference.conv(x4[:, :, i], w1, None, **kw) for i in range(4)], axis=2))
    caps = backend.capabilities()
    for key in ("conv:kernel_too_large", "avg_pool_vjp:kernel_too_large", "conv:rank",
                "conv_vjp:rank", "max_pool:pool_padding", "max_pool_vjp:pool_padding"):
        assert key in caps.accepts_invalid
    assert not caps.accepting("conv_transpose", "kernel_too_large")
    assert not caps.accepting("conv_transpose", "output_padding")
    assert not caps.accepting("avg_pool", "pool_padding")


def test_what_the_adapter_composes_it_judges_and_the_rest_tensorflow_does():
    """The adapter crops a transposed convolution's padding, pads x for an output_padding from
    the stride up to the dilation, and pads average pooling (and 3-D max pooling) itself: it
    refuses those arguments' invalid values with a ValueError naming them (B10, B9); an
    output_padding at or above both stride and dilation goes to TensorFlow, which refuses
    the output shape itself."""
    backend = load_backend("tensorflow")
    reference = load_backend("reference")
    ones = np.ones((1, 1, 1), np.float32)
    with pytest.raises(ValueError, match="^padding: .*crops"):
        backend.conv_transpose(ones, ones, None, stride=(1,), padding=(1,),
                               output_padding=(0,), dilation=(1,), groups=1)
    rng = np.random.default_rng(0)
    x = rng.integers(-2, 3, (1, 2, 4)).astype(np.float32)
    w = rng.integers(-2, 3, (2, 3, 3)).astype(np.float32)
    valid = dict(stride=(1,), padding=(1,), output_padding=(2,), dilation=(3,), groups=1)
    assert np.array_equal(backend.conv_transpose(x, w, None, **valid),
                          reference.conv_transpose(x, w, None, **valid))
    for stride, dilation in ((1, 2), (2, 1)):
        with pytest.raises(tf.errors.OpError):
            backend.conv_transpose(x, w, None, stride=(stride,), padding=(0,),
                                   output_padding=(2,), dilation=(dilation,), groups=1)
    x6 = np.ones((1, 1, 6), np.float32)
    with pytest.raises(ValueError, match="^padding: 2 .*half the window"):
        backend.avg_pool(x6, kernel=(3,), stride=(1,), padding=(2,), ceil_mode=False,
                         count_include_pad=True)
    with pytest.raises(ValueError, match="^padding: 2 .*half the window"):
        backend.max_pool(np.ones((1, 1, 6, 6, 6), np.float32), kernel=(3, 3, 3),
                         stride=(1, 1, 1), padding=(1, 1, 2), dilation=(1, 1, 1),
                         ceil_mode=False)
    assert backend.max_pool(x6, kernel=(3,), stride=(1,), padding=(2,), dilation=(1,),
                            ceil_mode=False).shape == (1, 1, 8)


def test_empty_3d_max_pooling_dies_of_sigfpe_and_the_adapter_refuses_it():
    """oneDNN's float32 MaxPool3D whose output is empty on its innermost axis dies of a
    floating-point exception (tensorflow/tensorflow#94120, #125509; on the outermost it
    returns the empty output); the adapter, which calls it "VALID" on its own padding, refuses
    an empty 3-D max pooling with a ValueError naming the kernel."""
    backend = load_backend("tensorflow")
    with pytest.raises(ValueError, match="^kernel: .*empty output"):
        backend.max_pool(np.ones((1, 1, 4, 4, 4), np.float32), kernel=(1, 1, 5),
                         stride=(1, 1, 1), padding=(0, 0, 0), dilation=(1, 1, 1),
                         ceil_mode=False)
    done = _run("import tensorflow as tf\nprint(tf.nn.max_pool3d(tf.ones((1, 4, 4, 4, 1)), "
                "[1, 1, 5], 1, 'VALID', data_format='NDHWC').shape)")
    if done.returncode >= 0:
        _absent("the oneDNN MaxPool3D SIGFPE on an empty output",
                "the adapter's MAX_POOL3D_EMPTY refusal can go (TensorFlow judges the call)")
