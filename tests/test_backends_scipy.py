"""``scipy`` (``scipy.ndimage``) against convspec.reference on the adapter sweep; what SciPy
lacks (transposed convolution, gradients, dilated convolution, half types) is skipped with the
adapter's declared reason."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from backend_sweep import sweep_tests  # noqa: E402

from convspec.backends.scipy_backend import SUPPORTED_DTYPES, SUPPORTED_OPERATIONS  # noqa: E402

adapter, test_agrees_with_reference = sweep_tests("scipy")


def test_probe_confirms_every_declared_case(adapter):
    """The probe found no hole in what the adapter declares (a hole would skip silently)."""
    caps = adapter.capabilities()
    assert [(op, dt, r) for op in SUPPORTED_OPERATIONS for dt in SUPPORTED_DTYPES
            for r in (1, 2, 3) if caps.skip_reason(op, dt, r)] == []
