"""Section F: gradients, checked on the backend's vector-Jacobian products."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from convspec import ConvGeometry
from convspec.verify.conformance import (call, expect_close, expect_reference, reference_outputs,
                             transform_scales)
from convspec.verify.helpers import require, rot180
from convspec.verify.strategies import Strategies, dtypes, tensors

pytestmark = pytest.mark.section("F")


def inner(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sum(a.astype(np.float64) * b.astype(np.float64)))


@pytest.mark.spec("F1", "F2", "F3", "F4", "F7", "E6")
@pytest.mark.ops("conv_vjp")
@given(data=st.data())
def test_conv_vjp_matches_the_gradient_formulas(backend, caps, tolerance, data):
    """``dW = dY ⊗ X`` (F1, per channel pair F4), ``dX = rot180(W) ~⊗ dY`` (F2, F7), ``db = Σ dY``
    (F3) for every geometry: the backend's vjp against the reference written from the formulas.
    The weight gradient sums the per-position gradients of a shared weight (E6)."""
    require(caps, "conv_vjp")
    draw = Strategies(caps)
    ex = data.draw(draw.conv_examples(real_layers=True), label="example")
    expect_reference(backend, "conv_vjp", (ex.x, ex.w, ex.b, ex.dy), ex.kwargs,
                     tolerance(ex.dtype))


@pytest.mark.spec("F8", "F9", "B10", "D8")
@pytest.mark.ops("conv_transpose")
@given(data=st.data())
def test_conv_transpose_matches_reference(backend, caps, tolerance, data):
    """Transposed convolution with stride, padding, output_padding, dilation and groups (B10)
    agrees with the reference, which computes it as ``C^T z`` (D8, F8)."""
    require(caps, "conv_transpose")
    draw = Strategies(caps)
    ex = data.draw(draw.conv_examples(transposed=True, real_layers=True), label="example")
    expect_reference(backend, "conv_transpose", (ex.x, ex.w, ex.b), ex.kwargs,
                     tolerance(ex.dtype))


@pytest.mark.spec("F8", "F9")
@pytest.mark.ops("conv_transpose_vjp")
@given(data=st.data())
def test_conv_transpose_vjp_matches_reference(backend, caps, tolerance, data):
    """Gradients of a transposed convolution: its input gradient is a convolution (F9)."""
    require(caps, "conv_transpose_vjp")
    draw = Strategies(caps)
    ex = data.draw(draw.conv_examples(transposed=True, real_layers=True), label="example")
    expect_reference(backend, "conv_transpose_vjp", (ex.x, ex.w, ex.b, ex.dy), ex.kwargs,
                     tolerance(ex.dtype))


@pytest.mark.spec("F8", "D8")
@pytest.mark.ops("conv", "conv_transpose")
@given(data=st.data())
def test_transposed_convolution_is_the_adjoint(backend, caps, tolerance, data):
    """``<C x, z> = <x, C^T z>`` (F8): the backend's conv_transpose with the same stride,
    padding, dilation and groups, and the output_padding that restores x's size, is the adjoint
    of its conv."""
    require(caps, "conv", "conv_transpose")
    # conv_transpose has no asymmetric padding; without output_padding, inputs the windows
    # tile exactly (the adjoint then needs none); the adjoint takes the conv's dilation, so
    # none is drawn where conv_transpose lacks it (a conv_transpose gap in groups is already
    # out of ``caps``: Capabilities.for_operations).
    lacking = {"asymmetric_padding"}
    if caps.skip_reason("conv_transpose", features=("transposed_dilation",)) is not None:
        lacking.add("conv_dilation")
    draw = Strategies(caps.without(features=lacking))
    ex = data.draw(draw.conv_examples(allowed_dtypes=("float64", "float32"),
                                      exact="output_padding" not in caps.features),
                   label="example")
    g = ex.geometry
    adjoint = g.adjoint_for(ex.case.input_shape[2:])
    cx = call(backend, "conv", ex.x, ex.w, None, **g.conv_kwargs())
    ctz = call(backend, "conv_transpose", ex.dy, ex.w, None, **adjoint.conv_transpose_kwargs())
    lhs, rhs = inner(cx, ex.dy), inner(ex.x, ctz)
    scale = inner(np.abs(cx), np.abs(ex.dy)) + inner(np.abs(ex.x), np.abs(ctz))
    # Each element of Cx and C^T z may carry its transform rounding (FFT, Winograd); the
    # inner products weigh it by |z| and |x|.
    cx_scale = transform_scales("conv", (ex.x, ex.w, None), g.conv_kwargs())[0]
    ctz_scale = transform_scales("conv_transpose", (ex.dy, ex.w, None),
                                 adjoint.conv_transpose_kwargs())[0]
    mixing = inner(cx_scale, np.abs(ex.dy)) + inner(ctz_scale, np.abs(ex.x))
    expect_close(np.array(lhs), np.array(rhs), np.array(scale), ex.x.size + ex.dy.size,
                 tolerance(ex.dtype), what="<Cx, z> differs from <x, C^T z>", slack=2.0,
                 transform=np.array(mixing))


@pytest.mark.spec("F2", "F7", "E2")
@pytest.mark.ops("conv", "conv_vjp")
@given(data=st.data())
def test_input_gradient_is_a_wide_correlation(backend, caps, tolerance, data):
    """Single channel, stride 1 (F2): ``∂f/∂X = rot180(W) ~⊗ ∂f/∂Y = rot180(∂f/∂Y) ~⊗ W``,
    both computed as the backend's own full-padded correlations (F7: backward is a convolution
    with flipped filters)."""
    require(caps, "conv", "conv_vjp")
    dtype = data.draw(dtypes(caps), label="dtype")
    m, n = data.draw(st.integers(1, 4), label="kernel"), data.draw(st.integers(0, 5), label="extra")
    x = data.draw(tensors(dtype, (1, 1, m + n, m + n)), label="x")
    w = data.draw(tensors(dtype, (1, 1, m, m)), label="w")
    g = ConvGeometry.make(1, 1, (m, m), bias=False)
    dy = data.draw(tensors(dtype, g.output_shape(x.shape)), label="dy")
    dx, _, _ = call(backend, "conv_vjp", x, w, None, dy, **g.conv_kwargs())

    def wide(inp: np.ndarray, ker: np.ndarray) -> np.ndarray:
        k = ker.shape[2:]
        wide_g = ConvGeometry.make(1, 1, k, padding=tuple(s - 1 for s in k), bias=False)
        return call(backend, "conv", inp, ker, None, **wide_g.conv_kwargs())

    magnitude = reference_outputs("conv_vjp", (x, w, None, dy), g.conv_kwargs())[1][0]
    tol = tolerance(dtype)
    expect_close(wide(dy, rot180(w, 2)), dx.astype(np.float64), magnitude, m * m, tol, slack=2.0,
                 what="rot180(W) ~⊗ dY differs from the backend's input gradient")
    expect_close(wide(w, rot180(dy, 2)), dx.astype(np.float64), magnitude, m * m, tol, slack=2.0,
                 what="rot180(dY) ~⊗ W differs from the backend's input gradient")


@pytest.mark.spec("F1")
@pytest.mark.ops("conv", "conv_vjp")
@given(data=st.data())
def test_weight_gradient_is_a_correlation(backend, caps, tolerance, data):
    """``∂f/∂W = ∂f/∂Y ⊗ X`` (F1): the backend's weight gradient equals its own correlation of
    the input with the output gradient as the kernel (single channel, stride 1)."""
    require(caps, "conv", "conv_vjp")
    dtype = data.draw(dtypes(caps), label="dtype")
    m, n = data.draw(st.integers(1, 4), label="kernel"), data.draw(st.integers(0, 5), label="extra")
    x = data.draw(tensors(dtype, (1, 1, m + n, m + n)), label="x")
    w = data.draw(tensors(dtype, (1, 1, m, m)), label="w")
    g = ConvGeometry.make(1, 1, (m, m), bias=False)
    dy = data.draw(tensors(dtype, g.output_shape(x.shape)), label="dy")
    _, dw, _ = call(backend, "conv_vjp", x, w, None, dy, **g.conv_kwargs())
    as_kernel = ConvGeometry.make(1, 1, dy.shape[2:], bias=False)
    corr = call(backend, "conv", x, dy, None, **as_kernel.conv_kwargs())
    magnitude = reference_outputs("conv_vjp", (x, w, None, dy), g.conv_kwargs())[1][1]
    expect_close(corr, dw.astype(np.float64), magnitude, dy.size, tolerance(dtype), slack=2.0,
                 what="dY ⊗ X differs from the backend's weight gradient")


@pytest.mark.spec("F5", "E20")
@pytest.mark.ops("conv", "conv_vjp")
@given(data=st.data())
def test_error_propagates_through_a_conv_layer(backend, caps, tolerance, data):
    """Two layers ``x → conv W1 → ReLU → conv W2``: the error at the first layer's output is
    ``δ1 = f'(Z1) ⊙ Σ_p rot180(W2^{p,d}) ~⊗ δ2^p`` (F5), which is ReLU' times the backend's
    input gradient of the second layer."""
    require(caps, "conv", "conv_vjp")
    draw = Strategies(caps)
    # The formula below calls the backend once per pair of channels.
    ex = data.draw(draw.conv_examples(max_stride=1, max_dilation=1, max_groups=1,
                                      max_channels_per_group=3,
                                      ranks=[r for r in (1, 2) if r in caps.ranks] or None,
                                      allowed_dtypes=("float64", "float32")),
                   label="first layer")
    g1 = ex.geometry
    z1 = call(backend, "conv", ex.x, ex.w, ex.b, **g1.conv_kwargs())
    relu_grad = (z1 > 0).astype(z1.dtype)
    # A "same" kernel of 2 pads 0 and needs inputs of at least 2.
    fitting = [k for k in (1, 2, 3) if all(n + 2 * ((k - 1) // 2) >= k for n in z1.shape[2:])]
    k2 = data.draw(st.sampled_from(fitting), label="second kernel")
    c2 = data.draw(st.integers(1, 3), label="second channels")
    g2 = ConvGeometry.make(g1.out_channels, c2, k2, ndim=g1.ndim,
                           padding=(k2 - 1) // 2, bias=False)
    w2 = data.draw(tensors(ex.dtype, g2.weight_shape), label="w2")
    y1 = np.maximum(z1, 0)
    delta2 = data.draw(tensors(ex.dtype, g2.output_shape(y1.shape)), label="delta2")
    back, _, _ = call(backend, "conv_vjp", y1, w2, None, delta2, **g2.conv_kwargs())
    delta1 = relu_grad * back
    # The formula, channel by channel, with the backend's own full-padded correlation.
    formula = np.zeros(y1.shape)
    for d in range(g1.out_channels):
        for p in range(c2):
            wide = ConvGeometry.make(1, 1, g2.kernel,
                                     padding=tuple((k - 1 - q[0], k - 1 - q[1])
                                                   for k, q in zip(g2.kernel, g2.padding)),
                                     bias=False)
            formula[:, d:d + 1] += call(backend, "conv", delta2[:, p:p + 1],
                                        rot180(w2[p:p + 1, d:d + 1], g2.ndim), None,
                                        **wide.conv_kwargs()).astype(np.float64)
    formula *= relu_grad
    magnitude = reference_outputs("conv_vjp", (y1, w2, None, delta2), g2.conv_kwargs())[1][0]
    expect_close(delta1, formula, magnitude, w2.size, tolerance(ex.dtype), slack=2.0,
                 what="the backend's back-propagated error differs from F5")


@pytest.mark.spec("F6", "G1")
@pytest.mark.ops("max_pool_vjp")
@given(data=st.data())
def test_max_pool_gradient_routes_to_the_switches(backend, caps, tolerance, data):
    """Max pooling passes each output's gradient to its window's arg-max, the "switch" (F6);
    inputs have no ties, so the arg-max is unique."""
    require(caps, "max_pool_vjp")
    draw = Strategies(caps)
    ex = data.draw(draw.pool_examples(operation="max_pool", elements="distinct"),
                   label="example")
    expect_reference(backend, "max_pool_vjp", (ex.x, ex.dy), ex.geometry.max_pool_kwargs(),
                     tolerance(ex.dtype))


@pytest.mark.spec("F6", "G1")
@pytest.mark.ops("avg_pool_vjp")
@given(data=st.data())
def test_avg_pool_gradient_spreads_evenly(backend, caps, tolerance, data):
    """Average pooling spreads each output's gradient evenly over the window (F6), counting
    padding or not as ``count_include_pad`` says."""
    require(caps, "avg_pool_vjp")
    draw = Strategies(caps)
    ex = data.draw(draw.pool_examples(operation="avg_pool"), label="example")
    expect_reference(backend, "avg_pool_vjp", (ex.x, ex.dy), ex.geometry.avg_pool_kwargs(),
                     tolerance(ex.dtype))
