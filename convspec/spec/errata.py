"""The notes' wrong statements, each with a counterexample (inventory errata B7, E2, C7).

Each :class:`Erratum` states an equation twice: as the notes write it (``literal_form``) and as
the spec implements it (``corrected_form``). Each form maps the counterexample's arguments to
the two sides ``(lhs, rhs)`` of its equation; :meth:`Erratum.check` evaluates both on the
counterexample and reports whether each side pair agrees. The literal form fails there and the
corrected one holds. The left-hand sides are measured, not derived from the corrected formula:
the dilated kernel is built tap by tap, the bias count is asked of
:func:`convspec.spec.counts.conv_params`, and the wide correlations are computed by
:mod:`convspec.reference`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from .counts import conv_params


@dataclass(frozen=True)
class ErratumCheck:
    """Both forms evaluated on the counterexample: their ``(lhs, rhs)`` and whether they agree."""

    literal: tuple[Any, Any]
    corrected: tuple[Any, Any]

    @property
    def literal_holds(self) -> bool:
        return _same(*self.literal)

    @property
    def corrected_holds(self) -> bool:
        return _same(*self.corrected)


def _same(lhs: Any, rhs: Any) -> bool:
    if isinstance(lhs, np.ndarray) or isinstance(rhs, np.ndarray):
        lhs, rhs = np.asarray(lhs), np.asarray(rhs)
        return lhs.shape == rhs.shape and bool(np.array_equal(lhs, rhs))
    return lhs == rhs


@dataclass(frozen=True)
class Erratum:
    """One wrong statement of the notes, its correction and a counterexample."""

    id: str
    seed: str
    statement_zh: str
    statement_en: str
    correction: str
    literal_form: Callable[..., tuple[Any, Any]]
    corrected_form: Callable[..., tuple[Any, Any]]
    counterexample: Mapping[str, Any] = field(default_factory=dict)
    sides: str = "lhs vs rhs"

    def check(self) -> ErratumCheck:
        return ErratumCheck(literal=self.literal_form(**self.counterexample),
                            corrected=self.corrected_form(**self.counterexample))


# -- B7: the size of a dilated kernel --------------------------------------------------------

def dilated_kernel(kernel: np.ndarray, holes: int) -> np.ndarray:
    """A 2-D kernel with ``holes`` zeros inserted between taps, tap ``(m, n)`` placed at
    ``(m(d+1), n(d+1))`` as in the notes' index formula (B8, seed 000; E14)."""
    kernel = np.asarray(kernel)
    rate = holes + 1
    rows, cols = ((size - 1) * rate + 1 for size in kernel.shape)
    out = np.zeros((rows, cols), dtype=kernel.dtype)
    for (m, n), value in np.ndenumerate(kernel):
        out[m * rate, n * rate] = value
    return out


def _dilated_facts(size: int, holes: int) -> tuple[int, bool]:
    """Measured span and whether the border rows/columns are all zero, for a dense kernel."""
    built = dilated_kernel(np.arange(1, size * size + 1).reshape(size, size), holes)
    border = np.concatenate([built[0], built[-1], built[:, 0], built[:, -1]])
    return built.shape[0], bool(not border.any())


def _b7_literal(size: int, holes: int) -> tuple[Any, Any]:
    return _dilated_facts(size, holes), ((holes + 1) * size + 1, True)


def _b7_corrected(size: int, holes: int) -> tuple[Any, Any]:
    return _dilated_facts(size, holes), ((holes + 1) * (size - 1) + 1, False)


# -- E2: commutativity of the wide correlation -----------------------------------------------

def _e2_literal(w: np.ndarray, x: np.ndarray) -> tuple[Any, Any]:
    from ..reference import wide_correlate
    return wide_correlate(w, x), wide_correlate(x, w)


def _e2_corrected(w: np.ndarray, x: np.ndarray) -> tuple[Any, Any]:
    from ..reference import rot180, wide_correlate
    return wide_correlate(rot180(w), x), wide_correlate(rot180(x), w)


# -- C7: parameters of two stacked 3×3 layers ------------------------------------------------

def _stacked_params(layers: int, kernel: int) -> int:
    """Parameters of ``layers`` stacked single-channel ``kernel×kernel`` layers, biases included."""
    return layers * conv_params(1, 1, kernel)


def _c7_literal(layers: int, kernel: int) -> tuple[Any, Any]:
    return _stacked_params(layers, kernel), kernel * kernel * layers + 1


def _c7_corrected(layers: int, kernel: int) -> tuple[Any, Any]:
    return _stacked_params(layers, kernel), kernel * kernel * layers + layers


ERRATA: tuple[Erratum, ...] = (
    Erratum(
        id="B7", seed="000",
        statement_zh=("它实际上等价于一个卷积核为(d+1)×K+1的新的卷积核，其中K为当前卷积核的大小。"
                      "新的卷积核的特点是：每隔d个位置，权重非零；否则权重为零。"
                      "另外首行、首列、尾行、尾列权重均为零。"),
        statement_en=("It is in fact equivalent to a new kernel of size (d+1)×K+1, K the current "
                      "kernel size. The new kernel is non-zero every d positions and zero "
                      "elsewhere; its first row, first column, last row and last column are zero."),
        correction=("The span is (d+1)(K-1)+1 = m + (m-1)(rate-1) with rate d+1 (B7), and the "
                    "border rows and columns hold the kernel's corner taps, which are non-zero."),
        literal_form=_b7_literal, corrected_form=_b7_corrected,
        counterexample=MappingProxyType({"size": 3, "holes": 1}),
        sides="(span, border rows/columns all zero) of the built kernel vs the statement's",
    ),
    Erratum(
        id="E2", seed="000",
        statement_zh="宽卷积具有交换性，即 W ~⊗ X = X ~⊗ W。",
        statement_en="Wide convolution commutes: W ~⊗ X = X ~⊗ W.",
        correction=("For cross-correlation the two sides are rot180 of each other; what "
                    "commutes is rot180(W) ~⊗ X = rot180(X) ~⊗ W (seed 002), i.e. true "
                    "convolution."),
        literal_form=_e2_literal, corrected_form=_e2_corrected,
        counterexample=MappingProxyType({"w": np.array([[1.0, 2.0], [3.0, 4.0]]),
                                         "x": np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 5.0]])}),
        sides="left side vs right side of the equation",
    ),
    Erratum(
        id="C7", seed="004",
        statement_zh="利用2个3×3卷积核的组合比1个5×5卷积核的效果更佳，同时参数量（3×3×2+1 VS 5×5×1+1）被降低",
        statement_en=("Two stacked 3×3 kernels work better than one 5×5 with fewer parameters "
                      "(3×3×2+1 vs 5×5×1+1)."),
        correction=("Each of the two layers has its own bias: 3×3×2+2 = 20 against 5×5+1 = 26 "
                    "(the conclusion, fewer parameters, stands)."),
        literal_form=_c7_literal, corrected_form=_c7_corrected,
        counterexample=MappingProxyType({"layers": 2, "kernel": 3}),
        sides="parameters counted layer by layer vs the statement's count",
    ),
)


def erratum(inventory_id: str) -> Erratum:
    """The erratum recorded for an inventory ID (``"B7"``, ``"E2"``, ``"C7"``)."""
    for item in ERRATA:
        if item.id == inventory_id:
            return item
    raise KeyError(f"no erratum for {inventory_id!r}; known: {', '.join(e.id for e in ERRATA)}")
