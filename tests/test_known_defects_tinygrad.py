"""tinygrad's defects and conventions the suite found (issue 17), reproduced in tinygrad's
own API with the expected values computed independently (numpy): the half-type average pooling
divisor is declared by the ``tinygrad`` backend and still real on this tinygrad, so a fixed
tinygrad fails its test, saying which declaration to drop; the max-pool tie convention is shown
as the library's rule, which the adapter sweep declares as a deviation. For invalid calls,
tinygrad's refusal types, its pooling conventions (any padding, the trailing axes pooled) and
the invalid calls it accepts by mistake (probed: a fixed tinygrad drops them itself) are
checked against its own API."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from convspec.spec.dtypes import numpy_dtype
from convspec.spec.geometry import PoolGeometry

pytest.importorskip("tinygrad")
from convspec.backends import tinygrad_backend as tgb  # noqa: E402
from convspec.backends.registry import BackendUnavailable, load_backend  # noqa: E402

DROP = "drop tinygrad-half-avg-pool-divisor from convspec/backends/tinygrad_backend.py"


@pytest.fixture(scope="module")
def backend():
    try:
        return load_backend("tinygrad")
    except BackendUnavailable as exc:
        pytest.skip(f"tinygrad is unavailable here: {exc.reason}")


def _run(code: str) -> subprocess.CompletedProcess:
    """``code`` in a fresh Python; it inherits the ``CC`` the adapter chose."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ))


def test_half_avg_pool_divisor_is_declared_and_still_real(backend):
    """ceil_mode with stride 1 changes no window, so both calls of the repro must give the
    correctly rounded mean of three float16(0.1), which is float16(0.1) itself; tinygrad's
    sum / count path gives one ulp less: the float32 sum rounded to float16 (0.2998) times
    float16(1/3) (0.33325), rounded (0.09991), which numpy's float16 arithmetic reproduces."""
    x = np.float16(0.1)
    exact = float(np.float16(np.float64(x) * 3 / 3))
    done = _run(tgb.HALF_AVG_POOL_REPRO.split('"')[1])
    assert done.returncode == 0, done.stderr[-2000:]
    with_ceil, plain = (float(v) for v in done.stdout.split())
    assert plain == pytest.approx(exact, abs=1e-4)
    y = backend.avg_pool(np.full((1, 1, 7), x), kernel=(3,), stride=(1,), padding=(0,),
                         ceil_mode=True, count_include_pad=True)
    if float(y[0, 0, 0]) == exact:
        pytest.fail(f"tinygrad {backend.library_version} now rounds the mean once: {DROP}")
    storage = np.float16(np.float32(np.float16(np.float32(x) * 3)) * np.float32(np.float16(1 / 3)))
    assert float(y[0, 0, 0]) == float(storage) == pytest.approx(with_ceil, abs=1e-4)
    assert exact - float(y[0, 0, 0]) == 2.0 ** -14  # one float16 ulp in [2^-4, 2^-3)
    names = {d.name: d for d in backend.capabilities().defects}
    assert "tinygrad-half-avg-pool-divisor" in names


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_avg_pool_probe_and_region(backend, dtype):
    """The probe finds the defect in both half types; in float32 the same path is off by a
    float32 rounding, which the model allows (float32 accumulates in float32), so the probe's
    case passes there. The region holds ceil_mode and count_include_pad=False calls, and
    spares the plain path, which rounds the float32 mean once."""
    from convspec.verify.conformance import expect_reference
    from convspec.verify.tolerance import Tolerance

    assert tgb.half_avg_pool_rounds(backend, dtype)
    expect_reference(backend, "avg_pool", (np.full((1, 1, 7), 0.1, np.float32),),
                     dict(kernel=(3,), stride=(1,), padding=(0,), ceil_mode=True,
                          count_include_pad=True), Tolerance("float32"))
    defect = next(d for d in backend.capabilities().defects
                  if d.name == "tinygrad-half-avg-pool-divisor")
    assert dtype in defect.dtypes and "float32" not in defect.dtypes
    ceil = PoolGeometry.make(3, stride=2, padding=1, ceil_mode=True, ndim=1)
    exclude = PoolGeometry.make(3, stride=2, padding=1, count_include_pad=False, ndim=1)
    plain = PoolGeometry.make(3, stride=2, padding=1, ndim=1)
    assert defect.hits("avg_pool", dtype, ceil, (8,), {"ceil_mode", "pool_padding"})
    assert defect.hits("avg_pool", dtype, exclude, (8,), {"exclude_pad", "pool_padding"})
    assert not defect.hits("avg_pool", dtype, plain, (8,), {"pool_padding"})
    x = np.full((1, 1, 8), 0.1, numpy_dtype(dtype))
    y = backend.avg_pool(x, kernel=(3,), stride=(1,), padding=(0,), ceil_mode=False,
                         count_include_pad=True)
    assert (y == x[..., :6]).all()  # the plain path rounds the float32 mean once


def test_max_pool_gradient_splits_ties(backend):
    """tinygrad's gradient of a maximum is ``mask / count``: a window with two tied maxima
    gives each half of dy, where F4 (and PyTorch's max_pool) gives it all to the first. (The
    ``backend`` fixture skips where tinygrad has no compiler, and sets the ``CC`` it found.)"""
    from tinygrad import Tensor

    x = Tensor(np.array([[[1.0, 3, 3, 0]]], np.float32), device="CPU")
    y = x.max_pool2d((4,), stride=1)
    (dx,) = y.gradient(x, gradient=Tensor(np.ones((1, 1, 1), np.float32), device="CPU"))
    got = dx.numpy().ravel().tolist()
    if got == [0, 1, 0, 0]:
        pytest.fail("tinygrad now sends a tied maximum's gradient to the first arg-max: drop "
                    "the max_pool_vjp deviations of tests/test_backends_tinygrad.py")
    assert got == [0, 0.5, 0.5, 0]


def test_padding_only_axis_input_gradient_is_declared_and_still_real(backend):
    """The repro's one window has both taps in the padding, so y = 0 whatever x is and dx is
    exactly zero (numpy: no input index o·s - p + j·d falls in [0, 2)); tinygrad's second
    gradient, after the forward was realized, is ones. The region holds that call and the one
    verify found, and spares a convolution whose every axis reads some input."""
    from convspec.spec.geometry import ConvGeometry

    taps = [0 * 1 - 1 + j * 3 for j in range(2)]
    assert not any(0 <= t < 2 for t in taps)  # both taps read padding: dx must be zero
    done = _run(tgb.PADDING_ONLY_AXIS_REPRO.split('"')[1])
    assert done.returncode == 0, done.stderr[-2000:]
    first, second = (np.array(part.split(), float) for part in
                     done.stdout.replace("]", "").split("[")[1:])
    assert (first == 0).all()
    if (second == 0).all():
        what = f"tinygrad {backend.library_version} does not show the padding-only input gradient"
        if backend.library_version.startswith(tgb.PADDING_ONLY_AXIS_RELEASE):
            pytest.fail(f"{what}: drop tinygrad-padding-only-axis-input-gradient")
        pytest.skip(what)
    assert (second == 1).all()
    names = [d.name for d in backend.capabilities().defects]
    assert "tinygrad-padding-only-axis-input-gradient" in names
    repro = ConvGeometry.make(1, 1, (1, 2), dilation=(1, 3), padding=((0, 0), (1, 1)))
    found = ConvGeometry.make(2, 26, (3, 2), stride=(3, 1), padding=((3, 0), (1, 1)),
                              dilation=(2, 3), groups=2)
    reads = ConvGeometry.make(1, 1, (1, 2), dilation=(1, 3), padding=((0, 0), (1, 1)))
    assert tgb.padding_only_axis(repro, (1, 2)) and tgb.padding_only_axis(found, (4, 2))
    assert not tgb.padding_only_axis(reads, (1, 4))  # x[1] is read by the first window
    one_d = ConvGeometry.make(1, 1, 2, stride=2, padding=2, dilation=4, ndim=1)
    assert tgb.padding_only_axis(one_d, (2,))  # taps at -2 and 2: padding only
    with pytest.raises(ValueError, match="bad reshape"):  # the 1-D form refuses a valid call
        backend.conv_vjp(np.ones((1, 1, 2)), np.ones((1, 1, 2)), None, np.ones((1, 1, 1)),
                         stride=(2,), padding=((2, 2),), dilation=(4,), groups=1)


def test_bf16_avg_pool_vjp_rounds_each_term_and_is_declared(backend):
    """Three windows of 3 meet on the middle input with dy (-4, -3, 2): its gradient is -5/3,
    which bfloat16 rounds to -1.6640625 (numpy, float64 then ml_dtypes). tinygrad's emulated
    bfloat16 rounds each dy/3 term first and gets -1.671875, the bfloat16 of the sum of the
    rounded terms; float16, whose kernel keeps the terms in float32, rounds once."""
    bf16 = numpy_dtype("bfloat16")
    exact = np.asarray(-5 / 3, bf16)
    got = tgb.meeting_gradient(backend, "bfloat16", ceil_mode=False)
    if got == exact:
        pytest.fail(f"tinygrad {backend.library_version} now rounds the bfloat16 avg_pool "
                    "gradient once: drop the avg_pool_vjp:dtype:bfloat16 hole")
    terms = [np.float32(np.asarray(np.float32(d) * np.float32(1 / 3), bf16))
             for d in tgb._MEETING_DY]
    assert got == np.asarray(np.float32(sum(terms)), bf16) == np.asarray(-1.671875, bf16)
    f16 = tgb.meeting_gradient(backend, "float16", ceil_mode=False)
    assert f16 == np.float16(-5 / 3)
    assert "rounds each dy/count term" in backend.capabilities().reasons[
        "avg_pool_vjp:dtype:bfloat16"]


# -- invalid calls: the library judges them ----------------------------------------------------
def _ones(*shape):
    from tinygrad import Tensor

    return Tensor(np.ones(shape, np.float32), device="CPU")


def _defect(backend, name):
    return next((d for d in backend.capabilities().defects if d.name == name), None)


@pytest.mark.skipif(sys.flags.optimize > 0, reason="tinygrad's asserts are stripped under -O")
def test_assertion_and_index_errors_are_tinygrads_own_refusals(backend):
    """tinygrad's argument checks are asserts and its broadcast check raises IndexError: the
    refusals REJECTS_WITH names, with the messages its source gives them (built lazily: nothing
    is compiled)."""
    assert set(backend.capabilities().rejects_with) == {AssertionError, IndexError}
    with pytest.raises(AssertionError, match="does not match the shape of the weights"):
        _ones(1, 3, 5).conv2d(_ones(2, 2, 3))  # 3 channels, the weight reads 2
    with pytest.raises(AssertionError, match="does not match the shape of the weights"):
        _ones(2, 4, 5).conv2d(_ones(3, 2, 3, 3))  # unbatched: no (C, *spatial) convention
    with pytest.raises(AssertionError, match="kernel size cannot be greater"):
        _ones(1, 1, 4).max_pool2d((5,), stride=1)  # output size 0
    with pytest.raises(AssertionError, match="kernel size cannot be greater"):
        _ones(1, 1, 8).conv2d(_ones(1, 1, 3), dilation=2 ** 31 - 1)  # no int32 wrap
    x = _ones(1, 1, 6)
    with pytest.raises(IndexError, match="cannot be broadcast to a single shape"):
        x.max_pool2d((2,)).gradient(x, gradient=_ones(1, 1, 4))  # y is (1, 1, 3)
    assert _defect(backend, "tinygrad-size-checks-are-asserts") is None


def test_pooling_takes_any_padding_and_pools_the_trailing_axes(backend):
    """The declared conventions, against numpy: padding 2 around 1..6 with windows of 2 (the
    first and last read padding only: -inf for max, 0 for the mean with the padding counted),
    and the last len(kernel) axes pooled whatever comes before them."""
    x = np.arange(1.0, 7.0, dtype=np.float32).reshape(1, 1, 6)
    kw = dict(kernel=(2,), stride=(2,), padding=(2,), ceil_mode=False)
    padded = np.pad(x, ((0, 0), (0, 0), (2, 2)), constant_values=-np.inf).reshape(1, 1, 5, 2)
    assert np.array_equal(backend.max_pool(x, dilation=(1,), **kw), padded.max(-1))
    zeros = np.pad(x, ((0, 0), (0, 0), (2, 2))).reshape(1, 1, 5, 2)
    np.testing.assert_allclose(backend.avg_pool(x, count_include_pad=True, **kw),
                               zeros.mean(-1))
    flat = np.arange(12.0, dtype=np.float32).reshape(2, 6)  # (C, L): one axis fewer
    plain = dict(kernel=(2,), stride=(2,), padding=(0,), dilation=(1,), ceil_mode=False)
    assert np.array_equal(backend.max_pool(flat, **plain), flat.reshape(2, 3, 2).max(-1))
    deep = np.arange(50.0, dtype=np.float32).reshape(1, 2, 5, 5)  # one axis more
    assert np.array_equal(backend.max_pool(deep, **plain),
                          deep[..., :4].reshape(1, 2, 5, 2, 2).max(-1))
    declared = backend.capabilities().accepts_invalid
    pools = ("max_pool", "avg_pool", "max_pool_vjp", "avg_pool_vjp")
    assert set(declared) == {f"{op}:{kind}" for op in pools
                             for kind in ("pool_padding", "rank", "unbatched")}
    assert declared["max_pool:pool_padding"] == tgb.POOL_ANY_PADDING
    assert declared["avg_pool_vjp:rank"] == tgb.POOL_TRAILING_AXES


def test_output_padding_is_unchecked_declared_and_still_real(backend):
    """output_padding 1 with stride 1 and dilation 1 must be refused (torch: 'output padding
    must be smaller than either stride or dilation'); tinygrad returns the transposed
    convolution of x (1, 2, 3) by w (1, 10), y[o] = sum of x[i] w[j] over i + j = o, which is
    (1, 12, 23, 30), and one more position, 0."""
    done = _run(tgb.OUTPUT_PADDING_REPRO.split('"')[1])
    defect = _defect(backend, "tinygrad-output-padding-unchecked")
    if done.returncode != 0:
        assert defect is None, "the probe declares what the repro shows fixed"
        pytest.skip(f"tinygrad {backend.library_version} now refuses output_padding >= stride")
    x, w = [1.0, 2.0, 3.0], [1.0, 10.0]
    natural = np.convolve(x, w)  # full correlation of a length-2 kernel flipped: conv_transpose
    got = np.array(done.stdout.replace("[", " ").replace("]", " ").split(), float)
    assert np.array_equal(got, [*natural, 0.0])
    assert defect is not None and defect.invalid_kinds == {"output_padding"}
    assert defect.operations == {"conv_transpose", "conv_transpose_vjp"}
    y = backend.conv_transpose(np.ones((1, 1, 3)), np.ones((1, 1, 2)), None, stride=(2,),
                               padding=(0,), output_padding=(2,), dilation=(1,), groups=1)
    assert y.shape == (1, 1, 8) and (y[..., 6:] == 0).all()  # 6 + 2: the extra ones are zeros


def test_pooling_gradient_broadcasts_a_cotangent_declared_and_still_real(backend):
    """A dy of shape (1, 1, 1) for y = max_pool(x) of shape (1, 1, 2) must be refused;
    tinygrad broadcasts it: each window's arg-max (1 and 3 of 0..3) gets 1. The average
    pooling gradient takes it too (ceil_mode changes no window here)."""
    done = _run(tgb.COTANGENT_BROADCAST_REPRO.split('"')[1])
    defect = _defect(backend, "tinygrad-gradient-broadcasts-cotangent")
    if done.returncode != 0:
        assert defect is None, "the probe declares what the repro shows fixed"
        pytest.skip(f"tinygrad {backend.library_version} now refuses a dy of another shape")
    got = np.array(done.stdout.replace("[", " ").replace("]", " ").split(), float)
    x = np.arange(4.0)
    argmax = [2 * k + int(np.argmax(x[2 * k:2 * k + 2])) for k in range(2)]
    assert np.array_equal(got, np.isin(np.arange(4), argmax).astype(float))
    assert defect is not None and defect.invalid_kinds == {"cotangent"}
    assert defect.operations == {"max_pool_vjp", "avg_pool_vjp"}
    dx = backend.avg_pool_vjp(np.ones((1, 1, 4), np.float32), np.ones((1, 1, 1), np.float32),
                              kernel=(2,), stride=(2,), padding=(0,), ceil_mode=True,
                              count_include_pad=True)
    assert dx.shape == (1, 1, 4)


def test_size_checks_vanish_under_python_o(backend):
    """With PYTHONOPTIMIZE tinygrad's kernel-size assert is gone and a kernel of 5 on 4
    inputs gives an empty output; without it the call is refused. This process runs with
    asserts, so the defect is not declared here."""
    from convspec.verify import bugreport

    (repro,) = bugreport.parse_repros(tgb.ASSERTS_STRIPPED_REPRO)
    assert repro.env == {"PYTHONOPTIMIZE": "1"}
    stripped = subprocess.run([sys.executable, "-c", repro.code], capture_output=True,
                              text=True, timeout=300, env={**os.environ, **repro.env})
    assert stripped.returncode == 0 and stripped.stdout.split() == ["(1,", "1,", "0)"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONOPTIMIZE"}
    checked = subprocess.run([sys.executable, "-c", repro.code], capture_output=True,
                             text=True, timeout=300, env=env)
    assert checked.returncode != 0 and "kernel size cannot be greater" in checked.stderr
    declared = _defect(backend, "tinygrad-size-checks-are-asserts")
    assert (declared is not None) == (sys.flags.optimize > 0)
