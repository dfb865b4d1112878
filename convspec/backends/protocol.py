"""The backend protocol: what a backend is, and how it says what it cannot do.

A backend is any object with a ``name`` and some of the operations below, with the signatures
of :mod:`convspec.reference`. Arrays cross the boundary as numpy arrays, channels-first
``(N, C, *spatial)``; every size argument is a tuple with one int per spatial axis; ``conv``
padding is a tuple of ``(before, after)`` pairs, ``conv_transpose`` and pooling padding a tuple
of ints. A missing operation means "unsupported". An optional ``capabilities()`` method returns
a :class:`Capabilities`; anything outside it is skipped with the reason, never failed.

Operations (``x`` input, ``w`` weight, ``b`` bias or ``None``, ``dy`` output cotangent)::

    conv(x, w, b, *, stride, padding, dilation, groups) -> y
    conv_transpose(x, w, b, *, stride, padding, output_padding, dilation, groups) -> y
    max_pool(x, *, kernel, stride, padding, dilation, ceil_mode) -> y
    avg_pool(x, *, kernel, stride, padding, ceil_mode, count_include_pad) -> y
    conv_vjp(x, w, b, dy, *, stride, padding, dilation, groups) -> (dx, dw, db)
    conv_transpose_vjp(x, w, b, dy, *, stride, padding, output_padding, dilation, groups)
        -> (dx, dw, db)
    max_pool_vjp(x, dy, *, kernel, stride, padding, dilation, ceil_mode) -> dx
    avg_pool_vjp(x, dy, *, kernel, stride, padding, ceil_mode, count_include_pad) -> dx

``db`` is ``None`` when ``b`` is ``None``. Weight layouts are PyTorch's (B14): conv
``(C_out, C_in/G, *K)``, transposed ``(C_in, C_out/G, *K)``.

The array contract: every array argument is a C-contiguous, writeable, positively strided
numpy array of its own (no argument aliases another or the caller's data), which the backend
may keep or overwrite. Only the layout property (``properties/test_layout.py``) hands views of
other layouts (sliced, transposed, negatively strided, offset, Fortran order), and requires the
same results; a backend that cannot take views declares ``Capabilities(accepts_views=False)``.

Rejections: an invalid call must raise ``ValueError``, ``RuntimeError``,
``NotImplementedError`` or a type named in ``Capabilities.rejects_with``; any other exception
(``AttributeError``, ``KeyError``, ``IndexError``, ...) is a crash on the invalid case. An
exception on a valid case is a refusal: declare the gap in the capabilities if it is deliberate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

from ..spec.dtypes import DTYPES
from ..spec.geometry import ConvGeometry, PoolGeometry

FORWARD_OPERATIONS = ("conv", "conv_transpose", "max_pool", "avg_pool")
VJP_OPERATIONS = ("conv_vjp", "conv_transpose_vjp", "max_pool_vjp", "avg_pool_vjp")
OPERATIONS = FORWARD_OPERATIONS + VJP_OPERATIONS
RANKS = (1, 2, 3)

#: Geometry features a backend may lack; :func:`required_features` says which a case uses.
FEATURES: Mapping[str, str] = {
    "asymmetric_padding": "conv padding that differs before and after on some axis",
    "groups": "groups > 1 in conv or conv_transpose",
    "conv_dilation": "dilation > 1 in conv",
    "transposed_dilation": "dilation > 1 in conv_transpose",
    "output_padding": "output_padding > 0 in conv_transpose",
    "pool_padding": "padding > 0 in pooling",
    "pool_dilation": "dilation > 1 in max pooling",
    "pool_wide_padding": "pooling padding above half the undilated window (allowed up to half "
                         "the dilated window)",
    "pool_small_input": "a pooling window longer than the unpadded input on some axis (it fits "
                        "only thanks to the padding)",
    "ceil_mode": "ceil_mode=True in pooling",
    "exclude_pad": "count_include_pad=False in average pooling",
    "empty_batch": "a batch of zero samples",
}


@dataclass(frozen=True)
class KnownDefect:
    """A bug of the backend's library, found by the suite and declared by its adapter.

    The calls it hits (``operations`` × ``dtypes`` × ``ranks``, using every one of
    ``features`` (:data:`FEATURES`, e.g. ``{"empty_batch"}``), where ``applies(geometry,
    spatial)`` is true for the call's geometry and input spatial size) are skipped with
    ``reason``, which should name the library version and a standalone reproduction; they are
    listed by ``convspec backends`` and at the end of every ``verify`` run, never dropped
    silently. Declare one only where the library is wrong, never for a convention difference
    (those are ``features``), and only where it is present: probed on this machine, or, where
    a probe would crash the process, for the library versions it was found on.
    """

    name: str
    operations: frozenset[str]
    dtypes: frozenset[str]
    ranks: frozenset[int]
    applies: Callable[[Any, tuple[int, ...]], bool]
    reason: str
    features: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        for what, value, allowed in (("operations", self.operations, OPERATIONS),
                                     ("dtypes", self.dtypes, DTYPES),
                                     ("ranks", self.ranks, RANKS),
                                     ("features", self.features, tuple(FEATURES))):
            unknown = set(value) - set(allowed)
            if unknown:
                raise ValueError(f"KnownDefect.{what} has unknown entries {sorted(unknown)}; "
                                 f"known: {list(allowed)}")
            object.__setattr__(self, what, frozenset(value))

    def hits(self, operation: str, dtype: str, geometry: Any, spatial: Sequence[int],
             features: Iterable[str] = ()) -> bool:
        """Whether a call (with the :data:`FEATURES` it uses) falls in the defect's region."""
        return (operation in self.operations and dtype in self.dtypes
                and geometry.ndim in self.ranks and self.features <= frozenset(features)
                and self.applies(geometry, tuple(spatial)))


#: The limits a backend may declare on one call (:class:`Capabilities` fields, ``None``: none).
LIMITS = ("max_channels", "max_groups", "max_batch", "max_integer_parameter")


#: The ``reasons`` key of a missing operation, dtype, rank or feature.
_REASON_KEY = {"operations": "{}", "dtypes": "dtype:{}", "ranks": "rank:{}", "features": "{}"}


@dataclass(frozen=True)
class Capabilities:
    """What a backend supports. Defaults say "everything"; narrow what you lack.

    ``precision`` maps a dtype name to what the backend really computes in for it (for
    example ``"float32"`` or ``"tf32 (reduced, declared)"``); ``reasons`` maps an operation,
    dtype (``"dtype:float16"``), rank (``"rank:3"``) or feature name to why it is missing, and
    the suite quotes it when it skips. ``example_fraction`` scales the profile's Hypothesis
    examples per property (never below one) for a backend whose every new case is expensive,
    such as one that compiles each shape; ``reasons["example_fraction"]`` says why, and
    ``verify`` reports the budget it ran with.
    """

    operations: frozenset[str] = frozenset(OPERATIONS)
    dtypes: frozenset[str] = frozenset(DTYPES)
    ranks: frozenset[int] = frozenset(RANKS)
    features: frozenset[str] = frozenset(FEATURES)
    devices: tuple[str, ...] = ("cpu",)
    precision: Mapping[str, str] = field(default_factory=dict)
    reasons: Mapping[str, str] = field(default_factory=dict)
    defects: tuple[KnownDefect, ...] = ()
    example_fraction: float = 1.0
    #: Whether operations accept arrays of any layout (views: sliced, transposed, negatively
    #: strided, offset, Fortran order). ``False``: the layout property is skipped with
    #: ``reasons["accepts_views"]``; every other call hands contiguous copies anyway.
    accepts_views: bool = True
    #: The library's own exception types that reject an invalid call deliberately, besides
    #: ``ValueError``, ``RuntimeError`` and ``NotImplementedError``.
    rejects_with: tuple[type[BaseException], ...] = ()
    #: Operations whose non-finite results follow IEEE 754 as :mod:`convspec.spec.nonfinite`
    #: states (NaN and ±inf exactly where the specification puts them, every other output as
    #: for finite inputs). Nothing is promised by default: the non-finite properties skip an
    #: operation left out, quoting ``reasons["nonfinite:<operation>"]``, and a dtype a promise
    #: does not hold in, named by ``reasons["nonfinite:<operation>:dtype:<dtype>"]``.
    nonfinite: frozenset[str] = frozenset()
    #: Limits of what one call may hold (``None``: none), each with its reason in
    #: ``reasons[<field name>]``: the most input or output channels, groups, samples, and the
    #: largest integer parameter (kernel, stride, padding, dilation, output_padding). The
    #: strategies never draw past them (issue 14's threshold cases go past 2^16 and to 2^31).
    max_channels: int | None = None
    max_groups: int | None = None
    max_batch: int | None = None
    max_integer_parameter: int | None = None

    def __post_init__(self) -> None:
        for name in LIMITS:
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 1):
                raise ValueError(f"Capabilities.{name} is {value!r}; give an int >= 1 or None "
                                 f"(no limit), and the reason in reasons[{name!r}]")
        for kind in self.rejects_with:
            if not (isinstance(kind, type) and issubclass(kind, Exception)):
                raise ValueError(f"Capabilities.rejects_with has {kind!r}; give exception "
                                 "classes, e.g. (onnxruntime.capi.onnxruntime_pybind11_state."
                                 "InvalidArgument,)")
        object.__setattr__(self, "rejects_with", tuple(self.rejects_with))
        if not 0 < self.example_fraction <= 1:
            raise ValueError(f"Capabilities.example_fraction is {self.example_fraction!r}; "
                             "give a fraction in (0, 1] of the profile's examples")
        for name, allowed in (("operations", OPERATIONS), ("dtypes", DTYPES),
                              ("ranks", RANKS), ("features", tuple(FEATURES)),
                              ("nonfinite", OPERATIONS)):
            value = frozenset(getattr(self, name))
            unknown = value - set(allowed)
            if unknown:
                raise ValueError(
                    f"Capabilities.{name} has unknown entries {sorted(unknown)}; "
                    f"known: {list(allowed)}"
                )
            object.__setattr__(self, name, value)

    def without(self, *, reason: str | None = None, **missing: Iterable[Any]) -> Capabilities:
        """A copy with some operations, dtypes, ranks or features removed; with ``reason``,
        that is why each removed entry is missing (replacing the backend's own reason)."""
        changes: dict[str, Any] = {k: frozenset(getattr(self, k)) - frozenset(v)
                                   for k, v in missing.items()}
        if reason is not None:
            reasons = dict(self.reasons)
            for kind, values in missing.items():
                for value in values:
                    reasons[_REASON_KEY[kind].format(value)] = reason
            changes["reasons"] = reasons
        return replace(self, **changes)

    def for_operations(self, operations: Iterable[str]) -> Capabilities:
        """These capabilities less every dtype one of ``operations`` lacks, with that
        operation's reason: what a property calling all of them can draw."""
        lacking: dict[str, str] = {}
        for operation in operations:
            for dtype in sorted(self.dtypes):
                why = self.skip_reason(operation, dtype)
                if why is not None and dtype not in lacking:
                    lacking[dtype] = f"{operation}: {why}"
        caps = self
        for dtype, why in lacking.items():
            caps = caps.without(dtypes=[dtype], reason=why)
        return caps

    def skip_reason(self, operation: str, dtype: str | None = None, rank: int | None = None,
                    features: Iterable[str] = ()) -> str | None:
        """Why a case cannot run on this backend, or ``None`` if it can."""
        if operation not in self.operations:
            return self.reasons.get(operation, f"operation {operation!r} is not supported")
        if dtype is not None and dtype not in self.dtypes:
            return self.reasons.get(f"dtype:{dtype}", f"dtype {dtype} is not supported")
        if rank is not None and rank not in self.ranks:
            return self.reasons.get(f"rank:{rank}", f"{rank}-D {operation} is not supported")
        for feature in features:
            if feature not in self.features:
                return self.reasons.get(
                    feature, f"{FEATURES.get(feature, feature)} is not supported"
                )
        return None

    def nonfinite_skip_reason(self, operation: str, dtype: str | None = None) -> str | None:
        """Why a non-finite property of ``operation`` (in ``dtype``) cannot run here: the
        operation is unsupported, or its IEEE 754 propagation is not promised (not in
        ``nonfinite``, or ruled out for the dtype by ``reasons["nonfinite:<op>:dtype:<d>"]``);
        ``None`` if it can."""
        reason = self.skip_reason(operation, dtype)
        if reason is None and operation not in self.nonfinite:
            reason = self.reasons.get(
                f"nonfinite:{operation}",
                f"the backend does not promise IEEE 754 propagation of NaN and ±inf in "
                f"{operation} (Capabilities.nonfinite)")
        if reason is None and dtype is not None:
            reason = self.reasons.get(f"nonfinite:{operation}:dtype:{dtype}")
        return reason

    def case_skip_reason(self, operation: str, dtype: str, geometry: ConvGeometry | PoolGeometry,
                         *, batch: int = 1, spatial: Sequence[int] | None = None) -> str | None:
        """Why one call (its geometry, batch and input ``spatial`` size) cannot run here: a gap
        of :meth:`skip_reason`, or a :class:`KnownDefect` it hits; ``None`` if it can run."""
        features = required_features(geometry, operation=operation, batch=batch,
                                     spatial=spatial)
        reason = self.skip_reason(operation, dtype, geometry.ndim, features)
        if reason is None and spatial is not None:
            reason = next((d.reason for d in self.defects
                           if d.hits(operation, dtype, geometry, spatial, features)), None)
        return reason

    def example_budget(self, profile_examples: int) -> int:
        """Hypothesis examples per property when the profile asks for ``profile_examples``."""
        return max(1, round(profile_examples * self.example_fraction))


@runtime_checkable
class Backend(Protocol):
    """Structural type of a backend: a name; operations are optional attributes."""

    name: str


def capabilities_of(backend: Any) -> Capabilities:
    """The backend's declared capabilities, less any operation it does not define."""
    declared = backend.capabilities() if hasattr(backend, "capabilities") else Capabilities()
    if not isinstance(declared, Capabilities):
        raise TypeError(
            f"{type(backend).__name__}.capabilities() returned {type(declared).__name__}; "
            "return a convspec.backends.Capabilities"
        )
    absent = [op for op in OPERATIONS if not callable(getattr(backend, op, None))]
    if not absent:
        return declared
    reasons = dict(declared.reasons)
    for op in absent:
        reasons.setdefault(op, f"the backend has no {op} method")
    # replace() keeps a subclass (CaseCapabilities) and its per-case holes.
    return replace(declared, reasons=reasons).without(operations=absent)


def required_features(geometry: ConvGeometry | PoolGeometry, *, operation: str,
                      batch: int = 1, spatial: Sequence[int] | None = None) -> frozenset[str]:
    """The :data:`FEATURES` a case with this geometry (and input ``spatial`` size, when given)
    exercises."""
    needed: set[str] = set()
    if batch == 0:
        needed.add("empty_batch")
    if isinstance(geometry, ConvGeometry):
        if not geometry.is_symmetric:
            needed.add("asymmetric_padding")
        if geometry.groups > 1:
            needed.add("groups")
        if any(d > 1 for d in geometry.dilation):
            needed.add("transposed_dilation" if geometry.transposed else "conv_dilation")
        if any(geometry.output_padding):
            needed.add("output_padding")
        return frozenset(needed)
    if any(geometry.padding):
        needed.add("pool_padding")
    if geometry.ceil_mode:
        needed.add("ceil_mode")
    if operation.startswith("max_pool") and any(d > 1 for d in geometry.dilation):
        needed.add("pool_dilation")
    if any(2 * p > k for p, k in zip(geometry.padding, geometry.kernel)):
        needed.add("pool_wide_padding")
    if spatial is not None and any(n < k for n, k in zip(spatial, geometry.effective_kernel)):
        needed.add("pool_small_input")
    if operation.startswith("avg_pool") and not geometry.count_include_pad:
        needed.add("exclude_pad")
    return frozenset(needed)


#: How a :class:`PreparedCall` stages its data: on the device, or through numpy arrays per call.
MODE_DEVICE = "device-resident"
MODE_NUMPY = "numpy-protocol"


def nothing() -> None:
    """The synchronize of a call that needs none."""
    return None


@dataclass(frozen=True)
class PreparedCall:
    """A zero-argument operation on device-resident data, ready to time.

    ``run`` launches the work; ``synchronize`` waits for it. ``flush`` evicts the caches of
    ``device`` (``None``: the harness picks one by device). ``mode`` says how data was staged.
    """

    run: Callable[[], Any]
    synchronize: Callable[[], None] = nothing
    device: str = "cpu"
    mode: str = MODE_DEVICE
    flush: Callable[[], None] | None = None
