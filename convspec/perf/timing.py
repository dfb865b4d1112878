"""The timing harness: right on CPUs and GPUs alike.

What :func:`measure` does, in order (the GPU discipline of ``triton.testing.do_bench``):

1. **Data on the device first.** A backend that can keep arrays on its device implements the
   optional hook ``prepare(operation, *args, **kwargs)``: the arguments of the protocol call
   (numpy arrays and keyword arguments exactly as ``conv``/``conv_vjp``/... take them); it
   copies the arrays to the device once and returns an object with ``run()`` (run the operation
   on the resident data, result left on the device) and ``synchronize()`` (wait for the device),
   and optionally ``device`` (``"cpu"``, ``"cuda:0"``, ...) and ``flush()`` (evict the device's
   caches). :class:`PreparedCall` is such an object. Without the hook the harness times the
   numpy protocol call itself (mode ``"numpy-protocol"``: host-to-device copies included);
   every report says which mode it used.
2. **Warm-up and autotuning outside the timed region**: the call runs until ``warmup_s`` has
   passed (at least ``min_warmup`` times); cuDNN's ``benchmark`` autotuner, JIT compilation and
   lazy allocation happen there. For a call on a CUDA device the harness turns on
   ``torch.backends.cudnn.benchmark`` when torch is loaded (an adapter may do more in
   ``prepare``), so cuDNN picks its algorithm during the warm-up.
3. **A cold cache for every repetition**: before each timed call the harness writes a buffer
   larger than the last-level cache (CPU: twice the LLC and at least 64 MiB; CUDA: 256 MB and at
   least twice L2, as ``do_bench`` does), so no repetition reads the previous one's data from
   cache.
4. **Synchronize around each timed call**: ``synchronize(); t0; run(); synchronize(); t1``, so
   asynchronous launches are charged their full device time.
5. **Repeats, median and IQR**: the number of repetitions fits ``budget_s`` (within
   ``min_repeats``..``max_repeats``); the result keeps every sample.

The harness's own cost is measured too: :func:`harness_overhead` times an empty callable through
the same synchronize-and-clock path.
"""

from __future__ import annotations

import functools
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..backends.protocol import MODE_DEVICE, MODE_NUMPY, PreparedCall, capabilities_of
from ..backends.protocol import nothing as _nothing

#: Version of what the harness times (staging, warm-up, flushing, synchronizing); benchmarks that
#: record history (bench/convolution.py's asv ``version``) include it. Bump it when that changes.
HARNESS_VERSION = "1"

#: A measurement whose IQR is above this fraction of its median is flagged as too noisy to trust.
NOISY_RELATIVE_IQR = 0.10

CPU_FLUSH_MIN_BYTES = 64 * 2**20
GPU_FLUSH_BYTES = 256 * 10**6


def as_prepared(obj: Any, *, mode: str = MODE_DEVICE) -> PreparedCall:
    """Accept a :class:`PreparedCall` or any object with ``run`` and ``synchronize``."""
    if isinstance(obj, PreparedCall):
        return obj
    run, sync = getattr(obj, "run", None), getattr(obj, "synchronize", None)
    if not callable(run) or not callable(sync):
        raise TypeError(
            f"prepare() returned {type(obj).__name__}, which lacks run() and synchronize(); "
            "return a convspec.backends.protocol.PreparedCall(run=..., synchronize=..., device=...)"
        )
    return PreparedCall(run=run, synchronize=sync, device=str(getattr(obj, "device", "cpu")),
                        mode=mode, flush=getattr(obj, "flush", None))


class Unsupported(Exception):
    """The backend cannot run this workload; the message is the reason (for a skip)."""


def unsupported_reason(backend: Any, workload: Any, dtype: str) -> str | None:
    """Why ``backend`` cannot run ``workload`` at ``dtype``, or ``None`` if it can."""
    return capabilities_of(backend).case_skip_reason(
        workload.protocol_operation, dtype, workload.geometry, batch=workload.batch,
        spatial=workload.input_shape[2:])


def prepare(backend: Any, workload: Any, dtype: str, *, seed: int = 0) -> PreparedCall:
    """Stage ``workload``'s arrays for ``backend``: on its device through ``backend.prepare``
    when it has the hook, else as a plain numpy protocol call. Raises :class:`Unsupported`."""
    reason = unsupported_reason(backend, workload, dtype)
    if reason is not None:
        raise Unsupported(f"{getattr(backend, 'name', backend)}: {reason}")
    op = workload.protocol_operation
    args, kwargs = workload.arrays(dtype, seed), workload.kwargs()
    hook = getattr(backend, "prepare", None)
    if callable(hook):
        call = as_prepared(hook(op, *args, **kwargs))
    else:
        devices = getattr(capabilities_of(backend), "devices", ("cpu",))
        call = PreparedCall(run=functools.partial(getattr(backend, op), *args, **kwargs),
                            device=devices[0] if devices else "cpu", mode=MODE_NUMPY)
    enable_autotuning(call.device)
    return call


def enable_autotuning(device: str) -> None:
    """On a CUDA device, let cuDNN benchmark its algorithms (``torch.backends.cudnn.benchmark``)
    on the first call of each shape, which the warm-up makes. Only when torch is already
    imported: this never imports torch nor initializes CUDA."""
    torch = sys.modules.get("torch")
    if torch is not None and device.startswith(("cuda", "gpu")):
        torch.backends.cudnn.benchmark = True


# -- cache flushing ------------------------------------------------------------------------
def last_level_cache_bytes() -> int:
    """The largest CPU cache size Linux reports (sysfs), or 32 MiB when it cannot be read."""
    sizes = []
    for path in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*/size"):
        text = path.read_text().strip().upper()
        scale = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1:], 1)
        digits = text.rstrip("KMG")
        if digits.isdigit():
            sizes.append(int(digits) * scale)
    return max(sizes, default=32 * 2**20)


@functools.cache
def _cpu_flush_buffer() -> np.ndarray:
    return np.empty(max(2 * last_level_cache_bytes(), CPU_FLUSH_MIN_BYTES), dtype=np.uint8)


def _flush_cpu() -> None:
    buffer = _cpu_flush_buffer()
    buffer.fill(buffer[0] + 1 if buffer[0] < 255 else 0)


@functools.cache
def _cuda_flush_buffer(device: str) -> Any:
    import torch

    l2 = getattr(torch.cuda.get_device_properties(torch.device(device)), "L2_cache_size", 0)
    return torch.empty(max(GPU_FLUSH_BYTES, 2 * l2), dtype=torch.int8, device=device)


def cache_flusher(device: str) -> Callable[[], None]:
    """A callable that evicts ``device``'s caches by writing a buffer larger than them."""
    if device in ("cpu", "host"):
        return _flush_cpu
    if device.startswith("cuda") or device.startswith("gpu"):
        cuda = "cuda" if device in ("cuda", "gpu") else device.replace("gpu", "cuda")
        try:
            import torch
        except ImportError:
            torch = None
        if torch is not None and torch.cuda.is_available():
            return lambda: _cuda_flush_buffer(cuda).zero_()
        try:
            import cupy
        except ImportError:
            cupy = None
        if cupy is not None:
            buffer = cupy.empty(GPU_FLUSH_BYTES, dtype=cupy.int8)
            return lambda: buffer.fill(0)
    raise ValueError(
        f"no cache flush for device {device!r}: give the PreparedCall a flush() "
        "or time with flush=False"
    )


# -- measuring -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Measurement:
    """Seconds per call of every timed repetition, with how they were taken."""

    times: tuple[float, ...]
    overhead: float
    device: str = "cpu"
    mode: str = MODE_DEVICE
    flushed: bool = True
    warmup_calls: int = 0
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def quartiles(self) -> tuple[float, float]:
        if len(self.times) < 2:
            return self.times[0], self.times[0]
        q = statistics.quantiles(self.times, n=4, method="inclusive")
        return q[0], q[2]

    @property
    def iqr(self) -> float:
        q1, q3 = self.quartiles
        return q3 - q1

    @property
    def relative_iqr(self) -> float:
        """IQR / median: the run's noise as a fraction."""
        return self.iqr / self.median if self.median > 0 else float("nan")

    @property
    def noisy(self) -> bool:
        """Whether the spread is too wide to trust the median (IQR/median above
        :data:`NOISY_RELATIVE_IQR`)."""
        return not self.relative_iqr <= NOISY_RELATIVE_IQR

    @property
    def minimum(self) -> float:
        return min(self.times)

    def as_dict(self) -> dict[str, Any]:
        q1, q3 = self.quartiles
        return {"median_s": self.median, "q1_s": q1, "q3_s": q3, "iqr_s": self.iqr,
                "min_s": self.minimum, "repeats": len(self.times), "overhead_s": self.overhead,
                "device": self.device, "mode": self.mode, "flushed": self.flushed,
                "warmup_calls": self.warmup_calls, "noisy": self.noisy}


def _timed(run: Callable[[], Any], sync: Callable[[], None]) -> float:
    sync()
    start = time.perf_counter()
    run()
    sync()
    return time.perf_counter() - start


def harness_overhead(synchronize: Callable[[], None] = _nothing, repeats: int = 200) -> float:
    """Median seconds the harness charges an empty callable (clock plus synchronize)."""
    return statistics.median(_timed(_nothing, synchronize) for _ in range(repeats))


def flusher_for(call: PreparedCall) -> Callable[[], None]:
    """The call's own ``flush`` or the default one for its device."""
    return call.flush or cache_flusher(call.device)


def warm_up(call: PreparedCall, *, warmup_s: float = 0.1, min_warmup: int = 2) -> list[float]:
    """Run ``call`` (synchronized) for ``warmup_s`` seconds and at least ``min_warmup`` times;
    autotuning, compilation and lazy allocation happen here. Returns each call's seconds."""
    warm: list[float] = []
    start = time.perf_counter()
    while len(warm) < min_warmup or time.perf_counter() - start < warmup_s:
        warm.append(_timed(call.run, call.synchronize))
    return warm


def measure(call: PreparedCall | Callable[[], Any], *, repeats: int | None = None,
            min_repeats: int = 5, max_repeats: int = 200, budget_s: float = 1.0,
            warmup_s: float = 0.1, min_warmup: int = 2, flush: bool = True) -> Measurement:
    """Time ``call`` (a :class:`PreparedCall` or a plain callable run on the CPU).

    ``repeats`` fixes the number of timed calls; otherwise it is ``budget_s`` divided by the
    median of the warm-up calls after the first (the first may compile or autotune; a median,
    not the fastest, so that one lucky call on a busy machine does not multiply the run time),
    clamped to ``[min_repeats, max_repeats]``.
    """
    if not isinstance(call, PreparedCall):
        call = PreparedCall(run=call)
    flusher = flusher_for(call) if flush else _nothing
    warm = warm_up(call, warmup_s=warmup_s, min_warmup=min_warmup)
    if repeats is None:
        repeats = int(budget_s / max(statistics.median(warm[1:] or warm), 1e-9))
        repeats = max(min_repeats, min(max_repeats, repeats))

    times = []
    for _ in range(repeats):
        flusher()
        times.append(_timed(call.run, call.synchronize))
    return Measurement(times=tuple(times), overhead=harness_overhead(call.synchronize),
                       device=call.device, mode=call.mode, flushed=flush,
                       warmup_calls=len(warm))


def interleaved(calls: Sequence[Callable[[], float]], rounds: int) -> list[list[float]]:
    """Run several measurements in turn, ``rounds`` times: ``result[i]`` holds call ``i``'s
    results. Interleaving spreads a noisy machine's slow phases over every contender."""
    out: list[list[float]] = [[] for _ in calls]
    for _ in range(rounds):
        for i, call in enumerate(calls):
            out[i].append(call())
    return out
