"""asv benchmarks: every workload suite × backend × dtype × direction, one class per suite.

Each class times one protocol call of one workload (``convspec.perf.workloads``) on one backend:

- ``setup(backend, workload, dtype, direction)`` stages the data on the backend's device (once
  per process, with warm-up and autotuning outside the timed region), then flushes the caches
  and synchronizes; asv re-runs ``setup`` before every sample, so every sample starts cold.
- ``time_call(backend, workload, dtype, direction)``: the call and its synchronize. Seconds per
  call; lower is better, and it is the only thing regression detection and the gate judge.

No timer runs inside a benchmark: GFLOP/s and the roofline percentage of a workload are
``flops / time`` (``convspec bench`` prints them); the ceilings are ``machine.PeakFlops`` and
``machine.Bandwidth``. Backends: the built-ins, the names installed packages register in the
entry-point group ``convspec.backends``, and the lines of ``bench/backends.txt`` (or the file
``CONVSPEC_BENCH_BACKENDS_FILE`` names): built-in names, entry-point names or ``module:attr``;
``CONVSPEC_ASV_BACKENDS`` replaces that list (the kernel track sets it in its asv matrix).
Unavailable backends and unsupported cases raise ``NotImplementedError`` in ``setup``: asv
records them as skipped.

``version`` is explicit (asv's default, a hash of the source, hides all history at any edit):
bump :data:`SUITE_VERSION` when what is timed changes; :data:`convspec.perf.timing.HARNESS_VERSION`
is part of it, so a change in the staging and flushing code starts new series too.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from convspec.backends.protocol import DTYPES
from convspec.backends.registry import (
    BackendLoadError,
    BackendUnavailable,
    known_backends,
    load_backend,
)
from convspec.perf.timing import (
    HARNESS_VERSION,
    PreparedCall,
    Unsupported,
    flusher_for,
    prepare,
    warm_up,
)
from convspec.perf.workloads import DIRECTIONS, Workload, suite

#: Bump when the timed body or its setup changes meaning (a new series on the dashboard).
SUITE_VERSION = "2"
BACKENDS_FILE = Path(__file__).resolve().parent / "backends.txt"


def _listed(variable: str) -> list[str] | None:
    """A space- or comma-separated list from the environment (``None`` when unset or empty)."""
    text = os.environ.get(variable, "").replace(",", " ").split()
    return text or None


def configured_backends() -> list[str]:
    """Built-ins, entry points, then the configuration file's names (comments and blanks
    skipped); or exactly the names ``CONVSPEC_ASV_BACKENDS`` lists (the kernel track)."""
    only = _listed("CONVSPEC_ASV_BACKENDS")
    if only:
        return only
    names = known_backends()
    path = Path(os.environ.get("CONVSPEC_BENCH_BACKENDS_FILE") or BACKENDS_FILE)
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            name = line.split("#", 1)[0].strip()
            if name and name not in names:
                names.append(name)
    return names


BACKENDS = configured_backends()

_backends: dict[str, Any] = {}
_calls: dict[tuple[str, str, str, str, str], tuple[Workload, PreparedCall]] = {}


def _backend(name: str) -> Any:
    if name not in _backends:
        try:
            _backends[name] = load_backend(name)
        except (BackendUnavailable, BackendLoadError) as exc:
            _backends[name] = NotImplementedError(f"backend {name} unavailable: {exc}")
    if isinstance(_backends[name], NotImplementedError):
        raise _backends[name]
    return _backends[name]


def _staged(suite_name: str, backend: str, name: str, dtype: str,
            direction: str) -> tuple[Workload, PreparedCall]:
    """The workload's call, staged on the backend's device and warmed up, once per process."""
    key = (suite_name, backend, name, dtype, direction)
    if key not in _calls:
        workload = next(w for w in suite(suite_name, direction=direction) if w.name == name)
        try:
            call = prepare(_backend(backend), workload, dtype)
        except Unsupported as exc:
            raise NotImplementedError(str(exc)) from None
        warm_up(call)
        _calls[key] = (workload, call)
    return _calls[key]


def _params(suite_name: str) -> list[list[str]]:
    """backend, workload, dtype, direction; ``CONVSPEC_ASV_DTYPES`` and
    ``CONVSPEC_ASV_DIRECTIONS`` narrow the last two (the kernel track's configuration)."""
    return [list(BACKENDS), [w.name for w in suite(suite_name)],
            _listed("CONVSPEC_ASV_DTYPES") or list(DTYPES),
            _listed("CONVSPEC_ASV_DIRECTIONS") or list(DIRECTIONS)]


class _Suite:
    """What every suite shares; a subclass names its suite and its parameters."""

    suite_name = ""
    param_names = ["backend", "workload", "dtype", "direction"]
    version = f"suite-{SUITE_VERSION}+harness-{HARNESS_VERSION}"
    number = 1
    repeat = (5, 30, 20.0)
    warmup_time = 0.0
    timeout = 600

    def setup(self, backend: str, workload: str, dtype: str, direction: str) -> None:
        self.workload, self.call = _staged(self.suite_name, backend, workload, dtype, direction)
        flusher_for(self.call)()
        self.call.synchronize()

    def time_call(self, backend: str, workload: str, dtype: str, direction: str) -> None:
        self.call.run()
        self.call.synchronize()


class Alexnet(_Suite):
    """AlexNet's convolution layers."""

    suite_name = "alexnet"
    params = _params(suite_name)


class Vgg16(_Suite):
    """VGG-16's convolution layers."""

    suite_name = "vgg16"
    params = _params(suite_name)


class Resnet50(_Suite):
    """ResNet-50's distinct convolution layers."""

    suite_name = "resnet50"
    params = _params(suite_name)


class MobilenetV2(_Suite):
    """MobileNetV2's pointwise and depthwise layers."""

    suite_name = "mobilenet_v2"
    params = _params(suite_name)


class Dilated(_Suite):
    """DeepLab-style dilated convolutions."""

    suite_name = "dilated"
    params = _params(suite_name)


class Transposed(_Suite):
    """Decoder and GAN transposed convolutions."""

    suite_name = "transposed"
    params = _params(suite_name)


class Deepbench(_Suite):
    """A subset of DeepBench's convolution shapes."""

    suite_name = "deepbench"
    params = _params(suite_name)


class Tiny(_Suite):
    """Four tiny layers (conv, depthwise, transposed, max pool): the smoke suite."""

    suite_name = "tiny"
    params = _params(suite_name)
