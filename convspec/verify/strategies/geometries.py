"""Geometries: kernel, stride, padding, dilation, groups (and pooling options) within bounds.

Besides ordinary geometries, two shares are drawn by design (issue 14): *per-axis diversity*
(2-D and 3-D geometries whose kernel, stride, dilation and padding differ pairwise between the
axes, so a backend that reads one axis's parameter for another fails) and *overlap* (every
axis's stride below its effective kernel, so windows share inputs and a gradient must sum
them). Both are drawn, not filtered: distinct values come from :func:`_distinct`, which maps
each axis's drawn index to the values the earlier axes left, so they stay distinct while
Hypothesis shrinks them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from ...backends.protocol import Capabilities
from ...spec.geometry import ConvGeometry, PoolGeometry
from .base import ALL, Bound, NothingToDraw, _ranks, bound, forwarded, limit_of, record_share

#: Ordinary examples' upper bounds when a ``max_`` is omitted.
DEFAULT_BOUNDS = {"kernel": 4, "stride": 3, "dilation": 3, "groups": 3, "channels_per_group": 3,
                  "batch": 3, "channels": 3, "extra": 6}
#: One example in this many is drawn from each geometry share (diverse axes, overlap); the
#: remainder and threshold cases of :mod:`.thresholds` leave two thirds of the examples to
#: them, so each reaches about one in three.
SHARE_ONE_IN = 2


def _distinct(draw, ranges: Sequence[tuple[int, int]]) -> tuple[int, ...]:
    """One value per axis from its ``(low, high)`` range, pairwise distinct where the ranges
    allow: axis ``i`` draws an index into its range less the values already taken (so
    shrinking keeps them distinct); an axis with nothing left takes its ``low``."""
    taken: list[int] = []
    for low, high in ranges:
        free = [v for v in range(low, high + 1) if v not in taken]
        taken.append(free[draw(st.integers(0, len(free) - 1))] if free else low)
    return tuple(taken)


def _axis_values(draw, rank: int, b: Bound, diverse: bool,
                 highs: Sequence[int] | None = None) -> tuple[int, ...]:
    """``rank`` values of one parameter in ``[b.low, high]`` (``highs`` per axis)."""
    ranges = [(b.low, b.high if highs is None else max(b.low, min(b.high, h)))
              for h in (highs or [b.high] * rank)]
    if diverse:
        return _distinct(draw, ranges)
    return tuple(draw(st.integers(low, high)) for low, high in ranges)


def _flag(draw, enabled: bool) -> bool:
    """A share's flag, set in one example of :data:`SHARE_ONE_IN` (shrinks to unset)."""
    return enabled and draw(st.integers(0, SHARE_ONE_IN - 1)) == SHARE_ONE_IN - 1


#: The threshold shares' geometries: kernel up to this on the first axis (the smallest on the
#: others), strides and dilations up to this, so a count past 2^16 stays within the budget.
TINY = 2


def _kernel_stride_dilation(draw, rank: int, kernel: Bound, stride: Bound, dilation: Bound,
                            *, dilated: bool, diverse: bool, overlap: bool, tiny: bool):
    """Per-axis kernel, dilation and stride; with ``overlap`` every stride below its effective
    kernel (kernels of at least 2) where the bounds allow; ``tiny``: see :data:`TINY`."""
    if overlap and kernel.high >= 2:
        kernel = Bound(kernel.name, max(kernel.low, 2), kernel.high, kernel.limit)
    k = _axis_values(draw, rank, kernel, diverse,
                     highs=[TINY] + [kernel.low] * (rank - 1) if tiny else None)
    small = [TINY] * rank if tiny else None
    d = _axis_values(draw, rank, dilation, diverse, highs=small) if dilated else (1,) * rank
    keff = [di * (ki - 1) + 1 for ki, di in zip(k, d)]
    s = _axis_values(draw, rank, stride, diverse,
                     highs=[e - 1 for e in keff] if overlap else small)
    return k, s, d


def _axes(draw, plan: ConvPlan | PoolPlan, diverse: bool, overlap: bool, tiny: bool):
    """The rank (2 or 3 for ``diverse``, where the backend has them) and the per-axis kernel,
    stride and dilation of a plan; whether the axes are diverse after all."""
    usable = [r for r in plan.ranks if r >= 2] if diverse else list(plan.ranks)
    rank = draw(st.sampled_from(usable or list(plan.ranks)))
    diverse = diverse and rank >= 2
    a = plan.axes
    return (diverse, *_kernel_stride_dilation(draw, rank, a.kernel, a.stride, a.dilation,
                                              dilated=plan.dilated, diverse=diverse,
                                              overlap=overlap, tiny=tiny))


def _share_flags(draw, shares: bool, ranks: Sequence[int]) -> dict[str, bool]:
    flags = {"diverse": _flag(draw, shares and max(ranks) >= 2), "overlap": _flag(draw, shares)}
    for name, on in (("diverse axes", flags["diverse"]), ("overlap", flags["overlap"])):
        if on:
            record_share(name)
    return flags


def _padding(draw, ranges: Sequence[tuple[int, int]], diverse: bool,
             asymmetric: bool) -> tuple[tuple[int, int], ...]:
    before = (_distinct(draw, ranges) if diverse
              else tuple(draw(st.integers(low, high)) for low, high in ranges))
    return tuple((b, draw(st.integers(low, high)) if asymmetric and draw(st.booleans()) else b)
                 for b, (low, high) in zip(before, ranges))


def _require_feature(capabilities: Capabilities, feature: str, name: str, low: int,
                     floor: int) -> bool:
    """Whether ``feature`` may be drawn; :class:`NothingToDraw` if ``min_<name>`` needs it."""
    present = feature in capabilities.features
    if not present and low > floor:
        raise NothingToDraw(f"min_{name}={low} needs {feature}, which the backend lacks: "
                            + capabilities.reasons.get(feature, "not supported"))
    return present


@dataclass(frozen=True)
class _AxisBounds:
    """Kernel, stride, dilation and padding bounds of one strategy, checked together."""

    kernel: Bound
    stride: Bound
    dilation: Bound
    padding: Bound

    @classmethod
    def make(cls, capabilities: Capabilities, min_kernel: int, max_kernel: int | None,
             min_stride: int, max_stride: int | None, min_dilation: int,
             max_dilation: int | None, min_padding: int, max_padding: int | None
             ) -> _AxisBounds:
        limit, why = limit_of(capabilities, "max_integer_parameter")
        common = {"limit": limit, "limit_reason": why}
        return cls(bound("kernel", min_kernel, max_kernel, floor=1,
                         default=DEFAULT_BOUNDS["kernel"], **common),
                   bound("stride", min_stride, max_stride, floor=1,
                         default=DEFAULT_BOUNDS["stride"], **common),
                   bound("dilation", min_dilation, max_dilation, floor=1,
                         default=DEFAULT_BOUNDS["dilation"], **common),
                   # Ordinary padding is at most the geometry's natural limit per axis.
                   bound("padding", min_padding, max_padding, floor=0, default=2 ** 62,
                         **common))

    def padding_ranges(self, natural: Sequence[int]) -> list[tuple[int, int]]:
        low = self.padding.low
        return [(low, max(low, min(self.padding.high, n))) for n in natural]


@dataclass(frozen=True)
class ConvPlan:
    """Everything :func:`conv_geometries` draws from, validated once when it is built."""

    ranks: tuple[int, ...]
    transposed: bool
    axes: _AxisBounds
    groups: Bound
    channels_per_group: Bound
    dilated: bool
    grouped: bool
    asymmetric: bool
    output_padding: bool
    shares: bool

    def draw(self, draw, *, diverse: bool = False, overlap: bool = False,
             channels: tuple[int, int] | None = None, groups: int | None = None,
             tiny: bool = False) -> ConvGeometry:
        """One geometry; ``channels`` fixes the channels per group (in, out), ``groups`` the
        groups, ``tiny`` the threshold shares' small axes (:data:`TINY`)."""
        diverse, kernel, stride, dilation = _axes(draw, self, diverse, overlap, tiny)
        a = self.axes
        if groups is None:
            groups = draw(st.integers(self.groups.low, self.groups.high)) if self.grouped else 1
        if channels is None:
            c = self.channels_per_group
            channels = (draw(st.integers(c.low, c.high)), draw(st.integers(c.low, c.high)))
        natural = [d * (k - 1) for k, d in zip(kernel, dilation)]
        padding = _padding(draw, a.padding_ranges(natural), diverse, self.asymmetric)
        output_padding = tuple(
            draw(st.integers(0, max(s, d) - 1)) if self.transposed and self.output_padding else 0
            for s, d in zip(stride, dilation))
        bias = draw(st.booleans().map(lambda no_bias: not no_bias))
        return ConvGeometry.make(groups * channels[0], groups * channels[1], kernel,
                                 stride=stride, padding=padding, dilation=dilation,
                                 groups=groups, transposed=self.transposed,
                                 output_padding=output_padding, bias=bias)

    def draw_with_shares(self, draw, *, channels: tuple[int, int] | None = None,
                         groups: int | None = None) -> ConvGeometry:
        """:meth:`draw` with the geometry shares' flags drawn first (see the module)."""
        return self.draw(draw, **_share_flags(draw, self.shares, self.ranks),
                         channels=channels, groups=groups)


def conv_plan(capabilities: Capabilities = ALL, *, ranks: Sequence[int] | None = None,
              transposed: bool = False, min_kernel: int = 1, max_kernel: int | None = None,
              min_stride: int = 1, max_stride: int | None = None, min_dilation: int = 1,
              max_dilation: int | None = None, min_groups: int = 1,
              max_groups: int | None = None, min_channels_per_group: int = 1,
              max_channels_per_group: int | None = None, min_padding: int = 0,
              max_padding: int | None = None, shares: bool = True) -> ConvPlan:
    """The checked bounds of :func:`conv_geometries` (same arguments)."""
    usable = _ranks(ranks, capabilities)
    axes = _AxisBounds.make(capabilities, min_kernel, max_kernel, min_stride, max_stride,
                            min_dilation, max_dilation, min_padding, max_padding)
    group_limit, group_why = limit_of(capabilities, "max_groups")
    groups = bound("groups", min_groups, max_groups, floor=1, default=DEFAULT_BOUNDS["groups"],
                   limit=group_limit, limit_reason=group_why)
    channel_limit, channel_why = limit_of(capabilities, "max_channels")
    per_group = bound("channels_per_group", min_channels_per_group, max_channels_per_group,
                      floor=1, default=DEFAULT_BOUNDS["channels_per_group"])
    if channel_limit is not None and groups.low * per_group.low > channel_limit:
        raise NothingToDraw(f"min_groups={groups.low} with min_channels_per_group="
                            f"{per_group.low} is above the backend's limit of {channel_limit} "
                            f"channels ({channel_why})")
    if channel_limit is not None:
        per_group = Bound(per_group.name, per_group.low,
                          max(per_group.low, min(per_group.high,
                                                 channel_limit // max(groups.high, 1))),
                          channel_limit // groups.low if per_group.limit is None
                          else min(per_group.limit, channel_limit // groups.low))
    features = capabilities.features
    dilated = _require_feature(capabilities, "transposed_dilation" if transposed
                               else "conv_dilation", "dilation", min_dilation, 1)
    grouped = _require_feature(capabilities, "groups", "groups", min_groups, 1)
    return ConvPlan(tuple(usable), transposed, axes, groups, per_group, dilated, grouped,
                    "asymmetric_padding" in features and not transposed,
                    "output_padding" in features, shares)


def conv_geometries(capabilities: Capabilities = ALL, *, ranks: Sequence[int] | None = None,
                    transposed: bool = False, min_kernel: int = 1,
                    max_kernel: int | None = None, min_stride: int = 1,
                    max_stride: int | None = None, min_dilation: int = 1,
                    max_dilation: int | None = None, min_groups: int = 1,
                    max_groups: int | None = None, min_channels_per_group: int = 1,
                    max_channels_per_group: int | None = None, min_padding: int = 0,
                    max_padding: int | None = None,
                    shares: bool = True) -> st.SearchStrategy[ConvGeometry]:
    """Valid convolution (or transposed convolution) geometries.

    Per axis: kernel in ``[min_kernel, max_kernel]`` (omitted: 4), stride in
    ``[min_stride, max_stride]`` (3), dilation in ``[min_dilation, max_dilation]`` (3, where
    the backend dilates), padding per side in ``[min_padding, max_padding]`` and at most the
    effective kernel less one, ``d(k-1)`` (B7), which keeps every output touching the input;
    ``groups`` in ``[min_groups, max_groups]`` (3) with ``[min_channels_per_group,
    max_channels_per_group]`` (3) input and output channels per group, so depthwise layers
    (``in_channels == groups``) and channel multipliers (``out_channels = k · groups``) come
    up (B14). Asymmetric padding where the backend supports it, legal ``output_padding``
    (``< max(stride, dilation)``, B10) for transposed convolutions. With ``shares``, one
    example in three has pairwise different per-axis parameters (2-D and 3-D), and one in
    three overlapping windows (see the module docstring). Nothing past the backend's declared
    limits (``Capabilities.max_groups``, ``max_channels``, ``max_integer_parameter``).
    """
    plan = conv_plan(capabilities, **forwarded(conv_plan, locals()))
    return st.composite(lambda draw: plan.draw_with_shares(draw))()


@dataclass(frozen=True)
class PoolPlan:
    """Everything :func:`pool_geometries` draws from, validated once when it is built."""

    ranks: tuple[int, ...]
    operation: str
    axes: _AxisBounds
    dilated: bool
    padded: bool
    wide: bool
    ceil_mode: tuple[bool, ...]
    count_include_pad: tuple[bool, ...]
    shares: bool

    def draw(self, draw, *, diverse: bool = False, overlap: bool = False,
             tiny: bool = False) -> PoolGeometry:
        diverse, kernel, stride, dilation = _axes(draw, self, diverse, overlap, tiny)
        a = self.axes
        natural = [((d * (k - 1) + 1) // 2 if self.wide else k // 2) if self.padded else 0
                   for k, d in zip(kernel, dilation)]
        ranges = a.padding_ranges(natural)
        padding = (_distinct(draw, ranges) if diverse
                   else tuple(draw(st.integers(low, high)) for low, high in ranges))
        ceil_mode = draw(st.sampled_from(self.ceil_mode))
        include = draw(st.sampled_from(self.count_include_pad))
        return PoolGeometry.make(kernel, stride=stride, padding=padding, dilation=dilation,
                                 ceil_mode=ceil_mode, count_include_pad=include)

    def draw_with_shares(self, draw) -> PoolGeometry:
        """:meth:`draw` with the geometry shares' flags drawn first (see the module)."""
        return self.draw(draw, **_share_flags(draw, self.shares, self.ranks))


def _option(capabilities: Capabilities, value: bool | None, feature: str, name: str,
            needs: bool) -> tuple[bool, ...]:
    """The values a pooling flag is drawn from: ``(False, True)`` where the backend has
    ``feature`` (the value that needs it second, so it shrinks away), or the one asked for."""
    if value is not None and not isinstance(value, bool):
        raise InvalidArgument(f"{name}={value!r} must be True, False or None (drawn)")
    present = feature in capabilities.features
    if value is needs and not present:
        raise NothingToDraw(f"{name}={value} needs {feature}, which the backend lacks: "
                            + capabilities.reasons.get(feature, "not supported"))
    if value is not None:
        return (value,)
    return (not needs, needs) if present else (not needs,)


def pool_plan(capabilities: Capabilities = ALL, *, ranks: Sequence[int] | None = None,
              operation: str = "max_pool", min_kernel: int = 1, max_kernel: int | None = None,
              min_stride: int = 1, max_stride: int | None = None, min_dilation: int = 1,
              max_dilation: int | None = None, min_padding: int = 0,
              max_padding: int | None = None, ceil_mode: bool | None = None,
              count_include_pad: bool | None = None, shares: bool = True) -> PoolPlan:
    """The checked bounds of :func:`pool_geometries` (same arguments)."""
    if operation not in ("max_pool", "avg_pool"):
        raise InvalidArgument(f"operation={operation!r} must be 'max_pool' or 'avg_pool'")
    usable = _ranks(ranks, capabilities)
    axes = _AxisBounds.make(capabilities, min_kernel, max_kernel, min_stride, max_stride,
                            min_dilation, max_dilation, min_padding, max_padding)
    is_max = operation == "max_pool"
    if is_max and count_include_pad is not None:
        raise InvalidArgument(f"count_include_pad={count_include_pad!r}: only average pooling "
                              "counts padding; leave it None for max pooling")
    if not is_max and min_dilation > 1:
        raise InvalidArgument(f"min_dilation={min_dilation}: average pooling has no dilation")
    dilated = is_max and _require_feature(capabilities, "pool_dilation", "dilation",
                                          min_dilation, 1)
    padded = _require_feature(capabilities, "pool_padding", "padding", min_padding, 0)
    include = ((True,) if is_max else
               _option(capabilities, count_include_pad, "exclude_pad", "count_include_pad",
                       needs=False))
    return PoolPlan(tuple(usable), operation, axes, dilated, padded,
                    "pool_wide_padding" in capabilities.features,
                    _option(capabilities, ceil_mode, "ceil_mode", "ceil_mode", needs=True),
                    include, shares)


def pool_geometries(capabilities: Capabilities = ALL, *, ranks: Sequence[int] | None = None,
                    operation: str = "max_pool", min_kernel: int = 1,
                    max_kernel: int | None = None, min_stride: int = 1,
                    max_stride: int | None = None, min_dilation: int = 1,
                    max_dilation: int | None = None, min_padding: int = 0,
                    max_padding: int | None = None, ceil_mode: bool | None = None,
                    count_include_pad: bool | None = None,
                    shares: bool = True) -> st.SearchStrategy[PoolGeometry]:
    """Valid pooling geometries (B9, G1, G2): overlapping (stride < kernel) and tiling windows.

    Per axis: kernel in ``[min_kernel, max_kernel]`` (omitted: 4), stride in
    ``[min_stride, max_stride]`` (3), dilation in ``[min_dilation, max_dilation]`` (3; max
    pooling where the backend dilates), padding in ``[min_padding, max_padding]`` and at most
    half the window (the undilated one unless the backend has ``pool_wide_padding``).
    ``ceil_mode`` and (average pooling) ``count_include_pad``: ``None`` draws both where the
    backend supports them, ``True``/``False`` fixes them. ``shares`` as in
    :func:`conv_geometries`.
    """
    plan = pool_plan(capabilities, **forwarded(pool_plan, locals()))
    return st.composite(lambda draw: plan.draw_with_shares(draw))()
