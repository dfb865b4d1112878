"""``paddle`` (``paddle.nn.functional`` on the CPU; gradients by ``paddle.grad``) against
convspec.reference on the adapter sweep, and the adapter's declarations: each gap and known
defect is reproduced here on the installed Paddle, so a Paddle that fixes one shows up.

Skipped cleanly when PaddlePaddle is not installed (it is not in the ``test`` extra:
``pip install 'convspec[paddle]'``)."""

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

with warnings.catch_warnings():  # "No ccache found", from Paddle's C++ extension builder
    warnings.simplefilter("ignore", UserWarning)
    paddle = pytest.importorskip("paddle")
sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from backend_sweep import sweep_tests  # noqa: E402

from convspec.backends.protocol import capabilities_of  # noqa: E402
from convspec.spec.geometry import ConvGeometry, PoolGeometry  # noqa: E402

adapter, test_agrees_with_reference = sweep_tests("paddle")


def _defect(adapter, name):
    found = {d.name: d for d in capabilities_of(adapter).defects}
    if name not in found:
        pytest.fail(f"{name} is not declared on paddle {adapter.library_version}: if this "
                    f"Paddle fixed it, drop the declaration (declared: {sorted(found)})")
    return found[name]


def test_the_probe_finds_what_paddle_has_on_the_cpu(adapter):
    """float64 and float32 everywhere, float16 pooling only, no bfloat16; no probe findings
    left open (the float64 average pooling gradient's is a declared defect)."""
    caps = capabilities_of(adapter)
    assert {"float64", "float32", "float16"} <= caps.dtypes and "bfloat16" not in caps.dtypes
    assert "is not registered" in caps.reasons["dtype:bfloat16"]
    assert caps.skip_reason("conv", "float16", 2) is not None
    assert caps.skip_reason("max_pool", "float16", 2) is None
    assert caps.open_findings() == ()


def test_dilated_max_pooling_is_refused_not_computed_undilated(adapter):
    """Paddle's max pooling has no dilation parameter: a gap, and the adapter raises."""
    caps = capabilities_of(adapter)
    assert "pool_dilation" not in caps.features
    with pytest.raises(NotImplementedError, match="no dilation parameter"):
        adapter.max_pool(np.ones((1, 1, 5)), kernel=(2,), stride=(1,), padding=(0,),
                         dilation=(2,), ceil_mode=False)


def test_bfloat16_crosses_as_bits(adapter):
    """numpy uint16 is Paddle's bfloat16: the bits arrive unchanged (Paddle then refuses the
    dtype on the CPU, which the probe declares)."""
    from convspec.spec.dtypes import numpy_dtype

    x = np.array([1.0, -2.5, 3.0], numpy_dtype("bfloat16"))
    t = adapter._tensor(x, "x")
    assert str(t.dtype) == "paddle.bfloat16"
    assert adapter._array(t, "bfloat16").tobytes() == x.tobytes()


def test_int32_parameters_are_declared(adapter):
    caps = capabilities_of(adapter)
    assert caps.max_integer_parameter == 2 ** 31 - 1
    with pytest.raises(IndexError, match="exceeds int32 range"):
        adapter.conv(np.ones((1, 1, 3)), np.ones((1, 1, 1)), None, stride=(2 ** 31,),
                     padding=((0, 0),), dilation=(1,), groups=1)


# -- the known defects, reproduced ------------------------------------------------------------
def test_float64_avg_pool_gradient_weighs_windows_by_float32_reciprocals(adapter):
    defect = _defect(adapter, "paddle-float64-avg-pool-grad-float32-scale")
    dx = adapter.avg_pool_vjp(np.zeros((1, 1, 3)), np.ones((1, 1, 3)), kernel=(3,),
                              stride=(1,), padding=(1,), ceil_mode=False,
                              count_include_pad=True)
    third = float(np.float32(1 / 3))  # where float64 has 1/3
    assert dx.ravel().tolist() == [2 * third, 3 * third, 2 * third]
    g = PoolGeometry.make((3,), stride=1, padding=1)
    assert defect.hits("avg_pool_vjp", "float64", g, (3,))
    # Power-of-two divisors are exact in float32: left in.
    assert not defect.hits("avg_pool_vjp", "float64", PoolGeometry.make((2,), stride=2), (4,))


def test_ceil_mode_last_window_past_the_input_is_pooled(adapter):
    defect = _defect(adapter, "paddle-ceil-mode-empty-last-window")
    y = adapter.avg_pool(np.ones((1, 1, 2)), kernel=(1,), stride=(2,), padding=(0,),
                         ceil_mode=True, count_include_pad=True)
    assert y.shape == (1, 1, 2) and np.isnan(y[0, 0, 1])  # B9: (1, 1, 1), [[[1.]]]
    g = PoolGeometry.make((1,), stride=2, ceil_mode=True)
    assert defect.hits("max_pool", "float32", g, (2,), {"ceil_mode"})
    # A ceil_mode window that starts inside the input is B9's too: left in.
    assert not defect.hits("max_pool", "float32", PoolGeometry.make(
        (3,), stride=2, padding=1, ceil_mode=True), (8,), {"ceil_mode", "pool_padding"})


def test_transposed_output_padding_reaching_the_stride_is_refused(adapter):
    defect = _defect(adapter, "paddle-transposed-output-padding-refused")
    with pytest.raises(ValueError, match="inconsistent"):
        adapter.conv_transpose(np.ones((1, 1, 3)), np.ones((1, 1, 3)), None, stride=(1,),
                               padding=(0,), output_padding=(1,), dilation=(2,), groups=1)
    g = ConvGeometry.make(1, 1, (3,), stride=1, output_padding=1, dilation=2, transposed=True)
    assert defect.hits("conv_transpose", "float64", g, (3,),
                       {"output_padding", "transposed_dilation"})
    below = ConvGeometry.make(1, 1, (3,), stride=2, output_padding=1, dilation=2, transposed=True)
    assert not defect.hits("conv_transpose", "float64", below, (3,),
                           {"output_padding", "transposed_dilation"})


@pytest.mark.parametrize("name, kind", [
    ("paddle-output-size-unchecked", "kernel_too_large"),
    ("paddle-pool-padding-unchecked", "pool_padding"),
    ("paddle-vjp-cotangent-unchecked", "cotangent"),
])
def test_invalid_calls_paddle_accepts_are_declared_defects(adapter, name, kind):
    """Each defect excuses one invalid kind in the operations whose repro Paddle accepts,
    and no valid call."""
    defect = _defect(adapter, name)
    assert defect.invalid_kinds == {kind} and defect.operations
    assert not defect.applies(None, ())


def test_paddle_accepts_an_empty_convolution_output(adapter):
    y = adapter.conv(np.ones((1, 1, 4), np.float32), np.ones((1, 1, 5), np.float32), None,
                     stride=(2,), padding=((0, 0),), dilation=(1,), groups=1)
    assert y.tolist() == [[[4.0]]]  # should raise: (4 - 5) / 2 + 1 = 0 by B1


def test_every_declaration_is_shown_by_a_refusal_or_a_wrong_result(adapter):
    """Each declared gap (no dilated max pooling, float16 convolutions, bfloat16) is tried on
    the probe cases of its region: refused, never hiding cases that run right or crash."""
    from convspec.backends.probe import sweep_declarations

    checks = sweep_declarations(adapter, capabilities_of(adapter))
    assert {c.key for c in checks} >= {"pool_dilation", "dtype:bfloat16"}
    for check in checks:
        assert not check.crashed, f"{check.key} hides crashes: {check.crashed}"
        if check.key in UNSHOWN:
            assert check.hides_working, f"{check.key} ({UNSHOWN[check.key]}) is shown now"
            continue
        assert not check.hides_working, (
            f"{check.key} hides cases that run right: {[c.key for c in check.hides_working]}")
        assert check.shown, f"{check.key} is shown by nothing"


#: Declarations a tiny integer-valued probe case cannot show, with the evidence that does.
UNSHOWN = {"avg_pool_vjp:dtype:float16": "rounding in float16, shown by three windows meeting "
           "on one input (test_half_avg_pool_gradient_sums_in_float16)"}


def test_half_avg_pool_gradient_sums_in_float16(adapter):
    """dy (-4, -3, 2) of three windows of 3 meeting on the middle input: -5/3 rounds to -1.667
    in float16; Paddle's float16 weight and float16 sums give -1.666, the float16 number on
    the other side of -5/3 (float32 is within one unit of -5/3)."""
    caps = capabilities_of(adapter)
    assert "float16" in caps.reasons["avg_pool_vjp:dtype:float16"]
    dx = {dtype: adapter.avg_pool_vjp(np.zeros((1, 1, 3), dtype),
                                      np.array([[[-4.0, -3.0, 2.0]]], dtype), kernel=(3,),
                                      stride=(1,), padding=(1,), ceil_mode=False,
                                      count_include_pad=True)[0, 0, 1]
          for dtype in ("float16", "float32")}
    assert dx["float16"] == np.float16(-1.666) != np.float16(-5 / 3)
    assert abs(float(dx["float32"]) + 5 / 3) <= float(np.spacing(np.float32(5 / 3)))
