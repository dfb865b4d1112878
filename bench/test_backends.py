"""Backends side by side on the same workloads, with pytest-benchmark.

    pytest bench/ --benchmark-only                       # small default set, JSON in .benchmarks/
    pytest bench/ --benchmark-only --bench-workloads=resnet50 --benchmark-json=out.json

Each case is one (workload, dtype, direction) group with one benchmark per backend, so the
table compares backends within a group. The data is staged on the backend's device and warmed
up before timing; every round flushes the caches and synchronizes before the call, and the call
synchronizes after (``benchmark.pedantic`` with a setup). ``extra_info`` holds the FLOPs, the
achieved GFLOP/s, the arithmetic intensity, the roofline bound and percent, and the timing mode.
The reference backend is included: its default path is the fast im2col + GEMM one.
"""

from __future__ import annotations

import pytest

from convspec.backends.registry import (
    BUILTIN_BACKENDS,
    BackendLoadError,
    BackendUnavailable,
    load_backend,
)
from convspec.perf.roofline import calibrate, point
from convspec.perf.timing import Unsupported, flusher_for, prepare, warm_up
from convspec.perf.workloads import select, split_list, workload

#: Opt in by name or "all": torch.compile's first call per shape compiles for tens of seconds;
#: the SciPy adapter loops over channel pairs in Python (seconds per ResNet-50 layer).
SLOW = ("torch-compile", "scipy")


def _backend_names(value: str) -> list[str]:
    if value == "all":
        return list(BUILTIN_BACKENDS)
    if value == "default":
        return [b for b in BUILTIN_BACKENDS if not b.startswith(SLOW)]
    return split_list(value)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" not in metafunc.fixturenames:
        return
    opt = metafunc.config.getoption
    cases = [(key, dtype, direction, backend)
             for key in [w.key for w in select(opt("bench_workloads"))]
             for dtype in split_list(opt("bench_dtypes"))
             for direction in split_list(opt("bench_directions"))
             for backend in _backend_names(opt("bench_backends"))]
    metafunc.parametrize("case", cases, ids=["-".join(c) for c in cases])


_loaded: dict[str, object] = {}


def _backend(name: str):
    if name not in _loaded:
        try:
            _loaded[name] = load_backend(name)
        except (BackendUnavailable, BackendLoadError) as exc:
            _loaded[name] = exc
    if isinstance(_loaded[name], Exception):
        pytest.skip(f"backend {name} unavailable: {_loaded[name]}")
    return _loaded[name]


def test_backend(benchmark, case, request):
    key, dtype, direction, backend_name = case
    w = workload(key, batch=request.config.getoption("bench_batch"), direction=direction)
    try:
        call = prepare(_backend(backend_name), w, dtype)
    except Unsupported as exc:
        pytest.skip(str(exc))
    warm_up(call)
    flush = flusher_for(call)

    def cold_and_idle() -> None:
        flush()
        call.synchronize()

    def run() -> None:
        call.run()
        call.synchronize()

    benchmark.group = f"{key} {dtype} {direction} batch={w.batch}"
    benchmark.name = backend_name
    benchmark.pedantic(run, setup=cold_and_idle, rounds=request.config.getoption("bench_rounds"),
                       iterations=1, warmup_rounds=0)

    info = benchmark.extra_info
    info.update({"backend": backend_name, "workload": key, "dtype": dtype,
                 "direction": direction, "batch": w.batch, "flops": w.flops,
                 "min_bytes": w.min_bytes(dtype), "mode": call.mode, "device": call.device})
    stats = getattr(benchmark, "stats", None)
    if stats is None:  # --benchmark-disable: the call ran once, untimed
        return
    median = stats.stats.median
    info["gflops"] = w.flops / median / 1e9
    if not request.config.getoption("bench_no_roofline"):
        placed = point(w.flops, median, w.arithmetic_intensity(dtype),
                       calibrate(call.device, dtype))
        info.update({"intensity": placed.intensity, "bound_gflops": placed.bound / 1e9,
                     "percent_of_roofline": placed.percent, "limited_by": placed.limited_by})
