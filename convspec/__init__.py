"""convspec: an executable specification of convolution, from a set of study notes.

The size arithmetic (:mod:`convspec.sizes`), the geometry types (:mod:`convspec.geometry`),
counts, receptive fields, matrix-form shapes, training formulas and the notes' errata are
importable from here; reference implementations live in :mod:`convspec.reference` and the
property suite in :mod:`convspec.properties`.
"""

from .errors import GeometryError
from .geometry import ConvGeometry, PoolGeometry
from .sizes import (
    conv_output_size,
    effective_kernel_size,
    full_padded_size,
    narrow_output_size,
    pool_output_size,
    same_padding,
    size_after_layers,
    transposed_output_size,
    wide_output_size,
    wide_padding,
    zero_inserted_size,
)

__version__ = "0.1.0"

__all__ = [
    "ConvGeometry", "GeometryError", "PoolGeometry",
    "conv_output_size", "effective_kernel_size", "full_padded_size", "narrow_output_size",
    "pool_output_size", "same_padding", "size_after_layers", "transposed_output_size",
    "wide_output_size", "wide_padding", "zero_inserted_size",
]
