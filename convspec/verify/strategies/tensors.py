"""Tensors and dtypes: the values a property hands a backend."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from ...backends.protocol import DTYPES, Capabilities
from ...spec.dtypes import INTEGER_LIMITS, numpy_dtype, seeded_tensor
from ...spec.geometry import volume
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


#: Arrays up to this many elements take their values element by element (drawn, so they
#: shrink to zeros and small integers one by one); larger ones come from a drawn seed.
ELEMENTWISE_LIMIT = 48
#: Magnitude levels: 0 zeros, 1 integer values in {-1, 0, 1}, 2 the dtype's whole
#: :data:`~convspec.spec.dtypes.INTEGER_LIMITS` range (real values: levels 1 and 2 alike).
LEVELS = 2
ELEMENTS = ("integer", "real")
#: Bytes behind one element value of a small array: one for an integer, two for a real.
_WIDTH = {"integer": 1, "real": 2}


def _zigzag(codes: np.ndarray) -> np.ndarray:
    """0, 1, 2, 3, 4, ... to 0, 1, -1, 2, -2, ...: smaller codes, smaller magnitudes."""
    codes = codes.astype(np.int64)
    return np.where(codes % 2 == 1, (codes + 1) // 2, -(codes // 2))


@dataclass(frozen=True)
class TensorDraw:
    """The choices behind one array, the same whatever its shape or dtype: a magnitude level,
    a seed and the element values of a small array, as bytes (one choice, which Hypothesis
    shrinks byte by byte).

    Arrays up to :data:`ELEMENTWISE_LIMIT` elements take the leading values, larger ones
    :func:`~convspec.spec.dtypes.seeded_tensor` of the seed. Drawn before the case, so when
    Hypothesis shrinks the geometry (which changes every shape) the array choices stay where
    they were: a small array keeps its leading values, and each of them still shrinks on its
    own (issue 13: a backend failing everywhere shrinks to the smallest case).
    """

    level: int
    seed: int
    values: bytes

    def array(self, dtype: str, shape: Sequence[int], elements: str) -> np.ndarray:
        """The array of ``shape`` in ``dtype``: integers within the dtype's limit, or reals in
        (-1, 1) (a byte code ``z`` is ``z / 32769``, not a short binary fraction)."""
        shape = _check_tensor(dtype, shape, elements)
        if self.level == 0:
            return np.zeros(shape, dtype=numpy_dtype(dtype))
        size = volume(shape)
        limit = 1 if self.level == 1 else INTEGER_LIMITS[dtype]
        if size > ELEMENTWISE_LIMIT:
            data = seeded_tensor(self.seed, shape, dtype, elements).astype(np.float64)
            if elements == "integer":
                data = np.clip(data, -limit, limit)
        elif elements == "integer":
            codes = np.frombuffer(self.values[:size], dtype=np.uint8)
            data = _zigzag(codes % (2 * limit + 1)).astype(np.float64).reshape(shape)
        else:
            codes = np.frombuffer(self.values[:2 * size], dtype=">u2")
            data = (_zigzag(codes) / 32769.0).reshape(shape)
        return data.astype(numpy_dtype(dtype))


def tensor_draws(elements: str = "integer") -> st.SearchStrategy[TensorDraw]:
    """One array's choices (:class:`TensorDraw`) for ``elements`` ("integer" or "real")."""
    if elements not in ELEMENTS:
        raise InvalidArgument(f"elements={elements!r} must be 'integer' or 'real'")
    size = _WIDTH[elements] * ELEMENTWISE_LIMIT
    return st.builds(TensorDraw, st.integers(0, LEVELS), st.integers(0, 2 ** 32 - 1),
                     st.binary(min_size=size, max_size=size))


def _check_tensor(dtype: str, shape: Sequence[int], elements: str) -> tuple[int, ...]:
    if dtype not in DTYPES:
        raise InvalidArgument(f"dtype={dtype!r} must be one of {DTYPES}")
    if elements not in ELEMENTS:
        raise InvalidArgument(f"elements={elements!r} must be 'integer' or 'real'")
    shape = tuple(shape)
    if any(isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in shape):
        raise InvalidArgument(f"shape={shape!r} must be non-negative ints")
    return shape


def tensors(dtype: str, shape: Sequence[int], *,
            elements: str = "integer") -> st.SearchStrategy[np.ndarray]:
    """Arrays of ``shape`` in ``dtype``.

    ``elements="integer"``: integer values small enough (:data:`INTEGER_LIMITS`) that products
    and sums of the ordinary sizes drawn here are exact in the dtype, so a correct direct
    algorithm gives the exact result. ``elements="real"``: values in [-1, 1] that are not
    exactly summable. Small arrays are drawn element by element, larger ones from a drawn seed,
    both through one :class:`TensorDraw` whatever the size.
    """
    shape = _check_tensor(dtype, shape, elements)
    return tensor_draws(elements).map(lambda t: t.array(dtype, shape, elements))
