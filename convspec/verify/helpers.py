"""The vocabulary every property is written in: requirements that skip with the backend's
reason, and (growing) assertion helpers whose messages read as one sentence.

Properties import these names from here, never from the pytest plugin.
"""

from __future__ import annotations

import pytest

from ..backends.protocol import Capabilities

__all__ = ["require", "first_dtype"]


def require(caps: Capabilities, *operations: str, dtype: str | None = None,
            rank: int | None = None, features: tuple[str, ...] = ()) -> None:
    """Skip the current property, with the backend's reason, unless every operation is
    supported (in ``dtype``, at ``rank``, with ``features`` when given)."""
    for op in operations:
        reason = caps.skip_reason(op, dtype, rank, features)
        if reason:
            pytest.skip(reason)


def first_dtype(caps: Capabilities, *operations: str,
                preferred: tuple[str, ...] = ("float32", "float64", "float16", "bfloat16"),
                rank: int | None = None) -> str:
    """The first of ``preferred`` in which the backend runs every operation, or skip."""
    for dtype in preferred:
        if all(caps.skip_reason(op, dtype, rank) is None for op in operations):
            return dtype
    pytest.skip(f"the backend runs {', '.join(operations)} in none of {', '.join(preferred)}")
