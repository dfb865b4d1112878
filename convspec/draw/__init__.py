"""Pictures of a layer's geometry, drawn from the spec (``convspec draw``).

Every size, padding and window in a picture is asked of
:class:`~convspec.spec.geometry.ConvGeometry` or :class:`~convspec.spec.geometry.PoolGeometry`,
so the pictures are correct by construction. A picture is built in two steps: a scene function
returns a :class:`Scene` (planes of cells, and per frame the cells shaded and the tensor
positions related: what the tests check against the geometry), and :func:`render` draws it with
matplotlib as PNG, SVG or PDF, or as an animated GIF (Pillow) that walks the kernel over the
input, in the colours of Dumoulin and Visin's conv_arithmetic figures.

>>> from convspec.spec.geometry import ConvGeometry
>>> scene = window_scene(ConvGeometry.make(1, 1, 3, stride=2, padding=1, ndim=2), (5, 5))
>>> len(scene.frames), sorted(scene.frames[0].related)     # B6: W=5, F=3, S=2, P=1 gives 3
(9, [(0, 0), (0, 1), (1, 0), (1, 1)])

This package imports only :mod:`convspec.spec`; matplotlib and Pillow are imported when a
picture is rendered.
"""

from .channels import channel_scene
from .layers import cells_of, scatter_scene, stack_scene, window_scene, zero_insert_scene
from .render import FORMATS, render, render_gif
from .scene import KINDS, MAX_CELLS, DrawError, Frame, Link, Plane, Scene

__all__ = [
    "FORMATS", "KINDS", "MAX_CELLS", "DrawError", "Frame", "Link", "Plane", "Scene",
    "cells_of", "channel_scene", "render", "render_gif", "scatter_scene", "stack_scene",
    "window_scene", "zero_insert_scene",
]
