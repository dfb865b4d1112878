"""Loading backends: ``package.module:attr`` (instance, class, zero-argument factory), names
registered through the ``convspec.backends`` entry points, and clear errors for bad specs."""

from __future__ import annotations

import importlib
import re
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from convspec.backends.protocol import Capabilities, capabilities_of
from convspec.backends.registry import (
    ENTRY_POINT_GROUP,
    BackendLoadError,
    BackendUnavailable,
    backend_row,
    known_backends,
    load_backend,
)
from convspec.reference import ops

SITE = Path(__file__).parent / "fixtures" / "entry_point_site"

USER_MODULE = '''
"""A user's own backends, as they would write them in their project."""

from convspec.backends import Capabilities
from convspec.backends.registry import BackendUnavailable
from convspec.reference import ops


class MyBackend:
    """conv and max_pool from the reference, with declared capabilities."""

    name = "mine"
    conv = staticmethod(ops.conv)
    max_pool = staticmethod(ops.max_pool)

    def __init__(self, tag="default"):
        self.tag = tag

    def capabilities(self):
        return Capabilities(dtypes={"float64", "float32"})


INSTANCE = MyBackend("instance")


def make_backend():
    return MyBackend("factory")


class Holder:
    backend = MyBackend("nested")


def needs_arguments(device):
    return MyBackend(device)


def not_here():
    raise BackendUnavailable("no frobnicator on this machine")


def broken():
    raise RuntimeError("the adapter has a bug")


NOT_A_BACKEND = 42


class Nameless:
    conv = staticmethod(ops.conv)


class NoOperations:
    name = "empty"


class BadCapabilities:
    name = "bad-caps"
    conv = staticmethod(ops.conv)

    def capabilities(self):
        return {"dtypes": ["float32"]}
'''


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A module of the user's own, importable by name, removed again afterwards."""
    name = f"my_convspec_backends_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(USER_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    yield name
    sys.modules.pop(name, None)


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fixture distribution on sys.path, as if pip had installed it."""
    monkeypatch.syspath_prepend(str(SITE))
    importlib.invalidate_caches()
    yield
    sys.modules.pop("convspec_demo_backend", None)


def _conv_agrees(backend: object) -> None:
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((1, 2, 5)), rng.standard_normal((3, 2, 3))
    kwargs = dict(stride=(1,), padding=((1, 1),), dilation=(1,), groups=1)
    np.testing.assert_array_equal(backend.conv(x, w, None, **kwargs),
                                  ops.conv(x, w, None, **kwargs))


# -- module:attr -----------------------------------------------------------------------------

def test_instance_loads_as_is(user_module: str) -> None:
    module = importlib.import_module(user_module)
    backend = load_backend(f"{user_module}:INSTANCE")
    assert backend is module.INSTANCE
    _conv_agrees(backend)


@pytest.mark.parametrize("attr, tag", [("MyBackend", "default"), ("make_backend", "factory"),
                                       ("Holder.backend", "nested")])
def test_class_factory_and_nested_attribute(user_module: str, attr: str, tag: str) -> None:
    backend = load_backend(f"  {user_module}:{attr} ")
    assert backend.name == "mine" and backend.tag == tag
    _conv_agrees(backend)


def test_declared_capabilities_and_missing_methods(user_module: str) -> None:
    caps = capabilities_of(load_backend(f"{user_module}:MyBackend"))
    assert caps.operations == {"conv", "max_pool"}
    assert caps.dtypes == {"float64", "float32"}
    assert "no conv_transpose method" in caps.skip_reason("conv_transpose")
    assert caps.skip_reason("conv", "float16") == "dtype float16 is not supported"


def test_unavailable_backend_raises_with_its_reason(user_module: str) -> None:
    with pytest.raises(BackendUnavailable, match="no frobnicator"):
        load_backend(f"{user_module}:not_here")
    row = backend_row(f"{user_module}:not_here")
    assert not row.available and row.reason == "no frobnicator on this machine"


def test_broken_backend_is_a_row_not_a_crash(user_module: str) -> None:
    row = backend_row(f"{user_module}:broken")
    assert not row.available
    assert row.reason.startswith("broken: RuntimeError: the adapter has a bug")


@pytest.mark.parametrize("spec, message", [
    ("no_such_module_for_convspec:thing", "cannot import module 'no_such_module_for_convspec'"),
    ("{mod}:missing", "has no attribute 'missing'; it defines"),
    ("{mod}:", "must be a built-in name or 'package.module:attr'"),
    (":MyBackend", "must be a built-in name or 'package.module:attr'"),
    ("{mod}:NOT_A_BACKEND", "names a int, which is neither a backend"),
    ("{mod}:needs_arguments", "cannot be called without arguments"),
    ("{mod}:Nameless", "without a 'name' string attribute"),
    ("{mod}:NoOperations", "defines none of the protocol operations"),
    ("{mod}:BadCapabilities", "return a convspec.backends.Capabilities"),
    ("no-such-backend", "unknown backend 'no-such-backend'; known backends: reference"),
    ("   ", "must be a non-empty string"),
])
def test_bad_specs_say_what_is_wrong(user_module: str, spec: str, message: str) -> None:
    with pytest.raises(BackendLoadError, match=re.escape(message)):
        load_backend(spec.format(mod=user_module))


def test_a_non_string_spec_is_rejected() -> None:
    with pytest.raises(BackendLoadError, match="non-empty string"):
        load_backend(None)  # type: ignore[arg-type]


# -- entry points ----------------------------------------------------------------------------

def test_registered_backend_loads_by_name(installed: None) -> None:
    assert "demo" in known_backends()
    assert known_backends()[:2] == ["reference", "scipy"]  # built-ins first
    backend = load_backend("demo")
    assert type(backend).__name__ == "DemoBackend"
    assert capabilities_of(backend).operations == {"conv"}
    _conv_agrees(backend)


def test_broken_registration_names_the_entry_point(installed: None) -> None:
    with pytest.raises(BackendLoadError) as info:
        load_backend("broken-demo")
    text = str(info.value)
    assert ENTRY_POINT_GROUP in text and "convspec_demo_backend:NoSuchBackend" in text


def test_entry_points_absent_without_the_distribution() -> None:
    assert "demo" not in known_backends()
    with pytest.raises(BackendLoadError, match="unknown backend 'demo'"):
        load_backend("demo")


def test_builtin_names_load_or_say_why() -> None:
    """Every built-in either loads with valid capabilities or is unavailable with a reason."""
    for name in ("reference", "scipy", "onnxruntime", "cupy", "torch-cuda"):
        row = backend_row(name)
        assert row.available or row.reason, name
        if row.available:
            assert isinstance(row.capabilities, Capabilities)


@pytest.mark.parametrize("fraction, budgets", [
    (1.0, {12: 12, 400: 400}), (0.25, {12: 3, 40: 10, 400: 100}), (0.01, {12: 1, 400: 4})])
def test_example_budget_scales_the_profile_and_keeps_one(fraction: float,
                                                         budgets: dict[int, int]) -> None:
    caps = Capabilities(example_fraction=fraction)
    assert {n: caps.example_budget(n) for n in budgets} == budgets


@pytest.mark.parametrize("fraction", [0, -0.5, 1.5])
def test_example_fraction_outside_zero_one_is_rejected(fraction: float) -> None:
    with pytest.raises(ValueError, match=r"example_fraction is .*fraction in \(0, 1\]"):
        Capabilities(example_fraction=fraction)
