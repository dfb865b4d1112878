"""The array contract: a backend reads an array's values, whatever its memory layout.

Every other property hands a backend C-contiguous, writeable, positively strided copies
(:func:`convspec.verify.conformance.contract_copy`, the contract of
:mod:`convspec.backends.protocol`). These hand the same cases as views
(:data:`convspec.verify.layouts.LAYOUTS`): sliced with a step, transposed in memory,
negatively strided, offset inside a larger buffer, Fortran-ordered; a backend that reads a view
as if it were contiguous (pytorch #192212: non-contiguous weights read in storage order)
returns other values and fails here, under its own name. A backend that declares
``accepts_views=False`` is skipped. Results are judged against the specification, as everywhere
else.

Two properties per operation: the covering design's cases with every array in each layout in
turn (by design: every layout reaches every argument, whatever Hypothesis draws), and drawn
examples with a layout drawn per argument (mixed layouts, other shapes and dtypes; without the
strategies' threshold shares, batches and channels past 2^16: a layout is read the same at any
size, and such a counterexample takes the whole shrinking time).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from convspec.verify import covering
from convspec.verify.conformance import expect_reference
from convspec.verify.explicit import run_cases
from convspec.verify.helpers import assert_array_equal, require
from convspec.verify.layouts import LAYOUTS, as_layout
from convspec.verify.strategies import Strategies

pytestmark = pytest.mark.section("A")

def _views(data: st.DataObject, arrays: tuple[np.ndarray | None, ...]
           ) -> tuple[np.ndarray | None, ...]:
    layouts = data.draw(st.tuples(*(st.sampled_from(LAYOUTS) for _ in arrays)), label="layouts")
    views = tuple(as_layout(a, layout) for a, layout in zip(arrays, layouts))
    for a, v, layout in zip(arrays, views, layouts):
        if a is not None:
            assert_array_equal(f"as_layout(a, {layout!r})", v, a, call=f"a of shape {a.shape}")
    return views


CONV_OPERATIONS = [
    pytest.param(op, marks=[pytest.mark.ops(op), pytest.mark.spec(*ids)], id=op)
    for op, ids in (("conv", ("A3",)), ("conv_transpose", ("B10",)),
                    ("conv_vjp", ("F1", "F2")), ("conv_transpose_vjp", ("F9",)))
]
POOL_OPERATIONS = [
    pytest.param(op, marks=[pytest.mark.ops(op), pytest.mark.spec(*ids)], id=op)
    for op, ids in (("max_pool", ("G1",)), ("avg_pool", ("G1",)),
                    ("max_pool_vjp", ("F6",)), ("avg_pool_vjp", ("F6",)))
]


@pytest.mark.parametrize("operation", CONV_OPERATIONS + POOL_OPERATIONS)
def test_layout_covering_cases_read_as_their_values(backend, caps, tolerance, record_property,
                                                    operation):
    """Every covering case of ``operation``, with every array a view in each layout in turn,
    agrees with the specification."""
    require(caps, operation, views=True)
    cases = [replace(case, layout=layout, source=f"{case.source}, every array {layout}")
             for layout in LAYOUTS for case in covering.design(caps, operation)]
    run_cases(backend, caps, tolerance, operation, cases, what="layout", record=record_property)


@pytest.mark.parametrize("operation", CONV_OPERATIONS)
@given(data=st.data())
def test_layout_conv_views_read_as_their_values(backend, caps, tolerance, data, operation):
    """A convolution of views (any layout, per argument) agrees with the specification."""
    require(caps, operation, views=True)
    transposed = operation.startswith("conv_transpose")
    draw = Strategies(caps)
    ex = data.draw(draw.conv_examples(transposed=transposed, real_layers=True, shares=False),
                   label="example")
    arrays = (ex.x, ex.w, ex.b, ex.dy) if operation.endswith("_vjp") else (ex.x, ex.w, ex.b)
    expect_reference(backend, operation, _views(data, arrays), ex.kwargs, tolerance(ex.dtype),
                     as_given=True)


@pytest.mark.parametrize("operation", POOL_OPERATIONS)
@given(data=st.data())
def test_layout_pool_views_read_as_their_values(backend, caps, tolerance, data, operation):
    """Pooling (and its gradient) of views agrees with the specification."""
    require(caps, operation, views=True)
    kind = operation.removesuffix("_vjp")
    elements = "distinct" if operation == "max_pool_vjp" else "integer"
    draw = Strategies(caps)
    ex = data.draw(draw.pool_examples(operation=kind, elements=elements, shares=False),
                   label="example")
    kwargs = ex.geometry.max_pool_kwargs() if kind == "max_pool" else ex.geometry.avg_pool_kwargs()
    arrays = (ex.x, ex.dy) if operation.endswith("_vjp") else (ex.x,)
    expect_reference(backend, operation, _views(data, arrays), kwargs, tolerance(ex.dtype),
                     as_given=True)
