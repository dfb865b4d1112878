"""Non-finite inputs (NaN, ±inf): what pooling, convolution and their gradients return.

Every operation is the IEEE 754 arithmetic its formula names, so the specification of a
non-finite input is the standard's:

* **Max pooling** (G1) reduces each window with IEEE 754-2019 ``maximum`` (§9.6):
  ``maximum(x, y)`` is ``x`` if ``x > y``, ``y`` if ``y > x``, and a quiet NaN if either operand
  is a NaN (``minimum`` mirrors it; both order ``-0 < +0``, which the checks here leave aside,
  since ``-0 == +0``). Over a window: any NaN gives NaN (a NaN is never dropped); else ``+inf``
  if the window holds one; else its largest value, ``-inf`` when every input is ``-inf`` (never
  the lowest finite number, -3.4e38 in float32). Padding is ``maximum``'s identity, ``-inf``,
  and a window of padding only (dilation allows one) gives ``-inf``. The 2008 standard's
  ``maxNum`` (§5.3.1, deleted in 2019), C's ``fmax``, ``numpy.fmax``, ``torch.fmax`` and
  ``jnp.fmax`` return the number when one operand is NaN: a pooling that behaves like them, or
  that starts from the lowest float and compares with ``>``, drops NaN. PyTorch documents
  ``torch.maximum`` as "If one of the elements being compared is a NaN, then that element is
  returned" and its max pooling propagates NaN since pytorch/pytorch#7670 (fixing #7645);
  ``jax.lax.max`` lowers to ``stablehlo.maximum`` and ``jnp.maximum`` gives "nan if one element
  is nan"; ONNX's operator page for MaxPool says nothing of NaN (``onnx.reference`` marks
  padding with NaN and so drops NaN inputs), and ONNX Runtime 1.32 drops NaN too (measured; its
  float32 kernel also returns the lowest float for a window of ``-inf``).
* **Max pooling's gradient** (F6): ``dy[i]`` goes, whole, to one input position of window
  ``i`` that holds the window's maximum, the switch the forward selected: a NaN of the window
  when it holds one, else a position equal to the maximum, ``+inf`` and ``-inf`` included. So
  a window of ``-inf`` sends its gradient to one of its inputs, never to padding and never
  nowhere, and the gradient is finite wherever ``dy`` is. Which NaN, or which of tied maxima,
  is a convention: PyTorch's kernels scan the window in row-major order and take a position
  when ``v > best or isnan(v)``, starting from its first input, so the *last* NaN and the
  *first* maximum (the index ``max_pool2d_with_indices`` returns); the reference follows it
  (:func:`convspec.reference.pooling.max_pool_switches`). Every input thus receives at most
  the sum of ``|dy|`` over the windows whose maximum it holds
  (:func:`convspec.reference.grad.max_pool_vjp_bound`), and the gradient a window routes is
  never lost: per channel, ``Σ dx = Σ dy`` over the windows that hold an input.
* **Average pooling and convolution** (G1, A1–A3, B8) are sums of products, in IEEE arithmetic
  (§6.1, §7.2): a NaN term, ``0 × ∞`` or ``∞ − ∞`` gives NaN; else an infinite term gives that
  infinity; else the sum is finite (the strategies keep finite values far from overflow, so
  the summation order cannot matter). A NaN input times a zero weight is still NaN. Padding is
  zero, a finite operand. Stated for non-finite values in ``x`` (and ``dy`` of average
  pooling) with finite weights: an infinite weight meets the zero padding, ``0 × ∞``, where an
  implementation that skips the padding multiplies nothing, so that case has no one answer.
* **Gradients of an input that does not enter them** stay finite: ``avg_pool_vjp``'s ``dx``
  and ``conv_vjp``'s ``dx`` and ``db`` do not depend on ``x``'s values, so a NaN in ``x``
  changes nothing there. ``conv_vjp``'s ``dw = dY ⊗ X`` is a sum of products of ``x``.
* **Locality** (B8, E5): a non-finite input reaches exactly the outputs whose window or
  receptive field holds it, so every other output is finite and equal to what finite inputs
  give. Algorithms that transform the whole signal (FFT, D-section forms) or a tile (Winograd)
  mix every input into every output and legitimately spread a NaN everywhere; a backend
  therefore promises IEEE propagation per operation (``Capabilities.nonfinite``), and the
  properties skip what it does not promise.

The functions below give, for each output, the class IEEE arithmetic puts it in: NaN,
``+inf``, ``-inf``, or ``0.0`` for "finite". They count terms with the operation itself: a
``reach`` or ``apply`` callable (the reference, in practice) applied to 0/1 masks, which it
computes exactly, so the classes do not depend on how that operation treats NaN.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: The non-finite values the strategies place, by name.
SPECIAL_VALUES: dict[str, float] = {"nan": float("nan"), "inf": float("inf"),
                                    "-inf": float("-inf")}

#: ``reach(mask)``: for a 0/1 float64 mask over an operation's input, a non-negative array over
#: its output that is positive exactly where the output's window holds a marked position.
Reach = Callable[[np.ndarray], np.ndarray]
#: ``apply(a, c)``: a bilinear operation (no bias) on 0/1 float64 masks of its two operands.
Apply = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _mask(condition: np.ndarray) -> np.ndarray:
    return np.asarray(condition, dtype=np.float64)


def _as_float(values: np.ndarray) -> np.ndarray:
    return np.asarray(values).astype(np.float64)


def value_class(values: np.ndarray) -> np.ndarray:
    """Each element's class: NaN, ``+inf`` or ``-inf`` as it is, ``0.0`` where finite."""
    values = _as_float(values)
    return np.where(np.isfinite(values), 0.0, values)


def sum_class(nan: np.ndarray, positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
    """The class of a sum from how many of its terms are NaN, ``+inf`` and ``-inf``
    (IEEE 754-2019 §6.1, §7.2): NaN if a term is NaN or both infinities meet (``∞ − ∞``),
    else the infinity present, else ``0.0`` (finite)."""
    nan, positive, negative = (np.asarray(a) > 0 for a in (nan, positive, negative))
    return np.where(nan | (positive & negative), np.nan,
                    np.where(positive, np.inf, np.where(negative, -np.inf, 0.0)))


def window_max_class(reach: Reach, x: np.ndarray) -> np.ndarray:
    """The class of max pooling (G1, IEEE 754-2019 ``maximum``): NaN where the window holds a
    NaN, else ``+inf`` where it holds ``+inf``, else ``-inf`` where it holds nothing above
    ``-inf`` (every input ``-inf``, or padding only), else ``0.0`` (finite)."""
    x = _as_float(x)
    nan = reach(_mask(np.isnan(x))) > 0
    positive = reach(_mask(x == np.inf)) > 0
    above = reach(_mask(x > -np.inf)) > 0
    return np.where(nan, np.nan, np.where(positive, np.inf, np.where(above, 0.0, -np.inf)))


def window_sum_class(reach: Reach, values: np.ndarray) -> np.ndarray:
    """The class of a sum of ``values`` with positive coefficients over each window: average
    pooling (G1, padding contributes finite zeros) and its gradient's ``dx`` from ``dy``
    (F6, ``reach`` the spreading of ``dy`` over the windows)."""
    values = _as_float(values)
    return sum_class(reach(_mask(np.isnan(values))), reach(_mask(values == np.inf)),
                     reach(_mask(values == -np.inf)))


def product_sum_class(apply: Apply, a: np.ndarray, c: np.ndarray) -> np.ndarray:
    """The class of ``y = Σ a·c`` for a bilinear ``apply`` (a convolution A1–A3, B8, a
    transposed convolution B10, a weight gradient F1) with non-finite values in ``a`` only.

    A term ``a·c`` is NaN where ``a`` is NaN (whatever ``c``, zero included) or ``a`` is
    infinite and ``c`` zero; ``+inf`` where ``a = +inf, c > 0`` or ``a = -inf, c < 0``; ``-inf``
    for the opposite signs; the counts go through :func:`sum_class`."""
    a, c = _as_float(a), _as_float(c)
    ones = np.ones_like(c)
    nan = apply(_mask(np.isnan(a)), ones) + apply(_mask(np.isinf(a)), _mask(c == 0))
    up, down = _mask(a == np.inf), _mask(a == -np.inf)
    positive = apply(up, _mask(c > 0)) + apply(down, _mask(c < 0))
    negative = apply(up, _mask(c < 0)) + apply(down, _mask(c > 0))
    return sum_class(nan, positive, negative)


def describe_class(value: float) -> str:
    """``"NaN"``, ``"+inf"``, ``"-inf"`` or ``"finite"``, for a failure's sentence."""
    if np.isnan(value):
        return "NaN"
    if np.isinf(value):
        return "+inf" if value > 0 else "-inf"
    return "finite"
