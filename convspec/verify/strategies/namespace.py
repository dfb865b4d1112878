"""The strategies bound to one backend's capabilities, so properties do not repeat them.

>>> draw = Strategies(caps)
>>> ex = data.draw(draw.conv_examples(min_groups=2, real_layers=True))

Each method is the module-level function of the same name (same keyword-only parameters,
signature and docstring) with ``capabilities`` filled in; the module-level functions keep
working for code that passes ``capabilities`` itself.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

from hypothesis import strategies as st

from ...backends.protocol import Capabilities
from .base import ALL
from .cases import conv_cases, pool_cases
from .examples import conv_examples, pool_examples
from .geometries import conv_geometries, pool_geometries
from .invalid import invalid_cases, invalid_conv_cases, invalid_pool_cases
from .tensors import dtypes, tensors


class _Bound:
    """A strategy function as a method of :class:`Strategies`: ``capabilities`` bound."""

    def __init__(self, function: Callable[..., st.SearchStrategy]) -> None:
        self.function = function
        signature = inspect.signature(function)
        self.signature = signature.replace(parameters=[
            p for name, p in signature.parameters.items() if name != "capabilities"])
        functools.update_wrapper(self, function)

    def __get__(self, namespace: Strategies | None, owner: type | None = None) -> Any:
        if namespace is None:
            return self.function
        method = functools.partial(self.function, capabilities=namespace.capabilities)
        functools.update_wrapper(method, self.function)
        method.__signature__ = self.signature  # type: ignore[attr-defined]
        return method


class Strategies:
    """Every public strategy with ``capabilities`` bound to one backend's (``Strategies(caps)``).

    ``conv_geometries``, ``pool_geometries``, ``conv_cases``, ``pool_cases``,
    ``conv_examples``, ``pool_examples`` take the keyword-only bounds of the functions of the
    same name; ``invalid_conv_cases``, ``invalid_pool_cases``, ``invalid_cases``, :meth:`dtypes`
    and :meth:`tensors` likewise.
    """

    conv_geometries = _Bound(conv_geometries)
    pool_geometries = _Bound(pool_geometries)
    conv_cases = _Bound(conv_cases)
    pool_cases = _Bound(pool_cases)
    conv_examples = _Bound(conv_examples)
    pool_examples = _Bound(pool_examples)
    invalid_conv_cases = _Bound(invalid_conv_cases)
    invalid_pool_cases = _Bound(invalid_pool_cases)
    invalid_cases = _Bound(invalid_cases)

    def __init__(self, capabilities: Capabilities = ALL) -> None:
        if not isinstance(capabilities, Capabilities):
            raise TypeError(f"Strategies({capabilities!r}): give a "
                            "convspec.backends.Capabilities (the caps fixture)")
        self.capabilities = capabilities

    def dtypes(self, allowed: Sequence[str] | None = None) -> st.SearchStrategy[str]:
        """:func:`~convspec.verify.strategies.dtypes` of these capabilities."""
        return dtypes(self.capabilities, allowed)

    @staticmethod
    def tensors(dtype: str, shape: Sequence[int], *,
                elements: str = "integer") -> st.SearchStrategy[Any]:
        """:func:`~convspec.verify.strategies.tensors` (no capabilities needed)."""
        return tensors(dtype, shape, elements=elements)

    def __repr__(self) -> str:
        return f"Strategies({self.capabilities!r})"
