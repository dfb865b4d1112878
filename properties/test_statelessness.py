"""Statelessness: a backend's answer depends on its call, never on the calls before it.

Per operation, each example makes four calls: A; A again (a buffer not zeroed between calls of
one shape, such as a weight gradient accumulated into the previous one, shows here); B, another
geometry whose arrays have exactly A's shapes (a plan, workspace or algorithm choice cached by
the shapes alone gives B A's geometry); and A once more. A and B are judged against the
specification. The repeats of A must equal its first result bit for bit on a CPU backend, where
every correct algorithm, direct or transform, is deterministic. On other devices a correct
backend may differ between calls by rounding (atomic additions in gradient and pooling-backward
kernels, an autotuned algorithm choice), so each repeat is judged against the specification
instead: a stale gradient or another geometry's result is still far outside that tolerance.

Every example runs the whole sequence and almost every drawn case has another geometry of its
shapes, so a third of the profile's examples (:data:`EXAMPLES`) reach these bugs at a third of
the cost (four backend calls per example), and the strategies' threshold shares (batches and
channels past 2^16, parameters near 2^31) are left out: state is keyed by shapes, not sizes,
and a batch of 65,537 cost 16 s of the four calls and two reference results.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convspec import ConvGeometry, PoolGeometry, GeometryError
from convspec.spec.dtypes import seeded_tensor
from convspec.spec.sizes import conv_output_size, pool_output_size, transposed_output_size
from convspec.verify.conformance import (OUTPUTS, ConformanceError, call, expect_reference,
                                         unsupported_reason)
from convspec.verify.helpers import (assert_array_equal, assert_equal, assert_true, call_of,
                                     require)
from convspec.verify.strategies import conv_examples, pool_examples

pytestmark = pytest.mark.section("A")

#: A third of the profile's examples (the loaded profile, scaled by the backend's
#: ``example_fraction``, is Hypothesis' default when this module is collected).
EXAMPLES = max(2, -(-settings.default.max_examples // 3))

OPERATIONS = [
    pytest.param(op, marks=[pytest.mark.ops(op), pytest.mark.spec(*ids)], id=op)
    for op, ids in (("conv", ("A3",)), ("conv_transpose", ("B10",)),
                    ("conv_vjp", ("F1", "F2")), ("conv_transpose_vjp", ("F9",)),
                    ("max_pool", ("G1",)), ("avg_pool", ("G1",)),
                    ("max_pool_vjp", ("F6",)), ("avg_pool_vjp", ("F6",)))
]


def _with(values: tuple, axis: int, value: Any) -> tuple:
    return values[:axis] + (value,) + values[axis + 1:]


def _reads(geometry: ConvGeometry | PoolGeometry, axis: int, n: int) -> tuple:
    """What the outputs read on one axis (the input positions of their taps or windows): the
    first and last :data:`_ENDS` outputs, where another stride, padding or dilation shows (the
    outputs between are translations of their neighbours)."""
    line = dataclasses.replace(geometry, **{f: (getattr(geometry, f)[axis],) for f in
                                            _AXIS_FIELDS[type(geometry)]})
    m = line.output_spatial((n,))[0]
    ends = range(m) if m <= 2 * _ENDS else (*range(_ENDS), *range(m - _ENDS, m))
    return tuple(line.input_positions((o,), (n,))[0] for o in ends)


_ENDS = 8


_AXIS_FIELDS = {ConvGeometry: ("kernel", "stride", "padding", "dilation", "output_padding"),
                PoolGeometry: ("kernel", "stride", "padding", "dilation")}


def _conv_axis_variants(g: ConvGeometry, axis: int, n: int, caps: Any) -> Iterator[dict]:
    """Other (stride, padding, dilation, output_padding) of one axis with the same output size,
    within the strategies' bounds (padding at most the dilated kernel less one per side)."""
    feat = caps.features
    k, s0, d0 = g.kernel[axis], g.stride[axis], g.dilation[axis]
    (b0, a0), op0 = g.padding[axis], g.output_padding[axis]
    dilation_ok = ("transposed_dilation" if g.transposed else "conv_dilation") in feat
    size = (transposed_output_size(n, k, stride=s0, padding=b0, dilation=d0, output_padding=op0)
            if g.transposed else conv_output_size(n, k, stride=s0, padding=(b0, a0), dilation=d0))
    for s in range(1, 4):
        for d in (range(1, 4) if dilation_ok else (d0,)):
            limit = d * (k - 1)
            for before in range(max(0, b0 - 2), min(limit, b0 + 2) + 1):
                asym = "asymmetric_padding" in feat and not g.transposed
                for after in (range(max(0, a0 - 2), min(limit, a0 + 2) + 1) if asym
                              else (before,)):
                    ops = (range(max(s, d)) if g.transposed and "output_padding" in feat
                           else (0,))
                    for op in ops:
                        try:
                            got = (transposed_output_size(n, k, stride=s, padding=before,
                                                          dilation=d, output_padding=op)
                                   if g.transposed else
                                   conv_output_size(n, k, stride=s, padding=(before, after),
                                                    dilation=d))
                        except GeometryError:
                            continue
                        if got == size:
                            yield {"stride": s, "padding": (before, after), "dilation": d,
                                   "output_padding": op}


def _pool_axis_variants(g: PoolGeometry, axis: int, n: int, caps: Any,
                        operation: str) -> Iterator[dict]:
    """Other (kernel, stride, padding, dilation) of one pooling axis with the same output
    size (the kernel is not an array's shape in pooling)."""
    feat = caps.features
    dilation_ok = operation.startswith("max_pool") and "pool_dilation" in feat
    size = pool_output_size(n, g.kernel[axis], stride=g.stride[axis],
                            padding=g.padding[axis], dilation=g.dilation[axis],
                            ceil_mode=g.ceil_mode)
    for k in range(1, 5):
        for s in range(1, 4):
            for d in (range(1, 4) if dilation_ok else (g.dilation[axis],)):
                wide = "pool_wide_padding" in feat
                top = ((d * (k - 1) + 1) // 2 if wide else k // 2) if "pool_padding" in feat else 0
                for p in range(top + 1):
                    try:
                        got = pool_output_size(n, k, stride=s, padding=p, dilation=d,
                                               ceil_mode=g.ceil_mode)
                    except GeometryError:
                        continue
                    if got == size:
                        yield {"kernel": k, "stride": s, "padding": p, "dilation": d}


def _alternatives(g: ConvGeometry | PoolGeometry, axis: int, spatial: tuple[int, ...],
                  caps: Any, operation: str) -> list[ConvGeometry | PoolGeometry]:
    """Geometries that differ from ``g`` on ``axis`` only, in what some output reads, and
    give the same output shape on an input of ``spatial``."""
    n = spatial[axis]
    variants = (_conv_axis_variants(g, axis, n, caps) if isinstance(g, ConvGeometry)
                else _pool_axis_variants(g, axis, n, caps, operation))
    found = []
    for variant in variants:
        changes = {f: _with(getattr(g, f), axis, v) for f, v in variant.items()}
        if isinstance(g, ConvGeometry) and not g.transposed:
            changes.pop("output_padding")
        other = dataclasses.replace(g, **changes)
        if other != g:
            found.append(other)
    return found


def _kwargs(geometry: ConvGeometry | PoolGeometry, operation: str) -> dict:
    if isinstance(geometry, ConvGeometry):
        return geometry.kwargs()
    return (geometry.max_pool_kwargs() if operation.startswith("max_pool")
            else geometry.avg_pool_kwargs())


def _other_geometry(data: st.DataObject, backend: Any, caps: Any, operation: str,
                    geometry: ConvGeometry | PoolGeometry, arrays: tuple) -> dict | None:
    """The keyword arguments of B: another geometry with the same array shapes that computes
    another function, on the first axis (from a drawn one on) that has one the backend
    supports; ``None`` if no axis has. An axis whose outputs read only padding makes every
    output read nothing, so then only that axis may change."""
    spatial = arrays[0].shape[2:]
    reads = [_reads(geometry, axis, n) for axis, n in enumerate(spatial)]
    blank = [axis for axis, r in enumerate(reads) if not any(r)]
    start = data.draw(st.integers(0, geometry.ndim - 1), label="axis")
    axes = [*range(start, geometry.ndim), *range(start)]
    for axis in (axes if not blank else blank if len(blank) == 1 else ()):
        candidates = _alternatives(geometry, axis, spatial, caps, operation)
        for other in data.draw(st.permutations(candidates), label=f"geometries of axis {axis}"):
            kwargs = _kwargs(other, operation)
            if (_reads(other, axis, spatial[axis]) != reads[axis]
                    and unsupported_reason(backend, call_of(operation, *arrays, **kwargs)) is None):
                return kwargs
    return None


def example_call(data: st.DataObject, caps: Any, operation: str, *,
                 shares: bool = True) -> tuple:
    """An example of ``operation``: its arrays, keyword arguments, geometry and dtype.
    ``shares``: the strategies' designed shares (remainders, thresholds past 2^16 and near
    2^31) among them."""
    forward = operation.removesuffix("_vjp")
    vjp = operation != forward
    if forward.startswith("conv"):
        ex = data.draw(conv_examples(caps, transposed=forward == "conv_transpose",
                                     real_layers=False, shares=shares), label="example")
        arrays = (ex.x, ex.w, ex.b, ex.dy) if vjp else (ex.x, ex.w, ex.b)
        return arrays, ex.kwargs, ex.geometry, ex.dtype
    elements = "distinct" if operation == "max_pool_vjp" else "integer"
    ex = data.draw(pool_examples(caps, operation=forward, elements=elements, shares=shares),
                   label="example")
    arrays = (ex.x, ex.dy) if vjp else (ex.x,)
    return arrays, _kwargs(ex.geometry, forward), ex.geometry, ex.dtype


def nowhere_zero(data: st.DataObject, arrays: tuple, dtype: str, *, keep: int = 0) -> tuple:
    """``arrays`` (after the first ``keep``) replaced by seeded integers of their shapes, none of
    them zero, within the dtype's exact range. State shows only in a result it changes: with
    the zero arrays Hypothesis draws first, every call returns zeros, and a stale buffer or
    another geometry's plan adds or reads nothing (4 examples missed a stale gradient buffer)."""
    seed = data.draw(st.integers(0, 2 ** 32 - 1), label="values seed")
    replaced = list(arrays[:keep])
    for i, a in enumerate(arrays[keep:]):
        if a is None:
            replaced.append(None)
            continue
        values = seeded_tensor(seed + i, a.shape, dtype, "integer").astype(np.float64)
        replaced.append(np.where(values == 0, 1.0, values).astype(a.dtype))
    return tuple(replaced)


@contextmanager
def _during(what: str | None) -> Iterator[None]:
    """Mark a finding as found by a sequence of calls (``stateful``: only a rerun of the whole
    property replays it) and prefix it with the step it came from (``what``, unless ``None``:
    the finding names it)."""
    try:
        yield
    except ConformanceError as err:
        reason = err.reason if what is None else f"{what}: {err.reason}"
        raise ConformanceError(reason, call=err.call, comparison=err.comparison, ids=err.ids,
                               details=err.details, kind=err.kind, stateful=True) from err


def _as_tuple(value: Any) -> tuple:
    return value if isinstance(value, tuple) else (value,)


def _again(backend: Any, operation: str, arrays: tuple, kwargs: dict, first: tuple,
           tolerance: Any, exact: bool, what: str) -> None:
    """Call A again: bit for bit its first result (``exact``), else within the tolerance."""
    if not exact:
        with _during(what):
            expect_reference(backend, operation, arrays, kwargs, tolerance)
        return
    record = call_of(operation, *arrays, **kwargs)
    with _during(None):
        again = _as_tuple(call(backend, operation, *arrays, **kwargs))
        names = OUTPUTS.get(operation, ("y",))
        assert_equal(f"{what}: the number of results", len(again), len(names), call=record)
        for name, was, now in zip(names, first, again):
            if was is None:
                assert_true(now is None, f"{what}: {name}={type(now).__name__}, but should be "
                            "None (a call without bias)", call=record)
                continue
            assert_array_equal(f"{what}: {name}", np.asarray(now), was, call=record)


@pytest.mark.parametrize("operation", OPERATIONS)
@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_repeated_and_interleaved_calls_agree(backend, caps, tolerance, data, operation):
    """Calling A, A again, B (another geometry of the same shapes), then A again: A and B agree
    with the specification, and the repeats of A return A's first result (bit for bit on a
    CPU)."""
    require(caps, operation)
    arrays, kwargs, geometry, dtype = example_call(data, caps, operation, shares=False)
    distinct = 1 if operation == "max_pool_vjp" else 0  # its x: distinct values, one arg-max
    arrays = nowhere_zero(data, arrays, dtype, keep=distinct)
    tol = tolerance(dtype)
    other = _other_geometry(data, backend, caps, operation, geometry, arrays)
    other_arrays = arrays
    if other is None:  # no other geometry has these shapes: the same one on other values
        other = kwargs
        other_arrays = nowhere_zero(data, arrays, dtype, keep=distinct)
    changed = {k: v for k, v in other.items() if v != kwargs[k]} or "other values"
    exact = all(device == "cpu" for device in caps.devices)
    with _during("the first call"):
        first = expect_reference(backend, operation, arrays, kwargs, tol)
    _again(backend, operation, arrays, kwargs, first, tol, exact,
           f"{operation} called twice, the second time")
    with _during(f"after the first call, a call of the same shapes with {changed}"):
        expect_reference(backend, operation, other_arrays, other, tol)
    _again(backend, operation, arrays, kwargs, first, tol, exact,
           f"{operation} called again after a call of the same shapes with {changed}")
