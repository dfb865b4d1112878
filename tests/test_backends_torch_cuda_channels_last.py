"""``torch-cuda-channels-last`` (cuDNN, channels_last memory format) against the reference on
the adapter sweep; 1-D cases skip (no channels-last format for 3-D tensors), and so does all
of it without a CUDA GPU."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from backend_sweep import sweep_tests  # noqa: E402

adapter, test_agrees_with_reference = sweep_tests("torch-cuda-channels-last")
