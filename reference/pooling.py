"""Pooling (section G): max and average pooling kernels, L2-norm and LeNet-style pooling.

The protocol entry points ``max_pool``/``avg_pool`` (:mod:`convspec.reference.ops`) and their
vjps (:mod:`convspec.reference.grad`) use the window kernels here. A window of output ``i``
along an axis covers padded positions ``i·s + u·d`` for ``u < k``; pooling acts on every depth
slice on its own (G4). The examples run after ``import numpy as np`` and
``from convspec import reference as ref``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np

from ..spec.errors import GeometryError
from ..spec.geometry import PoolGeometry
from .checks import pool_geometry
from .dtypes import check_arrays, to_compute, to_output
from .fast import interior, offset_slices


def window_pads(spatial: Sequence[int], geometry: PoolGeometry,
                out: Sequence[int]) -> tuple[tuple[int, int], ...]:
    """:meth:`PoolGeometry.window_padding` (B9), for callers that still pass ``out``, which must
    be the geometry's output for ``spatial``; new code asks the geometry directly."""
    del out  # the geometry derives it
    return geometry.window_padding(spatial)


def padded_for_windows(x: np.ndarray, geometry: PoolGeometry, out: Sequence[int],
                       value: float) -> tuple[np.ndarray, tuple[tuple[int, int], ...]]:
    """``x`` padded with ``value``: ``p`` before, and after as much as the last window needs.

    With ``ceil_mode`` the last window may reach past the right padding; that part is filled
    with ``value`` too (it is never counted by :func:`avg_divisor`).
    """
    pads = geometry.window_padding(x.shape[2:])
    padded = [n + b + a for n, (b, a) in zip(x.shape[2:], pads)]
    buffer = np.full((*x.shape[:2], *padded), value, dtype=x.dtype)
    buffer[(slice(None), slice(None), *interior(pads, x.shape[2:]))] = x
    return buffer, tuple(pads)


def _window_taps(x: np.ndarray, geometry: PoolGeometry, out: Sequence[int]
                 ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Per kernel offset, in row-major window order: the values it reads in every window
    (``-inf`` in the padding) and whether each is an input position (not padding)."""
    padded, _ = padded_for_windows(x, geometry, out, -np.inf)
    inside, _ = padded_for_windows(np.ones(x.shape, dtype=bool), geometry, out, False)
    for offset in np.ndindex(*geometry.kernel):
        where = (slice(None), slice(None),
                 *offset_slices(offset, geometry.stride, geometry.dilation, out))
        yield padded[where], inside[where]


def max_pool_switches(x: np.ndarray, geometry: PoolGeometry,
                      out: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Max over each window and the "switch" (G1, F6): the winning kernel offset's flat index.

    IEEE 754-2019 ``maximum`` over the window's input positions
    (:mod:`convspec.spec.nonfinite`), scanned in row-major window order as PyTorch's kernels
    scan them: the first input position is the switch to begin with, and a later one takes
    over when it is larger or a NaN (``v > best or isnan(v)``). So a NaN propagates and its
    switch is the window's last NaN, ties go to the first maximum, and a window of ``-inf``
    gives ``-inf`` with its first input as the switch. Padding never wins, not even over
    ``-inf``; a window of padding only (possible with dilation) gives ``-inf`` and switch
    ``-1``, which routes no gradient.
    """
    best = switch = None
    for index, (value, inside) in enumerate(_window_taps(x, geometry, out)):
        if best is None:
            best = np.full(value.shape, -np.inf, dtype=value.dtype)
            switch = np.full(value.shape, -1, dtype=np.intp)
        take = inside & ((switch < 0) | (value > best) | np.isnan(value))
        best = np.where(take, value, best)
        switch[take] = index
    return best, switch


def max_pool_ties(x: np.ndarray, geometry: PoolGeometry,
                  out: Sequence[int]) -> list[np.ndarray]:
    """Per kernel offset, where that offset reads an input position holding its window's
    maximum (a NaN, in a window whose maximum is NaN): every switch a tie-breaking rule may
    choose (F6; :mod:`convspec.spec.nonfinite`)."""
    best, _ = max_pool_switches(x, geometry, out)
    return [inside & ((value == best) | (np.isnan(value) & np.isnan(best)))
            for value, inside in _window_taps(x, geometry, out)]


def avg_divisor(geometry: PoolGeometry, spatial: Sequence[int], out: Sequence[int]) -> np.ndarray:
    """Per output position, how many elements its average divides by (G1): the product over
    axes of :meth:`PoolGeometry.window_counts` (input and padding with ``count_include_pad``,
    never the ceil_mode overhang; otherwise the input only). ``out`` is the geometry's output
    for ``spatial``."""
    divisor = np.ones((), dtype=np.int64)
    for count in geometry.window_counts(spatial):
        divisor = np.multiply.outer(divisor, np.array(count, dtype=np.int64))
    return divisor


def window_sum(x: np.ndarray, geometry: PoolGeometry, out: Sequence[int]) -> np.ndarray:
    """``Σ_{u in window} x̃[i·s + u·d]`` over the zero-padded input."""
    padded, _ = padded_for_windows(x, geometry, out, 0.0)
    total = np.zeros((*x.shape[:2], *out), dtype=x.dtype)
    for offset in np.ndindex(*geometry.kernel):
        total += padded[(slice(None), slice(None),
                         *offset_slices(offset, geometry.stride, geometry.dilation, out))]
    return total


def spread_to_windows(values: Callable[[int], np.ndarray], x_shape: Sequence[int],
                      geometry: PoolGeometry, out: Sequence[int]) -> np.ndarray:
    """Adjoint of reading windows: ``dx[i·s + u·d - p] += values(flat index of u)[i]`` (F6)."""
    n, c, *spatial = x_shape
    pads = geometry.window_padding(spatial)
    padded = [size + b + a for size, (b, a) in zip(spatial, pads)]
    dx = None
    for index, offset in enumerate(np.ndindex(*geometry.kernel)):
        block = values(index)
        if dx is None:
            dx = np.zeros((n, c, *padded), dtype=block.dtype)
        dx[(slice(None), slice(None),
            *offset_slices(offset, geometry.stride, geometry.dilation, out))] += block
    return np.ascontiguousarray(dx[(slice(None), slice(None), *interior(pads, spatial))])


def l2_pool(x: np.ndarray, *, kernel: int | tuple[int, ...],
            stride: int | tuple[int, ...] | None = None, padding: int | tuple[int, ...] = 0,
            ceil_mode: bool = False) -> np.ndarray:
    """L2-norm pooling ``Y = sqrt(Σ_{i∈R} x_i²)`` over each window (G3, seed 001).

    Padding contributes zeros; the depth is unchanged (G4); ``stride`` defaults to the kernel.

        >>> ref.l2_pool(np.array([[[3., 4., 0., 5.]]]), kernel=2)   # sqrt(9 + 16), sqrt(0 + 25)
        array([[[5., 5.]]])
    """
    geometry, dtype = pool_geometry(x, kernel=kernel, stride=stride, padding=padding,
                                    ceil_mode=ceil_mode)
    out = geometry.output_spatial(x.shape[2:])
    xc = to_compute(x, dtype)
    return to_output(np.sqrt(window_sum(xc * xc, geometry, out)), dtype)


POOL_MODES = ("sum", "avg", "max")


def trainable_pool(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, *,
                   kernel: int | tuple[int, ...], stride: int | tuple[int, ...] | None = None,
                   mode: str = "sum",
                   activation: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """LeNet-5 style trainable pooling ``Y'^d = f(w^d · Y^d + b^d)`` (G5, C13; seed 002).

    ``Y^d`` pools each map ``d`` with ``mode`` ("sum" as in LeNet-5's subsampling, "avg" or
    "max", no padding); ``weight`` and ``bias`` hold one scalar per channel (shape ``(C,)``),
    so the layer adds ``2C`` parameters; ``activation`` defaults to the identity. Windows
    summing to 3 and 7, times 2, plus 1:

        >>> x = np.array([[[1., 2., 3., 4.]]])
        >>> ref.trainable_pool(x, np.array([2.]), np.array([1.]), kernel=2)
        array([[[ 7., 15.]]])
    """
    dtype = check_arrays(x=x, weight=weight, bias=bias)
    if mode not in POOL_MODES:
        raise GeometryError(f"mode must be one of {POOL_MODES}, got {mode!r}")
    channels = x.shape[1] if x.ndim >= 3 else None
    for name, array in (("weight", weight), ("bias", bias)):
        if array.shape != (channels,):
            raise GeometryError(
                f"{name} has shape {array.shape}; G5 uses one scalar per channel: shape "
                f"({channels},)"
            )
    geometry, _ = pool_geometry(x, kernel=kernel, stride=stride, padding=0)
    out = geometry.output_spatial(x.shape[2:])
    xc = to_compute(x, dtype)
    if mode == "max":
        pooled, _ = max_pool_switches(xc, geometry, out)
    else:
        pooled = window_sum(xc, geometry, out)
        if mode == "avg":
            pooled = pooled / avg_divisor(geometry, x.shape[2:], out)
    scale = (slice(None), *(None,) * len(out))
    z = to_compute(weight, dtype)[scale] * pooled + to_compute(bias, dtype)[scale]
    return to_output(z if activation is None else activation(z), dtype)
