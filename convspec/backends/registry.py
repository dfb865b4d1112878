"""Finding and loading backends: built-in names, ``module:attr`` specs and entry points.

``load_backend("torch")`` loads a built-in adapter; ``load_backend("mypkg.mod:attr")`` loads
a user's backend, where ``attr`` is an instance, a class or a zero-argument factory; any other
name is looked up in the entry-point group ``convspec.backends``, through which installed
packages register theirs. Adapters import their library only when constructed, so this module
(and ``convspec backends``) works with the base install.

A ``module:attr`` spec finds modules in the working directory, as ``python -m`` does (a console
script such as ``convspec`` does not put it on ``sys.path`` by itself). Any exception raised
while importing the module or constructing the backend becomes a :class:`BackendBroken` (a
:class:`BackendLoadError`) naming the exception and where it was raised.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import os
import sys
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .protocol import OPERATIONS, Capabilities, capabilities_of

#: The backend ``convspec verify``, ``convspec bench`` and the pytest plugin use unless told.
DEFAULT_BACKEND = "torch"

ENTRY_POINT_GROUP = "convspec.backends"

_ADAPTERS = "convspec.backends"

#: Built-in backend names and the ``module:attr`` that builds each.
BUILTIN_BACKENDS: dict[str, str] = {
    "reference": "convspec.backends.reference_backend:ReferenceBackend",
    "scipy": f"{_ADAPTERS}.scipy_backend:ScipyBackend",
    "torch": f"{_ADAPTERS}.torch_backend:TorchBackend",
    "torch-channels-last": f"{_ADAPTERS}.torch_backend:torch_channels_last",
    "torch-compile": f"{_ADAPTERS}.torch_backend:torch_compile",
    "torch-cuda": f"{_ADAPTERS}.torch_backend:torch_cuda",
    "torch-cuda-channels-last": f"{_ADAPTERS}.torch_backend:torch_cuda_channels_last",
    "torch-cuda-tf32": f"{_ADAPTERS}.torch_backend:torch_cuda_tf32",
    "jax": f"{_ADAPTERS}.jax_backend:JaxBackend",
    "onnxruntime": f"{_ADAPTERS}.onnx_backend:OnnxRuntimeBackend",
    "openvino": f"{_ADAPTERS}.openvino_backend:OpenVinoBackend",
    "tensorflow": f"{_ADAPTERS}.tensorflow_backend:TensorFlowBackend",
    "tinygrad": f"{_ADAPTERS}.tinygrad_backend:TinygradBackend",
    "paddle": f"{_ADAPTERS}.paddle_backend:PaddleBackend",
    "cupy": f"{_ADAPTERS}.cupy_backend:CupyBackend",
}


class BackendUnavailable(Exception):
    """The backend exists but cannot run here; ``reason`` says why (library, device...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BackendLoadError(Exception):
    """A backend spec that names nothing loadable, or an object that is not a backend."""


class BackendBroken(BackendLoadError):
    """Importing a backend's module or constructing the backend raised; ``reason`` is the
    exception's type, message and where it was raised (``file:line``)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def _where(exc: BaseException) -> str:
    """``file:line`` where ``exc`` was raised, skipping the import machinery's frames."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{exc.filename}:{exc.lineno}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not f.filename.startswith("<frozen importlib")]
    if not frames:
        return ""
    return f"{frames[-1].filename}:{frames[-1].lineno}"


def _broken(spec: str, what: str, exc: Exception) -> BackendBroken:
    where = _where(exc)
    reason = f"{type(exc).__name__}: {exc}" + (f" ({where})" if where else "")
    return BackendBroken(f"backend spec {spec!r}: {what} raised {reason}", reason)


def _cwd_on_path() -> None:
    """Let ``module:attr`` find a module in the working directory, as ``python -m`` does."""
    try:
        cwd = os.getcwd()
    except OSError:  # the working directory was removed
        return
    if "" in sys.path or cwd in sys.path:
        return
    sys.path.insert(0, cwd)


def _entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def known_backends() -> list[str]:
    """Built-in names followed by the names installed packages register."""
    extra = sorted(set(_entry_points()) - set(BUILTIN_BACKENDS))
    return list(BUILTIN_BACKENDS) + extra


def _import_target(target: str, spec: str) -> Any:
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise BackendLoadError(
            f"backend spec {spec!r} must be a built-in name or 'package.module:attr'"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BackendLoadError(
            f"backend spec {spec!r}: cannot import module {module_name!r} ({exc}); check the "
            "module path and that its package is installed, on sys.path or in the working "
            "directory"
        ) from exc
    except (BackendUnavailable, BackendLoadError):
        raise
    except Exception as exc:  # noqa: BLE001 - a module that fails at import is a load error
        raise _broken(spec, f"importing module {module_name!r}", exc) from exc
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            public = sorted(n for n in dir(module) if not n.startswith("_"))
            raise BackendLoadError(
                f"backend spec {spec!r}: module {module_name!r} has no attribute {attr!r}; "
                f"it defines {', '.join(public[:20]) or 'nothing public'}"
            ) from None
    return obj


def _is_backend(obj: Any) -> bool:
    return hasattr(obj, "name") and any(callable(getattr(obj, op, None)) for op in OPERATIONS)


def _instantiate(obj: Any, spec: str) -> Any:
    """An instance stays as it is; a class or a zero-argument factory is called."""
    if not inspect.isclass(obj) and _is_backend(obj):
        return obj
    if not callable(obj):
        raise BackendLoadError(
            f"backend spec {spec!r} names a {type(obj).__name__}, which is neither a backend "
            "(an object with a 'name' and protocol operations) nor a class or factory making one"
        )
    label = getattr(obj, "__qualname__", None) or repr(obj)
    try:
        return obj()
    except (BackendUnavailable, BackendLoadError):
        raise
    except TypeError as exc:
        try:
            inspect.signature(obj).bind()
        except (TypeError, ValueError):
            raise BackendLoadError(
                f"backend spec {spec!r}: {label!r} cannot be called "
                f"without arguments ({exc}); point the spec at an instance, a class with default "
                "arguments, or a zero-argument factory"
            ) from exc
        raise _broken(spec, f"constructing the backend ({label}())", exc) from exc
    except Exception as exc:  # noqa: BLE001 - a constructor that fails is a load error
        raise _broken(spec, f"constructing the backend ({label}())", exc) from exc


def validate_backend(backend: Any, spec: str = "") -> Any:
    """Check the protocol's minimum: a ``name``, one operation, valid capabilities."""
    label = f"backend spec {spec!r}" if spec else f"backend {backend!r}"
    name = getattr(backend, "name", None)
    if not isinstance(name, str) or not name:
        raise BackendLoadError(
            f"{label} gave a {type(backend).__name__} without a 'name' string attribute; a "
            "backend needs name = '...' and at least one of " + ", ".join(OPERATIONS)
        )
    if not any(callable(getattr(backend, op, None)) for op in OPERATIONS):
        raise BackendLoadError(
            f"{label} ({name!r}) defines none of the protocol operations " + ", ".join(OPERATIONS)
        )
    try:
        capabilities_of(backend)
    except TypeError as exc:
        raise BackendLoadError(f"{label} ({name!r}): {exc}") from exc
    except (BackendUnavailable, BackendLoadError):
        raise
    except Exception as exc:  # noqa: BLE001 - capabilities() that fails is a load error
        raise _broken(spec or repr(backend), "its capabilities()", exc) from exc
    return backend


def load_backend(spec: str) -> Any:
    """The backend named by ``spec``: a built-in name, ``module:attr`` or an entry-point name.

    Raises :class:`BackendLoadError` for a spec that names nothing loadable (the message lists
    the known names) and :class:`BackendUnavailable` when the backend cannot run on this machine.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise BackendLoadError(f"backend spec must be a non-empty string, got {spec!r}")
    spec = spec.strip()
    if ":" in spec:
        _cwd_on_path()
        obj = _import_target(spec, spec)
    elif spec in BUILTIN_BACKENDS:
        obj = _import_target(BUILTIN_BACKENDS[spec], spec)
    else:
        entry = _entry_points().get(spec)
        if entry is None:
            raise BackendLoadError(
                f"unknown backend {spec!r}; known backends: {', '.join(known_backends())}. "
                "A backend of your own loads as 'package.module:attr'"
            )
        try:
            obj = entry.load()
        except Exception as exc:
            raise BackendLoadError(
                f"backend {spec!r} is registered in entry-point group {ENTRY_POINT_GROUP!r} as "
                f"{entry.value!r}, but loading it failed: {type(exc).__name__}: {exc}"
            ) from exc
    return validate_backend(_instantiate(obj, spec), spec)


@dataclass(frozen=True)
class BackendRow:
    """One line of :func:`backend_table`."""

    name: str
    available: bool
    reason: str = ""
    version: str = ""
    device: str = ""
    capabilities: Capabilities | None = None


def backend_row(name: str) -> BackendRow:
    """Load one backend and describe it; any failure becomes the row's ``reason``."""
    try:
        backend = load_backend(name)
        caps = capabilities_of(backend)
    except BackendUnavailable as exc:
        return BackendRow(name, False, exc.reason)
    except BackendBroken as exc:
        return BackendRow(name, False, f"broken: {exc.reason}")
    except BackendLoadError as exc:
        return BackendRow(name, False, f"cannot load: {exc}")
    except Exception as exc:  # noqa: BLE001 - a broken adapter must not break the table
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return BackendRow(name, False, f"broken: {type(exc).__name__}: {exc} "
                                       f"({where.filename}:{where.lineno})")
    return BackendRow(name, True, "", str(getattr(backend, "library_version", "") or ""),
                      str(getattr(backend, "device", "") or ""), caps)


def backend_table(names: Iterable[str] | None = None) -> list[BackendRow]:
    """A row per backend (default: every known name); never raises for a broken adapter."""
    return [backend_row(name) for name in (known_backends() if names is None else names)]
