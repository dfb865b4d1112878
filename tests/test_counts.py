"""Parameter and compute counts of section C."""

from __future__ import annotations

from fractions import Fraction

import pytest

from convspec import (
    GeometryError,
    asymmetric_factorization_params,
    bottleneck_params,
    connection_table_params,
    conv_macs,
    conv_params,
    depthwise_separable_macs,
    depthwise_separable_params,
    locally_connected_params,
    model_macs,
    model_params,
    spatially_separable_counts,
    stacked_kernel_layers,
    stacked_kernel_params,
    tiled_conv_params,
    trainable_pool_params,
)


@pytest.mark.spec("C1")
def test_conv_params_worked_numbers() -> None:
    assert conv_params(3, 1, 5, bias=False) == 75  # a 5×5×3 receptive field: 75 weights
    assert conv_params(3, 1, 5) == 75 + 1  # plus one bias
    assert conv_params(3, 96, 11, bias=False) == 96 * 11 * 11 * 3 == 34_848
    assert conv_params(3, 96, 11) == 34_944  # AlexNet conv1
    P, D, m, n = 7, 4, 3, 2
    assert conv_params(D, P, (m, n)) == P * D * m * n + P
    assert conv_params(2, 3, 5, ndim=1) == 3 * 2 * 5 + 3
    assert conv_params(2, 3, (3, 3, 3)) == 3 * 2 * 27 + 3


@pytest.mark.spec("C3", "C4")
def test_grouped_counts_match_the_notes_formulas() -> None:
    c_i, c_o, g, wk, hk = 8, 12, 4, 3, 5
    assert conv_params(c_i, c_o, (hk, wk), groups=g, bias=False) == g * wk * hk * (c_i // g) * (c_o // g)
    h_o, w_o = 10 - hk + 1, 11 - wk + 1
    assert conv_macs((1, c_i, 10, 11), c_o, (hk, wk)) == wk * hk * c_i * w_o * h_o * c_o
    assert conv_macs((1, c_i, 10, 11), c_o, (hk, wk), groups=g) == (
        g * wk * hk * (c_i // g) * w_o * h_o * (c_o // g))
    assert conv_macs((2, 3, 227, 227), 96, 11, stride=4) == 2 * 55 * 55 * 96 * 363
    assert conv_macs((1, 4, 9), 2, 3, padding=1, dilation=1) == 9 * 2 * 4 * 3


@pytest.mark.spec("C2", "E21")
def test_connection_table() -> None:
    table = [[1, 1, 0], [0, 1, 1]]  # P=2 outputs, D=3 inputs, K=4 connections
    assert connection_table_params(table, (5, 5)) == 4 * 5 * 5 + 2
    assert connection_table_params(table, 3, bias=False) == 4 * 9
    full = [[1] * 3] * 2
    assert connection_table_params(full, 3) == conv_params(3, 2, 3)
    with pytest.raises(GeometryError, match="0 or 1"):
        connection_table_params([[2]], 3)
    with pytest.raises(GeometryError, match="rectangular"):
        connection_table_params([[1, 0], [1]], 3)
    with pytest.raises(GeometryError, match="P×D"):
        connection_table_params([], 3)


@pytest.mark.spec("C5", "E12")
@pytest.mark.parametrize("n", [2, 3, 5, 7])
def test_asymmetric_factorization_ratio(n: int) -> None:
    C = 16
    counts = asymmetric_factorization_params(n, C)
    assert counts.original == n * n * C * C
    assert counts.replacement == 2 * n * C * C
    assert counts.ratio == Fraction(2, n)


@pytest.mark.spec("C6")
def test_bottleneck() -> None:
    c_i, c_o, k = 64, 256, 3
    counts = bottleneck_params(c_i, c_o, k)
    assert counts.original == c_i * c_o * k * k
    assert counts.replacement == c_i * 16 + k * k * c_o + 16 ** 3  # C_I√C_O + WKHK·C_O + C_O^{3/2}
    assert bottleneck_params(c_i, 250, k, width=10).replacement == c_i * 10 + 9 * 100 + 10 * 250
    with pytest.raises(GeometryError, match="perfect square"):
        bottleneck_params(64, 250, 3)


@pytest.mark.spec("C7", "E13")
def test_stacked_kernels() -> None:
    assert stacked_kernel_layers(5, 3) == 2  # k-1 = n(k'-1)
    assert stacked_kernel_layers(7, 3) == 3
    assert stacked_kernel_layers(7, 4) == 2
    with pytest.raises(GeometryError, match="no integer n"):
        stacked_kernel_layers(6, 3)
    with pytest.raises(GeometryError, match="small_kernel"):
        stacked_kernel_layers(5, 1)
    two_3x3 = stacked_kernel_params(5, 3)
    assert (two_3x3.original, two_3x3.replacement) == (26, 20)  # both biases counted
    assert stacked_kernel_params(5, 3, bias=False).replacement == 18
    wide = stacked_kernel_params(7, 3, in_channels=3, out_channels=8)
    assert wide.replacement == conv_params(3, 8, 3) + 2 * conv_params(8, 8, 3)


@pytest.mark.spec("C8", "E10")
def test_depthwise_separable() -> None:
    C, C_O, k = 32, 64, 3
    counts = depthwise_separable_params(C, C_O, k)
    assert counts.original == C * C_O * k * k
    assert counts.replacement == C * k * k + C * C_O
    assert counts.ratio == Fraction(1, C_O) + Fraction(1, k * k)
    macs = depthwise_separable_macs((1, C, 14, 14), C_O, k, padding=1)
    assert macs.original == 14 * 14 * C * C_O * k * k
    assert macs.replacement == 14 * 14 * (C * k * k + C * C_O)


@pytest.mark.spec("C9", "E11")
def test_spatially_separable() -> None:
    counts = spatially_separable_counts(3, (1, 1, 10, 10))
    assert (counts.params.original, counts.params.replacement) == (9, 6)
    assert counts.macs.original == 9 * 8 * 8
    assert counts.macs.replacement == 3 * 8 * 10 + 3 * 8 * 8  # fewer multiplies
    assert counts.macs.replacement < counts.macs.original


@pytest.mark.spec("C10", "E22")
def test_locally_connected_and_tiled() -> None:
    positions = 6 * 6
    assert locally_connected_params((1, 3, 8, 8), 4, 3, bias=False) == positions * conv_params(3, 4, 3, bias=False)
    assert locally_connected_params((1, 3, 8, 8), 4, 3) == positions * (4 * 27 + 4)
    assert tiled_conv_params(3, 4, 3, 1) == conv_params(3, 4, 3)  # t = 1 is a convolution
    assert tiled_conv_params(3, 4, 3, 5) == 5 * conv_params(3, 4, 3)
    with pytest.raises(GeometryError, match="tiles"):
        tiled_conv_params(3, 4, 3, 0)


@pytest.mark.spec("C11")
def test_model_totals() -> None:
    assert 55e6 < model_params("alexnet") < 65e6  # "about 60 million"
    assert 135e6 < model_params("vgg16") < 145e6  # "about 140 million"
    assert model_macs("vgg16") == 15_470_264_320
    with pytest.raises(GeometryError, match="unknown network"):
        model_params("lenet")


@pytest.mark.spec("C13", "G5")
def test_trainable_pool() -> None:
    assert trainable_pool_params(6) == 12
    with pytest.raises(GeometryError):
        trainable_pool_params(0)


@pytest.mark.parametrize("call", [
    lambda: conv_params(3, 4, 3, groups=2),
    lambda: conv_params(0, 4, 3),
    lambda: conv_params(3, 4, 0),
    lambda: conv_params(3, 4, 2.5),
    lambda: conv_params(True, 4, 3),
    lambda: conv_macs((1, 3), 4, 3),
    lambda: conv_macs((1, 3, 8, 8), 4, 3, stride=0),
    lambda: conv_macs((1, 3, 2, 2), 4, 3),
    lambda: conv_macs("1,3,8,8", 4, 3),
    lambda: conv_macs((1, 3, 8.0, 8), 4, 3),
    lambda: asymmetric_factorization_params(0, 4),
    lambda: depthwise_separable_params(3, 4, -1),
    lambda: spatially_separable_counts(3, (1, 1, 2, 2)),
    lambda: locally_connected_params((1, 3, 8, 8), 4, 9),
])
def test_bad_input_raises_geometry_error(call) -> None:
    with pytest.raises(GeometryError):
        call()
