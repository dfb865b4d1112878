"""Validation: a backend rejects what the specification rejects, and accepts what it accepts.

* Every invalid-geometry kind of every operation, each run, in fixed shapes where a careless
  implementation computes something (:mod:`convspec.verify.strategies.invalid`: input channels
  not matching the weight, ``groups`` not dividing the channels although ``C // groups`` fits
  the weight, an output of size 0 or less, an input of another rank, ``output_padding >=
  max(stride, dilation)``, pooling padding above half the dilated window, a dilated extent
  ``1 + d(k-1)`` past 2^31 that int32 arithmetic wraps to a span the input fits, a ``dy`` of
  another shape; none past the backend's ``max_integer_parameter``), then drawn invalid calls
  of pooling and every vjp (conv's and conv_transpose's are drawn by section B's
  ``test_invalid_geometry_is_rejected``).
* A vjp accepts every geometry its forward accepts.

A rejection must be deliberate (``ValueError``, ``RuntimeError``, ``NotImplementedError`` or
``Capabilities.rejects_with``): returning anything is "accepted an invalid call", another
exception "crashed on an invalid case", and a process that dies or hangs there reads "crashed
(hung) on an invalid case" (:mod:`convspec.verify.watchdog`).

Pooling padding (B9, :class:`convspec.PoolGeometry`): the specification allows padding up to half
the *dilated* window, ``⌊(d(k-1) + 1)/2⌋``, so a dilated window may start in the padding (a valid
case, computed by every pooling property); PyTorch's ``⌊k/2⌋`` of the undilated kernel is
stricter, and a backend with that rule leaves out the ``pool_wide_padding`` feature. Padding
beyond half the dilated window is invalid everywhere.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from convspec.verify.conformance import ConformanceError, call, expect_reference, expect_rejected
from convspec.verify.helpers import first_dtype, require
from convspec.verify.strategies import dtypes
from convspec.verify.strategies.invalid import (excused, fixed_invalid_cases, invalid_cases,
                                                invalid_kinds, runs_on, usable_kinds)

from .test_statelessness import example_call

pytestmark = pytest.mark.section("B")

_IDS = {"conv": ("B1", "B14"), "conv_transpose": ("B10", "B14"), "max_pool": ("B9",),
        "avg_pool": ("B9",), "conv_vjp": ("B1", "F2"), "conv_transpose_vjp": ("B10", "F9"),
        "max_pool_vjp": ("B9", "F6"), "avg_pool_vjp": ("B9", "F6")}


def _params(operations: tuple[str, ...], *, with_forward: bool = False) -> list:
    return [pytest.param(op, id=op, marks=[
        pytest.mark.ops(*((op.removesuffix("_vjp"), op) if with_forward else (op,))),
        pytest.mark.spec(*_IDS[op])]) for op in operations]


def _excuses(operation: str, caps) -> str:
    reasons = [f"{kind}: {why}" for kind in invalid_kinds(operation)
               if (why := excused(operation, kind, caps))]
    return "; left out: " + "; ".join(reasons) if reasons else ""


@pytest.mark.parametrize("operation", _params(tuple(_IDS)))
def test_every_invalid_kind_is_rejected(backend, caps, operation):
    """Each invalid-geometry kind of the operation, in the fixed shapes where a careless
    implementation computes something, raises a deliberate error."""
    require(caps, operation)
    dtype = first_dtype(caps, operation)
    cases = [c for c in fixed_invalid_cases(operation) if runs_on(c, operation, caps)]
    if not cases:
        pytest.skip(f"no fixed invalid case of {operation} is within the backend's ranks, "
                    "features and max_integer_parameter" + _excuses(operation, caps))
    for case in cases:
        expect_rejected(backend, operation, case.arrays(operation, dtype),
                        case.kwargs_for(operation), rule=case.rule)


@pytest.mark.parametrize("operation", _params(("max_pool", "avg_pool", "conv_vjp",
                                               "conv_transpose_vjp", "max_pool_vjp",
                                               "avg_pool_vjp")))
@given(data=st.data())
def test_drawn_invalid_calls_are_rejected(backend, caps, data, operation):
    """Invalid calls drawn around valid ones (every kind the backend's features allow) raise a
    deliberate error."""
    require(caps, operation)
    kinds = usable_kinds(operation, caps)
    if not kinds:
        pytest.skip(f"no invalid kind of {operation} is asked of the backend"
                    + _excuses(operation, caps))
    case = data.draw(invalid_cases(operation, capabilities=caps, kinds=kinds),
                     label="invalid case")
    dtype = data.draw(dtypes(caps), label="dtype")
    expect_rejected(backend, operation, case.arrays(operation, dtype),
                    case.kwargs_for(operation), rule=case.rule)


@pytest.mark.parametrize("operation", _params(("conv_vjp", "conv_transpose_vjp",
                                               "max_pool_vjp", "avg_pool_vjp"),
                                              with_forward=True))
@given(data=st.data())
def test_vjp_accepts_every_geometry_its_forward_accepts(backend, caps, tolerance, data,
                                                         operation):
    """Where the forward operation computes a case, its vjp computes the gradients too (and
    they agree with the specification): a gradient that refuses a geometry its forward
    accepts is a hole a training run falls into."""
    forward = operation.removesuffix("_vjp")
    require(caps, forward, operation)
    arrays, kwargs, _, dtype = example_call(data, caps, operation)
    y = call(backend, forward, *arrays[:-1], **kwargs)
    try:
        expect_reference(backend, operation, arrays, kwargs, tolerance(dtype))
    except ConformanceError as err:
        if err.kind != "refused":
            raise
        raise ConformanceError(
            f"{forward} returned y of shape {getattr(y, 'shape', '?')} on this case, but "
            f"{err.reason}", call=err.call, ids=err.ids, kind=err.kind) from err
