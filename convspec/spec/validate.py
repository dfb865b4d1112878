"""Argument checking shared by every spec function.

Each checker either returns a normalized value or raises :class:`GeometryError` naming the
argument, the value and the fix. Booleans and floats are rejected even when integral:
``stride=2.0`` is a bug in the caller, not a request we should guess at.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

from .errors import GeometryError

Pair = tuple[int, int]


def as_int(name: str, value: Any, *, minimum: int) -> int:
    """Return ``value`` as an int ``>= minimum`` or raise ``GeometryError``."""
    if isinstance(value, bool):
        raise GeometryError(f"{name} must be an integer, got the boolean {value!r}")
    try:
        number = operator.index(value)
    except TypeError:
        raise GeometryError(
            f"{name} must be an integer, got {value!r} of type {type(value).__name__}"
        ) from None
    if number < minimum:
        bound = {0: "non-negative", 1: "positive (at least 1)"}.get(minimum, f"at least {minimum}")
        raise GeometryError(f"{name} must be {bound}, got {number}")
    return number


def is_sequence(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def as_pair(name: str, value: Any) -> Pair:
    """A padding entry: an int (both sides) or a ``(before, after)`` pair, each ``>= 0``."""
    if is_sequence(value):
        if len(value) != 2:
            raise GeometryError(
                f"{name} must be an int or a (before, after) pair, got {tuple(value)!r} "
                f"with {len(value)} entries"
            )
        return (as_int(f"{name}[0] (before)", value[0], minimum=0),
                as_int(f"{name}[1] (after)", value[1], minimum=0))
    p = as_int(name, value, minimum=0)
    return (p, p)


def spatial_rank(**named: Any) -> int | None:
    """The number of spatial axes implied by the per-axis tuples among ``named``.

    Scalars imply nothing; tuples must agree in length. ``None`` means every argument was scalar.
    """
    rank: int | None = None
    source = ""
    for name, value in named.items():
        if not is_sequence(value):
            continue
        if rank is None:
            rank, source = len(value), name
        elif len(value) != rank:
            raise GeometryError(
                f"{name} has {len(value)} entries but {source} has {rank}: give one entry per "
                "spatial axis in every per-axis argument"
            )
    if rank == 0:
        raise GeometryError(f"{source} is empty: give one entry per spatial axis (1 to 3 axes)")
    return rank


def as_tuple(name: str, value: Any, rank: int, *, minimum: int) -> tuple[int, ...]:
    """Broadcast an int to ``rank`` axes, or check a per-axis sequence."""
    if is_sequence(value):
        if len(value) != rank:
            raise GeometryError(
                f"{name} has {len(value)} entries, expected {rank} (one per spatial axis)"
            )
        return tuple(as_int(f"{name}[{i}]", v, minimum=minimum) for i, v in enumerate(value))
    v = as_int(name, value, minimum=minimum)
    return (v,) * rank


def as_padding(name: str, value: Any, rank: int) -> tuple[Pair, ...]:
    """Per-axis ``(before, after)`` pairs from an int, or a sequence of ints or pairs."""
    if is_sequence(value):
        if len(value) != rank:
            raise GeometryError(
                f"{name} has {len(value)} entries, expected {rank} (one int or (before, after) "
                "pair per spatial axis)"
            )
        return tuple(as_pair(f"{name}[{i}]", v) for i, v in enumerate(value))
    return (as_pair(name, value),) * rank


def padding_rank(value: Any) -> int | None:
    """The rank a padding argument implies: nested pairs are per-axis, a flat pair is one axis."""
    if is_sequence(value) and any(is_sequence(v) for v in value):
        return len(value)
    return None


def as_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    if value not in choices:
        raise GeometryError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value
