"""``convspec shape``: output shape, parameters, MACs and receptive field of one layer."""

from __future__ import annotations

import argparse
import math
from typing import Any

from ..spec.errors import GeometryError
from ..spec.geometry import ConvGeometry, PoolGeometry
from ..spec.receptive import receptive_field
from ..spec.sizes import SAME_CONVENTIONS, conv_output_size, effective_kernel_size, same_padding

COMMAND = "shape"
HELP = "Output shape, parameters, MACs and receptive field of one conv or pooling layer."

LAYERS = {
    "conv": "convolution (cross-correlation, as every library computes it)",
    "conv_transpose": "transposed convolution (the adjoint of conv; 'deconvolution')",
    "max_pool": "max pooling",
    "avg_pool": "average pooling",
}
PADDING_MODES = ("valid", "same", "full")

EPILOG = """\
per-axis values:
  KERNEL, STRIDE, DILATION and OUTPUT_PADDING take one int for every spatial axis (3) or
  one per axis separated by commas (3,5). PADDING also takes BEFORE:AFTER pairs (0:1 or
  1:1,0:1) or a mode: valid (no padding), same (output size ceil(n/stride); see
  --same-convention) or full (every overlap, padding d(k-1) on each side).

examples:
  convspec shape 1,3,227,227 conv -c 96 -k 11 -s 4          # AlexNet conv1: 55x55x96
  convspec shape 1,64,56,56 conv -c 64 -k 3 -p same --groups 64
  convspec shape 1,16,7,7 conv_transpose -c 8 -k 4 -s 2 -p 1
  convspec shape 1,96,55,55 max_pool -k 3 -s 2               # overlapping pooling
  convspec shape 1,3,10,10 conv -k 3 -s 2                    # (10-3)/2+1 = 4.5: floored to 4
  convspec shape 1,3,10,10 conv -k 3 -s 2 --exact            # ... or rejected, as the notes do
"""


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what}: {text!r} is not an integer") from None


def per_axis(text: str) -> int | tuple[int, ...]:
    """``3`` → 3, ``3,5`` → (3, 5)."""
    parts = [p.strip() for p in text.split(",")]
    values = tuple(_int(p, "expected an int or comma-separated ints") for p in parts)
    return values[0] if len(values) == 1 else values


def padding_spec(text: str) -> Any:
    """An int, ``before:after``, a comma list of those, or a mode (valid/same/full)."""
    if text in PADDING_MODES:
        return text

    def entry(part: str) -> int | tuple[int, int]:
        if ":" in part:
            before, _, after = part.partition(":")
            return (_int(before, "padding BEFORE:AFTER"), _int(after, "padding BEFORE:AFTER"))
        return _int(part, f"padding must be an int, BEFORE:AFTER, or one of {PADDING_MODES}")

    entries = tuple(entry(p.strip()) for p in text.split(","))
    return entries[0] if len(entries) == 1 else entries


def input_shape(text: str) -> tuple[int, ...]:
    """``1,3,227,227`` or ``1x3x227x227`` → (N, C, *spatial)."""
    parts = text.replace("x", ",").replace("×", ",").split(",")
    shape = tuple(_int(p.strip(), "input shape") for p in parts)
    if not 3 <= len(shape) <= 5:
        raise argparse.ArgumentTypeError(
            f"input shape {text!r} has {len(shape)} entries; give N,C followed by 1 to 3 "
            "spatial sizes, e.g. 1,3,224,224"
        )
    return shape


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("input", type=input_shape, metavar="INPUT_SHAPE",
                        help="input shape N,C,*spatial, e.g. 1,3,227,227 (or 1x3x227x227)")
    parser.add_argument("layer", choices=tuple(LAYERS), metavar="LAYER",
                        help="one of: " + "; ".join(f"{k}: {v}" for k, v in LAYERS.items()))
    size = parser.add_argument_group("window")
    size.add_argument("-k", "--kernel", type=per_axis, required=True,
                      help="kernel size (required)")
    size.add_argument("-s", "--stride", type=per_axis, default=None,
                      help="stride (default: 1 for conv, the kernel size for pooling)")
    size.add_argument("-p", "--padding", type=padding_spec, default=0,
                      help="padding: int, BEFORE:AFTER, per-axis list, or valid/same/full "
                           "(default 0)")
    size.add_argument("--same-convention", choices=SAME_CONVENTIONS, default="torch",
                      help="how -p same splits an odd total: torch (stride 1 only; extra "
                           "after), tf / onnx_upper (extra after), onnx_lower (extra before). "
                           "Default torch")
    size.add_argument("-d", "--dilation", type=per_axis, default=1, help="dilation rate (default 1)")
    conv = parser.add_argument_group("convolution only")
    conv.add_argument("-c", "--out-channels", type=int, default=None,
                      help="output channels (default: the input's channel count)")
    conv.add_argument("-g", "--groups", type=int, default=1, help="groups (default 1)")
    conv.add_argument("--output-padding", type=per_axis, default=0,
                      help="conv_transpose only: extra size on the far side (default 0)")
    conv.add_argument("--no-bias", action="store_true", help="the layer has no bias")
    conv.add_argument("--exact", action="store_true",
                      help="conv only: reject a non-integer (n + 2p - d(k-1) - 1)/s + 1 as the "
                           "notes do (rule B1) instead of flooring it as libraries do")
    pool = parser.add_argument_group("pooling only")
    pool.add_argument("--ceil-mode", action="store_true",
                      help="round the output size up (the last window must still start inside "
                           "the input or its left padding)")
    pool.add_argument("--exclude-pad", action="store_true",
                      help="avg_pool: divide by the real elements only (count_include_pad=False)")


def _resolve_padding(args: argparse.Namespace, spatial: tuple[int, ...]) -> Any:
    mode = args.padding
    if mode not in PADDING_MODES:
        return mode
    if mode == "valid":
        return 0
    if args.layer == "conv_transpose":
        raise GeometryError(
            f"padding mode {mode!r} describes a forward convolution; give conv_transpose a "
            "number (its padding crops the output)"
        )
    stride = 1 if args.stride is None and args.layer == "conv" else (
        args.kernel if args.stride is None else args.stride)
    if mode == "full":
        span = effective_kernel_size(args.kernel, args.dilation)
        return tuple(s - 1 for s in span) if isinstance(span, tuple) else span - 1
    return same_padding(tuple(spatial), args.kernel, stride=stride, dilation=args.dilation,
                        convention=args.same_convention)


def _symmetric(padding: Any, rank: int) -> Any:
    """Pooling takes one padding per axis; reject an asymmetric split with the reason."""
    pairs = padding if isinstance(padding, tuple) and isinstance(padding[0], tuple) else None
    if pairs is None and isinstance(padding, tuple) and rank == 1 and len(padding) == 2:
        pairs = (padding,)
    if pairs is None:
        return padding
    if any(b != a for b, a in pairs):
        raise GeometryError(
            f"pooling pads both sides of an axis equally, but the padding is {pairs} "
            "(before, after); choose a kernel, stride or size whose padding splits evenly"
        )
    return tuple(b for b, _ in pairs)


def build_layer(args: argparse.Namespace) -> ConvGeometry | PoolGeometry:
    shape = args.input
    rank = len(shape) - 2
    padding = _resolve_padding(args, shape[2:])
    if args.layer in ("max_pool", "avg_pool"):
        geometry = PoolGeometry.make(args.kernel, stride=args.stride,
                                     padding=_symmetric(padding, rank), dilation=args.dilation,
                                     ceil_mode=args.ceil_mode,
                                     count_include_pad=not args.exclude_pad, ndim=rank)
        if args.layer == "avg_pool":
            geometry.avg_pool_kwargs()  # raises for dilation, which average pooling lacks
        return geometry
    out_channels = shape[1] if args.out_channels is None else args.out_channels
    transposed = args.layer == "conv_transpose"
    geometry = ConvGeometry.make(shape[1], out_channels, args.kernel,
                             stride=1 if args.stride is None else args.stride,
                             padding=padding, dilation=args.dilation, groups=args.groups,
                             transposed=transposed, output_padding=args.output_padding,
                             bias=not args.no_bias, ndim=rank)
    if args.exact and not transposed:
        conv_output_size(shape[2:], geometry.kernel, stride=geometry.stride,
                         padding=geometry.padding, dilation=geometry.dilation, rounding="exact")
    return geometry


def _axes(values: tuple[int, ...]) -> str:
    return "×".join(str(v) for v in values)


def report(args: argparse.Namespace) -> list[str]:
    """The lines ``convspec shape`` prints."""
    geometry = build_layer(args)
    shape = geometry.check_input(args.input)
    out = geometry.output_shape(shape)
    rows = [("layer", f"{args.layer}: {geometry.describe()}"),
            ("input shape", shape), ("output shape", out)]
    if isinstance(geometry, ConvGeometry):
        weights = math.prod(geometry.weight_shape)
        biases = geometry.params() - weights
        rows += [("weight shape", geometry.weight_shape),
                 ("parameters", f"{geometry.params():,} ({weights:,} weights + {biases:,} biases)"),
                 ("MACs", f"{geometry.macs(shape):,} (multiply-accumulates, bias excluded)")]
    else:
        reads = out[0] * out[1] * math.prod(out[2:]) * math.prod(geometry.kernel)
        rows += [("parameters", 0), ("MACs", f"0 (pooling reads {reads:,} window elements)")]
    if isinstance(geometry, ConvGeometry) and geometry.transposed:
        rows.append(("receptive field", "n/a: a transposed convolution upsamples"))
    else:
        fields = [receptive_field([geometry], axis=a) for a in range(geometry.ndim)]
        rows.append(("receptive field",
                     f"{_axes(tuple(f.size for f in fields))}, stride "
                     f"{_axes(tuple(f.stride for f in fields))}, left padding "
                     f"{_axes(tuple(f.padding for f in fields))}"))
    return [f"{label:<16} {value}" for label, value in rows]


def run(args: argparse.Namespace) -> int:
    for line in report(args):
        print(line)
    return 0
