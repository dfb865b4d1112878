"""``openvino`` (one-operation OpenVINO models on the CPU plugin) against convspec.reference on
the adapter sweep; gradients, float64 (computed in float32) and the declared defects are
skipped with the adapter's reasons."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from backend_sweep import sweep_tests  # noqa: E402

adapter, test_agrees_with_reference = sweep_tests("openvino")
