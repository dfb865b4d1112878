"""Section E: properties of convolution layers, checked on the backend under test."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import convspec.reference as reference
from convspec import ConvGeometry, PoolGeometry, same_padding
from convspec.verify.conformance import (call, expect_close, expect_zero, nonzero_beyond_rounding,
                             reference_outputs, transform_scales, zero_allowance)
from convspec.spec.errata import erratum
from convspec.verify.helpers import (assert_array_equal, assert_equal, assert_shape,
                                     assert_true, call_of, first_dtype, require, rot180)
from convspec.spec.receptive import dilated_stack, hdc_violations, reached_offsets
from convspec.verify.strategies import Strategies, dtypes, tensors

pytestmark = pytest.mark.section("E")

FORWARD = ("float64", "float32")


def conv(backend, x, w, b=None, **geometry):
    """The backend's conv of ``x`` by ``w`` with a geometry built from the arrays."""
    g = ConvGeometry.make(x.shape[1], w.shape[0], w.shape[2:], bias=b is not None, **geometry)
    return call(backend, "conv", x, w, b, **g.conv_kwargs())


def _plain(w, **geometry):
    """The conv kwargs :func:`conv` uses for a one-channel kernel ``w`` and no bias."""
    return ConvGeometry.make(w.shape[1], w.shape[0], w.shape[2:], bias=False,
                             **geometry).conv_kwargs()


def exact(x, w, b=None, **geometry):
    """Reference result and magnitude (float64) of the same conv."""
    g = ConvGeometry.make(x.shape[1], w.shape[0], w.shape[2:], bias=b is not None, **geometry)
    (y,), (s,) = reference_outputs("conv", (x, w, b), g.conv_kwargs())
    return y, s, w[0].size


@pytest.mark.spec("E1", "B3")
@pytest.mark.ops("conv")
@given(data=st.data())
def test_wide_convolution_is_correlation_of_the_full_padded_input(backend, caps, tolerance, data):
    """``W ~⊗ X ≜ W ⊗ X̃`` (E1): padding m-1 inside the backend equals correlating the
    explicitly full-padded input of size ``n + 2(m-1)`` (B3); both equal the reference's wide
    correlation."""
    require(caps, "conv")
    dtype = data.draw(dtypes(caps), label="dtype")
    rank = data.draw(st.sampled_from(sorted(caps.ranks)), label="rank")
    k = tuple(data.draw(st.integers(1, 4)) for _ in range(rank))
    n = tuple(data.draw(st.integers(1, 6)) for _ in range(rank))
    x = data.draw(tensors(dtype, (1, 1, *n)), label="x")
    w = data.draw(tensors(dtype, (1, 1, *k)), label="w")
    inside = conv(backend, x, w, padding=tuple(m - 1 for m in k))
    padded = np.pad(x, ((0, 0), (0, 0), *((m - 1, m - 1) for m in k)))
    assert_equal("X̃.shape[2:]", padded.shape[2:], tuple(a + 2 * (m - 1) for a, m in zip(n, k)),
                 call=f"x {x.shape} padded by kernel {k} - 1")
    outside = conv(backend, padded, w)
    wide = reference.wide_correlate(w[0, 0].astype(np.float64), x[0, 0].astype(np.float64))
    _, magnitude, red = exact(x, w, padding=tuple(m - 1 for m in k))
    for got, what in ((inside, "padding inside the backend"), (outside, "explicit X̃")):
        expect_close(got[0, 0], wide, magnitude[0, 0], red, tolerance(dtype),
                     what=f"wide correlation with {what} differs from E1")


@pytest.mark.spec("E2")
@pytest.mark.ops("conv")
@given(data=st.data())
def test_wide_convolution_commutes_only_with_rotation(backend, caps, tolerance, data):
    """``rot180(W) ~⊗ X = rot180(X) ~⊗ W`` (E2). The notes' ``W ~⊗ X = X ~⊗ W`` holds only up to
    rot180: the backend's two sides are rotations of each other (erratum E2)."""
    require(caps, "conv", rank=2, because="E2 is stated for 2-D")
    dtype = data.draw(dtypes(caps), label="dtype")
    w = data.draw(tensors(dtype, (1, 1, *data.draw(st.tuples(st.integers(1, 3), st.integers(1, 3))))),
                  label="W")
    x = data.draw(tensors(dtype, (1, 1, *data.draw(st.tuples(st.integers(1, 4), st.integers(1, 4))))),
                  label="X")

    def wide(kernel, image):
        return conv(backend, image, kernel, padding=tuple(m - 1 for m in kernel.shape[2:]))

    tol = tolerance(dtype)
    _, magnitude, _ = exact(np.abs(x), np.abs(w), padding=tuple(m - 1 for m in w.shape[2:]))
    red = max(w.size, x.size)
    lhs, rhs = wide(rot180(w, 2), x), wide(rot180(x, 2), w)
    expect_close(lhs, rhs.astype(np.float64), magnitude, red, tol, slack=2.0,
                 what="rot180(W) ~⊗ X differs from rot180(X) ~⊗ W")
    literal_lhs, literal_rhs = wide(w, x), wide(x, w)
    expect_close(literal_lhs, rot180(literal_rhs, 2).astype(np.float64), magnitude, red, tol,
                 slack=2.0, what="W ~⊗ X is not rot180(X ~⊗ W)")
    counter = erratum("E2").check()
    assert_equal("erratum('E2').check() (literal, corrected holds)",
                 (counter.literal_holds, counter.corrected_holds), (False, True))


@pytest.mark.spec("E3")
@pytest.mark.ops("conv")
@given(data=st.data())
def test_translation_equivariance(backend, caps, tolerance, data):
    """Shifting the input by ``s·t`` shifts the output by ``t`` (E3): ``t·s`` zeros put before
    the input along one axis (zeros, like the padding, so every window sees the same values)
    make output ``i + t`` equal output ``i`` at every position, borders included."""
    require(caps, "conv")
    draw = Strategies(caps)
    # Strides bounded: the shift is t·s zeros (the huge-stride shares belong to B1).
    ex = data.draw(draw.conv_examples(max_extra=8, max_stride=3, allowed_dtypes=FORWARD),
                   label="example")
    g = ex.geometry
    axis = data.draw(st.integers(0, g.ndim - 1), label="axis")
    t = data.draw(st.integers(1, 2), label="shift")
    shift = t * g.stride[axis]
    before = list(ex.x.shape)
    before[2 + axis] = shift
    shifted = np.concatenate([np.zeros(before, ex.x.dtype), ex.x], axis=2 + axis)
    y = call(backend, "conv", ex.x, ex.w, None, **g.conv_kwargs())
    ys = call(backend, "conv", shifted, ex.w, None, **g.conv_kwargs())
    assert_shape(f"conv of the input shifted by {shift}", ys.shape,
                 g.output_shape(shifted.shape), call="conv")
    take_s = [slice(None)] * y.ndim
    take_s[2 + axis] = slice(t, None)
    _, magnitude, red = exact(np.abs(ex.x), np.abs(ex.w), **_geometry(g))
    mixing = (transform_scales("conv", (ex.x, ex.w, None), g.conv_kwargs())[0]
              + transform_scales("conv", (shifted, ex.w, None), g.conv_kwargs())[0][
                  tuple(take_s)])
    expect_close(ys[tuple(take_s)], y.astype(np.float64), magnitude, red, tolerance(ex.dtype),
                 slack=2.0, transform=mixing,
                 what=f"shifting the input by {shift} did not shift the output by {t}")


def _geometry(g: ConvGeometry) -> dict:
    return {"stride": g.stride, "padding": g.padding, "dilation": g.dilation, "groups": g.groups}


@pytest.mark.spec("E4", "D1")
@pytest.mark.ops("conv")
@given(data=st.data(), a=st.integers(-3, 3), c=st.integers(-3, 3))
def test_linearity_in_input_and_kernel(backend, caps, tolerance, data, a, c):
    """``conv(a x1 + c x2, w) = a conv(x1, w) + c conv(x2, w)`` and the same in the kernel (E4:
    convolution is a matrix product, D1)."""
    require(caps, "conv")
    draw = Strategies(caps)
    ex = data.draw(draw.conv_examples(), label="example")
    g = ex.geometry
    x2 = data.draw(tensors(ex.dtype, ex.x.shape), label="x2")
    w2 = data.draw(tensors(ex.dtype, ex.w.shape), label="w2")
    kw = g.conv_kwargs()
    xs = (a * ex.x.astype(np.float64) + c * x2.astype(np.float64)).astype(ex.x.dtype)
    ws = (a * ex.w.astype(np.float64) + c * w2.astype(np.float64)).astype(ex.w.dtype)
    f64 = np.float64
    combos = (
        (call(backend, "conv", xs, ex.w, None, **kw),
         a * call(backend, "conv", ex.x, ex.w, None, **kw).astype(f64)
         + c * call(backend, "conv", x2, ex.w, None, **kw).astype(f64), "input"),
        (call(backend, "conv", ex.x, ws, None, **kw),
         a * call(backend, "conv", ex.x, ex.w, None, **kw).astype(f64)
         + c * call(backend, "conv", ex.x, w2, None, **kw).astype(f64), "kernel"),
    )
    _, magnitude, red = exact(np.abs(ex.x) + np.abs(x2), np.abs(ex.w) + np.abs(w2), **_geometry(g))
    for got, want, what in combos:
        expect_close(got, want, 3 * magnitude, red, tolerance(ex.dtype), slack=2.0,
                     what=f"conv is not linear in its {what}")


@pytest.mark.spec("E5", "C12")
@pytest.mark.ops("conv")
@given(data=st.data())
def test_local_connectivity(backend, caps, tolerance, data):
    """Changing one input element changes only the outputs whose receptive field contains it
    (E5); the field is the dilated, strided window of the geometry (C12)."""
    require(caps, "conv")
    draw = Strategies(caps)
    ex = data.draw(draw.conv_examples(allowed_dtypes=FORWARD, elements="integer", min_batch=1),
                   label="example")
    g = ex.geometry
    position = tuple(data.draw(st.integers(0, n - 1)) for n in ex.x.shape[2:])
    channel = data.draw(st.integers(0, g.in_channels - 1), label="channel")
    bumped = ex.x.copy()
    bumped[(0, channel, *position)] += 1
    kw = g.conv_kwargs()
    y = call(backend, "conv", ex.x, ex.w, None, **kw).astype(np.float64)
    yb = call(backend, "conv", bumped, ex.w, None, **kw).astype(np.float64)
    inside = np.zeros(ex.case.output_shape[2:], dtype=bool)
    inside[np.ix_(*g.output_positions(position, ex.x.shape[2:]))] = True
    outside = ~inside
    # Exactly 0 outside; both calls may leave their transform rounding there (an FFT does).
    scale = (transform_scales("conv", (ex.x, ex.w, None), kw)[0]
             + transform_scales("conv", (bumped, ex.w, None), kw)[0])
    expect_zero((yb - y)[0][:, outside], None, scale[0][:, outside], ex.w[0].size + 1,
                tolerance(ex.dtype),
                what=f"bumping input {position} changed outputs outside its receptive field")


@pytest.mark.spec("E6", "F1")
@pytest.mark.ops("conv_vjp")
@given(data=st.data())
def test_shared_weight_gradient_sums_positions(backend, caps, tolerance, data):
    """A shared weight's gradient is the sum of its per-position gradients (E6): the weight
    gradient for ``dY`` equals the sum of those for ``dY`` restricted to each output position."""
    require(caps, "conv_vjp")
    draw = Strategies(caps)
    # One vjp per output position: at most 64 of them (not a bound of the case).
    ex = data.draw(draw.conv_examples(max_extra=2, allowed_dtypes=FORWARD, min_batch=1,
                                      max_batch=3, max_groups=3, max_channels_per_group=3),
                   label="example")
    positions = list(np.ndindex(*ex.dy.shape))
    # At most 64 vjps: past 64 positions, each call takes every 64th one (still a partition
    # of dY, so the gradients still sum to dW).
    parts = [positions[i::64] for i in range(min(64, len(positions)))]
    kw = ex.kwargs
    _, dw, _ = call(backend, "conv_vjp", ex.x, ex.w, None, ex.dy, **kw)
    total = np.zeros(ex.w.shape)
    scale = transform_scales("conv_vjp", (ex.x, ex.w, None, ex.dy), kw)[1].copy()
    for part in parts:
        single = np.zeros_like(ex.dy)
        index = tuple(np.array(part).T)
        single[index] = ex.dy[index]
        total += call(backend, "conv_vjp", ex.x, ex.w, None, single, **kw)[1].astype(np.float64)
        scale += transform_scales("conv_vjp", (ex.x, ex.w, None, single), kw)[1]
    magnitude = reference_outputs("conv_vjp", (ex.x, ex.w, None, ex.dy), kw)[1][1]
    expect_close(dw, total, magnitude, len(parts), tolerance(ex.dtype), slack=2.0,
                 transform=scale,
                 what="weight gradient differs from the sum of per-position gradients")


@pytest.mark.spec("E7", "G1")
@pytest.mark.ops("conv", "avg_pool", "max_pool")
@given(data=st.data())
def test_global_pooling_after_circular_convolution_is_shift_invariant(backend, caps, tolerance,
                                                                       data):
    """``f(t(x)) = f(x)`` (E7): a circular convolution (wrap-padded input) is shift
    equivariant, so global average and global max pooling of it do not change under a
    circular shift of the input."""
    require(caps, "conv", "avg_pool", "max_pool")
    draw = Strategies(caps)
    # Unpadded, so every input holds the kernel (the wrap padding below is the property's).
    ex = data.draw(draw.conv_examples(max_stride=1, max_dilation=1, max_padding=0, min_batch=1,
                                      allowed_dtypes=FORWARD), label="example")
    g = ex.geometry
    axis = data.draw(st.integers(0, g.ndim - 1), label="axis")
    t = data.draw(st.integers(1, ex.x.shape[2 + axis]), label="shift")

    def pooled(x):
        wrap = [(0, 0), (0, 0)] + [(k - 1, 0) for k in g.kernel]
        y = call(backend, "conv", np.pad(x, wrap, mode="wrap"), ex.w, None,
                 groups=g.groups, stride=g.stride, dilation=g.dilation,
                 padding=tuple((0, 0) for _ in g.kernel))
        window = PoolGeometry.make(y.shape[2:])
        return (call(backend, "avg_pool", y, **window.avg_pool_kwargs()),
                call(backend, "max_pool", y, **window.max_pool_kwargs()))

    avg, mx = pooled(ex.x)
    avg_s, mx_s = pooled(np.roll(ex.x, t, axis=2 + axis))
    _, magnitude, red = exact(np.abs(ex.x), np.abs(ex.w), groups=g.groups)
    scale = np.full(avg.shape, float(magnitude.max()) if magnitude.size else 0.0)
    tol = tolerance(ex.dtype)
    expect_close(avg_s, avg.astype(np.float64), scale, red * magnitude[0, 0].size, tol,
                 slack=2.0, what="global average pooling changed under a circular shift")
    expect_close(mx_s, mx.astype(np.float64), scale, red, tol, slack=2.0,
                 what="global max pooling changed under a circular shift")


@pytest.mark.spec("E8", "D6")
@pytest.mark.ops("conv")
@given(data=st.data())
def test_one_by_one_convolution_is_a_matrix_product(backend, caps, tolerance, data):
    """A 1×1 convolution multiplies the channel vector at every position by the weight
    matrix (E8); it is how later FC layers become convolutions (D6)."""
    require(caps, "conv")
    draw = Strategies(caps)
    ex = data.draw(draw.conv_examples(max_kernel=1, max_groups=1, max_padding=0,
                                 max_stride=1, max_channels_per_group=6), label="example")
    g = ex.geometry
    got = call(backend, "conv", ex.x, ex.w, ex.b, **g.conv_kwargs())
    matrix = ex.w.reshape(g.out_channels, g.in_channels).astype(np.float64)
    want = np.einsum("oc,nc...->no...", matrix, ex.x.astype(np.float64))
    if ex.b is not None:
        want += ex.b.astype(np.float64).reshape((1, -1) + (1,) * g.ndim)
    _, magnitude, red = exact(np.abs(ex.x), np.abs(ex.w), None if ex.b is None else np.abs(ex.b))
    expect_close(got, want, magnitude, red, tolerance(ex.dtype),
                 what="1×1 conv differs from the per-position matrix product")


@pytest.mark.spec("E9", "B14", "C4")
@pytest.mark.ops("conv")
@given(data=st.data())
def test_grouped_convolution_is_concatenated_independent_convolutions(backend, caps, tolerance,
                                                                       data):
    """With G groups, channels split into G parts convolved independently and concatenated
    (E9); the weight is ``(C_out, C_in/G, *K)`` (B14), G times fewer parameters (C4)."""
    require(caps, "conv", features=("groups",))
    draw = Strategies(caps)
    # One call per group below.
    ex = data.draw(draw.conv_examples(allowed_dtypes=FORWARD, min_groups=2, max_groups=3),
                   label="example")
    g = ex.geometry
    whole = call(backend, "conv", ex.x, ex.w, None, **g.conv_kwargs())
    ci, co = g.in_channels // g.groups, g.out_channels // g.groups
    parts = [call(backend, "conv", np.ascontiguousarray(ex.x[:, i * ci:(i + 1) * ci]),
                  np.ascontiguousarray(ex.w[i * co:(i + 1) * co]), None,
                  **dict(g.conv_kwargs(), groups=1)).astype(np.float64)
             for i in range(g.groups)]
    _, magnitude, red = exact(np.abs(ex.x), np.abs(ex.w), **_geometry(g))
    expect_close(whole, np.concatenate(parts, axis=1), magnitude, red, tolerance(ex.dtype),
                 slack=2.0, what="grouped conv differs from concatenated per-group convs")
    assert_equal("weights of params()", g.params() - (g.out_channels if g.bias else 0),
                 g.groups * (ci * co * g.kernel_volume), call=g)


@pytest.mark.spec("E10", "C8")
@pytest.mark.ops("conv")
@given(data=st.data())
def test_depthwise_and_depthwise_separable(backend, caps, tolerance, data):
    """Depthwise convolution is grouped with G = C_in (E10); depthwise then 1×1 on the backend
    equals the reference's depthwise-separable convolution, with ``C·k·k + C·C_O`` weights (C8)."""
    require(caps, "conv", features=("groups",))
    dtype = data.draw(dtypes(caps, FORWARD), label="dtype")
    rank = data.draw(st.sampled_from(sorted(caps.ranks)), label="rank")
    c, co, k = (data.draw(st.integers(1, 4)) for _ in range(3))
    n = tuple(data.draw(st.integers(k, k + 4)) for _ in range(rank))
    x = data.draw(tensors(dtype, (2, c, *n)), label="x")
    wd = data.draw(tensors(dtype, (c, 1) + (k,) * rank), label="w_depth")
    wp = data.draw(tensors(dtype, (co, c) + (1,) * rank), label="w_point")
    depth = conv(backend, x, wd, groups=c)
    point = conv(backend, depth, wp)
    want = reference.depthwise_separable_conv(x.astype(np.float64), wd.astype(np.float64),
                                              wp.astype(np.float64))
    magnitude = reference.depthwise_separable_conv(np.abs(x).astype(np.float64),
                                                   np.abs(wd).astype(np.float64),
                                                   np.abs(wp).astype(np.float64))
    expect_close(point, want, magnitude, k ** rank * c, tolerance(dtype), slack=2.0,
                 what="depthwise then pointwise differs from depthwise-separable conv")
    assert_equal("weights of depthwise and pointwise", wd.size + wp.size,
                 c * k ** rank + c * co, call=f"w_depth {wd.shape}, w_point {wp.shape}")


@pytest.mark.spec("E11", "C9")
@pytest.mark.ops("conv")
@given(data=st.data())
def test_rank_one_kernel_is_two_one_dimensional_passes(backend, caps, tolerance, data):
    """A rank-1 kernel ``a bᵀ`` equals a k×1 pass then a 1×k pass (E11; 3×3 → 6 weights, C9)."""
    require(caps, "conv", rank=2, because="E11 is stated for 2-D kernels")
    dtype = data.draw(dtypes(caps, FORWARD), label="dtype")
    kh, kw = data.draw(st.integers(1, 4), label="kh"), data.draw(st.integers(1, 4), label="kw")
    a = data.draw(tensors(dtype, (kh,)), label="a")
    b = data.draw(tensors(dtype, (kw,)), label="b")
    x = data.draw(tensors(dtype, (1, 1, kh + data.draw(st.integers(0, 4)),
                                  kw + data.draw(st.integers(0, 4)))), label="x")
    full = np.multiply.outer(a.astype(np.float64), b.astype(np.float64)).astype(x.dtype)
    one = conv(backend, x, full[None, None])
    two = conv(backend, conv(backend, x, a.reshape(1, 1, kh, 1)), b.reshape(1, 1, 1, kw))
    _, magnitude, _ = exact(np.abs(x), np.abs(full)[None, None])
    expect_close(two, one.astype(np.float64), magnitude, kh * kw, tolerance(dtype), slack=2.0,
                 what="two 1-D passes differ from the rank-1 2-D kernel")
    want = reference.spatially_separable_conv(x.astype(np.float64),
                                              [a.astype(np.float64), b.astype(np.float64)])
    expect_close(two, want, magnitude, kh * kw, tolerance(dtype), slack=2.0,
                 what="backend differs from the reference's spatially separable conv")


@pytest.mark.spec("E12", "C5")
@pytest.mark.ops("conv")
@given(data=st.data())
def test_one_by_n_then_n_by_one_keeps_the_receptive_field(backend, caps, tolerance, data):
    """1×n then n×1 reaches exactly the n×n window (E12), with 2n instead of n² weights per
    channel pair (C5): bumping any input inside an output's n×n window changes it."""
    require(caps, "conv", rank=2, because="E12 is stated for 2-D kernels")
    dtype = data.draw(dtypes(caps, FORWARD), label="dtype")
    n = data.draw(st.integers(1, 4), label="n")
    size = n + data.draw(st.integers(0, 3), label="extra")
    ones_row = np.ones((1, 1, 1, n), dtype=np.dtype(dtype))
    ones_col = np.ones((1, 1, n, 1), dtype=np.dtype(dtype))
    reached = np.zeros((size - n + 1, size - n + 1, size, size), dtype=bool)
    for i, j in np.ndindex(size, size):
        x = np.zeros((1, 1, size, size), dtype=np.dtype(dtype))
        x[0, 0, i, j] = 1
        row = conv(backend, x, ones_row)
        y = conv(backend, row, ones_col)
        steps = [("conv", (x, ones_row, None), _plain(ones_row)),
                 ("conv", (row, ones_col, None), _plain(ones_col))]
        allowed = zero_allowance(steps, tolerance(dtype))
        reached[:, :, i, j] = nonzero_beyond_rounding(y, allowed)[0, 0]
    for oi, oj in np.ndindex(size - n + 1, size - n + 1):
        window = np.zeros((size, size), dtype=bool)
        window[oi:oi + n, oj:oj + n] = True
        assert_array_equal(f"inputs output ({oi}, {oj}) reaches", reached[oi, oj], window,
                           call=f"1×{n} then {n}×1 on {size}×{size} impulses in {dtype}")
    assert_equal("weights of 1×n and n×1", ones_row.size + ones_col.size, 2 * n)


@pytest.mark.spec("E13", "C7")
@pytest.mark.ops("conv")
@given(data=st.data())
def test_stacked_linear_convolutions_are_one_convolution(backend, caps, tolerance, data):
    """Two stacked linear (stride-1) correlations equal one correlation whose kernel is the
    full convolution of the two (E13), of size ``k1 + k2 - 1`` (C7: two 3×3 = one 5×5)."""
    require(caps, "conv", rank=1)
    dtype = data.draw(dtypes(caps, FORWARD), label="dtype")
    c0, c1, c2 = (data.draw(st.integers(1, 3)) for _ in range(3))
    k1, k2 = data.draw(st.integers(1, 4), label="k1"), data.draw(st.integers(1, 4), label="k2")
    x = data.draw(tensors(dtype, (1, c0, k1 + k2 - 1 + data.draw(st.integers(0, 4)))), label="x")
    w1 = data.draw(tensors(dtype, (c1, c0, k1)), label="w1")
    w2 = data.draw(tensors(dtype, (c2, c1, k2)), label="w2")
    combined = np.zeros((c2, c0, k1 + k2 - 1))
    for u, v in np.ndindex(k1, k2):
        combined[:, :, u + v] += w2[:, :, v].astype(np.float64) @ w1[:, :, u].astype(np.float64)
    stacked = conv(backend, conv(backend, x, w1), w2)
    one = conv(backend, x, combined.astype(x.dtype))
    _, magnitude, _ = exact(np.abs(x), np.abs(combined))
    expect_close(stacked, one.astype(np.float64), magnitude, c0 * c1 * (k1 + k2), tolerance(dtype),
                 slack=2.0, what="two stacked convs differ from one with the combined kernel")


@pytest.mark.spec("E14", "B7")
@pytest.mark.ops("conv")
@given(data=st.data())
def test_dilated_convolution_is_convolution_with_a_zero_inserted_kernel(backend, caps,
                                                                        tolerance, data):
    """Dilation d equals an ordinary convolution with d-1 zeros inserted between taps, a kernel
    of size ``m' = m + (m-1)(d-1)`` (E14, B7)."""
    require(caps, "conv", features=("conv_dilation",))
    draw = Strategies(caps)
    ex = data.draw(draw.conv_examples(min_dilation=2), label="example")
    g = ex.geometry
    dilated = call(backend, "conv", ex.x, ex.w, ex.b, **g.conv_kwargs())
    zero_inserted = reference.dilate_kernel(ex.w, g.dilation)
    assert_equal(f"dilate_kernel(w, {g.dilation}).shape[2:]", zero_inserted.shape[2:],
                 g.effective_kernel, call=g)
    plain = call(backend, "conv", ex.x, zero_inserted, ex.b,
                 **dict(g.conv_kwargs(), dilation=(1,) * g.ndim))
    _, magnitude, red = exact(np.abs(ex.x), np.abs(ex.w),
                              None if ex.b is None else np.abs(ex.b), **_geometry(g))
    expect_close(dilated, plain.astype(np.float64), magnitude, red, tolerance(ex.dtype),
                 slack=2.0, what="dilated conv differs from the zero-inserted kernel")


@pytest.mark.spec("E15", "C12")
@pytest.mark.ops("conv")
@given(rates=st.lists(st.integers(1, 4), min_size=1, max_size=3), k=st.integers(2, 3))
def test_gridding_of_stacked_dilated_layers(backend, caps, tolerance, rates, k):
    """Which inputs one output of a stack of dilated layers depends on, measured on the
    backend with impulses, is exactly the spec's reached set (E15); rates with a common
    factor > 1 leave holes, which the HDC rules flag."""
    require(caps, "conv", rank=1, features=("conv_dilation",))
    dtype = first_dtype(caps, "conv", preferred=FORWARD + ("float16", "bfloat16"), rank=1)
    layers = dilated_stack(rates, k)
    span = sum(r * (k - 1) for r in rates) + 1
    impulses = np.eye(span, dtype=np.dtype(dtype))[:, None, :]  # a batch of one-hot inputs
    y = impulses
    steps = []
    for r in rates:
        ones = np.ones((1, 1, k), dtype=y.dtype)
        steps.append(("conv", (y, ones, None), _plain(ones, dilation=r)))
        y = conv(backend, y, ones, dilation=r)
    # Reached: non-zero beyond rounding (an FFT leaves ~u·log L·‖y‖‖w‖ on exact zeros).
    support = nonzero_beyond_rounding(y, zero_allowance(steps, tolerance(dtype)))
    measured = frozenset(int(i) for i in np.nonzero(support[:, 0, 0])[0])
    where = f"{k}-tap all-ones layers at rates {rates} on {span} impulses in {dtype}"
    assert_equal("inputs output 0 reaches", set(measured), set(reached_offsets(layers)),
                 call=where)
    holes = len(measured) < span
    common = math.gcd(*rates) > 1
    if common and len(rates) > 0 and min(rates) > 1:
        assert_true(holes, f"rates {rates} share a factor and reach all {span} inputs, but "
                    "should leave holes", call=where)
    if common:
        rules = [v.rule for v in hdc_violations(rates, k)]
        assert_true(any("factor" in rule for rule in rules), f"hdc_violations({rates}, {k}) "
                    f"flags {rules}, but should flag the common factor")


@pytest.mark.spec("E16")
@pytest.mark.ops("conv")
@given(data=st.data())
def test_inception_branches_concatenate_along_channels(backend, caps, tolerance, data):
    """Branches of 1×1, 3×3 and 5×5 "same" convolutions concatenated along channels (E16)
    equal one 5×5 convolution whose weight stacks the smaller kernels centred in zeros."""
    require(caps, "conv", rank=2, because="inception branches are 2-D")
    dtype = data.draw(dtypes(caps, FORWARD), label="dtype")
    c = data.draw(st.integers(1, 3), label="channels")
    n = data.draw(st.integers(1, 6), label="size")
    x = data.draw(tensors(dtype, (1, c, n, n)), label="x")
    sizes = (1, 3, 5)
    weights = [data.draw(tensors(dtype, (2, c, k, k)), label=f"w{k}") for k in sizes]
    branches = [conv(backend, x, w, padding=same_padding(n, k)[0]) for w, k in zip(weights, sizes)]
    stacked = np.zeros((2 * len(sizes), c, 5, 5), dtype=x.dtype)
    for i, (w, k) in enumerate(zip(weights, sizes)):
        o = (5 - k) // 2
        stacked[2 * i:2 * i + 2, :, o:o + k, o:o + k] = w
    one = conv(backend, x, stacked, padding=2)
    _, magnitude, red = exact(np.abs(x), np.abs(stacked), padding=2)
    expect_close(np.concatenate(branches, axis=1), one.astype(np.float64), magnitude, red,
                 tolerance(dtype), slack=2.0,
                 what="concatenated inception branches differ from one stacked conv")


@pytest.mark.spec("E17")
@pytest.mark.ops("conv")
@given(data=st.data())
def test_channel_shuffle_is_a_permutation(backend, caps, tolerance, data):
    """Channel shuffle permutes channels between groups (E17): a conv after the shuffle equals
    the conv with its weight's input channels permuted the same way."""
    require(caps, "conv")
    draw = Strategies(caps)
    ex = data.draw(draw.conv_examples(max_groups=1, allowed_dtypes=FORWARD),
                   label="example")
    g = ex.geometry
    divisors = [d for d in range(1, g.in_channels + 1) if g.in_channels % d == 0]
    groups = data.draw(st.sampled_from(divisors), label="shuffle groups")
    shuffled = reference.channel_shuffle(ex.x, groups)
    order = reference.channel_shuffle(np.arange(g.in_channels, dtype=np.float64)
                                      .reshape(1, -1, *(1,) * g.ndim), groups).ravel().astype(int)
    where = f"channel_shuffle of {g.in_channels} channels in {groups} groups"
    assert_equal("sorted(order)", sorted(order), list(range(g.in_channels)), call=where)
    assert_array_equal("channel_shuffle(x)", shuffled, ex.x[:, order], call=where)
    inverse = np.argsort(order)
    after = call(backend, "conv", shuffled, ex.w, None, **g.conv_kwargs())
    permuted = call(backend, "conv", ex.x, np.ascontiguousarray(ex.w[:, inverse]), None,
                    **g.conv_kwargs())
    _, magnitude, red = exact(np.abs(ex.x), np.abs(ex.w), **_geometry(g))
    expect_close(after, permuted.astype(np.float64), magnitude, red, tolerance(ex.dtype),
                 slack=2.0, what="conv after shuffle differs from conv with permuted weights")


@pytest.mark.spec("E18")
@pytest.mark.ops("conv", "avg_pool")
@given(data=st.data())
def test_squeeze_and_excitation(backend, caps, tolerance, data):
    """Squeeze (global average pool), excite (two FC layers, as 1×1 convs, ReLU then sigmoid),
    reweight the channels (E18): built from backend ops, it equals the reference SE block."""
    require(caps, "conv", "avg_pool", rank=2, because="the SE block is checked in 2-D")
    dtype = data.draw(dtypes(caps, ("float64", "float32")), label="dtype")
    c, hidden = data.draw(st.integers(1, 6), label="C"), data.draw(st.integers(1, 3), label="C/r")
    x = data.draw(tensors(dtype, (2, c, *data.draw(st.tuples(st.integers(1, 5),
                                                             st.integers(1, 5)))), elements="real"),
                  label="x")
    w1, b1 = (data.draw(tensors(dtype, s, elements="real")) for s in ((hidden, c), (hidden,)))
    w2, b2 = (data.draw(tensors(dtype, s, elements="real")) for s in ((c, hidden), (c,)))
    squeezed = call(backend, "avg_pool", x, **PoolGeometry.make(x.shape[2:]).avg_pool_kwargs())
    z = np.maximum(conv(backend, squeezed, w1.reshape(hidden, c, 1, 1), b1), 0)
    gate = reference.sigmoid(conv(backend, z, w2.reshape(c, hidden, 1, 1), b2).astype(np.float64))
    got = x.astype(np.float64) * gate
    want = reference.squeeze_excitation(x.astype(np.float64), w1.astype(np.float64),
                                        b1.astype(np.float64), w2.astype(np.float64),
                                        b2.astype(np.float64))
    expect_close(got, want, np.abs(x).astype(np.float64) * (1 + c + hidden),
                 x[0, 0].size + c + hidden, tolerance(dtype), slack=4.0,
                 what="SE block from backend ops differs from the reference")


@pytest.mark.spec("E19")
@pytest.mark.ops("conv", "conv_vjp")
@given(data=st.data())
def test_residual_unit_gradient_carries_the_identity(backend, caps, tolerance, data):
    """``h(x) = x + f(x)`` (E19) with f a "same" convolution: ``∂h/∂x·dy = dy + ∂f/∂x·dy``;
    with ``W = 0`` the gradient is exactly ``dy``, the identity path."""
    require(caps, "conv", "conv_vjp")
    draw = Strategies(caps)
    ex = data.draw(draw.conv_examples(max_stride=1, max_dilation=1,
                                 allowed_dtypes=FORWARD), label="example")
    g = ex.geometry
    # An even kernel's "same" padding is asymmetric; without it, the next odd kernel.
    kernel = g.kernel if "asymmetric_padding" in caps.features else tuple(k | 1 for k in g.kernel)
    pads = tuple(same_padding(1, k) for k in kernel)
    sg = ConvGeometry.make(g.in_channels, g.in_channels, kernel, padding=pads,
                           groups=g.groups, bias=False)
    w = data.draw(tensors(ex.dtype, sg.weight_shape), label="w")
    dy = data.draw(tensors(ex.dtype, ex.x.shape), label="dy")
    h = reference.residual_unit(ex.x.astype(np.float64),
                                lambda v: call(backend, "conv", v.astype(ex.x.dtype), w, None,
                                               **sg.conv_kwargs()).astype(np.float64))
    assert_shape("h", h.shape, ex.x.shape, call=sg)
    dx, _, _ = call(backend, "conv_vjp", ex.x, w, None, dy, **sg.conv_kwargs())
    total = dy.astype(np.float64) + dx.astype(np.float64)
    (ref_dx, _, _), (mag, _, _) = reference_outputs("conv_vjp", (ex.x, w, None, dy),
                                                    sg.conv_kwargs())
    expect_close(total, dy.astype(np.float64) + ref_dx, mag + np.abs(dy), w[0].size,
                 tolerance(ex.dtype), slack=2.0, what="residual gradient differs from dy + f'(x)dy")
    zero_dx, _, _ = call(backend, "conv_vjp", ex.x, np.zeros_like(w), None, dy, **sg.conv_kwargs())
    assert_array_equal("dx with W = 0", zero_dx, 0.0,
                       call=call_of("conv_vjp", ex.x, np.zeros_like(w), None, dy,
                                    **sg.conv_kwargs()))


@pytest.mark.spec("E20", "F4")
@pytest.mark.ops("conv")
@given(data=st.data())
def test_multi_channel_layer_is_a_sum_over_input_maps(backend, caps, tolerance, data):
    """``Z^p = Σ_d W^{p,d} ⊗ X^d + b^p``, ``Y^p = f(Z^p)`` (E20): the backend's layer with ReLU
    equals the reference's map-by-map sum of single-channel correlations."""
    require(caps, "conv")
    # Symmetric padding (conv_layer takes one per axis); conv_layer loops over the maps.
    draw = Strategies(caps.without(features={"asymmetric_padding"}))
    ex = data.draw(draw.conv_examples(max_stride=1, max_dilation=1, max_groups=1, min_batch=1,
                                      max_batch=3, max_channels_per_group=3), label="example")
    g = ex.geometry
    pad = tuple(b for b, _ in g.padding)
    got = np.maximum(call(backend, "conv", ex.x, ex.w, ex.b, **g.conv_kwargs()), 0)
    want = reference.conv_layer(ex.x.astype(np.float64), ex.w.astype(np.float64),
                                None if ex.b is None else ex.b.astype(np.float64),
                                activation=lambda z: np.maximum(z, 0), padding=pad)
    _, magnitude, red = exact(np.abs(ex.x), np.abs(ex.w),
                              None if ex.b is None else np.abs(ex.b), padding=g.padding)
    expect_close(got, want, magnitude, red, tolerance(ex.dtype),
                 what="conv layer differs from the sum of per-map correlations")


@pytest.mark.spec("E21", "C2")
@pytest.mark.ops("conv")
@given(data=st.data())
def test_connection_table_is_a_masked_convolution(backend, caps, tolerance, data):
    """A connection-table layer (E21) is the backend's conv with the weights of unconnected
    (p, d) pairs zeroed; it has ``K·m·n + P`` parameters for K connections (C2)."""
    require(caps, "conv")
    draw = Strategies(caps)
    # One drawn boolean per channel pair.
    ex = data.draw(draw.conv_examples(max_groups=1, max_channels_per_group=3), label="example")
    g = ex.geometry
    table = np.array(data.draw(st.lists(st.lists(st.booleans(), min_size=g.in_channels,
                                                 max_size=g.in_channels),
                                        min_size=g.out_channels, max_size=g.out_channels)),
                     dtype=bool)
    mask = table.reshape(table.shape + (1,) * g.ndim)
    got = call(backend, "conv", ex.x, (ex.w * mask).astype(ex.w.dtype), ex.b, **g.conv_kwargs())
    want = reference.connection_table_conv(
        ex.x.astype(np.float64), ex.w.astype(np.float64),
        None if ex.b is None else ex.b.astype(np.float64), table,
        stride=g.stride, padding=g.padding, dilation=g.dilation)
    _, magnitude, red = exact(np.abs(ex.x), np.abs(ex.w),
                              None if ex.b is None else np.abs(ex.b), **_geometry(g))
    expect_close(got, want, magnitude, red, tolerance(ex.dtype),
                 what="masked conv differs from the connection-table layer")


@pytest.mark.spec("E22", "C10")
@pytest.mark.ops("conv")
@given(data=st.data())
def test_shared_local_and_untiled_layers_are_convolutions(backend, caps, tolerance, data):
    """A locally connected layer whose per-position kernels are all equal, and a tiled
    convolution with t = 1, are the backend's ordinary convolution (E22, C10)."""
    require(caps, "conv")
    draw = Strategies(caps)
    ex = data.draw(draw.conv_examples(max_groups=1, allowed_dtypes=FORWARD),
                   label="example")
    g = ex.geometry
    out = ex.case.output_shape[2:]
    got = call(backend, "conv", ex.x, ex.w, None, **g.conv_kwargs())
    geometry = {"stride": g.stride, "padding": g.padding, "dilation": g.dilation}
    x64, w64 = ex.x.astype(np.float64), ex.w.astype(np.float64)
    local = reference.locally_connected(x64, np.broadcast_to(w64, (*out, *w64.shape)).copy(),
                                        **geometry)
    tiled = reference.tiled_conv(x64, w64.reshape((1,) * g.ndim + w64.shape), **geometry)
    _, magnitude, red = exact(np.abs(ex.x), np.abs(ex.w), **_geometry(g))
    for want, what in ((local, "locally connected layer with equal kernels"),
                       (tiled, "tiled convolution with t = 1")):
        expect_close(got, want, magnitude, red, tolerance(ex.dtype),
                     transform=transform_scales("conv", (ex.x, ex.w, None), g.conv_kwargs())[0],
                     what=f"backend conv differs from the {what}")


@pytest.mark.spec("E23")
@pytest.mark.ops("conv")
@given(data=st.data())
def test_deformable_convolution_with_zero_and_integer_offsets(backend, caps, tolerance, data):
    """Deformable convolution with zero offsets is the backend's ordinary convolution; a
    constant integer offset shifts the sampling grid, which is convolution of a shifted
    input (E23)."""
    require(caps, "conv", rank=2, because="deformable convolution is 2-D")
    dtype = data.draw(dtypes(caps, FORWARD), label="dtype")
    c, co = data.draw(st.integers(1, 3), label="C"), data.draw(st.integers(1, 3), label="C_out")
    kh, kw = data.draw(st.integers(1, 3), label="kh"), data.draw(st.integers(1, 3), label="kw")
    h, w_ = kh + data.draw(st.integers(1, 4)), kw + data.draw(st.integers(1, 4))
    x = data.draw(tensors(dtype, (1, c, h, w_)), label="x")
    w = data.draw(tensors(dtype, (co, c, kh, kw)), label="w")
    dr, dc = data.draw(st.integers(-1, 1), label="row offset"), data.draw(st.integers(-1, 1))
    base = conv(backend, x, w)
    out = base.shape[2:]
    zero = reference.deformable_conv(x.astype(np.float64), np.zeros((1, 2 * kh * kw, *out)),
                                     w.astype(np.float64), None)
    _, magnitude, red = exact(np.abs(x), np.abs(w))
    expect_close(base, zero, magnitude, red, tolerance(dtype),
                 what="deformable conv with zero offsets differs from the backend's conv")
    offsets = np.zeros((1, 2 * kh * kw, *out))
    offsets[:, 0::2], offsets[:, 1::2] = dr, dc
    shifted_x = np.zeros_like(x)
    rows = slice(max(dr, 0), h + min(dr, 0))
    cols = slice(max(dc, 0), w_ + min(dc, 0))
    shifted_x[:, :, max(-dr, 0):h - max(dr, 0), max(-dc, 0):w_ - max(dc, 0)] = x[:, :, rows, cols]
    want = reference.deformable_conv(x.astype(np.float64), offsets, w.astype(np.float64), None)
    expect_close(conv(backend, shifted_x, w), want, magnitude, red, tolerance(dtype),
                 what="integer offsets differ from convolving the shifted input")
