"""``torch-cuda`` against the reference on the adapter sweep (skips without a CUDA GPU)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from backend_sweep import sweep_tests  # noqa: E402

adapter, test_agrees_with_reference = sweep_tests("torch-cuda")
