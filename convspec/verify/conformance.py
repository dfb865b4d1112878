"""Calling a backend under test and judging what it returns.

Properties never call a backend directly: :func:`call` runs the operation under the watchdog,
turns an exception on a valid case, a wrong shape or a wrong dtype into a
:class:`ConformanceError`, and :func:`expect_reference` / :func:`expect_close` compare results
with the tolerance model of :mod:`convspec.verify.tolerance`. A ``ConformanceError`` carries the call
(operation, arrays, keyword arguments) so the pytest plugin can write a standalone repro script
for the minimal counterexample Hypothesis finds.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import numpy as np

from ..spec.dtypes import dtype_name
from ..spec.geometry import PoolGeometry, volume
from .layouts import layout_of
from .tolerance import C_MIX, Comparison, Tolerance, compare
from .watchdog import guard

#: For each operation, the positional array arguments and which of them enter linearly
#: (their absolute values give the magnitude ``S`` of the tolerance model).
SIGNATURES: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "conv": (("x", "w", "b"), ("x", "w", "b")),
    "conv_transpose": (("x", "w", "b"), ("x", "w", "b")),
    "max_pool": (("x",), ()),
    "avg_pool": (("x",), ("x",)),
    "conv_vjp": (("x", "w", "b", "dy"), ("x", "w", "b", "dy")),
    "conv_transpose_vjp": (("x", "w", "b", "dy"), ("x", "w", "b", "dy")),
    "max_pool_vjp": (("x", "dy"), ("dy",)),
    "avg_pool_vjp": (("x", "dy"), ("dy",)),
}
#: Names of each operation's outputs.
OUTPUTS = {"conv_vjp": ("dx", "dw", "db"), "conv_transpose_vjp": ("dx", "dw", "db"),
           "max_pool_vjp": ("dx",), "avg_pool_vjp": ("dx",)}


@dataclass
class Call:
    """One backend call: enough to replay it."""

    operation: str
    arrays: dict[str, np.ndarray | None]
    kwargs: dict[str, Any]
    #: The arrays went to the backend as they are (views, the layout property), not as the
    #: array contract's copies.
    as_given: bool = False

    def layouts(self) -> dict[str, str]:
        """The arrays handed over as views, and their layouts (empty unless ``as_given``)."""
        if not self.as_given:
            return {}
        found = {k: layout_of(v) for k, v in self.arrays.items()}
        return {k: layout for k, layout in found.items() if layout is not None}

    def describe(self) -> str:
        shapes = ", ".join(f"{k}{'=None' if v is None else str(tuple(v.shape))}"
                           for k, v in self.arrays.items())
        dtype = next((dtype_name(v.dtype) for v in self.arrays.values() if v is not None), "?")
        args = ", ".join(f"{k}={v}" for k, v in self.kwargs.items())
        views = ", ".join(f"{k} {layout}" for k, layout in self.layouts().items())
        return (f"{self.operation}({shapes}; {args}) in {dtype}"
                + (f", as views: {views}" if views else ""))


class ConformanceError(AssertionError):
    """A backend broke the specification on a concrete case."""

    #: What went wrong: "wrong" (a result off the specification), "refused" (an exception on
    #: a valid case), "accepted-invalid", "crashed-on-invalid".
    KINDS = ("wrong", "refused", "accepted-invalid", "crashed-on-invalid")

    def __init__(self, reason: str, *, call: Call | None = None,
                 comparison: Comparison | None = None, ids: Sequence[str] = (),
                 details: str = "", kind: str = "wrong", stateful: bool = False) -> None:
        if kind not in self.KINDS:
            raise ValueError(f"kind={kind!r}: choose from {self.KINDS}")
        self.kind = kind
        #: Found by a sequence of calls whose earlier ones may have left state in the backend
        #: (the statelessness property): replaying the call alone, or the minimal example alone
        #: on a fresh backend, need not reproduce it; re-running the whole property does.
        self.stateful = stateful
        self.reason = reason
        self.call = call
        self.comparison = comparison
        self.ids = tuple(ids)
        self.details = details
        text = reason
        if call is not None:
            text += f"\n  call: {call.describe()}"
        if comparison is not None:
            text += f"\n  worst: {comparison.describe()}"
        if details:
            text += f"\n  {details}"
        super().__init__(text)


@dataclass
class Recorder:
    """What the properties observed during one test, collected by the pytest plugin."""

    effective_bits: dict[str, float] = field(default_factory=dict)
    calls: int = 0
    #: Why drawn calls were discarded as outside the capabilities (reason -> count).
    rejections: Counter = field(default_factory=Counter)
    #: Called with the record of every call :func:`call` hands to a backend (the plugin's
    #: coverage report); kept across :meth:`reset`.
    observers: list[Callable[[Call], None]] = field(default_factory=list)

    def observe(self, dtype: str, comparison: Comparison) -> None:
        if comparison.effective_bits is None or not comparison.ok:
            return
        old = self.effective_bits.get(dtype)
        self.effective_bits[dtype] = (comparison.effective_bits if old is None
                                      else min(old, comparison.effective_bits))

    def reset(self) -> None:
        self.effective_bits = {}
        self.calls = 0
        self.rejections = Counter()


RECORDER = Recorder()


def _method(backend: Any, operation: str) -> Callable[..., Any]:
    method = getattr(backend, operation, None)
    if not callable(method):
        raise ConformanceError(f"the backend has no {operation} method")
    return method


def unsupported_reason(backend: Any, record: Call) -> str | None:
    """Why the backend's capabilities exclude this exact call, or ``None``.

    Strategies draw within the capabilities' general sets; this also catches the holes that
    only a combination shows (one dtype of one operation at one rank, an input shorter than a
    pooling window).
    """
    from ..backends.protocol import capabilities_of

    geometry = _geometry_of(record)
    if geometry is None:  # the backend call itself will report the problem
        return None
    x = next(iter(record.arrays.values()))
    return capabilities_of(backend).case_skip_reason(
        record.operation, dtype_name(x.dtype), geometry, batch=x.shape[0], spatial=x.shape[2:])


def _reject_if_unsupported(backend: Any, record: Call) -> None:
    """Inside a Hypothesis test, an example outside the capabilities is discarded (and why is
    counted, so a property that can draw nothing else is skipped with that reason)."""
    if not hypothesis.currently_in_test_context():
        return
    reason = unsupported_reason(backend, record)
    if reason:
        RECORDER.rejections[f"{record.operation}: {reason}"] += 1
        hypothesis.reject()


def contract_copy(array: np.ndarray | None) -> np.ndarray | None:
    """What a backend receives for each array argument (the array contract of
    :mod:`convspec.backends.protocol`): a C-contiguous, writeable, positively strided copy that
    it may keep, aliasing nothing else."""
    return None if array is None else np.array(array, order="C", copy=True)


def call(backend: Any, operation: str, *arrays: np.ndarray | None, as_given: bool = False,
         **kwargs: Any) -> Any:
    """Run ``backend.operation(*arrays, **kwargs)`` on a case the spec calls valid.

    The backend gets :func:`contract_copy` of each array, or the arrays themselves (views of
    any layout) with ``as_given`` (the layout property). An exception is a refusal of a valid
    case; a non-array result, or a result whose shape or dtype differs from what the geometry
    implies, is a :class:`ConformanceError` too (the shape and dtype checks are done by the
    callers that know the expected shape: :func:`expect_reference`).
    """
    names, _ = SIGNATURES[operation]
    record = Call(operation, dict(zip(names, arrays)), kwargs, as_given=as_given)
    method = _method(backend, operation)
    _reject_if_unsupported(backend, record)
    handed = arrays if as_given else tuple(contract_copy(a) for a in arrays)
    RECORDER.calls += 1
    for observe in RECORDER.observers:
        observe(record)
    try:
        with guard(record):
            return method(*handed, **kwargs)
    except ConformanceError:
        raise
    except Exception as exc:  # the backend's own failure is the finding
        raise ConformanceError(refusal(record, exc), call=record, kind="refused") from exc


def _geometry_of(record: Call) -> Any:
    """The validated geometry of a call, or ``None`` where the spec rejects it."""
    from ..backends import call_geometry

    try:
        return call_geometry(record.operation, *record.arrays.values(), **record.kwargs)
    except Exception:  # noqa: BLE001 - an invalid call has no geometry
        return None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:300]


def _features_used(record: Call) -> tuple[int | None, frozenset[str]]:
    """Rank and :data:`FEATURES` of a call, as its capabilities would judge it."""
    from ..backends.protocol import required_features

    geometry = _geometry_of(record)
    if geometry is None:  # a geometry the spec rejects has no features to name
        return None, frozenset()
    x = next(iter(record.arrays.values()))
    return geometry.ndim, required_features(geometry, operation=record.operation,
                                            batch=x.shape[0], spatial=x.shape[2:])


def refusal(record: Call, exc: BaseException) -> str:
    """The finding when a backend raises on a valid case: what it raised, the features the
    case uses, and what to declare if the limit is deliberate."""
    rank, features = _features_used(record)
    dtype = next((dtype_name(v.dtype) for v in record.arrays.values() if v is not None), "?")
    used = ", ".join(sorted(features)) or "none (a plain case)"
    first = _first_line(exc)
    declare = (f"Capabilities(features=FEATURES - {{{', '.join(repr(f) for f in sorted(features))}}}"
               f", reasons={{...}})" if features else
               f"Capabilities(dtypes=..., ranks=..., reasons={{'{record.operation}:dtype:{dtype}"
               f"': 'why'}}) or leave {record.operation} out")
    return (f"{record.operation} refused a valid case: raised {type(exc).__name__}: {first} "
            f"[{rank}-D, {dtype}; features used: {used}]. If this limit is deliberate, declare "
            f"it in capabilities(): {declare}")


def reference_outputs(operation: str, arrays: Sequence[np.ndarray | None],
                      kwargs: Mapping[str, Any]) -> tuple[tuple[np.ndarray | None, ...],
                                                          tuple[np.ndarray | None, ...]]:
    """Exact results (float64) and magnitudes ``S`` for each output of an operation."""
    from .. import reference

    names, linear = SIGNATURES[operation]
    exact_in = [None if a is None else np.asarray(a).astype(np.float64) for a in arrays]
    magnitude_in = [None if a is None else (np.abs(a) if name in linear else a)
                    for name, a in zip(names, exact_in)]
    fn = getattr(reference, operation)
    exact = fn(*exact_in, **kwargs)
    if operation == "max_pool":
        magnitude: Any = np.zeros_like(exact)
    else:
        magnitude = fn(*magnitude_in, **kwargs)
    as_tuple = (lambda v: v if isinstance(v, tuple) else (v,))
    return as_tuple(exact), as_tuple(magnitude)


def reduction_lengths(operation: str, arrays: Sequence[np.ndarray | None],
                      kwargs: Mapping[str, Any]) -> tuple[int, ...]:
    """Longest sum behind one element of each output (the K of the tolerance model), from the
    call's geometry: a convolution's :attr:`~ConvGeometry.reduction_length` (plus the bias);
    a vjp's ``dx`` that of the adjoint, ``dw`` and ``db`` a sum over the batch and the output
    (``dw`` of a transposed layer: over its input) positions; an average pooling window's
    :attr:`~PoolGeometry.kernel_volume`; a pooling gradient's windows per input (G2)."""
    from ..backends import call_geometry

    geometry = call_geometry(operation, *arrays, **kwargs)
    if isinstance(geometry, PoolGeometry):
        if operation == "avg_pool":
            return (geometry.kernel_volume,)
        return (geometry.windows_per_input,)
    if operation in ("conv", "conv_transpose"):
        return (geometry.reduction_length + 1,)
    x = arrays[0]
    per_output = x.shape[0] * geometry.output_volume(x.shape[2:])
    if operation == "conv_vjp":
        return (geometry.adjoint().reduction_length, per_output, per_output)
    return (geometry.adjoint().reduction_length, x.shape[0] * volume(x.shape[2:]), per_output)


def _check_array(operation: str, name: str, value: Any, shape: tuple[int, ...], dtype: np.dtype,
                 record: Call) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        raise ConformanceError(
            f"{operation} returned {type(value).__name__} for {name}, expected a numpy array",
            call=record)
    if value.shape != shape:
        raise ConformanceError(
            f"{operation} returned {name} of shape {value.shape}, the geometry gives {shape}",
            call=record)
    if value.dtype != dtype:
        raise ConformanceError(
            f"{operation} returned {name} as {value.dtype}, expected the input dtype {dtype}",
            call=record)
    return value


def expect_reference(backend: Any, operation: str, arrays: Sequence[np.ndarray | None],
                     kwargs: Mapping[str, Any], tolerance: Tolerance, *,
                     ids: Sequence[str] = (),
                     as_given: bool = False) -> tuple[np.ndarray | None, ...]:
    """Run the backend and check every output against the reference within ``tolerance``.

    Returns the backend's outputs (a tuple, ``None`` for an absent bias gradient).
    """
    kwargs = dict(kwargs)
    names, _ = SIGNATURES[operation]
    record = Call(operation, dict(zip(names, arrays)), kwargs, as_given=as_given)
    exact, magnitude = reference_outputs(operation, arrays, kwargs)
    raw = call(backend, operation, *arrays, as_given=as_given, **kwargs)
    outputs = raw if isinstance(raw, tuple) else (raw,)
    out_names = OUTPUTS.get(operation, ("y",))
    if len(outputs) != len(out_names):
        raise ConformanceError(
            f"{operation} returned {len(outputs)} values, expected {len(out_names)} "
            f"({', '.join(out_names)})", call=record, ids=ids)
    dtype = np.asarray(arrays[0]).dtype
    lengths = reduction_lengths(operation, arrays, kwargs)
    scales = transform_scales(operation, arrays, kwargs)
    before_bias = intermediates(operation, arrays, exact[0])
    checked = []
    for name, got, want, mag, k in zip(out_names, outputs, exact, magnitude, lengths):
        if want is None:
            if got is not None:
                raise ConformanceError(f"{operation} returned {name} for a call without bias",
                                       call=record, ids=ids)
            checked.append(None)
            continue
        got = _check_array(operation, name, got, want.shape, dtype, record)
        result = compare(got, want, mag, k, tolerance, transform=scales[len(checked)],
                         intermediate=before_bias[len(checked)])
        if not result.ok:
            raise ConformanceError(f"{operation} output {name} differs from the specification",
                                   call=record, comparison=result, ids=ids)
        RECORDER.observe(tolerance.dtype, result)
        checked.append(got)
    return tuple(checked)


def expect_close(actual: np.ndarray, expected: np.ndarray, magnitude: np.ndarray,
                 reduction: int, tolerance: Tolerance, *, what: str, call_record: Call | None = None,
                 ids: Sequence[str] = (), slack: float = 1.0,
                 transform: np.ndarray | None = None,
                 intermediate: np.ndarray | None = None) -> Comparison:
    """Check two arrays agree within ``slack`` times the tolerance (for metamorphic laws,
    where both sides are backend results, ``slack=2``). ``transform``: the operand-norm scale
    of the backend calls behind ``actual`` (:func:`transform_scales`, broadcast to its shape);
    ``intermediate``: see :meth:`convspec.verify.tolerance.Tolerance.bound`."""
    if np.shape(actual) != np.shape(expected):
        raise ConformanceError(
            f"{what}: shapes differ, {np.shape(actual)} against {np.shape(expected)}",
            call=call_record, ids=ids)
    model = tolerance.scaled(slack)
    result = compare(np.asarray(actual), np.asarray(expected, dtype=np.float64),
                     np.asarray(magnitude, dtype=np.float64), reduction, model,
                     transform=transform, intermediate=intermediate)
    if not result.ok:
        raise ConformanceError(what, call=call_record, comparison=result, ids=ids)
    return result


#: Exception types that reject an invalid call deliberately; a backend adds its library's own
#: with ``Capabilities.rejects_with``. Anything else (AttributeError, KeyError, IndexError,
#: ZeroDivisionError, NameError, TypeError, ...) is a crash on the invalid input.
DELIBERATE_REJECTIONS: tuple[type[BaseException], ...] = (ValueError, RuntimeError,
                                                          NotImplementedError)


def expect_rejected(backend: Any, operation: str, arrays: Sequence[np.ndarray | None],
                    kwargs: Mapping[str, Any], *, rule: str, ids: Sequence[str] = ()) -> Exception:
    """An invalid call must raise a deliberate error (:data:`DELIBERATE_REJECTIONS` or the
    backend's ``rejects_with``); returning anything, or crashing with another exception, is a
    :class:`ConformanceError`."""
    from ..backends.protocol import capabilities_of

    names, _ = SIGNATURES[operation]
    record = Call(operation, dict(zip(names, arrays)), dict(kwargs))
    method = _method(backend, operation)
    deliberate = DELIBERATE_REJECTIONS + tuple(capabilities_of(backend).rejects_with)
    try:
        with guard(record, invalid=rule):
            result = method(*(contract_copy(a) for a in arrays), **kwargs)
    except deliberate as exc:
        return exc
    except Exception as exc:  # noqa: BLE001 - an accidental exception is the finding
        allowed = ", ".join(t.__name__ for t in deliberate)
        raise ConformanceError(
            f"{operation} crashed on an invalid case ({rule}): raised {type(exc).__name__}: "
            f"{_first_line(exc)}; reject it deliberately with "
            f"{allowed}, or name the library's own error type in Capabilities.rejects_with",
            call=record, ids=ids, kind="crashed-on-invalid") from exc
    shape = getattr(result, "shape", None)
    raise ConformanceError(
        f"{operation} accepted an invalid call ({rule}) and returned "
        f"{type(result).__name__}{'' if shape is None else f' of shape {shape}'}",
        call=record, ids=ids, kind="accepted-invalid")


# --- comparison helpers (the tolerance model's operand-norm transform term) -----------------

def _norms(a: np.ndarray, keep: int) -> np.ndarray:
    """2-norms of ``a`` (float64) over every axis after the first ``keep``."""
    a = np.asarray(a).astype(np.float64)
    return np.sqrt(np.sum(a * a, axis=tuple(range(keep, a.ndim))))


def transform_length(operation: str, arrays: Sequence[np.ndarray | None],
                     kwargs: Mapping[str, Any]) -> int:
    """``L`` of the transform term: per axis, the largest signal (padded) plus the kernel's
    extent, multiplied over the axes (an FFT of the whole padded signal is at most this)."""
    from ..backends import call_geometry

    return _transform_length(call_geometry(operation, *arrays, **kwargs), arrays)


def _transform_length(geometry: Any, arrays: Sequence[np.ndarray | None]) -> int:
    x = arrays[0]
    spatial = [np.shape(a)[2:] for a in arrays if a is not None and np.ndim(a) == np.ndim(x)]
    return geometry.transform_length(tuple(max(sizes) for sizes in zip(*spatial)))


def transform_scales(operation: str, arrays: Sequence[np.ndarray | None],
                     kwargs: Mapping[str, Any]) -> tuple[np.ndarray | None, ...]:
    """For each output of a conv-family operation, ``(log2(2 + L) + C / c_mix) · ‖a‖₂ ‖k‖₂``
    per element: the norms of the two operands every transform algorithm (FFT, Winograd) mixes
    into that element, and ``C`` the number of products summed per frequency (the channels of a
    group, or the batch for a weight gradient): the tolerance model's transform term, derived in
    :mod:`convspec.verify.tolerance`.

    * ``conv`` ``y[n, o]``: ``x[n]`` restricted to ``o``'s group, and the kernel ``w[o]``;
    * ``conv_transpose`` ``y[n, o]``: ``x[n]`` in the group, and ``w[group rows, o]``;
    * vjps: ``dx[n, c]`` from ``dy[n]`` in the group and the weights touching ``c``;
      ``dw[o, c]`` from ``dy[:, o]`` and ``x[:, c]`` over the whole batch; ``db`` is a plain
      sum (``None``: the elementwise form).

    Pooling has no operands to mix: every entry is ``None``.
    """
    if operation not in ("conv", "conv_transpose", "conv_vjp", "conv_transpose_vjp"):
        return (None,) * len(OUTPUTS.get(operation, ("y",)))
    from ..backends import call_geometry

    x, w = (np.asarray(a) for a in arrays[:2])
    dy = None if len(arrays) < 4 or arrays[3] is None else np.asarray(arrays[3])
    geometry = call_geometry(operation, *arrays, **kwargs)
    g = geometry.groups
    mixing = math.log2(2 + _transform_length(geometry, arrays))
    n = x.shape[0]

    def per_group(a: np.ndarray) -> np.ndarray:  # (N, G): norm of each sample's group slice
        return _norms(a.reshape(a.shape[0], g, a.shape[1] // g, *a.shape[2:]), 2)

    def spread(t: np.ndarray, shape: tuple[int, ...], summed: int) -> np.ndarray:
        factor = mixing + summed / C_MIX
        return np.broadcast_to(factor * t.reshape(t.shape + (1,) * (len(shape) - t.ndim)),
                               shape)

    if operation == "conv":
        o = w.shape[0]
        t = per_group(x)[:, np.arange(o) // (o // g)] * _norms(w, 1)[None, :]
        return (spread(t, geometry.output_shape(x.shape), x.shape[1] // g),)
    if operation == "conv_transpose":
        cin, og = w.shape[:2]
        wn = _norms(w.reshape(g, cin // g, og, *w.shape[2:]).swapaxes(1, 2), 2).reshape(g * og)
        t = per_group(x)[:, np.arange(g * og) // og] * wn[None, :]
        return (spread(t, geometry.output_shape(x.shape), cin // g),)
    assert dy is not None
    if operation == "conv_vjp":
        o, cg = w.shape[:2]
        wn = _norms(w.reshape(g, o // g, cg, *w.shape[2:]).swapaxes(1, 2), 2).reshape(g * cg)
        t_dx = per_group(dy)[:, np.arange(g * cg) // cg] * wn[None, :]
        group_of_o = np.arange(o) // (o // g)
        xn = _norms(x.swapaxes(0, 1), 1).reshape(g, cg)  # ‖x[:, c]‖
        t_dw = _norms(dy.swapaxes(0, 1), 1)[:, None] * xn[group_of_o]
        return (spread(t_dx, x.shape, o // g), spread(t_dw, w.shape, n), None)
    cin, og = w.shape[:2]
    t_dx = per_group(dy)[:, np.arange(cin) // (cin // g)] * _norms(w, 1)[None, :]
    dyn = _norms(dy.swapaxes(0, 1), 1).reshape(g, og)  # ‖dy[:, o]‖
    t_dw = _norms(x.swapaxes(0, 1), 1)[:, None] * dyn[np.arange(cin) // (cin // g)]
    return (spread(t_dx, x.shape, og), spread(t_dw, w.shape, n), None)


def intermediates(operation: str, arrays: Sequence[np.ndarray | None],
                  exact: np.ndarray | None) -> tuple[np.ndarray | None, ...]:
    """For each output, the exact result a correct pipeline may round to the output dtype
    before its last step: conv and conv_transpose before their bias (``exact - b``); ``None``
    elsewhere."""
    count = len(OUTPUTS.get(operation, ("y",)))
    if operation not in ("conv", "conv_transpose") or arrays[2] is None or exact is None:
        return (None,) * count
    b = np.asarray(arrays[2]).astype(np.float64)
    return (exact - b.reshape(1, -1, *(1,) * (exact.ndim - 2)),)


def expect_zero(actual: np.ndarray, mask: np.ndarray | None, transform: np.ndarray,
                reduction: int, tolerance: Tolerance, *, what: str,
                magnitude: np.ndarray | None = None, slack: float = 1.0,
                call_record: Call | None = None, ids: Sequence[str] = ()) -> Comparison:
    """The elements of ``actual`` where ``mask`` holds (all without a mask) are zero as the
    tolerance model judges zero: exactly 0 in exact arithmetic, so only the transform term
    (``transform``, from :func:`transform_scales` of the calls behind ``actual``), the
    accumulation term of ``magnitude`` (0 by default: no product reaches them) and the floor
    allow anything else. A direct summation returns exact zeros there; an FFT leaves rounding
    of the order ``u · log2 L · ‖a‖ ‖k‖``."""
    got = np.asarray(actual)
    keep = np.ones(got.shape, dtype=bool) if mask is None else np.broadcast_to(mask, got.shape)
    scale = np.broadcast_to(np.asarray(transform, dtype=np.float64), got.shape)
    mag = (np.zeros(got.shape) if magnitude is None
           else np.broadcast_to(np.asarray(magnitude, dtype=np.float64), got.shape))
    return expect_close(got[keep], np.zeros(int(np.count_nonzero(keep))), mag[keep], reduction,
                        tolerance, what=what, call_record=call_record, ids=ids, slack=slack,
                        transform=scale[keep])


def nonzero_beyond_rounding(actual: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Where ``actual`` is non-zero beyond what the model allows an exact zero
    (:func:`zero_allowance`): the measured support of an impulse response, ``np.nonzero``
    with rounding taken out."""
    got = np.abs(np.asarray(actual).astype(np.float64))
    return got > np.broadcast_to(allowed, got.shape)


def zero_allowance(steps: Sequence[tuple[str, Sequence[np.ndarray | None], Mapping[str, Any]]],
                   tolerance: Tolerance, *, slack: float = 1.0) -> np.ndarray:
    """What the model lets a backend return, per element of the last output of a stack of
    ``conv`` calls, where the exact result is 0 (an impulse response outside its support).

    ``steps`` are the calls as made, each with the backend's arrays (the previous step's
    result as the next input). Each step adds its own allowance for an exact zero (transform
    term of its operands, floor) to the previous step's allowance carried through it:
    the exact map ``|w|`` applied to the previous allowance (a rounding error of the input
    propagates linearly)."""
    from .. import reference

    allowed: np.ndarray | None = None
    for operation, arrays, kwargs in steps:
        if operation != "conv":
            raise ValueError(f"zero_allowance follows conv stacks, not {operation}")
        scale = transform_scales(operation, arrays, kwargs)[0]
        (k,) = reduction_lengths(operation, arrays, kwargs)
        zeros = np.zeros(np.shape(scale))
        own = tolerance.scaled(slack).bound(zeros, zeros, k, scale)
        if allowed is not None:
            w = np.abs(np.asarray(arrays[1]).astype(np.float64))
            own = own + reference.conv(allowed, w, None, **kwargs)
        allowed = own
    if allowed is None:
        raise ValueError("zero_allowance needs at least one step")
    return allowed
