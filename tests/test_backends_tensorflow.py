"""``tensorflow`` (``tf.nn`` on the CPU, channels-last at the boundary, gradients by
``tf.GradientTape``) against convspec.reference on the adapter sweep; what TensorFlow cannot
express or has no CPU kernel for is skipped with the adapter's declared reasons."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from backend_sweep import sweep_tests  # noqa: E402

adapter, test_agrees_with_reference = sweep_tests("tensorflow")
