"""The vocabulary every property is written in: requirements that skip with the backend's
reason, the kernel rotation ``rot180`` (A4), and assertions whose failures read as one sentence.

The assertions follow array-api-tests' ``pytest_helpers``: every message has the form
``name=observed, but should be specified [call]``, for example
``y.shape=(1, 3, 4), but should be (1, 3, 5) [conv(x(1, 2, 6), w(3, 2, 3), b=None; ...) in
float32]``. The bracket names where the values come from: a backend call (a
:class:`~convspec.verify.conformance.Call`, described as the conformance checks describe it;
build one with :func:`call_of`), a geometry (its ``describe()``, code that rebuilds it) or any
text. The helpers hide their own frames from pytest's tracebacks (``__tracebackhide__``). A
failure about a backend call is a :class:`~convspec.verify.conformance.ConformanceError`
carrying that call, so ``convspec verify`` reports it with the call and its repro script; any
other failure is a plain ``AssertionError``.

Properties import these names from here, never from the pytest plugin.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from types import TracebackType
from typing import Any, NoReturn, Union

import numpy as np
import pytest

from ..backends.protocol import Capabilities
from ..reference import rot180
from ..spec.geometry import ConvGeometry, PoolGeometry
from .conformance import SIGNATURES, Call, ConformanceError

__all__ = ["require", "first_dtype", "rot180", "call_of", "describe", "fail", "assert_true",
           "assert_equal", "assert_shape", "assert_array_equal", "assert_raises"]

#: What a failure names as its origin: a backend call, a geometry, or a text.
Where = Union[Call, ConvGeometry, PoolGeometry, str, None]


def require(caps: Capabilities, *operations: str, dtype: str | None = None,
            rank: int | None = None, features: tuple[str, ...] = (), views: bool = False,
            because: str | None = None) -> None:
    """Skip the current property, with the backend's reason, unless every operation is
    supported (in ``dtype``, at ``rank``, with ``features`` when given) and, with ``views``,
    the backend accepts array views of any layout. ``because`` says why the property needs it
    and leads the skip reason (``"E2 is stated for 2-D: 2-D conv is not supported"``)."""
    reasons = [caps.skip_reason(op, dtype, rank, features) for op in operations]
    if views and not caps.accepts_views:
        reasons.append(caps.reasons.get("accepts_views",
                                        "the backend declares it does not accept array views"))
    reason = next((r for r in reasons if r), None)
    if reason:
        pytest.skip(f"{because}: {reason}" if because else reason)


def first_dtype(caps: Capabilities, *operations: str,
                preferred: tuple[str, ...] = ("float32", "float64", "float16", "bfloat16"),
                rank: int | None = None) -> str:
    """The first of ``preferred`` in which the backend runs every operation, or skip."""
    for dtype in preferred:
        if all(caps.skip_reason(op, dtype, rank) is None for op in operations):
            return dtype
    pytest.skip(f"the backend runs {', '.join(operations)} in none of {', '.join(preferred)}")


def call_of(operation: str, *arrays: np.ndarray | None, **kwargs: Any) -> Call:
    """The :class:`~convspec.verify.conformance.Call` of ``operation`` on ``arrays`` (in its
    signature's order) with ``kwargs``, to name in a failure."""
    names, _ = SIGNATURES[operation]
    return Call(operation, dict(zip(names, arrays)), dict(kwargs))


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python number it holds (``4.0``, not ``np.float64(4.0)``)."""
    return value.item() if isinstance(value, np.generic) else value


def describe(where: Where) -> str:
    """The text of a failure's bracket: a call or a geometry as code, or the text itself."""
    if isinstance(where, (Call, ConvGeometry, PoolGeometry)):
        return where.describe()
    return "" if where is None else str(where)


def fail(sentence: str, *, call: Where = None, ids: Sequence[str] = ()) -> NoReturn:
    """Fail the property with ``sentence [call]``."""
    __tracebackhide__ = True
    where = describe(call)
    text = f"{sentence} [{where}]" if where else sentence
    if isinstance(call, Call):
        error = ConformanceError(text, ids=ids)
        error.call = call  # the call is in the sentence already; the plugin's repro reads it
        raise error
    raise AssertionError(text)


def assert_true(condition: Any, sentence: str, *, call: Where = None,
                ids: Sequence[str] = ()) -> None:
    """``condition`` holds; otherwise fail with ``sentence`` (written as "observed, but should
    be specified")."""
    __tracebackhide__ = True
    if not condition:
        fail(sentence, call=call, ids=ids)


def assert_equal(name: str, observed: Any, specified: Any, *, call: Where = None,
                 ids: Sequence[str] = ()) -> None:
    """``observed == specified`` (scalars, tuples, sets); fails with
    ``name=observed, but should be specified [call]``."""
    __tracebackhide__ = True
    if not observed == specified:
        fail(f"{name}={_plain(observed)!r}, but should be {_plain(specified)!r}", call=call,
             ids=ids)


def assert_shape(name: str, observed: Sequence[int], specified: Sequence[int], *,
                 call: Where = None, ids: Sequence[str] = ()) -> None:
    """The shape ``observed`` is ``specified``; fails with
    ``name.shape=(...), but should be (...) [call]``."""
    __tracebackhide__ = True
    got, want = tuple(int(n) for n in observed), tuple(int(n) for n in specified)
    if got != want:
        fail(f"{name}.shape={got}, but should be {want}", call=call, ids=ids)


def assert_array_equal(name: str, observed: Any, specified: Any, *, call: Where = None,
                       ids: Sequence[str] = ()) -> None:
    """Every element of ``observed`` equals ``specified`` (an array of its shape, or a scalar
    for all of them; NaN equals NaN); fails with the first differing element,
    ``name[i, j]=got, but should be want (k of n elements differ) [call]``."""
    __tracebackhide__ = True
    got, want = np.asarray(observed), np.asarray(specified)
    if want.ndim:
        assert_shape(name, got.shape, want.shape, call=call, ids=ids)
    want = np.broadcast_to(want, got.shape)
    same = got == want
    if got.dtype.kind in "fc" and want.dtype.kind in "fc":
        same = same | (np.isnan(got) & np.isnan(want))
    if not np.all(same):
        index = tuple(int(i) for i in np.argwhere(~same)[0])
        differ = int(np.count_nonzero(~same))
        fail(f"{name}[{', '.join(map(str, index))}]={_plain(got[index])!r}, but should be "
             f"{_plain(want[index])!r} ({differ} of {got.size} elements differ)",
             call=call, ids=ids)


class assert_raises:  # noqa: N801 - used like pytest.raises, as a context manager
    """``with assert_raises(GeometryError, "conv_output_size(10, 3, stride=2)", match="4.5"):``
    the block raises ``expected`` (its message matching the regular expression ``match``);
    returning fails with ``name returned, but should raise GeometryError [call]``. Another
    exception type propagates unchanged."""

    def __init__(self, expected: type[BaseException] | tuple[type[BaseException], ...],
                 name: str, *, match: str | None = None, call: Where = None) -> None:
        self.expected, self.name, self.match, self.call = expected, name, match, call
        self.value: BaseException | None = None

    def __enter__(self) -> assert_raises:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> bool:
        __tracebackhide__ = True
        names = (self.expected.__name__ if isinstance(self.expected, type)
                 else " or ".join(t.__name__ for t in self.expected))
        wanted = names + ("" if self.match is None else f" matching {self.match!r}")
        if value is None:
            fail(f"{self.name} returned, but should raise {wanted}", call=self.call)
        if not isinstance(value, self.expected):
            return False
        first = (str(value).strip().splitlines() or [""])[0]
        if self.match is not None and not re.search(self.match, str(value)):
            fail(f"{self.name} raised {type(value).__name__}: {first}, but should raise "
                 f"{wanted}", call=self.call)
        self.value = value
        return True
