"""Shapes of the matrix forms and layer conversions in the notes (B11-B13, D1-D3, D5-D8).

Nothing here computes an output length itself: every size comes from
:mod:`convspec.spec.sizes` or a :class:`~convspec.spec.geometry.ConvGeometry`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .validate import as_int, as_tuple, is_sequence
from .errors import GeometryError
from .geometry import ConvGeometry, check_input_shape
from .sizes import conv_output_size, wide_output_size

Shape = tuple[int, ...]


def batch_shape(input_shape: Sequence[int]) -> Shape:
    """Validate ``(N, C, *spatial)`` with 1 to 3 spatial axes and return it as a tuple."""
    if not is_sequence(input_shape) or not 3 <= len(input_shape) <= 5:
        raise GeometryError(
            f"input_shape must be (N, C, *spatial) with 1 to 3 spatial axes, got {input_shape!r}"
        )
    return check_input_shape(input_shape, len(input_shape) - 2, None)


def _layer(input_shape: Sequence[int], out_channels: int, kernel_size: Any,
           **options: Any) -> tuple[Shape, ConvGeometry]:
    shape = batch_shape(input_shape)
    return shape, ConvGeometry.make(shape[1], out_channels, kernel_size, ndim=len(shape) - 2,
                                    **options)


@dataclass(frozen=True)
class Im2colShapes:
    """The GEMM of im2col for one image and one group: ``W_row (x_col) = product`` (B11, D4)."""

    x_col: Shape
    w_row: Shape
    product: Shape
    output: Shape
    gemms: int


def im2col_shapes(input_shape: Sequence[int], out_channels: int, kernel_size: Any, *,
                  stride: Any = 1, padding: Any = 0, dilation: Any = 1,
                  groups: int = 1) -> Im2colShapes:
    """Matrix shapes of convolution as ``W_row · X_col`` (B11, D4; seed 001).

    Each receptive field is stretched into a column of ``(C/G)·∏K`` entries, one column per
    output position: a 227×227×3 input, 96 filters of 11×11×3 with stride 4 give X_col
    363 × 3025, W_row 96 × 363, product 96 × 3025, reshaped to 55×55×96. ``gemms`` is the
    number of such products (one per image and group).
    """
    shape, geometry = _layer(input_shape, out_channels, kernel_size, stride=stride,
                             padding=padding, dilation=dilation, groups=groups)
    output = geometry.output_shape(shape)
    column = (shape[1] // geometry.groups) * math.prod(geometry.kernel)
    positions = math.prod(output[2:])
    rows = geometry.out_channels // geometry.groups
    return Im2colShapes(x_col=(column, positions), w_row=(rows, column),
                        product=(rows, positions), output=output,
                        gemms=shape[0] * geometry.groups)


def downsampled_size(n: int, halvings: int = 5) -> int:
    """``n / 2^halvings`` through exact 2×2, stride-2 poolings (B12: 224/2^5 = 7, 384/2^5 = 12).

    Each halving must be exact (rule B1), else :class:`GeometryError` names the layer.
    """
    halvings = as_int("halvings", halvings, minimum=0)
    n = as_int("n", n, minimum=1)
    for i in range(halvings):
        try:
            n = conv_output_size(n, 2, stride=2, rounding="exact")
        except GeometryError as exc:
            raise GeometryError(f"halving {i + 1} of {halvings}: {exc}") from None
    return n


@dataclass(frozen=True)
class ScoreMap:
    """A network trained at one size, converted to convolutions, run on a larger image (D7)."""

    feature_size: int
    kernel: int
    positions: int
    stride: int
    shape: Shape


def score_map_size(image_size: int, trained_size: int = 224, *, halvings: int = 5,
                   classes: int = 1000) -> ScoreMap:
    """Score map of the FC-to-conv network on a larger image (B12, D7; seed 001).

    The features shrink by ``2^halvings``: 224 → 7 (the first FC layer becomes a 7×7 conv),
    384 → 12, and ``(12 - 7)/1 + 1 = 6``: a 384×384 image gives a 6×6×1000 score map, the
    224 network evaluated at 6×6 positions ``2^5 = 32`` pixels apart, in one pass.
    """
    feature = downsampled_size(image_size, halvings)
    kernel = downsampled_size(trained_size, halvings)
    positions = conv_output_size(feature, kernel)
    classes = as_int("classes", classes, minimum=1)
    return ScoreMap(feature_size=feature, kernel=kernel, positions=positions,
                    stride=2 ** halvings, shape=(classes, positions, positions))


def deformable_offset_shape(input_shape: Sequence[int], kernel_size: Any, *, stride: Any = 1,
                            padding: Any = 0, dilation: Any = 1,
                            offset_groups: int = 1) -> Shape:
    """Shape of a deformable convolution's offsets: ``(N, 2·G·∏K, *out)`` in 2-D (B13; seed 003).

    Each kernel tap gets one offset per spatial axis (``ndim·∏K`` channels per offset group):
    X [32, 64, 28, 28] with a 3×3 kernel (padding 1) gives offsets [32, 18, 28, 28].
    """
    shape = batch_shape(input_shape)
    groups = as_int("offset_groups", offset_groups, minimum=1)
    if shape[1] % groups:
        raise GeometryError(
            f"offset_groups={groups} does not divide the input's {shape[1]} channels"
        )
    geometry = ConvGeometry.make(shape[1], 1, kernel_size, stride=stride, padding=padding,
                                 dilation=dilation, ndim=len(shape) - 2)
    spatial = geometry.output_spatial(shape[2:])
    return (shape[0], geometry.ndim * groups * math.prod(geometry.kernel), *spatial)


def conv_matrix_shape(geometry: ConvGeometry, spatial: Sequence[int]) -> Shape:
    """``(rows, columns)`` of the matrix C with ``vec(y) = C vec(x)`` for one image (D1, D5).

    A transposed geometry gives the shape of its own matrix, which is ``C^T`` of its adjoint.
    """
    if not isinstance(geometry, ConvGeometry):
        raise GeometryError(f"geometry must be a ConvGeometry, got {type(geometry).__name__}")
    spatial = as_tuple("spatial", tuple(spatial) if is_sequence(spatial) else spatial,
                       geometry.ndim, minimum=1)
    out = geometry.output_spatial(spatial)
    return (geometry.out_channels * math.prod(out), geometry.in_channels * math.prod(spatial))


def toeplitz_shape(n: int, kernel: int, *, padding: Any = 0) -> Shape:
    """Shape ``(n_out, n)`` of the Toeplitz matrix of a 1-D convolution (D1; seed 000).

    Each row is the previous one shifted by one; ``padding`` (an int or ``(before, after)``)
    lengthens the output, not the matrix's input side.
    """
    geometry = ConvGeometry.make(1, 1, kernel, padding=padding, ndim=1)
    return conv_matrix_shape(geometry, (n,))


def circulant_size(m: int, n: int) -> int:
    """``L = M + N - 1``: both signals are zero-padded to L for the circulant form (D2; seed 000).

    The full convolution of lengths M and N is ``W x_p`` with W the L×L circulant of ``w_p``.
    """
    return wide_output_size(m, n)


@dataclass(frozen=True)
class DoublyBlockCirculant:
    """Shapes of the doubly block circulant form of a 2-D full convolution (D3)."""

    padded: Shape
    block: Shape
    blocks: Shape
    matrix: Shape
    nonzero_blocks: int


def doubly_block_circulant_shape(input_size: Sequence[int],
                                 kernel_size: Sequence[int]) -> DoublyBlockCirculant:
    """2-D full convolution as ``h_b = G_b f_p`` (D3; seed 000).

    I and K are zero-padded to ``M × N = (M_I+M_K-1) × (N_I+N_K-1)``; each of the M rows of
    ``K_p`` gives an N×N circulant ``G_m`` (only the ``M_K`` rows of K are non-zero), and the
    M×M arrangement of blocks is itself circulant: ``G_b`` is ``MN × MN``.
    """
    if not (is_sequence(input_size) and is_sequence(kernel_size)
            and len(input_size) == 2 and len(kernel_size) == 2):
        raise GeometryError(
            "input_size and kernel_size must be (rows, columns) pairs, got "
            f"{input_size!r} and {kernel_size!r}"
        )
    padded = wide_output_size(tuple(input_size), tuple(kernel_size))
    m, n = padded
    return DoublyBlockCirculant(padded=padded, block=(n, n), blocks=(m, m),
                                matrix=(m * n, m * n), nonzero_blocks=kernel_size[0])


@dataclass(frozen=True)
class SparseFC:
    """A conv layer read as a fully connected layer (D5): its weight matrix's structure."""

    shape: Shape
    nonzeros: int
    distinct_weights: int

    @property
    def density(self) -> float:
        return self.nonzeros / math.prod(self.shape)


def _taps_inside(n: int, out: int, kernel: int, stride: int, before: int, dilation: int) -> int:
    """How many (output position, kernel tap) pairs along one axis read a real input."""
    return sum(1 for i in range(out) for j in range(kernel)
               if 0 <= i * stride - before + j * dilation < n)


def conv_as_fc(geometry: ConvGeometry, spatial: Sequence[int]) -> SparseFC:
    """The fully connected weight matrix equal to a convolution: sparse and tied (D5; seed 001).

    ``shape`` is :func:`conv_matrix_shape`; ``nonzeros`` counts the entries that hold a weight
    (taps that land in the padding hold none); ``distinct_weights`` is the kernel's size, shared
    by every output position.
    """
    if isinstance(geometry, ConvGeometry) and geometry.transposed:
        raise GeometryError("conv_as_fc describes a forward convolution; pass geometry.adjoint()")
    shape = conv_matrix_shape(geometry, spatial)
    spatial = tuple(spatial)
    out = geometry.output_spatial(spatial)
    taps = math.prod(
        _taps_inside(spatial[a], out[a], geometry.kernel[a], geometry.stride[a],
                     geometry.padding[a][0], geometry.dilation[a])
        for a in range(geometry.ndim))
    per_group = (geometry.in_channels // geometry.groups) * geometry.out_channels
    return SparseFC(shape=shape, nonzeros=taps * per_group,
                    distinct_weights=math.prod(geometry.weight_shape))


def fc_as_conv(input_shape: Sequence[int], out_features: int, *,
               bias: bool = True) -> ConvGeometry:
    """A fully connected layer on a ``(N, C, *spatial)`` volume as a convolution (D6; seed 001).

    The kernel covers the whole input (F = spatial size, P = 0, S = 1), so the output is
    ``(N, out_features, 1, ..., 1)``: an FC layer on 7×7×512 is a conv with F=7, K=4096, and the
    FC layers after it are 1×1 convolutions.
    """
    shape = batch_shape(input_shape)
    return ConvGeometry.make(shape[1], out_features, shape[2:], bias=bias)


def fc_stack_as_conv(input_shape: Sequence[int], widths: Sequence[int], *,
                     bias: bool = True) -> tuple[ConvGeometry, ...]:
    """Consecutive FC layers as convolutions: the first covers the input, the rest are 1×1 (D6)."""
    if not is_sequence(widths) or not widths:
        raise GeometryError(f"widths must be a non-empty sequence of layer widths, got {widths!r}")
    shape = batch_shape(input_shape)
    layers = []
    for width in widths:
        layer = fc_as_conv(shape, width, bias=bias)
        layers.append(layer)
        shape = layer.output_shape(shape)
    return tuple(layers)


@dataclass(frozen=True)
class TransposedMatrixShapes:
    """The convolution's matrix C (out × in) and the transposed convolution's ``C^T`` (D8)."""

    conv: Shape
    transposed: Shape


def transposed_matrix_shapes(n: Any, kernel: Any, *, stride: Any = 1, padding: Any = 0,
                             dilation: Any = 1, channels: int = 1) -> TransposedMatrixShapes:
    """Shapes of C and ``C^T`` for a convolution on inputs of size ``n`` (D8, F8; seed 002).

    In 1-D, 5 → 3 with a 3-tap kernel: C is 3×5 and the transposed convolution
    ``x = C^T z = rot180(w) ~⊗ z`` multiplies by the 5×3 matrix ``C^T``.
    """
    ndim = len(n) if is_sequence(n) else (None if is_sequence(kernel) else 1)
    geometry = ConvGeometry.make(channels, channels, kernel, stride=stride, padding=padding,
                                 dilation=dilation, ndim=ndim)
    conv = conv_matrix_shape(geometry, n)
    return TransposedMatrixShapes(conv=conv, transposed=(conv[1], conv[0]))
