"""``torch-channels-last`` (CPU, channels_last / channels_last_3d) against the reference.

1-D cases skip: PyTorch has no channels-last format for 3-D tensors.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from backend_sweep import sweep_tests  # noqa: E402

adapter, test_agrees_with_reference = sweep_tests("torch-channels-last")
