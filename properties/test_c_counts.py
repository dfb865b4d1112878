"""Section C: parameter and compute counts.

Counts are measured, not recomputed from the spec's own formula: on the backend under test,
parameters are the weight and bias gradients it returns (one per parameter) and
multiply-accumulates are the products it sums, counted by convolving all-ones data (each
output element of an all-ones correlation is the length of its sum). Counts the backend cannot
show (connection tables, locally connected and tiled layers, whole networks, trainable pooling)
are counted on the reference implementations.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import convspec.reference as reference
from convspec import NETWORKS, ConvGeometry, GeometryError, reached_offsets, receptive_field
from convspec.spec import counts
from convspec.spec.geometry import volume
from convspec.verify.conformance import call, nonzero_beyond_rounding, zero_allowance
from convspec.spec.dtypes import HALF_DTYPES, numpy_dtype
from convspec.spec.errata import erratum
from convspec.verify.helpers import (assert_array_equal, assert_equal, assert_raises,
                                     assert_shape, assert_true, call_of, first_dtype, require)
from convspec.verify.strategies import Strategies, dtypes

pytestmark = pytest.mark.section("C")


def counted_products(backend, geometry: ConvGeometry, input_shape, dtype: str) -> int:
    """The multiply-accumulates the backend performs for ``geometry`` on ``input_shape``.

    Forward: an all-ones input whose padding is made of ones too, by an all-ones weight; every
    output element is then the number of products in its sum, padded taps included, which is
    what C3/C4 count. Transposed (padding 0): every input element times every weight tap lands
    in the output once, so the sum of the output is the number of products.
    """
    np_dtype = numpy_dtype(dtype)
    w = np.ones(geometry.weight_shape, dtype=np_dtype)
    if geometry.transposed:
        x = np.ones(input_shape, dtype=np_dtype)
        kwargs = dict(geometry.conv_transpose_kwargs(), padding=(0,) * geometry.ndim)
        y = call(backend, "conv_transpose", x, w, None, **kwargs)
    else:
        pads = ((0, 0), (0, 0), *geometry.padding)
        x = np.pad(np.ones(input_shape), pads, constant_values=1).astype(np_dtype)
        kwargs = dict(geometry.conv_kwargs(), padding=((0, 0),) * geometry.ndim)
        y = call(backend, "conv", x, w, None, **kwargs)
    return int(round(float(y.astype(np.float64).sum())))


@pytest.mark.spec("C1", "C3", "C4", "B14")
@pytest.mark.ops("conv_vjp")
@given(data=st.data())
def test_parameters_are_the_gradients_the_backend_returns(backend, caps, data):
    """A conv layer has ``P×(D/G)×∏K + P`` parameters (C1; grouped, C4; C3 without bias): the
    backend returns exactly one weight-gradient entry per weight, of shape ``(C_out, C_in/G,
    *K)`` (B14), and one bias-gradient entry per output map."""
    require(caps, "conv_vjp")
    draw = Strategies(caps)
    ex = data.draw(draw.conv_examples(), label="example")
    g = ex.geometry
    _, dw, db = call(backend, "conv_vjp", ex.x, ex.w, ex.b, ex.dy, **ex.kwargs)
    made = call_of("conv_vjp", ex.x, ex.w, ex.b, ex.dy, **ex.kwargs)
    assert_shape("dw", np.shape(dw), g.weight_shape, call=made)
    assert_equal("db is None", db is None, ex.b is None, call=made)
    gradients = np.size(dw) + (0 if db is None else np.size(db))
    p, d = g.out_channels, g.in_channels // g.groups
    formula = p * d * g.kernel_volume + (p if g.bias else 0)
    assert_equal("gradient entries", gradients, formula, call=made)
    assert_equal("params()", g.params(), formula, call=g)
    assert_equal("counts.conv_params", counts.conv_params(
        g.in_channels, p, g.kernel, groups=g.groups, bias=g.bias), formula, call=g)


@pytest.mark.spec("C3", "C4", "B10")
@pytest.mark.ops("conv", "conv_transpose")
@given(data=st.data(), transposed=st.booleans())
def test_macs_are_the_products_the_backend_sums(backend, caps, data, transposed):
    """``W_K·H_K·C_I·W_O·H_O·C_O`` multiply-adds (C3), divided by G with groups (C4), per image:
    the number of products the backend's convolution sums. A transposed convolution does one
    product per weight tap per input position (it is the adjoint, B10)."""
    op = "conv_transpose" if transposed else "conv"
    require(caps, op)
    draw = Strategies(caps)
    dtype = data.draw(dtypes(caps), label="dtype")
    # Each output counts up to (C_in/G)·∏K products, exact in a half type only up to 2^8:
    # 3 channels per group by kernels of 4 count 192 at most.
    exact = {"max_channels_per_group": 3, "max_kernel": 4} if dtype in HALF_DTYPES else {}
    case = data.draw(draw.conv_cases(transposed=transposed, **exact), label="case")
    g, shape = case.geometry, case.input_shape
    counted = counted_products(backend, g, shape, dtype)
    if transposed:
        formula = shape[0] * volume(shape[2:]) * g.in_channels * (
            g.out_channels // g.groups) * g.kernel_volume
    else:
        formula = (shape[0] * g.kernel_volume * (g.in_channels // g.groups)
                   * g.output_volume(shape[2:]) * g.out_channels)
        assert_equal(f"counts.conv_macs({shape}, ...)", counts.conv_macs(
            shape, g.out_channels, g.kernel, stride=g.stride, padding=g.padding,
            dilation=g.dilation, groups=g.groups), formula, call=g)
    assert_equal(f"products the backend summed on {shape}", counted, formula, call=g)
    assert_equal(f"macs({shape})", g.macs(shape), formula, call=g)


@pytest.mark.spec("C2", "E21")
@given(p=st.integers(1, 4), d=st.integers(1, 4), data=st.data())
def test_connection_table_parameters(p, d, data):
    """``K×m×n + P`` parameters for a table with K connections (C2): on all-ones data each
    output map of the reference connection-table layer (E21) sums one product per weight it
    uses, so the outputs count the K·m·n weights."""
    table = np.array(data.draw(st.lists(st.lists(st.booleans(), min_size=d, max_size=d),
                                        min_size=p, max_size=p), label="table"), dtype=bool)
    kernel = data.draw(st.tuples(st.integers(1, 3), st.integers(1, 3)), label="kernel")
    y = reference.connection_table_conv(np.ones((1, d, *kernel)), np.ones((p, d, *kernel)),
                                        None, table)
    used = int(y.sum())
    where = f"table={table.astype(int).tolist()}, kernel={kernel}"
    assert_equal("products of connection_table_conv", used,
                 int(table.sum()) * volume(kernel), call=where)
    assert_equal("connection_table_params(table, kernel)",
                 counts.connection_table_params(table.astype(int), kernel), used + p, call=where)
    assert_equal("connection_table_params(table, kernel, bias=False)",
                 counts.connection_table_params(table.astype(int), kernel, bias=False), used,
                 call=where)


@pytest.mark.spec("C5", "E12")
@given(n=st.integers(1, 9), c=st.integers(1, 64))
def test_asymmetric_factorization(n, c):
    """n×n into 1×n plus n×1: ``n²C²`` against ``2nC²``, ratio ``2/n`` (C5), the weights of
    the layers the spec builds (E12 keeps the receptive field)."""
    pair = counts.asymmetric_factorization_params(n, c)
    square = ConvGeometry.make(c, c, (n, n), bias=False)
    row, col = (ConvGeometry.make(c, c, k, bias=False) for k in ((1, n), (n, 1)))
    where = f"asymmetric_factorization_params({n}, {c})"
    assert_equal("original", pair.original, n * n * c * c, call=where)
    assert_equal("weights of the square kernel", volume(square.weight_shape), n * n * c * c,
                 call=square)
    assert_equal("replacement", pair.replacement,
                 volume(row.weight_shape) + volume(col.weight_shape), call=where)
    assert_equal("replacement", pair.replacement, 2 * n * c * c, call=where)
    assert_equal("ratio", pair.ratio, Fraction(2, n), call=where)
    for layers in ([(1,), (n,)], [(n,), (1,)]):
        assert_equal(f"receptive_field({layers}).size", receptive_field(layers).size, n)


@pytest.mark.spec("C6")
@given(c_in=st.integers(1, 512), root=st.integers(1, 32), k=st.integers(1, 7))
def test_bottleneck_counts(c_in, root, k):
    """The 1×1 bottleneck of width ``√C_O``: ``C_I√C_O + W_K·H_K·C_O + C_O^{3/2}`` against
    ``C_I·C_O·W_K·H_K`` (C6); a width that is not an integer is rejected."""
    c_out = root * root
    pair = counts.bottleneck_params(c_in, c_out, k)
    where = f"bottleneck_params({c_in}, {c_out}, {k})"
    assert_equal("original", pair.original, c_in * c_out * k * k, call=where)
    assert_equal("replacement", pair.replacement, c_in * root + k * k * c_out + root ** 3,
                 call=where)
    assert_equal("replacement", pair.replacement,
                 round(c_in * math.sqrt(c_out) + k * k * c_out + c_out ** 1.5), call=where)
    if root > 1:
        with assert_raises(GeometryError, f"bottleneck_params({c_in}, {c_out + 1}, {k})",
                           match="perfect square"):
            counts.bottleneck_params(c_in, c_out + 1, k)


@pytest.mark.spec("C7", "C12", "E13")
@given(small=st.integers(2, 5), layers=st.integers(1, 4), c=st.integers(1, 8))
def test_stacked_small_kernels_and_erratum(small, layers, c):
    """n stacked k'-wide layers replace a k-wide one when ``k - 1 = n(k' - 1)`` (C7): same
    receptive field (C12, E13), each layer with its own bias. Erratum C7: the notes count
    ``3×3×2+1`` for two 3×3 layers; counted layer by layer it is ``3×3×2+2``."""
    k = layers * (small - 1) + 1
    assert_equal(f"stacked_kernel_layers({k}, {small})", counts.stacked_kernel_layers(k, small),
                 layers)
    assert_equal(f"receptive_field([({small},)] * {layers}).size",
                 receptive_field([(small,)] * layers).size, k)
    assert_equal(f"receptive_field([({k},)]).size", receptive_field([(k,)]).size, k)
    pair = counts.stacked_kernel_params(k, small, in_channels=c, out_channels=c)
    where = f"stacked_kernel_params({k}, {small}, in_channels={c}, out_channels={c})"
    assert_equal("original", pair.original, c * c * k * k + c, call=where)
    assert_equal("replacement", pair.replacement, layers * (c * c * small * small + c),
                 call=where)
    if small > 2:  # k + 1 - 1 leaves the remainder 1 modulo k' - 1: no whole number of layers
        with assert_raises(GeometryError, f"stacked_kernel_layers({k + 1}, {small})",
                           match="no integer n"):
            counts.stacked_kernel_layers(k + 1, small)
    record = erratum("C7")
    check = record.check()
    assert_equal("erratum('C7').check() (literal, corrected holds)",
                 (check.literal_holds, check.corrected_holds), (False, True))
    literal = record.literal_form(layers=layers + 1, kernel=small)
    corrected = record.corrected_form(layers=layers + 1, kernel=small)
    assert_true(literal[0] != literal[1], f"the notes' single bias gives literal_form(layers="
                f"{layers + 1}, kernel={small})={literal}, but with two or more layers its "
                "sides should differ")
    assert_equal(f"corrected_form(layers={layers + 1}, kernel={small})[0]", corrected[0],
                 corrected[1])


@pytest.mark.spec("C8", "C9", "E10", "E11")
@pytest.mark.ops("conv")
@given(c=st.integers(1, 4), c_out=st.integers(1, 4), k=st.integers(1, 3),
       extra=st.tuples(st.integers(0, 4), st.integers(0, 3)))
def test_separable_convolutions_need_fewer_weights_and_products(backend, caps, c, c_out, k,
                                                                extra):
    """Depthwise separable (C8, E10): ``C·k·k + C·C_O`` weights against ``C·C_O·k·k``; spatially
    separable (C9, E11): k×1 then 1×k, ``2k`` against ``k²`` weights per channel pair. The
    multiply-accumulates of both designs are the products the backend sums, layer by layer."""
    require(caps, "conv", rank=2, because="the separable designs are counted in 2-D")
    dtype = first_dtype(caps, "conv")
    shape = (1, c, k + extra[0], k + extra[1])
    params = counts.depthwise_separable_params(c, c_out, k)
    assert_equal(f"depthwise_separable_params({c}, {c_out}, {k}) (original, replacement)",
                 (params.original, params.replacement), (c * c_out * k * k, c * k * k + c * c_out))
    standard = ConvGeometry.make(c, c_out, k, ndim=2, bias=False)
    macs = counts.depthwise_separable_macs(shape, c_out, k)
    where = f"depthwise_separable_macs({shape}, {c_out}, {k})"
    assert_equal("original", macs.original, counted_products(backend, standard, shape, dtype),
                 call=where)
    if "groups" in caps.features or c == 1:
        depthwise = ConvGeometry.make(c, c, k, groups=c, ndim=2, bias=False)
        pointwise = ConvGeometry.make(c, c_out, 1, ndim=2, bias=False)
        assert_equal("replacement", macs.replacement, (
            counted_products(backend, depthwise, shape, dtype)
            + counted_products(backend, pointwise, depthwise.output_shape(shape), dtype)),
            call=where)
    sep = counts.spatially_separable_counts(k, (1, c, k + extra[0], k + extra[0]))
    square = (1, c, k + extra[0], k + extra[0])
    where = f"spatially_separable_counts({k}, {square})"
    column, row = (ConvGeometry.make(c, c, kk, bias=False) for kk in ((k, 1), (1, k)))
    assert_equal("params.original", sep.params.original, c * c * k * k, call=where)
    assert_equal("params.replacement", sep.params.replacement, 2 * k * c * c, call=where)
    assert_equal("macs.original", sep.macs.original, counted_products(
        backend, ConvGeometry.make(c, c, (k, k), bias=False), square, dtype), call=where)
    assert_equal("macs.replacement", sep.macs.replacement, (
        counted_products(backend, column, square, dtype)
        + counted_products(backend, row, column.output_shape(square), dtype)), call=where)
    # Fewer multiplies once the image is large enough: k(n-k+1)(2n-k+1) < k²(n-k+1)², for
    # k = 3 when n > 4 (at n = 3 the two passes need 12 products against 9).
    side = k + extra[0]
    fewer = sep.macs.replacement < sep.macs.original
    assert_equal("macs.replacement < macs.original", fewer,
                 2 * side - k + 1 < k * (side - k + 1), call=where)
    if k == 3:
        assert_equal("weights per channel pair (original, replacement)",
                     (sep.params.original // (c * c), sep.params.replacement // (c * c)), (9, 6),
                     call=where)
        assert_equal("macs.replacement < macs.original", fewer, side > 4, call=where)


@pytest.mark.spec("C10", "E22")
@given(c=st.integers(1, 3), c_out=st.integers(1, 3), k=st.integers(1, 3),
       n=st.integers(0, 5), stride=st.integers(1, 2), tiles=st.integers(1, 4))
def test_unshared_layers_count_a_kernel_per_position(c, c_out, k, n, stride, tiles):
    """C10: a locally connected layer shares nothing; on all-ones data every weight of the
    reference layer enters exactly one product per sample, so the outputs sum to its weight
    count, ``positions × C_out·C_in·k`` (plus a bias per output element). A tiled convolution
    uses ``t`` distinct kernels, ``t ×`` the convolution's parameters."""
    x = np.ones((1, c, k + n))
    out = (k + n - k) // stride + 1
    w = np.ones((out, c_out, c, k))
    used = int(reference.locally_connected(x, w, stride=stride).sum())
    shape = (1, c, k + n)
    where = f"x {shape}, w {w.shape}, stride={stride}"
    assert_equal("products of locally_connected", used, out * c_out * c * k, call=where)
    assert_equal("locally_connected_params", counts.locally_connected_params(
        shape, c_out, (k,), stride=stride), used + out * c_out, call=where)
    assert_equal("locally_connected_params(bias=False)", counts.locally_connected_params(
        shape, c_out, (k,), stride=stride, bias=False), used, call=where)
    # Kernel j of the tiled layer is filled with j + 1: the outputs show which kernels are used.
    tiled = np.ones((tiles, c_out, c, k)) * np.arange(1, tiles + 1).reshape(-1, 1, 1, 1)
    y = reference.tiled_conv(x, tiled, stride=stride)
    kernels_used = {int(v) // (c * k) for v in np.unique(y)}
    assert_equal("kernels tiled_conv used", kernels_used, set(range(1, min(tiles, out) + 1)),
                 call=f"x {x.shape}, kernels {tiled.shape}, stride={stride}")
    conv = counts.conv_params(c, c_out, (k,))
    for t in (tiles, 1):
        assert_equal(f"tiled_conv_params({c}, {c_out}, ({k},), {t})",
                     counts.tiled_conv_params(c, c_out, (k,), t), t * conv)


@pytest.mark.spec("C11", "C1", "D6")
@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_whole_model_counts(name):
    """Whole-model counts (C11): each layer's parameters are its weight array plus one bias per
    output map (C1; FC layers are convolutions, D6), the tables chain (each layer sees its
    source's pooled output), and AlexNet has about 60 million, VGG-16 about 140 million."""
    network = NETWORKS[name]
    total = 0
    for index, layer in enumerate(network.layers):
        g = layer.geometry
        assert_equal(f"{name}.{layer.name}.params()", layer.params(),
                     volume(g.weight_shape) + (g.out_channels if g.bias else 0), call=g)
        source = network.source_shape(index)
        if source is not None:
            assert_equal(f"{name}.{layer.name}.input_shape", layer.input_shape, source)
        total += layer.params()
    assert_equal(f"counts.model_params({name!r})", counts.model_params(name), total)
    assert_equal(f"{name}.params()", network.params(), total)
    about = {"alexnet": 60e6, "vgg16": 140e6}
    if name in about:
        assert_true(abs(total - about[name]) / about[name] < 0.02, f"{name} has {total:,} "
                    f"parameters, but should have about {about[name]:,.0f} (within 2%)")
    assert_equal(f"classes of {name}", network.layers[-1].output_shape[1], 1000)


@pytest.mark.spec("C12", "E5")
@pytest.mark.ops("conv")
@given(data=st.data())
def test_receptive_field_recursion_on_the_backend(backend, caps, tolerance, data):
    """The receptive field of a stack of 1-D layers (size, effective stride, offset: C12), with
    the inputs each output actually reaches: convolving impulses through the stack with
    all-ones kernels on the backend, output ``i`` responds to exactly the inputs
    ``i·S - P + reached offsets`` inside the input (E5 for a stack)."""
    require(caps, "conv", rank=1, because="the stack is 1-D")
    dilate = "conv_dilation" in caps.features
    layers = data.draw(st.lists(st.tuples(st.integers(1, 3), st.integers(1, 2),
                                          st.integers(0, 2), st.integers(1, 2 if dilate else 1)),
                                min_size=1, max_size=3), label="layers (k, s, p, d)")
    layers = [(k, s, min(p, d * (k - 1)), d) for k, s, p, d in layers]
    n = 1
    for k, s, p, d in reversed(layers):  # the shortest input every layer accepts
        n = max(1, (n - 1) * s + d * (k - 1) + 1 - 2 * p)
    n += data.draw(st.integers(0, 6), label="extra")
    dtype = first_dtype(caps, "conv")
    y = np.eye(n, dtype=numpy_dtype(dtype))[:, None, :]  # a batch of impulses
    steps = []
    for k, s, p, d in layers:
        g = ConvGeometry.make(1, 1, (k,), stride=s, padding=p, dilation=d, bias=False)
        ones = np.ones((1, 1, k), dtype=y.dtype)
        steps.append(("conv", (y, ones, None), g.conv_kwargs()))
        y = call(backend, "conv", y, ones, None, **g.conv_kwargs())
    # An input reaches an output when the response is non-zero beyond rounding (an FFT
    # leaves rounding of the order u·log L·‖y‖‖w‖ where the exact response is 0).
    reached = nonzero_beyond_rounding(y, zero_allowance(steps, tolerance(dtype)))
    field = receptive_field(layers)
    where = f"layers (k, s, p, d) {layers} on {n} impulses"
    assert_equal("receptive_field(layers).stride", field.stride,
                 volume([s for _, s, _, _ in layers]), call=where)
    offsets = reached_offsets(layers)
    assert_equal("(min, max) of reached_offsets(layers)", (min(offsets), max(offsets)),
                 (0, field.size - 1), call=where)
    for i in range(y.shape[2]):
        start, end = field.input_interval(i)
        expected = {start + o for o in offsets if 0 <= start + o < n}
        seen = set(np.flatnonzero(reached[:, 0, i]).tolist())
        if 0 <= start and end < n:  # no path crosses padding: exactly the reached inputs
            assert_equal(f"inputs output {i} responds to", seen, expected, call=where)
        else:  # a path through an inner layer's zero padding carries nothing
            assert_true(seen <= expected, f"output {i} responds to inputs {sorted(seen)}, but "
                        f"should respond only to some of {sorted(expected)}", call=where)
    assert_equal("receptive_field([(3,), (3,)]).size", receptive_field([(3,), (3,)]).size, 5)
    assert_equal("receptive_field([(3, 1, 0, 1), (3, 1, 0, 2)]).size",
                 receptive_field([(3, 1, 0, 1), (3, 1, 0, 2)]).size, 7)


@pytest.mark.spec("C13", "G5")
@given(channels=st.integers(1, 6), size=st.integers(2, 5))
def test_trainable_pooling_has_two_parameters_per_map(channels, size):
    """LeNet-5 pooling ``f(w·Y + b)`` adds a scalar weight and bias per map (C13, G5): the
    reference takes exactly ``(C,)`` of each, and bumping any one of the ``2C`` scalars changes
    exactly its own map."""
    x = np.arange(channels * size * size, dtype=np.float64).reshape(1, channels, size, size)
    w, b = np.ones(channels), np.zeros(channels)

    def pool(w_, b_):
        return reference.trainable_pool(x + 1, w_, b_, kernel=(2, 2))

    base = pool(w, b)
    changed = 0
    for which in range(2):
        for c in range(channels):
            bumped = [w.copy(), b.copy()]
            bumped[which][c] += 1
            diff = np.any(pool(*bumped) != base, axis=(0, 2, 3))
            assert_array_equal(f"maps changed by bumping {('w', 'b')[which]}[{c}]", diff,
                               np.arange(channels) == c, call=f"trainable_pool of x {x.shape}")
            changed += 1
    assert_equal("scalars that change one map", changed, 2 * channels)
    assert_equal(f"trainable_pool_params({channels})", counts.trainable_pool_params(channels),
                 changed)
    with assert_raises(GeometryError, f"trainable_pool with {channels + 1} weights for "
                       f"{channels} maps"):
        pool(np.ones(channels + 1), b)
