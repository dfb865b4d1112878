"""Cases: a geometry with the shapes of one call (input, weight, output), small or from real networks."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from ...backends.protocol import Capabilities
from ...spec.geometry import ConvGeometry, PoolGeometry
from .base import ALL, _check_bound
from .geometries import conv_geometries, pool_geometries


@dataclass(frozen=True)
class ConvCase:
    """A convolution geometry with an input shape it accepts."""

    geometry: ConvGeometry
    input_shape: tuple[int, ...]

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.geometry.output_shape(self.input_shape)

    @property
    def batch(self) -> int:
        return self.input_shape[0]

    def __repr__(self) -> str:
        return f"ConvCase({self.geometry.describe()}, input_shape={self.input_shape})"


@dataclass(frozen=True)
class PoolCase:
    """A pooling geometry with an input shape it accepts."""

    geometry: PoolGeometry
    input_shape: tuple[int, ...]

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.geometry.output_shape(self.input_shape)

    @property
    def batch(self) -> int:
        return self.input_shape[0]

    def __repr__(self) -> str:
        return f"PoolCase({self.geometry.describe()}, input_shape={self.input_shape})"

def _spatial_for(draw, geometry: ConvGeometry, max_extra: int) -> tuple[int, ...]:
    """Spatial input sizes the geometry accepts: the padded input must hold the kernel."""
    sizes = []
    for keff, (before, after), op, s in zip(geometry.effective_kernel, geometry.padding,
                                            geometry.output_padding, geometry.stride):
        if geometry.transposed:
            # output (n-1)s - before - after + keff + op >= 1
            low = max(1, math.ceil((before + after - keff - op + 1) / s) + 1)
        else:
            low = max(1, keff - before - after)
        sizes.append(draw(st.integers(low, low + max_extra)))
    return tuple(sizes)


def conv_cases(*, ranks: Sequence[int] | None = None, transposed: bool = False,
               capabilities: Capabilities = ALL, max_batch: int = 3, max_extra: int = 6,
               real_layers: bool = True, **geometry_bounds: int) -> st.SearchStrategy[ConvCase]:
    """A geometry from :func:`conv_geometries` with an input shape it accepts.

    ``max_extra`` bounds how far each spatial size exceeds the smallest valid one. With
    ``real_layers`` (the default) about one case in twelve is a real network's layer from
    :func:`network_conv_cases` instead.
    """
    _check_bound("max_batch", max_batch)
    _check_bound("max_extra", max_extra, minimum=0)
    geometries = conv_geometries(ranks=ranks, transposed=transposed, capabilities=capabilities,
                                 **geometry_bounds)
    allow_empty = "empty_batch" in capabilities.features

    @st.composite
    def small(draw):
        geometry = draw(geometries)
        batch = draw(st.integers(1, max_batch))
        if allow_empty and draw(st.integers(0, 15)) == 15:
            batch = 0
        spatial = _spatial_for(draw, geometry, max_extra)
        return ConvCase(geometry, (batch, geometry.in_channels, *spatial))

    if not real_layers:
        return small()
    try:
        real = network_conv_cases(capabilities=capabilities, transposed=transposed)
    except InvalidArgument:
        return small()
    ranks_ok = ranks is None or 2 in ranks

    @st.composite
    def mixed(draw):
        if ranks_ok and draw(st.integers(0, 11)) == 11:
            return draw(real)
        return draw(small())
    return mixed()


#: Budget of multiply-accumulates for one real-layer case: keeps an example under a second.
REAL_LAYER_MACS = 120_000_000


@functools.lru_cache(maxsize=None)

def _network_cases(transposed: bool) -> tuple[ConvCase, ...]:
    from ...spec.models import NETWORKS  # imported lazily: model tables are only needed here

    seen: dict[tuple, ConvCase] = {}
    for network in NETWORKS.values():
        for layer in network.conv_layers():
            geometry = layer.geometry.adjoint() if transposed else layer.geometry
            spatial = (geometry.output_spatial(layer.input_shape[2:]) if transposed
                       else layer.input_shape[2:])
            shape = (1, geometry.in_channels, *spatial)
            if transposed:
                shape = (1, geometry.in_channels, *layer.geometry.output_spatial(
                    layer.input_shape[2:]))
            seen.setdefault((geometry, shape), ConvCase(geometry, shape))
    return tuple(seen.values())


@functools.lru_cache(maxsize=None)
def _affordable_network_cases(transposed: bool, groups: bool, max_macs: int
                              ) -> tuple[ConvCase, ...]:
    """The network layers within ``max_macs`` at batch 1 (grouped ones only with ``groups``),
    cheapest first. Cached: strategies are built inside every example of a property."""
    cases = [case for case in _network_cases(transposed)
             if (groups or case.geometry.groups == 1)
             and case.geometry.macs(case.input_shape) <= max_macs]
    return tuple(sorted(cases, key=lambda c: c.geometry.macs(c.input_shape)))


def network_conv_cases(*, capabilities: Capabilities = ALL, transposed: bool = False,
                       max_batch: int = 16,
                       max_macs: int = REAL_LAYER_MACS) -> st.SearchStrategy[ConvCase]:
    """Layers of AlexNet, VGG-16, ResNet-50 and MobileNetV2 (or their adjoints).

    The batch goes up to ``max_batch`` (beyond 8) where the layer is cheap enough to stay under
    ``max_macs`` multiply-accumulates; layers above the budget at batch 1 are left out.
    """
    _check_bound("max_batch", max_batch)
    if 2 not in capabilities.ranks:
        raise InvalidArgument("real network layers are 2-D and the backend lacks rank 2")
    cases = list(_affordable_network_cases(transposed, "groups" in capabilities.features,
                                           max_macs))
    if not cases:
        raise InvalidArgument("no real-network layer fits the capabilities and budget")

    @st.composite
    def build(draw):
        case = draw(st.sampled_from(cases))
        per_sample = case.geometry.macs(case.input_shape)
        top = max(1, min(max_batch, max_macs // max(per_sample, 1)))
        batch = draw(st.integers(1, top))
        return ConvCase(case.geometry, (batch, *case.input_shape[1:]))
    return build()

def _pool_input_minimum(geometry: PoolGeometry, small_inputs: bool) -> tuple[int, ...]:
    """The shortest input per axis: the window less the padding, or the whole window."""
    return tuple(max(1, keff - 2 * p) if small_inputs else keff
                 for keff, p in zip(geometry.effective_kernel, geometry.padding))


def pool_cases(*, ranks: Sequence[int] | None = None, operation: str = "max_pool",
               capabilities: Capabilities = ALL, max_batch: int = 3, max_channels: int = 3,
               max_extra: int = 6, **geometry_bounds: int) -> st.SearchStrategy[PoolCase]:
    """A pooling geometry with an input shape it accepts (each axis at least the window)."""
    _check_bound("max_batch", max_batch)
    _check_bound("max_channels", max_channels)
    geometries = pool_geometries(ranks=ranks, operation=operation, capabilities=capabilities,
                                 **geometry_bounds)
    allow_empty = "empty_batch" in capabilities.features
    small_inputs = "pool_small_input" in capabilities.features

    @st.composite
    def build(draw):
        geometry = draw(geometries)
        batch = draw(st.integers(1, max_batch))
        if allow_empty and draw(st.integers(0, 15)) == 15:
            batch = 0
        channels = draw(st.integers(1, max_channels))
        spatial = tuple(draw(st.integers(low, low + max_extra))
                        for low in _pool_input_minimum(geometry, small_inputs))
        return PoolCase(geometry, (batch, channels, *spatial))
    return build()
