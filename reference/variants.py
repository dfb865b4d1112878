"""Variants of convolution (section E, C10): dilated, transposed by zero insertion, grouped,
depthwise (separable), pointwise, spatially separable, connection-table, locally connected,
tiled and deformable convolution.

Each is written the way the notes describe it and is tested against the fast ``conv`` path.
Keywords default as in :func:`~convspec.reference.ops.conv` (``stride=1``, ``padding=0``,
``dilation=1``; an int stands for every axis). The examples run after ``import numpy as np``
and ``from convspec import reference as ref``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..spec.errors import GeometryError
from ..spec.geometry import ConvGeometry
from ..spec.sizes import Size
from .checks import Padding, conv_geometry, conv_transpose_geometry, spatial_rank_of
from .dtypes import check_arrays, to_compute, to_output
from .grad import input_grad_by_wide_correlation, zero_insert
from .literal import gather_tap
from .ops import add_bias, conv

# -- E14, B10/F9: zero insertion -------------------------------------------------------------


def dilate_kernel(w: np.ndarray, dilation: int | tuple[int, ...]) -> np.ndarray:
    """The zero-inserted kernel: ``d−1`` zeros between taps, span ``m' = d(m−1)+1`` (E14, B7).

    ``w`` is a weight ``(C_out, C_in/G, *K)``; seeds 000, 002, 003. Three taps at dilation 2
    span ``2·(3−1) + 1 = 5``:

        >>> ref.dilate_kernel(np.array([[[1., 2., 3.]]]), 2)
        array([[[1., 0., 2., 0., 3.]]])
    """
    check_arrays(w=w)
    return zero_insert(w, dilation)


def dilated_conv_by_zero_insertion(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, *,
                                   stride: int | tuple[int, ...] = 1,
                                   padding: int | tuple[int, ...] | tuple[tuple[int, int], ...] = 0,
                                   dilation: int | tuple[int, ...] = 1,
                                   groups: int = 1) -> np.ndarray:
    """Dilated ``conv`` as an ordinary one with the zero-inserted kernel (E14; seeds 000, 002,
    003): ``y[i] = w0·x[i] + w1·x[i+2] + w2·x[i+4]`` at dilation 2.

        >>> x, w = np.arange(7.).reshape(1, 1, 7), np.array([[[1., 2., 3.]]])
        >>> ref.dilated_conv_by_zero_insertion(x, w, dilation=2)   # 0 + 2·2 + 3·4 = 16, ...
        array([[[16., 22., 28.]]])
    """
    geometry, _ = conv_geometry(x, w, b, stride=stride, padding=padding, dilation=dilation,
                                groups=groups)
    return conv(x, dilate_kernel(w, geometry.dilation), b, stride=geometry.stride,
                padding=geometry.padding, dilation=(1,) * geometry.ndim, groups=geometry.groups)


def conv_transpose_by_zero_insertion(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, *,
                                     stride: int | tuple[int, ...] = 1,
                                     padding: int | tuple[int, ...] = 0,
                                     output_padding: int | tuple[int, ...] = 0,
                                     dilation: int | tuple[int, ...] = 1,
                                     groups: int = 1) -> np.ndarray:
    """Transposed convolution as a fractionally strided one (B10, F9, D8; seed 002).

    Insert ``s−1`` zeros between the inputs, pad with ``d(k−1)`` zeros (wide correlation), and
    correlate with the flipped kernel: ``x = rot180(w) ~⊗ z`` in the notes' 1-D example, with
    output length ``s(l−1) + m`` before cropping ``p`` and adding ``output_padding``. Here
    ``z = [1, 0, 2]`` correlated with ``[100, 10, 1]`` on ``[0, 0, 1, 0, 2, 0, 0]``:

        >>> x = np.array([[[1., 2.]]])
        >>> ref.conv_transpose_by_zero_insertion(x, np.array([[[1., 10., 100.]]]), stride=2)
        array([[[  1.,  10., 102.,  20., 200.]]])
    """
    geometry, dtype = conv_transpose_geometry(x, w, b, stride=stride, padding=padding,
                                              output_padding=output_padding,
                                              dilation=dilation, groups=groups)
    y = input_grad_by_wide_correlation(to_compute(x, dtype), to_compute(w, dtype),
                                       geometry.adjoint(), geometry.output_spatial(x.shape[2:]))
    return to_output(add_bias(y, to_compute(b, dtype)), dtype)


# -- E8, E9, E10, E11: grouped, depthwise, pointwise, separable -------------------------------

def grouped_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, *, groups: int,
                 stride: int | tuple[int, ...] = 1,
                 padding: int | tuple[int, ...] | tuple[tuple[int, int], ...] = 0,
                 dilation: int | tuple[int, ...] = 1) -> np.ndarray:
    """G independent convolutions on the channel groups, concatenated (E9, B14, C4; seed 003).

    ``w`` is ``(C_out, C_in/G, *K)``: with two groups, output 0 reads only channel 0 and
    output 1 only channel 1:

        >>> x = np.array([[[1., 2., 3.], [10., 20., 30.]]])
        >>> w = np.array([[[1., 1.]], [[1., -1.]]])
        >>> ref.grouped_conv(x, w, groups=2)
        array([[[  3.,   5.],
                [-10., -10.]]])
    """
    geometry, _ = conv_geometry(x, w, b, stride=stride, padding=padding, dilation=dilation,
                                groups=groups)
    g = geometry.groups
    xs, ws = np.split(x, g, axis=1), np.split(w, g, axis=0)
    bs = [None] * g if b is None else np.split(b, g)
    return np.concatenate([conv(xi, wi, bi, stride=geometry.stride, padding=geometry.padding,
                                dilation=geometry.dilation, groups=1)
                           for xi, wi, bi in zip(xs, ws, bs)], axis=1)


def depthwise_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, *,
                   stride: int | tuple[int, ...] = 1,
                   padding: int | tuple[int, ...] | tuple[tuple[int, int], ...] = 0,
                   dilation: int | tuple[int, ...] = 1) -> np.ndarray:
    """Depthwise convolution: grouped with ``G = C_in``, weight ``(C_in·mult, 1, *K)`` (E10, C8;
    seeds 000, 003, 004): one filter per channel.

        >>> x = np.array([[[1., 2., 3.], [10., 20., 30.]]])
        >>> ref.depthwise_conv(x, np.array([[[1., 1.]], [[1., -1.]]]))
        array([[[  3.,   5.],
                [-10., -10.]]])
    """
    spatial_rank_of("x", x)
    return grouped_conv(x, w, b, stride=stride, padding=padding, dilation=dilation,
                        groups=x.shape[1])


def pointwise_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """1×1 convolution as a per-position matrix product across channels (E8; seeds 000, 001, 003).

    ``y[n, :, i] = W · x[n, :, i] + b`` with ``W`` of shape ``(C_out, C_in)`` (or the
    ``(C_out, C_in, 1, …)`` conv weight). Summing the two channels at every position:

        >>> x = np.array([[[1., 2., 3.], [10., 20., 30.]]])
        >>> ref.pointwise_conv(x, np.array([[1., 1.]]))
        array([[[11., 22., 33.]]])
    """
    dtype = check_arrays(x=x, w=w, b=b)
    rank = spatial_rank_of("x", x)
    if w.ndim == rank + 2 and all(k == 1 for k in w.shape[2:]):
        w = w.reshape(w.shape[:2])
    if w.ndim != 2 or w.shape[1] != x.shape[1]:
        raise GeometryError(
            f"w has shape {w.shape}; a 1×1 convolution of {x.shape[1]} channels needs "
            f"(C_out, {x.shape[1]}) or (C_out, {x.shape[1]}{', 1' * rank})"
        )
    if b is not None and b.shape != (w.shape[0],):
        raise GeometryError(f"b has shape {b.shape}, expected ({w.shape[0]},)")
    y = np.einsum("oc,nc...->no...", to_compute(w, dtype), to_compute(x, dtype))
    return to_output(add_bias(y, to_compute(b, dtype)), dtype)


def depthwise_separable_conv(x: np.ndarray, w_depth: np.ndarray, w_point: np.ndarray,
                             b_depth: np.ndarray | None = None, b_point: np.ndarray | None = None,
                             *, stride: int | tuple[int, ...] = 1,
                             padding: int | tuple[int, ...] | tuple[tuple[int, int], ...] = 0,
                             dilation: int | tuple[int, ...] = 1) -> np.ndarray:
    """Depthwise convolution then a 1×1 convolution (E10, C8; seeds 000, 003, 004).

    The depthwise outputs ``[3, 5]`` and ``[−10, −10]`` (see :func:`depthwise_conv`), summed:

        >>> x = np.array([[[1., 2., 3.], [10., 20., 30.]]])
        >>> w_depth, w_point = np.array([[[1., 1.]], [[1., -1.]]]), np.array([[1., 1.]])
        >>> ref.depthwise_separable_conv(x, w_depth, w_point)
        array([[[-7., -5.]]])
    """
    y = depthwise_conv(x, w_depth, b_depth, stride=stride, padding=padding, dilation=dilation)
    return pointwise_conv(y, w_point, b_point)


def outer_kernel(factors: Sequence[np.ndarray]) -> np.ndarray:
    """The rank-1 kernel ``k[u, v, …] = a[u]·b[v]·…`` of per-axis factors (E11, C9; seed 003).

        >>> ref.outer_kernel([np.array([1., 2.]), np.array([1., 0., -1.])])
        array([[ 1.,  0., -1.],
               [ 2.,  0., -2.]])
    """
    if not factors:
        raise GeometryError("give one 1-D factor per spatial axis")
    dtype = check_arrays(**{f"factors[{i}]": f for i, f in enumerate(factors)})
    kernel = np.ones((), dtype=to_compute(factors[0], dtype).dtype)
    for f in factors:
        if f.ndim != 1:
            raise GeometryError(f"each factor must be 1-D, got shape {f.shape}")
        kernel = np.multiply.outer(kernel, to_compute(f, dtype))
    return to_output(kernel, dtype)


def spatially_separable_conv(x: np.ndarray, factors: Sequence[np.ndarray]) -> np.ndarray:
    """Valid, stride-1 depthwise correlation with a rank-1 kernel, one 1-D pass per axis (E11).

    A 3×3 kernel ``a bᵀ`` becomes a 3×1 pass then a 1×3 pass: 6 weights instead of 9 (C9;
    seed 003). Every channel uses the same factors. The kernel ``[1, 1]ᵀ [1, −1]`` takes the
    difference of neighbouring columns summed over two rows; on ``x[i, j] = 4i + j`` that
    is ``−2`` everywhere:

        >>> x = np.arange(16.).reshape(1, 1, 4, 4)
        >>> ref.spatially_separable_conv(x, [np.array([1., 1.]), np.array([1., -1.])])
        array([[[[-2., -2., -2.],
                 [-2., -2., -2.],
                 [-2., -2., -2.]]]])
    """
    rank = spatial_rank_of("x", x)
    dtype = check_arrays(x=x, **{f"factors[{i}]": f for i, f in enumerate(factors)})
    if len(factors) != rank:
        raise GeometryError(f"x has {rank} spatial axes but {len(factors)} factors were given")
    y = to_compute(x, dtype)
    for axis, factor in enumerate(factors, start=2):
        if factor.ndim != 1:
            raise GeometryError(f"each factor must be 1-D, got shape {factor.shape}")
        length = y.shape[axis] - factor.shape[0] + 1
        if length < 1:
            raise GeometryError(
                f"factor {axis - 2} has {factor.shape[0]} taps but x has only {y.shape[axis]} "
                "positions on that axis (B2)")
        pass_ = np.zeros((*y.shape[:axis], length, *y.shape[axis + 1:]), dtype=y.dtype)
        for u, tap in enumerate(to_compute(factor, dtype)):
            pass_ += tap * np.take(y, np.arange(u, u + length), axis=axis)
        y = pass_
    return to_output(y, dtype)


# -- E21: connection table --------------------------------------------------------------------

def connection_table_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, table: np.ndarray, *,
                          stride: int | tuple[int, ...] = 1,
                          padding: int | tuple[int, ...] | tuple[tuple[int, int], ...] = 0,
                          dilation: int | tuple[int, ...] = 1) -> np.ndarray:
    """``Y^p = Σ_{d: T_{p,d}=1} W^{p,d} ⊗ X^d + b^p`` (E21, C2; seeds 000, 002).

    ``table`` is the ``P × D`` boolean connection table; only the ``K`` connected pairs are
    correlated, so the layer uses ``K·∏K + P`` parameters. Output 0 is connected to input 0
    only, so its weights on input 1 (the 5s) are never read:

        >>> x = np.array([[[1., 2., 3.], [10., 20., 30.]]])
        >>> w = np.array([[[1., 1.], [5., 5.]], [[1., -1.], [1., -1.]]])
        >>> table = np.array([[True, False], [True, True]])
        >>> ref.connection_table_conv(x, w, None, table)
        array([[[  3.,   5.],
                [-11., -11.]]])
    """
    geometry, dtype = conv_geometry(x, w, b, stride=stride, padding=padding, dilation=dilation,
                                    groups=1)
    table = np.asarray(table)
    if table.shape != w.shape[:2] or table.dtype != bool:
        raise GeometryError(
            f"table must be a boolean array of shape (C_out, C_in) = {w.shape[:2]}, got "
            f"{table.dtype} {table.shape}")
    xc, wc = to_compute(x, dtype), to_compute(w, dtype)
    one = ConvGeometry.make(1, 1, geometry.kernel, stride=geometry.stride,
                            padding=geometry.padding, dilation=geometry.dilation)
    y = np.zeros(geometry.output_shape(x.shape), dtype=xc.dtype)
    for p, d in zip(*np.nonzero(table)):
        y[:, p:p + 1] += conv(xc[:, d:d + 1], wc[p:p + 1, d:d + 1], None, **one.conv_kwargs())
    return to_output(add_bias(y, to_compute(b, dtype)), dtype)


# -- C10, E22: locally connected and tiled ----------------------------------------------------

def _unshared_geometry(x: np.ndarray, w: np.ndarray, lead: int, *, stride: Size,
                       padding: Padding, dilation: Size) -> tuple[ConvGeometry, tuple[int, ...]]:
    rank = spatial_rank_of("x", x)
    if w.ndim != lead + 2 + rank:
        raise GeometryError(
            f"w has {w.ndim} axes {w.shape}; expected {lead} position axes, then "
            f"(C_out, C_in), then {rank} kernel axes")
    geometry = ConvGeometry.make(x.shape[1], w.shape[lead], tuple(w.shape[lead + 2:]),
                                 stride=stride, padding=padding, dilation=dilation, ndim=rank)
    if w.shape[lead + 1] != x.shape[1]:
        raise GeometryError(f"w has {w.shape[lead + 1]} input channels but x has {x.shape[1]}")
    return geometry, geometry.output_spatial(x.shape[2:])


def locally_connected(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, *,
                      stride: int | tuple[int, ...] = 1,
                      padding: int | tuple[int, ...] | tuple[tuple[int, int], ...] = 0,
                      dilation: int | tuple[int, ...] = 1) -> np.ndarray:
    """Local connectivity without weight sharing: a kernel per output position (C10, E22).

    ``w`` has shape ``(*out, C_out, C_in, *K)`` and ``b`` (if given) ``(C_out, *out)``:
    ``y[n,o,i] = b[o,i] + Σ_c Σ_u w[i,o,c,u] · x[n, c, i·s + u·d − p_before]`` (seed 000).
    Position 0 sums its window, position 1 takes a difference:

        >>> x = np.array([[[1., 2., 3.]]])
        >>> w = np.array([[[[1., 1.]]], [[[1., -1.]]]])     # (out, C_out, C_in, k) = (2, 1, 1, 2)
        >>> ref.locally_connected(x, w)
        array([[[ 3., -1.]]])
    """
    dtype = check_arrays(x=x, w=w, b=b)
    rank = spatial_rank_of("x", x)
    geometry, out = _unshared_geometry(x, w, rank, stride=stride, padding=padding,
                                       dilation=dilation)
    if tuple(w.shape[:rank]) != tuple(out):
        raise GeometryError(f"w starts with {w.shape[:rank]} but the output positions are {out}")
    if b is not None and b.shape != (geometry.out_channels, *out):
        raise GeometryError(f"b has shape {b.shape}, expected {(geometry.out_channels, *out)}")
    xc, wc = to_compute(x, dtype), to_compute(w, dtype)
    positions = math.prod(out)
    per_position = wc.reshape(positions, *wc.shape[rank:])
    y = np.zeros((x.shape[0], geometry.out_channels, positions), dtype=xc.dtype)
    for offset in np.ndindex(*geometry.kernel):
        tap = gather_tap(xc, offset, stride=geometry.stride, padding=geometry.padding,
                         dilation=geometry.dilation, out=out).reshape(*x.shape[:2], positions)
        y += np.einsum("loc,ncl->nol", per_position[(Ellipsis, *offset)], tap)
    y = y.reshape(x.shape[0], geometry.out_channels, *out)
    return to_output(y if b is None else y + to_compute(b, dtype), dtype)


def tiled_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, *,
               stride: int | tuple[int, ...] = 1,
               padding: int | tuple[int, ...] | tuple[tuple[int, int], ...] = 0,
               dilation: int | tuple[int, ...] = 1) -> np.ndarray:
    """Tiled convolution: ``t`` kernels per axis used in rotation (C10, E22; seed 000).

    ``w`` has shape ``(*t, C_out, C_in, *K)``; output position ``i`` uses kernel ``i mod t``.
    Parameters grow by the factor ``∏t``; ``t = 1`` is ordinary convolution. Two kernels,
    a sum and a difference, alternate:

        >>> x = np.array([[[1., 2., 3., 4., 5.]]])
        >>> w = np.array([[[[1., 1.]]], [[[1., -1.]]]])     # (t, C_out, C_in, k) = (2, 1, 1, 2)
        >>> ref.tiled_conv(x, w)
        array([[[ 3., -1.,  7., -1.]]])
    """
    check_arrays(x=x, w=w, b=b)
    rank = spatial_rank_of("x", x)
    _, out = _unshared_geometry(x, w, rank, stride=stride, padding=padding, dilation=dilation)
    index = np.ix_(*(np.arange(o) % t for o, t in zip(out, w.shape[:rank])))
    b_full = None if b is None else np.broadcast_to(b.reshape(-1, *(1,) * rank),
                                                    (b.shape[0], *out))
    return locally_connected(x, w[index], b_full, stride=stride, padding=padding,
                             dilation=dilation)


# -- E23: deformable convolution --------------------------------------------------------------

def bilinear_sample(image: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Bilinear interpolation of ``image (N, C, H, W)`` at real positions ``(N, *P)``, zero outside.

    Returns ``(N, C, *P)``; each of the four neighbours outside the image counts as zero
    (E23; seeds 003, 004). Half-way between 0 and 10, between 0 and 20, and between 30 and
    the zero outside:

        >>> image = np.array([[[[0., 10.], [20., 30.]]]])
        >>> ref.bilinear_sample(image, np.array([[0., 0.5, 1.]]), np.array([[0.5, 0., 1.5]]))
        array([[[ 5., 10., 15.]]])
    """
    n, c, height, width = image.shape
    r0, c0 = np.floor(rows).astype(np.intp), np.floor(cols).astype(np.intp)
    fr, fc = rows - r0, cols - c0
    result = np.zeros((n, c, *rows.shape[1:]), dtype=image.dtype)
    batch = np.arange(n).reshape(n, *(1,) * (rows.ndim - 1))
    for dr, dc, weight in ((0, 0, (1 - fr) * (1 - fc)), (0, 1, (1 - fr) * fc),
                           (1, 0, fr * (1 - fc)), (1, 1, fr * fc)):
        r, cc = r0 + dr, c0 + dc
        inside = (r >= 0) & (r < height) & (cc >= 0) & (cc < width)
        value = image[batch, :, np.clip(r, 0, height - 1), np.clip(cc, 0, width - 1)]
        value = np.moveaxis(value, -1, 1)  # (N, C, *P)
        result += (weight * inside)[:, None] * value
    return result


def deformable_conv(x: np.ndarray, offsets: np.ndarray, w: np.ndarray, b: np.ndarray | None = None,
                    *, stride: int | tuple[int, ...] = 1,
                    padding: int | tuple[int, ...] | tuple[tuple[int, int], ...] = 0,
                    dilation: int | tuple[int, ...] = 1, groups: int = 1) -> np.ndarray:
    """Deformable 2-D convolution with bilinear sampling (E23, B13; seeds 003, 004).

    Tap ``k = (u, v)`` of output ``(i, j)`` reads ``x`` at
    ``(i·s − p_top + u·d + Δr, j·s − p_left + v·d + Δc)`` with ``Δr = offsets[n, 2k, i, j]``
    and ``Δc = offsets[n, 2k+1, i, j]`` (torchvision's layout); ``offsets`` is
    ``(N, 2·kh·kw, H_out, W_out)`` (X [32,64,28,28] with a 3×3 kernel gives [32,18,28,28]).
    Zero offsets give ordinary convolution; integer offsets shift the sampling grid. A 1×1
    kernel whose column offset is 1 everywhere reads each pixel's right neighbour (zero past
    the border):

        >>> x = np.arange(9.).reshape(1, 1, 3, 3)
        >>> offsets = np.zeros((1, 2, 3, 3))
        >>> offsets[:, 1] = 1.                                # Δc = 1, Δr = 0
        >>> ref.deformable_conv(x, offsets, np.ones((1, 1, 1, 1)))
        array([[[[1., 2., 0.],
                 [4., 5., 0.],
                 [7., 8., 0.]]]])
    """
    geometry, dtype = conv_geometry(x, w, b, stride=stride, padding=padding, dilation=dilation,
                                    groups=groups)
    check_arrays(x=x, offsets=offsets)
    if geometry.ndim != 2:
        raise GeometryError(f"deformable convolution is 2-D here; x has {geometry.ndim} "
                            "spatial axes")
    out = geometry.output_spatial(x.shape[2:])
    taps = math.prod(geometry.kernel)
    expected = (x.shape[0], 2 * taps, *out)
    if offsets.shape != expected:
        raise GeometryError(f"offsets has shape {offsets.shape}, expected {expected}: "
                            "(N, 2·kh·kw, H_out, W_out) (B13)")
    xc, oc = to_compute(x, dtype), to_compute(offsets, dtype)
    (top, _), (left, _) = geometry.padding
    grid_r = np.arange(out[0])[:, None] * geometry.stride[0] - top
    grid_c = np.arange(out[1])[None, :] * geometry.stride[1] - left
    samples = []
    for k, (u, v) in enumerate(np.ndindex(*geometry.kernel)):
        rows = grid_r + u * geometry.dilation[0] + oc[:, 2 * k]
        cols = grid_c + v * geometry.dilation[1] + oc[:, 2 * k + 1]
        samples.append(bilinear_sample(xc, rows, cols))
    columns = np.stack(samples, axis=2)  # (N, C_in, taps, H_out, W_out)
    g, c_out_g = geometry.groups, geometry.out_channels // geometry.groups
    columns = columns.reshape(x.shape[0], g, (x.shape[1] // g) * taps, math.prod(out))
    rows_w = to_compute(w, dtype).reshape(g, c_out_g, -1)
    y = np.einsum("gok,ngkl->ngol", rows_w, columns).reshape(x.shape[0], geometry.out_channels,
                                                                  *out)
    return to_output(add_bias(y, to_compute(b, dtype)), dtype)
