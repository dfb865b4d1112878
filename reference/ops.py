"""The backend protocol's forward operations (see :mod:`convspec.backends.protocol`).

Each function validates its arguments through a :class:`~convspec.spec.geometry.ConvGeometry` or
:class:`~convspec.spec.geometry.PoolGeometry`, computes in float64/float32 (float32 for the half
types) on the fast path of :mod:`convspec.reference.fast`, and returns the input's dtype.

The signatures are the backend protocol's (:mod:`convspec.backends.protocol`), which always
passes every argument with one entry per spatial axis, plus the defaults a reader expects:
no bias, ``stride=1``, ``padding=0``, ``dilation=1``, ``groups=1``, ``output_padding=0``; an int
stands for every spatial axis (:meth:`~convspec.spec.geometry.ConvGeometry.make` normalizes it).
The examples run after ``import numpy as np`` and ``from convspec import reference as ref``
(``tests/test_reference_doctests.py``).
"""

from __future__ import annotations

import numpy as np

from .checks import conv_geometry, conv_transpose_geometry, pool_geometry
from .dtypes import to_compute, to_output
from .fast import correlate, correlate_adjoint
from .pooling import avg_divisor, max_pool_switches, window_sum


def add_bias(y: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """``y + b`` broadcast over the batch and spatial axes (E20: ``+ b^p``)."""
    if b is None:
        return y
    return y + b.reshape(1, -1, *(1,) * (y.ndim - 2))


def conv(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, *,
         stride: int | tuple[int, ...] = 1,
         padding: int | tuple[int, ...] | tuple[tuple[int, int], ...] = 0,
         dilation: int | tuple[int, ...] = 1, groups: int = 1) -> np.ndarray:
    """Multi-channel cross-correlation, what libraries call convolution (A3, A6, A7, E20).

    ``y[n,o,i] = b[o] + Σ_{c<C_in/G} Σ_u w[o,c,u] · x[n, g·C_in/G + c, i·s + u·d − p_before]``
    with ``g = o // (C_out/G)`` and ``x`` zero outside its bounds (A1-A3, B1, B8, B14; seeds
    000-003). Output size per axis ``⌊(n + p_b + p_a − d(k−1) − 1)/s⌋ + 1`` (B1, B7).

    ``x`` is ``(N, C_in, *spatial)``, ``w`` is ``(C_out, C_in/G, *K)``, ``b`` is ``(C_out,)``.
    Each output of a 2×2 box filter is the sum of its window:

        >>> x = np.arange(16.).reshape(1, 1, 4, 4)
        >>> x[0, 0]
        array([[ 0.,  1.,  2.,  3.],
               [ 4.,  5.,  6.,  7.],
               [ 8.,  9., 10., 11.],
               [12., 13., 14., 15.]])
        >>> w = np.ones((1, 1, 2, 2))
        >>> ref.conv(x, w)
        array([[[[10., 14., 18.],
                 [26., 30., 34.],
                 [42., 46., 50.]]]])
        >>> ref.conv(x, w, np.array([100.]), stride=2)
        array([[[[110., 118.],
                 [142., 150.]]]])
    """
    geometry, dtype = conv_geometry(x, w, b, stride=stride, padding=padding,
                                    dilation=dilation, groups=groups)
    out = geometry.output_spatial(x.shape[2:])
    y = correlate(to_compute(x, dtype), to_compute(w, dtype), geometry, out)
    return to_output(add_bias(y, to_compute(b, dtype)), dtype)


def conv_transpose(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, *,
                   stride: int | tuple[int, ...] = 1, padding: int | tuple[int, ...] = 0,
                   output_padding: int | tuple[int, ...] = 0, dilation: int | tuple[int, ...] = 1,
                   groups: int = 1) -> np.ndarray:
    """Transposed convolution: the adjoint ``Cᵀ`` of ``conv`` with the same weight (D8, F8, F9).

    ``y = Cᵀ x + b`` where ``C`` is the convolution ``C_out → C_in`` (weight ``w`` of shape
    ``(C_in, C_out/G, *K)`` read as a conv weight) on an input of the transposed output size
    ``(l−1)s − 2p + d(k−1) + output_padding + 1`` (B10; seed 002). It is exactly the input
    gradient of that convolution (F2), computed by the same col2im routine.

    Each input ``x[i]`` adds ``x[i]·w`` to the output from position ``i·s`` on; ``padding``
    crops that many positions from both ends:

        >>> x = np.array([[[1., 2.]]])
        >>> w = np.array([[[1., 10., 100.]]])
        >>> ref.conv_transpose(x, w, stride=2)             # (2 − 1)·2 + 3 = 5 outputs
        array([[[  1.,  10., 102.,  20., 200.]]])
        >>> ref.conv_transpose(x, w, stride=2, padding=1)
        array([[[ 10., 102.,  20.]]])
    """
    geometry, dtype = conv_transpose_geometry(x, w, b, stride=stride, padding=padding,
                                              output_padding=output_padding,
                                              dilation=dilation, groups=groups)
    spatial = geometry.output_spatial(x.shape[2:])
    y = correlate_adjoint(to_compute(x, dtype), to_compute(w, dtype), geometry.adjoint(),
                          spatial)
    return to_output(add_bias(y, to_compute(b, dtype)), dtype)


def max_pool(x: np.ndarray, *, kernel: int | tuple[int, ...],
             stride: int | tuple[int, ...] | None = None, padding: int | tuple[int, ...] = 0,
             dilation: int | tuple[int, ...] = 1, ceil_mode: bool = False) -> np.ndarray:
    """Max pooling ``Y = max_{i∈R} x_i`` over each (dilated) window, padding ``-inf`` (G1, B9;
    seeds 000, 001, 002).

    Output size per axis ``⌊(n + 2p − d(k−1) − 1)/s⌋ + 1`` (``⌈⌉`` with ``ceil_mode``); the
    depth is unchanged (B9, G4). ``stride`` defaults to the kernel: the windows tile (G2).

        >>> x = np.array([[[[1., 5., 2., 0.],
        ...                 [3., 4., 8., 1.],
        ...                 [0., 2., 6., 7.],
        ...                 [9., 1., 3., 2.]]]])
        >>> ref.max_pool(x, kernel=2)
        array([[[[5., 8.],
                 [9., 7.]]]])
        >>> ref.max_pool(x, kernel=3, stride=1)
        array([[[[8., 8.],
                 [9., 8.]]]])
    """
    geometry, dtype = pool_geometry(x, kernel=kernel, stride=stride, padding=padding,
                                    dilation=dilation, ceil_mode=ceil_mode)
    best, _ = max_pool_switches(to_compute(x, dtype), geometry,
                                geometry.output_spatial(x.shape[2:]))
    return to_output(best, dtype)


def avg_pool(x: np.ndarray, *, kernel: int | tuple[int, ...],
             stride: int | tuple[int, ...] | None = None, padding: int | tuple[int, ...] = 0,
             ceil_mode: bool = False, count_include_pad: bool = True) -> np.ndarray:
    """Average pooling ``Y = mean_{i∈R} x_i`` (G1, B9; seeds 000, 001, 002).

    The divisor counts the padding when ``count_include_pad`` (never the ceil_mode overhang
    beyond it), otherwise only input elements; see :func:`~convspec.reference.pooling.avg_divisor`.
    ``stride`` defaults to the kernel (G2).

        >>> x = np.array([[[2., 4., 6.]]])
        >>> ref.avg_pool(x, kernel=2, padding=1)            # windows (0, 2) and (4, 6)
        array([[[1., 5.]]])
        >>> ref.avg_pool(x, kernel=2, padding=1, count_include_pad=False)
        array([[[2., 5.]]])
    """
    geometry, dtype = pool_geometry(x, kernel=kernel, stride=stride, padding=padding,
                                    ceil_mode=ceil_mode, count_include_pad=count_include_pad)
    out = geometry.output_spatial(x.shape[2:])
    total = window_sum(to_compute(x, dtype), geometry, out)
    return to_output(total / avg_divisor(geometry, x.shape[2:], out), dtype)
