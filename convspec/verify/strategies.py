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
:class:`convspec.backends.Capabilities`; features, dtypes and ranks outside it are never drawn.
"""

from __future__ import annotations

import functools
import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from ..backends.protocol import DTYPES, Capabilities
from ..spec.dtypes import INTEGER_LIMITS, numpy_dtype, seeded_tensor
from ..spec.geometry import ConvGeometry, PoolGeometry

__all__ = [
    "ConvCase", "PoolCase", "InvalidConvCase", "conv_geometries", "pool_geometries",
    "conv_cases", "pool_cases", "network_conv_cases", "tensors", "dtypes",
    "invalid_conv_cases", "seeded_tensor", "INTEGER_LIMITS", "ConvExample", "PoolExample",
    "conv_examples", "pool_examples", "NothingToDraw",
]

ALL = Capabilities()


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


def _check_bound(name: str, value: int, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidArgument(f"{name}={value!r} must be an integer >= {minimum}")
    return value


def _ranks(ranks: Sequence[int] | None, capabilities: Capabilities) -> list[int]:
    chosen = sorted(capabilities.ranks if ranks is None else set(ranks))
    for r in chosen:
        if r not in (1, 2, 3):
            raise InvalidArgument(f"ranks={ranks!r}: spatial ranks are 1, 2 or 3")
    usable = [r for r in chosen if r in capabilities.ranks]
    if not usable:
        raise InvalidArgument(
            f"ranks={ranks!r} leaves nothing the backend supports (it supports "
            f"{sorted(capabilities.ranks)})"
        )
    return usable


class NothingToDraw(InvalidArgument):
    """The capabilities (narrowed by a selection such as ``verify --dtype``) leave nothing for a
    strategy to draw. Not a usage error: the property has nothing to check on this backend, and
    the pytest plugin skips it with this message as the reason."""


def dtypes(capabilities: Capabilities = ALL,
           allowed: Sequence[str] | None = None) -> st.SearchStrategy[str]:
    """Dtype names the backend supports, float64 first so failures shrink to it.

    ``allowed`` narrows them to the dtypes a property can use. When nothing is left,
    :class:`NothingToDraw` says for each dtype why it was left out.
    """
    if allowed is not None:
        unknown = sorted(set(allowed) - set(DTYPES))
        if unknown:
            raise InvalidArgument(f"allowed={tuple(allowed)!r}: unknown dtypes {unknown}; "
                                  f"choose from {DTYPES}")
    names = [d for d in DTYPES if d in capabilities.dtypes and (allowed is None or d in allowed)]
    if not names:
        why = []
        for d in DTYPES:
            if allowed is not None and d not in allowed:
                continue
            why.append(f"{d}: {capabilities.reasons.get(f'dtype:{d}', 'not supported')}")
        only = "" if allowed is None else f"this property runs in {', '.join(allowed)} only; "
        raise NothingToDraw(f"no dtype to draw: {only}{'; '.join(why)}")
    return st.sampled_from(names)


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
    from ..spec.models import NETWORKS  # imported lazily: model tables are only needed here

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


#: Tensors with more elements than this are generated from a drawn seed, not element by element.
ELEMENTWISE_LIMIT = 48


def tensors(dtype: str, shape: Sequence[int], *,
            elements: str = "integer") -> st.SearchStrategy[np.ndarray]:
    """Arrays of ``shape`` in ``dtype``.

    ``elements="integer"``: integer values small enough (:data:`INTEGER_LIMITS`) that products
    and sums of the sizes drawn here are exact in the dtype, so a correct direct algorithm gives
    the exact result. ``elements="real"``: values in [-1, 1] that are not exactly summable.
    Small arrays are drawn element by element (they shrink to zeros and small integers); arrays
    above :data:`ELEMENTWISE_LIMIT` elements come from a drawn seed (see :func:`seeded_tensor`).
    """
    if dtype not in DTYPES:
        raise InvalidArgument(f"dtype={dtype!r} must be one of {DTYPES}")
    if elements not in ("integer", "real"):
        raise InvalidArgument(f"elements={elements!r} must be 'integer' or 'real'")
    shape = tuple(shape)
    if any(not isinstance(n, int) or n < 0 for n in shape):
        raise InvalidArgument(f"shape={shape!r} must be non-negative ints")
    size = math.prod(shape)
    np_dtype = numpy_dtype(dtype)
    if size <= ELEMENTWISE_LIMIT:
        if elements == "integer":
            limit = INTEGER_LIMITS[dtype]
            values = st.integers(-limit, limit).map(float)
        else:
            values = st.floats(-1.0, 1.0, allow_nan=False, width=32 if dtype == "float32" else 64)
        return st.lists(values, min_size=size, max_size=size).map(
            lambda v: np.asarray(v, dtype=np.float64).reshape(shape).astype(np_dtype))
    return st.integers(0, 2 ** 32 - 1).map(lambda s: seeded_tensor(s, shape, dtype, elements))


@dataclass(frozen=True)
class InvalidConvCase:
    """A convolution call that must be rejected, and which rule it breaks."""

    kind: str
    input_shape: tuple[int, ...]
    weight_shape: tuple[int, ...]
    kwargs: dict
    transposed: bool = False


INVALID_KINDS = ("channels", "groups", "kernel_too_large", "rank", "output_padding")


def invalid_conv_cases(*, capabilities: Capabilities = ALL,
                       kinds: Sequence[str] = INVALID_KINDS) -> st.SearchStrategy[InvalidConvCase]:
    """Calls a correct backend must reject: input channels that do not match the weight,
    ``groups`` that do not divide the channels, a kernel larger than the padded input, an input
    of the wrong rank, or (transposed) ``output_padding >= max(stride, dilation)``."""
    for kind in kinds:
        if kind not in INVALID_KINDS:
            raise InvalidArgument(f"kind {kind!r} is not one of {INVALID_KINDS}")
    valid = conv_cases(capabilities=capabilities, real_layers=False)
    transposed_ok = "conv_transpose" in capabilities.operations
    conv_ok = "conv" in capabilities.operations

    @st.composite
    def build(draw):
        kind = draw(st.sampled_from(list(kinds)))
        transposed = kind == "output_padding" or (transposed_ok and not conv_ok)
        case = draw(conv_cases(capabilities=capabilities, real_layers=False,
                               transposed=True) if transposed else valid)
        g = case.geometry
        shape, wshape, kwargs = list(case.input_shape), list(g.weight_shape), dict(g.kwargs())
        shape[0] = max(shape[0], 1)
        if kind == "channels":
            shape[1] += draw(st.integers(1, 3)) * max(g.groups, 1)
            if shape[1] == g.in_channels:
                shape[1] += 1
        elif kind == "groups":
            c = g.in_channels
            bad = [k for k in range(2, c + 2) if c % k]
            groups = draw(st.sampled_from(bad))
            kwargs["groups"] = groups
        elif kind == "kernel_too_large":
            axis = draw(st.integers(0, g.ndim - 1))
            if transposed:
                kwargs["padding"] = tuple(
                    p + (shape[2 + axis] * g.stride[axis] + g.effective_kernel[axis]
                         + max(g.stride[axis], g.dilation[axis]) if i == axis else 0)
                    for i, p in enumerate(kwargs["padding"]))
            else:
                pad = g.padding[axis]
                wshape[2 + axis] = shape[2 + axis] + pad[0] + pad[1] + 1
                kwargs["dilation"] = tuple(1 if i == axis else d
                                           for i, d in enumerate(kwargs["dilation"]))
        elif kind == "rank":
            shape = shape + [1] if draw(st.booleans()) else shape[:-1]
        elif kind == "output_padding":
            axis = draw(st.integers(0, g.ndim - 1))
            kwargs["output_padding"] = tuple(
                max(s, d) + draw(st.integers(0, 1)) if i == axis else op
                for i, (s, d, op) in enumerate(zip(g.stride, g.dilation, g.output_padding)))
        return InvalidConvCase(kind, tuple(shape), tuple(wshape), kwargs, transposed)
    return build()


def _array_repr(name: str, value: np.ndarray | None) -> str:
    if value is None:
        return f"{name}=None"
    if value.size <= ELEMENTWISE_LIMIT:
        return f"{name}=np.array({value.astype(np.float64).tolist()!r})"
    return f"{name}=<{value.dtype} array of shape {value.shape}>"


@dataclass(frozen=True, repr=False)
class ConvExample:
    """A convolution case with its dtype and arrays (``dy`` sized for the output)."""

    case: ConvCase
    dtype: str
    x: np.ndarray
    w: np.ndarray
    b: np.ndarray | None
    dy: np.ndarray

    @property
    def geometry(self) -> ConvGeometry:
        return self.case.geometry

    @property
    def kwargs(self) -> dict:
        return self.geometry.kwargs()

    def __repr__(self) -> str:
        arrays = ", ".join(_array_repr(n, getattr(self, n)) for n in ("x", "w", "b", "dy"))
        return f"ConvExample({self.case!r}, dtype={self.dtype!r}, {arrays})"


@dataclass(frozen=True, repr=False)
class PoolExample:
    """A pooling case with its dtype, input and output cotangent."""

    case: PoolCase
    dtype: str
    x: np.ndarray
    dy: np.ndarray

    @property
    def geometry(self) -> PoolGeometry:
        return self.case.geometry

    def __repr__(self) -> str:
        arrays = ", ".join(_array_repr(n, getattr(self, n)) for n in ("x", "dy"))
        return f"PoolExample({self.case!r}, dtype={self.dtype!r}, {arrays})"


def _freeze(value: Any) -> Any:
    if isinstance(value, (list, tuple, set, frozenset)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    return value


def _built_once(function: Callable[..., st.SearchStrategy]) -> Callable[..., st.SearchStrategy]:
    """Reuse a strategy built from the same capabilities object and options.

    Properties build their strategies inside the test, once per example and once per shrink
    step; building one composes several ``@st.composite`` functions, whose source Hypothesis
    inspects each time (half the time of a shrink, measured). The cache holds the
    capabilities object itself, so an id is never mistaken for another's."""
    cache: OrderedDict[tuple, tuple[Capabilities, st.SearchStrategy]] = OrderedDict()

    @functools.wraps(function)
    def wrapper(capabilities: Capabilities = ALL, **options: Any) -> st.SearchStrategy:
        key = (id(capabilities), _freeze(options))
        hit = cache.get(key)
        if hit is not None and hit[0] is capabilities:
            cache.move_to_end(key)
            return hit[1]
        strategy = function(capabilities, **options)
        cache[key] = (capabilities, strategy)
        if len(cache) > 256:
            cache.popitem(last=False)
        return strategy
    return wrapper


@_built_once
def conv_examples(capabilities: Capabilities = ALL, *, transposed: bool = False,
                  elements: str = "integer", allowed_dtypes: Sequence[str] | None = None,
                  **case_options) -> st.SearchStrategy[ConvExample]:
    """A :class:`ConvExample`: a case from :func:`conv_cases`, a supported dtype, and arrays."""
    cases = conv_cases(capabilities=capabilities, transposed=transposed, **case_options)
    dtype_choice = dtypes(capabilities, allowed_dtypes)

    @st.composite
    def build(draw):
        case = draw(cases)
        dtype = draw(dtype_choice)
        g = case.geometry
        x = draw(tensors(dtype, case.input_shape, elements=elements))
        w = draw(tensors(dtype, g.weight_shape, elements=elements))
        b = draw(tensors(dtype, g.bias_shape, elements=elements)) if g.bias else None
        dy = draw(tensors(dtype, case.output_shape, elements=elements))
        return ConvExample(case, dtype, x, w, b, dy)
    return build()


@_built_once
def pool_examples(capabilities: Capabilities = ALL, *, operation: str = "max_pool",
                  elements: str = "integer", allowed_dtypes: Sequence[str] | None = None,
                  **case_options) -> st.SearchStrategy[PoolExample]:
    """A :class:`PoolExample`; ``elements="distinct"`` gives inputs without ties, so the
    arg-max of every max-pooling window is unique."""
    cases = pool_cases(capabilities=capabilities, operation=operation, **case_options)
    dtype_choice = dtypes(capabilities, allowed_dtypes)

    @st.composite
    def build(draw):
        case = draw(cases)
        dtype = draw(dtype_choice)
        if elements == "distinct":
            size = math.prod(case.input_shape)
            seed = draw(st.integers(0, 2 ** 32 - 1))
            assume(size <= 2 * _EXACT_INTEGERS[dtype])  # every value exact, so no ties
            values = np.random.default_rng(seed).permutation(size) - size // 2
            x = values.reshape(case.input_shape).astype(numpy_dtype(dtype))
        else:
            x = draw(tensors(dtype, case.input_shape, elements=elements))
        dy = draw(tensors(dtype, case.output_shape, elements="integer"))
        return PoolExample(case, dtype, x, dy)
    return build()


#: Largest integer up to which every integer is exactly representable in each dtype.
_EXACT_INTEGERS = {"float64": 2 ** 53, "float32": 2 ** 24, "float16": 2 ** 11, "bfloat16": 2 ** 8}
