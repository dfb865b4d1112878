"""Matrix forms of convolution (section D) and FFT convolution.

- D1: 1-D convolution is a product with a Toeplitz matrix (each row the previous shifted by one).
- D2: zero-padded to ``L = M+N−1``, full 1-D convolution is a product with the circulant
  matrix of ``w_p``; circulants are diagonalized by the DFT, which gives FFT convolution.
- D3: 2-D full convolution is a product with a doubly block circulant matrix.
- D4: im2col: convolution is the GEMM ``W_row · X_col``.
- D5: a conv layer is a fully connected layer with a sparse, tied weight matrix ``C``.
- D8, F8: transposed convolution multiplies by ``Cᵀ``.

The examples run after ``import numpy as np`` and ``from convspec import reference as ref``.
"""

from __future__ import annotations

import math

import numpy as np

from ..spec.validate import as_int
from ..spec.errors import GeometryError
from ..spec.geometry import ConvGeometry
from ..spec.sizes import wide_output_size
from .checks import conv_geometry, conv_transpose_geometry
from .classic import rot180
from .dtypes import check_arrays, to_compute, to_output
from .grad import zero_insert
from .ops import add_bias


def _vector(name: str, a: np.ndarray) -> np.dtype:
    dtype = check_arrays(**{name: a})
    if a.ndim != 1:
        raise GeometryError(f"{name} must be 1-D, got shape {a.shape}")
    return dtype


def toeplitz_matrix(w: np.ndarray, n: int, *, mode: str = "full") -> np.ndarray:
    """The matrix ``T`` with ``T @ x = convolve(w, x, mode=mode)`` for ``x`` of length ``n`` (D1).

    ``T[t, j] = w[t − j]`` (zero outside ``0 ≤ t−j < m``): constant along diagonals, each row
    the previous one shifted right by one (seed 000). ``"full"`` has ``n+m−1`` rows,
    ``"valid"`` the ``n−m+1`` rows where the kernel lies inside ``x``.

        >>> ref.toeplitz_matrix(np.array([1., 2., 3.]), 3)
        array([[1., 0., 0.],
               [2., 1., 0.],
               [3., 2., 1.],
               [0., 3., 2.],
               [0., 0., 3.]])
        >>> ref.toeplitz_matrix(np.array([1., 2., 3.]), 4, mode="valid")
        array([[3., 2., 1., 0.],
               [0., 3., 2., 1.]])
    """
    dtype = _vector("w", w)
    n = as_int("n", n, minimum=1)
    m = w.shape[0]
    t = np.arange(wide_output_size(n, m))[:, None] - np.arange(n)[None, :]
    inside = (t >= 0) & (t < m)
    matrix = np.where(inside, to_compute(w, dtype)[np.clip(t, 0, m - 1)], 0)
    if mode == "valid":
        if m > n:
            raise GeometryError(f"valid convolution needs m <= n, got m={m}, n={n} (B2)")
        matrix = matrix[m - 1:n]
    elif mode != "full":
        raise GeometryError(f"mode must be 'full' or 'valid', got {mode!r}")
    return to_output(matrix, dtype)


def circulant_matrix(w: np.ndarray, length: int) -> np.ndarray:
    """``W[i, j] = w_p[(i − j) mod L]``, ``w_p`` the kernel zero-padded to length ``L`` (D2).

    Row 0 is ``w_p(0), w_p(L−1), …, w_p(1)`` as in seed 000; each row is the previous one
    rotated right by one:

        >>> ref.circulant_matrix(np.array([1., 2.]), 3)
        array([[1., 0., 2.],
               [2., 1., 0.],
               [0., 2., 1.]])
    """
    dtype = _vector("w", w)
    length = as_int("length", length, minimum=w.shape[0])
    padded = np.zeros(length, dtype=to_compute(w, dtype).dtype)
    padded[:w.shape[0]] = w
    index = (np.arange(length)[:, None] - np.arange(length)[None, :]) % length
    return to_output(padded[index], dtype)


def circulant_convolve(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Full 1-D convolution ``s = W · x_p`` with ``L = M+N−1`` (D2; seed 000).

        >>> ref.circulant_convolve(np.array([1., 2.]), np.array([1., 1.]))   # [1, 1 + 2, 2]
        array([1., 3., 2.])
    """
    dtype = check_arrays(w=w, x=x)
    _vector("x", x)
    length = wide_output_size(x.shape[0], w.shape[0])
    x_p = np.zeros(length, dtype=to_compute(x, dtype).dtype)
    x_p[:x.shape[0]] = x
    return to_output(to_compute(circulant_matrix(w, length), dtype) @ x_p, dtype)


def doubly_block_circulant(kernel: np.ndarray, image_shape: tuple[int, int]) -> np.ndarray:
    """``G_b`` of D3 for a 2-D kernel and an image of ``image_shape`` (seed 000).

    ``K`` is zero-padded to ``M×N = (M_I+M_K−1) × (N_I+N_K−1)``; row ``m`` of ``K_p`` gives the
    ``N×N`` circulant ``G_m``; ``G_b`` has block ``(i, j) = G_{(i−j) mod M}``. A 2×1 kernel
    on a 1×2 image pads to 2×2: two 2×2 circulant blocks, ``G_0 = I`` and ``G_1 = 2I``:

        >>> ref.doubly_block_circulant(np.array([[1.], [2.]]), (1, 2))
        array([[1., 0., 2., 0.],
               [0., 1., 0., 2.],
               [2., 0., 1., 0.],
               [0., 2., 0., 1.]])
    """
    dtype = check_arrays(kernel=kernel)
    if kernel.ndim != 2 or len(image_shape) != 2:
        raise GeometryError("the doubly block circulant form (D3) is for 2-D kernels and images")
    m, n = wide_output_size(tuple(image_shape), kernel.shape)
    k_p = np.zeros((m, n), dtype=to_compute(kernel, dtype).dtype)
    k_p[:kernel.shape[0], :kernel.shape[1]] = kernel
    blocks = np.stack([to_compute(circulant_matrix(row, n), dtype) for row in k_p])
    index = (np.arange(m)[:, None] - np.arange(m)[None, :]) % m
    return to_output(blocks[index].transpose(0, 2, 1, 3).reshape(m * n, m * n), dtype)


def block_circulant_convolve(kernel: np.ndarray, image: np.ndarray) -> np.ndarray:
    """Full 2-D convolution ``S = I * K`` as ``h_b = G_b · f_p`` (D3; seed 000).

    ``f_p`` stacks the rows of the zero-padded image; ``h_b`` is cut back into rows.

        >>> ref.block_circulant_convolve(np.array([[1., 2.], [3., 4.]]), np.array([[1., 1.]]))
        array([[1., 3., 2.],
               [3., 7., 4.]])
    """
    dtype = check_arrays(kernel=kernel, image=image)
    g_b = to_compute(doubly_block_circulant(kernel, image.shape), dtype)
    m, n = wide_output_size(image.shape, kernel.shape)
    i_p = np.zeros((m, n), dtype=g_b.dtype)
    i_p[:image.shape[0], :image.shape[1]] = image
    return to_output((g_b @ i_p.reshape(-1)).reshape(m, n), dtype)


def im2col_columns(x: np.ndarray, geometry: ConvGeometry) -> np.ndarray:
    """``X_col`` of one sample ``(C, *spatial)``: column ``i`` is receptive field ``i`` flattened.

    Shape ``(C·∏K, L)`` with ``L`` output positions, rows ordered (channel, kernel offset) as
    the weight rows; e.g. 363 × 3025 for AlexNet conv1 (B11, D4; seed 001). A 2×2 kernel on
    a 3×3 input has four receptive fields of four cells:

        >>> from convspec import ConvGeometry
        >>> x = np.arange(9.).reshape(1, 3, 3)             # one channel: rows 0 1 2, 3 4 5, 6 7 8
        >>> ref.im2col_columns(x, ConvGeometry.make(1, 1, 2, ndim=2))
        array([[0., 1., 3., 4.],
               [1., 2., 4., 5.],
               [3., 4., 6., 7.],
               [4., 5., 7., 8.]])
    """
    spatial = x.shape[1:]
    out = geometry.output_spatial(spatial)
    padded = np.pad(x, [(0, 0), *geometry.padding])
    columns = np.empty((x.shape[0] * math.prod(geometry.kernel), math.prod(out)), x.dtype)
    for column, position in enumerate(np.ndindex(*out)):
        field = tuple(slice(i * s, i * s + d * (k - 1) + 1, d) for i, s, d, k in
                      zip(position, geometry.stride, geometry.dilation, geometry.kernel))
        columns[:, column] = padded[(slice(None), *field)].reshape(-1)
    return columns


def im2col_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, *,
                stride: int | tuple[int, ...] = 1,
                padding: int | tuple[int, ...] | tuple[tuple[int, int], ...] = 0,
                dilation: int | tuple[int, ...] = 1, groups: int = 1) -> np.ndarray:
    """``conv`` as ``W_row · X_col`` per sample and group, reshaped to the output (D4, B11;
    seed 001).

        >>> x = np.arange(16.).reshape(1, 1, 4, 4)
        >>> w = np.array([[[[1., 2.], [3., 4.]]]])
        >>> ref.im2col_conv(x, w, stride=2)                 # W_row [1 2 3 4] times X_col
        array([[[[ 34.,  54.],
                 [114., 134.]]]])
    """
    geometry, dtype = conv_geometry(x, w, b, stride=stride, padding=padding,
                                    dilation=dilation, groups=groups)
    out = geometry.output_spatial(x.shape[2:])
    xc, wc = to_compute(x, dtype), to_compute(w, dtype)
    g, c_in_g = geometry.groups, w.shape[1]
    c_out_g = geometry.out_channels // g
    y = np.zeros((x.shape[0], geometry.out_channels, math.prod(out)), dtype=xc.dtype)
    for n in range(x.shape[0]):
        for group in range(g):
            w_row = wc[group * c_out_g:(group + 1) * c_out_g].reshape(c_out_g, -1)
            x_col = im2col_columns(xc[n, group * c_in_g:(group + 1) * c_in_g], geometry)
            y[n, group * c_out_g:(group + 1) * c_out_g] = w_row @ x_col
    return to_output(add_bias(y.reshape(x.shape[0], geometry.out_channels, *out), to_compute(b, dtype)), dtype)


def conv_matrix(w: np.ndarray, spatial: tuple[int, ...], *, stride: int | tuple[int, ...] = 1,
                padding: int | tuple[int, ...] | tuple[tuple[int, int], ...] = 0,
                dilation: int | tuple[int, ...] = 1, groups: int = 1) -> np.ndarray:
    """The sparse, tied matrix ``C`` with ``vec(y) = C · vec(x)`` for one sample (D5, E4, E5).

    Shape ``(C_out·∏out, C_in·∏spatial)``; row ``(o, i)`` holds ``w[o, c, u]`` in column
    ``(g·C_in/G + c, i·s + u·d − p_before)`` wherever that index lies inside the input: every
    row has at most ``(C_in/G)·∏K`` non-zeros and all rows share the same weights (seed 001):

        >>> ref.conv_matrix(np.array([[[1., -1.]]]), (4,))
        array([[ 1., -1.,  0.,  0.],
               [ 0.,  1., -1.,  0.],
               [ 0.,  0.,  1., -1.]])
    """
    dtype = check_arrays(w=w)
    if w.ndim - 2 != len(spatial):
        raise GeometryError(f"w has {w.ndim - 2} kernel axes but spatial has {len(spatial)}")
    g = as_int("groups", groups, minimum=1)
    geometry = ConvGeometry.make(w.shape[1] * g, w.shape[0], tuple(w.shape[2:]), stride=stride,
                                 padding=padding, dilation=dilation, groups=g)
    out = geometry.output_spatial(spatial)
    wc = to_compute(w, dtype)
    c_in_g, c_out_g = w.shape[1], w.shape[0] // g
    matrix = np.zeros((w.shape[0], math.prod(out), geometry.in_channels, math.prod(spatial)),
                      dtype=wc.dtype)
    positions = np.indices(out).reshape(len(out), -1)
    for offset in np.ndindex(*geometry.kernel):
        source = [i * s + u * d - before for i, s, u, d, (before, _) in
                  zip(positions, geometry.stride, offset, geometry.dilation, geometry.padding)]
        inside = np.all([(idx >= 0) & (idx < n) for idx, n in zip(source, spatial)], axis=0)
        rows = np.flatnonzero(inside)
        columns = np.ravel_multi_index([idx[inside] for idx in source], spatial)
        for o in range(w.shape[0]):
            first = (o // c_out_g) * c_in_g
            for c in range(c_in_g):
                matrix[o, rows, first + c, columns] += wc[(o, c, *offset)]
    return to_output(matrix.reshape(w.shape[0] * math.prod(out), -1), dtype)


def conv_by_matrix(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, *,
                   stride: int | tuple[int, ...] = 1,
                   padding: int | tuple[int, ...] | tuple[tuple[int, int], ...] = 0,
                   dilation: int | tuple[int, ...] = 1, groups: int = 1) -> np.ndarray:
    """``conv`` as the fully connected layer ``vec(y) = C · vec(x) + b`` (D5; seed 001).

        >>> x = np.array([[[1., 2., 4., 8.]]])
        >>> ref.conv_by_matrix(x, np.array([[[1., -1.]]]), np.array([10.]))
        array([[[9., 8., 6.]]])
    """
    geometry, dtype = conv_geometry(x, w, b, stride=stride, padding=padding,
                                    dilation=dilation, groups=groups)
    matrix = to_compute(conv_matrix(w, x.shape[2:], **geometry.conv_kwargs()), dtype)
    y = to_compute(x, dtype).reshape(x.shape[0], math.prod(x.shape[1:])) @ matrix.T
    out = geometry.output_shape(x.shape)
    return to_output(add_bias(y.reshape(out), to_compute(b, dtype)), dtype)


def conv_transpose_by_matrix(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, *,
                             stride: int | tuple[int, ...] = 1, padding: int | tuple[int, ...] = 0,
                             output_padding: int | tuple[int, ...] = 0,
                             dilation: int | tuple[int, ...] = 1, groups: int = 1) -> np.ndarray:
    """Transposed convolution as ``vec(y) = Cᵀ · vec(x) + b`` (D8, F8; seed 002).

    ``C`` is the convolution matrix of the forward layer on the transposed output size. When
    ``output_padding`` reaches the stride, ``C`` has more output positions than ``x``; only the
    rows of ``x``'s positions take part. Here ``C`` is the 2 × 5 matrix of the 3-tap,
    stride-2 convolution, and ``Cᵀx`` scatters each input through the kernel:

        >>> x = np.array([[[1., 2.]]])
        >>> ref.conv_transpose_by_matrix(x, np.array([[[1., 10., 100.]]]), stride=2)
        array([[[  1.,  10., 102.,  20., 200.]]])
    """
    geometry, dtype = conv_transpose_geometry(x, w, b, stride=stride, padding=padding,
                                              output_padding=output_padding,
                                              dilation=dilation, groups=groups)
    forward = geometry.adjoint()
    spatial = geometry.output_spatial(x.shape[2:])
    matrix = to_compute(conv_matrix(w, spatial, **forward.conv_kwargs()), dtype)
    matrix = matrix.reshape(x.shape[1], *forward.output_spatial(spatial), -1)
    matrix = matrix[(slice(None), *(slice(0, n) for n in x.shape[2:]))].reshape(-1,
                                                                                matrix.shape[-1])
    y = to_compute(x, dtype).reshape(x.shape[0], math.prod(x.shape[1:])) @ matrix
    out = geometry.output_shape(x.shape)
    return to_output(add_bias(y.reshape(out), to_compute(b, dtype)), dtype)


def fft_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, *,
             stride: int | tuple[int, ...] = 1,
             padding: int | tuple[int, ...] | tuple[tuple[int, int], ...] = 0,
             dilation: int | tuple[int, ...] = 1, groups: int = 1) -> np.ndarray:
    """``conv`` through the DFT, which diagonalizes the circulant of D2/D3 (seed 000).

    The padded input and the dilated (E14), flipped (A4) kernel are zero-padded to the full
    size ``n + k' − 1`` (so the circular product is the linear one), multiplied per frequency
    and summed over input channels; the valid part is then read at every ``s``-th position.
    Exact up to rounding (not bit-exact on integers: the rounding shows past the eight
    digits numpy prints):

        >>> x = np.arange(16.).reshape(1, 1, 4, 4)
        >>> w = np.array([[[[1., 2.], [3., 4.]]]])
        >>> ref.fft_conv(x, w, stride=2)
        array([[[[ 34.,  54.],
                 [114., 134.]]]])
        >>> np.allclose(ref.fft_conv(x, w, padding=1), ref.conv(x, w, padding=1))
        True
    """
    geometry, dtype = conv_geometry(x, w, b, stride=stride, padding=padding,
                                    dilation=dilation, groups=groups)
    out = geometry.output_spatial(x.shape[2:])
    rank, g = geometry.ndim, geometry.groups
    axes = tuple(range(2, 2 + rank))
    xp = np.pad(to_compute(x, dtype), [(0, 0), (0, 0), *geometry.padding])
    kernel = rot180(zero_insert(to_compute(w, dtype), geometry.dilation), rank)
    size = tuple(wide_output_size(xp.shape[2:], kernel.shape[2:]))
    spectrum_x = np.fft.rfftn(xp, size, axes=axes)
    spectrum_w = np.fft.rfftn(kernel, size, axes=axes)
    n, c_in_g, c_out_g = x.shape[0], w.shape[1], w.shape[0] // g
    freq = spectrum_x.shape[2:]
    product = np.einsum("ngcf,gocf->ngof",
                        spectrum_x.reshape(n, g, c_in_g, -1),
                        spectrum_w.reshape(g, c_out_g, c_in_g, -1))
    full = np.fft.irfftn(product.reshape(n, w.shape[0], *freq), size, axes=axes)
    valid = tuple(slice(k - 1, k - 1 + s * (o - 1) + 1, s)
                  for k, s, o in zip(kernel.shape[2:], geometry.stride, out))
    y = np.ascontiguousarray(full[(slice(None), slice(None), *valid)]).astype(xp.dtype)
    return to_output(add_bias(y, to_compute(b, dtype)), dtype)
