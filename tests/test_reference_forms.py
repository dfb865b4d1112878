"""Every other form in the notes, each checked against the fast ``conv`` path (or the plain
correlation of section A): classic convolution, matrix forms, variants, blocks, pooling."""

from __future__ import annotations

import numpy as np
import pytest

from convspec import ConvGeometry, GeometryError
from convspec import reference as ref

RNG = np.random.default_rng(4)


def ints(*shape: int) -> np.ndarray:
    return RNG.integers(-4, 5, shape).astype(np.float64)


def fast(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
    geometry = ConvGeometry.make(x.shape[1], w.shape[0], w.shape[2:], stride=stride,
                                 padding=padding, dilation=dilation, groups=groups)
    return ref.conv(x, w, b, **geometry.conv_kwargs())


# -- section A, E1, E2 ------------------------------------------------------------------------

@pytest.mark.spec("A1", "A2", "A4", "A6")
@pytest.mark.parametrize("shapes", [((3,), (8,)), ((2, 3), (5, 6)), ((2, 2, 3), (3, 4, 5))])
def test_convolution_is_correlation_with_the_rotated_kernel(shapes):
    w, x = ints(*shapes[0]), ints(*shapes[1])
    np.testing.assert_array_equal(ref.convolve(w, x), ref.correlate(ref.rot180(w), x))
    # the library op (A6) is the correlation
    y = fast(x[None, None], w[None, None])
    np.testing.assert_array_equal(y[0, 0], ref.correlate(w, x))


@pytest.mark.spec("A1")
def test_one_dimensional_convolution_by_the_notes_index_formula():
    w, x = ints(3), ints(7)
    y = ref.convolve(w, x)
    # y_t = Σ_{k=1..m} w_k x_{t-k+1}, t = m..n (1-based)
    expected = [sum(w[k - 1] * x[t - k] for k in range(1, 4)) for t in range(3, 8)]
    np.testing.assert_array_equal(y, expected)


@pytest.mark.spec("A5", "A2")
def test_full_convolution_commutes():
    w, x = ints(2, 3), ints(4, 5)
    np.testing.assert_array_equal(ref.convolve(w, x, mode="full"),
                                  ref.convolve(x, w, mode="full"))


@pytest.mark.spec("E1", "B3")
def test_wide_correlation_is_correlation_of_the_full_padded_input():
    w, x = ints(2, 3), ints(4, 5)
    wide = ref.wide_correlate(w, x)
    assert wide.shape == (4 + 2 - 1, 5 + 3 - 1)
    np.testing.assert_array_equal(wide, ref.correlate(w, np.pad(x, ((1, 1), (2, 2)))))
    np.testing.assert_array_equal(wide, fast(x[None, None], w[None, None],
                                             padding=(1, 2))[0, 0])


@pytest.mark.spec("E2")
def test_wide_correlation_commutes_only_up_to_rotation():
    w, x = ints(2, 3), ints(4, 5)
    np.testing.assert_array_equal(ref.wide_correlate(ref.rot180(w), x),
                                  ref.wide_correlate(ref.rot180(x), w))
    assert not np.array_equal(ref.wide_correlate(w, x), ref.wide_correlate(x, w))
    np.testing.assert_array_equal(ref.wide_correlate(w, x), ref.rot180(ref.wide_correlate(x, w)))


def test_rot180_flips_only_the_requested_axes():
    w = ints(2, 3, 2, 2)
    np.testing.assert_array_equal(ref.rot180(w, 2), w[:, :, ::-1, ::-1])
    with pytest.raises(GeometryError):
        ref.rot180(w, 5)


# -- section D --------------------------------------------------------------------------------

@pytest.mark.spec("D1")
def test_toeplitz_matrix():
    w, x = ints(3), ints(6)
    t = ref.toeplitz_matrix(w, 6)
    np.testing.assert_array_equal(t @ x, ref.convolve(w, x, mode="full"))
    np.testing.assert_array_equal(ref.toeplitz_matrix(w, 6, mode="valid") @ x,
                                  ref.convolve(w, x))
    # each row is the previous one shifted right by one
    np.testing.assert_array_equal(t[1:, 1:], t[:-1, :-1])


@pytest.mark.spec("D2")
def test_circulant_matrix_and_full_convolution():
    w, x = ints(3), ints(5)
    c = ref.circulant_matrix(w, 7)
    np.testing.assert_array_equal(c[0], [w[0], 0, 0, 0, 0, w[2], w[1]])
    np.testing.assert_array_equal(np.roll(c, 1, axis=(0, 1)), c)
    np.testing.assert_array_equal(ref.circulant_convolve(w, x), ref.convolve(w, x, mode="full"))


@pytest.mark.spec("D3")
def test_doubly_block_circulant_matrix():
    k, image = ints(2, 3), ints(3, 4)
    g_b = ref.doubly_block_circulant(k, image.shape)
    m, n = 3 + 2 - 1, 4 + 3 - 1
    assert g_b.shape == (m * n, m * n)
    blocks = g_b.reshape(m, n, m, n).transpose(0, 2, 1, 3)
    for i in range(m):
        for j in range(m):
            np.testing.assert_array_equal(blocks[i, j], blocks[(i - j) % m, 0])
    np.testing.assert_array_equal(ref.block_circulant_convolve(k, image),
                                  ref.convolve(k, image, mode="full"))


@pytest.mark.spec("B11", "D4")
def test_im2col_shapes_of_alexnet_conv1():
    geometry = ConvGeometry.make(3, 96, (11, 11), stride=4)
    columns = ref.im2col_columns(np.zeros((3, 227, 227)), geometry)
    assert columns.shape == (363, 3025)


@pytest.mark.spec("D5", "E5")
def test_conv_matrix_is_sparse_and_tied():
    w = ints(2, 3, 3, 3)
    matrix = ref.conv_matrix(w, (6, 6), stride=(1, 1), padding=((0, 0), (0, 0)),
                             dilation=(1, 1), groups=1)
    assert matrix.shape == (2 * 16, 3 * 36)
    nonzero_per_row = np.count_nonzero(matrix, axis=1)
    assert nonzero_per_row.max() <= 27
    rows = matrix.reshape(2, 16, 3 * 36)
    # weight tying: every output position of channel 0 uses the same 27 weights
    assert all(sorted(r[r != 0]) == sorted(rows[0, 0][rows[0, 0] != 0]) for r in rows[0])


# -- section E, C10 ---------------------------------------------------------------------------

@pytest.mark.spec("E8")
def test_pointwise_conv_is_a_per_position_matrix_product():
    x, w = ints(2, 4, 3, 5), ints(6, 4)
    np.testing.assert_array_equal(ref.pointwise_conv(x, w), fast(x, w[:, :, None, None]))
    np.testing.assert_array_equal(ref.pointwise_conv(x, w)[1, :, 2, 3], w @ x[1, :, 2, 3])


@pytest.mark.spec("E10", "C8")
def test_depthwise_and_depthwise_separable():
    x, wd, wp = ints(2, 3, 6, 6), ints(6, 1, 3, 3), ints(5, 6)
    depth = ref.depthwise_conv(x, wd, stride=2, padding=1)
    np.testing.assert_array_equal(depth, fast(x, wd, stride=2, padding=1, groups=3))
    np.testing.assert_array_equal(ref.depthwise_separable_conv(x, wd, wp, stride=2, padding=1),
                                  ref.pointwise_conv(depth, wp))


@pytest.mark.spec("E11", "C9")
def test_spatially_separable_conv_equals_its_rank_one_kernel():
    x, a, b = ints(2, 3, 7, 6), ints(3), ints(3)
    kernel = ref.outer_kernel([a, b])
    assert kernel.shape == (3, 3) and np.linalg.matrix_rank(kernel) <= 1
    expected = fast(x, np.broadcast_to(kernel, (3, 1, 3, 3)).copy(), groups=3)
    np.testing.assert_array_equal(ref.spatially_separable_conv(x, [a, b]), expected)


@pytest.mark.spec("E14", "B7")
def test_dilated_kernel_has_the_span_of_b7():
    w = ints(2, 1, 3, 2)
    dilated = ref.dilate_kernel(w, (2, 3))
    assert dilated.shape[2:] == (2 * (3 - 1) + 1, 3 * (2 - 1) + 1)
    np.testing.assert_array_equal(dilated[:, :, ::2, ::3], w)
    assert np.count_nonzero(dilated) == np.count_nonzero(w)


@pytest.mark.spec("E21", "C2")
def test_connection_table_conv_is_conv_with_masked_weights():
    x, w, b = ints(2, 4, 6, 5), ints(3, 4, 3, 3), ints(3)
    table = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [1, 0, 0, 1]], dtype=bool)
    expected = fast(x, w * table[:, :, None, None], b, padding=1)
    np.testing.assert_array_equal(ref.connection_table_conv(x, w, b, table, padding=1),
                                  expected)


@pytest.mark.spec("E22", "C10")
def test_locally_connected_with_shared_weights_and_tiled_with_t1_are_convolutions():
    x, w, b = ints(2, 3, 7, 6), ints(4, 3, 3, 2), ints(4)
    y = fast(x, w, b, stride=(2, 1), padding=1)
    out = y.shape[2:]
    shared = np.broadcast_to(w, (*out, *w.shape)).copy()
    bias = np.broadcast_to(b[:, None, None], (4, *out)).copy()
    np.testing.assert_array_equal(
        ref.locally_connected(x, shared, bias, stride=(2, 1), padding=1), y)
    np.testing.assert_array_equal(ref.tiled_conv(x, w[None, None], b, stride=(2, 1),
                                                 padding=1), y)


@pytest.mark.spec("C10")
def test_tiled_conv_cycles_its_kernels():
    x, w = ints(1, 2, 6, 6), ints(2, 3, 1, 2, 2, 2)  # t = (2, 3)
    y = ref.tiled_conv(x, w)
    for i in range(y.shape[2]):
        for j in range(y.shape[3]):
            kernel = w[i % 2, j % 3]
            np.testing.assert_array_equal(y[:, :, i, j],
                                          fast(x[:, :, i:i + 2, j:j + 2], kernel)[:, :, 0, 0])


@pytest.mark.spec("E23", "B13")
def test_deformable_conv():
    x, w, b = ints(2, 4, 8, 7), ints(6, 2, 3, 3), ints(6)
    geometry = dict(stride=(2, 1), dilation=(1, 2), groups=2)
    y = fast(x, w, b, **geometry)
    offsets = np.zeros((2, 18, *y.shape[2:]))
    np.testing.assert_array_equal(ref.deformable_conv(x, offsets, w, b, **geometry), y)
    offsets[:, 0::2], offsets[:, 1::2] = 1, -2  # sample one row down, two columns left
    shifted = np.zeros_like(x)
    shifted[:, :, :-1, 2:] = x[:, :, 1:, :-2]
    np.testing.assert_array_equal(ref.deformable_conv(x, offsets, w, b, **geometry),
                                  fast(shifted, w, b, **geometry))


@pytest.mark.spec("E23")
def test_bilinear_sampling_interpolates_between_the_four_neighbours():
    image = ints(1, 1, 3, 3)
    value = ref.bilinear_sample(image, np.array([[0.25]]), np.array([[1.5]]))[0, 0, 0]
    top = (image[0, 0, 0, 1] + image[0, 0, 0, 2]) / 2
    bottom = (image[0, 0, 1, 1] + image[0, 0, 1, 2]) / 2
    assert value == pytest.approx(0.75 * top + 0.25 * bottom)
    assert ref.bilinear_sample(image, np.array([[-1.0]]), np.array([[0.0]]))[0, 0, 0] == 0


@pytest.mark.spec("B13")
def test_deformable_offsets_shape_is_checked():
    x, w = np.zeros((32, 64, 28, 28)), np.zeros((8, 64, 3, 3))
    with pytest.raises(GeometryError, match=r"\(32, 18, 28, 28\)"):
        ref.deformable_conv(x, np.zeros((32, 9, 28, 28)), w, None, padding=1)


# -- blocks -----------------------------------------------------------------------------------

@pytest.mark.spec("E20", "H4")
def test_multi_channel_layer_with_activation():
    x, w, b = ints(2, 3, 6, 5), ints(4, 3, 3, 2), ints(4)
    y = ref.conv_layer(x, w, b, activation=ref.relu, padding=1)
    np.testing.assert_array_equal(y, ref.relu(fast(x, w, b, padding=1)))


@pytest.mark.spec("E17")
def test_channel_shuffle_is_a_permutation_between_groups():
    x = np.arange(6.0).reshape(1, 6, 1)
    np.testing.assert_array_equal(ref.channel_shuffle(x, 2).ravel(), [0, 3, 1, 4, 2, 5])
    y = ints(2, 6, 3, 3)
    shuffled = ref.channel_shuffle(y, 3)
    assert sorted(shuffled.sum(axis=(0, 2, 3))) == sorted(y.sum(axis=(0, 2, 3)))
    np.testing.assert_array_equal(ref.channel_shuffle(shuffled, 2), y)


@pytest.mark.spec("E18")
def test_squeeze_excitation_reweights_channels_by_a_sigmoid_gate():
    x = RNG.standard_normal((2, 4, 5, 5))
    w1, b1, w2, b2 = (RNG.standard_normal(s) for s in ((2, 4), (2,), (4, 2), (4,)))
    y = ref.squeeze_excitation(x, w1, b1, w2, b2)
    gate = y / x
    squeezed = x.mean(axis=(2, 3))
    expected = 1 / (1 + np.exp(-(np.maximum(squeezed @ w1.T + b1, 0) @ w2.T + b2)))
    np.testing.assert_allclose(gate, expected[:, :, None, None] * np.ones_like(x), rtol=1e-12)


@pytest.mark.spec("E19")
def test_residual_unit_and_its_identity_gradient():
    x, w = RNG.standard_normal((1, 2, 5, 5)), RNG.standard_normal((2, 2, 3, 3))
    kwargs = ConvGeometry.make(2, 2, (3, 3), padding=1).conv_kwargs()
    h = ref.residual_unit(x, lambda a: ref.conv(a, w, None, **kwargs))
    np.testing.assert_allclose(h, x + ref.conv(x, w, None, **kwargs))
    dy = RNG.standard_normal(h.shape)
    # ∂h/∂x = I + ∂f/∂x: the vjp is dy plus the branch's vjp
    branch_dx = ref.conv_vjp(x, w, None, dy, **kwargs)[0]
    eps, direction = 1e-6, RNG.standard_normal(x.shape)
    f = (lambda a: np.sum(ref.residual_unit(a, lambda z: ref.conv(z, w, None, **kwargs)) * dy))
    slope = (f(x + eps * direction) - f(x - eps * direction)) / (2 * eps)
    assert slope == pytest.approx(np.sum((dy + branch_dx) * direction), rel=1e-6)
    with pytest.raises(GeometryError, match="same shape"):
        ref.residual_unit(x, lambda a: a[:, :1])


# -- pooling ----------------------------------------------------------------------------------

@pytest.mark.spec("G3")
def test_l2_pooling():
    x = RNG.standard_normal((2, 3, 6, 6))
    y = ref.l2_pool(x, kernel=(2, 2), stride=(2, 2))
    np.testing.assert_allclose(y[1, 2, 1, 2], np.sqrt(np.sum(x[1, 2, 2:4, 4:6] ** 2)))
    np.testing.assert_allclose(y ** 2, 4 * ref.avg_pool(x * x, kernel=(2, 2), stride=(2, 2),
                                                        padding=(0, 0), ceil_mode=False,
                                                        count_include_pad=True))


@pytest.mark.spec("G5", "C13", "G4")
@pytest.mark.parametrize("mode", ["sum", "avg", "max"])
def test_lenet_trainable_pooling(mode):
    x = RNG.standard_normal((2, 3, 6, 6))
    weight, bias = RNG.standard_normal(3), RNG.standard_normal(3)
    y = ref.trainable_pool(x, weight, bias, kernel=(2, 2), mode=mode, activation=np.tanh)
    kwargs = dict(kernel=(2, 2), stride=(2, 2), padding=(0, 0), ceil_mode=False)
    pooled = {"sum": 4 * ref.avg_pool(x, **kwargs, count_include_pad=True),
              "avg": ref.avg_pool(x, **kwargs, count_include_pad=True),
              "max": ref.max_pool(x, **kwargs, dilation=(1, 1))}[mode]
    np.testing.assert_allclose(y, np.tanh(weight[:, None, None] * pooled + bias[:, None, None]))


# -- section H re-exports ---------------------------------------------------------------------

@pytest.mark.spec("H4", "H5")
def test_training_formulas_are_reexported():
    from convspec.spec import training
    for name in ("relu", "leaky_relu", "softmax", "dropout", "momentum_step",
                 "momentum_step_delta"):
        assert getattr(ref, name) is getattr(training, name)
    np.testing.assert_array_equal(ref.relu(np.array([-1.0, 2.0])), [0.0, 2.0])
