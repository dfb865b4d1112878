"""Shapes of the matrix forms and conversions: B11-B13, D1-D3, D5-D8."""

from __future__ import annotations

import pytest

from convspec import (
    ConvGeometry,
    GeometryError,
    circulant_size,
    conv_as_fc,
    conv_matrix_shape,
    deformable_offset_shape,
    doubly_block_circulant_shape,
    downsampled_size,
    fc_as_conv,
    fc_stack_as_conv,
    im2col_shapes,
    score_map_size,
    toeplitz_shape,
    transposed_matrix_shapes,
)


@pytest.mark.spec("B11", "D4")
def test_im2col_alexnet_conv1() -> None:
    shapes = im2col_shapes((1, 3, 227, 227), 96, 11, stride=4)
    assert shapes.x_col == (363, 3025)
    assert shapes.w_row == (96, 363)
    assert shapes.product == (96, 3025)
    assert shapes.output == (1, 96, 55, 55)  # the product reshaped to 55×55×96
    assert shapes.gemms == 1
    grouped = im2col_shapes((2, 4, 6, 6), 6, 3, groups=2, padding=1)
    assert (grouped.x_col, grouped.w_row, grouped.gemms) == ((18, 36), (3, 18), 4)


@pytest.mark.spec("B12", "D7")
def test_fc_to_conv_score_map() -> None:
    assert downsampled_size(224) == 7  # 224 / 2^5
    assert downsampled_size(384) == 12
    score = score_map_size(384)
    assert (score.feature_size, score.kernel, score.positions) == (12, 7, 6)  # (12-7)/1+1 = 6
    assert score.shape == (1000, 6, 6)
    assert score.stride == 32
    assert score_map_size(224).shape == (1000, 1, 1)
    with pytest.raises(GeometryError, match="halving 5 of 5"):
        downsampled_size(208)  # 208 → 104 → 52 → 26 → 13 → 6.5


@pytest.mark.spec("B13")
def test_deformable_offsets() -> None:
    assert deformable_offset_shape((32, 64, 28, 28), 3, padding=1) == (32, 18, 28, 28)
    assert deformable_offset_shape((32, 64, 28, 28), 3) == (32, 18, 26, 26)
    assert deformable_offset_shape((1, 8, 9, 9), (3, 5), stride=2, offset_groups=2) == (1, 60, 4, 3)
    with pytest.raises(GeometryError, match="offset_groups"):
        deformable_offset_shape((1, 8, 9, 9), 3, offset_groups=3)


@pytest.mark.spec("D1", "D2", "D3")
def test_matrix_form_shapes() -> None:
    assert toeplitz_shape(5, 3) == (3, 5)
    assert toeplitz_shape(5, 3, padding=2) == (7, 5)  # full convolution
    assert circulant_size(5, 3) == 5 + 3 - 1
    form = doubly_block_circulant_shape((4, 5), (2, 3))
    assert form.padded == (4 + 2 - 1, 5 + 3 - 1)
    assert form.block == (7, 7) and form.blocks == (5, 5) and form.matrix == (35, 35)
    assert form.nonzero_blocks == 2
    with pytest.raises(GeometryError, match="pairs"):
        doubly_block_circulant_shape((4, 5, 6), (2, 3))


@pytest.mark.spec("D5")
def test_conv_as_sparse_tied_fc() -> None:
    layer = conv_as_fc(ConvGeometry.make(1, 1, 3, ndim=1), (5,))
    assert layer.shape == (3, 5)
    assert layer.nonzeros == 9 and layer.distinct_weights == 3
    assert layer.density == pytest.approx(9 / 15)
    padded = conv_as_fc(ConvGeometry.make(1, 1, 3, padding=1, ndim=1), (5,))
    assert padded.nonzeros == 13  # the two taps that read padding hold no weight
    alexnet = conv_as_fc(ConvGeometry.make(3, 96, 11, stride=4, ndim=2), (227, 227))
    assert alexnet.shape == (96 * 3025, 3 * 227 * 227)
    assert alexnet.nonzeros == 96 * 3025 * 363
    assert alexnet.density < 0.003
    grouped = conv_as_fc(ConvGeometry.make(4, 6, 1, groups=2, ndim=1), (3,))
    assert grouped.nonzeros == 3 * 6 * 2  # each output reads only its group's 2 channels


@pytest.mark.spec("D6")
def test_fc_as_conv() -> None:
    fc6 = fc_as_conv((1, 512, 7, 7), 4096)
    assert fc6.kernel == (7, 7) and fc6.padding == ((0, 0), (0, 0)) and fc6.out_channels == 4096
    assert fc6.output_shape((1, 512, 7, 7)) == (1, 4096, 1, 1)
    assert fc6.params() == 7 * 7 * 512 * 4096 + 4096
    stack = fc_stack_as_conv((1, 512, 7, 7), [4096, 4096, 1000])
    assert [g.kernel for g in stack] == [(7, 7), (1, 1), (1, 1)]
    assert stack[-1].output_shape((1, 4096, 1, 1)) == (1, 1000, 1, 1)
    assert stack[0].output_shape((1, 512, 12, 12)) == (1, 4096, 6, 6)  # D7's 6×6 positions


@pytest.mark.spec("D8", "F8")
def test_transposed_matrix() -> None:
    shapes = transposed_matrix_shapes(5, 3)
    assert shapes.conv == (3, 5) and shapes.transposed == (5, 3)
    strided = transposed_matrix_shapes((5, 6), (3, 3), stride=2, padding=1)
    assert strided.conv == (9, 30) and strided.transposed == (30, 9)
    geometry = ConvGeometry.make(2, 3, 3, stride=2, ndim=1)
    assert conv_matrix_shape(geometry.adjoint_for((7,)), (3,)) == (14, 9)  # C^T


@pytest.mark.parametrize("call", [
    lambda: im2col_shapes((1, 3, 5, 5), 4, 7),
    lambda: im2col_shapes((1, 3), 4, 3),
    lambda: im2col_shapes((1, 3, 5, 5), 4, 3, groups=2),
    lambda: score_map_size(0),
    lambda: score_map_size(100, 224),
    lambda: deformable_offset_shape((1, 3, 5, 5), 0),
    lambda: toeplitz_shape(2, 3),
    lambda: circulant_size(0, 3),
    lambda: fc_as_conv((1, 512, 7, 7), 0),
    lambda: fc_stack_as_conv((1, 512, 7, 7), []),
    lambda: conv_matrix_shape("conv", (5,)),
    lambda: conv_as_fc(ConvGeometry.make(1, 1, 3, transposed=True, ndim=1), (5,)),
    lambda: transposed_matrix_shapes(5, 3, stride=0),
])
def test_bad_input_raises_geometry_error(call) -> None:
    with pytest.raises(GeometryError):
        call()
