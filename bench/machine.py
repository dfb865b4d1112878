"""asv calibration benchmarks: the roofline's two ceilings on this machine.

``PeakFlops.track_gflops``: a large square GEMM per device and dtype;
``Bandwidth.track_gbs``: a large copy per device (read plus write). Both come from the shared
``setup_cache`` of :class:`bench.convolution.Calibrated`, so they are the very numbers the
``track_roofline_percent`` benchmarks divide by.
"""

from __future__ import annotations

from typing import Any

from convspec.backends.protocol import DTYPES
from convspec.perf.roofline import calibration_key

from .convolution import Calibrated

DEVICES = ["cpu", "cuda"]


def _ceilings(calibration: dict[str, Any], device: str, dtype: str) -> Any:
    key = calibration_key(device, dtype)
    if key not in calibration:
        raise NotImplementedError(f"no {device} device on this machine")
    return calibration[key]


class PeakFlops(Calibrated):
    params = [DEVICES, list(DTYPES)]
    param_names = ["device", "dtype"]
    timeout = 900

    def setup(self, calibration: dict[str, Any], device: str, dtype: str) -> None:
        self.ceilings = _ceilings(calibration, device, dtype)

    def track_gflops(self, calibration: dict[str, Any], device: str, dtype: str) -> float:
        return self.ceilings.peak_flops / 1e9

    track_gflops.unit = "GFLOP/s"


class Bandwidth(Calibrated):
    params = [DEVICES]
    param_names = ["device"]
    timeout = 900

    def setup(self, calibration: dict[str, Any], device: str) -> None:
        self.ceilings = _ceilings(calibration, device, "float32")

    def track_gbs(self, calibration: dict[str, Any], device: str) -> float:
        return self.ceilings.bandwidth / 1e9

    track_gbs.unit = "GB/s"
