"""Draw a :class:`~convspec.draw.scene.Scene` with matplotlib: PNG, SVG or PDF stills of one
frame, and an animated GIF of every frame (Pillow).

The layout is conv_arithmetic's: 2-D planes in oblique projection (TikZ's ``xslant=-0.7`` then
``yslant=0.5``: ``x' = x - 0.7·y``, ``y' = 0.5·x + 0.65·y``), the output floating above the input, lines from the corners of the shaded
window to the corners of the output cell. 1-D planes and channel wiring are drawn flat.
matplotlib and Pillow are imported only when a picture is drawn (``pip install convspec[docs]``).
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from . import style
from .scene import DrawError, Frame, Plane, Scene

SLANT = ((1.0, -0.7), (0.5, 0.65))  # xslant=-0.7 then yslant=0.5, as the TikZ figures
FLAT = ((1.0, 0.0), (0.0, 1.0))
CELL_INCH = 0.32
LABEL_CELLS_PER_CHAR = 0.22  # an 8 pt label's width per character, in cells
FORMATS = ("png", "svg", "pdf", "gif")


def _missing(package: str) -> DrawError:
    return DrawError(f"drawing needs {package}: pip install 'convspec[docs]' (or pip install "
                     "matplotlib pillow)")


class _Canvas:
    """A scene's static planes on one matplotlib figure, and the overlay of a frame."""

    def __init__(self, scene: Scene, dpi: int) -> None:
        try:
            from matplotlib.figure import Figure
            from matplotlib.patches import Patch, Polygon
        except ImportError:
            raise _missing("matplotlib") from None
        self.scene, self.dpi, self._polygon = scene, dpi, Polygon
        flat = scene.kind == "channels" or all(p.rank == 1 for p in scene.planes)
        self.matrix = FLAT if flat else SLANT
        self.gap = 2.2 if flat else 1.0
        width = max(p.cols for p in scene.planes)
        height = max(p.rows for p in scene.planes)
        self.offsets = {p.name: ((width - p.cols) / 2, (height - p.rows) / 2)
                        for p in scene.planes}
        self.shift: dict[str, float] = {}
        top = None
        for plane in sorted(scene.planes, key=lambda p: p.level):
            ys = [y for _, y in self._corners(plane, (0, 0, plane.cols, plane.rows), shift=0)]
            self.shift[plane.name] = 0.0 if top is None else top + self.gap - min(ys)
            top = max(ys) + self.shift[plane.name]
        points = [pt for plane in scene.planes
                  for pt in self._corners(plane, (0, 0, plane.cols, plane.rows))]
        xs, ys = [x for x, _ in points], [y for _, y in points]
        margin = 0.6
        label_ends = [self._label_anchor(p)[0] + LABEL_CELLS_PER_CHAR * len(p.label)
                      for p in scene.planes]
        self.limits = (min(xs) - margin, max(xs + label_ends) + margin, min(ys) - margin,
                       max(ys) + margin)
        span_x = self.limits[1] - self.limits[0]
        span_y = self.limits[3] - self.limits[2]
        fig_w = max(span_x * CELL_INCH, 6.4)
        self.title = textwrap.wrap(scene.title, int(fig_w * 10.5))
        self.sub = textwrap.wrap(scene.subtitle, int(fig_w * 13)) if scene.subtitle else []
        top_in = 0.2 + 0.2 * len(self.title) + 0.18 * len(self.sub)
        bottom_in = 0.75
        axes_h = span_y * CELL_INCH
        fig_h = axes_h + top_in + bottom_in
        self.figure = Figure(figsize=(fig_w, fig_h), dpi=dpi, facecolor="white")
        axes_w = span_x * CELL_INCH
        self.axes = self.figure.add_axes(((fig_w - axes_w) / 2 / fig_w, bottom_in / fig_h,
                                          axes_w / fig_w, axes_h / fig_h))
        self.axes.set_xlim(*self.limits[:2])
        self.axes.set_ylim(*self.limits[2:])
        self.axes.set_aspect("equal")
        self.axes.axis("off")
        self._text(fig_h, top_in)
        kinds = [k for k in style.CELLS if any(k in p.cells.values() for p in scene.planes)]
        handles = [Patch(facecolor=style.CELLS[k]["fill"], edgecolor=style.CELLS[k]["edge"],
                         linestyle=style.CELLS[k]["style"], label=style.CELLS[k]["legend"])
                   for k in kinds]
        handles.append(Patch(facecolor=style.BASE02, alpha=style.SHADE_ALPHA,
                             edgecolor=style.BASE03, label=self._shade_label()))
        self.figure.legend(handles=handles, loc="lower center", ncol=len(handles),
                           frameon=False, fontsize=7.5, handlelength=1.2,
                           bbox_to_anchor=(0.5, 0.0))
        self.caption = self.figure.text(0.5, 0.32 / fig_h, "", ha="center", va="bottom",
                                        fontsize=8.5, color=style.BASE01)
        for plane in scene.planes:
            self._draw_plane(plane)
        if scene.kind == "channels":
            self._draw_links(faint=True)
        self.overlay: list[Any] = []

    def _shade_label(self) -> str:
        return {"window": "kernel taps", "zero-insert": "kernel taps",
                "scatter": "scattered to", "stack": "depends on",
                "channels": "connected"}.get(self.scene.kind, "shaded")

    def _text(self, fig_h: float, top_in: float) -> None:
        y = 1 - 0.12 / fig_h
        for line in self.title:
            self.figure.text(0.5, y, line, ha="center", va="top", fontsize=10,
                             color=style.BASE03, fontweight="bold")
            y -= 0.2 / fig_h
        for line in self.sub:
            self.figure.text(0.5, y, line, ha="center", va="top", fontsize=8.5,
                             color=style.BASE01)
            y -= 0.18 / fig_h

    # -- geometry of the projection --------------------------------------------------------
    def _project(self, plane: Plane, x: float, y: float, shift: float | None = None) -> tuple:
        ox, oy = self.offsets[plane.name]
        x, y = x + ox, y + oy
        (a, b), (c, d) = self.matrix
        lift = self.shift.get(plane.name, 0.0) if shift is None else shift
        return (a * x + b * y, c * x + d * y + lift)

    def _corners(self, plane: Plane, box: Sequence[float], shift: float | None = None) -> list:
        """Projected corners of a box ``(col0, row0, col1, row1)`` of plane cells, in the
        order bottom-left, bottom-right, top-right, top-left."""
        c0, r0, c1, r1 = box
        y0, y1 = plane.rows - r1, plane.rows - r0
        return [self._project(plane, x, y, shift) for x, y in ((c0, y0), (c1, y0), (c1, y1),
                                                                (c0, y1))]

    def _cell_polygon(self, plane: Plane, cell: tuple[int, int], **kw: Any) -> Any:
        row, col = cell
        patch = self._polygon(self._corners(plane, (col, row, col + 1, row + 1)), closed=True,
                              **kw)
        self.axes.add_patch(patch)
        return patch

    def _draw_plane(self, plane: Plane) -> None:
        z = 10 * plane.level
        order = sorted(plane.cells.items(), key=lambda item: item[1] in ("input", "output"))
        for cell, kind in order:  # dashed cells first, so solid edges win where they meet
            look = style.CELLS[kind]
            self._cell_polygon(plane, cell, facecolor=look["fill"], edgecolor=look["edge"],
                               linestyle=look["style"], linewidth=1.1, zorder=z + 1)
        if plane.label:
            self.axes.text(*self._label_anchor(plane), plane.label, fontsize=8,
                           color=style.BASE01, va="center", ha="left", zorder=z + 3)

    def _label_anchor(self, plane: Plane) -> tuple[float, float]:
        """Where a plane's label starts: right of its bottom-right corner."""
        x, y = self._corners(plane, (0, 0, plane.cols, plane.rows))[1]
        return x + 0.4, y

    def _draw_links(self, faint: bool, only: Iterable[Any] = ()) -> list[Any]:
        artists = []
        chosen = set(only)
        for link in self.scene.links:
            if not faint and link not in chosen:
                continue
            (src_name, (r0, c0)), (dst_name, (r1, c1)) = link.source, link.target
            src, dst = self.scene.plane(src_name), self.scene.plane(dst_name)
            start = self._project(src, c0 + 0.5, src.rows - r0)
            end = self._project(dst, c1 + 0.5, dst.rows - r1 - 1)
            colour = style.GROUPS[link.group % len(style.GROUPS)]
            (line,) = self.axes.plot((start[0], end[0]), (start[1], end[1]), color=colour,
                                     alpha=0.35 if faint else 1.0,
                                     linewidth=0.8 if faint else 1.8, zorder=5)
            artists.append(line)
        return artists

    # -- one frame ---------------------------------------------------------------------------
    def show(self, frame: Frame) -> None:
        for artist in self.overlay:
            artist.remove()
        self.overlay = []
        planes = sorted(self.scene.planes, key=lambda p: p.level)
        boxes = {}
        for plane in planes:
            cells = frame.shaded.get(plane.name, frozenset())
            for cell in cells:
                self.overlay.append(self._cell_polygon(
                    plane, cell, facecolor=style.BASE02, alpha=style.SHADE_ALPHA,
                    edgecolor=style.BASE03, linewidth=1.3, zorder=10 * plane.level + 2))
            if cells:
                rows, cols = [r for r, _ in cells], [c for _, c in cells]
                boxes[plane.name] = (min(cols), min(rows), max(cols) + 1, max(rows) + 1)
        if self.scene.kind == "channels":
            chosen = [link for link in self.scene.links
                      if link.target[1] in frame.shaded.get("output", ())]
            self.overlay += self._draw_links(faint=False, only=chosen)
        else:
            for lower, upper in zip(planes, planes[1:]):
                if lower.name in boxes and upper.name in boxes:
                    self._connect(lower, boxes[lower.name], upper, boxes[upper.name])
        self.caption.set_text(frame.caption)

    def _connect(self, lower: Plane, low: Sequence[int], upper: Plane,
                 high: Sequence[int]) -> None:
        low_c, high_c = self._corners(lower, low), self._corners(upper, high)
        if self.matrix == FLAT:  # 1-D: from the window's top edge to the output's bottom edge
            ends = [(low_c[3], high_c[0]), (low_c[2], high_c[1])]
        else:
            ends = list(zip(low_c, high_c))
        for (x0, y0), (x1, y1) in ends:
            (line,) = self.axes.plot((x0, x1), (y0, y1), color=style.BASE03, linewidth=0.9,
                                     zorder=10 * lower.level + 5)
            self.overlay.append(line)

    def save(self, target: Any, fmt: str) -> None:
        metadata = {"Date": None} if fmt in ("svg", "pdf") else None
        self.figure.savefig(target, format=fmt, dpi=self.dpi, facecolor="white",
                            metadata=metadata)


def _format(path: Path, fmt: str | None) -> str:
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise DrawError(f"{path}: cannot tell the picture's format from {path.suffix or 'no'} "
                        f"suffix; use one of {', '.join('.' + f for f in FORMATS)}")
    return fmt


def render(scene: Scene, path: str | Path, *, frame: int = 0, fmt: str | None = None,
           dpi: int = 100) -> Path:
    """Write one frame of ``scene`` as a still (``.png``, ``.svg``, ``.pdf``), or every frame as
    an animated ``.gif`` (see :func:`render_gif`); the format comes from the suffix."""
    path = Path(path)
    fmt = _format(path, fmt)
    if fmt == "gif":
        return render_gif(scene, path, dpi=dpi)
    import matplotlib

    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "convspec"}):
        canvas = _Canvas(scene, dpi)
        canvas.show(scene.frame(frame))
        canvas.save(path, fmt)
    return path


def render_gif(scene: Scene, path: str | Path, *, dpi: int = 80, duration_ms: int = 700,
               max_frames: int = 400) -> Path:
    """Write every frame of ``scene`` as an animated GIF that walks the kernel (or the
    scattered input) over the picture, looping."""
    try:
        from PIL import Image
    except ImportError:
        raise _missing("Pillow") from None
    if len(scene.frames) > max_frames:
        raise DrawError(f"{len(scene.frames)} frames (one per output position) is more than "
                        f"{max_frames}: choose a smaller input or draw a still")
    path = Path(path)
    canvas = _Canvas(scene, dpi)
    images = []
    for frame in scene.frames:
        canvas.show(frame)
        buffer = io.BytesIO()
        canvas.save(buffer, "png")
        buffer.seek(0)
        images.append(Image.open(buffer).convert("RGB"))
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:],
                   duration=duration_ms, loop=0, disposal=1)
    return path
