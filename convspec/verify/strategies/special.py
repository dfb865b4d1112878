"""Non-finite values (NaN, ±inf) placed in an array (:mod:`convspec.spec.nonfinite`).

:func:`nonfinite_arrays` takes an array a case already holds (an input ``(N, C, *spatial)``,
or a cotangent) and places non-finite values in it: single elements, and boxes of one value
(within one sample and channel) that make the corners bug reports come from: a whole window
of ``-inf``, several NaNs in one window (which one a max-pooling gradient picks), ``+inf`` and
``-inf`` meeting in one sum. Both counts are bounded by ``min_``/``max_`` pairs; nothing is
filtered. Shrinking goes towards one NaN at the first element.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from ...spec.nonfinite import SPECIAL_VALUES
from .base import _check_bound

#: The kinds :func:`nonfinite_arrays` places, in shrinking order (NaN first).
SPECIAL_KINDS = tuple(SPECIAL_VALUES)


def _check_range(name: str, low: int, high: int) -> None:
    _check_bound(f"min_{name}", low, 0)
    _check_bound(f"max_{name}", high, 0)
    if low > high:
        raise InvalidArgument(f"min_{name}={low} exceeds max_{name}={high}")


@st.composite
def _placed(draw, base: np.ndarray, kinds: tuple[str, ...], points: tuple[int, int],
            blocks: tuple[int, int], max_block: int | None) -> np.ndarray:
    out = np.array(base, copy=True)
    flat = out.reshape(-1)
    kind = st.sampled_from(kinds)
    for _ in range(draw(st.integers(*points), label="points")):
        flat[draw(st.integers(0, flat.size - 1), label="at")] = SPECIAL_VALUES[draw(kind)]
    for _ in range(draw(st.integers(*blocks), label="blocks")):
        box: list[int | slice] = [draw(st.integers(0, n - 1)) for n in out.shape[:2]]
        for n in out.shape[2:]:
            start = draw(st.integers(0, n - 1))
            longest = n - start if max_block is None else min(max_block, n - start)
            box.append(slice(start, start + draw(st.integers(1, longest))))
        out[tuple(box)] = SPECIAL_VALUES[draw(kind, label="block kind")]
    return out


def nonfinite_arrays(base: np.ndarray, *, kinds: Sequence[str] = SPECIAL_KINDS,
                     min_points: int = 1, max_points: int = 3, min_blocks: int = 0,
                     max_blocks: int = 1,
                     max_block: int | None = None) -> st.SearchStrategy[np.ndarray]:
    """Copies of ``base`` (a float array of at least 2 axes, ``(N, C, *spatial)``) with
    non-finite values placed, each of a kind drawn from ``kinds`` (``"nan"``, ``"inf"``,
    ``"-inf"``).

    Between ``min_points`` and ``max_points`` single elements, anywhere; then between
    ``min_blocks`` and ``max_blocks`` boxes of one value in one sample and channel, each at
    most ``max_block`` long on every spatial axis (``None``: up to the whole axis, so a box
    can fill a window or a whole channel). Later placements overwrite earlier ones. An empty
    ``base`` comes back unchanged.
    """
    kinds = tuple(kinds)
    unknown = sorted(set(kinds) - set(SPECIAL_KINDS))
    if not kinds or unknown:
        raise InvalidArgument(f"kinds={kinds!r}: choose one or more of {SPECIAL_KINDS}")
    _check_range("points", min_points, max_points)
    _check_range("blocks", min_blocks, max_blocks)
    if max_points + max_blocks == 0:
        raise InvalidArgument("max_points and max_blocks are both 0: nothing would be placed")
    if max_block is not None:
        _check_bound("max_block", max_block)
    base = np.asarray(base)
    if base.ndim < 2 or base.dtype.kind not in "fV":
        raise InvalidArgument(f"base must be a float array (N, C, *spatial), got "
                              f"{base.dtype} of shape {base.shape}")
    if base.size == 0:
        return st.just(np.array(base, copy=True))
    # Keep the kinds in SPECIAL_KINDS order, so failures shrink to NaN when it is allowed.
    ordered = tuple(k for k in SPECIAL_KINDS if k in kinds)
    return _placed(base, ordered, (min_points, max_points), (min_blocks, max_blocks),
                   max_block)
