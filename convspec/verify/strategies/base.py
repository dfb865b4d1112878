"""What every strategy module shares: argument checks, bounds and the all-capable default.

Bounds come in ``min_``/``max_`` pairs checked together when a strategy is built, the way
:mod:`hypothesis.extra.numpy` checks its own (``order_check``, ``check_valid_interval``): a bad
pair raises :class:`hypothesis.errors.InvalidArgument` naming both, e.g. ``min_groups=3 must be
<= max_groups=2``. An omitted ``max_`` means the default bound of ordinary examples (raised to
the ``min_`` when that is larger), while the designed shares of
:mod:`convspec.verify.strategies.thresholds` may go past it up to the backend's declared limits;
an explicit ``max_`` binds every example.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import currently_in_test_context, event
from hypothesis.errors import InvalidArgument

from ...backends.protocol import Capabilities


ALL = Capabilities()


class NothingToDraw(InvalidArgument):
    """The capabilities (narrowed by a selection such as ``verify --dtype``) leave nothing for a
    strategy to draw. Not a usage error: the property has nothing to check on this backend, and
    the pytest plugin skips it with this message as the reason."""


def _check_bound(name: str, value: int, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidArgument(f"{name}={value!r} must be an integer >= {minimum}")
    return value


@dataclass(frozen=True)
class Bound:
    """An inclusive range of one integer parameter.

    Ordinary examples draw from ``[low, high]``; the designed shares (thresholds, remainders)
    may draw up to ``limit`` (``None``: no limit), which is the caller's explicit ``max_`` or
    the backend's declared limit, whichever is smaller.
    """

    name: str
    low: int
    high: int
    limit: int | None

    def allows(self, low: int, high: int | None = None) -> bool:
        """Whether some value of ``[low, high]`` is within ``[self.low, self.limit]``."""
        return (self.limit is None or low <= self.limit) and (high is None or high >= self.low)

    def clip(self, low: int, high: int) -> tuple[int, int]:
        """``[low, high]`` cut to ``[self.low, self.limit]`` (check :meth:`allows` first)."""
        return max(low, self.low), high if self.limit is None else min(high, self.limit)


def bound(name: str, low: int, high: int | None, *, floor: int, default: int,
          limit: int | None = None, limit_reason: str = "") -> Bound:
    """Check a ``min_<name>``/``max_<name>`` pair and make its :class:`Bound`.

    ``floor`` is the smallest legal value, ``default`` the ordinary examples' upper bound when
    ``high`` is omitted, ``limit`` the backend's declared limit (raising
    :class:`NothingToDraw` with ``limit_reason`` when ``low`` is above it).
    """
    low = _check_bound(f"min_{name}", low, floor)
    if high is not None:
        high = _check_bound(f"max_{name}", high, floor)
        if low > high:
            raise InvalidArgument(f"min_{name}={low} must be <= max_{name}={high}")
    if limit is not None and low > limit:
        raise NothingToDraw(f"min_{name}={low} is above the backend's limit {limit}"
                            + (f" ({limit_reason})" if limit_reason else ""))
    ordinary = max(default, low) if high is None else high
    caps = [v for v in (high, limit) if v is not None]
    top = min(caps) if caps else None
    return Bound(name, low, ordinary if top is None else min(ordinary, top), top)


def limit_of(capabilities: Capabilities, name: str) -> tuple[int | None, str]:
    """A declared limit of :class:`Capabilities` (``max_channels``, ...) and its reason."""
    return getattr(capabilities, name), capabilities.reasons.get(name, "")


def forwarded(function: Callable[..., Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword-only arguments of ``function`` found in ``values`` (a caller's
    ``locals()``): how a strategy hands its explicit bounds to the one it builds on."""
    return {name: values[name] for name, p in inspect.signature(function).parameters.items()
            if p.kind is p.KEYWORD_ONLY and name in values}


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


def record_share(name: str) -> None:
    """Note which designed share an example came from (``--hypothesis-show-statistics`` and
    the tests count these events)."""
    if currently_in_test_context():
        event(f"convspec share: {name}")
