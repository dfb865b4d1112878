"""Tensors and dtypes: the values a property hands a backend."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from ...backends.protocol import DTYPES, Capabilities
from ...spec.dtypes import INTEGER_LIMITS, numpy_dtype, seeded_tensor
from .base import ALL, NothingToDraw


def dtypes(capabilities: Capabilities = ALL,
           allowed: Sequence[str] | None = None) -> st.SearchStrategy[str]:
    """Dtype names the backend supports, float64 first so failures shrink to it.

    ``allowed`` narrows them to the dtypes a property can use. When nothing is left,
    :class:`NothingToDraw` says for each dtype why it was left out.
    """
    if allowed is not None:
        unknown = sorted(set(allowed) - set(DTYPES))
        if unknown:
            raise InvalidArgument(f"allowed={tuple(allowed)!r}: unknown dtypes {unknown}; "
                                  f"choose from {DTYPES}")
    names = [d for d in DTYPES if d in capabilities.dtypes and (allowed is None or d in allowed)]
    if not names:
        why = []
        for d in DTYPES:
            if allowed is not None and d not in allowed:
                continue
            why.append(f"{d}: {capabilities.reasons.get(f'dtype:{d}', 'not supported')}")
        only = "" if allowed is None else f"this property runs in {', '.join(allowed)} only; "
        raise NothingToDraw(f"no dtype to draw: {only}{'; '.join(why)}")
    return st.sampled_from(names)

#: Tensors with more elements than this are generated from a drawn seed, not element by element.
ELEMENTWISE_LIMIT = 48

def tensors(dtype: str, shape: Sequence[int], *,
            elements: str = "integer") -> st.SearchStrategy[np.ndarray]:
    """Arrays of ``shape`` in ``dtype``.

    ``elements="integer"``: integer values small enough (:data:`INTEGER_LIMITS`) that products
    and sums of the sizes drawn here are exact in the dtype, so a correct direct algorithm gives
    the exact result. ``elements="real"``: values in [-1, 1] that are not exactly summable.
    Small arrays are drawn element by element (they shrink to zeros and small integers); arrays
    above :data:`ELEMENTWISE_LIMIT` elements come from a drawn seed (see :func:`seeded_tensor`).
    """
    if dtype not in DTYPES:
        raise InvalidArgument(f"dtype={dtype!r} must be one of {DTYPES}")
    if elements not in ("integer", "real"):
        raise InvalidArgument(f"elements={elements!r} must be 'integer' or 'real'")
    shape = tuple(shape)
    if any(not isinstance(n, int) or n < 0 for n in shape):
        raise InvalidArgument(f"shape={shape!r} must be non-negative ints")
    size = math.prod(shape)
    np_dtype = numpy_dtype(dtype)
    if size <= ELEMENTWISE_LIMIT:
        if elements == "integer":
            limit = INTEGER_LIMITS[dtype]
            values = st.integers(-limit, limit).map(float)
        else:
            values = st.floats(-1.0, 1.0, allow_nan=False, width=32 if dtype == "float32" else 64)
        return st.lists(values, min_size=size, max_size=size).map(
            lambda v: np.asarray(v, dtype=np.float64).reshape(shape).astype(np_dtype))
    return st.integers(0, 2 ** 32 - 1).map(lambda s: seeded_tensor(s, shape, dtype, elements))
