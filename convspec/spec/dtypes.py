"""The four floating-point dtypes convspec checks, by name.

bfloat16 has no native numpy type; it comes from ``ml_dtypes`` (the package JAX and TensorFlow
use for it).
"""

from __future__ import annotations

from collections.abc import Sequence

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


#: Largest integer magnitude drawn per dtype for integer-valued data: small enough that the
#: products and sums of the property suite's sizes are exact in the dtype.
INTEGER_LIMITS = {"float64": 8, "float32": 8, "float16": 3, "bfloat16": 2}


def seeded_tensor(seed: int, shape: Sequence[int], dtype: str, elements: str) -> np.ndarray:
    """A reproducible array from ``(seed, shape)``: integers within :data:`INTEGER_LIMITS` or
    uniform values in [-1, 1]. The property strategies and the benchmark workloads both use it."""
    rng = np.random.default_rng(seed)
    if elements == "integer":
        limit = INTEGER_LIMITS[dtype]
        data = rng.integers(-limit, limit + 1, size=tuple(shape)).astype(np.float64)
    else:
        data = rng.uniform(-1.0, 1.0, size=tuple(shape))
    return data.astype(numpy_dtype(dtype))
