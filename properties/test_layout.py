"""The array contract: a backend reads an array's values, whatever its memory layout.

Every other property hands a backend C-contiguous, writeable, positively strided copies
(:func:`convspec.verify.conformance.contract_copy`, the contract of :mod:`convspec.backends.protocol`). This
one hands the same cases as views: sliced with a step, transposed in memory, negatively strided,
offset inside a larger buffer, Fortran-ordered; a backend that reads a view as if it were
contiguous (pytorch #192212: non-contiguous weights read in storage order) returns other values
and fails here, under its own name. A backend that declares ``accepts_views=False`` is skipped.
Results are judged against the specification, as everywhere else.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from convspec.verify.conformance import expect_reference
from convspec.verify.helpers import assert_array_equal, require
from convspec.verify.strategies import Strategies

pytestmark = pytest.mark.section("A")

LAYOUTS = ("sliced", "transposed", "negative_strides", "offset", "fortran")


def as_layout(array: np.ndarray | None, layout: str) -> np.ndarray | None:
    """A view with the values of ``array`` and the memory layout ``layout``."""
    if array is None:
        return None
    if layout == "sliced":
        buffer = np.zeros(array.shape[:-1] + (2 * array.shape[-1],), dtype=array.dtype)
        buffer[..., ::2] = array
        return buffer[..., ::2]
    if layout == "transposed":
        return np.swapaxes(np.swapaxes(array, 0, -1).copy(), 0, -1)
    if layout == "negative_strides":
        return np.flip(np.flip(array).copy())
    if layout == "offset":
        buffer = np.zeros(array.size + 3, dtype=array.dtype)
        view = buffer[3:].reshape(array.shape)
        view[...] = array
        return view
    if layout == "fortran":
        return np.asfortranarray(array)
    raise ValueError(f"layout={layout!r}: choose from {LAYOUTS}")


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


@pytest.mark.parametrize("operation", CONV_OPERATIONS)
@given(data=st.data())
def test_layout_conv_views_read_as_their_values(backend, caps, tolerance, data, operation):
    """A convolution of views (any layout, per argument) agrees with the specification."""
    require(caps, operation, views=True)
    transposed = operation.startswith("conv_transpose")
    draw = Strategies(caps)
    ex = data.draw(draw.conv_examples(transposed=transposed, real_layers=True),
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
    ex = data.draw(draw.pool_examples(operation=kind, elements=elements), label="example")
    kwargs = ex.geometry.max_pool_kwargs() if kind == "max_pool" else ex.geometry.avg_pool_kwargs()
    arrays = (ex.x, ex.dy) if operation.endswith("_vjp") else (ex.x,)
    expect_reference(backend, operation, _views(data, arrays), kwargs, tolerance(ex.dtype),
                     as_given=True)
