"""Reference implementations: readable numpy oracles for every operation in the notes.

- Protocol operations (:mod:`.ops`, :mod:`.grad`): ``conv``, ``conv_transpose``, ``max_pool``,
  ``avg_pool`` and their vjps ``conv_vjp``, ``conv_transpose_vjp``, ``max_pool_vjp``,
  ``avg_pool_vjp``, on the fast im2col + GEMM path (:mod:`.fast`); the backend that wraps them
  is :class:`convspec.backends.reference_backend.ReferenceBackend`.
- The literal index-formula path (:mod:`.literal`): ``conv_literal``, ``conv_transpose_literal``.
- Plain arrays (:mod:`.classic`, section A, E1): ``correlate``, ``convolve``, ``wide_correlate``,
  ``rot180``.
- Matrix forms (:mod:`.matrices`, section D) and ``fft_conv``.
- Variants (:mod:`.variants`, section E/C10), blocks (:mod:`.blocks`), pooling (:mod:`.pooling`)
  and the training formulas of section H (from :mod:`convspec.spec.training`).

Every public function's docstring states its formula with the inventory IDs and seeds, and shows
one example on small integer-valued arrays whose output can be checked by hand, written after
``import numpy as np`` and ``from convspec import reference as ref`` (``help(ref.conv)``;
``tests/test_reference_doctests.py`` runs them all). The keywords have the defaults a reader
expects (no bias, ``stride=1``, ``padding=0``, ``dilation=1``, ``groups=1``,
``output_padding=0``; pooling's ``stride`` is its kernel) and an int stands for every spatial
axis, so ``ref.conv_transpose(x, w, stride=2, padding=1)`` works; the backend protocol still
passes every argument in full (:mod:`convspec.backends.protocol`).
"""

from ..spec.training import (
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
from .blocks import channel_shuffle, conv_layer, residual_unit, sigmoid, squeeze_excitation
from .classic import convolve, correlate, rot180, wide_correlate
from .grad import (
    avg_pool_vjp,
    conv_transpose_vjp,
    conv_vjp,
    input_grad_by_wide_correlation,
    max_pool_vjp,
    weight_grad_by_correlation,
    zero_insert,
)
from .literal import conv_literal, conv_transpose_literal
from .matrices import (
    block_circulant_convolve,
    circulant_convolve,
    circulant_matrix,
    conv_by_matrix,
    conv_matrix,
    conv_transpose_by_matrix,
    doubly_block_circulant,
    fft_conv,
    im2col_columns,
    im2col_conv,
    toeplitz_matrix,
)
from .ops import avg_pool, conv, conv_transpose, max_pool
from .pooling import l2_pool, trainable_pool
from .variants import (
    bilinear_sample,
    connection_table_conv,
    deformable_conv,
    depthwise_conv,
    depthwise_separable_conv,
    dilate_kernel,
    dilated_conv_by_zero_insertion,
    conv_transpose_by_zero_insertion,
    grouped_conv,
    locally_connected,
    outer_kernel,
    pointwise_conv,
    spatially_separable_conv,
    tiled_conv,
)

__all__ = [
    # protocol operations and backend
    "conv", "conv_transpose", "max_pool", "avg_pool",
    "conv_vjp", "conv_transpose_vjp", "max_pool_vjp", "avg_pool_vjp",
    # literal path and the notes' gradient routes
    "conv_literal", "conv_transpose_literal",
    "input_grad_by_wide_correlation", "weight_grad_by_correlation", "zero_insert",
    # section A, E1
    "correlate", "convolve", "wide_correlate", "rot180",
    # section D
    "toeplitz_matrix", "circulant_matrix", "circulant_convolve", "doubly_block_circulant",
    "block_circulant_convolve", "im2col_columns", "im2col_conv", "conv_matrix",
    "conv_by_matrix", "conv_transpose_by_matrix", "fft_conv",
    # section E, C10
    "dilate_kernel", "dilated_conv_by_zero_insertion", "conv_transpose_by_zero_insertion",
    "grouped_conv", "depthwise_conv", "depthwise_separable_conv", "pointwise_conv",
    "outer_kernel", "spatially_separable_conv", "connection_table_conv", "locally_connected",
    "tiled_conv", "bilinear_sample", "deformable_conv",
    "conv_layer", "channel_shuffle", "sigmoid", "squeeze_excitation", "residual_unit",
    # section G
    "l2_pool", "trainable_pool",
    # section H (convspec.spec.training)
    "relu", "leaky_relu", "softmax", "dropout", "dropout_mask", "dropout_expectation",
    "momentum_step", "momentum_step_delta", "momentum_trajectory",
]
