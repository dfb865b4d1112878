"""ConvGeometry and PoolGeometry: normalization, shapes, counts, adjoints, validation."""

from __future__ import annotations

import dataclasses
import random

import pytest

from convspec import ConvGeometry, GeometryError, PoolGeometry


@pytest.mark.spec("B6", "B14", "C1")
def test_make_normalizes_and_answers() -> None:
    g = ConvGeometry.make(3, 96, 11, stride=4, ndim=2)
    assert g.kernel == (11, 11) and g.stride == (4, 4) and g.padding == ((0, 0), (0, 0))
    assert g.weight_shape == (96, 3, 11, 11) and g.bias_shape == (96,)
    assert g.output_shape((1, 3, 227, 227)) == (1, 96, 55, 55)
    assert g.params() == 34_944
    assert g.macs((1, 3, 227, 227)) == 55 * 55 * 96 * 363
    assert g.is_symmetric and g.symmetric_padding == (0, 0)
    assert g.operation == "conv" and g.conv_kwargs()["padding"] == ((0, 0), (0, 0))
    assert "ConvGeometry.make(" in g.describe()
    with pytest.raises(dataclasses.FrozenInstanceError):
        g.groups = 2  # type: ignore[misc]


@pytest.mark.spec("B14", "C4", "E9")
def test_grouped_and_transposed_weight_layouts() -> None:
    g = ConvGeometry.make(8, 12, (3, 5), groups=4)
    assert g.weight_shape == (12, 2, 3, 5)
    t = ConvGeometry.make(8, 12, (3, 5), groups=4, transposed=True, stride=2)
    assert t.weight_shape == (8, 3, 3, 5)
    assert t.output_shape((1, 8, 4, 4)) == (1, 12, 9, 11)
    assert t.operation == "conv_transpose" and t.kwargs()["padding"] == (0, 0)


@pytest.mark.spec("F8", "F9", "D8")
def test_adjoint_for_restores_the_input_size() -> None:
    rng = random.Random(3)
    for _ in range(200):
        rank = rng.randint(1, 3)
        n = tuple(rng.randint(5, 12) for _ in range(rank))
        g = ConvGeometry.make(2, 4, tuple(rng.randint(1, 3) for _ in range(rank)),
                              stride=tuple(rng.randint(1, 3) for _ in range(rank)),
                              padding=tuple(rng.randint(0, 1) for _ in range(rank)),
                              dilation=tuple(rng.randint(1, 2) for _ in range(rank)))
        back = g.adjoint_for(n)
        assert back.transposed and back.in_channels == 4 and back.out_channels == 2
        assert back.weight_shape == g.weight_shape  # the same weight array serves both
        assert back.output_spatial(g.output_spatial(n)) == n
        assert back.macs((1, 4, *g.output_spatial(n))) == g.macs((1, 2, *n))
        assert back.adjoint() == dataclasses.replace(g, output_padding=(0,) * rank)


@pytest.mark.spec("B9", "G2", "G4")
def test_pool_geometry() -> None:
    p = PoolGeometry.make(3, stride=2, ndim=2)
    assert p.output_shape((1, 96, 55, 55)) == (1, 96, 27, 27)  # depth unchanged
    assert p.overlapping and not PoolGeometry.make(2, ndim=2).overlapping
    assert PoolGeometry.make(2, ndim=1).stride == (2,)  # stride defaults to the kernel
    assert p.max_pool_kwargs()["kernel"] == (3, 3)
    assert p.avg_pool_kwargs()["count_include_pad"] is True
    with pytest.raises(GeometryError, match="no dilation"):
        PoolGeometry.make(2, dilation=2, ndim=1).avg_pool_kwargs()


@pytest.mark.spec("G2")
@pytest.mark.parametrize("kernel, stride, dilation", [
    (3, 2, 1), (4, 2, 1), (2, 2, 1), (3, 1, 1), (5, 3, 1), (3, 2, 2), (4, 3, 2), (3, 4, 1),
    (4, 2, 3), ((4, 3, 3), (2, 1, 1), 1)])
def test_windows_per_input_counts_the_windows_over_an_interior_input(kernel, stride,
                                                                     dilation) -> None:
    p = PoolGeometry.make(kernel, stride=stride, dilation=dilation, ndim=3)
    per_axis = 1
    for k, s, d in zip(p.kernel, p.stride, p.dilation):  # windows o, taps j: s*o + d*j = x
        per_axis *= max(sum(1 for o in range(60) for j in range(k) if s * o + d * j == x)
                        for x in range(d * k, 40))
    assert p.windows_per_input == per_axis
    with pytest.raises(GeometryError, match="half the window"):
        PoolGeometry.make(2, padding=2, ndim=1)


@pytest.mark.parametrize("kwargs,match", [
    (dict(in_channels=3, out_channels=4, kernel=3, groups=2, ndim=2), "groups=2 does not divide"),
    (dict(in_channels=0, out_channels=4, kernel=3, ndim=2), "in_channels"),
    (dict(in_channels=3, out_channels=4, kernel=3), "number of spatial axes"),
    (dict(in_channels=3, out_channels=4, kernel=(3, 3, 3, 3)), "1 to 3"),
    (dict(in_channels=3, out_channels=4, kernel=(3, 3), stride=(1, 1, 1)), "entries"),
    (dict(in_channels=3, out_channels=4, kernel=(3, 3), ndim=3), "ndim=3"),
    (dict(in_channels=3, out_channels=4, kernel=3, stride=0, ndim=1), "stride"),
    (dict(in_channels=3, out_channels=4, kernel=3, output_padding=1, ndim=1), "only applies"),
    (dict(in_channels=3, out_channels=4, kernel=3, transposed=True, stride=2, output_padding=2,
          ndim=1), "output_padding"),
    (dict(in_channels=3, out_channels=4, kernel=3, bias=1, ndim=1), "True or False"),
    (dict(in_channels=3.0, out_channels=4, kernel=3, ndim=1), "integer"),
])
def test_invalid_geometry(kwargs, match) -> None:
    with pytest.raises(GeometryError, match=match):
        ConvGeometry.make(**kwargs)


def test_invalid_inputs_and_padding_forms() -> None:
    g = ConvGeometry.make(3, 4, 3, ndim=2)
    with pytest.raises(GeometryError, match="channels"):
        g.output_shape((1, 5, 8, 8))
    with pytest.raises(GeometryError, match="axes"):
        g.output_shape((1, 3, 8))
    with pytest.raises(GeometryError, match="larger than the padded input"):
        g.output_shape((1, 3, 2, 8))
    asym = ConvGeometry.make(3, 4, 3, padding=((0, 1), 1), ndim=2)
    assert asym.padding == ((0, 1), (1, 1)) and not asym.is_symmetric
    with pytest.raises(GeometryError, match="pads 0 before and 1 after"):
        asym.symmetric_padding
    with pytest.raises(GeometryError, match="conv_transpose_kwargs"):
        ConvGeometry.make(3, 4, 3, ndim=1, transposed=True).conv_kwargs()
    assert g.output_shape((0, 3, 8, 8)) == (0, 4, 6, 6)  # an empty batch is a valid input
