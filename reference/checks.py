"""Build and check the geometry of a call from its arrays and keyword arguments.

The protocol functions take arrays plus per-axis tuples; these helpers turn them into a
:class:`~convspec.spec.geometry.ConvGeometry` or :class:`~convspec.spec.geometry.PoolGeometry` (which
validate sizes, groups and padding) and check that every array has the shape the geometry
implies. Errors are :class:`~convspec.spec.errors.GeometryError` naming the argument, or
``TypeError`` for dtypes (:func:`convspec.reference.dtypes.check_arrays`).
"""

from __future__ import annotations

import numpy as np

from ..spec.validate import is_sequence
from ..spec.errors import GeometryError
from ..spec.geometry import MAX_SPATIAL_RANK, ConvGeometry, PoolGeometry
from ..spec.sizes import Size
from .dtypes import check_arrays

#: ``conv`` padding: one int for every side, one int per axis (both sides), or per axis a
#: ``(before, after)`` pair (:func:`convspec.spec.validate.as_padding` normalizes it).
Padding = int | tuple[int, ...] | tuple[tuple[int, int], ...]


def spatial_rank_of(name: str, array: np.ndarray) -> int:
    """Spatial axes of a channels-first array ``(N, C, *spatial)`` (1 to 3; A7)."""
    rank = array.ndim - 2
    if not 1 <= rank <= MAX_SPATIAL_RANK:
        raise GeometryError(
            f"{name} has {array.ndim} axes {array.shape}; expected (N, C, *spatial) with 1 to "
            f"{MAX_SPATIAL_RANK} spatial axes, i.e. 3 to {MAX_SPATIAL_RANK + 2} axes (A7)"
        )
    return rank


def _check_weight(w: np.ndarray, rank: int) -> None:
    if w.ndim != rank + 2:
        raise GeometryError(
            f"w has {w.ndim} axes {w.shape} but x has {rank} spatial axes: the weight needs "
            f"{rank + 2} axes (two channel axes, then the {rank} kernel sizes; B14)"
        )


def _check_bias(b: np.ndarray | None, channels: int) -> None:
    if b is not None and b.shape != (channels,):
        raise GeometryError(
            f"b has shape {b.shape}; the layer has {channels} output channels, so b must have "
            f"shape ({channels},) (or pass None for no bias)"
        )


def _check_shape(name: str, array: np.ndarray, expected: tuple[int, ...], why: str) -> None:
    if tuple(array.shape) != tuple(expected):
        raise GeometryError(f"{name} has shape {array.shape}, expected {expected}: {why}")


def conv_geometry(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, *, stride: Size,
                  padding: Padding, dilation: Size, groups: int,
                  dy: np.ndarray | None = None) -> tuple[ConvGeometry, np.dtype]:
    """Geometry and dtype of ``conv(x, w, b, ...)``; also checks ``dy`` against the output."""
    dtype = check_arrays(x=x, w=w, b=b, dy=dy)
    rank = spatial_rank_of("x", x)
    _check_weight(w, rank)
    geometry = ConvGeometry.make(x.shape[1], w.shape[0], tuple(w.shape[2:]), stride=stride,
                                 padding=padding, dilation=dilation, groups=groups,
                                 bias=b is not None, ndim=rank)
    _check_shape("w", w, geometry.weight_shape,
                 f"x has {x.shape[1]} channels and groups={geometry.groups}, so each of the "
                 f"{w.shape[0]} filters sees {geometry.in_channels // geometry.groups} channels "
                 "(w is (C_out, C_in/groups, *kernel); B14)")
    _check_bias(b, geometry.out_channels)
    out = geometry.output_shape(x.shape)
    if dy is not None:
        _check_shape("dy", dy, out, "dy is the cotangent of the output y")
    return geometry, dtype


def conv_transpose_geometry(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, *,
                            stride: Size, padding: Size, output_padding: Size, dilation: Size,
                            groups: int, dy: np.ndarray | None = None) -> tuple[ConvGeometry, np.dtype]:
    """Geometry and dtype of ``conv_transpose(x, w, b, ...)``; also checks ``dy``."""
    dtype = check_arrays(x=x, w=w, b=b, dy=dy)
    rank = spatial_rank_of("x", x)
    _check_weight(w, rank)
    if w.shape[0] != x.shape[1]:
        raise GeometryError(
            f"x has {x.shape[1]} channels but w has {w.shape[0]} input channels: a transposed "
            "convolution's weight is (C_in, C_out/groups, *kernel) (B14)"
        )
    g = groups if isinstance(groups, (int, np.integer)) and groups > 0 else 1
    geometry = ConvGeometry.make(x.shape[1], w.shape[1] * g, tuple(w.shape[2:]), stride=stride,
                                 padding=padding, dilation=dilation, groups=groups,
                                 transposed=True, output_padding=output_padding,
                                 bias=b is not None, ndim=rank)
    _check_shape("w", w, geometry.weight_shape, "w is (C_in, C_out/groups, *kernel) (B14)")
    _check_bias(b, geometry.out_channels)
    out = geometry.output_shape(x.shape)
    if dy is not None:
        _check_shape("dy", dy, out, "dy is the cotangent of the output y")
    return geometry, dtype


def pool_geometry(x: np.ndarray, *, kernel: Size, stride: Size | None, padding: Size,
                  dilation: Size = 1, ceil_mode: bool = False, count_include_pad: bool = True,
                  dy: np.ndarray | None = None) -> tuple[PoolGeometry, np.dtype]:
    """Geometry and dtype of a max or average pooling call; also checks ``dy``."""
    dtype = check_arrays(x=x, dy=dy)
    rank = spatial_rank_of("x", x)
    for name, value in (("kernel", kernel), ("stride", stride), ("padding", padding),
                        ("dilation", dilation)):
        if is_sequence(value) and len(value) != rank:
            raise GeometryError(
                f"x has {rank} spatial axes but {name} has {len(value)} entries: give one "
                "entry per spatial axis")
    geometry = PoolGeometry.make(kernel, stride=stride, padding=padding, dilation=dilation,
                                 ceil_mode=ceil_mode, count_include_pad=count_include_pad,
                                 ndim=rank)
    out = geometry.output_shape(x.shape)
    if dy is not None:
        _check_shape("dy", dy, out, "dy is the cotangent of the pooled output")
    return geometry, dtype
