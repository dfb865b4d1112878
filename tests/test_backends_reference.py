"""``reference`` through the registry against convspec.reference on the adapter sweep: the
sweep's own check that loading, capabilities and comparison agree with the oracle itself."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from backend_sweep import sweep_tests  # noqa: E402

adapter, test_agrees_with_reference = sweep_tests("reference")
