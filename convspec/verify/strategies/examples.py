"""Examples: a case with its arrays, built once per capabilities object."""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from ...backends.protocol import Capabilities
from ...spec.dtypes import numpy_dtype
from ...spec.geometry import ConvGeometry, PoolGeometry, volume
from .base import ALL, forwarded
from .cases import ConvCase, PoolCase, conv_cases, pool_cases
from .tensors import ELEMENTWISE_LIMIT, dtypes, tensor_draws


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
def conv_examples(capabilities: Capabilities = ALL, *, ranks: Sequence[int] | None = None,
                  transposed: bool = False, elements: str = "integer",
                  allowed_dtypes: Sequence[str] | None = None, min_kernel: int = 1,
                  max_kernel: int | None = None, min_stride: int = 1,
                  max_stride: int | None = None, min_dilation: int = 1,
                  max_dilation: int | None = None, min_groups: int = 1,
                  max_groups: int | None = None, min_channels_per_group: int = 1,
                  max_channels_per_group: int | None = None, min_padding: int = 0,
                  max_padding: int | None = None, min_batch: int = 0,
                  max_batch: int | None = None, min_extra: int = 0,
                  max_extra: int | None = None, exact: bool = False, real_layers: bool = False,
                  shares: bool = True) -> st.SearchStrategy[ConvExample]:
    """A :class:`ConvExample`: a case from :func:`conv_cases` (the same bounds), a supported
    dtype (narrowed to ``allowed_dtypes``) and its arrays (``elements`` as in :func:`tensors`).

    The arrays' choices are drawn before the case (:class:`TensorDraw`), so a failing example
    shrinks its geometry and shapes without its arrays turning to zeros on the way.
    """
    cases = conv_cases(capabilities, **forwarded(conv_cases, locals()))
    dtype_choice = dtypes(capabilities, allowed_dtypes)

    arrays = tensor_draws(elements)

    @st.composite
    def build(draw):
        tx, tw, tb, tdy = (draw(arrays) for _ in range(4))
        case = draw(cases)
        dtype = draw(dtype_choice)
        g = case.geometry
        x = tx.array(dtype, case.input_shape, elements)
        w = tw.array(dtype, g.weight_shape, elements)
        b = tb.array(dtype, g.bias_shape, elements) if g.bias else None
        dy = tdy.array(dtype, case.output_shape, elements)
        return ConvExample(case, dtype, x, w, b, dy)
    return build()


@_built_once
def pool_examples(capabilities: Capabilities = ALL, *, ranks: Sequence[int] | None = None,
                  operation: str = "max_pool", elements: str = "integer",
                  allowed_dtypes: Sequence[str] | None = None, min_kernel: int = 1,
                  max_kernel: int | None = None, min_stride: int = 1,
                  max_stride: int | None = None, min_dilation: int = 1,
                  max_dilation: int | None = None, min_padding: int = 0,
                  max_padding: int | None = None, ceil_mode: bool | None = None,
                  count_include_pad: bool | None = None, min_batch: int = 0,
                  max_batch: int | None = None, min_channels: int = 1,
                  max_channels: int | None = None, min_extra: int = 0,
                  max_extra: int | None = None,
                  shares: bool = True) -> st.SearchStrategy[PoolExample]:
    """A :class:`PoolExample`: a case from :func:`pool_cases` (the same bounds), a dtype and
    its input and output cotangent; ``elements="distinct"`` gives inputs without ties, so the
    arg-max of every max-pooling window is unique."""
    cases = pool_cases(capabilities, **forwarded(pool_cases, locals()))
    dtype_choice = dtypes(capabilities, allowed_dtypes)
    _check_elements(elements, ("integer", "real", "distinct"))

    inputs = tensor_draws("real" if elements == "real" else "integer")
    cotangents = tensor_draws("integer")

    @st.composite
    def build(draw):
        tx, tdy = draw(inputs), draw(cotangents)
        case = draw(cases)
        dtype = draw(dtype_choice)
        if elements == "distinct":
            size = volume(case.input_shape)
            # Every value exact, so no ties: not drawable directly, the dtype comes last.
            assume(size <= 2 * _EXACT_INTEGERS[dtype])
            values = np.random.default_rng(tx.seed).permutation(size) - size // 2
            x = values.reshape(case.input_shape).astype(numpy_dtype(dtype))
        else:
            x = tx.array(dtype, case.input_shape, elements)
        dy = tdy.array(dtype, case.output_shape, "integer")
        return PoolExample(case, dtype, x, dy)
    return build()


def _check_elements(elements: str, allowed: tuple[str, ...]) -> None:
    if elements not in allowed:
        raise InvalidArgument(f"elements={elements!r} must be one of {allowed}")


#: Largest integer up to which every integer is exactly representable in each dtype.
_EXACT_INTEGERS = {"float64": 2 ** 53, "float32": 2 ** 24, "float16": 2 ** 11, "bfloat16": 2 ** 8}
