"""Size arithmetic along spatial axes (inventory section B).

Every function here works on one axis when given ints and on several when any of its size
arguments is a per-axis tuple, returning a tuple then. ``padding`` is an int (both sides) or a
``(before, after)`` pair; with several axes it is an int for all of them or one int-or-pair per
axis. These are the only places in convspec where an output length is computed:
:class:`convspec.spec.geometry.ConvGeometry` and :class:`convspec.spec.geometry.PoolGeometry` call them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from .validate import (
    Pair,
    as_choice,
    as_int,
    as_pair,
    as_padding,
    as_tuple,
    padding_rank,
    spatial_rank,
)
from .errors import GeometryError

Size = int | tuple[int, ...]
Rounding = Literal["floor", "ceil", "exact"]
SameConvention = Literal["torch", "tf", "onnx_upper", "onnx_lower"]

ROUNDINGS = ("floor", "ceil", "exact")
SAME_CONVENTIONS = ("torch", "tf", "onnx_upper", "onnx_lower")


def _broadcast(axis_fn: Callable[..., Any], n: Any, *, sizes: dict[str, tuple[Any, int]],
               padding: Any = None, options: dict[str, Any] | None = None) -> Any:
    """Apply a one-axis formula to scalars, or to every axis of per-axis tuples.

    ``sizes`` maps each integer argument to ``(value, minimum)``; ``n`` needs ``minimum`` 1.
    """
    options = options or {}
    rank = spatial_rank(n=n, **{k: v for k, (v, _) in sizes.items()})
    prank = padding_rank(padding) if padding is not None else None
    if rank is None and prank is not None:
        rank = prank
    if rank is None:
        args = {k: as_int(k, v, minimum=m) for k, (v, m) in sizes.items()}
        if padding is not None:
            args["padding"] = as_pair("padding", padding)
        return axis_fn(as_int("n", n, minimum=1), **args, **options)
    ns = as_tuple("n", n, rank, minimum=1)
    per_axis = {k: as_tuple(k, v, rank, minimum=m) for k, (v, m) in sizes.items()}
    pads = as_padding("padding", padding, rank) if padding is not None else None
    out = []
    for i in range(rank):
        args = {k: v[i] for k, v in per_axis.items()}
        if pads is not None:
            args["padding"] = pads[i]
        try:
            out.append(axis_fn(ns[i], **args, **options))
        except GeometryError as exc:
            raise GeometryError(f"spatial axis {i}: {exc}") from None
    return tuple(out)


def _effective(kernel: int, dilation: int) -> int:
    return dilation * (kernel - 1) + 1


def effective_kernel_size(kernel: Size, dilation: Size = 1) -> Size:
    """Span of a dilated kernel: ``m' = m + (m-1)(d-1) = d(m-1) + 1``.

    Inventory B7 (seeds 002, 003). ``d`` is the dilation *rate* (1 = ordinary convolution).
    Seed 000 counts holes instead (rate = holes + 1) and states the span as ``(d+1)×K+1``;
    that is erratum B7 in :mod:`convspec.spec.errata`.
    """
    def axis(n: int, dilation: int) -> int:
        return _effective(n, dilation)
    return _broadcast(axis, kernel, sizes={"dilation": (dilation, 1)})


def _formula(n: int, k: int, s: int, pad: Pair, d: int) -> str:
    pb, pa = pad
    if d == 1 and pb == pa:
        return f"({n} - {k} + 2*{pb})/{s} + 1"
    return f"({n} + {pb} + {pa} - {d}*({k}-1) - 1)/{s} + 1"


def conv_axis_formula(n: int, kernel: int, stride: int, padding: Pair, dilation: int) -> int:
    """B1 on one axis, unjudged: ``⌊(n + p_before + p_after - d(k-1) - 1)/s⌋ + 1``, which is 0
    or less where the window is longer than the padded input (an invalid call's arithmetic, as
    a library that is left to judge it computes it)."""
    return (n + padding[0] + padding[1] - _effective(kernel, dilation)) // stride + 1


def transposed_axis_formula(n: int, kernel: int, stride: int, padding: Pair, dilation: int,
                            output_padding: int) -> int:
    """B10 on one axis, unjudged: ``(n-1)s - p_before - p_after + d(k-1) + output_padding + 1``."""
    return ((n - 1) * stride - padding[0] - padding[1] + dilation * (kernel - 1)
            + output_padding + 1)


def pool_axis_formula(n: int, kernel: int, stride: int, padding: Pair, dilation: int,
                      ceil_mode: bool) -> int:
    """B9 on one axis, unjudged: B1's floor, or with ``ceil_mode`` rounded up, dropping a last
    window that would start past the input and its left padding (PyTorch's and ONNX's rule)."""
    span = n + padding[0] + padding[1] - _effective(kernel, dilation)
    if not (ceil_mode and span > -stride):
        return span // stride + 1
    out = -(-span // stride) + 1
    return out - 1 if (out - 1) * stride >= n + padding[0] else out


def _conv_axis(n: int, kernel: int, stride: int, padding: Pair, dilation: int,
               rounding: str) -> int:
    keff = _effective(kernel, dilation)
    padded = n + padding[0] + padding[1]
    span = padded - keff
    if span < 0:
        raise GeometryError(
            f"{_formula(n, kernel, stride, padding, dilation)} < 1: the effective kernel "
            f"{keff} (= {dilation}*({kernel}-1) + 1) is larger than the padded input "
            f"{n} + {padding[0]} + {padding[1]} = {padded}. Add at least {-span} padding in "
            "total, or use a smaller kernel or dilation"
        )
    if rounding == "exact" and span % stride:
        extra = -span % stride
        divisors = [t for t in range(1, stride) if span % t == 0]
        value = span / stride + 1
        raise GeometryError(
            f"{_formula(n, kernel, stride, padding, dilation)} = {value:.4g} is not an integer "
            f"(rule B1: the kernel must fit the padded input exactly): add {extra} padding in "
            f"total (padding=({padding[0]}, {padding[1] + extra})) or choose stride "
            f"{' or '.join(map(str, divisors))}"
        )
    if rounding == "ceil":
        return -(-span // stride) + 1
    return conv_axis_formula(n, kernel, stride, padding, dilation)


def conv_output_size(n: Size, kernel: Size, *, stride: Size = 1, padding: Any = 0,
                     dilation: Size = 1, rounding: Rounding = "floor") -> Size:
    """Output length of a convolution: ``(n + p_before + p_after - d(k-1) - 1)/s + 1``.

    Inventory B1 (seeds 001, 002; the notes write ``(n - m + 2p)/s + 1``), with dilation from B7.
    ``rounding="floor"`` is what every library does; ``"ceil"`` rounds up; ``"exact"`` is the
    notes' rule that a non-integer result is an invalid geometry (seed 001: n=10, m=3, p=0, s=2
    gives 4.5) and raises :class:`GeometryError`.
    """
    rounding = as_choice("rounding", rounding, ROUNDINGS)
    return _broadcast(_conv_axis, n, padding=padding, options={"rounding": rounding},
                      sizes={"kernel": (kernel, 1), "stride": (stride, 1),
                             "dilation": (dilation, 1)})


def narrow_output_size(n: Size, kernel: Size) -> Size:
    """Narrow convolution (s=1, p=0): ``n - m + 1``. Inventory B2 (seeds 000, 002)."""
    return conv_output_size(n, kernel)


def wide_padding(kernel: Size) -> Size:
    """Padding of the wide (full) convolution on each side: ``m - 1``. Inventory B3, E1."""
    return _broadcast(lambda n: n - 1, kernel, sizes={})


def wide_output_size(n: Size, kernel: Size) -> Size:
    """Wide convolution (s=1, p=m-1 each side): ``n + m - 1``. Inventory B3 (seeds 000, 002)."""
    return conv_output_size(n, kernel, padding=wide_padding(kernel))


def full_padded_size(n: Size, kernel: Size) -> Size:
    """Size of the full-padded input ``X̃``: ``n + 2(m-1)``; in 2-D ``(M+2m-2) × (N+2n-2)``.

    Inventory B3, E1 (seeds 000, 002).
    """
    return _broadcast(lambda n, kernel: n + 2 * (kernel - 1), n, sizes={"kernel": (kernel, 1)})


def _transposed_axis(n: int, kernel: int, stride: int, padding: Pair, dilation: int,
                     output_padding: int) -> int:
    if output_padding >= max(stride, dilation):
        raise GeometryError(
            f"output_padding {output_padding} must be smaller than stride {stride} or dilation "
            f"{dilation}: it only chooses among the max(stride, dilation) input sizes that a "
            f"forward convolution maps to the same output. Use output_padding at most "
            f"{max(stride, dilation) - 1}"
        )
    out = transposed_axis_formula(n, kernel, stride, padding, dilation, output_padding)
    if out < 1:
        raise GeometryError(
            f"({n}-1)*{stride} - {padding[0]} - {padding[1]} + {dilation}*({kernel}-1) + "
            f"{output_padding} + 1 = {out} < 1: the padding removes the whole output. "
            "Use less padding or a larger kernel, stride or input"
        )
    return out


def transposed_output_size(n: Size, kernel: Size, *, stride: Size = 1, padding: Any = 0,
                           dilation: Size = 1, output_padding: Size = 0) -> Size:
    """Output length of a transposed convolution.

    ``(n-1)s - 2p + d(k-1) + output_padding + 1`` (inventory B10, the general library form;
    seed 002 derives ``s(l-1) + m`` for p=0 and ``l + m - 1`` for s=1). With a
    ``(before, after)`` pair, ``2p`` becomes ``before + after``. ``output_padding`` must be
    smaller than ``max(stride, dilation)``.
    """
    return _broadcast(_transposed_axis, n, padding=padding,
                      sizes={"kernel": (kernel, 1), "stride": (stride, 1),
                             "dilation": (dilation, 1), "output_padding": (output_padding, 0)})


def zero_inserted_size(n: Size, stride: Size) -> Size:
    """Length after inserting ``s-1`` zeros between inputs: ``s(n-1) + 1``.

    Inventory B10, F9 (seed 002): the fractionally strided view of a transposed convolution.
    """
    return _broadcast(lambda n, stride: stride * (n - 1) + 1, n, sizes={"stride": (stride, 1)})


def _pool_axis(n: int, kernel: int, stride: int, padding: Pair, dilation: int,
               ceil_mode: bool) -> int:
    keff = _effective(kernel, dilation)
    for side, p in zip(("before", "after"), padding):
        if p > keff // 2:
            raise GeometryError(
                f"pooling padding {p} ({side}) is more than half the window {keff}: a window "
                f"could lie entirely in the padding (PyTorch and cuDNN reject this too). Use "
                f"padding at most {keff // 2}"
            )
    span = n + padding[0] + padding[1] - keff
    if ceil_mode and span > -stride:
        # Rounding up lets the last window run past the right padding, even when the padded
        # input is shorter than the window; it must still start inside the input or the left
        # padding (PyTorch's and ONNX's rule), so no window reads only padding.
        return pool_axis_formula(n, kernel, stride, padding, dilation, ceil_mode)
    return _conv_axis(n, kernel, stride, padding, dilation, "floor")


def pool_output_size(n: Size, kernel: Size, *, stride: Size | None = None, padding: Any = 0,
                     dilation: Size = 1, ceil_mode: bool = False) -> Size:
    """Output length of max or average pooling.

    ``W2 = (W1 - F)/S + 1`` (inventory B9, seed 001), generalized like convolution to padding
    and dilation, rounded down, or up with ``ceil_mode``. With ``ceil_mode`` a window that would
    start beyond the input and its left padding is dropped (PyTorch's and ONNX's rule), so no
    window reads only padding. ``stride`` defaults to the kernel size (tiling windows, G2).
    The depth (channels) is unchanged (B9, G4).
    """
    if not isinstance(ceil_mode, bool):
        raise GeometryError(f"ceil_mode must be True or False, got {ceil_mode!r}")
    return _broadcast(_pool_axis, n, padding=padding, options={"ceil_mode": ceil_mode},
                      sizes={"kernel": (kernel, 1),
                             "stride": (kernel if stride is None else stride, 1),
                             "dilation": (dilation, 1)})


def _same_axis(n: int, kernel: int, stride: int, dilation: int, convention: str) -> Pair:
    keff = _effective(kernel, dilation)
    if convention == "torch":
        if stride != 1:
            raise GeometryError(
                f"'same' padding with convention 'torch' needs stride 1, got stride {stride} "
                "(PyTorch rejects padding='same' for strided convolutions); use convention "
                "'tf', 'onnx_upper' or 'onnx_lower', which give ceil(n/stride) outputs"
            )
        total = keff - 1
        return (total // 2, total - total // 2)
    out = -(-n // stride)
    total = max((out - 1) * stride + keff - n, 0)
    small, large = total // 2, total - total // 2
    return (large, small) if convention == "onnx_lower" else (small, large)


def same_padding(n: Size, kernel: Size, *, stride: Size = 1, dilation: Size = 1,
                 convention: SameConvention = "torch") -> Pair | tuple[Pair, ...]:
    """``(before, after)`` padding for equal-width ("same") convolution.

    Inventory B4 (seeds 000, 001, 002): with s=1 and odd m, ``p = (m-1)/2`` on each side keeps
    the length. Even kernels need asymmetric padding, and libraries split it differently:

    - ``"torch"``: stride 1 only; total ``d(k-1)``, the extra element after (``padding='same'``).
    - ``"tf"`` and ``"onnx_upper"``: ``ceil(n/s)`` outputs, the extra element after.
    - ``"onnx_lower"``: ``ceil(n/s)`` outputs, the extra element before.
    """
    convention = as_choice("convention", convention, SAME_CONVENTIONS)
    return _broadcast(_same_axis, n, options={"convention": convention},
                      sizes={"kernel": (kernel, 1), "stride": (stride, 1),
                             "dilation": (dilation, 1)})


def size_after_layers(n: Size, kernel: Size, depth: int, *,
                      mode: Literal["valid", "full", "same"] = "valid") -> Size:
    """Length after ``depth`` stride-1 layers of width-``k`` kernels.

    Inventory B5 (seed 000): ``m - (k-1)d`` for valid (narrow) layers, ``m + (k-1)d`` for full
    (wide) layers, ``m`` for same layers (odd k). Computed layer by layer with
    :func:`conv_output_size`, so an input that vanishes part-way raises at that layer.
    """
    mode = as_choice("mode", mode, ("valid", "full", "same"))
    depth = as_int("depth", depth, minimum=0)

    def axis(n: int, kernel: int) -> int:
        pad = {"valid": 0, "full": kernel - 1, "same": None}[mode]
        if pad is None:
            if kernel % 2 == 0:
                raise GeometryError(
                    f"'same' stacking with an even kernel {kernel} needs asymmetric padding; "
                    "use an odd kernel or same_padding() per layer"
                )
            pad = (kernel - 1) // 2
        for layer in range(depth):
            try:
                n = _conv_axis(n, kernel, 1, (pad, pad), 1, "floor")
            except GeometryError as exc:
                raise GeometryError(f"layer {layer + 1} of {depth}: {exc}") from None
        return n
    return _broadcast(axis, n, sizes={"kernel": (kernel, 1)})
