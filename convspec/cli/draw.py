"""``convspec draw``: a picture of one layer's geometry (PNG, SVG, PDF, or an animated GIF).

The layer is built as ``convspec shape`` builds it (the same options), and every size and window
in the picture comes from its :class:`~convspec.spec.geometry.ConvGeometry` or
:class:`~convspec.spec.geometry.PoolGeometry` (see :mod:`convspec.draw`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..draw import (
    FORMATS,
    DrawError,
    Scene,
    channel_scene,
    render,
    scatter_scene,
    stack_scene,
    window_scene,
    zero_insert_scene,
)
from ..spec.geometry import ConvGeometry
from ._usage import UsageError, check_output_file
from .shape import build_layer, padding_spec, per_axis

COMMAND = "draw"
HELP = "Draw a layer's geometry (input, padding, kernel taps, output) as PNG, SVG or GIF."

LAYERS = ("conv", "conv_transpose", "max_pool", "avg_pool", "stack")
VIEWS = {
    "window": "the kernel's window sliding over the padded input (conv, pooling)",
    "zero-insert": "conv_transpose as a stride-1 conv of the zero-inserted input (B10)",
    "scatter": "conv_transpose as the scatter of each input through the kernel (D8)",
    "channels": "which input channels each output channel reads (groups, depthwise)",
}

EPILOG = """\
examples:
  convspec draw conv --input 5x5 --kernel 3 --stride 2 --padding 1 -o out.png
  convspec draw conv --input 7x7 -k 3 --dilation 2 --gif -o dilation.gif
  convspec draw conv_transpose --input 3x3 -k 3 -s 2 -o up.svg              # B10
  convspec draw conv_transpose --input 3 -k 3 --view scatter -o ct.png     # D8, 1-D
  convspec draw max_pool --input 5x5 -k 2 --ceil-mode -o pool.png
  convspec draw conv --in-channels 6 -c 6 --groups 3 --view channels -o groups.png
  convspec draw stack --layers 3:1:2,3:1:2,3:1:2 -o gridding.png             # E15

sizes take one int per spatial axis (5x5, or 5 for 1-D); pictures are 1-D or 2-D.
--frame N picks the step a still shows (outputs in row-major order; inputs for --view
scatter); --gif draws every step.
"""


def spatial_size(text: str) -> tuple[int, ...]:
    """``5x5`` or ``5,5`` → (5, 5); ``5`` → (5,)."""
    value = per_axis(text.replace("x", ",").replace("×", ","))
    return (value,) if isinstance(value, int) else value


def stack_layers(text: str) -> tuple[tuple[int, int, int], ...]:
    """``3:1:2,3`` → ((3, 1, 2), (3, 1, 1)): kernel, stride, dilation of each layer."""
    layers = []
    for part in text.split(","):
        fields = part.strip().split(":")
        if not 1 <= len(fields) <= 3:
            raise argparse.ArgumentTypeError(f"layer {part!r}: give KERNEL[:STRIDE[:DILATION]]")
        try:
            values = [int(f) for f in fields]
        except ValueError:
            raise argparse.ArgumentTypeError(f"layer {part!r}: KERNEL[:STRIDE[:DILATION]] "
                                             "takes integers") from None
        layers.append(tuple(values + [1] * (3 - len(values))))
    return tuple(layers)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("layer", choices=LAYERS, metavar="LAYER",
                        help=f"one of {', '.join(LAYERS)} (stack: see --layers)")
    parser.add_argument("-o", "--output", default=None,
                        help=f"picture file, format by suffix ({', '.join(FORMATS)}); default "
                             "LAYER.png, or LAYER.gif with --gif")
    parser.add_argument("--input", type=spatial_size, default=None, metavar="SIZE",
                        help="input spatial size, e.g. 5x5 or 5 (default 5x5; for stack, the "
                             "smallest input with one output)")
    size = parser.add_argument_group("layer (as in convspec shape)")
    size.add_argument("-k", "--kernel", type=per_axis, default=3, help="kernel size (default 3)")
    size.add_argument("-s", "--stride", type=per_axis, default=None,
                      help="stride (default 1 for conv, the kernel for pooling)")
    size.add_argument("-p", "--padding", type=padding_spec, default=0,
                      help="int, BEFORE:AFTER, per-axis list, or valid/same/full (default 0)")
    size.add_argument("-d", "--dilation", type=per_axis, default=1, help="dilation (default 1)")
    size.add_argument("--output-padding", type=per_axis, default=0,
                      help="conv_transpose: extra output on the far side (default 0)")
    size.add_argument("--in-channels", type=int, default=1,
                      help="input channels (default 1; matters for --view channels)")
    size.add_argument("-c", "--out-channels", type=int, default=None,
                      help="output channels (default: the input channels)")
    size.add_argument("-g", "--groups", type=int, default=1, help="groups (default 1)")
    size.add_argument("--ceil-mode", action="store_true", help="pooling: round the output up")
    size.add_argument("--layers", type=stack_layers, default=None, metavar="K[:S[:D]],...",
                      help="stack: each layer's kernel, stride and dilation, e.g. 3,3 or "
                           "3:1:1,3:1:2,3:1:5")
    picture = parser.add_argument_group("picture")
    picture.add_argument("--view", choices=tuple(VIEWS), default=None,
                         help="; ".join(f"{k}: {v}" for k, v in VIEWS.items())
                              + " (default: window, zero-insert for conv_transpose)")
    picture.add_argument("--frame", type=int, default=0,
                         help="the step a still shows (default 0, the first)")
    picture.add_argument("--gif", action="store_true",
                         help="an animated GIF of every step (the kernel walking the input)")
    picture.add_argument("--dpi", type=int, default=100, help="resolution (default 100)")
    parser.set_defaults(same_convention="torch", no_bias=False, exact=False, exclude_pad=False)


def _view(args: argparse.Namespace) -> str:
    default = "zero-insert" if args.layer == "conv_transpose" else "window"
    view = args.view or default
    if args.layer in ("max_pool", "avg_pool") and view != "window":
        raise UsageError(f"--view {view}: pooling is drawn as windows (--view window)")
    if args.layer == "conv" and view in ("zero-insert", "scatter"):
        raise UsageError(f"--view {view} draws a transposed convolution: use conv_transpose, "
                         "or --view window / channels for conv")
    if args.layer == "conv_transpose" and view == "window":
        raise UsageError("--view window: a transposed convolution is drawn as zero-insert "
                         "(B10) or scatter (D8)")
    return view


def build_scene(args: argparse.Namespace) -> Scene:
    """The scene ``convspec draw`` renders for these arguments."""
    if args.layer == "stack":
        if args.layers is None:
            raise UsageError("stack needs --layers, e.g. --layers 3,3 (two 3x3 convolutions)")
        rank = len(args.input) if args.input else 2
        layers = [ConvGeometry.make(1, 1, k, stride=s, dilation=d, ndim=rank)
                  for k, s, d in args.layers]
        return stack_scene(layers, args.input)
    if args.layers is not None:
        raise UsageError("--layers is for the stack layer; draw one layer with -k/-s/-d")
    view = _view(args)
    spatial = args.input or (5, 5)
    layer_args = argparse.Namespace(**vars(args))
    layer_args.input = (1, args.in_channels, *spatial)
    geometry = build_layer(layer_args)
    if view == "channels":
        return channel_scene(geometry)
    if view == "zero-insert":
        return zero_insert_scene(geometry, spatial)
    if view == "scatter":
        return scatter_scene(geometry, spatial)
    return window_scene(geometry, spatial, operation=args.layer)


def _output(args: argparse.Namespace) -> Path:
    value = args.output or f"{args.layer}.{'gif' if args.gif else 'png'}"
    suffix = Path(value).suffix.lstrip(".").lower()
    if suffix not in FORMATS:
        raise UsageError(f"-o {value}: the suffix picks the format; use one of "
                         f"{', '.join('.' + f for f in FORMATS)}")
    if args.gif and suffix != "gif":
        raise UsageError(f"--gif writes an animated GIF: name it .gif (-o {Path(value).stem}.gif)")
    check_output_file("-o", value, example=f"{args.layer}.png")
    return Path(value)


def run(args: argparse.Namespace) -> int:
    path = _output(args)
    try:
        scene = build_scene(args)
        if path.suffix.lower() != ".gif":
            scene.frame(args.frame)
        render(scene, path, frame=args.frame, dpi=args.dpi)
    except DrawError as exc:
        raise UsageError(str(exc)) from None
    steps = (f"{len(scene.frames)} frames" if path.suffix.lower() == ".gif"
             else f"frame {args.frame} of {len(scene.frames)}")
    print(f"wrote {path}: {scene.title} ({steps})")
    return 0
