"""Geometries: kernel, stride, padding, dilation, groups (and pooling options) within bounds."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from ...backends.protocol import Capabilities
from ...spec.geometry import ConvGeometry, PoolGeometry
from .base import ALL, _check_bound, _ranks


@st.composite
def _axis_params(draw, rank: int, max_kernel: int, max_stride: int, max_dilation: int,
                 dilation: bool):
    kernel = tuple(draw(st.integers(1, max_kernel)) for _ in range(rank))
    stride = tuple(draw(st.integers(1, max_stride)) for _ in range(rank))
    dil = tuple(draw(st.integers(1, max_dilation)) if dilation else 1 for _ in range(rank))
    return kernel, stride, dil


def conv_geometries(*, ranks: Sequence[int] | None = None, transposed: bool = False,
                    capabilities: Capabilities = ALL, max_kernel: int = 4, max_stride: int = 3,
                    max_dilation: int = 3, max_groups: int = 3,
                    max_channels_per_group: int = 3) -> st.SearchStrategy[ConvGeometry]:
    """Valid convolution (or transposed convolution) geometries.

    Draws groups including depthwise (``in_channels == groups``) and channel multipliers
    (``out_channels = k · groups``), asymmetric padding where the backend supports it, legal
    ``output_padding`` for transposed convolutions. Padding is at most ``effective kernel - 1``
    per side, which keeps every output position touching the input.
    """
    for name, value in (("max_kernel", max_kernel), ("max_stride", max_stride),
                        ("max_dilation", max_dilation), ("max_groups", max_groups),
                        ("max_channels_per_group", max_channels_per_group)):
        _check_bound(name, value)
    usable = _ranks(ranks, capabilities)
    op = "conv_transpose" if transposed else "conv"
    feat = capabilities.features
    dilation_ok = ("transposed_dilation" if transposed else "conv_dilation") in feat
    groups_ok = "groups" in feat
    asym_ok = "asymmetric_padding" in feat and not transposed
    out_pad_ok = "output_padding" in feat
    del op

    @st.composite
    def build(draw):
        rank = draw(st.sampled_from(usable))
        kernel, stride, dilation = draw(_axis_params(rank, max_kernel, max_stride,
                                                     max_dilation, dilation_ok))
        groups = draw(st.integers(1, max_groups)) if groups_ok else 1
        c_in = groups * draw(st.integers(1, max_channels_per_group))
        c_out = groups * draw(st.integers(1, max_channels_per_group))
        padding = []
        for k, d in zip(kernel, dilation):
            limit = d * (k - 1)
            before = draw(st.integers(0, limit))
            after = draw(st.integers(0, limit)) if asym_ok and draw(st.booleans()) else before
            padding.append((before, after))
        output_padding = tuple(
            draw(st.integers(0, max(s, d) - 1)) if transposed and out_pad_ok else 0
            for s, d in zip(stride, dilation)
        )
        bias = draw(st.booleans().map(lambda no_bias: not no_bias))
        return ConvGeometry.make(c_in, c_out, kernel, stride=stride, padding=padding,
                                 dilation=dilation, groups=groups, transposed=transposed,
                                 output_padding=output_padding, bias=bias)
    return build()

def pool_geometries(*, ranks: Sequence[int] | None = None, operation: str = "max_pool",
                    capabilities: Capabilities = ALL, max_kernel: int = 4, max_stride: int = 3,
                    max_dilation: int = 3) -> st.SearchStrategy[PoolGeometry]:
    """Valid pooling geometries: overlapping (stride < kernel) and tiling windows, padding up to
    half the window, ``ceil_mode``, dilation (max pooling) and ``count_include_pad`` (average)."""
    if operation not in ("max_pool", "avg_pool"):
        raise InvalidArgument(f"operation={operation!r} must be 'max_pool' or 'avg_pool'")
    _check_bound("max_kernel", max_kernel)
    _check_bound("max_stride", max_stride)
    _check_bound("max_dilation", max_dilation)
    usable = _ranks(ranks, capabilities)
    feat = capabilities.features
    is_max = operation == "max_pool"

    @st.composite
    def build(draw):
        rank = draw(st.sampled_from(usable))
        kernel, stride, dilation = draw(_axis_params(
            rank, max_kernel, max_stride, max_dilation, is_max and "pool_dilation" in feat))
        padding = tuple(draw(st.integers(0, (d * (k - 1) + 1) // 2
                                         if "pool_wide_padding" in feat else k // 2))
                        if "pool_padding" in feat else 0
                        for k, d in zip(kernel, dilation))
        ceil_mode = "ceil_mode" in feat and draw(st.booleans())
        include = not (not is_max and "exclude_pad" in feat and draw(st.booleans()))
        return PoolGeometry.make(kernel, stride=stride, padding=padding, dilation=dilation,
                                 ceil_mode=ceil_mode, count_include_pad=include)
    return build()
