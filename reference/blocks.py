"""Building blocks of the notes' architectures: multi-channel layer (E20), channel shuffle
(E17), squeeze-and-excitation (E18) and the residual unit (E19)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..spec.validate import as_int
from ..spec.errors import GeometryError
from .checks import spatial_rank_of
from .classic import correlate
from .dtypes import check_arrays, to_compute, to_output

Activation = Callable[[np.ndarray], np.ndarray]


def conv_layer(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, *,
               activation: Activation | None = None, padding: Any = 0) -> np.ndarray:
    """``Z^p = Σ_d W^{p,d} ⊗ X^d + b^p``, ``Y^p = f(Z^p)`` (E20; seeds 000, 002).

    Stride 1; ``padding`` zeros on both sides of every spatial axis (an int, or one per axis).
    Written as the notes do: one plain correlation per (output map ``p``, input map ``d``).
    """
    dtype = check_arrays(x=x, w=w, b=b)
    rank = spatial_rank_of("x", x)
    if w.ndim != rank + 2 or w.shape[1] != x.shape[1]:
        raise GeometryError(f"w has shape {w.shape}; expected (P, {x.shape[1]}, *kernel) with "
                            f"{rank} kernel axes")
    if b is not None and b.shape != (w.shape[0],):
        raise GeometryError(f"b has shape {b.shape}, expected ({w.shape[0]},)")
    pads = (padding,) * rank if isinstance(padding, (int, np.integer)) else tuple(padding)
    if len(pads) != rank:
        raise GeometryError(f"padding has {len(pads)} entries, expected {rank}")
    pads = tuple(as_int(f"padding[{i}]", p, minimum=0) for i, p in enumerate(pads))
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
    channel ``g·C/G + j``, so the next grouped convolution sees every group.
    """
    check_arrays(x=x)
    spatial_rank_of("x", x)
    g = as_int("groups", groups, minimum=1)
    if x.shape[1] % g:
        raise GeometryError(f"groups={g} does not divide the {x.shape[1]} channels of x")
    n, c, *spatial = x.shape
    return np.ascontiguousarray(
        x.reshape(n, g, c // g, *spatial).swapaxes(1, 2)).reshape(x.shape)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """``1 / (1 + e^{−z})``, computed without overflow."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def squeeze_excitation(x: np.ndarray, w1: np.ndarray, b1: np.ndarray, w2: np.ndarray,
                       b2: np.ndarray) -> np.ndarray:
    """Squeeze-and-excitation (E18; seeds 000, 004).

    Squeeze: ``s = mean over positions of x`` per channel; excitation:
    ``e = sigmoid(W2 · relu(W1 · s + b1) + b2)`` with ``W1 (C/r, C)``, ``W2 (C, C/r)``;
    output ``x · e`` channel by channel.
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
    """
    check_arrays(x=x)
    fx = branch(x)
    if not isinstance(fx, np.ndarray) or fx.shape != x.shape:
        raise GeometryError(
            f"the residual branch returned shape {getattr(fx, 'shape', None)}, x has {x.shape}: "
            "h(x) = x + f(x) needs f(x) of the same shape")
    return x + fx
