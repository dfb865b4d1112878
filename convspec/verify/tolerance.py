"""How far a correct implementation may be from the exact result, per dtype.

Derivation
----------
Every operation convspec checks is a *reduction of products*: an output element is
``y = Σ_{i<K} a_i b_i`` (convolution and its gradients: ``a, b`` are inputs and weights, or
cotangents and inputs) or a plain sum (average pooling, bias gradient: ``b_i = 1/K`` or 1).
Write ``S = Σ |a_i b_i|`` for the *magnitude* of the element: convspec computes it exactly by
running the reference operation on ``|a|`` and ``|b|`` in float64.

A correct implementation in a floating-point type with unit roundoff ``u`` (``2^-p``) makes
three kinds of error:

1. *Accumulation.* Summing K terms in any order, with any blocking, has the worst-case bound
   ``|ŷ - y| ≤ γ_K S`` with ``γ_K = K u / (1 - K u)`` (Higham, *Accuracy and Stability of
   Numerical Algorithms*, 2nd ed., §3.1 and §4.2). That bound is reached only by adversarial
   data; rounding errors of random sign grow like ``√K u S`` (Higham §3.6; Wilkinson's rule of
   thumb). The model allows ``c_acc · √K · u_acc · S`` with a safety factor ``c_acc = 8``.
2. *Transforms.* FFT and Winograd algorithms mix all positions of a signal (or a tile) before
   multiplying, so their error is bounded by the norms of the *operands*, not by the magnitude
   ``S`` of the element. For one output map ``z = Σ_c a_c ⋆ k_c`` (sample ``n``, output channel
   ``o``: the input slice ``a`` of that sample's group, all its channels, and the kernel ``k``
   of ``o``; the vjps alike, see :func:`convspec.verify.conformance.transform_scales`) computed as
   ``z = F⁻¹(Σ_c (F a_c) ⊙ conj(F k_c))`` with transforms of length ``L``:

   * a computed FFT has ``‖δ(F v)‖₂ ≤ η ‖F v‖₂ = η √L ‖v‖₂`` with ``η ≈ 5 u log2 L``
     (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., Thm 24.2), and every
     output of a radix-2 FFT is a unit-modulus combination of its inputs reached through
     ``log2 L`` butterflies, so componentwise ``|δ(F⁻¹ p)_i| ≤ η (1/L) ‖p‖₁``;
   * by Cauchy–Schwarz over (channel, frequency) and Parseval, the transform errors of ``a``
     and of ``k`` each reach one output element by at most
     ``(1/L) ‖δâ‖₂ ‖k̂‖₂ ≤ η ‖a‖₂ ‖k‖₂``, the inverse transform by
     ``η (1/L) Σ_f |p_f| ≤ η (1/L) ‖â‖₂ ‖k̂‖₂ = η ‖a‖₂ ‖k‖₂``, the products by ``u ‖a‖₂ ‖k‖₂``;

   * the channel sum per frequency ``p_f = Σ_{c<C} â_{c,f} k̂_{c,f}`` is a reduction of ``C``
     products: ``|δp_f| ≤ γ_C Σ_c |â_{c,f}| |k̂_{c,f}|``, which reaches an output by at most
     ``γ_C ‖a‖₂ ‖k‖₂`` (Cauchy–Schwarz again). Here the worst case, not the random-sign
     ``√C``: convspec draws small integers, whose transforms repeat a few values, so every
     channel makes the same rounding error and they add up (float64 FFT on 65,537 channels
     of ±1: ``2550 u ‖a‖₂ ‖k‖₂``, where ``√C = 256``);

   hence ``|δz_i| ≤ (3η + u + γ_C) ‖a‖₂ ‖k‖₂ ≈ (16 log2 L + C) u · ‖a‖₂ ‖k‖₂`` for every
   position ``i``, including the positions whose exact value is 0 (outside a receptive field,
   all-padding windows). Winograd ``F(m, r)`` computes each tile as ``Aᵀ[(G g) ⊙ (Bᵀ d)]``; its error is
   ``O(u ‖Aᵀ‖ ‖G‖ ‖Bᵀ‖ ‖g‖ ‖d‖)`` over the tile (Lavin & Gray 2016; Barabasz et al. 2020), and
   the tile's norms are at most ``‖a‖₂`` and ``‖k‖₂``. The model allows
   ``c_mix · (log2(2 + L) + C / c_mix) · u_acc · ‖a‖₂ ‖k‖₂`` with ``c_mix = 16`` (``L`` the
   number of positions of the padded signal plus the kernel's extent, per axis multiplied;
   ``C`` the products summed per frequency: a group's channels, the batch for a weight
   gradient). By
   Cauchy–Schwarz ``S_i ≤ ‖a‖₂ ‖k‖₂``, so this term also covers reorderings within an output
   map. Comparisons without operands (pooling, and laws that pass no transform scale) keep the
   former elementwise form ``c_mix · log2(2 + K) · u_acc · max(S)``.
3. *Rounding the result* to the output dtype: ``u_out · |y|``. A pipeline may round more
   than once: a convolution rounded to a half type and then its bias added in that type
   (``fp16(fp16(conv) + b)``, a separate bias kernel) errs by
   ``|fp16(c) - c| + |δ_add| ≤ u_out |c| + u_out |fp16(c) + b| ≈ u_out (|c| + |y|)``: the model
   adds ``u_out · |c|`` for the *intermediate* ``c`` (the exact result before the bias), one
   rounding per step a correct pipeline takes.

Half types (float16, bfloat16) are stored with ``u_out = 2^-11`` / ``2^-8`` but accumulated in
float32 (``u_acc = 2^-24``), as cuDNN, oneDNN and the reference do. A *declared reduced
precision* (TF32, bfloat16 or float16 products for float32 data, ``verify --precision
float32=tf32``) rounds the operands before multiplying: each product then carries a relative
error up to ``2 u_in``, of random sign, which the model covers with ``c_in · u_in · S``
(``c_in = 4``). Without a declaration ``u_in = 0``: the operands are already exact in their dtype.

Why this is tight enough: float32 computed through TF32 errs by about ``2^-11 · S / √K``
(rounding of each operand, random signs), against the float32 allowance
``(8√K + 16 log2(2+K)) 2^-24 S``: a typical element errs about 35 times the allowance at
``K = 9``, 6 times at ``K = 64`` and 2 times at ``K = 256``, and the worst of the hundreds of
elements of one output goes further beyond; bfloat16 products err 8 times more than TF32.
``tests/test_tolerance.py`` shows both failing for reduction lengths 10 to 289, and shows
float32 FFT, Winograd ``F(2, 3)``, blocked and reordered summation passing. Longer reductions
are where the model is weakest: there, declare nothing and read the effective precision.

The *effective precision* of one comparison is the ``u`` that would explain the worst observed
error through the accumulation term alone; reported in bits (``-log2 u``) per dtype. The bits
are relative to the model (an honest float32 backend shows about 27 to 30, one that computes
through TF32 about 17 to 19), so compare them between backends and runs, not with the format's
significand width.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

# Unit roundoff 2^-p of each number format and what each storage dtype accumulates in when
# nothing is declared: read from the one table of dtype facts.
from ..spec.dtypes import ACCUMULATE_IN, UNIT_ROUNDOFF
#: Reduced precisions a user may declare for a dtype's products.
DECLARABLE = {"float32": ("tf32", "bfloat16", "float16"), "float64": ("float32",),
              "float16": (), "bfloat16": ()}

C_ACC = 8.0
C_MIX = 16.0
C_IN = 4.0
#: Below this, differences are treated as zero (subnormal flushing is legitimate).
ABS_FLOOR = {"float64": 1e-300, "float32": 1e-37, "float16": 6.2e-5, "bfloat16": 1e-37}


def declared_by_backend(precision: dict[str, str]) -> dict[str, str]:
    """The reduced precisions a backend's capabilities declare, e.g. ``{"float32": "tf32"}``
    from ``precision={"float32": "tf32 (reduced, declared)"}`` (``torch-cuda-tf32``)."""
    declared = {}
    for dtype, text in precision.items():
        match = next((p for p in DECLARABLE.get(dtype, ()) if str(text).startswith(p)), None)
        if match is not None and "declared" in str(text):
            declared[dtype] = match
    return declared


def parse_declarations(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    """Parse ``["float32=tf32", ...]`` into ``{"float32": "tf32"}`` with clear errors."""
    declared: dict[str, str] = {}
    for item in items:
        dtype, sep, precision = item.partition("=")
        if not sep or dtype not in DECLARABLE:
            raise ValueError(
                f"precision declaration {item!r} must look like DTYPE=PRECISION with DTYPE one "
                f"of {sorted(DECLARABLE)}, e.g. float32=tf32"
            )
        if precision not in DECLARABLE[dtype]:
            choices = ", ".join(DECLARABLE[dtype]) or "none"
            raise ValueError(
                f"{dtype} cannot be declared as {precision!r}; reduced precisions for {dtype}: "
                f"{choices}"
            )
        declared[dtype] = precision
    return declared


@dataclass(frozen=True)
class Tolerance:
    """The error model for one storage dtype, optionally with a declared reduced precision."""

    dtype: str
    declared: str | None = None
    #: Multiplies the whole bound: 2 for a metamorphic law whose two sides both carry error.
    slack: float = 1.0

    def __post_init__(self) -> None:
        if self.dtype not in ACCUMULATE_IN:
            raise ValueError(f"no tolerance model for dtype {self.dtype!r}")
        if self.declared is not None:
            parse_declarations([f"{self.dtype}={self.declared}"])

    def scaled(self, slack: float) -> Tolerance:
        """This model with its bound multiplied by ``slack``."""
        return replace(self, slack=self.slack * slack)

    @property
    def u_out(self) -> float:
        return UNIT_ROUNDOFF[self.dtype]

    @property
    def u_acc(self) -> float:
        return UNIT_ROUNDOFF[ACCUMULATE_IN[self.dtype]]

    @property
    def u_in(self) -> float:
        return UNIT_ROUNDOFF[self.declared] if self.declared else 0.0

    def bound(self, expected: np.ndarray, magnitude: np.ndarray, reduction: int,
              transform: np.ndarray | None = None,
              intermediate: np.ndarray | None = None) -> np.ndarray:
        """Allowed ``|actual - expected|`` per element (all float64).

        ``transform``: per element, ``(log2(2 + L) + C / c_mix) · ‖a‖₂ ‖k‖₂`` for the operands feeding it
        (:func:`convspec.verify.conformance.transform_scales`); without it the transform term falls back
        to ``log2(2 + K) · max(S)``. ``intermediate``: ``|c|`` of a result a correct pipeline
        may round to the output dtype before the last step (the convolution before its bias).
        """
        k = max(int(reduction), 1)
        if transform is None:
            scale = float(np.max(magnitude)) if magnitude.size else 0.0
            mixing: Any = math.log2(2 + k) * scale
        else:
            mixing = transform
        rounding = self.u_out * np.abs(expected)
        if intermediate is not None:
            rounding = rounding + self.u_out * np.abs(intermediate)
        return self.slack * (C_IN * self.u_in * magnitude
                + C_ACC * math.sqrt(k) * self.u_acc * magnitude
                + C_MIX * self.u_acc * mixing
                + rounding
                + ABS_FLOOR[self.dtype])

    def effective_unit(self, error: float, magnitude: float, reduction: int) -> float:
        """The unit roundoff that explains ``error`` through the accumulation term alone."""
        denominator = C_ACC * math.sqrt(max(reduction, 1)) * magnitude
        return error / denominator if denominator > 0 else 0.0


@dataclass(frozen=True)
class Comparison:
    """Outcome of comparing a backend's array with the exact one."""

    ok: bool
    worst_index: tuple[int, ...] | None
    actual: float
    expected: float
    error: float
    allowed: float
    effective_bits: float | None
    nonfinite: int

    def describe(self) -> str:
        if self.worst_index is None:
            return "arrays agree"
        where = f"at index {self.worst_index}"
        text = (f"{where}: got {self.actual!r}, expected {self.expected!r}, error {self.error:.3g} "
                f"> allowed {self.allowed:.3g}" if not self.ok else
                f"worst {where}: error {self.error:.3g} <= allowed {self.allowed:.3g}")
        if self.nonfinite:
            text += f"; {self.nonfinite} non-finite values where the exact result is finite"
        return text


def compare(actual: np.ndarray, expected: np.ndarray, magnitude: np.ndarray, reduction: int,
            tolerance: Tolerance, *, transform: np.ndarray | None = None,
            intermediate: np.ndarray | None = None) -> Comparison:
    """Compare ``actual`` (any float dtype) with the exact ``expected`` (float64).

    ``transform`` and ``intermediate`` (broadcast to ``expected``) are those of
    :meth:`Tolerance.bound`. NaN or infinity where the exact value is finite always fails;
    infinities the exact result also has (max pooling over padding) must match exactly.
    """
    got = np.asarray(actual).astype(np.float64)
    want = np.asarray(expected, dtype=np.float64)
    if got.size == 0:
        return Comparison(True, None, 0.0, 0.0, 0.0, 0.0, None, 0)
    finite = np.isfinite(want)
    nonfinite = int(np.count_nonzero(~np.isfinite(got) & finite))
    with np.errstate(invalid="ignore"):
        error = np.where(finite, np.abs(got - want), np.where(got == want, 0.0, np.inf))
    error = np.where(np.isnan(error), np.inf, error)
    if transform is not None:
        transform = np.broadcast_to(np.asarray(transform, dtype=np.float64), want.shape)
    if intermediate is not None:
        intermediate = np.where(finite, np.broadcast_to(
            np.asarray(intermediate, dtype=np.float64), want.shape), 0.0)
    allowed = tolerance.bound(np.where(finite, want, 0.0), np.where(finite, magnitude, 0.0),
                              reduction, transform, intermediate)
    excess = error / allowed
    flat = int(np.argmax(excess))
    index = tuple(int(i) for i in np.unravel_index(flat, got.shape))
    worst_error = float(error[index])
    ok = bool(np.all(error <= allowed))
    finite_errors = np.where(np.isfinite(error) & finite, error, 0.0)
    mag = float(magnitude[np.unravel_index(int(np.argmax(finite_errors)), got.shape)])
    unit = tolerance.effective_unit(float(np.max(finite_errors)), mag, reduction)
    bits = -math.log2(unit) if unit > 0 else None
    return Comparison(ok, index, float(got[index]), float(want[index]), worst_error,
                      float(allowed[index]), bits, nonfinite)
