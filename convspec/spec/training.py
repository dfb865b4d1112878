"""Training formulas of the notes (inventory section H), in numpy.

Momentum in both of the notes' forms (H1, H2), dropout at training and inference time in its
classic and inverted forms (H3), ReLU and leaky ReLU (H4) and softmax (H5). Arrays may be any
float numpy array; hyper-parameters are checked and a bad value raises ``ValueError`` (a
probability outside ``(0, 1]``, a negative rate) or ``TypeError`` (a non-number).

These functions are exported by :mod:`convspec.reference` too; their examples run in this
module's namespace, with ``import numpy as np`` (``tests/test_reference_doctests.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

Gradient = Callable[[np.ndarray], np.ndarray]


def _real(name: str, value: Any, *, low: float, high: float = math.inf,
          low_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a real number, got {value!r} of type "
                        f"{type(value).__name__}")
    value = float(value)
    if math.isnan(value) or value > high or value < low or (low_open and value == low):
        interval = f"{'(' if low_open else '['}{low}, {high}{']' if high < math.inf else ')'}"
        raise ValueError(f"{name} must lie in {interval}, got {value}")
    return value


def _array(name: str, value: Any) -> np.ndarray:
    array = np.asarray(value)
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise TypeError(f"{name} must be a numeric array, got dtype {array.dtype}")
    return array


def momentum_step(theta: ArrayLike, direction: ArrayLike, gradient: ArrayLike, *, lr: float,
                  beta: float) -> tuple[np.ndarray, np.ndarray]:
    """One step of momentum in the notes' first form (H1; seed 002).

    ``d_t = β d_{t-1} + g(θ_{t-1})`` then ``θ_t = θ_{t-1} - α d_t``, with ``gradient`` the
    gradient at ``θ_{t-1}`` and ``direction`` ``d_{t-1}`` (``d_0 = 0``). Returns
    ``(θ_t, d_t)``. ``β = 0`` is plain gradient descent.

        >>> theta, d = np.array([4., 4.]), np.array([2., 0.])
        >>> momentum_step(theta, d, np.array([1., 4.]), lr=0.5, beta=0.5)   # d = [1 + 1, 0 + 4]
        (array([3., 2.]), array([2., 4.]))
    """
    lr = _real("lr (α)", lr, low=0.0)
    beta = _real("beta (β)", beta, low=0.0)
    direction = beta * _array("direction", direction) + _array("gradient", gradient)
    return _array("theta", theta) - lr * direction, direction


def momentum_step_delta(theta: ArrayLike, delta: ArrayLike, gradient: ArrayLike, *, lr: float,
                        rho: float) -> tuple[np.ndarray, np.ndarray]:
    """One step of momentum in the notes' other form (H2; seed 002).

    ``Δθ_t = ρ Δθ_{t-1} - η g(θ_t)`` then ``θ_{t+1} = θ_t + Δθ_t``, with ``gradient`` the
    gradient at ``θ_t`` and ``delta`` ``Δθ_{t-1}`` (``Δθ_{-1} = 0``). Returns ``(θ_{t+1}, Δθ_t)``.
    With ``ρ = β`` and ``η = α`` it follows the same trajectory as :func:`momentum_step`
    (``Δθ_t = -α d_{t+1}``): the step of :func:`momentum_step`'s example, with
    ``Δθ = −0.5·[2, 0]``:

        >>> theta, delta = np.array([4., 4.]), np.array([-1., 0.])
        >>> momentum_step_delta(theta, delta, np.array([1., 4.]), lr=0.5, rho=0.5)
        (array([3., 2.]), array([-1., -2.]))
    """
    lr = _real("lr (η)", lr, low=0.0)
    rho = _real("rho (ρ)", rho, low=0.0)
    delta = rho * _array("delta", delta) - lr * _array("gradient", gradient)
    return _array("theta", theta) + delta, delta


def momentum_trajectory(gradient: Gradient, theta0: ArrayLike, steps: int, *, lr: float,
                        beta: float, form: str = "direction") -> list[np.ndarray]:
    """``[θ_0, θ_1, ..., θ_steps]`` under momentum in either form (H1, H2).

    ``form="direction"`` iterates :func:`momentum_step`, ``form="delta"``
    :func:`momentum_step_delta` with ``ρ = beta``, ``η = lr``; both start from zero momentum.
    On ``f(θ) = θ²/2`` (gradient ``θ``) the two forms give the same path (H2):

        >>> momentum_trajectory(lambda t: t, [8.], 3, lr=0.5, beta=0.5)
        [array([8.]), array([4.]), array([0.]), array([-2.])]
        >>> momentum_trajectory(lambda t: t, [8.], 3, lr=0.5, beta=0.5, form="delta")
        [array([8.]), array([4.]), array([0.]), array([-2.])]
    """
    if form not in ("direction", "delta"):
        raise ValueError(f"form must be 'direction' (H1) or 'delta' (H2), got {form!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative int, got {steps!r}")
    theta = _array("theta0", theta0).astype(float)
    state = np.zeros_like(theta)
    path = [theta]
    for _ in range(steps):
        if form == "direction":
            theta, state = momentum_step(theta, state, gradient(theta), lr=lr, beta=beta)
        else:
            theta, state = momentum_step_delta(theta, state, gradient(theta), lr=lr, rho=beta)
        path.append(theta)
    return path


def dropout_mask(shape: tuple[int, ...], keep_prob: float,
                 rng: np.random.Generator) -> np.ndarray:
    """A 0/1 mask keeping each unit with probability ``keep_prob`` (H3; seeds 001, 002).

        >>> np.unique(dropout_mask((2, 4), 0.5, np.random.default_rng(0)))
        array([0., 1.])
        >>> dropout_mask((2, 4), 1.0, np.random.default_rng(0))
        array([[1., 1., 1., 1.],
               [1., 1., 1., 1.]])
    """
    keep_prob = _real("keep_prob", keep_prob, low=0.0, high=1.0, low_open=True)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy Generator (np.random.default_rng(seed)), got {rng!r}")
    return (rng.random(shape) < keep_prob).astype(float)


def dropout(x: ArrayLike, keep_prob: float, *, training: bool,
            rng: np.random.Generator | None = None, inverted: bool = False) -> np.ndarray:
    """Dropout with keep probability ``p`` in its two forms (H3; seeds 001, 002).

    Classic (``inverted=False``): training zeroes each unit with probability ``1-p``;
    inference scales every unit by ``p`` ("每一个单元的参数要预乘以P", seed 002).
    Inverted (``inverted=True``): training zeroes and scales the kept units by ``1/p``;
    inference is the identity. In both forms the training output's expectation equals the
    inference output (:func:`dropout_expectation`).

        >>> dropout(np.array([2., 4.]), 0.5, training=False)          # classic: scaled by p
        array([1., 2.])
        >>> kept = dropout(np.ones(8), 0.5, training=True, rng=np.random.default_rng(0),
        ...                inverted=True)
        >>> np.unique(kept)                                             # dropped, or 1/p
        array([0., 2.])
    """
    x = _array("x", x)
    keep_prob = _real("keep_prob", keep_prob, low=0.0, high=1.0, low_open=True)
    if not training:
        return x.copy() if inverted else keep_prob * x
    if rng is None:
        raise TypeError("dropout at training time needs rng=np.random.default_rng(seed)")
    kept = x * dropout_mask(x.shape, keep_prob, rng)
    return kept / keep_prob if inverted else kept


def dropout_expectation(x: ArrayLike, keep_prob: float, *,
                        inverted: bool = False) -> np.ndarray:
    """``E[dropout(x, training=True)]``: ``p·x`` (classic) or ``x`` (inverted), which is the
    inference output of the same form (H3; seed 002).

        >>> dropout_expectation(np.array([2., 4.]), 0.5), dropout_expectation([2., 4.], 0.5,
        ...                                                                   inverted=True)
        (array([1., 2.]), array([2., 4.]))
    """
    return dropout(x, keep_prob, training=False, inverted=inverted)


def relu(x: ArrayLike) -> np.ndarray:
    """``max(0, x)`` elementwise (H4; seed 002).

        >>> relu([-2., 0., 3.])
        array([0., 0., 3.])
    """
    x = _array("x", x)
    return np.maximum(x, 0).astype(x.dtype, copy=False)


def leaky_relu(x: ArrayLike, negative_slope: float = 0.01) -> np.ndarray:
    """``max(0, x) + negative_slope·min(0, x)`` elementwise (H4; seed 002).

        >>> leaky_relu([-2., 3.], 0.5)
        array([-1.,  3.])
    """
    x = _array("x", x)
    slope = _real("negative_slope", negative_slope, low=-math.inf)
    return np.maximum(x, 0) + slope * np.minimum(x, 0)


def softmax(scores: ArrayLike, axis: int = -1) -> np.ndarray:
    """``exp(s_i) / Σ_j exp(s_j)`` along ``axis``, each value in (0, 1), summing to 1 (H5; seed 001).

    The maximum is subtracted first, so large scores do not overflow.

        >>> softmax([0., np.log(3.)])                 # 1 / (1 + 3) and 3 / (1 + 3)
        array([0.25, 0.75])
        >>> softmax([1000., 1000.])
        array([0.5, 0.5])
    """
    scores = _array("scores", scores)
    if not np.issubdtype(scores.dtype, np.floating):
        scores = scores.astype(float)
    if scores.ndim == 0:
        raise ValueError("softmax needs at least one axis of scores, got a scalar")
    shifted = scores - np.max(scores, axis=axis, keepdims=True)
    exps = np.exp(shifted)
    return exps / np.sum(exps, axis=axis, keepdims=True)
