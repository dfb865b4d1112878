"""Section G: pooling, checked on the backend under test."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from convspec import ConvGeometry, PoolGeometry
from convspec.spec.dtypes import numpy_dtype
from convspec.spec.geometry import volume
from convspec.verify.conformance import call, expect_close, expect_reference, reference_outputs
from convspec.verify.helpers import assert_array_equal, assert_equal, call_of, require
from convspec.verify.strategies import Strategies, dtypes, tensors
import convspec.reference as reference
from convspec.verify.tolerance import Tolerance

pytestmark = pytest.mark.section("G")


@pytest.mark.spec("G1", "G2", "B9")
@pytest.mark.ops("max_pool")
@given(data=st.data())
def test_max_pool_matches_reference(backend, caps, tolerance, data):
    """``Y = max_{i∈R} x_i`` (G1) over overlapping or tiling windows (G2), with padding,
    dilation and ceil_mode; the output size is ``(W1 - F)/S + 1`` generalized (B9)."""
    require(caps, "max_pool")
    draw = Strategies(caps)
    ex = data.draw(draw.pool_examples(operation="max_pool"), label="example")
    expect_reference(backend, "max_pool", (ex.x,), ex.geometry.max_pool_kwargs(),
                     tolerance(ex.dtype))


@pytest.mark.spec("G1", "G2", "B9")
@pytest.mark.ops("avg_pool")
@given(data=st.data())
def test_avg_pool_matches_reference(backend, caps, tolerance, data):
    """``Y = mean_{i∈R} x_i`` (G1), counting padded positions or not (count_include_pad)."""
    require(caps, "avg_pool")
    draw = Strategies(caps)
    ex = data.draw(draw.pool_examples(operation="avg_pool", elements="real"), label="example")
    expect_reference(backend, "avg_pool", (ex.x,), ex.geometry.avg_pool_kwargs(),
                     tolerance(ex.dtype))


@pytest.mark.spec("G2", "B9")
@pytest.mark.ops("avg_pool_vjp")
@given(data=st.data())
def test_tiling_and_overlapping_windows(backend, caps, tolerance, data):
    """F=2, S=2 tiles the input: every input lies in exactly one window and a quarter of the
    activations remain (B9); F=3, S=2 overlaps (G2): some inputs lie in two windows. The
    gradient of the window sums counts the windows containing each input."""
    require(caps, "avg_pool_vjp", rank=2, because="the windows are counted in 2-D")
    dtype = data.draw(dtypes(caps), label="dtype")
    half = data.draw(st.integers(2, 4), label="half size")
    x = np.zeros((1, 1, 2 * half + 1, 2 * half + 1), dtype=numpy_dtype(dtype))
    for kernel, overlapping in ((2, False), (3, True)):
        g = PoolGeometry.make((kernel, kernel), stride=2)
        assert_equal("overlapping", g.overlapping, overlapping, call=g)
        out = g.output_shape(x.shape)
        if kernel == 2:  # F=2, S=2 keeps 25%
            assert_equal(f"4 × outputs on {x.shape}", volume(out[2:]) * 4, (2 * half) ** 2,
                         call=g)
        ones = np.ones(out, dtype=x.dtype)
        dx = call(backend, "avg_pool_vjp", x, ones, **g.avg_pool_kwargs())
        counts = np.round(dx.astype(np.float64) * g.kernel_volume)
        assert_equal("most windows holding one input", counts.max(), 4 if overlapping else 1,
                     call=call_of("avg_pool_vjp", x, ones, **g.avg_pool_kwargs()))


@pytest.mark.spec("G3")
@pytest.mark.ops("avg_pool")
@given(data=st.data())
def test_l2_pooling_from_average_pooling(backend, caps, tolerance, data):
    """L2-norm pooling ``sqrt(Σ_R x_i²)`` (G3) is ``sqrt(|R| · avgpool(x²))``: the backend's
    average pooling of the squares agrees with the exact one of the squares it was given, and
    the reference's L2 pooling with ``sqrt(|R| · avgpool(x²))``, both judged in float64."""
    require(caps, "avg_pool")
    draw = Strategies(caps)
    # Unpadded floor-mode windows: every input holds the window.
    ex = data.draw(draw.pool_examples(operation="avg_pool", elements="real", max_padding=0,
                                      ceil_mode=False, allowed_dtypes=("float64", "float32")),
                   label="example")
    g = PoolGeometry.make(ex.geometry.kernel, stride=ex.geometry.stride)
    # The backend pools the squares as its dtype holds them (small values square to 0 or to
    # subnormals there); the law is judged in float64 on those values, not on x's.
    squares = ex.x * ex.x
    expect_reference(backend, "avg_pool", (squares,), g.avg_pool_kwargs(), tolerance(ex.dtype))
    x64 = ex.x.astype(np.float64)
    expected = reference.l2_pool(x64, kernel=g.kernel, stride=g.stride)
    size = g.kernel_volume
    (mean_of_squares,), _ = reference_outputs("avg_pool", (x64 * x64,), g.avg_pool_kwargs())
    expect_close(np.sqrt(size * mean_of_squares), expected, expected, size,
                 Tolerance("float64"), what="L2 pooling differs from sqrt(|R| avgpool(x^2)) (G3)")


@pytest.mark.spec("G4", "B9")
@pytest.mark.ops("max_pool")
@given(data=st.data())
def test_pooling_acts_on_each_depth_slice(backend, caps, tolerance, data):
    """Pooling each channel alone gives the same slices (G4); depth is unchanged (B9)."""
    require(caps, "max_pool")
    draw = Strategies(caps)
    # One call per channel below: remainders (up to 40 channels), not counts past 2^16.
    ex = data.draw(draw.pool_examples(operation="max_pool", max_channels=40), label="example")
    kwargs = ex.geometry.max_pool_kwargs()
    whole = call(backend, "max_pool", ex.x, **kwargs)
    assert_equal("y.shape[1]", whole.shape[1], ex.x.shape[1],
                 call=call_of("max_pool", ex.x, **kwargs))
    for c in range(ex.x.shape[1]):
        single = np.ascontiguousarray(ex.x[:, c:c + 1])
        alone = call(backend, "max_pool", single, **kwargs)
        assert_array_equal(f"channel {c} pooled alone", alone, whole[:, c:c + 1],
                           call=call_of("max_pool", single, **kwargs))


@pytest.mark.spec("G5", "C13")
@pytest.mark.ops("avg_pool")
@given(data=st.data())
def test_trainable_pooling(backend, caps, tolerance, data):
    """LeNet-5's trainable pooling ``Y' = f(w·Y + b)`` (G5) with one scalar weight and bias per
    map (C13): the reference agrees with the backend's average pooling scaled and shifted."""
    require(caps, "avg_pool", dtype="float64")
    draw = Strategies(caps)
    ex = data.draw(draw.pool_examples(operation="avg_pool", max_padding=0, ceil_mode=False,
                                      allowed_dtypes=("float64",)), label="example")
    g = PoolGeometry.make(ex.geometry.kernel, stride=ex.geometry.stride)
    channels = ex.x.shape[1]
    w = data.draw(tensors("float64", (channels,)), label="w")
    b = data.draw(tensors("float64", (channels,)), label="b")
    shape = (1, channels) + (1,) * g.ndim
    pooled = call(backend, "avg_pool", ex.x, **g.avg_pool_kwargs()).astype(np.float64)
    def sigmoid(z: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-z))

    got = sigmoid(w.reshape(shape) * pooled + b.reshape(shape))
    expected = reference.trainable_pool(ex.x, w, b, kernel=g.kernel, stride=g.stride,
                                        mode="avg", activation=sigmoid)
    expect_close(got, expected, np.ones_like(expected), g.kernel_volume,
                 tolerance("float64"), slack=4.0, what="trainable pooling differs from G5")


@pytest.mark.spec("G6")
@pytest.mark.ops("conv", "avg_pool")
@given(data=st.data())
def test_strided_convolution_replaces_pooling(backend, caps, tolerance, data):
    """A strided depthwise convolution with constant weights ``1/|R|`` down-samples exactly
    like average pooling with the same window and stride (G6)."""
    require(caps, "conv", "avg_pool")
    draw = Strategies(caps)
    # A depthwise conv (one group per channel) of the padded input, floor mode.
    ex = data.draw(draw.pool_examples(
        operation="avg_pool", elements="real", count_include_pad=True, ceil_mode=False,
        max_channels=caps.max_groups if "groups" in caps.features else 1), label="example")
    pg = ex.geometry
    channels = ex.x.shape[1]
    cg = ConvGeometry.make(channels, channels, pg.kernel, stride=pg.stride, padding=pg.padding,
                           groups=channels, bias=False)
    w = np.full(cg.weight_shape, 1 / pg.kernel_volume, dtype=ex.x.dtype)
    got = call(backend, "conv", ex.x, w, None, **cg.conv_kwargs())
    exact, magnitude = reference_outputs("avg_pool", (ex.x,), pg.avg_pool_kwargs())
    expect_close(got, exact[0], magnitude[0], pg.kernel_volume, tolerance(ex.dtype),
                 slack=2.0, what="strided depthwise conv differs from average pooling")
