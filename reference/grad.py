"""Vector-Jacobian products from the notes' gradient formulas (section F), not autodiff.

For ``y = W ⊗ x + b`` (stride s, padding p, dilation d, groups G):

- F2/F5: ``dx = Cᵀ dy``. With stride 1 and no padding this is ``rot180(W) ~⊗ dy`` (wide
  correlation with the flipped kernel, channels swapped per group); in general ``dy`` gets
  ``s−1`` zeros between its entries first (F9) and the padding is cropped. The fast route is
  col2im (:func:`convspec.reference.fast.correlate_adjoint`); the notes' route is
  :func:`input_grad_by_wide_correlation`.
- F1/F4/E6: ``dW = dY ⊗ X``: a correlation of the padded input with ``dy`` in which stride and
  dilation swap roles, summed over the batch (the shared weight's gradient is the sum of its
  per-position gradients). Fast route: ``dY · X_col``; notes' route:
  :func:`weight_grad_by_correlation`.
- F3: ``db = Σ dy`` over the batch and every position.
- F6: pooling routes ``dy`` back through the windows: max pooling to the recorded arg-max
  ("switches"), average pooling evenly with the forward divisor.

Transposed convolution ``y = Cᵀx + b`` is the adjoint (F8), so its vjp is the forward
convolution of ``dy`` for ``dx`` and the weight gradient with the roles of ``x`` and ``dy``
exchanged.

The signatures are the protocol's with the forward operations' defaults
(:mod:`convspec.reference.ops`); the examples run after ``import numpy as np`` and
``from convspec import reference as ref``.
"""

from __future__ import annotations

import numpy as np

from ..spec.geometry import ConvGeometry
from ..spec.sizes import zero_inserted_size
from ..spec.validate import as_tuple
from .checks import conv_geometry, conv_transpose_geometry, pool_geometry
from .dtypes import to_compute, to_output
from .fast import correlate, correlate_adjoint, correlate_weight_grad
from .literal import correlate_by_index
from .pooling import avg_divisor, max_pool_switches, max_pool_ties, spread_to_windows

Grads = tuple[np.ndarray, np.ndarray, np.ndarray | None]


def bias_grad(dy: np.ndarray) -> np.ndarray:
    """``∂L/∂b^p = Σ_n Σ_i δ^p[n,i]`` (F3; seeds 000, 002)."""
    return dy.sum(axis=(0, *range(2, dy.ndim)))


def _outputs(dtype: np.dtype, dx: np.ndarray, dw: np.ndarray, db: np.ndarray | None) -> Grads:
    return (to_output(dx, dtype), to_output(dw, dtype),
            None if db is None else to_output(db, dtype))


def conv_vjp(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, dy: np.ndarray, *,
             stride: int | tuple[int, ...] = 1,
             padding: int | tuple[int, ...] | tuple[tuple[int, int], ...] = 0,
             dilation: int | tuple[int, ...] = 1, groups: int = 1) -> Grads:
    """``(dx, dw, db)`` of ``conv`` at ``(x, w, b)`` for the output cotangent ``dy`` (F1-F5;
    seeds 000, 002).

    ``dx = Cᵀ dy`` (F2), ``dW = dY ⊗ X`` (F1), ``db = Σ dy`` (F3). For ``y = [x0 − x1, x1 − x2]``
    and ``dy = [1, 1]``: ``dx = [1, −1 + 1, −1]``, ``dw = [x0 + x1, x1 + x2]``, ``db = 2``:

        >>> x = np.array([[[1., 2., 3.]]])
        >>> w = np.array([[[1., -1.]]])
        >>> dy = np.array([[[1., 1.]]])
        >>> dx, dw, db = ref.conv_vjp(x, w, np.zeros(1), dy)
        >>> dx, dw, db
        (array([[[ 1.,  0., -1.]]]), array([[[3., 5.]]]), array([2.]))
    """
    geometry, dtype = conv_geometry(x, w, b, stride=stride, padding=padding,
                                    dilation=dilation, groups=groups, dy=dy)
    xc, wc, dyc = (to_compute(a, dtype) for a in (x, w, dy))
    dx = correlate_adjoint(dyc, wc, geometry, x.shape[2:])
    dw = correlate_weight_grad(xc, dyc, geometry)
    return _outputs(dtype, dx, dw, None if b is None else bias_grad(dyc))


def conv_transpose_vjp(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, dy: np.ndarray, *,
                       stride: int | tuple[int, ...] = 1, padding: int | tuple[int, ...] = 0,
                       output_padding: int | tuple[int, ...] = 0,
                       dilation: int | tuple[int, ...] = 1, groups: int = 1) -> Grads:
    """``(dx, dw, db)`` of ``conv_transpose`` (F8; seed 002): ``y = Cᵀx + b`` gives
    ``dx = C dy``, ``dW = x ⊗ dy`` (the convolution's weight gradient at input ``dy``),
    ``db = Σ dy``.

    With ``dy`` all ones, each ``dx[i]`` is the sum of the kernel (every tap reaches the
    output once) and each ``dw[u]`` the sum of the inputs; no bias, no ``db``:

        >>> x = np.array([[[1., 2.]]])
        >>> w = np.array([[[1., 10., 100.]]])
        >>> ref.conv_transpose_vjp(x, w, None, np.ones((1, 1, 5)), stride=2)
        (array([[[111., 111.]]]), array([[[3., 3., 3.]]]), None)
    """
    geometry, dtype = conv_transpose_geometry(x, w, b, stride=stride, padding=padding,
                                              output_padding=output_padding,
                                              dilation=dilation, groups=groups, dy=dy)
    forward = geometry.adjoint()
    xc, wc, dyc = (to_compute(a, dtype) for a in (x, w, dy))
    # With output_padding >= stride, C dy has more positions than x; the extra ones have no
    # counterpart in x, so only x's positions are computed.
    dx = correlate(dyc, wc, forward, x.shape[2:])
    dw = correlate_weight_grad(dyc, xc, forward)
    return _outputs(dtype, dx, dw, None if b is None else bias_grad(dyc))


def max_pool_vjp(x: np.ndarray, dy: np.ndarray, *, kernel: int | tuple[int, ...],
                 stride: int | tuple[int, ...] | None = None, padding: int | tuple[int, ...] = 0,
                 dilation: int | tuple[int, ...] = 1, ceil_mode: bool = False) -> np.ndarray:
    """``dx`` of max pooling: each ``dy[i]`` goes to its window's switch (F6; seeds 000, 001),
    the input position the forward selected (:func:`convspec.reference.pooling.max_pool_switches`):
    the window's last NaN if it holds one, else its first maximum, ``+inf`` and ``-inf``
    included (a window of ``-inf`` sends it to its first input, never to padding), PyTorch's
    rule. Which NaN or which of tied maxima receives it is a convention
    (:mod:`convspec.spec.nonfinite`); :func:`max_pool_vjp_bound` bounds every choice.

    The windows ``(1, 3)`` and ``(2, 5)`` send their gradient to their maxima:

        >>> x = np.array([[[1., 3., 2., 5.]]])
        >>> ref.max_pool_vjp(x, np.array([[[10., 20.]]]), kernel=2)
        array([[[ 0., 10.,  0., 20.]]])
    """
    geometry, dtype = pool_geometry(x, kernel=kernel, stride=stride, padding=padding,
                                    dilation=dilation, ceil_mode=ceil_mode, dy=dy)
    out = geometry.output_spatial(x.shape[2:])
    dyc = to_compute(dy, dtype)
    _, switch = max_pool_switches(to_compute(x, dtype), geometry, out)
    zero = np.zeros((), dtype=dyc.dtype)
    dx = spread_to_windows(lambda index: np.where(switch == index, dyc, zero), x.shape,
                           geometry, out)
    return to_output(dx, dtype)


def max_pool_vjp_bound(x: np.ndarray, dy: np.ndarray, *, kernel: int | tuple[int, ...],
                       stride: int | tuple[int, ...] | None = None,
                       padding: int | tuple[int, ...] = 0, dilation: int | tuple[int, ...] = 1,
                       ceil_mode: bool = False) -> np.ndarray:
    """Per input position, ``Σ |dy[i]|`` over the windows ``i`` in which it holds the maximum
    (a NaN, in a window whose maximum is NaN), in float64: the most that ``max_pool_vjp``
    routes to it under any tie-breaking (F6; :mod:`convspec.spec.nonfinite`). A position
    that holds no window's maximum gets nothing under every rule.

    A tie may send the gradient to either maximum, so both are bounded by it:

        >>> from convspec.reference.grad import max_pool_vjp_bound
        >>> max_pool_vjp_bound(np.array([[[4., 4., 1.]]]), np.array([[[-3.]]]), kernel=3)
        array([[[3., 3., 0.]]])
    """
    geometry, dtype = pool_geometry(x, kernel=kernel, stride=stride, padding=padding,
                                    dilation=dilation, ceil_mode=ceil_mode, dy=dy)
    out = geometry.output_spatial(x.shape[2:])
    ties = max_pool_ties(to_compute(x, dtype), geometry, out)
    size = np.abs(np.asarray(dy).astype(np.float64))
    return spread_to_windows(lambda index: np.where(ties[index], size, 0.0), x.shape,
                             geometry, out)


def avg_pool_vjp(x: np.ndarray, dy: np.ndarray, *, kernel: int | tuple[int, ...],
                 stride: int | tuple[int, ...] | None = None, padding: int | tuple[int, ...] = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True) -> np.ndarray:
    """``dx`` of average pooling: ``dy / divisor`` spread evenly over each window (F6; seeds
    000, 001).

        >>> x = np.zeros((1, 1, 4))
        >>> ref.avg_pool_vjp(x, np.array([[[2., 4.]]]), kernel=2)
        array([[[1., 1., 2., 2.]]])
    """
    geometry, dtype = pool_geometry(x, kernel=kernel, stride=stride, padding=padding,
                                    ceil_mode=ceil_mode, count_include_pad=count_include_pad,
                                    dy=dy)
    out = geometry.output_spatial(x.shape[2:])
    share = to_compute(dy, dtype) / avg_divisor(geometry, x.shape[2:], out)
    return to_output(spread_to_windows(lambda _: share, x.shape, geometry, out), dtype)


# -- the notes' own routes, used to cross-check the fast ones ----------------------------------

def flipped_transposed_weight(w: np.ndarray, groups: int) -> np.ndarray:
    """``rot180(W)`` with input and output channels exchanged within each group (F2, F5).

    ``(C_out, C_in/G, *K)`` becomes ``(C_in, C_out/G, *K)``, every spatial axis reversed.
    """
    c_out, c_in_g, *kernel = w.shape
    per_group = w.reshape(groups, c_out // groups, c_in_g, *kernel).swapaxes(1, 2)
    flipped = per_group[(Ellipsis, *(slice(None, None, -1),) * len(kernel))]
    return np.ascontiguousarray(flipped.reshape(groups * c_in_g, c_out // groups, *kernel))


def zero_insert(a: np.ndarray, stride: int | tuple[int, ...]) -> np.ndarray:
    """Insert ``s−1`` zeros between neighbouring entries of every spatial axis (B10, F9; seed
    002).

    ``a`` is ``(N, C, *spatial)``; a length ``l`` becomes ``s(l−1) + 1``
    (:func:`convspec.spec.sizes.zero_inserted_size`):

        >>> ref.zero_insert(np.array([[[1., 2., 3.]]]), 2)
        array([[[1., 0., 2., 0., 3.]]])
    """
    spatial = a.shape[2:]
    stride = as_tuple("stride", stride, len(spatial), minimum=1)
    size = zero_inserted_size(tuple(spatial), stride)
    out = np.zeros((*a.shape[:2], *size), dtype=a.dtype)
    out[(slice(None), slice(None), *(slice(None, None, s) for s in stride))] = a
    return out


def input_grad_by_wide_correlation(dy: np.ndarray, w: np.ndarray, geometry: ConvGeometry,
                                   spatial: tuple[int, ...]) -> np.ndarray:
    """``dx = rot180(W) ~⊗ dy`` generalized (F2, F5, F9, B10; seed 002).

    ``dy`` is zero-inserted (stride ``s`` → ``s−1`` zeros), padded by ``d(k−1)`` before (the
    wide correlation's full padding) and up to the padded input's length after, correlated
    with the flipped, channel-swapped kernel at dilation ``d``; the forward padding is then
    cropped. With ``s=d=1, p=0`` this is exactly the notes' ``rot180(W) ~⊗ δ``; the same
    ``dx`` as :func:`conv_vjp`'s for ``y = [x0 − x1, x1 − x2]``:

        >>> from convspec import ConvGeometry
        >>> g = ConvGeometry.make(1, 1, 2, ndim=1)          # 1 → 1 channel, 2 taps
        >>> dy, w = np.array([[[1., 1.]]]), np.array([[[1., -1.]]])
        >>> ref.input_grad_by_wide_correlation(dy, w, g, (3,))
        array([[[ 1.,  0., -1.]]])
    """
    z = zero_insert(dy, geometry.stride)
    padded = [n + b + a for n, (b, a) in zip(spatial, geometry.padding)]
    full = tuple((d * (k - 1), p - z_len)
                 for d, k, p, z_len in zip(geometry.dilation, geometry.kernel, padded,
                                           z.shape[2:]))
    wide = ConvGeometry.make(geometry.out_channels, geometry.in_channels, geometry.kernel,
                             padding=full, dilation=geometry.dilation, groups=geometry.groups,
                             bias=False)
    dx_padded = correlate(z, flipped_transposed_weight(w, geometry.groups), wide,
                          wide.output_spatial(z.shape[2:]))
    crop = tuple(slice(b, b + n) for (b, _), n in zip(geometry.padding, spatial))
    return np.ascontiguousarray(dx_padded[(slice(None), slice(None), *crop)])


def weight_grad_by_correlation(x: np.ndarray, dy: np.ndarray,
                               geometry: ConvGeometry) -> np.ndarray:
    """``∂L/∂W^{p,d} = δ^p ⊗ X^d`` summed over the batch (F1, F4, E6; seeds 000, 002).

    Per group, the input is read with channels as the batch and the batch as channels, and
    correlated with ``dy`` as the kernel; the forward dilation becomes the stride and the
    forward stride the dilation. Uses the literal path, so it is independent of the fast one.
    ``dw[u] = Σ_i dy[i] x[i + u]``:

        >>> from convspec import ConvGeometry
        >>> g = ConvGeometry.make(1, 1, 2, ndim=1)
        >>> x, dy = np.array([[[1., 2., 3.]]]), np.array([[[1., 1.]]])
        >>> ref.weight_grad_by_correlation(x, dy, g)        # [1 + 2, 2 + 3]
        array([[[3., 5.]]])
    """
    g = geometry.groups
    c_in_g, c_out_g = geometry.in_channels // g, geometry.out_channels // g
    out = dy.shape[2:]
    parts = []
    for group in range(g):
        xs = x[:, group * c_in_g:(group + 1) * c_in_g].swapaxes(0, 1)
        kernel = dy[:, group * c_out_g:(group + 1) * c_out_g].swapaxes(0, 1)
        swapped = ConvGeometry.make(x.shape[0], c_out_g, out, stride=geometry.dilation,
                                    padding=geometry.padding, dilation=geometry.stride,
                                    bias=False)
        reach = swapped.output_spatial(x.shape[2:])
        grad = correlate_by_index(xs, kernel, stride=swapped.stride, padding=swapped.padding,
                                  dilation=swapped.dilation, groups=1, out=reach)
        parts.append(grad[(slice(None), slice(None),
                           *(slice(0, k) for k in geometry.kernel))].swapaxes(0, 1))
    return np.concatenate(parts, axis=0)
