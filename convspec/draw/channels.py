"""Channel wiring of a grouped, depthwise or ordinary convolution (B14, C4, E9, E10).

Output channel ``c`` of a layer with ``G`` groups reads the ``C_in/G`` input channels of its
group ``⌊c / (C_out/G)⌋``; ``G = 1`` connects everything, ``G = C_in`` is depthwise. The count
per output is the geometry's ``reduction_length / kernel_volume`` (the weight's channel axis,
B14), and the group sizes are ``C/G`` of its channel counts.
"""

from __future__ import annotations

from ..spec.geometry import ConvGeometry
from .scene import Frame, Link, Plane, Scene


def _row(name: str, count: int, kind: str, level: int, label: str) -> Plane:
    return Plane(name, 1, 1, count, {(0, c): kind for c in range(count)}, level=level,
                 label=label)


def channel_scene(layer: ConvGeometry) -> Scene:
    """Input channels below, output channels above, a line from each output channel to every
    input channel it reads, coloured by group; one frame per output channel."""
    groups = layer.groups
    per_output = layer.reduction_length // layer.kernel_volume  # C_in / G (B14)
    outputs_per_group = layer.out_channels // groups
    source = _row("input", layer.in_channels, "input", 0, f"{layer.in_channels} input channels")
    target = _row("output", layer.out_channels, "output", 1,
                  f"{layer.out_channels} output channels")
    links, frames = [], []
    for c in range(layer.out_channels):
        group = c // outputs_per_group
        reads = range(group * per_output, (group + 1) * per_output)
        links += [Link(("input", (0, i)), ("output", (0, c)), group) for i in reads]
        frames.append(Frame(step=(c,), related=frozenset((i,) for i in reads),
                            shaded={"input": {(0, i) for i in reads}, "output": {(0, c)}},
                            caption=f"output channel {c} (group {group}) reads input channels "
                                    f"{reads.start} to {reads.stop - 1}"))
    name = ("depthwise" if groups == layer.in_channels and groups > 1 else
            f"grouped ({groups} groups)" if groups > 1 else "ordinary (1 group)")
    operation = "conv_transpose" if layer.transposed else "conv"
    title = (f"{operation}: {name}, {layer.in_channels} → {layer.out_channels} channels, "
             f"weight {'×'.join(map(str, layer.weight_shape))}")
    return Scene("channels", title, (source, target), tuple(frames), links=tuple(links),
                 subtitle=f"each output channel reads {per_output} of {layer.in_channels} "
                          "input channels")
