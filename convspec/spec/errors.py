"""The one exception type for invalid geometry."""

from __future__ import annotations


class GeometryError(ValueError):
    """An invalid convolution, pooling or layer geometry.

    The message names the formula, the values that broke it, and what would make it valid.
    It subclasses ``ValueError`` so that generic code catching bad values keeps working.
    """
