"""Scenes of one layer's geometry: windows of a convolution or pooling, a transposed
convolution as a zero-inserted convolution (B10) and as a scatter (D8), and stacked layers'
receptive fields (C12, E15).

Every size, padding and window comes from :class:`~convspec.spec.geometry.ConvGeometry` /
:class:`~convspec.spec.geometry.PoolGeometry`: ``output_spatial`` (B1, B9, B10),
``input_positions`` / ``output_positions`` (the cells a window reads, padding excluded),
``window_padding`` (pooling's ``ceil_mode`` overhang), ``correlation`` and
``input_gradient_padding`` (the zero-inserted form, F2, F9). The taps of a window, padding
included, are the ``input_positions`` of the same layer without padding on the padded extent.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import replace

from ..spec.geometry import ConvGeometry, PoolGeometry
from ..spec.sizes import zero_inserted_size
from .scene import Cell, DrawError, Frame, Plane, Scene

Layer = ConvGeometry | PoolGeometry
Positions = frozenset[tuple[int, ...]]


def cells_of(axes: Sequence[Sequence[int]]) -> Positions:
    """The positions of a product of per-axis index sets (what ``input_positions`` returns)."""
    return frozenset(itertools.product(*axes))


def _spatial(layer: Layer, spatial: Iterable[int]) -> tuple[int, ...]:
    spatial = tuple(spatial)
    if layer.ndim > 2:
        raise DrawError(f"the layer has {layer.ndim} spatial axes; pictures show 1 or 2 "
                        "(draw one 2-D slice: give 2 input sizes and a 2-D kernel)")
    layer.output_spatial(spatial)  # validates the sizes against the layer
    return spatial


def _grid(extent: Sequence[int]) -> list[tuple[int, ...]]:
    return list(itertools.product(*(range(n) for n in extent)))


def _cell(position: Sequence[int]) -> Cell:
    return (0, position[0]) if len(position) == 1 else (position[0], position[1])


def _plane(name: str, extent: Sequence[int], kind_of, *, origin: Sequence[int] = (),
           spacing: Sequence[int] | None = None, level: int = 0, label: str = "") -> Plane:
    rank = len(extent)
    spacing = tuple(spacing or (1,) * rank)
    rows, cols = (1, extent[0]) if rank == 1 else extent
    cells = {_cell(p): kind for p in _grid(extent) if (kind := kind_of(p)) is not None}
    return Plane(name, rank, rows, cols, cells,
                 origin=_cell(tuple(origin) or (0,) * rank),
                 spacing=(1, *spacing) if rank == 1 else spacing,
                 level=level, label=label)


def _unpadded(layer: Layer) -> Layer:
    """The same layer without padding (nor ceil_mode): its ``input_positions`` on the padded
    extent are a window's taps, padding cells included."""
    if isinstance(layer, PoolGeometry):
        return PoolGeometry.make(layer.kernel, stride=layer.stride, dilation=layer.dilation)
    return replace(layer, padding=tuple((0, 0) for _ in layer.kernel))


def _axes_text(values: Sequence[object]) -> str:
    return "×".join(str(v) for v in values)


def _title(operation: str, layer: Layer, spatial: Sequence[int], out: Sequence[int]) -> str:
    padding = layer.padding
    pads = [f"{b}:{a}" if b != a else str(b) for b, a in
            (p if isinstance(p, tuple) else (p, p) for p in padding)]
    parts = [f"{operation}: input {_axes_text(spatial)}", f"kernel {_axes_text(layer.kernel)}",
             f"stride {_axes_text(layer.stride)}", f"padding {_axes_text(pads)}"]
    if any(d != 1 for d in layer.dilation):
        parts.append(f"dilation {_axes_text(layer.dilation)}")
    if isinstance(layer, ConvGeometry) and any(layer.output_padding):
        parts.append(f"output_padding {_axes_text(layer.output_padding)}")
    if isinstance(layer, PoolGeometry) and layer.ceil_mode:
        parts.append("ceil_mode")
    return ", ".join(parts) + f" → output {_axes_text(out)}"


def _step_caption(verb: str, step: Sequence[int], related: Positions, total: int,
                  other: str) -> str:
    where = ", ".join(map(str, step))
    extra = total - len(related)
    tail = f" ({extra} of its {total} taps on {other})" if extra else ""
    cells = "1 cell" if len(related) == 1 else f"{len(related)} cells"
    return f"{verb} ({where}): {cells}{tail}"


# -- a window sliding over the input: convolution and pooling ---------------------------------

def window_scene(layer: Layer, spatial: Sequence[int], *, operation: str | None = None) -> Scene:
    """A convolution's or pooling's windows (A3, B1–B9, G1, G2): the input with its padding
    (and pooling's ``ceil_mode`` overhang), the output, and one frame per output position
    shading the window's taps (dilation leaves gaps) and the output cell."""
    if isinstance(layer, ConvGeometry) and layer.transposed:
        raise DrawError("a transposed convolution has no sliding window over its input: draw it "
                        "as the zero-inserted convolution or as a scatter")
    spatial = _spatial(layer, spatial)
    out = layer.output_spatial(spatial)
    if isinstance(layer, PoolGeometry):
        padding = layer.window_padding(spatial)  # (p, after): after > p is ceil-mode overhang
        real_after = layer.padding
        operation = operation or "max_pool"
    else:
        padding = layer.padding
        real_after = tuple(a for _, a in padding)
        operation = operation or "conv"
    befores = tuple(b for b, _ in padding)
    extent = tuple(n + b + a for n, (b, a) in zip(spatial, padding))

    def kind(p: tuple[int, ...]) -> str:
        index = [i - b for i, b in zip(p, befores)]
        if any(i >= n + a for i, n, a in zip(index, spatial, real_after)):
            return "overhang"
        return "input" if all(0 <= i < n for i, n in zip(index, spatial)) else "padding"

    source = _plane("input", extent, kind, origin=befores, label=f"input {_axes_text(spatial)}")
    target = _plane("output", out, lambda p: "output", level=1,
                    label=f"output {_axes_text(out)}")
    outside = "padding or overhang" if "overhang" in source.cells.values() else "padding"
    frames = _window_frames(layer, _unpadded(layer), extent, spatial, outside)
    return Scene("window", _title(operation, layer, spatial, out), (source, target), frames)


def _window_frames(layer: Layer, taps_of: Layer, extent: Sequence[int],
                   spatial: Sequence[int], outside: str) -> tuple[Frame, ...]:
    """One frame per output of ``layer``: the taps of ``taps_of`` (an unpadded layer) on the
    drawn extent, and the input positions ``layer`` says the output reads."""
    frames = []
    for o in _grid(layer.output_spatial(spatial)):
        taps = cells_of(taps_of.input_positions(o, extent))
        related = cells_of(layer.input_positions(o, spatial))
        frames.append(Frame(step=o, related=related,
                            shaded={"input": {_cell(t) for t in taps}, "output": {_cell(o)}},
                            caption=_step_caption("output", o, related, len(taps), outside)))
    return tuple(frames)


# -- transposed convolution --------------------------------------------------------------------

def _transposed(layer: Layer, spatial: Sequence[int]) -> tuple[ConvGeometry, tuple[int, ...]]:
    if not (isinstance(layer, ConvGeometry) and layer.transposed):
        raise DrawError("this view is of a transposed convolution (conv_transpose)")
    return layer, _spatial(layer, spatial)


def zero_insert_scene(layer: ConvGeometry, spatial: Sequence[int]) -> Scene:
    """A transposed convolution as a direct one (B10, F2, F9): ``s-1`` zeros inserted between
    the inputs, ``d(k-1) - p`` padding each side (plus ``output_padding`` after), then a
    stride-1 correlation with the kernel: one frame per output position."""
    layer, spatial = _transposed(layer, spatial)
    out = layer.output_spatial(spatial)
    forward, forward_input = layer.correlation(spatial)
    pads = forward.input_gradient_padding(forward_input)
    inserted = zero_inserted_size(spatial, layer.stride)
    inserted = (inserted,) if isinstance(inserted, int) else tuple(inserted)
    extent = tuple(z + b + a for z, (b, a) in zip(inserted, pads))
    befores = tuple(b for b, _ in pads)

    def kind(p: tuple[int, ...]) -> str:
        index = [c - b for c, b in zip(p, befores)]
        if not all(0 <= t < z for t, z in zip(index, inserted)):
            return "padding"
        return "input" if all(t % s == 0 for t, s in zip(index, layer.stride)) else "zero"

    source = _plane("input", extent, kind, origin=befores, spacing=layer.stride,
                    label=f"input {_axes_text(spatial)}, zeros inserted, padded")
    target = _plane("output", out, lambda p: "output", level=1,
                    label=f"output {_axes_text(out)}")
    direct = ConvGeometry.make(1, 1, layer.kernel, dilation=layer.dilation)
    if direct.output_spatial(extent) != out:  # the geometry's two forms of B10 disagree
        raise AssertionError(f"zero-inserted form gives {direct.output_spatial(extent)}, "
                             f"B10 gives {out} for {layer.describe()} on {spatial}")
    frames = _window_frames(layer, direct, extent, spatial, "zeros or padding")
    title = _title("conv_transpose", layer, spatial, out)
    return Scene("zero-insert", title, (source, target), frames,
                 subtitle="as a stride-1 convolution of the zero-inserted, padded input (B10)")


def scatter_scene(layer: ConvGeometry, spatial: Sequence[int]) -> Scene:
    """A transposed convolution as ``C^T`` (D8, F8): each input cell scatters through the
    kernel into the uncropped output, of which ``padding`` crops the borders: one frame per
    input position."""
    layer, spatial = _transposed(layer, spatial)
    out = layer.output_spatial(spatial)
    full = _unpadded(layer)
    full_out = full.output_spatial(spatial)
    befores = tuple(b for b, _ in layer.padding)

    def kind(p: tuple[int, ...]) -> str:
        inside = all(0 <= c - b < o for c, b, o in zip(p, befores, out))
        return "output" if inside else "cropped"

    source = _plane("input", spatial, lambda p: "input", label=f"input {_axes_text(spatial)}")
    target = _plane("output", full_out, kind, origin=befores, level=1,
                    label=f"output {_axes_text(out)} (dashed: cropped by padding)")
    frames = []
    for i in _grid(spatial):
        written = cells_of(full.output_positions(i, spatial))
        related = cells_of(layer.output_positions(i, spatial))
        frames.append(Frame(step=i, related=related,
                            shaded={"input": {_cell(i)}, "output": {_cell(w) for w in written}},
                            caption=_step_caption("input", i, related, len(written),
                                                  "cropped cells")))
    title = _title("conv_transpose", layer, spatial, out)
    return Scene("scatter", title, (source, target), tuple(frames),
                 subtitle="as the scatter of each input through the kernel, x = Cᵀz (D8)")


# -- stacked layers: receptive fields ---------------------------------------------------------

def stack_scene(layers: Sequence[ConvGeometry], spatial: Sequence[int] | None = None) -> Scene:
    """The input cells each output of a stack of convolutions depends on (C12, E5, E15): a
    plane per layer's input and the last output, and per output of the last layer the cells
    it reads at every level (holes where stacked dilations grid)."""
    layers = tuple(layers)
    if not layers:
        raise DrawError("a stack needs at least one layer")
    if any(layer.transposed for layer in layers):
        raise DrawError("a stack is drawn for forward convolutions only")
    if spatial is None:
        sizes = [(1,) * layers[-1].ndim]
        for layer in reversed(layers):
            sizes.insert(0, layer.input_spatial_for(sizes[0]))
        spatial = sizes[0]
    levels = [tuple(spatial)]
    for layer in layers:
        levels.append(layer.output_spatial(_spatial(layer, levels[-1])))
    planes = tuple(
        _plane(f"level {k}", extent, lambda p, k=k: "output" if k == len(layers) else "input",
               level=k, label=("output" if k == len(layers) else
                               "input" if k == 0 else f"layer {k} output")
               + f" {_axes_text(extent)}")
        for k, extent in enumerate(levels))
    frames = []
    for o in _grid(levels[-1]):
        reached = {len(layers): frozenset({o})}
        for k in range(len(layers) - 1, -1, -1):
            reached[k] = frozenset().union(*(cells_of(layers[k].input_positions(p, levels[k]))
                                             for p in reached[k + 1]))
        frames.append(Frame(step=o, related=reached[0],
                            shaded={f"level {k}": {_cell(p) for p in cells}
                                    for k, cells in reached.items()},
                            caption=f"output ({', '.join(map(str, o))}) depends on "
                                    f"{len(reached[0])} input cells"))
    def compact(values: Sequence[int]) -> str:
        return str(values[0]) if len(set(values)) == 1 else _axes_text(values)

    rates = ", ".join(f"k{compact(g.kernel)} s{compact(g.stride)} d{compact(g.dilation)}"
                      for g in layers)
    return Scene("stack", f"{len(layers)} stacked convolutions ({rates}) on input "
                 f"{_axes_text(levels[0])}", planes, tuple(frames),
                 source="level 0", target=f"level {len(layers)}")
