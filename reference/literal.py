"""The literal path: the notes' index formulas transcribed with loops (slow, for small inputs).

This path shares nothing with :mod:`convspec.reference.fast` except argument checking: no
padding buffer, no strided views, no matrix products. Out-of-range input indices read zero,
which *is* zero padding. Tests check that both paths agree exactly on integer-valued float64
inputs, where every sum is exact whatever its order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .checks import conv_geometry, conv_transpose_geometry
from .dtypes import to_compute, to_output
from .ops import add_bias


def _in_range(index: np.ndarray, size: int) -> np.ndarray:
    return (index >= 0) & (index < size)


def gather_tap(x: np.ndarray, offset: Sequence[int], *, stride: Sequence[int],
               padding: Sequence[tuple[int, int]], dilation: Sequence[int],
               out: Sequence[int]) -> np.ndarray:
    """``tap[n, c, i] = x[n, c, i·s + u·d − p_before]`` for kernel offset ``u``, zero outside ``x``."""
    source = [np.arange(o) * s + u * d - before
              for o, s, u, d, (before, _) in zip(out, stride, offset, dilation, padding)]
    inside = [_in_range(idx, size) for idx, size in zip(source, x.shape[2:])]
    tap = np.zeros((*x.shape[:2], *out), dtype=x.dtype)
    tap[(slice(None), slice(None), *np.ix_(*inside))] = \
        x[(slice(None), slice(None), *np.ix_(*(idx[ok] for idx, ok in zip(source, inside))))]
    return tap


def correlate_by_index(x: np.ndarray, w: np.ndarray, *, stride: Sequence[int],
                       padding: Sequence[tuple[int, int]], dilation: Sequence[int],
                       groups: int, out: Sequence[int]) -> np.ndarray:
    """``y[n,o,i] = Σ_c Σ_u w[o,c,u] · x[n, g·C_g + c, i·s + u·d − p_before]`` (A3, B8, E9, E20).

    Loops over kernel offsets ``u``, output channels ``o`` and their input channels ``c``; each
    step gathers the input positions ``i·s + u·d − p_before`` for all ``i`` at once.
    """
    n, c_in = x.shape[:2]
    c_out = w.shape[0]
    c_in_g, c_out_g = c_in // groups, c_out // groups
    y = np.zeros((n, c_out, *out), dtype=x.dtype)
    for offset in np.ndindex(*w.shape[2:]):
        tap = gather_tap(x, offset, stride=stride, padding=padding, dilation=dilation, out=out)
        for o in range(c_out):
            first = (o // c_out_g) * c_in_g
            for c in range(c_in_g):
                y[:, o] += w[(o, c, *offset)] * tap[:, first + c]
    return y


def conv_literal(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, *, stride: Any,
                 padding: Any, dilation: Any, groups: Any) -> np.ndarray:
    """``conv`` by the index formula of A1-A3/B8 (seeds 000, 002, 003); same signature as ``conv``."""
    geometry, dtype = conv_geometry(x, w, b, stride=stride, padding=padding,
                                    dilation=dilation, groups=groups)
    y = correlate_by_index(to_compute(x, dtype), to_compute(w, dtype), stride=geometry.stride,
                           padding=geometry.padding, dilation=geometry.dilation,
                           groups=geometry.groups, out=geometry.output_spatial(x.shape[2:]))
    return to_output(add_bias(y, to_compute(b, dtype)), dtype)


def conv_transpose_literal(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, *, stride: Any,
                           padding: Any, output_padding: Any, dilation: Any,
                           groups: Any) -> np.ndarray:
    """Transposed convolution by its scatter formula (B10, D8; seed 002).

    Every input ``x[n,c,i]`` adds ``w[c,o,u] · x[n,c,i]`` to ``y[n, g·C_out/G + o, i·s + u·d − p]``;
    targets outside ``[0, out)`` are dropped (that is the cropping by ``p``, and the
    ``output_padding`` rows receive only what reaches them).
    """
    geometry, dtype = conv_transpose_geometry(x, w, b, stride=stride, padding=padding,
                                              output_padding=output_padding,
                                              dilation=dilation, groups=groups)
    xc, wc = to_compute(x, dtype), to_compute(w, dtype)
    n, c_in, *spatial = x.shape
    out = geometry.output_spatial(spatial)
    c_in_g, c_out_g = c_in // geometry.groups, geometry.out_channels // geometry.groups
    y = np.zeros((n, geometry.out_channels, *out), dtype=xc.dtype)
    for offset in np.ndindex(*geometry.kernel):
        target = [np.arange(size) * s + u * d - before
                  for size, s, u, d, (before, _) in zip(spatial, geometry.stride, offset,
                                                        geometry.dilation, geometry.padding)]
        inside = [_in_range(t, size) for t, size in zip(target, out)]
        at = (slice(None), *np.ix_(*(t[ok] for t, ok in zip(target, inside))))
        source = (slice(None), *np.ix_(*inside))
        for c in range(c_in):
            first = (c // c_in_g) * c_out_g
            for o in range(c_out_g):
                y[:, first + o][at] += wc[(c, o, *offset)] * xc[:, c][source]
    return to_output(add_bias(y, to_compute(b, dtype)), dtype)
