"""asv benchmarks: every workload suite × backend × dtype × direction.

One class per suite of :mod:`convspec.perf.workloads` (``convolution.Resnet50``, ...), each
parameterized over (backend, workload, dtype, direction):

- ``time_call``: seconds per call. ``setup`` stages the data on the backend's device (once per
  process, with warm-up and autotuning), then flushes the caches and synchronizes; asv re-runs
  ``setup`` before every timed sample, so every sample starts cold and idle. The timed body is
  the call and its synchronize.
- ``track_gflops``: achieved GFLOP/s from :func:`convspec.perf.timing.measure` (median of repeats,
  cache flushed before each).
- ``track_roofline_percent``: that rate as a percentage of the roofline bound
  ``min(peak, bandwidth × intensity)``, with the peaks measured once per asv run by the shared
  ``setup_cache`` (:func:`convspec.perf.roofline.calibrate_all`).

Unavailable backends and unsupported cases raise ``NotImplementedError`` in ``setup``: asv
records them as skipped.
"""

from __future__ import annotations

from typing import Any

from convspec.backends.protocol import DTYPES
from convspec.backends.registry import (
    BUILTIN_BACKENDS,
    BackendLoadError,
    BackendUnavailable,
    load_backend,
)
from convspec.perf.roofline import calibrate, calibrate_all, calibration_key, point
from convspec.perf.timing import (
    PreparedCall,
    Unsupported,
    flusher_for,
    measure,
    prepare,
    warm_up,
)
from convspec.perf.workloads import DIRECTIONS, SUITE_NAMES, Workload, suite

BACKENDS = tuple(BUILTIN_BACKENDS)
MEASURE = {"budget_s": 0.5, "min_repeats": 5, "max_repeats": 50}

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


class Calibrated:
    """Base of every class here and in machine.py: one ``setup_cache`` (asv keys it by the
    defining function, so it runs once per asv run) measuring the machine's roofline ceilings."""

    def setup_cache(self) -> dict[str, Any]:
        return calibrate_all()

    setup_cache.timeout = 900


class _Suite(Calibrated):
    suite_name = ""
    param_names = ["backend", "workload", "dtype", "direction"]
    number = 1
    repeat = (5, 30, 20.0)
    warmup_time = 0.0
    timeout = 600

    def setup(self, calibration: dict[str, Any], backend: str, workload: str, dtype: str,
              direction: str) -> None:
        self.workload, self.call = _staged(self.suite_name, backend, workload, dtype, direction)
        self.dtype = dtype
        flusher_for(self.call)()
        self.call.synchronize()

    def time_call(self, calibration: dict[str, Any], *params: str) -> None:
        self.call.run()
        self.call.synchronize()

    def _median(self) -> float:
        return measure(self.call, warmup_s=0.0, min_warmup=1, **MEASURE).median

    def track_gflops(self, calibration: dict[str, Any], *params: str) -> float:
        return self.workload.flops / self._median() / 1e9

    track_gflops.unit = "GFLOP/s"

    def track_roofline_percent(self, calibration: dict[str, Any], *params: str) -> float:
        key = calibration_key(self.call.device, self.dtype)
        ceilings = calibration.get(key) or calibrate(self.call.device, self.dtype)
        placed = point(self.workload.flops, self._median(),
                       self.workload.arithmetic_intensity(self.dtype), ceilings)
        return placed.percent

    track_roofline_percent.unit = "% of roofline"


def _suite_class(name: str) -> type:
    class_name = "".join(part.capitalize() for part in name.split("_"))
    workloads = [w.name for w in suite(name)]
    return type(class_name, (_Suite,), {
        "suite_name": name,
        "params": [list(BACKENDS), workloads, list(DTYPES), list(DIRECTIONS)],
        "__doc__": f"The {name} suite of convspec.perf.workloads.",
        "__module__": __name__,
    })


for _name in SUITE_NAMES:
    _cls = _suite_class(_name)
    globals()[_cls.__name__] = _cls
del _name, _cls
