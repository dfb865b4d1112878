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

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

from ..spec.dtypes import DTYPES
from ..spec.geometry import ConvGeometry, PoolGeometry, volume

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


#: The kinds of invalid call the validation properties make
#: (:mod:`convspec.verify.strategies.invalid` builds them): input channels not matching the
#: weight, ``groups`` not dividing the channels, an output of size 0 or less, an input of
#: another rank, an input with one axis fewer than ``(N, C, *spatial)`` (what PyTorch reads as
#: one unbatched sample), ``output_padding >= max(stride, dilation)``, pooling padding above
#: half the dilated window, a dilated extent past 2^31, a ``dy`` of another shape.
INVALID_KINDS = ("channels", "groups", "kernel_too_large", "rank", "unbatched",
                 "output_padding", "pool_padding", "extent_overflow", "cotangent")


def _no_valid_call(geometry: Any, spatial: tuple[int, ...]) -> bool:
    return False


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
    #: Invalid calls of these :data:`INVALID_KINDS` that the library accepts by mistake
    #: (returns an array where it should raise) in ``operations``: the validation properties
    #: leave them out, quoting the defect. ``applies`` then concerns valid calls only.
    invalid_kinds: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        for what, value, allowed in (("operations", self.operations, OPERATIONS),
                                     ("dtypes", self.dtypes, DTYPES),
                                     ("ranks", self.ranks, RANKS),
                                     ("features", self.features, tuple(FEATURES)),
                                     ("invalid_kinds", self.invalid_kinds, INVALID_KINDS)):
            unknown = set(value) - set(allowed)
            if unknown:
                raise ValueError(f"KnownDefect.{what} has unknown entries {sorted(unknown)}; "
                                 f"known: {list(allowed)}")
            object.__setattr__(self, what, frozenset(value))

    @classmethod
    def of_invalid_calls(cls, name: str, operations: Iterable[str], kinds: Iterable[str],
                         reason: str, *, dtypes: Iterable[str] = DTYPES) -> KnownDefect:
        """A defect of invalid calls only: ``operations`` accept the invalid ``kinds`` (in
        ``dtypes``, every rank); no valid call is in its region."""
        return cls(name=name, operations=frozenset(operations), dtypes=frozenset(dtypes),
                   ranks=frozenset(RANKS), applies=_no_valid_call, reason=reason,
                   invalid_kinds=frozenset(kinds))

    def hits(self, operation: str, dtype: str, geometry: Any, spatial: Sequence[int],
             features: Iterable[str] = ()) -> bool:
        """Whether a call (with the :data:`FEATURES` it uses) falls in the defect's region."""
        return (operation in self.operations and dtype in self.dtypes
                and geometry.ndim in self.ranks and self.features <= frozenset(features)
                and self.applies(geometry, tuple(spatial)))


@dataclass(frozen=True)
class SummedDefect(KnownDefect):
    """A :class:`KnownDefect` of a sum over the batch: it hits a call in its region only where
    the batch times the output positions reaches ``terms`` (TensorFlow 2.21's bfloat16 bias
    gradient drifts past 2^16 terms). Geometry alone cannot say, so :meth:`hits` is false and
    :meth:`Capabilities.case_skip_reason` asks :meth:`hits_call`, which knows the batch."""

    terms: int = 0

    def hits(self, operation: str, dtype: str, geometry: Any, spatial: Sequence[int],
             features: Iterable[str] = ()) -> bool:
        return False

    def hits_call(self, operation: str, dtype: str, geometry: Any, batch: int,
                  spatial: Sequence[int], features: Iterable[str] = ()) -> bool:
        """Whether a call of ``batch`` samples is in the region and sums ``terms`` or more."""
        return (super().hits(operation, dtype, geometry, spatial, features)
                and batch * volume(geometry.output_spatial(tuple(spatial))) >= self.terms)


#: The limits a backend may declare on one call (:class:`Capabilities` fields, ``None``: none).
LIMITS = ("max_channels", "max_groups", "max_batch", "max_integer_parameter")


#: The ``reasons`` key of a missing operation, dtype, rank or feature.
_REASON_KEY = {"operations": "{}", "dtypes": "dtype:{}", "ranks": "rank:{}", "features": "{}"}

#: ``reasons`` keys that name a field of :class:`Capabilities` rather than a gap.
FIELD_REASON_KEYS = (*LIMITS, "example_fraction", "accepts_views")

#: Every form a ``reasons`` key may take (quoted by the error for a key of none of them).
REASON_KEY_FORMS = (
    "OPERATION, dtype:DTYPE, rank:RANK or FEATURE: why that operation, dtype, rank or "
    "feature is missing from the sets",
    "a gap of some cases only, at least two of [OPERATION:][dtype:DTYPE:][rank:RANK:][FEATURE] "
    "in that order (\"avg_pool:dtype:float16\", \"avg_pool:dtype:bfloat16:rank:3\", "
    "\"conv_vjp:dtype:float64:conv_dilation\", \"dtype:float16:groups\", "
    "\"conv_transpose:groups\")",
    "nonfinite:OPERATION or nonfinite:OPERATION:dtype:DTYPE: why IEEE 754 propagation is not "
    "promised there",
    f"a field's reason: {', '.join(FIELD_REASON_KEYS)}",
)


@dataclass(frozen=True)
class Gap:
    """A parsed ``reasons`` key that rules out some cases: every part given must match (the
    operation, the dtype, the rank, and the feature among the case's features)."""

    operation: str | None = None
    dtype: str | None = None
    rank: int | None = None
    feature: str | None = None

    @property
    def key(self) -> str:
        """The ``reasons`` key of this gap (:func:`reason_key`)."""
        return reason_key(self.operation, self.dtype, self.rank, self.feature)

    def matches(self, operation: str, dtype: str | None, rank: int | None,
                features: Iterable[str]) -> bool:
        """Whether a case (``None``: not known, so no part naming it matches) is in the gap."""
        return ((self.operation is None or self.operation == operation)
                and (self.dtype is None or self.dtype == dtype)
                and (self.rank is None or self.rank == rank)
                and (self.feature is None or self.feature in set(features)))


def reason_key(operation: str | None = None, dtype: str | None = None, rank: int | None = None,
               feature: str | None = None) -> str:
    """The ``reasons`` key of a gap: ``reason_key("avg_pool", "float16")`` is
    ``"avg_pool:dtype:float16"``, ``reason_key("conv_vjp", "float64", feature="groups")``
    ``"conv_vjp:dtype:float64:groups"``; with one part only, the key of a missing set entry."""
    parts = [*([operation] if operation else []), *(["dtype", dtype] if dtype else []),
             *(["rank", str(rank)] if rank else []), *([feature] if feature else [])]
    if not parts:
        raise ValueError("reason_key: give at least one of operation, dtype, rank, feature")
    return ":".join(parts)


@functools.lru_cache(maxsize=4096)
def parse_reason_key(key: str) -> Gap | None:
    """A ``reasons`` key parsed: the :class:`Gap` of a key naming two parts or more of
    (operation, dtype, rank, feature), ``None`` for the other valid forms (a set entry's or a
    field's reason, a ``nonfinite:`` key). ``ValueError`` naming the key and listing
    :data:`REASON_KEY_FORMS` for anything else, so a misspelt key never goes unnoticed."""
    if not isinstance(key, str):
        raise ValueError(f"Capabilities.reasons key {key!r} is not a str; "
                         + _accepted_forms())
    parts = key.split(":")
    if parts[0] == "nonfinite":
        if (len(parts) == 2 and parts[1] in OPERATIONS) or (
                len(parts) == 4 and parts[1] in OPERATIONS and parts[2] == "dtype"
                and parts[3] in DTYPES):
            return None
        raise ValueError(f"Capabilities.reasons key {key!r} is malformed; " + _accepted_forms())
    if len(parts) == 1 and key in FIELD_REASON_KEYS:
        return None
    values: dict[str, Any] = {}
    rest = list(parts)
    if rest and rest[0] in OPERATIONS:
        values["operation"] = rest.pop(0)
    if len(rest) >= 2 and rest[0] == "dtype" and rest[1] in DTYPES:
        values["dtype"] = rest[1]
        rest = rest[2:]
    if len(rest) >= 2 and rest[0] == "rank" and rest[1] in {str(r) for r in RANKS}:
        values["rank"] = int(rest[1])
        rest = rest[2:]
    if len(rest) == 1 and rest[0] in FEATURES:
        values["feature"] = rest.pop(0)
    if rest or not values:
        unknown = ", ".join(repr(p) for p in rest) or repr(key)
        raise ValueError(f"Capabilities.reasons key {key!r} is not understood (at {unknown}); "
                         + _accepted_forms())
    return Gap(**values) if len(values) > 1 else None


def _accepted_forms() -> str:
    return ("accepted forms: " + "; ".join(REASON_KEY_FORMS) + f". OPERATION is one of "
            f"{list(OPERATIONS)}, DTYPE of {list(DTYPES)}, RANK of {list(RANKS)}, FEATURE of "
            f"{list(FEATURES)}")


@dataclass(frozen=True)
class ProbeFinding:
    """What a capability probe saw that is no gap: a valid probe call that ``crashed`` (raised
    an exception that is no refusal), returned a ``wrong`` shape or values, or during which
    the process ``died`` (a segfault, an abort, a hang). The case stays in the capabilities, so
    the properties judge it; ``verify`` and ``convspec backends`` list the finding."""

    operation: str
    dtype: str
    rank: int
    kind: str
    message: str
    features: frozenset[str] = frozenset()

    def describe(self) -> str:
        """One line: the case, what happened and the message."""
        extra = f" with {', '.join(sorted(self.features))}" if self.features else ""
        return (f"{self.operation} {self.dtype} {self.rank}-D{extra}: {self.kind}: "
                f"{self.message}")


@dataclass(frozen=True)
class Capabilities:
    """What a backend supports. Defaults say "everything"; narrow what you lack.

    ``precision`` maps a dtype name to what the backend really computes in for it (for
    example ``"float32"`` or ``"tf32 (reduced, declared)"``); ``reasons`` maps an operation,
    dtype (``"dtype:float16"``), rank (``"rank:3"``) or feature name to why it is missing, and
    the suite quotes it when it skips. A key naming two or more of those parts in the order
    operation, dtype, rank, feature is a gap of its own, for what the per-axis sets cannot
    state: ``"avg_pool:dtype:float16"`` (no float16 average pooling, float16 elsewhere),
    ``"avg_pool:dtype:bfloat16:rank:3"``, ``"conv_vjp:dtype:float64:conv_dilation"`` (a feature
    missing in one dtype's gradients), ``"dtype:float16:groups"``, ``"conv_transpose:groups"``.
    Every key is parsed when the capabilities are made (:func:`parse_reason_key`): an unknown
    or malformed one raises ``ValueError`` naming it and listing :data:`REASON_KEY_FORMS`.
    ``findings`` are what a capability probe (:mod:`convspec.backends.probe`) saw go wrong on a
    valid call (crashed, wrong result, process died), listed by ``verify``, never a gap.
    ``example_fraction`` scales the profile's Hypothesis
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
    #: What the capability probe found wrong on valid calls (:class:`ProbeFinding`).
    findings: tuple[ProbeFinding, ...] = ()
    #: Invalid calls the library accepts on purpose, a documented convention of it, never a
    #: bug: ``"KIND"`` (every operation) or ``"OPERATION:KIND"`` (:data:`INVALID_KINDS`) to
    #: what the library does instead and where that is documented, e.g. ``{"unbatched":
    #: "torch reads (C, *spatial) as one sample (torch.nn.functional.conv2d: input (minibatch,
    #: in_channels, iH, iW) or (in_channels, iH, iW))"}``. The validation properties leave
    #: those cases out and say so; the declaration sweep checks the library accepts them.
    accepts_invalid: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for key in self.reasons:
            parse_reason_key(key)
        for key in self.accepts_invalid:
            operation, _, kind = key.rpartition(":")
            if kind not in INVALID_KINDS or (operation and operation not in OPERATIONS):
                raise ValueError(
                    f"Capabilities.accepts_invalid key {key!r} is not understood; give KIND or "
                    f"OPERATION:KIND, KIND one of {list(INVALID_KINDS)}, OPERATION one of "
                    f"{list(OPERATIONS)}")
        object.__setattr__(self, "accepts_invalid", dict(self.accepts_invalid))
        object.__setattr__(self, "findings", tuple(self.findings))
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
        """These capabilities less every dtype and every feature one of ``operations`` lacks
        (a gap such as ``"max_pool_vjp:pool_dilation"``), with that operation's reason: what a
        property calling all of them can draw."""
        operations = tuple(operations)
        lacking: dict[str, str] = {}
        missing: dict[str, str] = {}
        for operation in operations:
            for dtype in sorted(self.dtypes):
                why = self.skip_reason(operation, dtype)
                if why is not None and dtype not in lacking:
                    lacking[dtype] = f"{operation}: {why}"
            for feature in sorted(self.features):
                why = self.skip_reason(operation, features=(feature,))
                if why is not None and feature not in missing:
                    missing[feature] = f"{operation}: {why}"
        caps = self
        for dtype, why in lacking.items():
            caps = caps.without(dtypes=[dtype], reason=why)
        for feature, why in missing.items():
            caps = caps.without(features=[feature], reason=why)
        return caps

    def accepting(self, operation: str, kind: str) -> str | None:
        """The declared convention under which the library accepts ``operation``'s invalid
        calls of ``kind`` (:attr:`accepts_invalid`), or ``None``."""
        return self.accepts_invalid.get(f"{operation}:{kind}", self.accepts_invalid.get(kind))

    def skip_reason(self, operation: str, dtype: str | None = None, rank: int | None = None,
                    features: Iterable[str] = ()) -> str | None:
        """Why a case cannot run on this backend, or ``None`` if it can."""
        if operation not in self.operations:
            return self.reasons.get(operation, f"operation {operation!r} is not supported")
        if dtype is not None and dtype not in self.dtypes:
            return self.reasons.get(f"dtype:{dtype}", f"dtype {dtype} is not supported")
        if rank is not None and rank not in self.ranks:
            return self.reasons.get(f"rank:{rank}", f"{rank}-D {operation} is not supported")
        features = tuple(features)
        for feature in features:
            if feature not in self.features:
                return self.reasons.get(
                    feature, f"{FEATURES.get(feature, feature)} is not supported"
                )
        for key, why in self.reasons.items():
            gap = parse_reason_key(key)
            if gap is not None and gap.matches(operation, dtype, rank, features):
                return why
        return None

    def gaps(self) -> dict[str, Gap]:
        """The gaps of some cases only (``reasons`` keys of two parts or more), by key."""
        return {key: gap for key in self.reasons
                if (gap := parse_reason_key(key)) is not None}

    def open_findings(self) -> tuple[ProbeFinding, ...]:
        """The :attr:`findings` whose case these capabilities still run (a finding in a dtype
        or rank declared missing afterwards is moot)."""
        return tuple(f for f in self.findings
                     if self.skip_reason(f.operation, f.dtype, f.rank, f.features) is None)

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
                           if d.hits(operation, dtype, geometry, spatial, features)
                           or (isinstance(d, SummedDefect) and d.hits_call(
                               operation, dtype, geometry, batch, spatial, features))), None)
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
