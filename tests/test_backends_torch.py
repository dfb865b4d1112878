"""``torch`` (eager, CPU) against convspec.reference on the adapter sweep, every dtype."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from backend_sweep import sweep_tests  # noqa: E402

from convspec.backends.torch_backend import CPU_HALF_AVG_POOL_VJP  # noqa: E402

# Divisors 4, 6 and 9 make dy/divisor inexact, which exposes the half-type rounding.
DEVIATIONS = {("pool2d-ceil-exclude-pad", "avg_pool_vjp", dtype): CPU_HALF_AVG_POOL_VJP
              for dtype in ("float16", "bfloat16")}

adapter, test_agrees_with_reference = sweep_tests("torch", deviations=DEVIATIONS)
