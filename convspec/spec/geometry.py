"""Frozen value types for the geometry of a convolution or pooling layer.

:class:`ConvGeometry` and :class:`PoolGeometry` are the single source of truth for shapes in
convspec: the reference implementations, the Hypothesis strategies, the properties, the
adapters' argument conversion and the benchmark workloads all ask these objects for weight
shapes, output shapes and the protocol's keyword arguments, and the objects ask
:mod:`convspec.spec.sizes` for the per-axis formulas.

Build them with :meth:`ConvGeometry.make` / :meth:`PoolGeometry.make`, which accept ints for
"the same on every axis" and validate everything; the dataclass fields always hold normalized
per-axis tuples. ``judged=False`` keeps the normalization (per-axis ints in the protocol's
forms) and leaves the geometry's validity unjudged: the adapters build such geometries, so an
invalid call (groups not dividing the channels, an output of size 0 or less, too much
pooling padding, ``output_padding`` past the stride) reaches the library, which must reject it
(issue 17); its sizes are the formulas' values, 0 or negative included.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .validate import Pair, as_int, as_padding, as_tuple, is_sequence, spatial_rank
from .errors import GeometryError
from .sizes import (
    conv_axis_formula,
    conv_output_size,
    effective_kernel_size,
    pool_axis_formula,
    pool_output_size,
    transposed_axis_formula,
    transposed_output_size,
)

MAX_SPATIAL_RANK = 3


def _rank(kernel: Any, ndim: int | None, **others: Any) -> int:
    rank = spatial_rank(kernel=kernel, **others)
    if ndim is not None:
        ndim = as_int("ndim", ndim, minimum=1)
        if rank is not None and rank != ndim:
            raise GeometryError(f"ndim={ndim} but the per-axis arguments have {rank} entries")
        rank = ndim
    if rank is None:
        raise GeometryError(
            "cannot tell the number of spatial axes: give kernel as a tuple (one entry per axis) "
            "or pass ndim"
        )
    if rank > MAX_SPATIAL_RANK:
        raise GeometryError(f"{rank} spatial axes requested; convspec covers 1 to 3 (A7)")
    return rank


def volume(sizes: Sequence[int]) -> int:
    """The number of positions in a grid of these sizes, ``∏ n_i`` (C3's ``W·H`` factors)."""
    return math.prod(sizes)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _window_axis(o: int, n: int, k: int, s: int, d: int, before: int) -> tuple[int, ...]:
    """Input indices window ``o`` reads on one axis: ``o·s - before + j·d`` for taps ``j < k``
    that land inside ``[0, n)`` (A3, B8), ascending."""
    return tuple(i for i in (o * s - before + j * d for j in range(k)) if 0 <= i < n)


def _scatter_axis(o: int, n: int, k: int, s: int, d: int, before: int) -> tuple[int, ...]:
    """Input indices a transposed convolution's output ``o`` sums on one axis: the ``i < n``
    with ``i·s - before + j·d = o`` for some tap ``j < k`` (B10), ascending."""
    hits = ((o + before - j * d) for j in range(k))
    return tuple(sorted(t // s for t in hits if t % s == 0 and 0 <= t // s < n))


def _check_position(what: str, position: Sequence[int], sizes: Sequence[int]) -> tuple[int, ...]:
    position = tuple(position)
    if len(position) != len(sizes):
        raise GeometryError(f"{what} {position} has {len(position)} axes, expected {len(sizes)}")
    for axis, (i, n) in enumerate(zip(position, sizes)):
        if not 0 <= as_int(f"{what}[{axis}]", i, minimum=0) < n:
            raise GeometryError(f"{what} {position} lies outside the extent {tuple(sizes)} "
                                f"(axis {axis}: {i} not in 0..{n - 1})")
    return position


class _ReadsInputs:
    """The cells one output reads, for both geometry types (their ``_reads`` gives one axis)."""

    def output_spatial(self, spatial: Sequence[int]) -> tuple[int, ...]:
        raise NotImplementedError

    def _reads(self, axis: int, o: int, n: int) -> tuple[int, ...]:
        raise NotImplementedError

    def input_positions(self, output_position: Sequence[int],
                        spatial: Sequence[int]) -> tuple[tuple[int, ...], ...]:
        """The input cells one output reads (A3, B8, B10, G1; E5's receptive field in one layer).

        Per axis, ascending, the input indices whose product with some tap enters the output,
        padding (and pooling's ``ceil_mode`` overhang) excluded: ``o·s - p_before + j·d`` for
        taps ``j < K`` inside ``[0, n)``; for a transposed convolution, which scatters input
        ``i`` to ``i·s - p_before + j·d``, the ``i < n`` with ``i·s - p_before + j·d = o``. The
        cells are the product of the axes' sets; an empty axis means the output reads only
        padding. ``spatial`` is the input size.
        """
        spatial = tuple(spatial)
        position = _check_position("output position", output_position,
                                   self.output_spatial(spatial))
        return tuple(self._reads(axis, o, spatial[axis]) for axis, o in enumerate(position))

    def reads_padding_only(self, spatial: Sequence[int]) -> bool:
        """Whether some output reads padding only: an empty axis of :meth:`input_positions`
        (per axis independently, so one scan of each axis's outputs decides)."""
        spatial = tuple(spatial)
        return any(not self._reads(axis, o, spatial[axis])
                   for axis, m in enumerate(self.output_spatial(spatial)) for o in range(m))

    def output_positions(self, input_position: Sequence[int],
                         spatial: Sequence[int]) -> tuple[tuple[int, ...], ...]:
        """The output cells that read one input cell (E5, C12; G2: several windows where they
        overlap): per axis, ascending, the output indices ``o`` whose :meth:`input_positions`
        hold the input's index on that axis. ``spatial`` is the input size."""
        spatial = tuple(spatial)
        position = _check_position("input position", input_position, spatial)
        return tuple(tuple(o for o in range(m) if i in self._reads(axis, o, spatial[axis]))
                     for axis, (i, m) in enumerate(zip(position, self.output_spatial(spatial))))


def check_input_shape(input_shape: Sequence[int], rank: int, channels: int | None,
                      *, what: str = "input") -> tuple[int, ...]:
    """Validate ``(N, C, *spatial)`` against a layer of ``rank`` spatial axes."""
    if not is_sequence(input_shape):
        raise GeometryError(f"{what} shape must be a sequence (N, C, *spatial), got {input_shape!r}")
    if len(input_shape) != rank + 2:
        raise GeometryError(
            f"{what} has {len(input_shape)} axes {tuple(input_shape)}, expected {rank + 2}: "
            f"(N, C) followed by {rank} spatial axes"
        )
    shape = (as_int(f"{what} batch size N", input_shape[0], minimum=0),
             as_int(f"{what} channels C", input_shape[1], minimum=1),
             *(as_int(f"{what} spatial size [{i}]", v, minimum=1)
               for i, v in enumerate(input_shape[2:])))
    if channels is not None and shape[1] != channels:
        raise GeometryError(
            f"{what} has {shape[1]} channels but the layer expects {channels}: the weight's "
            "channel axis and the input's C must agree"
        )
    return shape


@dataclass(frozen=True)
class ConvGeometry(_ReadsInputs):
    """A convolution (or transposed convolution) layer's geometry.

    Weight layouts follow PyTorch (inventory B14): ``(C_out, C_in/G, *K)`` for convolution and
    ``(C_in, C_out/G, *K)`` for transposed convolution. ``padding`` holds ``(before, after)``
    pairs; a transposed convolution's padding crops its output (B10).
    """

    in_channels: int
    out_channels: int
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[Pair, ...]
    dilation: tuple[int, ...]
    groups: int = 1
    transposed: bool = False
    output_padding: tuple[int, ...] = field(default=())
    bias: bool = True
    #: ``False``: normalized, not validated (the module docstring); sizes are the formulas'.
    judged: bool = field(default=True, compare=False, repr=False)

    @classmethod
    def make(cls, in_channels: int, out_channels: int, kernel: int | Sequence[int], *,
             stride: Any = 1, padding: Any = 0, dilation: Any = 1, groups: int = 1,
             transposed: bool = False, output_padding: Any = 0, bias: bool = True,
             ndim: int | None = None, judged: bool = True) -> ConvGeometry:
        """Normalize and validate (``judged=False``: normalize only); ints broadcast to every
        spatial axis."""
        rank = _rank(kernel, ndim, stride=stride, dilation=dilation,
                     output_padding=output_padding)
        return cls(
            in_channels=in_channels, out_channels=out_channels,
            kernel=as_tuple("kernel", kernel, rank, minimum=1),
            stride=as_tuple("stride", stride, rank, minimum=1),
            padding=as_padding("padding", padding, rank),
            dilation=as_tuple("dilation", dilation, rank, minimum=1),
            groups=groups, transposed=transposed,
            output_padding=as_tuple("output_padding", output_padding, rank, minimum=0),
            bias=bias, judged=judged,
        )

    def __post_init__(self) -> None:
        rank = len(self.kernel)
        if not 1 <= rank <= MAX_SPATIAL_RANK:
            raise GeometryError(f"kernel has {rank} axes; convspec covers 1 to 3 spatial axes")
        object.__setattr__(self, "kernel", as_tuple("kernel", self.kernel, rank, minimum=1))
        object.__setattr__(self, "stride", as_tuple("stride", self.stride, rank, minimum=1))
        object.__setattr__(self, "padding", as_padding("padding", self.padding, rank))
        object.__setattr__(self, "dilation", as_tuple("dilation", self.dilation, rank, minimum=1))
        op = self.output_padding if self.output_padding != () else 0
        object.__setattr__(self, "output_padding", as_tuple("output_padding", op, rank, minimum=0))
        c_in = as_int("in_channels", self.in_channels, minimum=1)
        c_out = as_int("out_channels", self.out_channels, minimum=1)
        g = as_int("groups", self.groups, minimum=1)
        for name, c in (("in_channels", c_in), ("out_channels", c_out)) if self.judged else ():
            if c % g:
                divisors = [d for d in range(1, c + 1) if c % d == 0]
                raise GeometryError(
                    f"groups={g} does not divide {name}={c}: each group needs a whole number "
                    f"of channels (B14). Choose groups among {divisors}"
                )
        if not isinstance(self.transposed, bool) or not isinstance(self.bias, bool):
            raise GeometryError("transposed and bias must be True or False")
        if not self.transposed and any(self.output_padding):
            raise GeometryError(
                "output_padding only applies to transposed convolution; leave it 0 or set "
                "transposed=True"
            )
        if self.transposed and self.judged:
            transposed_output_size(1, self.kernel, stride=self.stride, dilation=self.dilation,
                                   output_padding=self.output_padding,
                                   padding=tuple((0, 0) for _ in self.kernel))

    # -- derived quantities -------------------------------------------------------------
    @property
    def ndim(self) -> int:
        """Number of spatial axes (1, 2 or 3; A7)."""
        return len(self.kernel)

    @property
    def effective_kernel(self) -> tuple[int, ...]:
        """Dilated kernel span per axis (B7)."""
        return effective_kernel_size(self.kernel, self.dilation)

    @property
    def weight_shape(self) -> tuple[int, ...]:
        """``(C_out, C_in/G, *K)``, or ``(C_in, C_out/G, *K)`` when transposed (B14)."""
        if self.transposed:
            return (self.in_channels, self.out_channels // self.groups, *self.kernel)
        return (self.out_channels, self.in_channels // self.groups, *self.kernel)

    @property
    def bias_shape(self) -> tuple[int, ...] | None:
        return (self.out_channels,) if self.bias else None

    @property
    def symmetric_padding(self) -> tuple[int, ...]:
        """Padding as one int per axis; raises if some axis pads its two sides differently."""
        for i, (b, a) in enumerate(self.padding):
            if b != a:
                raise GeometryError(
                    f"axis {i} pads {b} before and {a} after; this operation takes one padding "
                    "per axis (PyTorch's transposed convolution and pooling have no asymmetric form)"
                )
        return tuple(b for b, _ in self.padding)

    @property
    def is_symmetric(self) -> bool:
        return all(b == a for b, a in self.padding)

    @property
    def kernel_volume(self) -> int:
        """Taps of one filter per input channel, ``∏K`` (C3's ``W_K·H_K``)."""
        return volume(self.kernel)

    @property
    def reduction_length(self) -> int:
        """The longest sum behind one output element, bias excluded: ``(C_in/G)·∏K`` products
        (C3, C4). A convolution's every output sums exactly that many; a transposed
        convolution's output sums at most that many (only the taps that land on an input)."""
        return (self.in_channels // self.groups) * self.kernel_volume

    def output_volume(self, spatial: Sequence[int]) -> int:
        """Output positions per sample and channel, ``∏ out`` (C3's ``W_O·H_O``; B1 or B10)."""
        return volume(self.output_spatial(spatial))

    def transform_length(self, spatial: Sequence[int]) -> int:
        """``∏ (n + p_before + p_after + K_eff)`` over the axes: the length of a linear
        transform (an FFT, a Winograd tile sweep) of the padded signal ``n`` and the dilated
        kernel (B7), at most what such an algorithm mixes into one output. ``spatial`` is the
        largest signal per axis the operation transforms (its input, or ``dy``)."""
        return volume(n + before + after + keff for n, (before, after), keff
                      in zip(spatial, self.padding, self.effective_kernel))

    def _reads(self, axis: int, o: int, n: int) -> tuple[int, ...]:
        """Forward: :func:`_window_axis`; transposed: :func:`_scatter_axis` (B10)."""
        axis_of = (self.kernel[axis], self.stride[axis], self.dilation[axis],
                   self.padding[axis][0])
        return (_scatter_axis if self.transposed else _window_axis)(o, n, *axis_of)

    def input_spatial_for(self, output_spatial: Sequence[int]) -> tuple[int, ...]:
        """The smallest input spatial size whose output is at least ``output_spatial``.

        B1 inverted: ``n ≥ (o - 1)·s + K_eff - p_before - p_after``; B10 inverted:
        ``n ≥ 1 + ⌈(o - K_eff - output_padding + p_before + p_after)/s⌉``; and ``n ≥ 1``.
        Larger inputs give larger (never smaller) outputs, so every ``n`` from there on is
        accepted and gives at least ``o``.
        """
        output_spatial = tuple(as_int(f"output size [{i}]", o, minimum=1)
                               for i, o in enumerate(output_spatial))
        if len(output_spatial) != self.ndim:
            raise GeometryError(f"output has {len(output_spatial)} spatial axes, the layer has "
                                f"{self.ndim}")
        sizes = []
        for o, keff, s, (before, after), op in zip(output_spatial, self.effective_kernel,
                                                   self.stride, self.padding,
                                                   self.output_padding):
            if self.transposed:
                sizes.append(max(1, 1 + _ceil_div(o - keff - op + before + after, s)))
            else:
                sizes.append(max(1, (o - 1) * s + keff - before - after))
        return tuple(sizes)

    def min_input_spatial(self) -> tuple[int, ...]:
        """The smallest input spatial size the geometry accepts (an output of 1 on every axis;
        B1: ``max(1, K_eff - p_before - p_after)``; B10:
        ``max(1, 1 + ⌈(1 - K_eff - output_padding + p_before + p_after)/s⌉)``)."""
        return self.input_spatial_for((1,) * self.ndim)

    def output_spatial(self, spatial: Sequence[int]) -> tuple[int, ...]:
        """Output spatial sizes for input spatial sizes (B1 or B10)."""
        spatial = tuple(spatial)
        if not self.judged:
            axes = zip(spatial, self.kernel, self.stride, self.padding, self.dilation,
                       self.output_padding)
            if self.transposed:
                return tuple(transposed_axis_formula(*axis) for axis in axes)
            return tuple(conv_axis_formula(*axis[:5]) for axis in axes)
        if len(spatial) != self.ndim:
            raise GeometryError(
                f"input has {len(spatial)} spatial axes, the layer has {self.ndim}"
            )
        if self.transposed:
            return transposed_output_size(spatial, self.kernel, stride=self.stride,
                                          padding=self.padding, dilation=self.dilation,
                                          output_padding=self.output_padding)
        return conv_output_size(spatial, self.kernel, stride=self.stride, padding=self.padding,
                                dilation=self.dilation)

    def check_input(self, input_shape: Sequence[int]) -> tuple[int, ...]:
        if not self.judged:
            return tuple(input_shape)
        return check_input_shape(input_shape, self.ndim, self.in_channels)

    def output_shape(self, input_shape: Sequence[int]) -> tuple[int, ...]:
        """``(N, C_out, *out)`` for an input ``(N, C_in, *spatial)``."""
        shape = self.check_input(input_shape)
        return (shape[0], self.out_channels, *self.output_spatial(shape[2:]))

    def params(self) -> int:
        """Weights plus biases: ``C_out·(C_in/G)·∏K + C_out`` (C1, C4)."""
        return math.prod(self.weight_shape) + (self.out_channels if self.bias else 0)

    def macs(self, input_shape: Sequence[int]) -> int:
        """Multiply-accumulates of one forward pass, bias excluded (C3, C4).

        Each output element of a convolution reduces over ``(C_in/G)·∏K`` products. A transposed
        convolution is the adjoint of the convolution from its output to its input, so it does
        the same products: one per weight tap per *input* position.
        """
        shape = self.check_input(input_shape)
        if self.transposed:
            return shape[0] * math.prod(shape[2:]) * math.prod(self.weight_shape)
        out = self.output_spatial(shape[2:])
        per_output = (self.in_channels // self.groups) * math.prod(self.kernel)
        return shape[0] * self.out_channels * math.prod(out) * per_output

    def adjoint(self) -> ConvGeometry:
        """The geometry whose operator is this one's transpose (D8, F8, F9).

        A convolution ``C_in → C_out`` becomes a transposed convolution ``C_out → C_in`` with
        the same weight array, stride, padding, dilation and groups, and vice versa.
        ``output_padding`` is not part of the adjoint: pick it with :meth:`adjoint_for`.
        """
        return replace(self, in_channels=self.out_channels, out_channels=self.in_channels,
                       transposed=not self.transposed,
                       output_padding=tuple(0 for _ in self.kernel))

    def adjoint_for(self, spatial: Sequence[int]) -> ConvGeometry:
        """The adjoint geometry whose output matches ``spatial``, this layer's input size.

        For a convolution, several input sizes give one output size; ``output_padding`` picks
        the right one, which is how a transposed convolution computes a convolution's input
        gradient (F2, F9).
        """
        if self.transposed:
            return self.adjoint()
        # The B1 remainder is the input positions the transposed size formula (B10) cannot
        # see, so it is the output_padding.
        return replace(self.adjoint(), output_padding=self._remainder(spatial))

    def _remainder(self, spatial: Sequence[int]) -> tuple[int, ...]:
        """What B1's floor drops per axis, ``(n + p_before + p_after - k_eff) mod s``: the
        input positions at the end that no window reaches."""
        self.output_spatial(spatial)  # validates spatial for this convolution
        return tuple((n + before + after - keff) % s for n, (before, after), keff, s in
                     zip(spatial, self.padding, self.effective_kernel, self.stride))

    def correlation(self, spatial: Sequence[int]) -> tuple[ConvGeometry, tuple[int, ...]]:
        """The forward convolution this layer's arithmetic is built on, and its input size.

        For a convolution with input ``spatial``, itself; for a transposed convolution, its
        adjoint (D8, F8), whose input is this layer's output.
        """
        if self.transposed:
            return self.adjoint(), self.output_spatial(spatial)
        self.output_spatial(spatial)
        return self, tuple(spatial)

    def input_gradient_padding(self, spatial: Sequence[int]) -> tuple[Pair, ...]:
        """Padding of the fractionally strided correlation that gives the input gradient.

        ``∂f/∂X = rot180(W) ~⊗ ∂f/∂Y`` (F2, F9): ``∂f/∂Y`` with ``s-1`` zeros inserted, padded by
        ``d(k-1) - p_before`` before and ``d(k-1) - p_after + r`` after, where ``r`` is the B1
        remainder (input positions no window reaches), so the result has the input's length.
        A forward geometry only; ``spatial`` is the input size.
        """
        if self.transposed:
            raise GeometryError("input_gradient_padding() is defined on a forward convolution; "
                                "use correlation() to get the one a transposed layer runs")
        return tuple((keff - 1 - before, keff - 1 - after + r) for (before, after), keff, r in
                     zip(self.padding, self.effective_kernel, self._remainder(spatial)))

    # -- the backend protocol's keyword arguments ---------------------------------------
    def conv_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of the protocol's ``conv`` / ``conv_vjp``."""
        if self.transposed:
            raise GeometryError("conv_kwargs() on a transposed geometry; use conv_transpose_kwargs()")
        return {"stride": self.stride, "padding": self.padding, "dilation": self.dilation,
                "groups": self.groups}

    def conv_transpose_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of the protocol's ``conv_transpose`` / ``conv_transpose_vjp``."""
        if not self.transposed:
            raise GeometryError("conv_transpose_kwargs() on a forward geometry; use conv_kwargs()")
        return {"stride": self.stride, "padding": self.symmetric_padding,
                "output_padding": self.output_padding, "dilation": self.dilation,
                "groups": self.groups}

    def kwargs(self) -> dict[str, Any]:
        """The protocol keyword arguments of whichever operation this geometry describes."""
        return self.conv_transpose_kwargs() if self.transposed else self.conv_kwargs()

    @property
    def operation(self) -> str:
        return "conv_transpose" if self.transposed else "conv"

    def describe(self) -> str:
        """A one-line, copy-pasteable description (used in reports and repro scripts)."""
        parts = [f"in_channels={self.in_channels}", f"out_channels={self.out_channels}",
                 f"kernel={self.kernel}", f"stride={self.stride}", f"padding={self.padding}",
                 f"dilation={self.dilation}", f"groups={self.groups}"]
        if self.transposed:
            parts += ["transposed=True", f"output_padding={self.output_padding}"]
        if not self.bias:
            parts.append("bias=False")
        return f"ConvGeometry.make({', '.join(parts)})"


@dataclass(frozen=True)
class PoolGeometry(_ReadsInputs):
    """A max or average pooling layer's geometry (B9, G1, G2).

    Padding is symmetric per axis (as in PyTorch and cuDNN). ``dilation`` applies to max
    pooling only; ``count_include_pad`` to average pooling only.
    """

    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    dilation: tuple[int, ...]
    ceil_mode: bool = False
    count_include_pad: bool = True
    #: ``False``: normalized, not validated (the module docstring); sizes are the formulas'.
    judged: bool = field(default=True, compare=False, repr=False)

    @classmethod
    def make(cls, kernel: int | Sequence[int], *, stride: Any = None, padding: Any = 0,
             dilation: Any = 1, ceil_mode: bool = False, count_include_pad: bool = True,
             ndim: int | None = None, judged: bool = True) -> PoolGeometry:
        """Normalize and validate (``judged=False``: normalize only); ``stride`` defaults to
        the kernel (tiling windows, G2)."""
        rank = _rank(kernel, ndim, stride=stride, padding=padding, dilation=dilation)
        k = as_tuple("kernel", kernel, rank, minimum=1)
        return cls(kernel=k,
                   stride=k if stride is None else as_tuple("stride", stride, rank, minimum=1),
                   padding=as_tuple("padding", padding, rank, minimum=0),
                   dilation=as_tuple("dilation", dilation, rank, minimum=1),
                   ceil_mode=ceil_mode, count_include_pad=count_include_pad, judged=judged)

    def __post_init__(self) -> None:
        rank = len(self.kernel)
        if not 1 <= rank <= MAX_SPATIAL_RANK:
            raise GeometryError(f"kernel has {rank} axes; convspec covers 1 to 3 spatial axes")
        for name in ("kernel", "stride", "dilation"):
            object.__setattr__(self, name, as_tuple(name, getattr(self, name), rank, minimum=1))
        object.__setattr__(self, "padding", as_tuple("padding", self.padding, rank, minimum=0))
        if not isinstance(self.ceil_mode, bool) or not isinstance(self.count_include_pad, bool):
            raise GeometryError("ceil_mode and count_include_pad must be True or False")
        if not self.judged:
            return
        # Raises for padding larger than half the window, whatever the input size.
        pool_output_size(tuple(self.kernel[i] * self.dilation[i] + 2 * self.padding[i]
                               for i in range(rank)),
                         self.kernel, stride=self.stride, padding=self.padding,
                         dilation=self.dilation)

    @property
    def ndim(self) -> int:
        return len(self.kernel)

    @property
    def effective_kernel(self) -> tuple[int, ...]:
        return effective_kernel_size(self.kernel, self.dilation)

    @property
    def overlapping(self) -> bool:
        """Whether neighbouring windows share inputs (G2: F=3, S=2 overlaps; F=2, S=2 tiles)."""
        return any(s < k for s, k in zip(self.stride, self.effective_kernel))

    @property
    def windows_per_input(self) -> int:
        """The most windows one input lies in, away from the borders (G2): per axis, the most
        taps ``j`` of a window that land on one input, ``D·j ≡ r (mod S)``. Taps ``j`` and
        ``j'`` land on the same input exactly when ``S/gcd(S, D)`` divides ``j - j'``, so that
        is ``⌈K / (S/gcd(S, D))⌉``; ``⌈K/S⌉`` undilated. A pooling gradient sums that many
        terms into one input."""
        return volume(_ceil_div(k, s // math.gcd(s, d))
                      for k, s, d in zip(self.kernel, self.stride, self.dilation))

    @property
    def kernel_volume(self) -> int:
        """Elements of one window, ``∏K`` (G1: an average divides by at most this)."""
        return volume(self.kernel)

    def window_elements(self, input_shape: Sequence[int]) -> int:
        """Elements the windows of one forward pass visit, padding taps included:
        ``N·C·∏out·∏K`` (B9, G1; pooling's counterpart of C3's multiply-adds)."""
        shape = self.output_shape(input_shape)
        return shape[0] * shape[1] * volume(shape[2:]) * self.kernel_volume

    def window_counts(self, spatial: Sequence[int]) -> tuple[tuple[int, ...], ...]:
        """Per axis, per output index, how many positions an average divides by (G1): the
        taps ``o·s - p + j·d`` inside ``[-p, n + p)`` with ``count_include_pad`` (input and
        padding, never the ``ceil_mode`` overhang), else inside ``[0, n)`` (the input only).
        A window's divisor is the product of its axes' counts."""
        spatial = tuple(spatial)
        counts = []
        for axis, (n, m) in enumerate(zip(spatial, self.output_spatial(spatial))):
            p = self.padding[axis]
            if not self.count_include_pad:
                counts.append(tuple(len(self._reads(axis, o, n)) for o in range(m)))
                continue
            counts.append(tuple(len(_window_axis(o, n + 2 * p, self.kernel[axis],
                                                 self.stride[axis], self.dilation[axis], 0))
                                for o in range(m)))
        return tuple(counts)

    def window_padding(self, spatial: Sequence[int]) -> tuple[tuple[int, int], ...]:
        """Per axis ``(p, after)``: the padding under which plain floor-mode windowing gives
        this geometry's windows (B9 with ``ceil_mode``).

        ``after = max(p, (o - 1)·s + K_eff - n - p)``: with ``ceil_mode`` the last window may
        reach past the right padding, and ``after`` grows by just enough for it to fit, so a
        library that only floors (``lax.reduce_window``, a filter followed by striding, the
        reference's padded buffer) yields exactly ``o`` windows.
        """
        spatial = tuple(spatial)
        out = self.output_spatial(spatial)
        return tuple((p, max(p, (o - 1) * s + keff - n - p)) for n, o, keff, s, p
                     in zip(spatial, out, self.effective_kernel, self.stride, self.padding))

    def overhangs_padding(self, spatial: Sequence[int]) -> bool:
        """Whether, with ``ceil_mode`` and ``count_include_pad``, some window reaches past the
        right padding: the ``after`` of :meth:`window_padding` exceeds ``p`` on some axis (the
        windows whose divisor counts padding but not the overhang, G1)."""
        if not (self.ceil_mode and self.count_include_pad):
            return False
        pads = self.window_padding(spatial)
        return any(after > p for (_, after), p in zip(pads, self.padding))

    def _reads(self, axis: int, o: int, n: int) -> tuple[int, ...]:
        """:func:`_window_axis`: ``o·s - p + j·d`` inside ``[0, n)`` (G1)."""
        return _window_axis(o, n, self.kernel[axis], self.stride[axis], self.dilation[axis],
                            self.padding[axis])

    def min_input_spatial(self, *, small_inputs: bool = True) -> tuple[int, ...]:
        """The smallest input spatial size the geometry accepts (B9), per axis.

        Floor mode: ``max(1, K_eff - 2p)``, the padded input holds one window. ``ceil_mode``:
        ``max(1, K_eff - 2p - s + 1)``, rounding up keeps a window that starts inside the input
        even when the padded input is shorter than it. With ``small_inputs=False`` (a backend
        without the ``pool_small_input`` feature) at least the whole window, ``K_eff``.
        """
        sizes = []
        for keff, s, p in zip(self.effective_kernel, self.stride, self.padding):
            low = max(1, keff - 2 * p - (s - 1 if self.ceil_mode else 0))
            sizes.append(low if small_inputs else max(low, keff))
        return tuple(sizes)

    def output_spatial(self, spatial: Sequence[int]) -> tuple[int, ...]:
        spatial = tuple(spatial)
        if not self.judged:
            return tuple(pool_axis_formula(n, k, s, (p, p), d, self.ceil_mode) for n, k, s, p, d
                         in zip(spatial, self.kernel, self.stride, self.padding, self.dilation))
        if len(spatial) != self.ndim:
            raise GeometryError(f"input has {len(spatial)} spatial axes, the pool has {self.ndim}")
        return pool_output_size(spatial, self.kernel, stride=self.stride, padding=self.padding,
                                dilation=self.dilation, ceil_mode=self.ceil_mode)

    def check_input(self, input_shape: Sequence[int]) -> tuple[int, ...]:
        if not self.judged:
            return tuple(input_shape)
        return check_input_shape(input_shape, self.ndim, None)

    def output_shape(self, input_shape: Sequence[int]) -> tuple[int, ...]:
        """``(N, C, *out)``: depth is unchanged (B9, G4)."""
        shape = self.check_input(input_shape)
        return (shape[0], shape[1], *self.output_spatial(shape[2:]))

    def max_pool_kwargs(self) -> dict[str, Any]:
        return {"kernel": self.kernel, "stride": self.stride, "padding": self.padding,
                "dilation": self.dilation, "ceil_mode": self.ceil_mode}

    def avg_pool_kwargs(self) -> dict[str, Any]:
        if any(d != 1 for d in self.dilation):
            raise GeometryError(
                f"average pooling has no dilation (got {self.dilation}); set dilation=1"
            )
        return {"kernel": self.kernel, "stride": self.stride, "padding": self.padding,
                "ceil_mode": self.ceil_mode, "count_include_pad": self.count_include_pad}

    def describe(self) -> str:
        return (f"PoolGeometry.make(kernel={self.kernel}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}, "
                f"ceil_mode={self.ceil_mode}, count_include_pad={self.count_include_pad})")
