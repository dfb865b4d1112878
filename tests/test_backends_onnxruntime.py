"""``onnxruntime`` (one-node ONNX models on the CPU or CUDA execution provider) against
convspec.reference on the adapter sweep; gradients and the dtypes ONNX Runtime has no kernel
for are skipped with the adapter's declared reasons."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from backend_sweep import sweep_tests  # noqa: E402

adapter, test_agrees_with_reference = sweep_tests("onnxruntime")
