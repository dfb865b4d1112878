"""The four floating-point dtypes convspec checks, by name.

bfloat16 has no native numpy type; it comes from ``ml_dtypes`` (the package JAX and TensorFlow
use for it).
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

NUMPY_DTYPES = {
    "float64": np.dtype(np.float64),
    "float32": np.dtype(np.float32),
    "float16": np.dtype(np.float16),
    "bfloat16": np.dtype(ml_dtypes.bfloat16),
}


def numpy_dtype(name: str) -> np.dtype:
    """The numpy dtype for a dtype name; ``TypeError`` naming the choices otherwise."""
    try:
        return NUMPY_DTYPES[name]
    except (KeyError, TypeError):
        raise TypeError(
            f"unknown dtype {name!r}; convspec checks {', '.join(NUMPY_DTYPES)}"
        ) from None


def dtype_name(dtype: np.dtype | type) -> str:
    """The convspec name of a numpy dtype; ``TypeError`` for anything that is not one of the four."""
    dt = np.dtype(dtype)
    for name, known in NUMPY_DTYPES.items():
        if dt == known:
            return name
    raise TypeError(
        f"dtype {dt} is not supported: convspec checks floating-point "
        f"{', '.join(NUMPY_DTYPES)}; convert the array with .astype(...)"
    )
