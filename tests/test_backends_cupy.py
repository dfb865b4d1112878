"""``cupy`` (``cupyx.scipy.signal`` / ``cupyx.scipy.ndimage`` on a CUDA device) against
convspec.reference on the adapter sweep; skips with the reason where CuPy or a GPU is absent."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from backend_sweep import sweep_tests  # noqa: E402

adapter, test_agrees_with_reference = sweep_tests("cupy")
