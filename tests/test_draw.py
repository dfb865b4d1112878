"""``convspec draw``: every picture's scene against the geometry, not pixels.

For sweeps of geometries: the output cells drawn are the geometry's output size, each frame's
shaded input cells (padding, inserted zeros and overhang left out) are the cells
``input_positions`` says the output reads, every tap of the kernel is drawn at its place
``o·s - p + j·d`` (dilation as gaps), a scatter writes where ``output_positions`` says, and a
one-hot input through the reference confirms the dependence. Then the renderer's files and the
command's arguments and usage errors.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from convspec.cli import main
from convspec.draw import (
    MAX_CELLS,
    DrawError,
    Plane,
    Scene,
    cells_of,
    channel_scene,
    render,
    scatter_scene,
    stack_scene,
    window_scene,
    zero_insert_scene,
)
from convspec.reference import ops
from convspec.spec.errors import GeometryError
from convspec.spec.geometry import ConvGeometry, PoolGeometry
from convspec.spec.receptive import has_gridding, receptive_field


def _conv_sweep(transposed: bool = False):
    """1-D layers over a grid of sizes, kernels, strides, paddings and dilations, plus 2-D ones
    mixing axes; those the geometry rejects are left out."""
    for n, k, s, d, before, after in itertools.product(range(1, 7), range(1, 4), range(1, 4),
                                                       range(1, 3), range(3), range(3)):
        if transposed and before != after:
            continue
        try:
            layer = ConvGeometry.make(1, 1, k, stride=s, dilation=d, padding=((before, after),),
                                      transposed=transposed, output_padding=0)
            layer.output_spatial((n,))
        except GeometryError:
            continue
        yield layer, (n,)
    for n, k, s in itertools.product((3, 5), (2, 3), (1, 2)):
        try:
            layer = ConvGeometry.make(1, 1, (k, 2), stride=(s, 1), dilation=(1, 2),
                                      padding=1 if transposed else ((1, 0), (0, 1)),
                                      transposed=transposed)
            layer.output_spatial((n, 4))
        except GeometryError:
            continue
        yield layer, (n, 4)


def _pool_sweep():
    for n, k, s, p, d, ceil in itertools.product(range(1, 8), range(1, 4), range(1, 4),
                                                 range(2), range(1, 3), (False, True)):
        try:
            pool = PoolGeometry.make(k, stride=s, padding=p, dilation=d, ceil_mode=ceil, ndim=1)
            pool.output_spatial((n,))
        except GeometryError:
            continue
        yield pool, (n,)
    yield PoolGeometry.make(3, stride=2, ceil_mode=True, ndim=2), (6, 5)
    yield PoolGeometry.make((2, 3), stride=(2, 2), padding=(1, 1), ndim=2), (5, 4)


def _id(value) -> str:
    if isinstance(value, (ConvGeometry, PoolGeometry)):
        pads = "".join(f"{b}{a}" if isinstance(b, int) and a != b else str(b)
                       for b, a in (p if isinstance(p, tuple) else (p, p) for p in value.padding))
        ceil = "c" if getattr(value, "ceil_mode", False) else ""
        return (f"k{'x'.join(map(str, value.kernel))}s{'x'.join(map(str, value.stride))}"
                f"d{'x'.join(map(str, value.dilation))}p{pads}{ceil}")
    return "n" + "x".join(map(str, value))


CONVS = list(_conv_sweep())
TRANSPOSED = list(_conv_sweep(transposed=True))
POOLS = list(_pool_sweep())


def _axis_taps(cells, axis: int) -> list[int]:
    return sorted({c[axis] for c in cells})


def _check_windows(scene: Scene, layer, spatial) -> None:
    """The checks every window picture (conv, pooling, zero-inserted conv_transpose) passes."""
    source, target = scene.plane("input"), scene.plane("output")
    out = layer.output_spatial(spatial)
    assert len(target.of_kind("output")) == math.prod(out), "output cells drawn"
    assert [f.step for f in scene.frames] == list(itertools.product(*map(range, out)))
    for frame in scene.frames:
        taps = frame.shaded["input"]
        assert taps <= set(source.cells), f"a tap of {frame.step} lies off the drawn plane"
        assert len(taps) == math.prod(layer.kernel), "every tap of the kernel is drawn"
        reads = cells_of(layer.input_positions(frame.step, spatial))
        assert source.positions(taps) == reads == frame.related, (
            f"output {frame.step}: shaded inputs {sorted(source.positions(taps))}, but the "
            f"geometry says {sorted(reads)} [{layer.describe()} on {spatial}]")
        assert frame.shaded["output"] == {target.cell_of(frame.step)}


def _checked_with_inputs(make, layer, spatial) -> tuple[Scene, Plane]:
    """The scene ``make`` draws, window-checked, and its input plane, holding every input."""
    scene = make(layer, spatial)
    _check_windows(scene, layer, spatial)
    source = scene.plane("input")
    assert len(source.of_kind("input")) == math.prod(spatial)
    return scene, source


@pytest.mark.parametrize("layer, spatial", CONVS, ids=_id)
def test_conv_window_matches_the_geometry(layer, spatial):
    scene, source = _checked_with_inputs(window_scene, layer, spatial)
    padded = math.prod(n + b + a for n, (b, a) in zip(spatial, layer.padding))
    assert len(source.of_kind("padding")) == padded - math.prod(spatial)
    for frame in scene.frames:  # taps at o·s + j·d on the padded plane: dilation as gaps
        axes = (1,) if layer.ndim == 1 else (0, 1)  # a 1-D plane is one row
        for axis, o, s, d, k in zip(axes, frame.step, layer.stride, layer.dilation, layer.kernel):
            assert _axis_taps(frame.shaded["input"], axis) == [o * s + j * d for j in range(k)]


@pytest.mark.parametrize("layer, spatial", CONVS[::7], ids=_id)
def test_conv_window_reads_what_the_reference_reads(layer, spatial):
    """A one-hot input through the reference convolution lights the outputs whose frames read
    that cell."""
    scene = window_scene(layer, spatial)
    w = np.ones(layer.weight_shape)
    for position in itertools.product(*map(range, spatial)):
        x = np.zeros((1, 1, *spatial))
        x[(0, 0, *position)] = 1.0
        y = ops.conv(x, w, None, **layer.conv_kwargs())[0, 0]
        lit = {tuple(int(i) for i in o) for o in np.argwhere(y != 0)}
        assert lit == {f.step for f in scene.frames if position in f.related}


@pytest.mark.parametrize("pool, spatial", POOLS, ids=_id)
def test_pool_window_matches_the_geometry_with_ceil_mode_overhang(pool, spatial):
    scene = window_scene(pool, spatial)
    _check_windows(scene, pool, spatial)
    source = scene.plane("input")
    overhang = [a - p for (p, a), p in zip(pool.window_padding(spatial), pool.padding)]
    if not pool.ceil_mode:
        assert not source.of_kind("overhang")
    # the overhang is the columns past the right padding that ceil_mode's last window reaches
    extent = [n + 2 * p + o for n, p, o in zip(spatial, pool.padding, overhang)]
    assert len(source.cells) == math.prod(extent)
    assert len(source.of_kind("overhang")) == math.prod(extent) - math.prod(
        n + 2 * p for n, p in zip(spatial, pool.padding))
    if pool.ceil_mode and any(overhang):
        last = scene.frames[-1].shaded["input"]
        assert any(source.cells[c] == "overhang" for c in last), "the last window overhangs"


@pytest.mark.parametrize("layer, spatial", TRANSPOSED, ids=_id)
def test_zero_inserted_transposed_conv_matches_b10(layer, spatial):
    _, source = _checked_with_inputs(zero_insert_scene, layer, spatial)
    inserted = math.prod((n - 1) * s + 1 for n, s in zip(spatial, layer.stride))
    visible_zeros = len(source.of_kind("zero"))
    assert visible_zeros <= inserted - math.prod(spatial)  # borders may be cropped by padding
    for position in itertools.product(*map(range, spatial)):
        cell = source.cell_of(position)  # input i sits at i·s past the padding: s-1 zeros between
        assert source.cells.get(cell, "input") == "input"


@pytest.mark.parametrize("layer, spatial", TRANSPOSED, ids=_id)
def test_scatter_transposed_conv_matches_d8(layer, spatial):
    scene = scatter_scene(layer, spatial)
    source, target = scene.plane("input"), scene.plane("output")
    out = layer.output_spatial(spatial)
    assert len(target.of_kind("output")) == math.prod(out)
    assert [f.step for f in scene.frames] == list(itertools.product(*map(range, spatial)))
    for frame in scene.frames:
        written = frame.shaded["output"]
        assert written <= set(target.cells)
        assert len(written) == math.prod(layer.kernel), "every tap scatters, cropped or not"
        expected = cells_of(layer.output_positions(frame.step, spatial))
        assert target.positions(written) == expected == frame.related
        assert frame.shaded["input"] == {source.cell_of(frame.step)}


@pytest.mark.parametrize("layer, spatial", TRANSPOSED[::5], ids=_id)
def test_scatter_writes_what_the_reference_writes(layer, spatial):
    scene = scatter_scene(layer, spatial)
    w = np.ones(layer.weight_shape)
    for frame in scene.frames:
        x = np.zeros((1, 1, *spatial))
        x[(0, 0, *frame.step)] = 1.0
        y = ops.conv_transpose(x, w, None, **layer.conv_transpose_kwargs())[0, 0]
        assert {tuple(int(i) for i in o) for o in np.argwhere(y != 0)} == frame.related


def test_d8_example_five_from_three():
    """D8: 1-D, 3 inputs scattered through a 3-tap kernel make 5 outputs (x = Cᵀz)."""
    scene = scatter_scene(ConvGeometry.make(1, 1, 3, transposed=True, ndim=1), (3,))
    assert len(scene.plane("output").of_kind("output")) == 5
    assert [sorted(f.related) for f in scene.frames] == [
        [(0,), (1,), (2,)], [(1,), (2,), (3,)], [(2,), (3,), (4,)]]


def test_c12_two_stacked_3x3_see_5x5():
    scene = stack_scene([ConvGeometry.make(1, 1, 3, ndim=2)] * 2)
    assert scene.plane("level 0").rows == 5
    [frame] = scene.frames
    assert frame.related == cells_of((range(5), range(5)))


@pytest.mark.parametrize("rates", [(2, 2, 2), (1, 2, 5), (1, 2, 3), (2, 4)])
def test_e15_gridding_holes_match_the_receptive_field(rates):
    layers = [ConvGeometry.make(1, 1, 3, dilation=r, ndim=1) for r in rates]
    scene = stack_scene(layers)
    size = receptive_field(layers).size
    [frame] = scene.frames
    assert scene.plane("level 0").cols == size
    reached = {p for (p,) in frame.related}
    assert min(reached) == 0 and max(reached) == size - 1
    assert (len(reached) < size) == has_gridding(layers), f"rates {rates}: holes {reached}"


@pytest.mark.parametrize("c_in, c_out, groups", [(4, 4, 1), (6, 6, 3), (4, 8, 2), (5, 5, 5),
                                                 (6, 12, 6)])
def test_channel_wiring_matches_the_reference(c_in, c_out, groups):
    layer = ConvGeometry.make(c_in, c_out, 1, groups=groups, ndim=2)
    scene = channel_scene(layer)
    assert len(scene.links) == c_out * c_in // groups
    w = np.ones(layer.weight_shape)
    for c in range(c_in):
        x = np.zeros((1, c_in, 1, 1))
        x[0, c] = 1.0
        y = ops.conv(x, w, None, **layer.conv_kwargs())[0, :, 0, 0]
        readers = {f.step[0] for f in scene.frames if (c,) in f.related}
        assert readers == {int(o) for o in np.flatnonzero(y)}
    if groups == c_in:
        assert all(len(f.related) == 1 for f in scene.frames), "depthwise: one input each"


def test_what_cannot_be_drawn_says_why():
    with pytest.raises(DrawError, match="up to 40 cells"):
        window_scene(ConvGeometry.make(1, 1, 3, ndim=2), (MAX_CELLS + 1, 5))
    with pytest.raises(DrawError, match="1 or 2"):
        window_scene(ConvGeometry.make(1, 1, 3, ndim=3), (5, 5, 5))
    with pytest.raises(DrawError, match="zero-inserted"):
        window_scene(ConvGeometry.make(1, 1, 3, transposed=True, ndim=1), (5,))
    with pytest.raises(DrawError, match="transposed"):
        scatter_scene(ConvGeometry.make(1, 1, 3, ndim=1), (5,))
    with pytest.raises(DrawError, match="frame 9 does not exist"):
        window_scene(ConvGeometry.make(1, 1, 3, ndim=2), (5, 5)).frame(9)


# -- rendering and the command -----------------------------------------------------------------

def test_render_png_svg_and_gif(tmp_path):
    pytest.importorskip("matplotlib")
    image = pytest.importorskip("PIL.Image")
    scene = window_scene(ConvGeometry.make(1, 1, 3, stride=2, padding=1, ndim=2), (5, 5))
    png = render(scene, tmp_path / "a.png", frame=4)
    assert image.open(png).size[0] > 300
    svg = render(scene, tmp_path / "a.svg").read_text()
    assert "output 3×3" in svg and "<svg" in svg
    gif = image.open(render(scene, tmp_path / "a.gif", dpi=40))
    assert gif.n_frames == len(scene.frames) == 9
    with pytest.raises(DrawError, match="suffix"):
        render(scene, tmp_path / "a.txt")


@pytest.mark.parametrize("argv, frames", [
    (["conv", "--input", "5x5", "--kernel", "3", "--stride", "2", "--padding", "1"], 9),
    (["conv_transpose", "--input", "3", "-k", "3", "--view", "scatter"], 3),
    (["conv_transpose", "--input", "2x2", "-k", "3", "-s", "2"], 25),
    (["max_pool", "--input", "5x5", "-k", "2", "--ceil-mode"], 9),
    (["avg_pool", "--input", "4", "-k", "2", "-p", "1"], 3),
    (["conv", "--in-channels", "6", "-c", "6", "--groups", "3", "--view", "channels"], 6),
    (["stack", "--layers", "3:1:2,3:1:2", "--input", "9"], 1),
])
def test_cli_draws(tmp_path, capsys, argv, frames):
    pytest.importorskip("matplotlib")
    out = tmp_path / "picture.svg"
    assert main(["draw", *argv, "-o", str(out)]) == 0
    assert out.read_text().startswith("<?xml")
    assert f"of {frames})" in capsys.readouterr().out


def test_cli_gif(tmp_path, capsys):
    image = pytest.importorskip("PIL.Image")
    pytest.importorskip("matplotlib")
    out = tmp_path / "walk.gif"
    assert main(["draw", "conv", "--input", "4x4", "-k", "3", "--gif", "--dpi", "40",
                 "-o", str(out)]) == 0
    assert image.open(out).n_frames == 4
    assert "(4 frames)" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["conv", "--input", "50x50"], "up to 40 cells"),
    (["conv", "--gif", "-o", "x.png"], "name it .gif"),
    (["conv", "-o", "x.txt"], "the suffix picks the format"),
    (["conv", "--frame", "99"], "frame 99 does not exist"),
    (["conv", "--input", "5x5x5"], "1 or 2"),
    (["max_pool", "--view", "scatter"], "pooling is drawn as windows"),
    (["conv", "--view", "scatter"], "use conv_transpose"),
    (["conv_transpose", "--view", "window"], "zero-insert"),
    (["stack"], "stack needs --layers"),
    (["conv", "--layers", "3,3"], "--layers is for the stack"),
    (["conv", "-k", "7"], "invalid geometry"),
])
def test_cli_usage_errors_are_one_line(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    assert main(["draw", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not list(tmp_path.iterdir()), "nothing is written on a usage error"
