"""convspec: an executable specification of convolution, from a set of study notes.

The size arithmetic (:mod:`convspec.spec.sizes`), the geometry types (:mod:`convspec.spec.geometry`),
counts, receptive fields, matrix-form shapes, training formulas and the notes' errata are
importable from here; reference implementations live in :mod:`convspec.reference` and the
property suite in :mod:`convspec.properties`.
"""

from .spec.counts import (
    CountComparison,
    SeparableCounts,
    asymmetric_factorization_params,
    bottleneck_params,
    connection_table_params,
    conv_macs,
    conv_params,
    depthwise_separable_macs,
    depthwise_separable_params,
    locally_connected_params,
    model_macs,
    model_params,
    spatially_separable_counts,
    stacked_kernel_layers,
    stacked_kernel_params,
    tiled_conv_params,
    trainable_pool_params,
)
from .spec.errata import ERRATA, Erratum, ErratumCheck
from .spec.errors import GeometryError
from .spec.geometry import ConvGeometry, PoolGeometry
from .spec.models import NETWORKS, Layer, Network
from .spec.receptive import (
    HDCViolation,
    ReceptiveField,
    ReceptiveLayer,
    dilated_stack,
    has_gridding,
    hdc_max_distance,
    hdc_violations,
    missing_offsets,
    reached_offsets,
    receptive_field,
)
from .spec.shapes import (
    DoublyBlockCirculant,
    Im2colShapes,
    ScoreMap,
    SparseFC,
    TransposedMatrixShapes,
    batch_shape,
    circulant_size,
    conv_as_fc,
    conv_matrix_shape,
    deformable_offset_shape,
    doubly_block_circulant_shape,
    downsampled_size,
    fc_as_conv,
    fc_stack_as_conv,
    im2col_shapes,
    score_map_size,
    toeplitz_shape,
    transposed_matrix_shapes,
)
from .spec.training import (
    dropout,
    dropout_expectation,
    dropout_mask,
    leaky_relu,
    momentum_step,
    momentum_step_delta,
    momentum_trajectory,
    relu,
    softmax,
)
from .spec.sizes import (
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
    # counts (C)
    "CountComparison", "SeparableCounts", "asymmetric_factorization_params",
    "bottleneck_params", "connection_table_params", "conv_macs", "conv_params",
    "depthwise_separable_macs", "depthwise_separable_params", "locally_connected_params",
    "model_macs", "model_params", "spatially_separable_counts", "stacked_kernel_layers",
    "stacked_kernel_params", "tiled_conv_params", "trainable_pool_params",
    # models (C11)
    "NETWORKS", "Layer", "Network",
    # receptive fields (C12, E15)
    "HDCViolation", "ReceptiveField", "ReceptiveLayer", "dilated_stack", "has_gridding",
    "hdc_max_distance", "hdc_violations", "missing_offsets", "reached_offsets",
    "receptive_field",
    # shapes of matrix forms and conversions (B11-B13, D)
    "DoublyBlockCirculant", "Im2colShapes", "ScoreMap", "SparseFC", "TransposedMatrixShapes",
    "batch_shape", "circulant_size", "conv_as_fc", "conv_matrix_shape",
    "deformable_offset_shape", "doubly_block_circulant_shape", "downsampled_size", "fc_as_conv",
    "fc_stack_as_conv", "im2col_shapes", "score_map_size", "toeplitz_shape",
    "transposed_matrix_shapes",
    # training formulas (H)
    "dropout", "dropout_expectation", "dropout_mask", "leaky_relu", "momentum_step",
    "momentum_step_delta", "momentum_trajectory", "relu", "softmax",
    # errata
    "ERRATA", "Erratum", "ErratumCheck",
]
