"""asv calibration benchmarks: the roofline's two ceilings on this machine.

``PeakFlops.track_gflops``: a large square GEMM per device and dtype;
``Bandwidth.track_gbs``: a large copy per device (read plus write), from one shared
``setup_cache`` (:func:`convspec.perf.roofline.calibrate_all`, once per asv run). These are
higher-is-better, and asv's regression detection assumes lower-is-better: asv.conf.json leaves
``machine.*`` out of detection (``regressions_first_commits``: null) and the gate judges
timings only. A jump here with a jump in every suite's time is the machine, not a backend.
"""

from __future__ import annotations

from typing import Any

from convspec.backends.protocol import DTYPES
from convspec.perf.roofline import calibrate_all, calibration_key

DEVICES = ["cpu", "cuda"]


class Calibrated:
    """One ``setup_cache`` (asv keys it by the defining function, so it runs once per asv run)
    measuring the machine's roofline ceilings."""

    version = "calibration-1"

    def setup_cache(self) -> dict[str, Any]:
        return calibrate_all()

    setup_cache.timeout = 900


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
