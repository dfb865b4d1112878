"""What the built-in adapters share: argument forms, dtype names, probing.

Nothing here computes a convolution or a pooling. :class:`ForwardOperations` and
:class:`VjpOperations` give an adapter the protocol's methods with their exact signatures,
the arguments put in per-axis form and left unjudged, so an adapter only maps a geometry onto
its library's call and the library judges it (:class:`CheckedOperations` validates first, for
adapters that are implementations themselves); the
other helpers name dtypes and translate arguments into the forms libraries take. Probing what
a library lacks is :mod:`convspec.backends.probe` (public); the names here that predate it
(``CaseCapabilities``, ``declared``, ``fold_cases``, ``probe_cases``, ``probe_call``,
``probed_capabilities``) keep working for adapters written against them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from ..spec.dtypes import HALF_DTYPES
from ..spec.dtypes import dtype_name as _dtype_name
from ..spec.dtypes import numpy_dtype
from ..spec.geometry import ConvGeometry, PoolGeometry
from ..spec.validate import is_sequence
from ..reference import checks
from .probe import declared, fold_cases, probe_capabilities
from .protocol import RANKS, Capabilities, reason_key


def dtype_name(array: Any, what: str = "x") -> str:
    """The protocol dtype name of a numpy array, or ``TypeError`` naming the argument."""
    try:
        return _dtype_name(getattr(array, "dtype", type(array)))
    except TypeError as exc:
        raise TypeError(f"{what}: {exc}") from None


def case_key(operation: str, dtype: str, rank: int | None = None) -> str:
    """The ``reasons`` key of one unsupported (operation, dtype[, rank]) combination
    (:func:`convspec.backends.protocol.reason_key`)."""
    return reason_key(operation, dtype, rank)


#: Deprecated: the public :class:`Capabilities` states per-case gaps itself.
CaseCapabilities = Capabilities


def probe_cases(operations: Iterable[str], dtypes: Iterable[str],
                attempt: Callable[[str, str, int], None],
                ranks: Iterable[int] = RANKS) -> dict[str, str]:
    """Deprecated (any exception counts as a gap; :mod:`convspec.backends.probe` tells a
    refusal from a crash): run ``attempt(operation, dtype, rank)`` for every case; the
    failures' messages by :func:`case_key`."""
    failures: dict[str, str] = {}
    for operation in operations:
        for dtype in dtypes:
            for rank in ranks:
                try:
                    attempt(operation, dtype, rank)
                except Exception as exc:  # noqa: BLE001 - the old contract
                    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                    failures[case_key(operation, dtype, rank)] = first_line[:200]
    return failures


Arrays = tuple[Any, ...]


def _spatial_rank(x: Any, *per_axis: Any) -> int | None:
    """``None`` when a per-axis argument is a tuple (it sets the rank, whatever ``x`` has);
    else ``x``'s spatial axes."""
    if any(is_sequence(value) for value in per_axis):
        return None
    return max(1, np.ndim(x) - 2)


def _channels(array: Any, axis: int) -> int:
    shape = np.shape(array)
    return shape[axis] if len(shape) > axis else 1


def conv_call(x: Any, w: Any, b: Any, *, stride: Any, padding: Any, dilation: Any, groups: Any,
              output_padding: Any = 0, transposed: bool = False) -> ConvGeometry:
    """The unjudged geometry of one protocol ``conv`` / ``conv_transpose`` call
    (``ConvGeometry.make(..., judged=False)``): the arguments in per-axis form, the rank from
    the kernel, the channels as the arrays have them, nothing checked that the library is to
    judge (channels against the weight, groups, output sizes, output_padding, dy)."""
    kernel = tuple(np.shape(w)[2:])
    in_channels = _channels(x, 1)
    per_group = groups if isinstance(groups, (int, np.integer)) and groups > 0 else 1
    out_channels = _channels(w, 1) * per_group if transposed else _channels(w, 0)
    return ConvGeometry.make(in_channels, max(out_channels, 1), kernel, stride=stride,
                             padding=padding, dilation=dilation, groups=groups,
                             transposed=transposed, output_padding=output_padding,
                             bias=b is not None, judged=False)


def pool_call(x: Any, *, kernel: Any, stride: Any, padding: Any, dilation: Any = 1,
              ceil_mode: bool = False, count_include_pad: bool = True) -> PoolGeometry:
    """The unjudged geometry of one protocol pooling call (:func:`conv_call`'s counterpart)."""
    return PoolGeometry.make(kernel, stride=stride, padding=padding, dilation=dilation,
                             ceil_mode=ceil_mode, count_include_pad=count_include_pad,
                             ndim=_spatial_rank(x, kernel, stride, padding, dilation),
                             judged=False)


class ForwardOperations:
    """The protocol's four forward operations, for an adapter to inherit.

    Each method puts its arguments in per-axis form (:func:`conv_call`, :func:`pool_call`:
    an unjudged geometry) and hands it to ``self._forward(operation, geometry, arrays)``,
    which the adapter implements by calling its library. ``arrays`` is ``(x, w, b)`` or
    ``(x,)``. Nothing is validated here: an invalid call reaches the library, which must
    reject it (the validation properties judge the library, not convspec's checks).
    """

    def _forward(self, operation: str, geometry: Any, arrays: Arrays) -> np.ndarray:
        raise NotImplementedError

    def conv(self, x: np.ndarray, w: np.ndarray, b: np.ndarray | None, *, stride: Any,
             padding: Any, dilation: Any, groups: int) -> np.ndarray:
        g = conv_call(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
        return self._forward("conv", g, (x, w, b))

    def conv_transpose(self, x: np.ndarray, w: np.ndarray, b: np.ndarray | None, *, stride: Any,
                       padding: Any, output_padding: Any, dilation: Any,
                       groups: int) -> np.ndarray:
        g = conv_call(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups,
                      output_padding=output_padding, transposed=True)
        return self._forward("conv_transpose", g, (x, w, b))

    def max_pool(self, x: np.ndarray, *, kernel: Any, stride: Any, padding: Any, dilation: Any,
                 ceil_mode: bool) -> np.ndarray:
        g = pool_call(x, kernel=kernel, stride=stride, padding=padding, dilation=dilation,
                      ceil_mode=ceil_mode)
        return self._forward("max_pool", g, (x,))

    def avg_pool(self, x: np.ndarray, *, kernel: Any, stride: Any, padding: Any,
                 ceil_mode: bool, count_include_pad: bool) -> np.ndarray:
        g = pool_call(x, kernel=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode,
                      count_include_pad=count_include_pad)
        return self._forward("avg_pool", g, (x,))


class VjpOperations:
    """The protocol's four vector-Jacobian products, unjudged like :class:`ForwardOperations`
    (a ``dy`` of another shape than the output reaches the library too).

    The adapter implements ``self._vjp(operation, geometry, arrays, dy)`` returning one
    gradient per array in ``arrays`` (``None`` where the array is ``None``); ``operation`` is
    the forward operation's name.
    """

    def _vjp(self, operation: str, geometry: Any, arrays: Arrays,
             dy: np.ndarray) -> tuple[np.ndarray | None, ...]:
        raise NotImplementedError

    def conv_vjp(self, x: np.ndarray, w: np.ndarray, b: np.ndarray | None, dy: np.ndarray, *,
                 stride: Any, padding: Any, dilation: Any, groups: int) -> tuple:
        g = conv_call(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
        return self._vjp("conv", g, (x, w, b), dy)

    def conv_transpose_vjp(self, x: np.ndarray, w: np.ndarray, b: np.ndarray | None,
                           dy: np.ndarray, *, stride: Any, padding: Any, output_padding: Any,
                           dilation: Any, groups: int) -> tuple:
        g = conv_call(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups,
                      output_padding=output_padding, transposed=True)
        return self._vjp("conv_transpose", g, (x, w, b), dy)

    def max_pool_vjp(self, x: np.ndarray, dy: np.ndarray, *, kernel: Any, stride: Any,
                     padding: Any, dilation: Any, ceil_mode: bool) -> np.ndarray:
        g = pool_call(x, kernel=kernel, stride=stride, padding=padding, dilation=dilation,
                      ceil_mode=ceil_mode)
        return self._vjp("max_pool", g, (x,), dy)[0]

    def avg_pool_vjp(self, x: np.ndarray, dy: np.ndarray, *, kernel: Any, stride: Any,
                     padding: Any, ceil_mode: bool, count_include_pad: bool) -> np.ndarray:
        g = pool_call(x, kernel=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode,
                      count_include_pad=count_include_pad)
        return self._vjp("avg_pool", g, (x,), dy)[0]


class CheckedOperations(ForwardOperations, VjpOperations):
    """:class:`ForwardOperations` and :class:`VjpOperations` that validate every call with
    :mod:`convspec.reference.checks` first (a ``GeometryError`` or ``TypeError`` naming the
    argument), for an adapter that *is* the implementation: one built on primitives that
    know no convolution geometry (scipy's and CuPy's filters), where no library is there to
    judge the call. An adapter of a convolution library inherits the unjudged classes."""

    def conv(self, x, w, b, **kwargs):  # type: ignore[override]
        checks.conv_geometry(x, w, b, **kwargs)
        return super().conv(x, w, b, **kwargs)

    def conv_transpose(self, x, w, b, **kwargs):  # type: ignore[override]
        checks.conv_transpose_geometry(x, w, b, **kwargs)
        return super().conv_transpose(x, w, b, **kwargs)

    def max_pool(self, x, **kwargs):  # type: ignore[override]
        checks.pool_geometry(x, **kwargs)
        return super().max_pool(x, **kwargs)

    def avg_pool(self, x, **kwargs):  # type: ignore[override]
        checks.pool_geometry(x, **kwargs)
        return super().avg_pool(x, **kwargs)

    def conv_vjp(self, x, w, b, dy, **kwargs):  # type: ignore[override]
        checks.conv_geometry(x, w, b, dy=dy, **kwargs)
        return super().conv_vjp(x, w, b, dy, **kwargs)

    def conv_transpose_vjp(self, x, w, b, dy, **kwargs):  # type: ignore[override]
        checks.conv_transpose_geometry(x, w, b, dy=dy, **kwargs)
        return super().conv_transpose_vjp(x, w, b, dy, **kwargs)

    def max_pool_vjp(self, x, dy, **kwargs):  # type: ignore[override]
        checks.pool_geometry(x, dy=dy, **kwargs)
        return super().max_pool_vjp(x, dy, **kwargs)

    def avg_pool_vjp(self, x, dy, **kwargs):  # type: ignore[override]
        checks.pool_geometry(x, dy=dy, **kwargs)
        return super().avg_pool_vjp(x, dy, **kwargs)


def probe_call(backend: Any, operation: str, dtype: str, rank: int, *, batch: int = 1) -> None:
    """Call ``backend.operation`` once on a tiny valid case (stride, padding, ceil_mode);
    deprecated: :class:`convspec.backends.probe.ProbeCase` also checks the result."""
    from ..spec.geometry import ConvGeometry

    rng = np.random.default_rng(0)

    def array(shape: tuple[int, ...] | None) -> np.ndarray | None:
        return None if shape is None else rng.integers(-2, 3, size=shape).astype(
            numpy_dtype(dtype))

    base = operation.removesuffix("_vjp")
    x = array((batch, 2, *(5,) * rank))
    if base in ("conv", "conv_transpose"):
        g = ConvGeometry.make(2, 2, (2,) * rank, stride=2, padding=1,
                              transposed=base == "conv_transpose")
        args: tuple[Any, ...] = (x, array(g.weight_shape), array(g.bias_shape))
        kwargs = g.kwargs()
        out = g.output_shape(x.shape)
    else:
        pool = PoolGeometry.make((3,) * rank, stride=2, padding=1, ceil_mode=True)
        args = (x,)
        kwargs = pool.max_pool_kwargs() if base == "max_pool" else pool.avg_pool_kwargs()
        out = pool.output_shape(x.shape)
    if operation == base:
        getattr(backend, operation)(*args, **kwargs)
    else:
        getattr(backend, operation)(*args, array(out), **kwargs)


def probed_capabilities(base: Capabilities, target: Any, *, library: str,
                        operations: Sequence[str], dtypes: Sequence[str],
                        ranks: Sequence[int]) -> Capabilities:
    """``base`` narrowed to what ``target`` really runs (:func:`probe.probe_capabilities`:
    every (operation, dtype, rank) once, pooling with ``ceil_mode`` where ``base`` has it,
    and a batch of zero samples once per operation)."""
    pool = ("ceil_mode",) if "ceil_mode" in base.features else ()
    return probe_capabilities(target, base, library=library, operations=operations,
                              dtypes=dtypes, ranks=ranks, pool_features=pool)


class _GeometryOnly(CheckedOperations):
    """Runs the protocol's argument checks and keeps the geometry, computing nothing."""

    geometry: Any = None

    def _forward(self, operation: str, geometry: Any, arrays: Arrays) -> None:
        self.geometry = geometry

    def _vjp(self, operation: str, geometry: Any, arrays: Arrays, dy: Any) -> tuple:
        self.geometry = geometry
        return (None,)


def call_geometry(operation: str, *args: Any, **kwargs: Any) -> Any:
    """The validated geometry of one protocol call, ``backend.operation(*args, **kwargs)``."""
    probe = _GeometryOnly()
    getattr(probe, operation)(*args, **kwargs)
    return probe.geometry


__all__ = [
    "Arrays", "CaseCapabilities", "CheckedOperations", "ForwardOperations", "HALF_DTYPES", "VjpOperations",
    "call_geometry", "case_key", "conv_call", "pool_call", "declared", "dtype_name", "fold_cases", "probe_call",
    "probe_cases", "probed_capabilities",
]
