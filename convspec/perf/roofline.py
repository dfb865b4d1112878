"""The roofline model: how close a workload runs to what the machine can do.

``bound = min(peak FLOP/s, bandwidth × arithmetic intensity)`` (Williams, Waterman and
Patterson, "Roofline", CACM 2009); a workload's arithmetic intensity is its FLOPs over its
minimum bytes (:meth:`convspec.perf.workloads.Workload.arithmetic_intensity`).

Both ceilings are *measured* on the machine, not read from a data sheet: the peak is the rate
of square GEMMs (``2n³`` FLOPs; the best over sizes up to at least n=1024) in the workload's
dtype, the bandwidth the rate of a large copy (``2·bytes`` moved: one read, one write). They
are attainable ceilings, so a percentage near 100 means "as fast as this library's best kernel
on this machine". Calibration uses torch when it is installed (on the device asked for) and
numpy on the CPU otherwise, and is cached per process for each (device, dtype).
"""

from __future__ import annotations

import functools
import platform
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..backends.protocol import DTYPES
from ..spec.dtypes import numpy_dtype
from .timing import Measurement, PreparedCall, measure, prepare
from .workloads import Workload

#: Copy size: large against any last-level cache (CPU L3 or GPU L2).
COPY_BYTES = 256 * 2**20


@dataclass(frozen=True)
class Calibration:
    """Measured ceilings of one device for one dtype."""

    device: str
    dtype: str
    peak_flops: float
    bandwidth: float
    gemm_n: int
    copy_bytes: int
    library: str
    machine: str

    @property
    def ridge_intensity(self) -> float:
        """FLOPs per byte where the memory roof meets the compute roof."""
        return self.peak_flops / self.bandwidth

    def bound(self, intensity: float) -> float:
        """Attainable FLOP/s at an arithmetic intensity: ``min(peak, bandwidth × AI)``."""
        return min(self.peak_flops, self.bandwidth * intensity)

    def as_dict(self) -> dict[str, object]:
        return {"device": self.device, "dtype": self.dtype, "peak_gflops": self.peak_flops / 1e9,
                "bandwidth_gbs": self.bandwidth / 1e9, "gemm_n": self.gemm_n,
                "copy_bytes": self.copy_bytes, "library": self.library, "machine": self.machine}


@dataclass(frozen=True)
class RooflinePoint:
    """One workload's achieved rate against its roofline bound."""

    flops_per_s: float
    bound: float
    intensity: float
    limited_by: str

    @property
    def percent(self) -> float:
        return 100.0 * self.flops_per_s / self.bound


def point(flops: int, seconds: float, intensity: float, calibration: Calibration) -> RooflinePoint:
    """Place a measured run (``flops`` in ``seconds``) under ``calibration``'s roofline."""
    bound = calibration.bound(intensity)
    limited = "compute" if bound >= calibration.peak_flops else "memory"
    return RooflinePoint(flops / seconds, bound, intensity, limited)


def machine_id() -> str:
    """A short description of this machine (host name, processor, architecture)."""
    return f"{platform.node()} {platform.processor() or platform.machine()}"


def _torch_device(device: str):
    try:
        import torch
    except ImportError:
        return None, None
    if device in ("cpu", "host"):
        return torch, torch.device("cpu")
    if device.startswith(("cuda", "gpu")) and torch.cuda.is_available():
        return torch, torch.device(device.replace("gpu", "cuda"))
    return None, None


def _sync_for(torch, dev):
    if dev.type == "cuda":
        return lambda: torch.cuda.synchronize(dev)
    return lambda: None


def _gemm(device: str, dtype: str, n: int) -> PreparedCall:
    torch, dev = _torch_device(device)
    if torch is not None:
        tdtype = getattr(torch, dtype)
        a = torch.randn(n, n, device=dev).to(tdtype)
        b = torch.randn(n, n, device=dev).to(tdtype)
        out = torch.empty(n, n, device=dev, dtype=tdtype)
        return PreparedCall(run=lambda: torch.matmul(a, b, out=out),
                            synchronize=_sync_for(torch, dev), device=device)
    if device not in ("cpu", "host"):
        raise ValueError(f"calibrating {device!r} needs torch with that device")
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(numpy_dtype(dtype))
    b = rng.standard_normal((n, n)).astype(numpy_dtype(dtype))
    out = np.empty((n, n), dtype=a.dtype)
    return PreparedCall(run=lambda: np.matmul(a, b, out=out), device=device)


def _copy(device: str, nbytes: int) -> PreparedCall:
    torch, dev = _torch_device(device)
    if torch is not None:
        src = torch.ones(nbytes // 4, device=dev, dtype=torch.float32)
        dst = torch.empty_like(src)
        return PreparedCall(run=lambda: dst.copy_(src), synchronize=_sync_for(torch, dev),
                            device=device)
    src = np.ones(nbytes // 4, dtype=np.float32)
    dst = np.empty_like(src)
    return PreparedCall(run=lambda: np.copyto(dst, src), device=device)


def peak_flops(device: str = "cpu", dtype: str = "float32", *, target_s: float = 0.05,
               min_n: int = 1024, max_n: int = 8192, budget_s: float = 0.5) -> tuple[float, int]:
    """Measured GEMM rate and the size it came from.

    ``n`` doubles from 256 until one GEMM takes ``target_s`` with ``n`` at least ``min_n`` (or
    ``n`` reaches ``max_n``); the largest size is timed again within ``budget_s``. The peak is
    the best ``2n³`` / median over the sizes tried: an attainable ceiling, so one size slowed by
    a busy machine (or a library's poor choice at one size) does not lower it.
    """
    rates: dict[int, float] = {}
    n = 256
    while True:
        m = measure(_gemm(device, dtype, n), repeats=3, flush=False, warmup_s=0.0, min_warmup=1)
        rates[n] = 2.0 * n**3 / m.median
        if (m.median >= target_s and n >= min_n) or n * 2 > max_n:
            break
        n *= 2
    m = measure(_gemm(device, dtype, n), budget_s=budget_s, min_repeats=3, max_repeats=20,
                flush=False, warmup_s=0.0, min_warmup=1)
    rates[n] = max(rates[n], 2.0 * n**3 / m.median)
    best = max(rates, key=rates.__getitem__)
    return rates[best], best


def bandwidth(device: str = "cpu", nbytes: int = COPY_BYTES, *,
              budget_s: float = 0.5) -> float:
    """Measured copy bandwidth in bytes/s: ``2·nbytes`` (read plus write) over the median time."""
    m = measure(_copy(device, nbytes), budget_s=budget_s, min_repeats=3, max_repeats=20,
                flush=False, warmup_s=0.0, min_warmup=1)
    return 2.0 * nbytes / m.median


@functools.cache
def _bandwidth_cached(device: str) -> float:
    return bandwidth(device)


def device_kind(device: str) -> str:
    """``"cpu"`` or ``"cuda"`` (any CUDA device, JAX's ``"gpu"`` included), else ``device``."""
    if device in ("cpu", "host"):
        return "cpu"
    if device.startswith(("cuda", "gpu")):
        return "cuda"
    return device


def calibrate(device: str = "cpu", dtype: str = "float32") -> Calibration:
    """Peak FLOP/s and bandwidth of ``device`` for ``dtype``, measured once per process."""
    numpy_dtype(dtype)
    return _calibrate(device_kind(device), dtype)


@functools.cache
def _calibrate(device: str, dtype: str) -> Calibration:
    peak, n = peak_flops(device, dtype)
    torch, _ = _torch_device(device)
    return Calibration(device=device, dtype=dtype, peak_flops=peak,
                       bandwidth=_bandwidth_cached(device), gemm_n=n, copy_bytes=COPY_BYTES,
                       library="torch" if torch is not None else "numpy", machine=machine_id())


def device_kinds() -> tuple[str, ...]:
    """The device kinds this machine can calibrate: the CPU, and CUDA where torch sees a GPU."""
    torch, _ = _torch_device("cuda")
    return ("cpu", "cuda") if torch is not None else ("cpu",)


def calibrate_all(dtypes: tuple[str, ...] = DTYPES) -> dict[str, Calibration]:
    """Every device kind × dtype, keyed ``"kind/dtype"`` (see :func:`calibration_key`)."""
    return {calibration_key(kind, dt): calibrate(kind, dt)
            for kind in device_kinds() for dt in dtypes}


def calibration_key(device: str, dtype: str) -> str:
    return f"{device_kind(device)}/{dtype}"


# -- one workload, timed and placed under the roofline ---------------------------------------
@dataclass(frozen=True)
class WorkloadResult:
    """A workload's measurement on one backend and dtype, with its roofline point."""

    backend: str
    workload: Workload
    dtype: str
    measurement: Measurement
    roofline: RooflinePoint | None

    @property
    def gflops(self) -> float:
        return self.workload.flops / self.measurement.median / 1e9

    def with_roofline(self, calibration: Calibration) -> WorkloadResult:
        """This result placed under ``calibration``'s roofline."""
        w = self.workload
        return replace(self, roofline=point(w.flops, self.measurement.median,
                                            w.arithmetic_intensity(self.dtype), calibration))

    def as_dict(self) -> dict[str, object]:
        w = self.workload
        row: dict[str, object] = {
            "backend": self.backend, "workload": w.key, "operation": w.protocol_operation,
            "direction": w.direction, "dtype": self.dtype, "input_shape": list(w.input_shape),
            "geometry": w.geometry.describe(), "count": w.count, "flops": w.flops,
            "min_bytes": w.min_bytes(self.dtype), "gflops": self.gflops,
            **self.measurement.as_dict(),
        }
        if self.roofline is not None:
            row.update({"intensity": self.roofline.intensity,
                        "bound_gflops": self.roofline.bound / 1e9,
                        "percent_of_roofline": self.roofline.percent,
                        "limited_by": self.roofline.limited_by})
        return row


def evaluate(backend: Any, workload: Workload, dtype: str, *, roofline: bool = True,
             calibration: Calibration | None = None, **measure_options: Any) -> WorkloadResult:
    """Stage, time and place one workload (``measure_options`` go to :func:`measure`).

    Raises :class:`convspec.perf.timing.Unsupported` when the backend cannot run it. With
    ``roofline`` the point uses ``calibration``, or calibrates the measured device.
    """
    m = measure(prepare(backend, workload, dtype), **measure_options)
    result = WorkloadResult(getattr(backend, "name", type(backend).__name__), workload, dtype, m,
                            None)
    if not roofline:
        return result
    return result.with_roofline(calibration or calibrate(m.device, dtype))
