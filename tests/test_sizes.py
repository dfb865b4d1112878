"""Size arithmetic of section B: every worked number in the notes, per-axis forms, bad input."""

from __future__ import annotations

import pytest

from convspec import (
    GeometryError,
    conv_output_size,
    effective_kernel_size,
    full_padded_size,
    narrow_output_size,
    pool_output_size,
    same_padding,
    size_after_layers,
    transposed_output_size,
    wide_output_size,
    wide_padding,
    zero_inserted_size,
)


@pytest.mark.spec("B1", "B6")
def test_worked_examples_of_seed_001() -> None:
    assert conv_output_size(227, 11, stride=4) == 55  # AlexNet conv1
    assert conv_output_size(227, 11, stride=4) ** 2 == 3025  # 55×55 positions
    assert conv_output_size(5, 3, stride=2, padding=1) == 3  # the demo W=5, F=3, S=2, P=1
    assert conv_output_size(5, 3, stride=2, padding=1, rounding="exact") == 3


@pytest.mark.spec("B1")
def test_non_integer_output_is_invalid_under_the_notes_rule() -> None:
    with pytest.raises(GeometryError, match=r"4\.5 is not an integer") as info:
        conv_output_size(10, 3, stride=2, rounding="exact")
    message = str(info.value)
    assert "(10 - 3 + 2*0)/2 + 1" in message and "stride 1" in message and "padding" in message
    assert conv_output_size(10, 3, stride=2) == 4  # libraries floor
    assert conv_output_size(10, 3, stride=2, rounding="ceil") == 5
    assert conv_output_size(10, 3, stride=2, padding=(0, 1), rounding="exact") == 5  # the fix


@pytest.mark.spec("B1", "B7")
def test_general_formula_with_dilation_and_asymmetric_padding() -> None:
    # (n + pb + pa - d(k-1) - 1)/s + 1 = (20 + 1 + 2 - 2*2 - 1)/3 + 1 = 7
    assert conv_output_size(20, 3, stride=3, padding=(1, 2), dilation=2) == 7
    assert conv_output_size(7, 3, dilation=3) == 1


@pytest.mark.spec("B1")
def test_per_axis_tuples_give_tuples() -> None:
    assert conv_output_size((227, 100), (11, 3), stride=(4, 1), padding=(0, 1)) == (55, 100)
    assert conv_output_size((8, 8), 3, padding=((0, 1), (1, 1))) == (7, 8)
    assert conv_output_size(8, (3, 5)) == (6, 4)
    with pytest.raises(GeometryError, match="spatial axis 1"):
        conv_output_size((8, 2), 3)
    with pytest.raises(GeometryError, match="entries"):
        conv_output_size((8, 8), (3, 3, 3))


@pytest.mark.spec("B2", "B3", "E1")
def test_narrow_and_wide() -> None:
    assert narrow_output_size(10, 3) == 10 - 3 + 1
    assert wide_padding(3) == 2 and wide_padding((3, 5)) == (2, 4)
    assert wide_output_size(10, 3) == 10 + 3 - 1
    assert full_padded_size((6, 7), (3, 2)) == (6 + 2 * 3 - 2, 7 + 2 * 2 - 2)  # (M+2m-2)×(N+2n-2)


@pytest.mark.spec("B4")
def test_same_padding_conventions() -> None:
    assert same_padding(9, 3) == (1, 1)  # p = (m-1)/2
    assert conv_output_size(9, 3, padding=same_padding(9, 3)) == 9
    assert same_padding(9, 4) == (1, 2)  # torch: the extra element after
    assert same_padding(9, 4, convention="tf") == (1, 2)
    assert same_padding(9, 4, convention="onnx_upper") == (1, 2)
    assert same_padding(9, 4, convention="onnx_lower") == (2, 1)
    assert same_padding(10, 3, stride=2, convention="tf") == (0, 1)  # ceil(10/2) = 5 outputs
    assert same_padding((9, 9), (3, 4)) == ((1, 1), (1, 2))
    with pytest.raises(GeometryError, match="stride 1"):
        same_padding(10, 3, stride=2)
    with pytest.raises(GeometryError, match="convention"):
        same_padding(10, 3, convention="keras")


@pytest.mark.spec("B4")
@pytest.mark.parametrize("convention", ["tf", "onnx_upper", "onnx_lower"])
@pytest.mark.parametrize("n", range(1, 13))
@pytest.mark.parametrize("kernel,stride,dilation", [(1, 1, 1), (2, 2, 1), (3, 2, 1), (4, 3, 1),
                                                    (3, 1, 2), (5, 4, 2)])
def test_same_padding_gives_ceil_n_over_s(convention: str, n: int, kernel: int, stride: int,
                                          dilation: int) -> None:
    pad = same_padding(n, kernel, stride=stride, dilation=dilation, convention=convention)
    out = conv_output_size(n, kernel, stride=stride, padding=pad, dilation=dilation)
    assert out == -(-n // stride)


@pytest.mark.spec("B5")
def test_m_plus_minus_k_minus_1_times_d() -> None:
    m, k = 32, 3
    for depth in range(6):
        assert size_after_layers(m, k, depth) == m - (k - 1) * depth
        assert size_after_layers(m, k, depth, mode="full") == m + (k - 1) * depth
        assert size_after_layers(m, k, depth, mode="same") == m
    with pytest.raises(GeometryError, match="layer 3 of 4"):
        size_after_layers(6, 3, 4)  # 6 → 4 → 2 → vanishes
    with pytest.raises(GeometryError, match="even kernel"):
        size_after_layers(6, 4, 1, mode="same")


@pytest.mark.spec("B7")
def test_dilated_kernel_size() -> None:
    assert effective_kernel_size(3, 1) == 3
    assert effective_kernel_size(3, 2) == 5  # m + (m-1)(d-1)
    assert effective_kernel_size(3, 4) == 9
    assert effective_kernel_size((3, 5), (2, 3)) == (5, 13)
    for m in range(1, 8):
        for d in range(1, 6):
            assert effective_kernel_size(m, d) == m + (m - 1) * (d - 1)


@pytest.mark.spec("B9", "G2")
def test_pooling_sizes() -> None:
    assert pool_output_size(224, 2) == 112  # F=2, S=2 keeps 25% of the activations
    assert pool_output_size((224, 224), 2) == (112, 112)
    assert pool_output_size(55, 3, stride=2) == 27  # overlapping pooling in AlexNet
    assert pool_output_size(32, 5, stride=1) == 28  # (W1-F)/S+1
    assert pool_output_size(5, 2, stride=2, ceil_mode=True) == 3
    # ceil_mode: a last window starting beyond the input and its left padding is dropped
    assert pool_output_size(4, 2, stride=2, padding=1, ceil_mode=True) == 3
    assert pool_output_size(5, 3, stride=2, padding=1, ceil_mode=True) == 3
    with pytest.raises(GeometryError, match="half the window"):
        pool_output_size(10, 2, padding=2)
    with pytest.raises(GeometryError, match="ceil_mode"):
        pool_output_size(10, 2, ceil_mode=1)  # type: ignore[arg-type]


@pytest.mark.spec("B10", "F9")
def test_transposed_sizes() -> None:
    l, m = 7, 4
    assert transposed_output_size(l, m) == l + m - 1  # stride 1: pad m-1 each side
    for s in range(1, 5):
        assert transposed_output_size(l, m, stride=s) == s * (l - 1) + m
        assert zero_inserted_size(l, s) == 1 + s * (l - 1)  # s-1 zeros between inputs
        assert (zero_inserted_size(l, s) + 2 * (m - 1) - m + 1) == s * (l - 1) + m
    assert transposed_output_size(3, 3, stride=2, padding=1, output_padding=1) == 6
    assert transposed_output_size(3, 3, stride=1, dilation=2, output_padding=1) == 8
    assert transposed_output_size((3, 4), (3, 2), stride=(2, 1)) == (7, 5)
    with pytest.raises(GeometryError, match="output_padding 2 must be smaller"):
        transposed_output_size(3, 3, stride=2, output_padding=2)
    with pytest.raises(GeometryError, match="< 1"):
        transposed_output_size(1, 1, padding=1)


@pytest.mark.parametrize("function,args", [
    (conv_output_size, (10, 3)), (pool_output_size, (10, 3)), (transposed_output_size, (10, 3)),
    (same_padding, (10, 3)), (effective_kernel_size, (3,)), (wide_output_size, (10, 3)),
])
@pytest.mark.parametrize("bad", [2.0, True, -1, 0, "3", None])
def test_bad_sizes_raise_geometry_error(function, args, bad) -> None:
    for position in range(len(args)):
        broken = list(args)
        broken[position] = bad
        with pytest.raises(GeometryError) as info:
            function(*broken)
        assert info.value.args[0]  # a message, never a bare error


@pytest.mark.parametrize("keyword", ["stride", "dilation"])
@pytest.mark.parametrize("bad", [0, -2, 1.5, False])
def test_zero_or_bad_stride_and_dilation(keyword: str, bad) -> None:
    with pytest.raises(GeometryError, match=keyword):
        conv_output_size(10, 3, **{keyword: bad})
    with pytest.raises(GeometryError, match=keyword):
        transposed_output_size(10, 3, **{keyword: bad})


def test_bad_padding_and_rounding() -> None:
    with pytest.raises(GeometryError, match="padding"):
        conv_output_size(10, 3, padding=-1)
    with pytest.raises(GeometryError, match="before, after"):
        conv_output_size(10, 3, padding=(1, 2, 3))
    with pytest.raises(GeometryError, match="rounding"):
        conv_output_size(10, 3, rounding="round")
    with pytest.raises(GeometryError, match="larger than the padded input"):
        conv_output_size(2, 5)
    with pytest.raises(GeometryError, match="depth"):
        size_after_layers(10, 3, -1)
