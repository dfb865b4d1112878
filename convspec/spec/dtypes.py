"""The one table of dtype facts: the four floating-point dtypes convspec checks, and the
reduced-precision formats a backend may compute them in.

Each :class:`Format` holds the facts the rest of the package reads (the numpy dtype, the
significand bits ``p`` and so the unit roundoff ``u = 2^-p``, whether it is a half type
accumulated in float32, the largest integer drawn for exact integer-valued data); the
mappings below (:data:`DTYPES`, :data:`HALF_DTYPES`, :data:`NUMPY_DTYPES`,
:data:`UNIT_ROUNDOFF`, :data:`ACCUMULATE_IN`, :data:`INTEGER_LIMITS`) are views of it, for the
reference, the backends' protocol and adapters, the strategies and the tolerance model.

bfloat16 has no native numpy type; it comes from ``ml_dtypes`` (the package JAX and TensorFlow
use for it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import ml_dtypes
import numpy as np


@dataclass(frozen=True)
class Format:
    """One number format: a storage dtype (``numpy`` set) or a compute format only (TF32)."""

    name: str
    #: Significand bits including the implicit one (``p``; float32: 24).
    significand_bits: int
    #: The numpy dtype arrays of this format have; ``None`` for a compute format only.
    numpy: np.dtype | None = None
    #: A 16-bit storage type that correct pipelines accumulate in float32 (cuDNN, oneDNN and
    #: the reference do).
    half: bool = False
    #: Largest integer magnitude drawn for integer-valued data: small enough that the products
    #: and sums of the property suite's sizes are exact in the format.
    integer_limit: int | None = None

    @property
    def unit_roundoff(self) -> float:
        """``u = 2^-p``: the largest relative error of rounding to this format."""
        return 2.0 ** -self.significand_bits

    @property
    def accumulates_in(self) -> str:
        """The format a correct implementation sums this one's products in."""
        return "float32" if self.half else self.name


#: Every format by name: the four storage dtypes first, in the order convspec lists them.
FORMATS: Mapping[str, Format] = {f.name: f for f in (
    Format("float64", 53, np.dtype(np.float64), integer_limit=8),
    Format("float32", 24, np.dtype(np.float32), integer_limit=8),
    Format("float16", 11, np.dtype(np.float16), half=True, integer_limit=3),
    Format("bfloat16", 8, np.dtype(ml_dtypes.bfloat16), half=True, integer_limit=2),
    Format("tf32", 11),
)}
#: The storage dtypes convspec checks.
DTYPES: tuple[str, ...] = tuple(n for n, f in FORMATS.items() if f.numpy is not None)
#: The half types: stored in 16 bits, accumulated in float32.
HALF_DTYPES: tuple[str, ...] = tuple(n for n in DTYPES if FORMATS[n].half)
NUMPY_DTYPES: Mapping[str, np.dtype] = {n: FORMATS[n].numpy for n in DTYPES}
#: Unit roundoff ``2^-p`` of every format (TF32 included).
UNIT_ROUNDOFF: Mapping[str, float] = {n: f.unit_roundoff for n, f in FORMATS.items()}
#: What each storage dtype accumulates in.
ACCUMULATE_IN: Mapping[str, str] = {n: FORMATS[n].accumulates_in for n in DTYPES}
#: Largest integer magnitude drawn per dtype for integer-valued data
#: (:attr:`Format.integer_limit`).
INTEGER_LIMITS: Mapping[str, int] = {n: FORMATS[n].integer_limit for n in DTYPES}


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
