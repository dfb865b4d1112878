"""Memory layouts of the array contract's views: the same values, other strides.

Every property but the layout one hands a backend C-contiguous copies
(:func:`convspec.verify.conformance.contract_copy`). The layout property hands views in each
layout of :data:`LAYOUTS`: a backend that reads a view as if it were contiguous (pytorch
#192212: non-contiguous weights read in storage order) returns other values there.
"""

from __future__ import annotations

import numpy as np

#: The layouts of the views: sliced with a step, transposed in memory (first and last axes
#: swapped in storage), negatively strided, offset inside a larger buffer, Fortran-ordered.
LAYOUTS = ("sliced", "transposed", "negative_strides", "offset", "fortran")


def as_layout(array: np.ndarray | None, layout: str) -> np.ndarray | None:
    """A view with the values of ``array`` and the memory layout ``layout`` (one of
    :data:`LAYOUTS`); ``None`` stays ``None``."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout={layout!r}: choose from {LAYOUTS}")
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
    return np.asfortranarray(array)


def layout_of(array: np.ndarray | None) -> str | None:
    """The layout of :data:`LAYOUTS` an array is a view in (its strides, and for ``offset`` a
    start inside a larger buffer); ``None`` for a C-contiguous array that starts its buffer
    (or ``None``). On an array :func:`as_layout` made, a layout with the same strides (a
    three-dimensional ``transposed`` one is ``fortran``'s)."""
    if array is None:
        return None
    values = np.empty(array.shape, array.dtype)  # C-contiguous: only its strides are read
    if array.strides == values.strides:
        base = array.base
        starts_inside = (isinstance(base, np.ndarray) and base.size > array.size
                         and array.__array_interface__["data"][0]
                         != base.__array_interface__["data"][0])
        return "offset" if starts_inside else None
    for layout in ("sliced", "transposed", "negative_strides", "fortran"):
        if as_layout(values, layout).strides == array.strides:
            return layout
    if array.size == 0:  # no values: numpy's strides of an empty copy may differ from any view's
        return None
    raise ValueError(f"an array of shape {array.shape} and strides {array.strides} is in none "
                     f"of the layouts {LAYOUTS}")
