"""The scene model a picture is drawn from: planes of cells, and what each frame shades.

A :class:`Scene` is what :mod:`convspec.draw.render` draws and what the tests check against the
geometry: which cells each plane holds (input, padding, inserted zeros, ``ceil_mode`` overhang,
output, cropped output), and per :class:`Frame` (one step of the animation) which cells are
shaded and which input and output tensor positions the step relates. Nothing here imports
matplotlib.

Cells are ``(row, column)`` on the drawn plane, row 0 at the top; a 1-D plane has one row. A
plane's ``origin`` is the drawn cell of its tensor's index 0 (the padding before it), so tensor
index ``i`` on an axis is drawn at ``origin + i`` (times ``spacing`` for inserted zeros).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

Cell = tuple[int, int]

#: What a drawn cell is (the renderer's styles are keyed by these).
KINDS = ("input", "padding", "zero", "overhang", "output", "cropped")

#: The largest plane drawn, per axis: the pictures are for small layers.
MAX_CELLS = 40


class DrawError(ValueError):
    """A layer that can be computed but not drawn (too large, too many axes); the message says
    what to change."""


def _cells2(position: Sequence[int]) -> Cell:
    """A tensor position of 1 or 2 axes as a drawn ``(row, column)`` offset."""
    return (0, position[0]) if len(position) == 1 else (position[0], position[1])


@dataclass(frozen=True)
class Plane:
    """One grid of the picture.

    ``cells`` maps each drawn cell to its kind (:data:`KINDS`); ``origin`` and ``spacing`` map
    tensor positions to cells (``cell = origin + spacing·index`` per axis); ``level`` stacks the
    planes (0 at the bottom, as the conv_arithmetic figures put the input under the output).
    """

    name: str
    rank: int
    rows: int
    cols: int
    cells: Mapping[Cell, str]
    origin: Cell = (0, 0)
    spacing: Cell = (1, 1)
    level: int = 0
    label: str = ""

    def __post_init__(self) -> None:
        for extent in (self.rows, self.cols):
            if extent > MAX_CELLS:
                raise DrawError(f"the {self.name} plane would be {self.rows}x{self.cols} cells; "
                                f"pictures are drawn up to {MAX_CELLS} cells per axis: choose a "
                                "smaller input")
        unknown = set(self.cells.values()) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown cell kinds {sorted(unknown)}; known: {KINDS}")
        object.__setattr__(self, "cells", MappingProxyType(dict(self.cells)))

    def cell_of(self, position: Sequence[int]) -> Cell:
        """The drawn cell of a tensor position."""
        row, col = _cells2(tuple(position))
        return (self.origin[0] + self.spacing[0] * row, self.origin[1] + self.spacing[1] * col)

    def position_of(self, cell: Cell) -> tuple[int, ...] | None:
        """The tensor position drawn at ``cell``, or None for padding, a zero or overhang."""
        if self.cells.get(cell) not in ("input", "output"):
            return None
        row, col = ((c - o) // s for c, o, s in zip(cell, self.origin, self.spacing))
        return (col,) if self.rank == 1 else (row, col)

    def of_kind(self, *kinds: str) -> frozenset[Cell]:
        return frozenset(c for c, k in self.cells.items() if k in kinds)

    def positions(self, cells: Iterable[Cell]) -> frozenset[tuple[int, ...]]:
        """The tensor positions among ``cells`` (padding, zeros and overhang left out)."""
        return frozenset(p for p in map(self.position_of, cells) if p is not None)


@dataclass(frozen=True)
class Frame:
    """One step: ``shaded`` cells per plane name, the tensor position the step is about
    (``step``: the output computed, or for a scatter the input scattered), and the tensor
    positions it relates on the other plane (``related``), as the geometry gives them."""

    step: tuple[int, ...]
    shaded: Mapping[str, frozenset[Cell]]
    related: frozenset[tuple[int, ...]] = frozenset()
    caption: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "shaded", MappingProxyType(
            {name: frozenset(cells) for name, cells in self.shaded.items()}))


@dataclass(frozen=True)
class Link:
    """A line from a cell of one plane to a cell of another (channel wiring), in one group."""

    source: tuple[str, Cell]
    target: tuple[str, Cell]
    group: int = 0


@dataclass(frozen=True)
class Scene:
    """A picture: its planes (bottom first), its frames, and for channel wiring its links.

    ``kind`` names the view (``window``, ``zero-insert``, ``scatter``, ``stack``, ``channels``);
    ``source`` and ``target`` name the planes a frame relates (for a window, the input read
    and the output computed).
    """

    kind: str
    title: str
    planes: tuple[Plane, ...]
    frames: tuple[Frame, ...]
    source: str = "input"
    target: str = "output"
    links: tuple[Link, ...] = field(default=())
    subtitle: str = ""

    def plane(self, name: str) -> Plane:
        for plane in self.planes:
            if plane.name == name:
                return plane
        raise KeyError(f"no plane {name!r}; planes: {[p.name for p in self.planes]}")

    def frame(self, index: int) -> Frame:
        """Frame ``index``; a clear error past the last one."""
        if not 0 <= index < len(self.frames):
            raise DrawError(f"frame {index} does not exist: this picture has {len(self.frames)} "
                            f"frames, 0 to {len(self.frames) - 1}")
        return self.frames[index]
