"""``onnxruntime`` (one-node ONNX models on the CPU or CUDA execution provider) against
convspec.reference on the adapter sweep; gradients and the dtypes ONNX Runtime has no kernel
for are skipped with the adapter's declared reasons."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from backend_sweep import sweep_tests  # noqa: E402

adapter, test_agrees_with_reference = sweep_tests("onnxruntime")


def _backend():
    import pytest

    from convspec.backends.registry import BackendUnavailable, load_backend

    try:
        return load_backend("onnxruntime")
    except BackendUnavailable as exc:
        pytest.skip(str(exc))


def test_pool_padding_below_the_kernel_is_declared_and_computed_as_onnx_defines():
    """ONNX bounds pooling pads only below; ONNX Runtime refuses pads >= kernel and pools the
    rest on the padded input: max pooling over -inf padding, average pooling over zeros."""
    import numpy as np
    import pytest

    backend = _backend()
    caps = backend.capabilities()
    assert {"max_pool:pool_padding", "avg_pool:pool_padding"} <= set(caps.accepts_invalid)
    x = np.arange(1, 6, dtype=np.float32).reshape(1, 1, 5)
    y = backend.max_pool(x, kernel=3, stride=1, padding=2, dilation=1, ceil_mode=False)
    np.testing.assert_array_equal(y.ravel(), [1, 2, 3, 4, 5, 5, 5])
    y = backend.avg_pool(x, kernel=3, stride=1, padding=2, ceil_mode=False,
                         count_include_pad=True)
    np.testing.assert_allclose(y.ravel(), np.array([1, 3, 6, 9, 12, 9, 5]) / 3, rtol=1e-6)
    with pytest.raises(tuple(caps.rejects_with), match="Pad should be smaller than kernel"):
        backend.max_pool(x, kernel=2, stride=2, padding=2, dilation=1, ceil_mode=False)


def test_truncated_pool_output_size_is_a_declared_defect_with_a_working_repro():
    """Where the pooling output size truncates (microsoft/onnxruntime#25234), the defect is
    declared for both poolings and its standalone reproduction prints what it says."""
    import contextlib
    import io
    import re

    import pytest

    from convspec.backends import onnx_backend

    backend = _backend()
    caps = backend.capabilities()
    defects = [d for d in caps.defects if d.name == "onnxruntime-pool-output-size-truncated"]
    if not defects:
        pytest.skip(f"onnxruntime {backend.library_version} does not truncate the pooling "
                    "output size: revisit the defect")
    (defect,) = defects
    assert defect.operations == {"max_pool", "avg_pool"}
    assert defect.invalid_kinds == {"kernel_too_large"}
    code = re.search(r'python -c "(.*?)"', onnx_backend.POOL_OUTPUT_SIZE_REPRO).group(1)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(code, {})  # noqa: S102 - the repro is this module's own constant
    assert out.getvalue().strip() == "[[[4.]]]"
