"""The fast path: convolution as im2col + one BLAS contraction per group (D4).

The input is zero-padded into a channels-last buffer ``(G, N, *padded, C_in/G)``; a strided
view of its sliding windows ``(G, N, *out, *kernel, C_in/G)`` is copied once into the column
matrix ``X_col`` of shape ``(G, N·L, ∏K·C_in/G)`` (L output positions, the batch folded into the
rows), and ``Y = W_row · X_colᵀ`` is a single matrix product per group. The adjoint (the input
gradient, and so transposed convolution) is the same product transposed followed by col2im,
a scatter-add per kernel offset; the weight gradient is ``dY · X_col``.

These functions take arrays that are already validated and in the accumulation dtype, plus a
:class:`~convspec.spec.geometry.ConvGeometry` and the output sizes it computed; the public,
checked entry points are in :mod:`convspec.reference.ops` and :mod:`convspec.reference.grad`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..spec.geometry import ConvGeometry

Pads = Sequence[tuple[int, int]]


def offset_slices(offset: Sequence[int], stride: Sequence[int], dilation: Sequence[int],
                  out: Sequence[int]) -> tuple[slice, ...]:
    """Per axis, the padded-input positions ``i·s + u·d`` (i < out) read by kernel offset ``u``."""
    return tuple(slice(u * d, u * d + s * (o - 1) + 1, s)
                 for u, s, d, o in zip(offset, stride, dilation, out))


def window_view(a: np.ndarray, first: int, kernel: Sequence[int], stride: Sequence[int],
                dilation: Sequence[int], out: Sequence[int]) -> np.ndarray:
    """Read-only view replacing axes ``first..first+rank`` of ``a`` by ``(*out, *kernel)``.

    Element ``[..., i, u, ...]`` is ``a[..., i·s + u·d, ...]`` (A3, B8 with the padding
    already applied).
    """
    rank = len(kernel)
    for axis, (k, s, d, o) in enumerate(zip(kernel, stride, dilation, out)):
        if o and (o - 1) * s + d * (k - 1) + 1 > a.shape[first + axis]:
            raise AssertionError(f"windows overrun axis {axis}: internal size error")
    st = a.strides
    shape = (*a.shape[:first], *out, *kernel, *a.shape[first + rank:])
    strides = (*st[:first], *(st[first + i] * stride[i] for i in range(rank)),
               *(st[first + i] * dilation[i] for i in range(rank)), *st[first + rank:])
    return as_strided(a, shape, strides, writeable=False)


def interior(pads: Pads, spatial: Sequence[int]) -> tuple[slice, ...]:
    """Slices selecting the unpadded input inside a padded buffer."""
    return tuple(slice(before, before + n) for (before, _), n in zip(pads, spatial))


def _grouped_channels_last(x: np.ndarray, groups: int, pads: Pads) -> np.ndarray:
    """Zero-padded copy of ``x`` laid out ``(G, N, *padded, C/G)``."""
    n, c, *spatial = x.shape
    padded = [size + before + after for size, (before, after) in zip(spatial, pads)]
    buffer = np.zeros((groups, n, *padded, c // groups), x.dtype)
    source = np.moveaxis(x.reshape(n, groups, c // groups, *spatial), (1, 2), (0, -1))
    buffer[(slice(None), slice(None), *interior(pads, spatial), slice(None))] = source
    return buffer


def im2col(x: np.ndarray, geometry: ConvGeometry, out: Sequence[int]) -> np.ndarray:
    """``X_col`` of D4, shape ``(G, N·L, ∏K·C_in/G)``: one row per (sample, output position)."""
    g = geometry.groups
    padded = _grouped_channels_last(x, g, geometry.padding)
    view = window_view(padded, 2, geometry.kernel, geometry.stride, geometry.dilation, out)
    columns = math.prod(geometry.kernel) * (x.shape[1] // g)
    return view.reshape(g, x.shape[0] * math.prod(out), columns)


def weight_rows(w: np.ndarray, groups: int) -> np.ndarray:
    """``W_row`` of D4, ``(G, C_out/G, ∏K·C_in/G)``, columns ordered like :func:`im2col`'s."""
    c_out, c_in_g, *kernel = w.shape
    per_group = w.reshape(groups, c_out // groups, c_in_g, *kernel)
    return np.moveaxis(per_group, 2, -1).reshape(groups, c_out // groups, -1)


def _is_pointwise(geometry: ConvGeometry) -> bool:
    return all(k == 1 for k in geometry.kernel) and all(p == (0, 0) for p in geometry.padding)


def correlate(x: np.ndarray, w: np.ndarray, geometry: ConvGeometry,
              out: Sequence[int]) -> np.ndarray:
    """``y = W ⊗ x`` without bias: ``y[n,o,i] = Σ_c Σ_u w[o,c,u] x̃[n,c,i·s+u·d]`` (A3, B8, E20).

    ``out`` is ``geometry.output_spatial(x.shape[2:])``. A 1×1 kernel without padding skips
    im2col: it is a per-position matrix product across channels on the strided input (E8).
    """
    n, c_out = x.shape[0], w.shape[0]
    g = geometry.groups
    positions = math.prod(out)
    if _is_pointwise(geometry):
        picked = x[(slice(None), slice(None),
                    *(slice(0, s * (o - 1) + 1, s) for s, o in zip(geometry.stride, out)))]
        columns = picked.reshape(n, g, x.shape[1] // g, positions)
        y = np.matmul(w.reshape(g, c_out // g, -1), columns)
        return y.reshape(n, c_out, *out)
    rows = weight_rows(w, g)
    y = np.matmul(rows, im2col(x, geometry, out).transpose(0, 2, 1))
    y = np.moveaxis(y.reshape(g, c_out // g, n, *out), 2, 0)
    return np.ascontiguousarray(y.reshape(n, c_out, *out))


def _grouped_rows(dy: np.ndarray, groups: int) -> np.ndarray:
    """``dy`` as ``(G, N·L, C_out/G)``."""
    n, c_out, *out = dy.shape
    positions = math.prod(out)
    per_group = dy.reshape(n, groups, c_out // groups, positions)
    return per_group.transpose(1, 0, 3, 2).reshape(groups, n * positions, c_out // groups)


def correlate_adjoint(dy: np.ndarray, w: np.ndarray, geometry: ConvGeometry,
                      spatial: Sequence[int]) -> np.ndarray:
    """``Cᵀ dy``: the input gradient of :func:`correlate` for an input of size ``spatial``.

    Columns ``dY_col = dY · W_row`` (the transpose of D4's product), then col2im: each kernel
    offset ``u`` adds its column block at padded positions ``i·s + u·d``, and the padding is
    cropped (F2, F5, D8). ``dy`` may have fewer positions than the forward output (a transposed
    convolution whose output_padding exceeds the stride); the missing ones count as zero.
    """
    n, _, *out = dy.shape
    g = geometry.groups
    c_in_g = w.shape[1]
    columns = np.matmul(_grouped_rows(dy, g), weight_rows(w, g))
    columns = columns.reshape(g, n, *out, *geometry.kernel, c_in_g)
    rank = geometry.ndim
    padded_shape = [size + before + after for size, (before, after) in zip(spatial,
                                                                             geometry.padding)]
    dx = np.zeros((g, n, *padded_shape, c_in_g), dy.dtype)
    keep = (slice(None),) * (2 + rank)
    for offset in np.ndindex(*geometry.kernel):
        target = offset_slices(offset, geometry.stride, geometry.dilation, out)
        dx[(slice(None), slice(None), *target, slice(None))] += columns[(*keep, *offset)]
    dx = dx[(slice(None), slice(None), *interior(geometry.padding, spatial), slice(None))]
    dx = np.moveaxis(dx, (0, -1), (1, 2))
    return np.ascontiguousarray(dx.reshape(n, g * c_in_g, *spatial))


def correlate_weight_grad(x: np.ndarray, dy: np.ndarray, geometry: ConvGeometry) -> np.ndarray:
    """``dW[o,c,u] = Σ_n Σ_i dY[n,o,i] x̃[n,c,i·s+u·d]``, i.e. ``dY ⊗ X`` (F1, F4, E6).

    Computed as the GEMM ``dY · X_col`` (D4); ``dy`` may cover fewer positions than the
    forward output, the rest counting as zero.
    """
    n, c_out, *out = dy.shape
    g = geometry.groups
    positions = math.prod(out)
    rows = dy.reshape(n, g, c_out // g, positions).transpose(1, 2, 0, 3)
    rows = rows.reshape(g, c_out // g, n * positions)
    dw = np.matmul(rows, im2col(x, geometry, out))
    dw = dw.reshape(g, c_out // g, *geometry.kernel, x.shape[1] // g)
    return np.ascontiguousarray(np.moveaxis(dw, -1, 2).reshape(c_out, x.shape[1] // g, *geometry.kernel))
