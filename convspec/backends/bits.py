"""Bit views: arrays crossing into a library as raw bits, never converted.

Some libraries take bfloat16 (and float16) only as 16-bit integers: numpy has no bfloat16 of
its own (convspec's comes from ``ml_dtypes``), ``torch.from_numpy`` rejects it, and OpenVINO's
Python API reads a bfloat16 tensor's memory as a float16 array. Converting through float32
would round or change nothing visible on most values and silently alter the rest (NaN
payloads, subnormals); copying the bits is exact. These helpers give the integer view of an
array of any of the protocol's dtypes and back:

>>> import numpy as np
>>> from convspec.spec.dtypes import numpy_dtype
>>> x = np.array([1.0, -2.5], numpy_dtype("bfloat16"))
>>> as_bits(x)
array([16256, 49184], dtype=uint16)
>>> from_bits(as_bits(x), "bfloat16").tolist()
[1.0, -2.5]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..spec.dtypes import numpy_dtype


def _integer(itemsize: int, signed: bool) -> np.dtype:
    return np.dtype(f"{'i' if signed else 'u'}{itemsize}")


def as_bits(array: Any, *, signed: bool = False) -> np.ndarray:
    """The C-contiguous integer view of ``array``'s bits, of the same shape and item size
    (bfloat16 and float16: ``uint16``, or ``int16`` with ``signed``, which torch takes).
    A view where ``array`` is contiguous already (write to it and ``array`` changes), a copy
    otherwise."""
    array = np.ascontiguousarray(array)
    if array.dtype.kind not in "fV" or array.dtype.itemsize not in (2, 4, 8):
        raise TypeError(f"as_bits: {array.dtype} is not a floating-point dtype of 2, 4 or 8 bytes")
    return array.view(_integer(array.dtype.itemsize, signed))


def from_bits(bits: Any, dtype: str) -> np.ndarray:
    """The array of protocol dtype ``dtype`` (``"bfloat16"``, ...) whose bits are ``bits``
    (any numeric array of that item size: ``uint16``, ``int16``, or a float16 array that
    holds bfloat16 bits, as OpenVINO's tensors do). A view of ``bits`` where it is
    contiguous: copy it if the library reuses the memory."""
    target = numpy_dtype(dtype)
    bits = np.ascontiguousarray(bits)
    if bits.dtype.itemsize != target.itemsize:
        raise TypeError(f"from_bits: {bits.dtype} has {bits.dtype.itemsize} bytes per item, "
                        f"{dtype} {target.itemsize}")
    return bits.view(target)


def copy_bits(source: Any, target: np.ndarray) -> None:
    """Copy ``source``'s bits into ``target`` (a library's buffer of the same number of items
    and item size, whatever numpy dtype it shows), exactly."""
    bits = as_bits(source).reshape(-1)
    view = target.reshape(-1).view(bits.dtype) if target.size else target
    if view.size != bits.size:
        raise ValueError(f"copy_bits: {bits.size} items into a buffer of {target.size}")
    view[...] = bits


__all__ = ["as_bits", "copy_bits", "from_bits"]
