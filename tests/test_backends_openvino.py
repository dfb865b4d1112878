"""``openvino`` (one-operation OpenVINO models on the CPU plugin) against convspec.reference on
the adapter sweep; gradients, float64 (computed in float32) and the declared defects are
skipped with the adapter's reasons."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from backend_sweep import sweep_tests  # noqa: E402

adapter, test_agrees_with_reference = sweep_tests("openvino")


def test_float64_is_declared_computed_in_float32(adapter):
    """The CPU plugin has no float64 arithmetic (its documented inference precisions are f32,
    bf16 and f16): the probe measures it and leaves float64 out with the reason."""
    caps = adapter.capabilities()
    assert "float64" not in caps.dtypes
    assert "computes float64 models in float32" in caps.reasons["dtype:float64"]


def test_a_replaced_precision_hint_is_refused(adapter, monkeypatch):
    """On a CPU without float16 arithmetic the plugin turns an f16 hint into bf16 without a
    word (11 float16 ulps off on one product); the adapter reads the compiled model's hint
    back and raises instead of computing in the wrong precision."""
    from convspec.backends import openvino_backend

    backend = adapter
    if "FP16" in backend._core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        pytest.skip("this CPU computes float16 natively")
    monkeypatch.setitem(openvino_backend.PRECISION_HINT, "float16", "f16")
    x = np.ones((1, 1, 3), np.float16)
    with pytest.raises(RuntimeError, match="INFERENCE_PRECISION_HINT bf16, not the f16"):
        backend.conv(x, np.ones((1, 1, 2), np.float16), None, stride=(1,),
                     padding=((7, 7),), dilation=(1,), groups=1)
