"""The backend protocol's forward operations (see :mod:`convspec.backends.protocol`).

Each function validates its arguments through a :class:`~convspec.spec.geometry.ConvGeometry` or
:class:`~convspec.spec.geometry.PoolGeometry`, computes in float64/float32 (float32 for the half
types) on the fast path of :mod:`convspec.reference.fast`, and returns the input's dtype.
"""

from __future__ import annotations

from typing import Any

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


def conv(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, *, stride: Any, padding: Any,
         dilation: Any, groups: Any) -> np.ndarray:
    """Multi-channel cross-correlation, what libraries call convolution (A3, A6, A7, E20).

    ``y[n,o,i] = b[o] + Σ_{c<C_in/G} Σ_u w[o,c,u] · x[n, g·C_in/G + c, i·s + u·d − p_before]``
    with ``g = o // (C_out/G)`` and ``x`` zero outside its bounds (A1-A3, B1, B8, B14; seeds
    000-003). Output size per axis ``⌊(n + p_b + p_a − d(k−1) − 1)/s⌋ + 1`` (B1, B7).
    """
    geometry, dtype = conv_geometry(x, w, b, stride=stride, padding=padding,
                                    dilation=dilation, groups=groups)
    out = geometry.output_spatial(x.shape[2:])
    y = correlate(to_compute(x, dtype), to_compute(w, dtype), geometry, out)
    return to_output(add_bias(y, to_compute(b, dtype)), dtype)


def conv_transpose(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, *, stride: Any,
                   padding: Any, output_padding: Any, dilation: Any,
                   groups: Any) -> np.ndarray:
    """Transposed convolution: the adjoint ``Cᵀ`` of ``conv`` with the same weight (D8, F8, F9).

    ``y = Cᵀ x + b`` where ``C`` is the convolution ``C_out → C_in`` (weight ``w`` of shape
    ``(C_in, C_out/G, *K)`` read as a conv weight) on an input of the transposed output size
    ``(l−1)s − 2p + d(k−1) + output_padding + 1`` (B10; seed 002). It is exactly the input
    gradient of that convolution (F2), computed by the same col2im routine.
    """
    geometry, dtype = conv_transpose_geometry(x, w, b, stride=stride, padding=padding,
                                              output_padding=output_padding,
                                              dilation=dilation, groups=groups)
    spatial = geometry.output_spatial(x.shape[2:])
    y = correlate_adjoint(to_compute(x, dtype), to_compute(w, dtype), geometry.adjoint(),
                          spatial)
    return to_output(add_bias(y, to_compute(b, dtype)), dtype)


def max_pool(x: np.ndarray, *, kernel: Any, stride: Any, padding: Any, dilation: Any,
             ceil_mode: Any) -> np.ndarray:
    """Max pooling ``Y = max_{i∈R} x_i`` over each (dilated) window, padding ``-inf`` (G1, B9)."""
    geometry, dtype = pool_geometry(x, kernel=kernel, stride=stride, padding=padding,
                                    dilation=dilation, ceil_mode=ceil_mode)
    best, _ = max_pool_switches(to_compute(x, dtype), geometry,
                                geometry.output_spatial(x.shape[2:]))
    return to_output(best, dtype)


def avg_pool(x: np.ndarray, *, kernel: Any, stride: Any, padding: Any, ceil_mode: Any,
             count_include_pad: Any) -> np.ndarray:
    """Average pooling ``Y = mean_{i∈R} x_i`` (G1, B9).

    The divisor counts the padding when ``count_include_pad`` (never the ceil_mode overhang
    beyond it), otherwise only input elements; see :func:`~convspec.reference.pooling.avg_divisor`.
    """
    geometry, dtype = pool_geometry(x, kernel=kernel, stride=stride, padding=padding,
                                    ceil_mode=ceil_mode, count_include_pad=count_include_pad)
    out = geometry.output_spatial(x.shape[2:])
    total = window_sum(to_compute(x, dtype), geometry, out)
    return to_output(total / avg_divisor(geometry, x.shape[2:], out), dtype)
