"""Dtype rules of the reference implementations.

Every operation takes arrays of one floating dtype among float64, float32, float16 and
bfloat16 (``ml_dtypes.bfloat16``), returns that dtype, and computes half types in float32:
products and sums of float16/bfloat16 values are accumulated in float32 and rounded to the
input dtype once, at the end.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..spec.dtypes import ACCUMULATE_IN, HALF_DTYPES
from ..spec.dtypes import NUMPY_DTYPES as FLOAT_DTYPES

#: What the reference really computes in, per dtype (reported by ``capabilities()``), from the
#: table of dtype facts: half types accumulate in float32 and round once at the end.
PRECISION: Mapping[str, str] = {
    name: (f"{ACCUMULATE_IN[name]} accumulation, rounded to {name} once at the end"
           if name in HALF_DTYPES else name)
    for name in FLOAT_DTYPES
}


def _name(dtype: np.dtype) -> str | None:
    return next((name for name, known in FLOAT_DTYPES.items() if dtype == known), None)


def check_arrays(**arrays: np.ndarray | None) -> np.dtype:
    """Check that every given array is a numpy array of one supported float dtype; return it.

    ``None`` entries (an absent bias) are skipped. Raises ``TypeError`` naming the argument.
    """
    found: tuple[str, np.dtype] | None = None
    for name, array in arrays.items():
        if array is None:
            continue
        if not isinstance(array, np.ndarray):
            raise TypeError(
                f"{name} must be a numpy.ndarray, got {type(array).__name__}; "
                f"wrap it with numpy.asarray({name}, dtype=numpy.float64)"
            )
        if _name(array.dtype) is None:
            raise TypeError(
                f"{name} has dtype {array.dtype}; the reference computes in "
                f"{', '.join(FLOAT_DTYPES)}: cast it with {name}.astype(numpy.float64)"
            )
        if found is None:
            found = (name, array.dtype)
        elif array.dtype != found[1]:
            raise TypeError(
                f"{name} is {_name(array.dtype)} but {found[0]} is "
                f"{_name(found[1])}: pass every array in one dtype (cast with .astype)"
            )
    if found is None:
        raise TypeError("no array given")
    return found[1]


def compute_dtype(dtype: np.dtype) -> np.dtype:
    """float32 for the half types (float16, bfloat16); the dtype itself otherwise."""
    return FLOAT_DTYPES["float32"] if _name(np.dtype(dtype)) in HALF_DTYPES else np.dtype(dtype)


def to_compute(array: np.ndarray | None, dtype: np.dtype) -> np.ndarray | None:
    """``array`` in the accumulation dtype for ``dtype`` (no copy when it already is)."""
    if array is None:
        return None
    return array.astype(compute_dtype(dtype), copy=False)


def to_output(array: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Round a result back to the caller's dtype."""
    return array.astype(dtype, copy=False)
