"""Section D: matrix forms, applied to the data and compared with the backend under test.

The matrices are the reference's (:mod:`convspec.reference.matrices`) and their shapes the
spec's (:mod:`convspec.spec.shapes`): each property checks the matrix's structure (Toeplitz,
circulant, doubly block circulant, sparse and tied), its shape, and that multiplying by it
gives what the backend's conv, conv_transpose or vjp gives on the same data.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import convspec.reference as reference
from convspec import ConvGeometry, GeometryError
from convspec.spec import shapes
from convspec.spec.geometry import volume
from convspec.verify.conformance import call, expect_close, reference_outputs, transform_scales
from convspec.verify.helpers import (assert_array_equal, assert_equal, assert_raises,
                                     assert_shape, assert_true, call_of, require)
from convspec.verify.strategies import Strategies, dtypes, tensors

pytestmark = pytest.mark.section("D")

FORWARD = ("float64", "float32")


def f64(a: np.ndarray | None) -> np.ndarray | None:
    return None if a is None else np.asarray(a).astype(np.float64)


def correlate(backend, x: np.ndarray, w: np.ndarray,
              padding: int | tuple[int, ...] = 0) -> tuple[np.ndarray, np.ndarray]:
    """The backend's correlation of one signal by one kernel (any rank), and the transform
    scale of that call (:func:`convspec.verify.conformance.transform_scales`: an FFT or
    Winograd backend's error is bounded by the operands' norms, not elementwise)."""
    g = ConvGeometry.make(1, 1, w.shape, padding=padding, bias=False)
    arrays = (x[None, None], w[None, None].copy(), None)
    kwargs = g.conv_kwargs()
    return (call(backend, "conv", *arrays, **kwargs)[0, 0],
            transform_scales("conv", arrays, kwargs)[0][0, 0])


def full_convolution(backend, x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The backend's full true convolution of one signal by one kernel (any rank): its
    correlation with the rotated kernel and ``m-1`` zeros of padding on every side (A4, E1),
    and the call's transform scale."""
    return correlate(backend, x, reference.rot180(w), tuple(m - 1 for m in w.shape))


def _matrix_product_check(got, matrix, vector, tolerance, what, *, bias=None, transform=None):
    """``got`` against ``matrix @ vector (+ bias)``, the magnitude ``|matrix| @ |vector|``;
    ``transform``: the operand-norm scale of the backend call behind ``got``
    (:func:`convspec.verify.conformance.transform_scales`)."""
    want = matrix @ vector
    magnitude = np.abs(matrix) @ np.abs(vector)
    if bias is not None:
        want, magnitude = want + bias, magnitude + np.abs(bias)
    reduction = int(np.max(np.count_nonzero(matrix, axis=-1), initial=0)) + 1
    expect_close(np.asarray(got).reshape(want.shape), want, magnitude, reduction, tolerance,
                 what=what, transform=None if transform is None
                 else np.asarray(transform).reshape(want.shape))


@pytest.mark.spec("D1", "D2", "A1", "E4")
@pytest.mark.ops("conv")
@given(data=st.data())
def test_one_dimensional_convolution_is_a_toeplitz_and_a_circulant_product(backend, caps,
                                                                           tolerance, data):
    """1-D convolution is the product with a Toeplitz matrix, each row the previous one shifted
    by one (D1); zero-padded to ``L = M+N-1``, the full convolution is the product with the
    circulant matrix of ``w_p`` (D2). Both equal the backend's full and valid convolutions."""
    require(caps, "conv", rank=1, because="the Toeplitz and circulant forms are 1-D")
    dtype = data.draw(dtypes(caps), label="dtype")
    m = data.draw(st.integers(1, 5), label="m")
    n = data.draw(st.integers(m, m + 6), label="n")
    x = data.draw(tensors(dtype, (n,)), label="x")
    w = data.draw(tensors(dtype, (m,)), label="w")
    tol = tolerance(dtype)
    full = reference.toeplitz_matrix(f64(w), n)
    where = f"toeplitz_matrix(w of {m} taps, {n})"
    assert_shape("T", full.shape, (n + m - 1, n), call=where)
    assert_equal(f"toeplitz_shape({n}, {m}, padding={m - 1})",
                 shapes.toeplitz_shape(n, m, padding=m - 1), (n + m - 1, n))
    assert_array_equal("T[1:, 1:]", full[1:, 1:], full[:-1, :-1], call=where)  # diagonals
    backend_full, full_scale = full_convolution(backend, x, w)
    _matrix_product_check(backend_full, full, f64(x), tol,
                          "full convolution differs from the Toeplitz product (D1)",
                          transform=full_scale)
    valid = reference.toeplitz_matrix(f64(w), n, mode="valid")
    where = f"toeplitz_matrix(w of {m} taps, {n}, mode='valid')"
    assert_shape("T", valid.shape, (n - m + 1, n), call=where)
    assert_equal(f"toeplitz_shape({n}, {m})", shapes.toeplitz_shape(n, m), (n - m + 1, n))
    assert_array_equal("T", valid, full[m - 1:n], call=where)
    backend_valid, valid_scale = correlate(backend, x, w[::-1])
    _matrix_product_check(backend_valid, valid, f64(x), tol,
                          "valid convolution differs from the Toeplitz product (D1)",
                          transform=valid_scale)
    length = shapes.circulant_size(m, n)
    assert_equal(f"circulant_size({m}, {n})", length, m + n - 1)
    circulant = reference.circulant_matrix(f64(w), length)
    for i in range(1, length):  # each row is the previous one rotated right by one
        assert_array_equal(f"G[{i}]", circulant[i], np.roll(circulant[i - 1], 1),
                           call=f"circulant_matrix(w of {m} taps, {length})")
    x_p = np.zeros(length)
    x_p[:n] = f64(x)
    _matrix_product_check(backend_full, circulant, x_p, tol,
                          "full convolution differs from the circulant product (D2)",
                          transform=full_scale)
    assert_array_equal("circulant_convolve(w, x)", reference.circulant_convolve(f64(w), f64(x)),
                       circulant @ x_p, call=f"w of {m} taps, x of {n}")


@pytest.mark.spec("D3", "A2")
@pytest.mark.ops("conv")
@given(data=st.data())
def test_two_dimensional_full_convolution_is_a_doubly_block_circulant_product(backend, caps,
                                                                              tolerance, data):
    """2-D full convolution is ``h_b = G_b f_p`` (D3): ``G_b`` is ``MN × MN`` for the padded
    size ``(M_I+M_K-1) × (N_I+N_K-1)``, made of N×N circulant blocks ``G_m`` arranged
    circulantly, only the kernel's rows non-zero; it equals the backend's full convolution."""
    require(caps, "conv", rank=2, because="the doubly block circulant form is 2-D")
    dtype = data.draw(dtypes(caps), label="dtype")
    image_shape = data.draw(st.tuples(st.integers(1, 4), st.integers(1, 4)), label="image shape")
    kernel_shape = data.draw(st.tuples(st.integers(1, 3), st.integers(1, 3)), label="kernel shape")
    image = data.draw(tensors(dtype, image_shape), label="image")
    kernel = data.draw(tensors(dtype, kernel_shape), label="kernel")
    found = shapes.doubly_block_circulant_shape(image_shape, kernel_shape)
    g_b = reference.doubly_block_circulant(f64(kernel), image_shape)
    where = f"doubly_block_circulant(kernel {kernel_shape}, {image_shape})"
    assert_shape("G_b", g_b.shape, found.matrix, call=where)
    m, n = found.padded
    blocks = g_b.reshape(m, n, m, n).transpose(0, 2, 1, 3)  # blocks[i, j] is N×N
    for i, j in np.ndindex(m, m):
        assert_array_equal(f"block {(i, j)}", blocks[i, j], blocks[(i + 1) % m, (j + 1) % m],
                           call=where)
        block = blocks[i, j]
        for r in range(1, n):
            assert_array_equal(f"row {r} of block {(i, j)}", block[r], np.roll(block[r - 1], 1),
                               call=where)
        if (i - j) % m >= found.nonzero_blocks:  # outside the kernel's rows
            assert_array_equal(f"block {(i, j)}", block, 0.0, call=where)
    f_p = np.zeros((m, n))
    f_p[:image_shape[0], :image_shape[1]] = f64(image)
    backend_full, full_scale = full_convolution(backend, image, kernel)
    _matrix_product_check(backend_full, g_b, f_p.reshape(-1), tolerance(dtype),
                          "full 2-D convolution differs from G_b f_p (D3)",
                          transform=full_scale)
    assert_array_equal("block_circulant_convolve(kernel, image)",
                       reference.block_circulant_convolve(f64(kernel), f64(image)),
                       (g_b @ f_p.reshape(-1)).reshape(m, n), call=where)


@pytest.mark.spec("D4", "B11")
@pytest.mark.ops("conv")
@given(data=st.data())
def test_im2col_gemm_is_the_convolution(backend, caps, tolerance, data):
    """im2col (D4): per image and group, ``W_row · X_col`` with ``X_col`` of shape
    ``((C/G)·∏K) × positions`` (B11), reshaped, is the backend's convolution; so is the
    reference's ``im2col_conv``."""
    require(caps, "conv")
    draw = Strategies(caps)
    # One GEMM per sample and group, looped in Python.
    ex = data.draw(draw.conv_examples(max_extra=3, max_groups=3, max_batch=3),
                   label="example")
    g = ex.geometry
    y = call(backend, "conv", ex.x, ex.w, ex.b, **ex.kwargs)
    found = shapes.im2col_shapes(ex.x.shape, g.out_channels, g.kernel, stride=g.stride,
                                 padding=g.padding, dilation=g.dilation, groups=g.groups)
    assert_shape("y", y.shape, found.output, call=call_of("conv", ex.x, ex.w, ex.b, **ex.kwargs))
    assert_equal(f"im2col_shapes({ex.x.shape}, ...).gemms", found.gemms,
                 ex.x.shape[0] * g.groups, call=g)
    ci, co = g.in_channels // g.groups, g.out_channels // g.groups
    x64, w64 = f64(ex.x), f64(ex.w)
    gemm = np.zeros((ex.x.shape[0], g.out_channels, found.x_col[1]))
    magnitude = np.zeros_like(gemm)
    for n, group in np.ndindex(ex.x.shape[0], g.groups):
        x_col = reference.im2col_columns(x64[n, group * ci:(group + 1) * ci], g)
        w_row = w64[group * co:(group + 1) * co].reshape(co, -1)
        assert_shape("X_col", x_col.shape, found.x_col, call=g)
        assert_shape("W_row", w_row.shape, found.w_row, call=g)
        gemm[n, group * co:(group + 1) * co] = w_row @ x_col
        magnitude[n, group * co:(group + 1) * co] = np.abs(w_row) @ np.abs(x_col)
    if ex.b is not None:
        gemm += f64(ex.b)[:, None]
        magnitude += np.abs(f64(ex.b))[:, None]
    gemm, magnitude = gemm.reshape(y.shape), magnitude.reshape(y.shape)
    expect_close(y, gemm, magnitude, found.w_row[1] + 1, tolerance(ex.dtype),
                 transform=transform_scales("conv", (ex.x, ex.w, ex.b), ex.kwargs)[0],
                 what="conv differs from the im2col GEMM W_row · X_col")
    np.testing.assert_allclose(reference.im2col_conv(x64, w64, f64(ex.b), **ex.kwargs), gemm,
                               rtol=1e-12, atol=1e-9)
    alexnet = shapes.im2col_shapes((1, 3, 227, 227), 96, 11, stride=4)
    assert_equal("im2col_shapes((1, 3, 227, 227), 96, 11, stride=4) (x_col, w_row, product, "
                 "output)", (alexnet.x_col, alexnet.w_row, alexnet.product, alexnet.output),
                 ((363, 3025), (96, 363), (96, 3025), (1, 96, 55, 55)))


@pytest.mark.spec("D5", "E4", "E5", "F8")
@pytest.mark.ops("conv", "conv_vjp")
@given(data=st.data())
def test_convolution_is_a_sparse_tied_fully_connected_layer(backend, caps, tolerance, data):
    """A conv layer is the FC layer ``vec(y) = C vec(x) + b`` (D5) whose matrix is sparse (at
    most ``(C_in/G)·∏K`` weights per row, only inside the receptive field, E5) and tied (every
    entry is one of the kernel's weights). The backend's conv is the product with C and its
    input gradient the product with ``C^T`` (the FC layer's backward pass, F8)."""
    require(caps, "conv", "conv_vjp")
    ranks = [r for r in (1, 2) if r in caps.ranks]
    if not ranks:
        pytest.skip("the dense matrix C is built for 1-D and 2-D layers")
    draw = Strategies(caps)
    ex = data.draw(draw.conv_examples(ranks=ranks, max_extra=3, max_batch=3,
                                      max_channels_per_group=2, max_groups=2, max_dilation=2),
                   label="example")
    g = ex.geometry
    spatial = ex.x.shape[2:]
    matrix = reference.conv_matrix(f64(ex.w), spatial, **ex.kwargs)
    where = f"conv_matrix of {g.describe()} on {spatial}"
    assert_shape("C", matrix.shape, shapes.conv_matrix_shape(g, spatial), call=where)
    # Tied: with distinct weights, every non-zero entry names one weight; sparse: the count.
    distinct = np.arange(1, ex.w.size + 1, dtype=np.float64).reshape(ex.w.shape)
    structure = reference.conv_matrix(distinct, spatial, **ex.kwargs)
    untied = set(np.unique(structure[structure != 0]).tolist()) - set(distinct.ravel().tolist())
    assert_equal("entries of C that are no weight", untied, set(), call=where)
    fc = shapes.conv_as_fc(g, spatial)
    assert_equal("non-zero entries of C", np.count_nonzero(structure), fc.nonzeros, call=where)
    assert_equal("conv_as_fc(...).distinct_weights", fc.distinct_weights, ex.w.size, call=where)
    per_row = g.reduction_length
    most = int(np.max(np.count_nonzero(structure, axis=1), initial=0))
    assert_true(most <= per_row, f"a row of C has {most} weights, but should have at most "
                f"{per_row}", call=where)
    tol = tolerance(ex.dtype)
    y = call(backend, "conv", ex.x, ex.w, ex.b, **ex.kwargs)
    bias = None if ex.b is None else np.repeat(f64(ex.b), volume(y.shape[2:]))
    dx, _, _ = call(backend, "conv_vjp", ex.x, ex.w, ex.b, ex.dy, **ex.kwargs)
    y_scale = transform_scales("conv", (ex.x, ex.w, ex.b), ex.kwargs)[0]
    dx_scale = transform_scales("conv_vjp", (ex.x, ex.w, ex.b, ex.dy), ex.kwargs)[0]
    for i in range(ex.x.shape[0]):
        _matrix_product_check(y[i], matrix, f64(ex.x[i]).reshape(-1), tol,
                              "conv differs from the product with its matrix C (D5)", bias=bias,
                              transform=y_scale[i])
        _matrix_product_check(dx[i], matrix.T, f64(ex.dy[i]).reshape(-1), tol,
                              "the input gradient differs from C^T dy (F8)",
                              transform=dx_scale[i])


@pytest.mark.spec("D6", "E8")
@pytest.mark.ops("conv")
@given(data=st.data())
def test_fully_connected_layers_are_convolutions(backend, caps, tolerance, data):
    """An FC layer on a ``C × spatial`` volume is a convolution whose kernel covers the volume
    (F = spatial size, P = 0), and the FC layers after it are 1×1 convolutions (D6, E8): the
    backend's convs equal the matrix products layer by layer."""
    require(caps, "conv")
    dtype = data.draw(dtypes(caps, FORWARD), label="dtype")
    rank = data.draw(st.sampled_from(sorted(caps.ranks)), label="rank")
    c = data.draw(st.integers(1, 4), label="C")
    spatial = tuple(data.draw(st.integers(1, 4)) for _ in range(rank))
    widths = data.draw(st.lists(st.integers(1, 5), min_size=1, max_size=3), label="widths")
    x = data.draw(tensors(dtype, (data.draw(st.integers(1, 2), label="N"), c, *spatial),
                          elements="real"), label="x")
    layers = shapes.fc_stack_as_conv(x.shape, widths)
    where = f"fc_stack_as_conv({x.shape}, {widths})"
    assert_equal("(kernel, padding) of layer 0", (layers[0].kernel, layers[0].padding),
                 (spatial, ((0, 0),) * rank), call=where)
    for i, layer in enumerate(layers[1:], 1):
        assert_equal(f"kernel of layer {i}", layer.kernel, (1,) * rank, call=where)
    assert_equal("layer 0", layers[0], shapes.fc_as_conv(x.shape, widths[0]), call=where)
    features = x
    for i, layer in enumerate(layers):
        w = data.draw(tensors(dtype, layer.weight_shape, elements="real"), label=f"w{i}")
        b = data.draw(tensors(dtype, (layer.out_channels,), elements="real"), label=f"b{i}")
        y = call(backend, "conv", features, w, b, **layer.conv_kwargs())
        assert_shape(f"y{i}", y.shape, (x.shape[0], widths[i], *(1,) * rank),
                     call=call_of("conv", features, w, b, **layer.conv_kwargs()))
        flat, matrix = f64(features).reshape(x.shape[0], -1), f64(w).reshape(widths[i], -1)
        want = flat @ matrix.T + f64(b)
        magnitude = np.abs(flat) @ np.abs(matrix).T + np.abs(f64(b))
        expect_close(y.reshape(want.shape), want, magnitude, matrix.shape[1] + 1,
                     tolerance(dtype), what=f"conv layer {i} differs from the FC product (D6)")
        features = y
    vgg = shapes.fc_as_conv((1, 512, 7, 7), 4096)
    assert_equal("(kernel, weight_shape)", (vgg.kernel, vgg.weight_shape),
                 ((7, 7), (4096, 512, 7, 7)), call=vgg)
    assert_equal("output_shape((1, 512, 7, 7))", vgg.output_shape((1, 512, 7, 7)),
                 (1, 4096, 1, 1), call=vgg)


def _small_network(backend, x, downs, fc):
    """``halvings`` stride-2 2×2 convolutions (down-sampling, G6), then the FC layer as a
    convolution covering the remaining features (D6)."""
    for w in downs:
        g = ConvGeometry.make(w.shape[1], w.shape[0], (2, 2), stride=2, bias=False)
        x = call(backend, "conv", x, w, None, **g.conv_kwargs())
    g = ConvGeometry.make(fc.shape[1], fc.shape[0], fc.shape[2:], bias=False)
    return call(backend, "conv", x, fc, None, **g.conv_kwargs())


def _magnitude(x, downs, fc):
    """The same network in float64 on absolute values (the tolerance model's S)."""
    y = np.abs(f64(x))
    for w in downs:
        y = reference.conv(y, np.abs(f64(w)), None, stride=(2, 2), padding=((0, 0), (0, 0)),
                           dilation=(1, 1), groups=1)
    return reference.conv(y, np.abs(f64(fc)), None, stride=(1, 1), padding=((0, 0), (0, 0)),
                          dilation=(1, 1), groups=1)


@pytest.mark.spec("D7", "B12", "D6", "G6")
@pytest.mark.ops("conv")
@given(data=st.data())
def test_converted_network_slides_in_one_pass(backend, caps, tolerance, data):
    """A network trained on T×T images, its FC layer converted to a convolution, run once on a
    larger image, gives the scores of the T×T network at every position ``2^h`` pixels apart
    (D7): ``(I/2^h - T/2^h)/1 + 1`` positions per axis (B12: 224 → 7, 384 → 12, 6×6×1000)."""
    require(caps, "conv", rank=2, because="the converted network is 2-D")
    dtype = data.draw(dtypes(caps, FORWARD), label="dtype")
    halvings = data.draw(st.integers(1, 2), label="halvings")
    t, extra = data.draw(st.integers(1, 2), label="T/2^h"), data.draw(st.integers(0, 2))
    c, classes = data.draw(st.integers(1, 2), label="C"), data.draw(st.integers(1, 3))
    step = 2 ** halvings
    trained, size = t * step, (t + extra) * step
    scores = shapes.score_map_size(size, trained, halvings=halvings, classes=classes)
    where = f"score_map_size({size}, {trained}, halvings={halvings}, classes={classes})"
    assert_equal("(feature_size, kernel, positions, stride)",
                 (scores.feature_size, scores.kernel, scores.positions, scores.stride),
                 (t + extra, t, extra + 1, step), call=where)
    x = data.draw(tensors(dtype, (1, c, size, size)), label="image")
    downs = [data.draw(tensors(dtype, (c, c, 2, 2)), label=f"down{i}") for i in range(halvings)]
    fc = data.draw(tensors(dtype, (classes, c, t, t)), label="fc")
    one_pass = _small_network(backend, x, downs, fc)
    assert_shape("one pass", one_pass.shape, (1, *scores.shape),
                 call=f"{halvings} stride-2 convs then fc {fc.shape} on x {x.shape}")
    positions = list(np.ndindex(scores.positions, scores.positions))
    crops = np.concatenate([x[:, :, p * step:p * step + trained, q * step:q * step + trained]
                            for p, q in positions])
    slid = _small_network(backend, crops, downs, fc)[:, :, 0, 0]
    slid = np.stack([slid[i] for i in range(len(positions))]).reshape(
        scores.positions, scores.positions, classes).transpose(2, 0, 1)
    magnitude = _magnitude(x, downs, fc)[0]
    reduction = c * 4 * halvings + c * t * t
    expect_close(one_pass[0], f64(slid), magnitude, reduction, tolerance(dtype), slack=2.0,
                 what="one pass of the converted network differs from sliding the small one")
    worked = shapes.score_map_size(384)
    assert_equal("downsampled_size(224)", shapes.downsampled_size(224), 7)
    assert_equal("(feature_size, positions, shape, stride)",
                 (worked.feature_size, worked.positions, worked.shape, worked.stride),
                 (12, 6, (1000, 6, 6), 32), call="score_map_size(384)")
    with assert_raises(GeometryError, "downsampled_size(100)"):
        shapes.downsampled_size(100)  # 100 → 50 → 25 → 12.5: the notes' rule B1 calls it invalid


@pytest.mark.spec("D8", "F8", "B10")
@pytest.mark.ops("conv_transpose")
@given(data=st.data())
def test_transposed_convolution_multiplies_by_c_transpose(backend, caps, tolerance, data):
    """Transposed convolution multiplies by ``C^T`` (D8, F8), C the matrix of the forward
    convolution on the transposed output size (B10): the backend's conv_transpose equals the
    product with ``C^T`` built by the reference."""
    require(caps, "conv_transpose")
    ranks = [r for r in (1, 2) if r in caps.ranks]
    if not ranks:
        pytest.skip("the dense matrix C is built for 1-D and 2-D layers")
    draw = Strategies(caps)
    ex = data.draw(draw.conv_examples(transposed=True, ranks=ranks, max_extra=3, max_batch=3,
                                      max_channels_per_group=2, max_groups=2),
                   label="example")
    g = ex.geometry
    y = call(backend, "conv_transpose", ex.x, ex.w, ex.b, **ex.kwargs)
    want = reference.conv_transpose_by_matrix(f64(ex.x), f64(ex.w), f64(ex.b), **ex.kwargs)
    _, (magnitude,) = reference_outputs("conv_transpose", (ex.x, ex.w, ex.b), ex.kwargs)
    expect_close(y, want, magnitude, g.reduction_length + 1,
                 tolerance(ex.dtype), what="conv_transpose differs from C^T z (D8)")


@pytest.mark.spec("D8", "E1", "A4")
@pytest.mark.ops("conv", "conv_transpose")
@given(data=st.data())
def test_the_notes_one_dimensional_transposed_example(backend, caps, tolerance, data):
    """The notes' example (D8): a 3-tap kernel maps 5 inputs to 3; C is 3×5 and
    ``x = C^T z = rot180(w) ~⊗ z`` has 5 entries: the backend's conv_transpose, the product
    with ``C^T``, and the backend's wide correlation with the rotated kernel agree."""
    require(caps, "conv", "conv_transpose", rank=1, because="the example is 1-D")
    dtype = data.draw(dtypes(caps), label="dtype")
    z = data.draw(tensors(dtype, (3,)), label="z")
    w = data.draw(tensors(dtype, (3,)), label="w")
    found = shapes.transposed_matrix_shapes(5, 3)
    assert_equal("transposed_matrix_shapes(5, 3) (conv, transposed)",
                 (found.conv, found.transposed), ((3, 5), (5, 3)))
    matrix = reference.conv_matrix(f64(w)[None, None], (5,), stride=(1,), padding=((0, 0),),
                                   dilation=(1,), groups=1)
    assert_shape("C", matrix.shape, found.conv, call="conv_matrix of a 3-tap kernel on (5,)")
    g = ConvGeometry.make(1, 1, (3,), transposed=True, bias=False)
    transposed = call(backend, "conv_transpose", z[None, None], w[None, None], None,
                      **g.conv_transpose_kwargs())[0, 0]
    wide = ConvGeometry.make(1, 1, (3,), padding=2, bias=False)
    correlation = call(backend, "conv", z[None, None], w[::-1][None, None].copy(), None,
                       **wide.conv_kwargs())[0, 0]
    tol = tolerance(dtype)
    for got, what in ((transposed, "conv_transpose"), (correlation, "rot180(w) ~⊗ z")):
        assert_shape(what, got.shape, (5,), call=f"z (3,), w (3,) in {dtype}")
        _matrix_product_check(got, matrix.T, f64(z), tol, f"{what} differs from C^T z")
    assert_array_equal("wide_correlate(rot180(w), z)",
                       reference.wide_correlate(reference.rot180(f64(w)), f64(z)),
                       matrix.T @ f64(z), call="z (3,), w (3,)")
