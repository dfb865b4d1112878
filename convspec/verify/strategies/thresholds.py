"""Designed shares of cases: vector-width remainders and index-width thresholds (issue 14).

Bugs that trackers keep reporting sit where sampled small cases never go:

- **Remainders**: channels per group that are no multiple of a kernel's vector width (8, 16,
  32) with more than one full block, :data:`REMAINDER_CHANNELS` (9-15, 17-31, 33-40), on the
  input side (the reduction), the output side or both.
- **Thresholds**: output channels, groups (depthwise) or batch past 2^16
  (:data:`PAST_2_16`: a 16-bit counter or grid dimension), and a stride or dilation near
  2^31 (:data:`NEAR_2_31`: ``start + dilation·k`` overflows int32) on tiny tensors.

Each case keeps its arrays (x, w, b, dy and the backend's y, counted in float64) within
:data:`MEMORY_BUDGET`, never goes past the strategy's explicit bounds or the backend's declared
limits (``Capabilities.max_channels``, ``max_groups``, ``max_batch``,
``max_integer_parameter``), and stays cheap for the reference: a huge dilation only on an axis
of kernel 1, a huge transposed stride only on an input of length 1, no huge padding (the
reference pads its input into a buffer, so padding near 2^31 would allocate gigabytes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hypothesis import strategies as st

from ...backends.protocol import Capabilities
from ...spec.geometry import ConvGeometry, PoolGeometry, volume
from .base import Bound, limit_of, record_share
from .geometries import ConvPlan, PoolPlan

#: Bytes one share case's arrays may take (x, w, b, dy and the backend's y, in float64).
MEMORY_BUDGET = 8 * 2 ** 20
#: Counts past 2^16 drawn for channels, groups and batch (16-bit counters overflow there).
PAST_2_16 = (2 ** 16 + 1, 2 ** 16 + 16)
#: Integer parameters near 2^31 (int32 overflows at 2^31).
NEAR_2_31 = (2 ** 31 - 4, 2 ** 31 + 3)
#: Channels per group crossing the vector widths 8, 16 and 32 with more than one full block.
REMAINDER_CHANNELS = (*range(9, 16), *range(17, 32), *range(33, 41))
#: How far a share case's spatial sizes go past the smallest the geometry accepts.
SHARE_EXTRA = 2
_BYTES = 8  # float64, the widest dtype drawn


def conv_case_bytes(geometry: ConvGeometry, input_shape: Sequence[int]) -> int:
    """Bytes of a convolution example's arrays in float64: x, w, b, dy and the backend's y."""
    bias = geometry.out_channels if geometry.bias else 0
    return _BYTES * (volume(input_shape) + volume(geometry.weight_shape) + bias
                     + 2 * volume(geometry.output_shape(input_shape)))


def pool_case_bytes(geometry: PoolGeometry, input_shape: Sequence[int]) -> int:
    """Bytes of a pooling example's arrays in float64: x, dy and the backend's y."""
    return _BYTES * (volume(input_shape) + 2 * volume(geometry.output_shape(input_shape)))


def spatial_within_budget(draw, lows: Sequence[int], extra: Bound,
                          size_of: Callable[[tuple[int, ...]], int],
                          budget: int = MEMORY_BUDGET) -> tuple[int, ...]:
    """Per axis its smallest size plus an extra from ``[extra.low, extra.low + SHARE_EXTRA]``
    (within ``extra``), each axis's top cut so that ``size_of(spatial)`` stays within
    ``budget`` with the later axes at their smallest."""
    sizes = [low + extra.low for low in lows]
    for axis in range(len(sizes)):
        top = extra.low
        for more in range(extra.low + 1, min(extra.high, extra.low + SHARE_EXTRA) + 1):
            trial = list(sizes)
            trial[axis] = lows[axis] + more
            if size_of(tuple(trial)) > budget:
                break
            top = more
        sizes[axis] = lows[axis] + draw(st.integers(extra.low, top))
    return tuple(sizes)


def exact_sizes(draw, geometry: ConvGeometry, max_extra: int) -> tuple[int, ...]:
    """Inputs the windows tile exactly (B1's division exact; no input position past the last
    window): an output drawn up to ``max_extra // stride`` past the smallest, and its input."""
    outputs = tuple(o + draw(st.integers(0, max_extra // s)) for o, s in
                    zip(geometry.output_spatial(geometry.min_input_spatial()), geometry.stride))
    spatial = geometry.input_spatial_for(outputs)
    # Where the smallest input is clamped to 1 the windows leave a remainder; one more
    # output removes it.
    leftover = geometry.adjoint_for(spatial).output_padding
    return geometry.input_spatial_for(tuple(o + (r > 0) for o, r in zip(outputs, leftover)))


def _count(draw, b: Bound, top: int | None = None) -> int:
    """A count past 2^16 within ``b`` (and ``top``)."""
    low, high = b.clip(*PAST_2_16)
    return draw(st.integers(low, high if top is None else min(high, top)))


def _small(draw, b: Bound, top: int = 2) -> int:
    return draw(st.integers(b.low, max(b.low, min(b.high, top))))


def _with_huge_axis(draw, geometry, kind: str, value_bound: Bound, min_padding: int):
    """``geometry`` with one drawn axis's stride (or dilation, on a kernel of 1) near 2^31."""
    axis = draw(st.integers(0, geometry.ndim - 1))
    value = draw(st.integers(*value_bound.clip(*NEAR_2_31)))
    kernel, stride, dilation = (list(geometry.kernel), list(geometry.stride),
                                list(geometry.dilation))
    padding = list(geometry.padding)
    if kind == "stride":
        stride[axis] = value
    else:
        kernel[axis], dilation[axis] = 1, value
        padding[axis] = (min_padding, min_padding) if isinstance(padding[axis], tuple) \
            else min_padding
    if isinstance(geometry, PoolGeometry):
        return PoolGeometry.make(tuple(kernel), stride=tuple(stride), padding=tuple(padding),
                                 dilation=tuple(dilation), ceil_mode=geometry.ceil_mode,
                                 count_include_pad=geometry.count_include_pad)
    output_padding = list(geometry.output_padding)
    if geometry.transposed:  # a length-1 input keeps the output small; no crop needed
        padding[axis] = (0, 0)
        output_padding[axis] = draw(st.integers(0, min(1, max(stride[axis],
                                                              dilation[axis]) - 1)))
    return ConvGeometry.make(geometry.in_channels, geometry.out_channels, tuple(kernel),
                             stride=tuple(stride), padding=tuple(padding),
                             dilation=tuple(dilation), groups=geometry.groups,
                             transposed=geometry.transposed,
                             output_padding=tuple(output_padding), bias=geometry.bias)


def _integer_kinds(axes, *, dilated: bool, allowed: bool, padded_kernel_one: bool
                   ) -> list[str]:
    """``stride`` and ``dilation`` where the bounds reach :data:`NEAR_2_31` (the huge
    dilation needs a kernel of 1 and, unless ``padded_kernel_one``, no padding there)."""
    kinds = []
    if allowed and axes.stride.allows(NEAR_2_31[0]):
        kinds.append("stride")
    if (allowed and dilated and axes.dilation.allows(NEAR_2_31[0]) and axes.kernel.low == 1
            and (padded_kernel_one or axes.padding.low == 0)):
        kinds.append("dilation")
    return kinds


def _sample_batch(draw, b: Bound) -> int:
    """The batch of a share case that is not about the batch: 1 (or the bound's)."""
    low = b.low if b.high == 0 else max(1, b.low)
    return draw(st.integers(low, max(low, min(b.high, 1))))


@dataclass(frozen=True)
class ConvShares:
    """The remainder and threshold shares of :func:`~convspec.verify.strategies.conv_cases`:
    which of them the bounds and the backend's limits leave, and how to draw each."""

    plan: ConvPlan
    batch: Bound
    extra: Bound
    kinds: tuple[str, ...]
    remainders: tuple[int, ...]
    channel_limit: int | None
    exact: bool

    @classmethod
    def make(cls, plan: ConvPlan, batch: Bound, extra: Bound, capabilities: Capabilities,
             exact: bool = False) -> ConvShares:
        """``exact``: inputs the windows tile exactly (which a stride near 2^31 cannot have
        cheaply: its exact input may be 2^31 long)."""
        channel_limit, _ = limit_of(capabilities, "max_channels")
        per_group, groups, axes = plan.channels_per_group, plan.groups, plan.axes
        kinds = []
        if groups.low == 1 and per_group.allows(PAST_2_16[0]):
            kinds.append("out_channels")
        if (plan.grouped and groups.allows(PAST_2_16[0])
                and (channel_limit is None
                     or PAST_2_16[0] * per_group.low <= channel_limit)):
            kinds.append("groups")
        if batch.allows(PAST_2_16[0]):
            kinds.append("batch")
        # A transposed convolution's huge axis needs an input of 1 and no padding there.
        kinds += _integer_kinds(axes, dilated=plan.dilated, padded_kernel_one=True,
                                allowed=not plan.transposed
                                or (axes.padding.low == 0 and extra.low == 0))
        if exact:
            kinds = [kind for kind in kinds if kind != "stride"]
        remainders = tuple(c for c in REMAINDER_CHANNELS if per_group.allows(c, c))
        return cls(plan, batch, extra, tuple(kinds), remainders, channel_limit, exact)

    def _case(self, draw, geometry: ConvGeometry, batch: int):
        from .cases import ConvCase  # cases builds on this module

        if self.exact:
            spatial = exact_sizes(draw, geometry, 0)
            return ConvCase(geometry, (batch, geometry.in_channels, *spatial))
        spatial = spatial_within_budget(
            draw, geometry.min_input_spatial(), self.extra,
            lambda s: conv_case_bytes(geometry, (batch, geometry.in_channels, *s)))
        return ConvCase(geometry, (batch, geometry.in_channels, *spatial))

    def draw_remainder(self, draw):
        """Channels per group from :data:`REMAINDER_CHANNELS` on the input side, the output
        side or both, one or two groups, the rest an ordinary geometry."""
        record_share("remainder")
        side = draw(st.sampled_from(("in", "out", "both")))
        c = self.plan.channels_per_group
        ordinary = (_small(draw, c, c.high), _small(draw, c, c.high))
        wide = draw(st.sampled_from(self.remainders))
        channels = (wide if side != "out" else ordinary[0],
                    wide if side != "in" else ordinary[1])
        top = 2 if self.channel_limit is None else min(2, self.channel_limit // wide)
        groups = _small(draw, self.plan.groups, top) if self.plan.grouped else 1
        geometry = self.plan.draw_with_shares(draw, channels=channels, groups=groups)
        return self._case(draw, geometry, _sample_batch(draw, self.batch))

    def draw_threshold(self, draw):
        """One of :attr:`kinds`: a count past 2^16 or an integer parameter near 2^31."""
        kind = draw(st.sampled_from(self.kinds))
        record_share(f"threshold {kind}")
        plan, c = self.plan, self.plan.channels_per_group
        groups, channels = plan.groups.low, (c.low, c.low)
        if kind == "out_channels":
            groups, channels = 1, (_small(draw, c), _count(draw, c))
        elif kind == "groups":
            top = None if self.channel_limit is None else self.channel_limit // c.low
            groups = _count(draw, plan.groups, top)
        geometry = plan.draw(draw, groups=groups, channels=channels, tiny=True)
        if kind in ("stride", "dilation"):
            bound = plan.axes.stride if kind == "stride" else plan.axes.dilation
            geometry = _with_huge_axis(draw, geometry, kind, bound, plan.axes.padding.low)
        batch = _count(draw, self.batch) if kind == "batch" else _sample_batch(draw, self.batch)
        return self._case(draw, geometry, batch)


@dataclass(frozen=True)
class PoolShares:
    """The remainder and threshold shares of :func:`~convspec.verify.strategies.pool_cases`."""

    plan: PoolPlan
    batch: Bound
    channels: Bound
    extra: Bound
    small_inputs: bool
    kinds: tuple[str, ...]
    remainders: tuple[int, ...]

    @classmethod
    def make(cls, plan: PoolPlan, batch: Bound, channels: Bound, extra: Bound,
             small_inputs: bool) -> PoolShares:
        kinds = [name for name, b in (("channels", channels), ("batch", batch))
                 if b.allows(PAST_2_16[0])]
        kinds += _integer_kinds(plan.axes, dilated=plan.dilated, allowed=True,
                                padded_kernel_one=False)
        remainders = tuple(c for c in REMAINDER_CHANNELS if channels.allows(c, c))
        return cls(plan, batch, channels, extra, small_inputs, tuple(kinds), remainders)

    def _case(self, draw, geometry: PoolGeometry, batch: int, channels: int):
        from .cases import PoolCase  # cases builds on this module

        spatial = spatial_within_budget(
            draw, geometry.min_input_spatial(small_inputs=self.small_inputs), self.extra,
            lambda s: pool_case_bytes(geometry, (batch, channels, *s)))
        return PoolCase(geometry, (batch, channels, *spatial))

    def draw_remainder(self, draw):
        record_share("remainder")
        geometry = self.plan.draw_with_shares(draw)
        return self._case(draw, geometry, _sample_batch(draw, self.batch),
                          draw(st.sampled_from(self.remainders)))

    def draw_threshold(self, draw):
        kind = draw(st.sampled_from(self.kinds))
        record_share(f"threshold {kind}")
        geometry = self.plan.draw(draw, tiny=True)
        if kind in ("stride", "dilation"):
            bound = self.plan.axes.stride if kind == "stride" else self.plan.axes.dilation
            geometry = _with_huge_axis(draw, geometry, kind, bound, self.plan.axes.padding.low)
        batch = _count(draw, self.batch) if kind == "batch" else _sample_batch(draw, self.batch)
        channels = (_count(draw, self.channels) if kind == "channels"
                    else _small(draw, self.channels, 1))
        return self._case(draw, geometry, batch, channels)
