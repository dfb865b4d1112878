"""Pooling windows for libraries that only slide a window over an already padded array.

``lax.reduce_window``, ``scipy.ndimage`` filters and their CuPy twins know nothing of
``ceil_mode`` or ``count_include_pad``. :func:`window_layout` gives them the padding under
which plain floor-mode windowing yields the specification's windows
(:meth:`PoolGeometry.window_padding`), and
a 0/1 *count mask* over the padded extent: summing the mask over a window with the library's
own window sum gives the average-pooling divisor (B9, G1) — the padding counts when
``count_include_pad``, the ``ceil_mode`` overhang beyond it never does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..spec.geometry import PoolGeometry


@dataclass(frozen=True)
class WindowLayout:
    """Where one pooling call's windows lie on the padded input."""

    #: ``(before, after)`` per spatial axis: the geometry's padding, plus the ceil_mode overhang.
    pads: tuple[tuple[int, int], ...]
    #: Output spatial size (from the geometry).
    out: tuple[int, ...]

    def count_mask(self, spatial: tuple[int, ...], geometry: PoolGeometry,
                   dtype: Any) -> np.ndarray:
        """1 where average pooling counts an element, 0 elsewhere, over the padded extent."""
        counted = tuple((p, p) if geometry.count_include_pad else (0, 0)
                        for p in geometry.padding)
        mask = np.pad(np.ones(spatial, dtype), counted, constant_values=1)
        # What the counted band leaves of the window padding (the ceil_mode overhang, and the
        # geometry's padding itself when it does not count) is zeros.
        rest = tuple((before - c_before, after - c_after)
                     for (before, after), (c_before, c_after) in zip(self.pads, counted))
        return np.pad(mask, rest, constant_values=0)


def window_layout(geometry: PoolGeometry, spatial: tuple[int, ...]) -> WindowLayout:
    """The padded layout of ``geometry``'s windows over an input of ``spatial`` size."""
    return WindowLayout(geometry.window_padding(spatial), geometry.output_spatial(spatial))


def batch_pads(pads: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
    """``pads`` for the spatial axes, preceded by none for N and C."""
    return ((0, 0), (0, 0), *pads)
