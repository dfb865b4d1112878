"""Section B: size arithmetic, and the error properties, checked on the backend under test."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from convspec import (
    ConvGeometry,
    GeometryError,
    PoolGeometry,
    conv_output_size,
    effective_kernel_size,
    same_padding,
    size_after_layers,
    transposed_output_size,
)
from convspec.verify.conformance import (call, expect_close, expect_reference, expect_rejected,
                             transform_scales)
from convspec.spec.dtypes import numpy_dtype
from convspec.spec.errata import erratum
from convspec.verify.helpers import (assert_equal, assert_raises, assert_shape, assert_true,
                                     call_of, first_dtype, require)
from convspec.verify.strategies import Strategies, dtypes, tensors
from convspec.verify.strategies.invalid import excused

pytestmark = pytest.mark.section("B")


def _zeros(caps, shape, data):
    dtype = data.draw(dtypes(caps), label="dtype")
    return np.zeros(shape, dtype=numpy_dtype(dtype))


@pytest.mark.spec("B1", "B7", "B14")
@pytest.mark.ops("conv")
@given(data=st.data())
def test_output_shape_is_the_floor_of_b1(backend, caps, data):
    """Output length ``floor((n + p_b + p_a - d(k-1) - 1)/s) + 1`` on every axis, including
    geometries where the notes' rule B1 calls the division inexact (libraries floor it)."""
    require(caps, "conv")
    draw = Strategies(caps)
    ex = data.draw(draw.conv_examples(), label="example")
    g = ex.geometry
    y = call(backend, "conv", ex.x, ex.w, ex.b, **ex.kwargs)
    expected = conv_output_size(ex.x.shape[2:], g.kernel, stride=g.stride, padding=g.padding,
                                dilation=g.dilation)
    assert_shape("y", y.shape, (ex.x.shape[0], g.out_channels, *expected),
                 call=call_of("conv", ex.x, ex.w, ex.b, **ex.kwargs))


@pytest.mark.spec("B2", "B3", "B4", "E1")
@pytest.mark.ops("conv")
@given(data=st.data())
def test_narrow_wide_and_same_convolution(backend, caps, tolerance, data):
    """Narrow (p=0: ``n-m+1``, B2), wide (p=m-1: ``n+m-1``, B3, E1) and equal-width (B4) on the
    backend, each agreeing with the reference. Even kernels need asymmetric "same" padding,
    split the way PyTorch splits it (the extra element after)."""
    require(caps, "conv")
    dtype = data.draw(dtypes(caps), label="dtype")
    rank = data.draw(st.sampled_from(sorted(caps.ranks)), label="rank")
    m = data.draw(st.integers(1, 5), label="kernel")
    n = data.draw(st.integers(m, m + 6), label="size")
    x = data.draw(tensors(dtype, (1, 2) + (n,) * rank), label="x")
    w = data.draw(tensors(dtype, (3, 2) + (m,) * rank), label="w")
    same = same_padding(n, m)
    modes = {"narrow": (0, 0), "wide": (m - 1, m - 1), "same": same}
    expected = {"narrow": n - m + 1, "wide": n + m - 1, "same": n}
    for mode, pad in modes.items():
        if pad[0] != pad[1] and "asymmetric_padding" not in caps.features:
            continue
        g = ConvGeometry.make(2, 3, (m,) * rank, padding=(pad,) * rank, bias=False)
        y, = expect_reference(backend, "conv", (x, w, None), g.conv_kwargs(), tolerance(dtype))
        assert_equal(f"{mode} y.shape[2:]", y.shape[2:], (expected[mode],) * rank,
                     call=call_of("conv", x, w, None, **g.conv_kwargs()))


@pytest.mark.spec("B4")
@pytest.mark.ops("conv")
@given(data=st.data())
def test_strided_same_padding_gives_ceil(backend, caps, data):
    """TensorFlow/ONNX "same" padding with stride s gives ``ceil(n/s)`` outputs, the extra
    padding after (SAME_UPPER) or before (SAME_LOWER)."""
    require(caps, "conv", rank=1)
    n, k = data.draw(st.integers(1, 12), label="n"), data.draw(st.integers(1, 5), label="k")
    dilations = st.integers(1, 2 if "conv_dilation" in caps.features else 1)
    s, d = data.draw(st.integers(1, 3), label="stride"), data.draw(dilations, label="d")
    convention = data.draw(st.sampled_from(["tf", "onnx_upper", "onnx_lower"]), label="convention")
    pad = same_padding(n, k, stride=s, dilation=d, convention=convention)
    assume(pad[0] == pad[1] or "asymmetric_padding" in caps.features)
    g = ConvGeometry.make(1, 1, (k,), stride=s, dilation=d, padding=(pad,), bias=False)
    x = _zeros(caps, (1, 1, n), data)
    w = np.zeros(g.weight_shape, x.dtype)
    y = call(backend, "conv", x, w, None, **g.conv_kwargs())
    assert_equal(f"{convention} same y.shape[2]", y.shape[2], -(-n // s),
                 call=call_of("conv", x, w, None, **g.conv_kwargs()))


@pytest.mark.spec("B5")
@pytest.mark.ops("conv")
@given(data=st.data())
def test_size_after_stacked_layers(backend, caps, data):
    """After d stride-1 layers of width-k kernels, a width-m input has ``m - (k-1)d`` (valid)
    or ``m + (k-1)d`` (full) positions (B5), layer by layer on the backend."""
    require(caps, "conv", rank=1)
    k, depth = data.draw(st.integers(1, 4), label="k"), data.draw(st.integers(1, 4), label="depth")
    mode = data.draw(st.sampled_from(["valid", "full"]), label="mode")
    m = data.draw(st.integers((k - 1) * depth + 1, (k - 1) * depth + 8), label="m")
    x = _zeros(caps, (1, 1, m), data)
    pad = 0 if mode == "valid" else k - 1
    g = ConvGeometry.make(1, 1, (k,), padding=pad, bias=False)
    for _ in range(depth):
        x = call(backend, "conv", x, np.zeros(g.weight_shape, x.dtype), None, **g.conv_kwargs())
    sign = -1 if mode == "valid" else 1
    assert_equal(f"y.shape[2] after {depth} layers", x.shape[2], m + sign * (k - 1) * depth,
                 call=g)
    assert_equal(f"size_after_layers({m}, {k}, {depth}, mode={mode!r})",
                 size_after_layers(m, k, depth, mode=mode), m + sign * (k - 1) * depth)


@pytest.mark.spec("B6", "B11", "C1")
@pytest.mark.ops("conv")
def test_worked_examples_on_the_backend(backend, caps, tolerance):
    """AlexNet conv1: 227×227×3 by 96 filters 11×11 stride 4 gives 55×55×96, 3025 positions
    (B6, B11), 34,944 parameters (C1); the demo W=5, F=3, S=2, P=1 gives 3 (B6)."""
    require(caps, "conv", rank=2)
    dtype = first_dtype(caps, "conv", rank=2)
    rng = np.random.default_rng(0)
    alexnet = ConvGeometry.make(3, 96, 11, stride=4, ndim=2)
    assert_equal("params()", alexnet.params(), 34_944, call=alexnet)
    x = rng.integers(-2, 3, (1, 3, 227, 227)).astype(numpy_dtype(dtype))
    w = rng.integers(-2, 3, alexnet.weight_shape).astype(numpy_dtype(dtype))
    b = rng.integers(-2, 3, (96,)).astype(numpy_dtype(dtype))
    y, = expect_reference(backend, "conv", (x, w, b), alexnet.conv_kwargs(), tolerance(dtype))
    assert_shape("y", y.shape, (1, 96, 55, 55), call=alexnet)
    assert_equal("positions of y", y.shape[2] * y.shape[3], 3025, call=alexnet)
    demo = ConvGeometry.make(3, 2, 3, stride=2, padding=1, ndim=2)
    x = rng.integers(-2, 3, (1, 3, 5, 5)).astype(numpy_dtype(dtype))
    w = rng.integers(-2, 3, demo.weight_shape).astype(numpy_dtype(dtype))
    y, = expect_reference(backend, "conv", (x, w, None), demo.conv_kwargs(), tolerance(dtype))
    assert_equal("y.shape[2:]", y.shape[2:], (3, 3), call=demo)


@pytest.mark.spec("B7", "B8", "E14")
@pytest.mark.ops("conv")
@given(data=st.data())
def test_dilated_kernel_span_and_index_formula(backend, caps, tolerance, data):
    """A kernel of m taps at rate r spans ``m' = m + (m-1)(r-1)`` (B7): an input of exactly
    m' positions gives one output, which is the notes' index formula with d = r - 1 holes,
    ``S(i) = Σ_m I(i + m(d+1)) K(m)`` (B8, 0-based)."""
    require(caps, "conv", rank=1, features=("conv_dilation",))
    dtype = data.draw(dtypes(caps), label="dtype")
    m, holes = data.draw(st.integers(1, 5), label="m"), data.draw(st.integers(0, 3), label="holes")
    rate = holes + 1
    span = effective_kernel_size(m, rate)
    assert_equal(f"effective_kernel_size({m}, {rate})", span, m + (m - 1) * (rate - 1))
    assert_equal(f"effective_kernel_size({m}, {rate})", span, (holes + 1) * (m - 1) + 1)
    extra = data.draw(st.integers(0, 4), label="extra")
    x = data.draw(tensors(dtype, (1, 1, span + extra)), label="x")
    w = data.draw(tensors(dtype, (1, 1, m)), label="w")
    g = ConvGeometry.make(1, 1, (m,), dilation=rate, bias=False)
    y = call(backend, "conv", x, w, None, **g.conv_kwargs())
    assert_equal("y.shape[2]", y.shape[2], extra + 1,
                 call=call_of("conv", x, w, None, **g.conv_kwargs()))
    xs, ws = x[0, 0].astype(np.float64), w[0, 0].astype(np.float64)
    literal = np.array([sum(xs[i + j * (holes + 1)] * ws[j] for j in range(m))
                        for i in range(extra + 1)])
    magnitude = np.array([sum(abs(xs[i + j * (holes + 1)] * ws[j]) for j in range(m))
                          for i in range(extra + 1)])
    expect_close(y[0, 0], literal, magnitude, m, tolerance(dtype),
                 transform=transform_scales("conv", (x, w, None), g.conv_kwargs())[0][0, 0],
                 what="dilated conv differs from the index formula B8")


@pytest.mark.spec("B7")
@pytest.mark.ops("conv")
@given(size=st.integers(2, 5), holes=st.integers(1, 3), data=st.data())
def test_dilated_kernel_erratum(backend, caps, size, holes, data):
    """Erratum B7: the notes make a K-tap kernel with d holes a ``(d+1)×K+1`` kernel whose
    border rows and columns are zero. Built tap by tap it spans ``(d+1)(K-1)+1`` and its corners
    hold taps; on the backend, an input of the notes' size ``(d+1)K+1`` gives ``d+2`` outputs
    at rate d+1, where a kernel of that span would give one."""
    require(caps, "conv", rank=1, features=("conv_dilation",))
    record = erratum("B7")
    check = record.check()
    assert_equal("erratum('B7').check() (literal, corrected holds)",
                 (check.literal_holds, check.corrected_holds), (False, True))
    literal = record.literal_form(size=size, holes=holes)
    corrected = record.corrected_form(size=size, holes=holes)
    assert_true(literal[0] != literal[1], f"the notes' form literal_form(size={size}, "
                f"holes={holes})={literal} agrees, but should show the erratum")
    assert_equal(f"corrected_form(size={size}, holes={holes})[0]", corrected[0], corrected[1])
    x = _zeros(caps, (1, 1, (holes + 1) * size + 1), data)
    g = ConvGeometry.make(1, 1, (size,), dilation=holes + 1, bias=False)
    w = np.ones(g.weight_shape, x.dtype)
    y = call(backend, "conv", x, w, None, **g.conv_kwargs())
    assert_equal("y.shape[2]", y.shape[2], holes + 2,
                 call=call_of("conv", x, w, None, **g.conv_kwargs()))


@pytest.mark.spec("B9")
@pytest.mark.ops("max_pool", "avg_pool")
@given(data=st.data())
def test_pool_output_shape_and_depth(backend, caps, data):
    """``W2 = (W1 - F)/S + 1`` generalized with padding, dilation and ceil_mode; depth unchanged."""
    op = data.draw(st.sampled_from([o for o in ("max_pool", "avg_pool") if o in caps.operations]
                                   or ["max_pool"]), label="operation")
    require(caps, op)
    draw = Strategies(caps)
    ex = data.draw(draw.pool_examples(operation=op), label="example")
    kwargs = (ex.geometry.max_pool_kwargs() if op == "max_pool"
              else ex.geometry.avg_pool_kwargs())
    y = call(backend, op, ex.x, **kwargs)
    assert_shape("y", y.shape, ex.case.output_shape, call=call_of(op, ex.x, **kwargs))


@pytest.mark.spec("B10", "F9")
@pytest.mark.ops("conv_transpose")
@given(data=st.data())
def test_transposed_output_size(backend, caps, data):
    """``(l-1)s - 2p + d(m-1) + output_padding + 1`` (B10); with p=0, d=1: ``s(l-1) + m``,
    the length after inserting s-1 zeros and full padding (F9); with s=1: ``l + m - 1``."""
    require(caps, "conv_transpose")
    draw = Strategies(caps)
    ex = data.draw(draw.conv_examples(transposed=True), label="example")
    g = ex.geometry
    y = call(backend, "conv_transpose", ex.x, ex.w, ex.b, **ex.kwargs)
    assert_shape("y", y.shape, ex.case.output_shape,
                 call=call_of("conv_transpose", ex.x, ex.w, ex.b, **ex.kwargs))
    n, k, s = ex.x.shape[2], g.kernel[0], g.stride[0]
    assert_equal(f"transposed_output_size({n}, {k}, stride={s})",
                 transposed_output_size(n, k, stride=s), s * (n - 1) + k)
    assert_equal(f"transposed_output_size({n}, {k})", transposed_output_size(n, k), n + k - 1)


@pytest.mark.spec("B13", "E23")
def test_deformable_offsets_need_two_channels_per_tap():
    """Deformable convolution's offsets have ``2·kh·kw`` channels (B13): the reference accepts
    [N, 18, H, W] for a 3×3 kernel and rejects any other count with a GeometryError."""
    import convspec.reference as reference

    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 4, 6, 6))
    w = rng.standard_normal((3, 4, 3, 3))
    good = np.zeros((2, 18, 4, 4))
    assert_shape("deformable_conv(x, offsets, w)",
                 reference.deformable_conv(x, good, w, None).shape, (2, 3, 4, 4), call="x (2, 4, 6, 6), offsets (2, 18, 4, 4), w (3, 4, 3, 3)")
    with assert_raises(GeometryError, "deformable_conv with 9 offset channels", match="18"):
        reference.deformable_conv(x, np.zeros((2, 9, 4, 4)), w, None)


@pytest.mark.spec("B1", "B10", "B14")
@pytest.mark.ops("conv", "conv_transpose")
@given(data=st.data())
def test_invalid_geometry_is_rejected(backend, caps, data):
    """A call the specification calls invalid (input channels not matching the weight, groups
    not dividing the channels, a kernel larger than the padded input, the wrong rank,
    output_padding >= max(stride, dilation), a dilated extent ``1 + d(k-1)`` past 2^31),
    drawn in a shape where a careless implementation would compute something (``C // groups``
    fits the weight, an output clamped to size 0, an extent wrapped in int32), must raise,
    never return an array. The kinds are every forward kind the backend's features and limits
    allow; the fixed cases of every kind run each time in ``test_validation.py``; a backend
    with only conv_transpose gets transposed cases."""
    if "conv" not in caps.operations and "conv_transpose" not in caps.operations:
        pytest.skip("the backend has neither conv nor conv_transpose")
    draw = Strategies(caps)
    case = data.draw(draw.invalid_conv_cases(), label="invalid case")
    dtype = data.draw(dtypes(caps), label="dtype")
    x = np.ones(case.input_shape, dtype=numpy_dtype(dtype))
    w = np.ones(case.weight_shape, dtype=numpy_dtype(dtype))
    op = "conv_transpose" if case.transposed else "conv"
    require(caps, op)
    expect_rejected(backend, op, (x, w, None), case.kwargs, rule=case.rule)


@pytest.mark.spec("B1", "B9")
@pytest.mark.ops("conv", "max_pool", "avg_pool")
@given(data=st.data())
def test_zero_sample_batch_gives_an_empty_result(backend, caps, data):
    """A batch of zero samples is valid: the result is empty, with the geometry's shape."""
    require(caps, "conv", features=("empty_batch",))
    draw = Strategies(caps)
    ex = data.draw(draw.conv_examples(), label="example")
    x = ex.x[:0]
    y = call(backend, "conv", x, ex.w, ex.b, **ex.kwargs)
    assert_shape("y", y.shape, (0, *ex.case.output_shape[1:]),
                 call=call_of("conv", x, ex.w, ex.b, **ex.kwargs))
    pool = data.draw(draw.pool_examples(), label="pool")
    if "max_pool" in caps.operations:
        kwargs = pool.geometry.max_pool_kwargs()
        y = call(backend, "max_pool", pool.x[:0], **kwargs)
        assert_shape("y", y.shape, (0, *pool.case.output_shape[1:]),
                     call=call_of("max_pool", pool.x[:0], **kwargs))


@pytest.mark.spec("B9")
@pytest.mark.ops("max_pool")
@given(data=st.data())
def test_pool_window_larger_than_input_is_rejected(backend, caps, data):
    """A pooling window larger than the padded input leaves no output: the call must raise."""
    require(caps, "max_pool")
    why = excused("max_pool", "kernel_too_large", caps)
    if why:
        pytest.skip(why)
    draw = Strategies(caps)
    ex = data.draw(draw.pool_examples(), label="example")
    g = ex.geometry
    axis = data.draw(st.integers(0, g.ndim - 1), label="axis")
    # Longer than the padded input by a whole stride: even ceil_mode leaves no window.
    too_big = ex.x.shape[2 + axis] + 2 * g.padding[axis] + g.stride[axis]
    kernel = tuple(too_big if i == axis else k for i, k in enumerate(g.kernel))
    dilation = tuple(1 if i == axis else d for i, d in enumerate(g.dilation))
    kwargs = dict(g.max_pool_kwargs(), kernel=kernel, dilation=dilation)
    too_long = PoolGeometry.make(kernel, stride=g.stride, padding=g.padding, dilation=dilation,
                                 ceil_mode=g.ceil_mode)
    with assert_raises(GeometryError, f"output_spatial({ex.x.shape[2:]})", call=too_long):
        too_long.output_spatial(ex.x.shape[2:])
    expect_rejected(backend, "max_pool", (ex.x,), kwargs, rule="window larger than input")


@pytest.mark.spec("B1", "B6")
def test_size_formulas_on_the_worked_numbers():
    """Keeps the per-axis formulas honest on the notes' worked numbers (B1, B6)."""
    assert_equal("conv_output_size(227, 11, stride=4)", conv_output_size(227, 11, stride=4), 55)
    assert_equal("conv_output_size(5, 3, stride=2, padding=1)",
                 conv_output_size(5, 3, stride=2, padding=1), 3)
    with assert_raises(GeometryError, "conv_output_size(10, 3, stride=2, rounding='exact')",
                       match="4.5"):
        conv_output_size(10, 3, stride=2, rounding="exact")
    assert_equal("output_volume((227, 227)) of an 11×11, stride 4 layer",
                 ConvGeometry.make(3, 96, 11, stride=4, ndim=2).output_volume((227, 227)), 3025)
