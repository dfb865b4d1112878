"""Building blocks of the notes' architectures: multi-channel layer (E20), channel shuffle
(E17), squeeze-and-excitation (E18) and the residual unit (E19).

The examples run after ``import numpy as np`` and ``from convspec import reference as ref``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from ..spec.validate import as_int, as_tuple
from ..spec.errors import GeometryError
from .checks import spatial_rank_of
from .classic import correlate
from .dtypes import check_arrays, to_compute, to_output

Activation = Callable[[np.ndarray], np.ndarray]


def conv_layer(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, *,
               activation: Activation | None = None,
               padding: int | tuple[int, ...] = 0) -> np.ndarray:
    """``Z^p = Σ_d W^{p,d} ⊗ X^d + b^p``, ``Y^p = f(Z^p)`` (E20; seeds 000, 002).

    Stride 1; ``padding`` zeros on both sides of every spatial axis (an int, or one per axis).
    Written as the notes do: one plain correlation per (output map ``p``, input map ``d``).
    Two 1×1 maps, the identity and ``3 − x``, through a ReLU:

        >>> x = np.array([[[1., 2., 3., 4.]]])
        >>> w = np.array([[[1.]], [[-1.]]])                 # (P, D, 1) = (2, 1, 1)
        >>> ref.conv_layer(x, w, np.array([0., 3.]), activation=ref.relu)
        array([[[1., 2., 3., 4.],
                [2., 1., 0., 0.]]])
    """
    dtype = check_arrays(x=x, w=w, b=b)
    rank = spatial_rank_of("x", x)
    if w.ndim != rank + 2 or w.shape[1] != x.shape[1]:
        raise GeometryError(f"w has shape {w.shape}; expected (P, {x.shape[1]}, *kernel) with "
                            f"{rank} kernel axes")
    if b is not None and b.shape != (w.shape[0],):
        raise GeometryError(f"b has shape {b.shape}, expected ({w.shape[0]},)")
    pads = as_tuple("padding", padding, rank, minimum=0)
    xp = np.pad(to_compute(x, dtype), [(0, 0), (0, 0), *((p, p) for p in pads)])
    wc = to_compute(w, dtype)
    maps = []
    for n in range(x.shape[0]):
        per_output = []
        for p in range(w.shape[0]):
            z = sum(correlate(wc[p, d], xp[n, d]) for d in range(x.shape[1]))
            per_output.append(z + (0 if b is None else to_compute(b, dtype)[p]))
        maps.append(np.stack(per_output))
    z = np.stack(maps) if maps else np.zeros((0, w.shape[0]), dtype=wc.dtype)
    return to_output(z if activation is None else activation(z), dtype)


def channel_shuffle(x: np.ndarray, groups: int) -> np.ndarray:
    """ShuffleNet's channel shuffle (E17; seeds 000, 004).

    Channels ``(G, C/G)`` are transposed to ``(C/G, G)``: output channel ``j·G + g`` is input
    channel ``g·C/G + j``, so the next grouped convolution sees every group. Channels 0-2 and
    3-5 (two groups) interleave:

        >>> x = np.arange(6.).reshape(1, 6, 1)              # channel c holds the value c
        >>> ref.channel_shuffle(x, 2)[0, :, 0]
        array([0., 3., 1., 4., 2., 5.])
    """
    check_arrays(x=x)
    spatial_rank_of("x", x)
    g = as_int("groups", groups, minimum=1)
    if x.shape[1] % g:
        raise GeometryError(f"groups={g} does not divide the {x.shape[1]} channels of x")
    n, c, *spatial = x.shape
    return np.ascontiguousarray(
        x.reshape(n, g, c // g, *spatial).swapaxes(1, 2)).reshape(x.shape)


def sigmoid(z: ArrayLike) -> np.ndarray:
    """``1 / (1 + e^{−z})``, computed without overflow (the gate of E18).

        >>> ref.sigmoid(np.array([0., 1000., -1000.]))
        array([0.5, 1. , 0. ])
    """
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def squeeze_excitation(x: np.ndarray, w1: np.ndarray, b1: np.ndarray, w2: np.ndarray,
                       b2: np.ndarray) -> np.ndarray:
    """Squeeze-and-excitation (E18; seeds 000, 004).

    Squeeze: ``s = mean over positions of x`` per channel; excitation:
    ``e = sigmoid(W2 · relu(W1 · s + b1) + b2)`` with ``W1 (C/r, C)``, ``W2 (C, C/r)``;
    output ``x · e`` channel by channel. Here the one hidden unit is channel 0's mean, 2, and
    the excitation ``sigmoid(±2000)`` keeps channel 0 and shuts channel 1:

        >>> x = np.array([[[2., 2.], [4., 8.]]])            # (N, C, L) = (1, 2, 2)
        >>> w1, b1 = np.array([[1., 0.]]), np.zeros(1)      # C/r = 1 hidden unit
        >>> w2, b2 = np.array([[1000.], [-1000.]]), np.zeros(2)
        >>> ref.squeeze_excitation(x, w1, b1, w2, b2)
        array([[[2., 2.],
                [0., 0.]]])
    """
    dtype = check_arrays(x=x, w1=w1, b1=b1, w2=w2, b2=b2)
    spatial_rank_of("x", x)
    c = x.shape[1]
    hidden = w1.shape[0] if w1.ndim == 2 else None
    for name, array, shape in (("w1", w1, (hidden, c)), ("b1", b1, (hidden,)),
                               ("w2", w2, (c, hidden)), ("b2", b2, (c,))):
        if array.shape != shape:
            raise GeometryError(f"{name} has shape {array.shape}, expected {shape} "
                                f"(C={c} channels, {hidden} hidden units)")
    xc = to_compute(x, dtype)
    squeezed = xc.mean(axis=tuple(range(2, x.ndim)))
    hidden_units = np.maximum(squeezed @ to_compute(w1, dtype).T + to_compute(b1, dtype), 0)
    excitation = sigmoid(hidden_units @ to_compute(w2, dtype).T + to_compute(b2, dtype))
    return to_output(xc * excitation.reshape(*excitation.shape, *(1,) * (x.ndim - 2)), dtype)


def residual_unit(x: np.ndarray, branch: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``h(x) = x + f(x)`` (E19; seeds 002, 004): ``∂h/∂x = I + ∂f/∂x`` keeps an identity path.

    ``branch`` must return an array of ``x``'s shape (project the shortcut otherwise).

        >>> ref.residual_unit(np.array([[[1., 2.]]]), lambda x: 10 * x)   # x + 10x
        array([[[11., 22.]]])
    """
    check_arrays(x=x)
    fx = branch(x)
    if not isinstance(fx, np.ndarray) or fx.shape != x.shape:
        raise GeometryError(
            f"the residual branch returned shape {getattr(fx, 'shape', None)}, x has {x.shape}: "
            "h(x) = x + f(x) needs f(x) of the same shape")
    return x + fx
