"""Cases: a geometry with the shapes of one call (input, weight, output), small or from real
networks, and the designed shares of :mod:`~convspec.verify.strategies.thresholds`.

Every input size comes from the geometry itself (:meth:`ConvGeometry.min_input_spatial`,
:meth:`ConvGeometry.input_spatial_for`, :meth:`PoolGeometry.min_input_spatial`: B1, B9, B10
inverted), never from arithmetic of the strategies' own.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from ...backends.protocol import Capabilities
from ...spec.geometry import ConvGeometry, PoolGeometry
from .base import ALL, Bound, NothingToDraw, _check_bound, bound, forwarded, limit_of
from .geometries import DEFAULT_BOUNDS, ConvPlan, conv_plan, pool_plan
from .thresholds import ConvShares, PoolShares, exact_sizes


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


#: The case-level shares, one case in three each: a selector drawn first, shrinking to an
#: ordinary case (0). A third is about the least that reaches every property's 12 ci examples.
_ORDINARY, _REMAINDER, _THRESHOLD = 0, 1, 2
_SELECTOR = st.integers(0, 2)


def _with_shares(draw, special: ConvShares | PoolShares | None, ordinary):
    """A remainder or threshold case where the selector (drawn first) says so and the share
    has room, else ``ordinary(draw)``."""
    kind = draw(_SELECTOR) if special is not None else _ORDINARY
    if kind == _REMAINDER and special.remainders:
        return special.draw_remainder(draw)
    if kind == _THRESHOLD and special.kinds:
        return special.draw_threshold(draw)
    return ordinary(draw)


def _batch_bound(capabilities: Capabilities, low: int, high: int | None) -> Bound:
    limit, why = limit_of(capabilities, "max_batch")
    batch = bound("batch", low, high, floor=0, default=DEFAULT_BOUNDS["batch"], limit=limit,
                  limit_reason=why)
    if batch.high == 0 and "empty_batch" not in capabilities.features:
        raise NothingToDraw("max_batch=0 needs empty_batch, which the backend lacks: "
                            + capabilities.reasons.get("empty_batch", "not supported"))
    return batch


def _draw_batch(draw, batch: Bound, allow_empty: bool) -> int:
    """A batch in ``[max(1, low), high]``; one in 16 is empty where ``low`` is 0 and the
    backend takes an empty batch."""
    size = draw(st.integers(max(1, batch.low), batch.high)) if batch.high >= 1 else 0
    if allow_empty and batch.low == 0 and draw(st.integers(0, 15)) == 15:
        size = 0
    return size


def _extra_sizes(draw, lows: Sequence[int], extra: Bound) -> tuple[int, ...]:
    return tuple(low + draw(st.integers(extra.low, extra.high)) for low in lows)


def _within(values: Sequence[int], b: Bound) -> bool:
    return all(v >= b.low and (b.limit is None or v <= b.limit) for v in values)


def _fits(case: ConvCase, plan: ConvPlan, batch: Bound) -> bool:
    """Whether a real layer is within the strategy's explicit bounds and the backend's."""
    g, a = case.geometry, plan.axes
    return (_within(g.kernel, a.kernel) and _within(g.stride, a.stride)
            and _within(g.dilation, a.dilation)
            and _within([p for pair in g.padding for p in pair], a.padding)
            and _within([g.groups], plan.groups)
            and _within([g.in_channels // g.groups, g.out_channels // g.groups],
                        plan.channels_per_group)
            and g.ndim in plan.ranks and batch.limit != 0)


def conv_cases(capabilities: Capabilities = ALL, *, ranks: Sequence[int] | None = None,
               transposed: bool = False, min_kernel: int = 1, max_kernel: int | None = None,
               min_stride: int = 1, max_stride: int | None = None, min_dilation: int = 1,
               max_dilation: int | None = None, min_groups: int = 1,
               max_groups: int | None = None, min_channels_per_group: int = 1,
               max_channels_per_group: int | None = None, min_padding: int = 0,
               max_padding: int | None = None, min_batch: int = 0,
               max_batch: int | None = None, min_extra: int = 0, max_extra: int | None = None,
               exact: bool = False, real_layers: bool = False,
               shares: bool = True) -> st.SearchStrategy[ConvCase]:
    """A geometry from :func:`conv_geometries` (the same bounds) with an input it accepts.

    Batch in ``[min_batch, max_batch]`` (omitted: 3; with ``min_batch=0`` one case in 16 is
    an empty batch where the backend takes one). Each spatial size is the smallest the
    geometry accepts plus an extra in ``[min_extra, max_extra]`` (6); with ``exact`` (forward
    only) the windows tile the padded input exactly, so no input position lies past the last
    window (B1's division is exact; ``adjoint_for`` needs no ``output_padding``).

    With ``shares``, one case in three comes from each of the remainder and threshold shares
    of :mod:`~convspec.verify.strategies.thresholds` (where the bounds leave them room; the
    rest are ordinary), ordinary geometries with :func:`conv_geometries`' own shares. With
    ``real_layers``, about one ordinary case in twelve is a real network's layer
    (:func:`network_conv_cases`) within the explicit bounds.
    """
    plan = conv_plan(capabilities, **forwarded(conv_plan, locals()))
    batch = _batch_bound(capabilities, min_batch, max_batch)
    extra = bound("extra", min_extra, max_extra, floor=0, default=DEFAULT_BOUNDS["extra"])
    if exact and transposed:
        raise InvalidArgument("exact=True: a transposed convolution has no B1 remainder")
    allow_empty = "empty_batch" in capabilities.features
    special = ConvShares.make(plan, batch, extra, capabilities, exact) if shares else None
    real = _real_layers(capabilities, plan, batch, transposed) if real_layers and not exact \
        else None

    def ordinary(draw) -> ConvCase:
        if real is not None and draw(st.integers(0, 11)) == 11:
            return draw(real)
        geometry = plan.draw_with_shares(draw)
        size = _draw_batch(draw, batch, allow_empty)
        spatial = (exact_sizes(draw, geometry, extra.high) if exact
                   else _extra_sizes(draw, geometry.min_input_spatial(), extra))
        return ConvCase(geometry, (size, geometry.in_channels, *spatial))

    return st.composite(lambda draw: _with_shares(draw, special, ordinary))()


#: Budget of multiply-accumulates for one real-layer case: keeps an example under a second.
REAL_LAYER_MACS = 120_000_000


@functools.lru_cache(maxsize=None)
def _network_cases(transposed: bool) -> tuple[ConvCase, ...]:
    from ...spec.models import NETWORKS  # imported lazily: model tables are only needed here

    seen: dict[tuple, ConvCase] = {}
    for network in NETWORKS.values():
        for layer in network.conv_layers():
            geometry = layer.geometry.adjoint() if transposed else layer.geometry
            spatial = (layer.geometry.output_spatial(layer.input_shape[2:]) if transposed
                       else layer.input_shape[2:])
            shape = (1, geometry.in_channels, *spatial)
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


def _real_layers(capabilities: Capabilities, plan: ConvPlan, batch: Bound,
                 transposed: bool) -> st.SearchStrategy[ConvCase] | None:
    """:func:`network_conv_cases` less the layers outside the bounds; ``None`` if none is left."""
    try:
        return network_conv_cases(capabilities=capabilities, transposed=transposed,
                                  max_batch=batch.limit or 16,
                                  where=lambda case: _fits(case, plan, batch))
    except InvalidArgument:
        return None


def network_conv_cases(*, capabilities: Capabilities = ALL, transposed: bool = False,
                       max_batch: int = 16, max_macs: int = REAL_LAYER_MACS,
                       where=None) -> st.SearchStrategy[ConvCase]:
    """Layers of AlexNet, VGG-16, ResNet-50 and MobileNetV2 (or their adjoints).

    The batch goes up to ``max_batch`` (beyond 8) where the layer is cheap enough to stay under
    ``max_macs`` multiply-accumulates; layers above the budget at batch 1 are left out, and so
    are those ``where(case)`` rejects (a predicate on the layer, checked once when the strategy
    is built, not per example).
    """
    _check_bound("max_batch", max_batch)
    if 2 not in capabilities.ranks:
        raise InvalidArgument("real network layers are 2-D and the backend lacks rank 2")
    cases = [case for case in _affordable_network_cases(
        transposed, "groups" in capabilities.features, max_macs)
        if where is None or where(case)]
    if not cases:
        raise InvalidArgument("no real-network layer fits the capabilities and budget")

    @st.composite
    def build(draw):
        case = draw(st.sampled_from(cases))
        per_sample = case.geometry.macs(case.input_shape)
        top = max(1, min(max_batch, max_macs // max(per_sample, 1)))
        size = draw(st.integers(1, top))
        return ConvCase(case.geometry, (size, *case.input_shape[1:]))
    return build()


def _pool_input_minimum(geometry: PoolGeometry, small_inputs: bool) -> tuple[int, ...]:
    """The shortest input per axis (kept for callers of the old helper)."""
    return geometry.min_input_spatial(small_inputs=small_inputs)


def pool_cases(capabilities: Capabilities = ALL, *, ranks: Sequence[int] | None = None,
               operation: str = "max_pool", min_kernel: int = 1, max_kernel: int | None = None,
               min_stride: int = 1, max_stride: int | None = None, min_dilation: int = 1,
               max_dilation: int | None = None, min_padding: int = 0,
               max_padding: int | None = None, ceil_mode: bool | None = None,
               count_include_pad: bool | None = None, min_batch: int = 0,
               max_batch: int | None = None, min_channels: int = 1,
               max_channels: int | None = None, min_extra: int = 0,
               max_extra: int | None = None,
               shares: bool = True) -> st.SearchStrategy[PoolCase]:
    """A geometry from :func:`pool_geometries` (the same bounds) with an input it accepts.

    Batch as in :func:`conv_cases`; channels in ``[min_channels, max_channels]`` (omitted: 3);
    each spatial size the smallest the geometry accepts (B9; at least the whole window where
    the backend lacks ``pool_small_input``) plus an extra in ``[min_extra, max_extra]`` (6).
    ``shares`` as in :func:`conv_cases`: remainders are channel counts, thresholds channels or
    batch past 2^16 and a stride or dilation near 2^31.
    """
    plan = pool_plan(capabilities, **forwarded(pool_plan, locals()))
    batch = _batch_bound(capabilities, min_batch, max_batch)
    limit, why = limit_of(capabilities, "max_channels")
    channels = bound("channels", min_channels, max_channels, floor=1,
                     default=DEFAULT_BOUNDS["channels"], limit=limit, limit_reason=why)
    extra = bound("extra", min_extra, max_extra, floor=0, default=DEFAULT_BOUNDS["extra"])
    allow_empty = "empty_batch" in capabilities.features
    small_inputs = "pool_small_input" in capabilities.features
    special = (PoolShares.make(plan, batch, channels, extra, small_inputs) if shares
               else None)

    def ordinary(draw) -> PoolCase:
        geometry = plan.draw_with_shares(draw)
        size = _draw_batch(draw, batch, allow_empty)
        count = draw(st.integers(channels.low, channels.high))
        spatial = _extra_sizes(draw, geometry.min_input_spatial(small_inputs=small_inputs),
                               extra)
        return PoolCase(geometry, (size, count, *spatial))
    return st.composite(lambda draw: _with_shares(draw, special, ordinary))()
