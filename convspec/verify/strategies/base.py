"""What every strategy module shares: argument checks and the all-capable default."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis.errors import InvalidArgument

from ...backends.protocol import Capabilities


ALL = Capabilities()

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
