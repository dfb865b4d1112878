"""``scipy`` (``scipy.signal`` / ``scipy.ndimage``) against convspec.reference on the adapter
sweep; what SciPy lacks (transposed convolution, gradients, dilated convolution, half types)
is skipped with the adapter's declared reason."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from backend_sweep import sweep_tests  # noqa: E402

adapter, test_agrees_with_reference = sweep_tests("scipy")
