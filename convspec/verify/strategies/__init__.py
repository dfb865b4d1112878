"""Hypothesis strategies for convolution and pooling cases.

Composed the way :mod:`hypothesis.extra.numpy` composes its own: small public strategies
(:func:`conv_geometries`, :func:`pool_geometries`, :func:`conv_cases`, :func:`pool_cases`,
:func:`tensors`, :func:`invalid_conv_cases`) that validate their arguments and raise
:class:`hypothesis.errors.InvalidArgument` on bad ones. Everything is built from
:class:`convspec.ConvGeometry` and :class:`convspec.PoolGeometry`, so every drawn geometry is
valid by construction (the types would raise otherwise).

Shrinking goes towards one spatial axis, kernel 1, stride 1, no padding, no dilation, one group,
one channel, batch 1 and zeros, so a minimal failing case reads like a textbook example.
Real-network layers (AlexNet's 11×11 stride-4 conv1, VGG, ResNet-50, MobileNetV2) are drawn
now and then through :func:`network_conv_cases`, so large shapes are reached while the average
example stays small.

Every strategy that builds cases takes ``capabilities``: a
:class:`convspec.backends.Capabilities`; features, dtypes and ranks outside it, and counts past
its declared limits, are never drawn. :class:`Strategies` binds them once
(``draw = Strategies(caps)``). Bounds are ``min_``/``max_`` pairs checked when a strategy is
built (:mod:`~convspec.verify.strategies.base`); besides ordinary examples, fixed shares come
from designed corners (per-axis diversity and overlap, :mod:`.geometries`; vector-width
remainders and index-width thresholds within :data:`MEMORY_BUDGET`, :mod:`.thresholds`).
"""

from ...spec.dtypes import INTEGER_LIMITS, seeded_tensor
from .base import NothingToDraw
from .cases import ConvCase, PoolCase, conv_cases, network_conv_cases, pool_cases
from .examples import ConvExample, PoolExample, conv_examples, pool_examples
from .geometries import DEFAULT_BOUNDS, conv_geometries, pool_geometries
from .invalid import INVALID_KINDS, InvalidConvCase, invalid_conv_cases
from .namespace import Strategies
from .special import SPECIAL_KINDS, nonfinite_arrays
from .tensors import ELEMENTWISE_LIMIT, dtypes, tensors
from .thresholds import MEMORY_BUDGET, NEAR_2_31, PAST_2_16, REMAINDER_CHANNELS

__all__ = [
    "ConvCase", "PoolCase", "InvalidConvCase", "conv_geometries", "pool_geometries",
    "conv_cases", "pool_cases", "network_conv_cases", "tensors", "dtypes",
    "invalid_conv_cases", "seeded_tensor", "INTEGER_LIMITS", "ConvExample", "PoolExample",
    "conv_examples", "pool_examples", "NothingToDraw", "INVALID_KINDS", "ELEMENTWISE_LIMIT",
    "Strategies", "DEFAULT_BOUNDS", "MEMORY_BUDGET", "NEAR_2_31", "PAST_2_16",
    "REMAINDER_CHANNELS",
]
