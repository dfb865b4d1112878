"""Convolution and correlation of plain arrays, as the notes write them (section A, E1).

Here ``w`` and ``x`` are single-channel arrays with the same number of axes (1 to 3), no batch
or channel axes; the notes' 1-based indices become 0-based. ``mode="valid"`` keeps the
positions where the kernel lies inside ``x`` (narrow, B2); ``mode="full"`` pads ``x`` with
``m−1`` zeros on each side (wide, B3, E1). The examples run after ``import numpy as np`` and
``from convspec import reference as ref``.
"""

from __future__ import annotations

import numpy as np

from ..spec.validate import as_choice
from ..spec.errors import GeometryError
from ..spec.geometry import MAX_SPATIAL_RANK
from ..spec.sizes import narrow_output_size, wide_output_size, wide_padding
from .dtypes import check_arrays, to_compute, to_output

MODES = ("valid", "full")


def rot180(a: np.ndarray, ndim: int | None = None) -> np.ndarray:
    """Rotate by 180°: reverse the last ``ndim`` axes (every axis by default) (A4; seeds 000, 002).

    For a weight ``(C_out, C_in, *K)`` pass ``ndim=len(K)`` to flip only the spatial axes.

        >>> ref.rot180(np.array([[1., 2.], [3., 4.]]))
        array([[4., 3.],
               [2., 1.]])
    """
    if not isinstance(a, np.ndarray):
        raise TypeError(f"a must be a numpy.ndarray, got {type(a).__name__}")
    ndim = a.ndim if ndim is None else ndim
    if not 0 <= ndim <= a.ndim:
        raise GeometryError(f"ndim={ndim} but the array has only {a.ndim} axes")
    return a[(Ellipsis, *(slice(None, None, -1),) * ndim)].copy()


def _check(w: np.ndarray, x: np.ndarray, mode: str) -> np.dtype:
    dtype = check_arrays(w=w, x=x)
    as_choice("mode", mode, MODES)
    if w.ndim != x.ndim or not 1 <= x.ndim <= MAX_SPATIAL_RANK:
        raise GeometryError(
            f"w has {w.ndim} axes and x has {x.ndim}: plain convolution needs two arrays with "
            f"the same number of axes, 1 to {MAX_SPATIAL_RANK} (A1, A2, A7)"
        )
    if mode == "valid":
        narrow_output_size(x.shape, w.shape)  # raises when the kernel is larger than x
    return dtype


def correlate(w: np.ndarray, x: np.ndarray, *, mode: str = "valid") -> np.ndarray:
    """Cross-correlation ``Y = W ⊗ X``: ``y[i] = Σ_u w[u] x[i + u]`` (A3; seeds 000, 002, 003).

    In 2-D, ``y_ij = Σ_u Σ_v w_uv x_{i+u, j+v}``. What libraries call convolution (A6).

        >>> x, w = np.array([1., 2., 3., 4.]), np.array([1., 0., -1.])
        >>> ref.correlate(w, x)                  # [1 − 3, 2 − 4]
        array([-2., -2.])
    """
    dtype = _check(w, x, mode)
    wc, xc = to_compute(w, dtype), to_compute(x, dtype)
    if mode == "full":
        xc = np.pad(xc, [(p, p) for p in wide_padding(w.shape)])
    out = tuple(narrow_output_size(xc.shape, w.shape))
    y = np.zeros(out, dtype=xc.dtype)
    for u in np.ndindex(*w.shape):
        y += wc[u] * xc[tuple(slice(k, k + o) for k, o in zip(u, out))]
    return to_output(y, dtype)


def wide_correlate(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Wide correlation ``W ~⊗ X ≜ W ⊗ X̃``, ``X̃`` padded with ``m−1`` zeros per side (E1, B3).

    Output length ``n + m − 1`` on every axis (seeds 000, 002).

        >>> ref.wide_correlate(np.array([1., 2.]), np.array([1., 2., 3.]))   # on [0, 1, 2, 3, 0]
        array([2., 5., 8., 3.])
    """
    return correlate(w, x, mode="full")


def convolve(w: np.ndarray, x: np.ndarray, *, mode: str = "valid") -> np.ndarray:
    """True convolution ``y_t = Σ_k w_k x_{t−k+1}`` (A1), in 2-D ``y_ij = Σ_u Σ_v w_uv x_{i−u+1, j−v+1}`` (A2).

    0-based: ``y[t] = Σ_u w[u] x[t − u]``, ``x`` zero outside its bounds; ``"full"`` keeps every
    ``t`` in ``0 .. n+m−2`` (the ``s(i) = Σ_j x(j) w(i−j)`` of D2, length ``M+N−1``), ``"valid"``
    the ``t`` in ``m−1 .. n−1``. Seeds 000, 002, 003. It is :func:`correlate` with the kernel
    flipped (A4):

        >>> x, w = np.array([1., 2., 3., 4.]), np.array([1., 0., -1.])
        >>> ref.convolve(w, x)                   # [3 − 1, 4 − 2]
        array([2., 2.])
        >>> ref.convolve(w, x, mode="full")
        array([ 1.,  2.,  2.,  2., -3., -4.])
    """
    dtype = _check(w, x, mode)
    wc, xc = to_compute(w, dtype), to_compute(x, dtype)
    full = tuple(wide_output_size(x.shape, w.shape))
    y = np.zeros(full, dtype=xc.dtype)
    for u in np.ndindex(*w.shape):
        y[tuple(slice(k, k + n) for k, n in zip(u, x.shape))] += wc[u] * xc
    if mode == "valid":
        y = y[tuple(slice(m - 1, n) for m, n in zip(w.shape, x.shape))]
    return to_output(np.ascontiguousarray(y), dtype)
