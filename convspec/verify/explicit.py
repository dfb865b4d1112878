"""Cases chosen by design, not drawn: run one after the other against the backend.

The external suites' cases (:mod:`convspec.verify.external`) and the covering design
(:mod:`convspec.verify.covering`) are lists of :class:`ExplicitCase`: a geometry, an input shape
and where the case comes from. :func:`run_cases` runs every case the backend's capabilities
allow through :func:`convspec.verify.conformance.expect_reference` (so a failure reads, and
replays, as any property's does), skips the others with the reason and counts them. Arrays are
regenerated from the case's seed (:func:`convspec.spec.dtypes.seeded_tensor`): uniform values
in [-1, 1]; for ``max_pool_vjp`` distinct integers, so that every window's arg-max is unique; and
for the pooling gradients integer cotangents (as the drawn pooling examples have), whose sums
are exact in every dtype.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import ml_dtypes
import numpy as np
import pytest

from ..backends.protocol import Capabilities
from ..spec.dtypes import numpy_dtype, seeded_tensor
from ..spec.geometry import ConvGeometry, PoolGeometry, volume
from .conformance import ConformanceError, expect_reference
from .layouts import as_layout
from .tolerance import Tolerance

#: Dtypes tried for a case, after the dtype its source used: float32 first (what most
#: kernels are written for), then float64 and the half types.
DTYPE_PREFERENCE = ("float32", "float64", "float16", "bfloat16")

#: Section and inventory IDs of each operation's explicit cases: those of the property that
#: checks the operation on drawn examples (A3 ``conv``, F8 ``conv_transpose``, G1 pooling,
#: F1-F6 the vjps).
MARKS: dict[str, tuple[str, tuple[str, ...]]] = {
    "conv": ("A", ("A3", "A6", "A7", "B1", "B14")),
    "conv_transpose": ("F", ("F8", "F9", "B10", "D8")),
    "max_pool": ("G", ("G1", "G2", "B9")),
    "avg_pool": ("G", ("G1", "G2", "B9")),
    "conv_vjp": ("F", ("F1", "F2", "F3", "F4")),
    "conv_transpose_vjp": ("F", ("F8", "F9")),
    "max_pool_vjp": ("F", ("F6", "G1")),
    "avg_pool_vjp": ("F", ("F6", "G1")),
}


def operation_params() -> list[Any]:
    """One ``pytest.param`` per protocol operation, carrying the property markers (``section``,
    ``spec``, ``ops``) of :data:`MARKS`: a property parametrized with them is one property per
    operation for ``--section``, ``--operation`` and the reports."""
    return [pytest.param(op, id=op, marks=[pytest.mark.section(section),
                                           pytest.mark.spec(*ids), pytest.mark.ops(op)])
            for op, (section, ids) in MARKS.items()]


@dataclass(frozen=True)
class ExplicitCase:
    """One call chosen by design: its geometry, its input shape ``(N, C, *spatial)``, where it
    comes from (``source``), the dtype its source used (tried first; ``None``: none), the
    seed of its arrays and their memory layout (``None``: the array contract's C-contiguous
    copies; else one of :data:`convspec.verify.layouts.LAYOUTS`, every array a view in it)."""

    geometry: ConvGeometry | PoolGeometry
    input_shape: tuple[int, ...]
    source: str
    dtype: str | None = None
    seed: int = 0
    layout: str | None = None

    @property
    def batch(self) -> int:
        return self.input_shape[0]

    @property
    def spatial(self) -> tuple[int, ...]:
        return tuple(self.input_shape[2:])

    @property
    def elements(self) -> int:
        return volume(self.input_shape)


def family(operation: str) -> str:
    """The forward operation whose geometry a protocol operation takes (``conv_vjp``: conv)."""
    return operation.removesuffix("_vjp")


def call_kwargs(geometry: ConvGeometry | PoolGeometry, operation: str) -> dict[str, Any]:
    """The protocol's keyword arguments of ``operation`` for ``geometry``."""
    forward = family(operation)
    if isinstance(geometry, ConvGeometry):
        return geometry.kwargs()
    return geometry.max_pool_kwargs() if forward == "max_pool" else geometry.avg_pool_kwargs()


def _exact_integers(dtype: str) -> int:
    """Largest integer up to which every integer is exact in ``dtype``."""
    return 2 ** (ml_dtypes.finfo(numpy_dtype(dtype)).nmant + 1)


def _fits(case: ExplicitCase, operation: str, dtype: str) -> bool:
    """Whether the case's arrays can be built in ``dtype`` (distinct max-pooling inputs need
    as many exact integers as elements)."""
    return operation != "max_pool_vjp" or case.elements <= 2 * _exact_integers(dtype)


def choose_dtype(caps: Capabilities, case: ExplicitCase,
                 operation: str) -> tuple[str | None, str | None]:
    """``(dtype, None)``: the first dtype (the source's, then :data:`DTYPE_PREFERENCE`) in
    which the backend runs the case; ``(None, reason)`` when there is none, the reason being
    the first of a dtype the operation has (the case's own gap, not a missing dtype)."""
    order = dict.fromkeys(([case.dtype] if case.dtype else []) + list(DTYPE_PREFERENCE))
    reasons = []
    for dtype in order:
        reason = caps.case_skip_reason(operation, dtype, case.geometry, batch=case.batch,
                                       spatial=case.spatial)
        if reason is None and not _fits(case, operation, dtype):
            reason = (f"more input elements than {dtype} has distinct exact values "
                      f"({2 * _exact_integers(dtype)}; max_pool_vjp needs a unique arg-max "
                      "per window)")
        if reason is None:
            return dtype, None
        reasons.append((caps.skip_reason(operation, dtype) is not None, reason))
    return None, min(reasons, key=lambda r: r[0])[1]


def case_arrays(case: ExplicitCase, operation: str,
                dtype: str) -> tuple[np.ndarray | None, ...]:
    """The positional arrays of ``operation`` on the case, regenerated from its seed, in its
    layout."""
    arrays = _contiguous_arrays(case, operation, dtype)
    if case.layout is None:
        return arrays
    return tuple(as_layout(a, case.layout) for a in arrays)


def _contiguous_arrays(case: ExplicitCase, operation: str,
                       dtype: str) -> tuple[np.ndarray | None, ...]:
    g = case.geometry

    def real(offset: int, shape: Sequence[int]) -> np.ndarray:
        return seeded_tensor(case.seed + offset, shape, dtype, "real")

    if operation == "max_pool_vjp":
        values = np.random.default_rng(case.seed).permutation(case.elements) - case.elements // 2
        x = values.reshape(case.input_shape).astype(numpy_dtype(dtype))
    else:
        x = real(0, case.input_shape)
    if isinstance(g, PoolGeometry):
        if operation.endswith("_vjp"):  # integer cotangents, as the drawn pooling examples'
            return x, seeded_tensor(case.seed + 3, g.output_shape(case.input_shape), dtype,
                                    "integer")
        return (x,)
    w = real(1, g.weight_shape)
    b = real(2, g.bias_shape) if g.bias else None
    if operation.endswith("_vjp"):
        return x, w, b, real(3, g.output_shape(case.input_shape))
    return x, w, b


@dataclass
class Tally:
    """What :func:`run_cases` did: cases run, skipped (reason -> count), left out of the
    backend's share of examples, and the failures (case, error)."""

    total: int = 0
    run: int = 0
    skipped: Counter = field(default_factory=Counter)
    failures: list[tuple[ExplicitCase, ConformanceError]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (``cases`` of the property's entry in ``verify --json``)."""
        return {"total": self.total, "run": self.run, "failed": len(self.failures),
                "skipped": dict(self.skipped.most_common())}

    def error(self, what: str) -> ConformanceError:
        """The first failure, naming its case and how many others failed."""
        case, first = self.failures[0]
        others = [c.source for c, _ in self.failures[1:4]]
        more = len(self.failures) - 1 - len(others)
        also = (f"; {len(self.failures)} of {self.run} {what} cases fail, also "
                + "; ".join(others) + (f" and {more} more" if more > 0 else "")
                if others else f"; 1 of {self.run} {what} cases fails")
        return ConformanceError(f"{first.reason} on {what} case {case.source}{also}",
                                call=first.call, comparison=first.comparison, ids=first.ids,
                                details=first.details, kind=first.kind)


def share(cases: Sequence[ExplicitCase], fraction: float) -> list[ExplicitCase]:
    """An evenly spread ``fraction`` of ``cases`` (at least one), in order."""
    if fraction >= 1 or not cases:
        return list(cases)
    return [c for i, c in enumerate(cases)
            if math.floor(i * fraction) != math.floor((i + 1) * fraction)] or [cases[0]]


def run_cases(backend: Any, caps: Capabilities, tolerance: Callable[[str], Tolerance],
              operation: str, cases: Sequence[ExplicitCase], *, what: str,
              record: Callable[[str, Any], None] | None = None,
              scaled: bool = False) -> Tally:
    """Run ``operation`` on every case the backend supports and compare with the reference.

    ``scaled``: a backend that runs a share of the profile's examples
    (``Capabilities.example_fraction``) runs that share of the cases, evenly spread; the rest
    count as skipped, with its reason.

    Raises the first failure's :class:`ConformanceError` (naming the case, and counting the
    others) once every case has run; skips the property (``pytest.skip``) with the commonest
    reason when no case can run. ``record(name, value)`` (pytest's ``record_property``) gets
    the :class:`Tally` as ``convspec_cases`` for the run's summary and JSON.
    """
    tally = Tally(total=len(cases))
    kept = share(cases, caps.example_fraction) if scaled else list(cases)
    if len(kept) < len(cases):
        why = caps.reasons.get("example_fraction", "declared by the backend")
        tally.skipped[f"left out: the backend runs {caps.example_fraction:g} of the "
                      f"profile's examples ({why})"] = len(cases) - len(kept)
    try:
        for case in kept:
            dtype, reason = choose_dtype(caps, case, operation)
            if dtype is None:
                tally.skipped[reason] += 1
                continue
            tally.run += 1
            try:
                expect_reference(backend, operation, case_arrays(case, operation, dtype),
                                 call_kwargs(case.geometry, operation), tolerance(dtype),
                                 as_given=case.layout is not None)
            except ConformanceError as exc:
                tally.failures.append((case, exc))
    finally:
        if record is not None:
            record("convspec_cases", tally.as_dict())
    if tally.failures:
        raise tally.error(what)
    if not tally.run:
        reason, count = tally.skipped.most_common(1)[0] if tally.skipped else ("no cases", 0)
        pytest.skip(f"none of the {tally.total} {what} cases of {operation} runs on this "
                    f"backend ({count} skipped: {reason})")
    return tally
