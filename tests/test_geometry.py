"""ConvGeometry and PoolGeometry: normalization, shapes, counts, adjoints, validation."""

from __future__ import annotations

import dataclasses
import itertools
import random

import numpy as np
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


# --- the size arithmetic every caller asks the geometry for, against brute force -------------

def _random_conv(rng: random.Random, rank: int, transposed: bool) -> ConvGeometry:
    stride = tuple(rng.randint(1, 3) for _ in range(rank))
    dilation = tuple(rng.randint(1, 3) for _ in range(rank))
    padding = tuple((rng.randint(0, 3), rng.randint(0, 3)) for _ in range(rank))
    if transposed:
        padding = tuple((b, b) for b, _ in padding)
    output_padding = (tuple(rng.randint(0, max(s, d) - 1) for s, d in zip(stride, dilation))
                      if transposed else 0)
    return ConvGeometry.make(2, 2, tuple(rng.randint(1, 4) for _ in range(rank)), stride=stride,
                             padding=padding, dilation=dilation, transposed=transposed,
                             output_padding=output_padding)


def _random_pool(rng: random.Random, rank: int) -> PoolGeometry:
    kernel = tuple(rng.randint(1, 4) for _ in range(rank))
    dilation = tuple(rng.randint(1, 3) for _ in range(rank))
    padding = tuple(rng.randint(0, (d * (k - 1) + 1) // 2) for k, d in zip(kernel, dilation))
    return PoolGeometry.make(kernel, stride=tuple(rng.randint(1, 3) for _ in range(rank)),
                             padding=padding, dilation=dilation, ceil_mode=rng.random() < 0.5)


def _accepted(geometry, spatial) -> tuple[int, ...] | None:
    try:
        return geometry.output_spatial(spatial)
    except GeometryError:
        return None


def _literal_reads(geometry, axis: int, o: int, n: int) -> list[int]:
    """Every (input i, tap j) pair of the index formulas (A3, B8; B10 scatters i to o)."""
    k, s, d = geometry.kernel[axis], geometry.stride[axis], geometry.dilation[axis]
    before = geometry.padding[axis]
    before = before[0] if isinstance(before, tuple) else before
    if getattr(geometry, "transposed", False):
        return [i for i in range(n) for j in range(k) if i * s - before + j * d == o]
    return [i for i in range(n) for j in range(k) if o * s - before + j * d == i]


@pytest.mark.spec("A3", "B8", "B10", "E5", "G1")
def test_input_positions_are_the_index_formulas_pairs() -> None:
    rng = random.Random(15)
    checked = 0
    for trial in range(300):
        rank = rng.randint(1, 2)
        kind = trial % 3
        g = _random_pool(rng, rank) if kind == 2 else _random_conv(rng, rank, kind == 1)
        spatial = tuple(rng.randint(1, 9) for _ in range(rank))
        out = _accepted(g, spatial)
        if out is None:
            continue
        reading: dict[tuple[int, ...], set[tuple[int, ...]]] = {}
        for position in itertools.product(*(range(m) for m in out)):
            reads = g.input_positions(position, spatial)
            assert reads == tuple(tuple(_literal_reads(g, a, o, n)) for a, (o, n)
                                  in enumerate(zip(position, spatial))), (g, spatial, position)
            for cell in itertools.product(*reads):
                reading.setdefault(cell, set()).add(position)
            checked += 1
        for cell in itertools.product(*(range(n) for n in spatial)):
            readers = set(itertools.product(*g.output_positions(cell, spatial)))
            assert readers == reading.get(cell, set()), (g, spatial, cell)
    assert checked > 2000


@pytest.mark.spec("E5")
@pytest.mark.parametrize("transposed", [False, True])
def test_input_positions_are_what_the_reference_output_depends_on(transposed) -> None:
    """A one-hot input changes exactly the outputs whose input_positions hold it."""
    from convspec import reference

    rng = random.Random(5 + transposed)
    for _ in range(60):
        g = dataclasses.replace(_random_conv(rng, 1, transposed), in_channels=1, out_channels=1,
                                bias=False)
        n = rng.randint(1, 8)
        if _accepted(g, (n,)) is None:
            continue
        w = np.ones(g.weight_shape)
        run = reference.conv_transpose if transposed else reference.conv
        for i in range(n):
            x = np.zeros((1, 1, n))
            x[0, 0, i] = 1
            y = run(x, w, None, **g.kwargs())[0, 0]
            assert tuple(np.flatnonzero(y)) == g.output_positions((i,), (n,))[0], (g, n, i)


def test_positions_outside_the_extent_are_rejected() -> None:
    g = ConvGeometry.make(1, 1, 3, ndim=1)
    with pytest.raises(GeometryError, match="outside the extent"):
        g.input_positions((3,), (5,))
    with pytest.raises(GeometryError, match="axes"):
        PoolGeometry.make(2, ndim=2).output_positions((0,), (4, 4))


@pytest.mark.spec("B1", "B10")
def test_input_spatial_for_is_the_smallest_input_reaching_the_output() -> None:
    rng = random.Random(1)
    for trial in range(400):
        g = _random_conv(rng, 1, transposed=trial % 2 == 1)
        target = rng.randint(1, 6)
        smallest = next(n for n in range(1, 100)
                        if (_accepted(g, (n,)) or (0,))[0] >= target)
        assert g.input_spatial_for((target,)) == (smallest,), (g, target)
        assert all((_accepted(g, (n,)) or (0,))[0] >= target
                   for n in range(smallest, smallest + 8))
        first = next(n for n in range(1, 100) if _accepted(g, (n,)) is not None)
        assert g.min_input_spatial() == (first,)
    g = _random_conv(rng, 3, transposed=False)
    assert g.min_input_spatial() == tuple(
        ConvGeometry.make(2, 2, (k,), stride=s, padding=(p,), dilation=d).min_input_spatial()[0]
        for k, s, p, d in zip(g.kernel, g.stride, g.padding, g.dilation))


@pytest.mark.spec("B9")
def test_pool_min_input_spatial_is_the_smallest_accepted_input() -> None:
    rng = random.Random(2)
    for _ in range(400):
        g = _random_pool(rng, 1)
        first = next(n for n in range(1, 100) if _accepted(g, (n,)) is not None)
        assert g.min_input_spatial() == (first,), g
        assert all(_accepted(g, (n,)) for n in range(first, first + 8))
        assert g.min_input_spatial(small_inputs=False) == (max(first, g.effective_kernel[0]),)


@pytest.mark.spec("B9")
def test_window_padding_lets_floor_windowing_give_the_ceil_mode_windows() -> None:
    """The least ``after`` (at least ``p``) under which floor-mode windows number the output."""
    rng = random.Random(3)
    for _ in range(600):
        g = _random_pool(rng, 1)
        n = rng.randint(1, 12)
        out = _accepted(g, (n,))
        if out is None:
            continue
        keff, s, p = g.effective_kernel[0], g.stride[0], g.padding[0]
        after = next(a for a in range(p, p + keff + s)
                     if n + p + a >= keff and (n + p + a - keff) // s + 1 == out[0])
        assert g.window_padding((n,)) == ((p, after),), (g, n)
    g = PoolGeometry.make((3, 2), stride=2, ceil_mode=True)
    assert g.window_padding((6, 5)) == ((0, 1), (0, 1))


@pytest.mark.spec("C3", "G1")
def test_volumes() -> None:
    g = ConvGeometry.make(6, 4, (3, 5), groups=2, padding=((1, 0), 2))
    assert g.kernel_volume == 15 and g.reduction_length == 3 * 15
    assert g.output_volume((7, 7)) == 6 * 7
    assert g.transform_length((7, 7)) == (7 + 1 + 3) * (7 + 4 + 5)
    pool = PoolGeometry.make((2, 3), stride=(2, 1), padding=(1, 1))
    assert pool.kernel_volume == 6
    assert pool.window_elements((2, 5, 7, 4)) == 2 * 5 * (4 * 4) * 6  # out (7+2-2)//2+1, 4


@pytest.mark.spec("G1")
def test_window_counts_are_the_taps_an_average_divides_by() -> None:
    rng = random.Random(4)
    for _ in range(300):
        g = dataclasses.replace(_random_pool(rng, 1), count_include_pad=rng.random() < 0.5)
        n = rng.randint(1, 10)
        out = _accepted(g, (n,))
        if out is None:
            continue
        k, s, d, p = g.kernel[0], g.stride[0], g.dilation[0], g.padding[0]
        low, high = (-p, n + p) if g.count_include_pad else (0, n)
        literal = tuple(sum(1 for j in range(k) if low <= o * s - p + j * d < high)
                        for o in range(out[0]))
        assert g.window_counts((n,)) == (literal,), (g, n)
    g = PoolGeometry.make(3, stride=2, padding=1, ceil_mode=True, count_include_pad=True, ndim=1)
    # windows [-1, 2), [1, 4), [3, 6) over input [0, 4) padded to [-1, 5): 5 is the overhang
    assert g.window_counts((4,)) == ((3, 3, 2),)
    assert dataclasses.replace(g, count_include_pad=False).window_counts((4,)) == ((2, 3, 1),)


@pytest.mark.parametrize("transposed", [False, True])
def test_reads_padding_only_is_an_output_with_no_input_cell(transposed) -> None:
    """reads_padding_only agrees with a scan of every output's input_positions."""
    for n, k, s, p, d in itertools.product((1, 2, 4), (1, 2, 3), (1, 2), (0, 1, 2), (1, 3)):
        try:
            g = ConvGeometry.make(1, 1, (k,), stride=s, padding=p, dilation=d,
                                  transposed=transposed)
            out = g.output_spatial((n,))
        except GeometryError:
            continue
        scan = any(not reads for o in range(out[0])
                   for reads in g.input_positions((o,), (n,)))
        assert g.reads_padding_only((n,)) is scan, (g, n)


def test_pool_overhangs_padding_only_with_ceil_mode_and_counted_padding() -> None:
    """x of length 4, kernel 3, stride 2, padding 1, ceil_mode: the last window reaches past
    the right padding; floor mode, or the padding left out of the divisor, do not count."""
    overhang = PoolGeometry.make((3,), stride=2, padding=1, ceil_mode=True)
    assert overhang.window_padding((4,)) == ((1, 2),)
    assert overhang.overhangs_padding((4,))
    assert not overhang.overhangs_padding((5,))
    assert not PoolGeometry.make((3,), stride=2, padding=1).overhangs_padding((4,))
    assert not PoolGeometry.make((3,), stride=2, padding=1, ceil_mode=True,
                                 count_include_pad=False).overhangs_padding((4,))
