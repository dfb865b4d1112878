"""Parameter and compute counts (inventory section C).

Every count is asked of a :class:`~convspec.spec.geometry.ConvGeometry` (``params()`` and
``macs()``), so the formulas of C1, C3 and C4 live in one place; the functions here build the
layers each section of the notes describes and compare them. A comparison is a
:class:`CountComparison` of the notes' "original" design against its replacement.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from .validate import as_int, is_sequence
from .errors import GeometryError
from .geometry import ConvGeometry
from .shapes import batch_shape

Kernel = int | Sequence[int]


@dataclass(frozen=True)
class CountComparison:
    """A count of the notes' original layer(s) against their replacement."""

    original: int
    replacement: int

    @property
    def ratio(self) -> Fraction:
        """``replacement / original`` as an exact fraction (C5: ``2/n``)."""
        return Fraction(self.replacement, self.original)

    @property
    def saved(self) -> int:
        """How many fewer the replacement needs (negative if it needs more)."""
        return self.original - self.replacement


def _geometry(in_channels: int, out_channels: int, kernel_size: Kernel, *, ndim: int | None,
              **options: Any) -> ConvGeometry:
    """A conv geometry; an int kernel means a square (2-D) kernel unless ``ndim`` says otherwise."""
    if ndim is None and not is_sequence(kernel_size):
        ndim = 2
    return ConvGeometry.make(in_channels, out_channels, kernel_size, ndim=ndim, **options)


def conv_params(in_channels: int, out_channels: int, kernel_size: Kernel, *, groups: int = 1,
                bias: bool = True, ndim: int | None = None) -> int:
    """Weights plus biases of a convolution layer.

    C1 (seeds 000, 002): ``P×D×m×n + P`` for P output and D input maps of m×n kernels (seed 001:
    a 5×5×3 field has 75 weights + 1 bias; AlexNet conv1 has 96×11×11×3 = 34,848 weights,
    34,944 parameters). C4 (seed 000) with groups: ``G·W_K·H_K·(C_I/G)·(C_O/G)`` weights.
    An int ``kernel_size`` is a square 2-D kernel unless ``ndim`` is given.
    """
    return _geometry(in_channels, out_channels, kernel_size, ndim=ndim, groups=groups,
                     bias=bias).params()


def conv_macs(input_shape: Sequence[int], out_channels: int, kernel_size: Kernel, *,
              stride: Any = 1, padding: Any = 0, dilation: Any = 1, groups: int = 1) -> int:
    """Multiply-accumulates of one convolution over ``input_shape = (N, C, *spatial)``.

    C3 (seed 000): ``W_K·H_K·C_I·W_O·H_O·C_O`` per image; C4 with groups:
    ``G·W_K·H_K·(C_I/G)·W_O·H_O·(C_O/G)``. The bias additions are not counted.
    """
    shape = batch_shape(input_shape)
    geometry = ConvGeometry.make(shape[1], out_channels, kernel_size, stride=stride,
                                 padding=padding, dilation=dilation, groups=groups,
                                 ndim=len(shape) - 2)
    return geometry.macs(shape)


def connection_table_params(table: Sequence[Sequence[int]], kernel_size: Kernel, *,
                            bias: bool = True) -> int:
    """Parameters of a layer with a connection table ``T`` (P×D, 0/1): ``K×m×n + P``.

    C2 (seed 000): only the K pairs (p, d) with ``T[p][d] = 1`` have an m×n kernel; each of the
    P output maps has a bias. E21 gives the same layer as a conv with masked weights.
    """
    rows = [list(row) if is_sequence(row) else None for row in _rows(table)]
    if not rows or any(row is None for row in rows):
        raise GeometryError("table must be a non-empty P×D matrix of 0/1 entries (a list of rows)")
    width = len(rows[0])
    nonzeros = 0
    for p, row in enumerate(rows):
        if len(row) != width or width == 0:
            raise GeometryError(
                f"table row {p} has {len(row)} entries, row 0 has {width}: T must be a "
                "rectangular P×D matrix with D ≥ 1"
            )
        for d, entry in enumerate(row):
            value = as_int(f"table[{p}][{d}]", entry, minimum=0)
            if value > 1:
                raise GeometryError(f"table[{p}][{d}] is {value}; connection tables hold 0 or 1")
            nonzeros += value
    per_kernel = conv_params(1, 1, kernel_size, bias=False)
    return nonzeros * per_kernel + (len(rows) if bias else 0)


def _rows(table: Any) -> list:
    if hasattr(table, "tolist"):
        table = table.tolist()
    if not is_sequence(table):
        raise GeometryError(f"table must be a P×D matrix of 0/1 entries, got {table!r}")
    return list(table)


def asymmetric_factorization_params(n: int, channels: int) -> CountComparison:
    """An n×n conv against a 1×n conv followed by an n×1 conv, C channels throughout.

    C5 (seed 000): ``n²C²`` against ``2nC²``, ratio ``2/n`` (biases not counted, as in the notes).
    """
    n = as_int("n", n, minimum=1)
    square = conv_params(channels, channels, (n, n), bias=False)
    factorized = (conv_params(channels, channels, (1, n), bias=False)
                  + conv_params(channels, channels, (n, 1), bias=False))
    return CountComparison(square, factorized)


def bottleneck_params(in_channels: int, out_channels: int, kernel_size: Kernel, *,
                      width: int | None = None) -> CountComparison:
    """A W_K×H_K conv against the 1×1 bottleneck: 1×1 to ``width``, W_K×H_K, 1×1 to C_O.

    C6 (seed 000): with ``width = √C_O`` the bottleneck has
    ``C_I√C_O + W_K·H_K·C_O + C_O^{3/2}`` weights against ``C_I·C_O·W_K·H_K``. ``width``
    defaults to ``√C_O``, which must then be an integer. Biases are not counted.
    """
    c_out = as_int("out_channels", out_channels, minimum=1)
    if width is None:
        width = math.isqrt(c_out)
        if width * width != c_out:
            raise GeometryError(
                f"the notes' bottleneck width is √C_O, and √{c_out} is not an integer: choose "
                f"out_channels a perfect square (e.g. {width * width} or {(width + 1) ** 2}) or "
                "pass width="
            )
    direct = conv_params(in_channels, c_out, kernel_size, bias=False)
    bottleneck = (conv_params(in_channels, width, 1, bias=False)
                  + conv_params(width, width, kernel_size, bias=False)
                  + conv_params(width, c_out, 1, bias=False))
    return CountComparison(direct, bottleneck)


def stacked_kernel_layers(kernel: int, small_kernel: int) -> int:
    """How many stacked ``k'``-wide layers replace one ``k``-wide layer: ``n = (k-1)/(k'-1)``.

    C7 (seed 000): the sizes must satisfy ``k - 1 = n(k' - 1)`` so that the output size and
    the receptive field stay the same (E12, E13).
    """
    k = as_int("kernel", kernel, minimum=1)
    small = as_int("small_kernel", small_kernel, minimum=2)
    if (k - 1) % (small - 1):
        raise GeometryError(
            f"k - 1 = n(k' - 1) has no integer n for k={k}, k'={small}: ({k}-1)/({small}-1) = "
            f"{(k - 1) / (small - 1):.4g}. Choose k = n*({small}-1) + 1, e.g. "
            f"{((k - 1) // (small - 1)) * (small - 1) + 1} or "
            f"{((k - 1) // (small - 1) + 1) * (small - 1) + 1}"
        )
    return (k - 1) // (small - 1)


def stacked_kernel_params(kernel: int, small_kernel: int, *, in_channels: int = 1,
                          out_channels: int = 1, bias: bool = True) -> CountComparison:
    """One k×k layer against the ``n`` stacked k'×k' layers that replace it (C7).

    The first stacked layer maps ``in_channels → out_channels``, the others keep
    ``out_channels``. Every layer has its own bias: two 3×3 layers on one channel have
    ``3·3·2 + 2 = 20`` parameters against ``5·5 + 1 = 26`` (seed 004 counts ``3×3×2+1``, which is
    erratum C7 in :mod:`convspec.spec.errata`).
    """
    n = stacked_kernel_layers(kernel, small_kernel)
    single = conv_params(in_channels, out_channels, kernel, bias=bias)
    stack = conv_params(in_channels, out_channels, small_kernel, bias=bias)
    stack += (n - 1) * conv_params(out_channels, out_channels, small_kernel, bias=bias)
    return CountComparison(single, stack)


def depthwise_separable_params(in_channels: int, out_channels: int, kernel_size: Kernel, *,
                               bias: bool = False) -> CountComparison:
    """A standard conv against depthwise (groups = C) then pointwise 1×1.

    C8 (seeds 000, 003, 004): ``C·k·k + C·C_O`` against ``C·C_O·k·k`` (biases off by default,
    as in the notes).
    """
    standard = conv_params(in_channels, out_channels, kernel_size, bias=bias)
    separable = (conv_params(in_channels, in_channels, kernel_size, groups=in_channels, bias=bias)
                 + conv_params(in_channels, out_channels, 1, bias=bias))
    return CountComparison(standard, separable)


def depthwise_separable_macs(input_shape: Sequence[int], out_channels: int,
                             kernel_size: Kernel, *, stride: Any = 1,
                             padding: Any = 0) -> CountComparison:
    """Multiply-accumulates of a standard conv against depthwise then pointwise (C8, E10)."""
    input_shape = batch_shape(input_shape)
    channels = input_shape[1]
    standard = conv_macs(input_shape, out_channels, kernel_size, stride=stride, padding=padding)
    depthwise = ConvGeometry.make(channels, channels, kernel_size, stride=stride,
                                  padding=padding, groups=channels, ndim=len(input_shape) - 2)
    mid_shape = depthwise.output_shape(input_shape)
    return CountComparison(standard,
                           depthwise.macs(input_shape) + conv_macs(mid_shape, out_channels, 1))


@dataclass(frozen=True)
class SeparableCounts:
    """Weights and multiplies of a k×k kernel against k×1 then 1×k (C9)."""

    params: CountComparison
    macs: CountComparison


def spatially_separable_counts(kernel: int, input_shape: Sequence[int]) -> SeparableCounts:
    """A k×k conv against a k×1 conv then a 1×k conv (valid, stride 1, no bias).

    C9 (seed 003): for k=3, 6 weights against 9, and fewer multiplies: on an n×n single-channel
    image ``3·n(n-2) + 3·(n-2)²`` against ``9·(n-2)²``. E11 checks that a rank-1 kernel gives
    the same output.
    """
    k = as_int("kernel", kernel, minimum=1)
    input_shape = batch_shape(input_shape)
    channels = input_shape[1]
    square = ConvGeometry.make(channels, channels, (k, k), bias=False)
    column = ConvGeometry.make(channels, channels, (k, 1), bias=False)
    row = ConvGeometry.make(channels, channels, (1, k), bias=False)
    column_out = column.output_shape(input_shape)
    return SeparableCounts(
        params=CountComparison(square.params(), column.params() + row.params()),
        macs=CountComparison(square.macs(input_shape),
                             column.macs(input_shape) + row.macs(column_out)),
    )


def locally_connected_params(input_shape: Sequence[int], out_channels: int,
                             kernel_size: Kernel, *, stride: Any = 1, padding: Any = 0,
                             bias: bool = True) -> int:
    """Parameters of a locally connected (unshared) layer: one kernel per output position.

    C10 (seed 000): sparse like a convolution, but nothing is shared, so the count is the
    convolution's weights times the number of output positions (and, with ``bias``, one bias per
    output element). E22: with equal weights everywhere it is an ordinary convolution.
    """
    input_shape = batch_shape(input_shape)
    geometry = ConvGeometry.make(input_shape[1], out_channels, kernel_size, stride=stride,
                                 padding=padding, bias=False, ndim=len(input_shape) - 2)
    positions = math.prod(geometry.output_shape(input_shape)[2:])
    return positions * (geometry.params() + (out_channels if bias else 0))


def tiled_conv_params(in_channels: int, out_channels: int, kernel_size: Kernel, tiles: int, *,
                      bias: bool = True) -> int:
    """Parameters of a tiled convolution cycling through ``tiles`` kernels.

    C10 (seed 000): "the parameters grow only by a constant factor, the size of the kernel
    set": ``t ×`` :func:`conv_params`. E22: ``t = 1`` is an ordinary convolution.
    """
    t = as_int("tiles", tiles, minimum=1)
    return t * conv_params(in_channels, out_channels, kernel_size, bias=bias)


def model_params(name: str) -> int:
    """Conv and FC parameters of a network in :data:`convspec.spec.models.NETWORKS` (C11, seed 001)."""
    return _network(name).params()


def model_macs(name: str) -> int:
    """Multiply-accumulates of one forward pass of one image through a network (C11)."""
    return _network(name).macs()


def _network(name: str):  # -> Network; imported late so counts does not build tables eagerly
    from .models import NETWORKS
    if name not in NETWORKS:
        raise GeometryError(f"unknown network {name!r}; choose one of {', '.join(NETWORKS)}")
    return NETWORKS[name]


def trainable_pool_params(channels: int) -> int:
    """LeNet-5 style trainable pooling ``Y' = f(w·Y + b)``: one weight and one bias per map.

    C13, G5 (seed 002): ``2 × channels``.
    """
    return 2 * as_int("channels", channels, minimum=1)
