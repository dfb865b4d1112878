"""Examples: a case with its arrays, built once per capabilities object."""

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

from ...backends.protocol import Capabilities
from ...spec.dtypes import numpy_dtype
from ...spec.geometry import ConvGeometry, PoolGeometry
from .base import ALL
from .cases import ConvCase, PoolCase, conv_cases, pool_cases
from .tensors import ELEMENTWISE_LIMIT, dtypes, tensors


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
