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


# -- the invalid calls OpenVINO's specifications allow (Capabilities.accepts_invalid) ----------

def _windows(padded: np.ndarray, kernel: int, stride: int) -> list[np.ndarray]:
    return [padded[i:i + kernel] for i in range(0, len(padded) - kernel + 1, stride)]


def test_the_conventions_are_declared(adapter):
    from convspec.backends import openvino_backend

    assert adapter.capabilities().accepts_invalid == openvino_backend.CONVENTIONS


def test_output_padding_past_the_stride_extends_the_output_by_the_bias(adapter):
    """ConvolutionBackpropData takes any non-negative output_padding: output_padding 2 = stride
    2 (invalid in B10) adds two positions no input reaches, holding the bias."""
    x, w = np.array([[[1, 2, 3]]], np.float32), np.array([[[1, 2]]], np.float32)
    full = np.zeros(6)
    for i, v in enumerate(x.ravel()):
        full[2 * i:2 * i + 2] += v * w.ravel()
    y = adapter.conv_transpose(x, w, np.array([5], np.float32), stride=(2,), padding=(0,),
                               output_padding=(2,), dilation=(1,), groups=1)
    np.testing.assert_array_equal(y.ravel(), np.concatenate([full, [0, 0]]) + 5)


def test_a_cropped_transposed_output_is_empty_and_a_negative_one_refused(adapter):
    """Y = 2(2 - 1) + 2 - 2 - 2 = 0: an empty tensor; Y = -1 is refused by compile_model."""
    y = adapter.conv_transpose(np.ones((1, 1, 2), np.float32), np.ones((1, 1, 2), np.float32),
                               None, stride=(2,), padding=(2,), output_padding=(0,),
                               dilation=(1,), groups=1)
    assert y.shape == (1, 1, 0)
    with pytest.raises(RuntimeError, match="new dims are undefined"):
        adapter.conv_transpose(np.ones((1, 1, 1), np.float32), np.ones((1, 1, 1), np.float32),
                               None, stride=(1,), padding=(1,), output_padding=(0,),
                               dilation=(1,), groups=1)


def test_pooling_padding_past_half_the_window(adapter):
    """MaxPool pads with -inf (a window of padding only gives the lowest float32, the declared
    non-finite hole), AvgPool with zeros; with exclude_pad a window wholly in the padding is
    refused and one partly in it averages its inputs."""
    x = np.array([[[1, -2, 3, -4, 5, 6]]], np.float32)
    low = np.finfo(np.float32).min
    padded = np.concatenate([[low] * 2, x.ravel(), [low] * 2])
    y = adapter.max_pool(x, kernel=(2,), stride=(2,), padding=(2,), dilation=(1,),
                         ceil_mode=False)
    np.testing.assert_array_equal(y.ravel(), [w.max() for w in _windows(padded, 2, 2)])
    assert y.ravel()[0] == low
    zeros = np.concatenate([[0] * 2, x.ravel(), [0] * 2])
    y = adapter.avg_pool(x, kernel=(2,), stride=(2,), padding=(2,), ceil_mode=False,
                         count_include_pad=True)
    np.testing.assert_allclose(y.ravel(), [w.mean() for w in _windows(zeros, 2, 2)])
    with pytest.raises(RuntimeError, match="entirely in the padding area"):
        adapter.avg_pool(x, kernel=(2,), stride=(2,), padding=(2,), ceil_mode=False,
                         count_include_pad=False)
    inside = np.concatenate([[0] * 2, np.ones(6), [0] * 2])
    y = adapter.avg_pool(x, kernel=(3,), stride=(1,), padding=(2,), ceil_mode=False,
                         count_include_pad=False)
    np.testing.assert_allclose(y.ravel(), [a.sum() / b.sum() for a, b in
                                           zip(_windows(zeros, 3, 1), _windows(inside, 3, 1))],
                               rtol=1e-6)
