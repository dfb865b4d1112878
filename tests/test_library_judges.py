"""The library judges an invalid call, not convspec (issue 17, item 1).

A built-in adapter of a convolution library puts its arguments in per-axis form and calls the
library; it does not validate the call with convspec's own checks first. So:

* on every built-in adapter path, a library that accepts invalid geometry (the adapter's
  library call replaced by one that returns an array, whatever it is given) fails the
  validation properties: nothing in front of the library rejected the call for it;
* on the real libraries, every invalid call the properties make is rejected by the library
  (or by the adapter's code for a parameter it implements itself, with a plain ``ValueError``),
  never by a convspec ``GeometryError``, except where the adapter declares the library's
  convention (``Capabilities.accepts_invalid``) or defect (``KnownDefect.invalid_kinds``);
* each such declaration is real: the library accepts those calls.

The adapters that are implementations themselves, built on primitives that know no convolution
geometry (the reference, scipy's and CuPy's filters), validate with
:class:`convspec.backends._convert.CheckedOperations`; they are listed here, and no other
built-in may be.
"""

from __future__ import annotations

import importlib
import traceback
from pathlib import Path

import numpy as np
import pytest

from convspec.backends import _convert, capabilities_of
from convspec.backends.protocol import FORWARD_OPERATIONS, OPERATIONS
from convspec.backends.registry import BUILTIN_BACKENDS, BackendUnavailable, load_backend
from convspec.spec.errors import GeometryError
from convspec.verify.conformance import DELIBERATE_REJECTIONS, ConformanceError, expect_rejected
from convspec.verify.helpers import first_dtype
from convspec.verify.strategies.invalid import excused, fixed_invalid_cases, invalid_kinds

#: Built-ins that implement the operations themselves (no library to judge the call).
IMPLEMENTATIONS = {"reference", "scipy", "cupy"}
#: Built-in adapters of a convolution library, on this machine's devices (CPU).
LIBRARY_ADAPTERS = ("torch", "torch-channels-last", "jax", "onnxruntime", "tensorflow",
                    "openvino", "tinygrad", "paddle")
_CONVSPEC = Path(importlib.import_module("convspec").__file__).parent
_REFERENCE = Path(importlib.import_module("convspec.reference").__file__).parent


def _load(name: str):
    if name not in BUILTIN_BACKENDS:
        pytest.skip(f"{name} is not a built-in backend here")
    try:
        return load_backend(name)
    except BackendUnavailable as exc:
        pytest.skip(str(exc))


def _cases(backend, *, with_excused: bool = False):
    """(operation, case, dtype) for every fixed invalid case the backend is asked about."""
    caps = capabilities_of(backend)
    for operation in OPERATIONS:
        if operation not in caps.operations:
            continue
        dtype = first_dtype(caps, operation)
        for case in fixed_invalid_cases(operation):
            limit = caps.max_integer_parameter
            if (caps.skip_reason(operation, None, case.rank, case.features) is not None
                    or (limit is not None and case.largest_parameter > limit)):
                continue
            if with_excused or excused(operation, case.kind, caps) is None:
                yield operation, case, dtype


class _AcceptsEverything:
    """Stands in for the library: whatever the adapter hands it, it returns an array."""

    def _forward(self, operation, geometry, arrays):
        return np.zeros((1, 1, 1), arrays[0].dtype)

    def _vjp(self, operation, geometry, arrays, dy):
        return tuple(None if a is None else np.zeros_like(a) for a in arrays)


def _permissive(backend):
    """The adapter with its library calls replaced by :class:`_AcceptsEverything`'s."""
    backend._forward = _AcceptsEverything._forward.__get__(backend)
    backend._vjp = _AcceptsEverything._vjp.__get__(backend)
    return backend


@pytest.mark.parametrize("name", LIBRARY_ADAPTERS)
def test_a_permissive_library_fails_every_invalid_kind_on_the_adapter_path(name):
    """Every invalid kind of every operation reaches the library on this adapter's path: with a
    library that accepts anything, each fixed invalid case is reported "accepted an invalid
    call" (so the validation properties fail it); none is rejected in front of the library."""
    backend = _permissive(_load(name))
    kinds_seen = set()
    for operation, case, dtype in _cases(backend, with_excused=True):
        with pytest.raises(ConformanceError, match="accepted an invalid call"):
            expect_rejected(backend, operation, case.arrays(operation, dtype),
                            case.kwargs_for(operation), rule=case.rule)
        kinds_seen.add((operation, case.kind))
    caps = capabilities_of(backend)
    for operation in caps.operations:
        missing = [k for k in invalid_kinds(operation) if (operation, k) not in kinds_seen
                   and any(c.kind == k for c in fixed_invalid_cases(operation))
                   and excused(operation, k, caps) is None
                   and any(caps.skip_reason(operation, None, c.rank, c.features) is None
                           for c in fixed_invalid_cases(operation) if c.kind == k)]
        assert not missing, f"{name} {operation}: kinds never tried {missing}"


def _raised_by_convspec_checks(exc: BaseException) -> bool:
    frame = traceback.extract_tb(exc.__traceback__)[-1]
    where = Path(frame.filename).resolve()
    from_checks = (where.is_relative_to(_CONVSPEC / "spec") or where.is_relative_to(_REFERENCE))
    return isinstance(exc, GeometryError) or from_checks


@pytest.mark.parametrize("name", LIBRARY_ADAPTERS)
def test_the_library_rejects_every_invalid_call_it_is_asked(name):
    """On the real library, each fixed invalid case is rejected deliberately, and the
    rejection comes from the library (or the adapter's own composition), never from convspec's
    geometry checks."""
    backend = _load(name)
    judged_by_convspec = []
    for operation, case, dtype in _cases(backend):
        exc = expect_rejected(backend, operation, case.arrays(operation, dtype),
                              case.kwargs_for(operation), rule=case.rule)
        if _raised_by_convspec_checks(exc):
            judged_by_convspec.append(f"{operation} {case.kind} ({case.why}): {exc}")
    assert not judged_by_convspec, "\n".join(judged_by_convspec)


@pytest.mark.parametrize("name", LIBRARY_ADAPTERS)
def test_each_accepted_kind_is_really_accepted(name):
    """A declared convention or defect that excuses a kind must not hide a library that
    rejects it: of each excused (operation, kind), some fixed case returns an array on the real
    library (a convention may cover part of a kind, as ONNX Runtime's pads below the kernel),
    and the others are rejected deliberately, never crash."""
    backend = _load(name)
    caps = capabilities_of(backend)
    accepted, crashed = {}, []
    for operation, case, dtype in _cases(backend, with_excused=True):
        if excused(operation, case.kind, caps) is None:
            continue
        accepted.setdefault((operation, case.kind), False)
        try:
            getattr(backend, operation)(*case.arrays(operation, dtype),
                                        **case.kwargs_for(operation))
        except DELIBERATE_REJECTIONS + tuple(caps.rejects_with):
            continue
        except Exception as exc:  # noqa: BLE001 - an accidental exception is the finding
            crashed.append(f"{operation} {case.kind} ({case.why}): {type(exc).__name__}: {exc}")
            continue
        accepted[operation, case.kind] = True
    hidden = [f"{op}:{kind}" for (op, kind), ok in accepted.items() if not ok]
    assert not hidden, f"declared as accepted, but the library rejects every case: {hidden}"
    assert not crashed, "\n".join(crashed)


@pytest.mark.parametrize("name", sorted(set(BUILTIN_BACKENDS)))
def test_only_implementations_validate_with_convspec_checks(name):
    module, _, attr = BUILTIN_BACKENDS[name].partition(":")
    try:
        target = getattr(importlib.import_module(module), attr)
    except ImportError as exc:
        pytest.skip(str(exc))
    cls = target if isinstance(target, type) else type(_load(name))
    checked = issubclass(cls, _convert.CheckedOperations)
    if name in IMPLEMENTATIONS:
        assert checked or name == "reference", f"{name} should validate its own inputs"
    else:
        assert not checked, (f"{name} validates with convspec's checks; a library adapter "
                             "must let its library judge (inherit ForwardOperations)")


def test_forward_operations_do_not_judge():
    """The shared base hands an invalid call on: groups not dividing the channels, an output
    of size 0, a dy of another shape, all reach ``_forward`` / ``_vjp``."""
    seen = []

    class Recorder(_convert.ForwardOperations, _convert.VjpOperations):
        def _forward(self, operation, geometry, arrays):
            seen.append((operation, geometry.output_shape(arrays[0].shape)))
            return np.zeros(1)

        def _vjp(self, operation, geometry, arrays, dy):
            seen.append((operation, dy.shape))
            return (None,) * len(arrays)

    r = Recorder()
    x = np.ones((1, 3, 2))
    r.conv(x, np.ones((4, 2, 5)), None, stride=1, padding=0, dilation=1, groups=2)
    r.max_pool(x, kernel=2, stride=1, padding=3, dilation=1, ceil_mode=False)
    r.avg_pool_vjp(x, np.ones((7, 7, 7)), kernel=5, stride=1, padding=0, ceil_mode=False,
                   count_include_pad=True)
    assert seen == [("conv", (1, 4, -2)), ("max_pool", (1, 3, 7)), ("avg_pool", (7, 7, 7))]
    assert set(FORWARD_OPERATIONS) <= set(dir(r))


@pytest.mark.parametrize("key", ["unbatch", "conv:ranks", "conv2d:rank", "conv:rank:extra"])
def test_an_unknown_accepts_invalid_key_is_refused(key):
    from convspec.backends import Capabilities

    with pytest.raises(ValueError, match="accepts_invalid key"):
        Capabilities(accepts_invalid={key: "why"})


def test_a_declared_convention_or_defect_excuses_exactly_its_kind_and_operations():
    from convspec.backends import Capabilities, KnownDefect

    defect = KnownDefect("wraps", frozenset({"max_pool"}), frozenset({"float32"}),
                         frozenset({1}), lambda g, s: False, "repro",
                         invalid_kinds=frozenset({"extent_overflow"}))
    caps = Capabilities(accepts_invalid={"unbatched": "reads one sample",
                                         "avg_pool:kernel_too_large": "empty output"},
                        defects=(defect,))
    assert "by convention: reads one sample" in excused("conv_vjp", "unbatched", caps)
    assert excused("avg_pool", "kernel_too_large", caps)
    assert excused("max_pool", "kernel_too_large", caps) is None
    assert "known defect wraps" in excused("max_pool", "extent_overflow", caps)
    assert excused("max_pool_vjp", "extent_overflow", caps) is None
    with pytest.raises(ValueError, match="invalid_kinds"):
        KnownDefect("x", frozenset({"conv"}), frozenset({"float32"}), frozenset({1}),
                    lambda g, s: False, "r", invalid_kinds=frozenset({"overflow"}))
