"""CuPy adapter: the SciPy adapter's code on the GPU, through ``cupyx.scipy.ndimage``.

Only the array module and the ``ndimage`` namespace differ from :mod:`.scipy_backend`; arrays
move to the GPU with ``cupy.asarray`` and back with ``cupy.asnumpy``. The backend is available
only where CuPy is installed and sees a CUDA device; anywhere else constructing it raises
:class:`BackendUnavailable` with the reason.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .registry import BackendUnavailable
from .scipy_backend import FilterBackend


def _import_cupy() -> tuple[Any, Any]:
    try:
        import cupy
        import cupyx.scipy.ndimage
    except ImportError as exc:
        raise BackendUnavailable(
            f"CuPy is not installed ({exc}); install the wheel matching your CUDA, e.g. "
            "pip install cupy-cuda12x"
        ) from None
    return cupy, cupyx.scipy.ndimage


class CupyBackend(FilterBackend):
    """``cupyx.scipy.ndimage`` on a CUDA device (name ``"cupy"``)."""

    def __init__(self, device: int = 0) -> None:
        cupy, ndimage = _import_cupy()
        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except Exception as exc:  # noqa: BLE001 - CUDA driver/runtime missing: no device
            raise BackendUnavailable(
                f"CuPy {cupy.__version__} finds no CUDA device ({type(exc).__name__}: {exc})"
            ) from None
        if device >= count:
            raise BackendUnavailable(
                f"CuPy {cupy.__version__} sees {count} CUDA device(s); device {device} is absent"
            )
        self._cupy = cupy
        self._gpu = cupy.cuda.Device(device)
        self._xp, self._ndimage = cupy, ndimage
        self.name = "cupy"
        self.library_version = cupy.__version__
        gpu_name = cupy.cuda.runtime.getDeviceProperties(device)["name"]
        if isinstance(gpu_name, bytes):
            gpu_name = gpu_name.decode()
        self.device = f"cuda:{device} ({gpu_name})"
        self._library = f"cupy {cupy.__version__}"

    def _to_device(self, array: np.ndarray) -> Any:
        with self._gpu:
            return self._cupy.asarray(array)

    def _to_host(self, array: Any) -> np.ndarray:
        with self._gpu:
            return self._cupy.asnumpy(array)

    def _forward(self, operation: str, geometry: Any, arrays: Any) -> np.ndarray:
        with self._gpu:
            return super()._forward(operation, geometry, arrays)

    _nonfinite: frozenset[str] = frozenset()

    def _nonfinite_reasons(self) -> dict[str, str]:
        why = (f"{self._library}: non-finite propagation not measured on a GPU yet (SciPy's "
               "CPU filters are; run properties/test_nonfinite.py there to declare it)")
        return {f"nonfinite:{op}": why for op in ("conv", "max_pool", "avg_pool")}

    def _precision(self) -> dict[str, str]:
        return {"float64": "float64", "float32": "float32 (cupyx.scipy kernels)"}
