"""The literal path: the notes' index formulas transcribed with loops (slow, for small inputs).

This path shares nothing with :mod:`convspec.reference.fast` except argument checking: no
padding buffer, no strided views, no matrix products. Out-of-range input indices read zero,
which *is* zero padding. Tests check that both paths agree exactly on integer-valued float64
inputs, where every sum is exact whatever its order.

The examples run after ``import numpy as np`` and ``from convspec import reference as ref``.
"""

from __future__ import annotations

from collections.abc import Sequence

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


def conv_literal(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, *,
                 stride: int | tuple[int, ...] = 1,
                 padding: int | tuple[int, ...] | tuple[tuple[int, int], ...] = 0,
                 dilation: int | tuple[int, ...] = 1, groups: int = 1) -> np.ndarray:
    """``conv`` by the index formula of A1-A3/B8 (seeds 000, 002, 003); same signature as ``conv``.

    ``y[i, j] = Σ_u Σ_v w[u, v] · x[i·s + u·d, j·s + v·d]``: output ``(0, 1)`` at stride 2 is
    ``2·1 + 3·2 + 6·3 + 7·4 = 54``, and the fast path agrees exactly:

        >>> x = np.arange(16.).reshape(1, 1, 4, 4)
        >>> w = np.array([[[[1., 2.], [3., 4.]]]])
        >>> ref.conv_literal(x, w, stride=2)
        array([[[[ 34.,  54.],
                 [114., 134.]]]])
        >>> np.array_equal(ref.conv_literal(x, w, stride=2), ref.conv(x, w, stride=2))
        True
    """
    geometry, dtype = conv_geometry(x, w, b, stride=stride, padding=padding,
                                    dilation=dilation, groups=groups)
    y = correlate_by_index(to_compute(x, dtype), to_compute(w, dtype), stride=geometry.stride,
                           padding=geometry.padding, dilation=geometry.dilation,
                           groups=geometry.groups, out=geometry.output_spatial(x.shape[2:]))
    return to_output(add_bias(y, to_compute(b, dtype)), dtype)


def conv_transpose_literal(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, *,
                           stride: int | tuple[int, ...] = 1, padding: int | tuple[int, ...] = 0,
                           output_padding: int | tuple[int, ...] = 0,
                           dilation: int | tuple[int, ...] = 1, groups: int = 1) -> np.ndarray:
    """Transposed convolution by its scatter formula (B10, D8; seed 002).

    Every input ``x[n,c,i]`` adds ``w[c,o,u] · x[n,c,i]`` to ``y[n, g·C_out/G + o, i·s + u·d − p]``;
    targets outside ``[0, out)`` are dropped (that is the cropping by ``p``, and the
    ``output_padding`` rows receive only what reaches them):

        >>> x = np.array([[[1., 2.]]])
        >>> w = np.array([[[1., 10., 100.]]])
        >>> ref.conv_transpose_literal(x, w, stride=2, output_padding=1)
        array([[[  1.,  10., 102.,  20., 200.,   0.]]])
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
