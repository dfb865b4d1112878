"""Bad input gives clear errors; empty batches give empty outputs; dtypes are kept and half
types accumulate in float32; the ReferenceBackend declares everything."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from convspec import GeometryError
from convspec import reference as ref
from convspec.backends import DTYPES, OPERATIONS, capabilities_of
from convspec.backends.reference_backend import ReferenceBackend

CONV = dict(stride=(1, 1), padding=((1, 1), (1, 1)), dilation=(1, 1), groups=1)
CONV_T = dict(stride=(2, 2), padding=(1, 1), output_padding=(1, 1), dilation=(1, 1), groups=1)
MAX = dict(kernel=(2, 2), stride=(2, 2), padding=(0, 0), dilation=(1, 1), ceil_mode=False)
AVG = dict(kernel=(2, 2), stride=(2, 2), padding=(1, 1), ceil_mode=True, count_include_pad=False)


def x_(*shape, dtype=np.float64):
    return np.arange(np.prod(shape), dtype=np.float64).reshape(shape).astype(dtype)


@pytest.mark.spec("B14")
def test_channels_mismatch_names_w_and_the_counts():
    with pytest.raises(GeometryError, match=r"w has shape \(4, 2, 3, 3\).*3 channels"):
        ref.conv(x_(1, 3, 5, 5), x_(4, 2, 3, 3), None, **CONV)
    with pytest.raises(GeometryError, match="x has 3 channels but w has 2 input channels"):
        ref.conv_transpose(x_(1, 3, 5, 5), x_(2, 2, 3, 3), None, **CONV_T)


@pytest.mark.spec("B14", "C4")
def test_groups_not_dividing_channels():
    with pytest.raises(GeometryError, match="groups=2 does not divide in_channels=3"):
        ref.conv(x_(1, 3, 5, 5), x_(4, 1, 3, 3), None, **{**CONV, "groups": 2})
    with pytest.raises(GeometryError, match="groups=4 does not divide out_channels=6"):
        ref.conv(x_(1, 4, 5, 5), x_(6, 1, 3, 3), None, **{**CONV, "groups": 4})
    with pytest.raises(GeometryError, match="groups=2 does not divide in_channels=3"):
        ref.conv_transpose(x_(1, 3, 5, 5), x_(3, 2, 3, 3), None, **{**CONV_T, "groups": 2})


@pytest.mark.spec("B1", "B7")
def test_kernel_larger_than_padded_input():
    with pytest.raises(GeometryError, match="larger than the padded input"):
        ref.conv(x_(1, 1, 3, 3), x_(1, 1, 5, 5), None,
                 **{**CONV, "padding": ((0, 0), (0, 0))})
    with pytest.raises(GeometryError, match="larger than the padded input"):
        ref.conv(x_(1, 1, 5, 5), x_(1, 1, 3, 3), None, **{**CONV, "dilation": (4, 1)})


@pytest.mark.spec("A7")
def test_wrong_rank():
    with pytest.raises(GeometryError, match=r"x has 2 axes .*1 to 3 spatial axes"):
        ref.conv(x_(3, 5), x_(1, 3, 3), None, stride=(1,), padding=((0, 0),), dilation=(1,),
                 groups=1)
    with pytest.raises(GeometryError, match=r"x has 6 axes"):
        ref.max_pool(x_(1, 1, 2, 2, 2, 2), **MAX)
    with pytest.raises(GeometryError, match=r"w has 3 axes .* x has 2 spatial axes"):
        ref.conv(x_(1, 1, 5, 5), x_(1, 1, 3), None, **CONV)
    with pytest.raises(GeometryError, match="stride has 1 entries"):
        ref.conv(x_(1, 1, 5, 5), x_(1, 1, 3, 3), None, **{**CONV, "stride": (1,)})
    with pytest.raises(GeometryError, match="x has 1 spatial axes but kernel has 2 entries"):
        ref.max_pool(x_(1, 1, 4), **MAX)


def test_bias_and_cotangent_shapes():
    with pytest.raises(GeometryError, match=r"b has shape \(3,\).*\(4,\)"):
        ref.conv(x_(1, 1, 5, 5), x_(4, 1, 3, 3), x_(3), **CONV)
    with pytest.raises(GeometryError, match="dy has shape"):
        ref.conv_vjp(x_(1, 1, 5, 5), x_(4, 1, 3, 3), None, x_(1, 4, 4, 4), **CONV)
    with pytest.raises(GeometryError, match="dy has shape"):
        ref.max_pool_vjp(x_(1, 1, 4, 4), x_(1, 1, 3, 3), **MAX)


def test_transposed_and_pool_geometry_errors():
    with pytest.raises(GeometryError, match="output_padding 2 must be smaller than stride 2"):
        ref.conv_transpose(x_(1, 1, 3, 3), x_(1, 1, 3, 3), None,
                           **{**CONV_T, "output_padding": (2, 2)})
    with pytest.raises(GeometryError, match="more than half the window"):
        ref.max_pool(x_(1, 1, 6, 6), **{**MAX, "padding": (2, 2)})


@pytest.mark.parametrize("bad, match", [
    (x_(1, 1, 5, 5, dtype=np.int64), "x has dtype int64.*astype"),
    (x_(1, 1, 5, 5, dtype=np.complex128), "x has dtype complex128"),
    (x_(1, 1, 5, 5, dtype=np.float32), "w is float64 but x is float32"),
])
def test_dtype_errors_are_type_errors(bad, match):
    with pytest.raises(TypeError, match=match):
        ref.conv(bad, x_(1, 1, 3, 3), None, **CONV)


def test_non_arrays_and_mixed_bias_dtype():
    with pytest.raises(TypeError, match="x must be a numpy.ndarray, got list"):
        ref.conv([[[[1.0]]]], x_(1, 1, 1, 1), None, **CONV)
    with pytest.raises(TypeError, match="b is float32 but x is float64"):
        ref.conv(x_(1, 1, 5, 5), x_(1, 1, 3, 3), x_(1, dtype=np.float32), **CONV)
    with pytest.raises(TypeError, match="dy is float16"):
        ref.avg_pool_vjp(x_(1, 1, 4, 4), x_(1, 1, 3, 3, dtype=np.float16), **AVG)


def test_zero_batch_gives_empty_outputs_of_the_right_shape():
    x, w, b = x_(0, 2, 5, 5), x_(4, 2, 3, 3), x_(4)
    y = ref.conv(x, w, b, **CONV)
    assert y.shape == (0, 4, 5, 5)
    dx, dw, db = ref.conv_vjp(x, w, b, y, **CONV)
    assert (dx.shape, dw.shape, db.shape) == (x.shape, w.shape, b.shape)
    assert not dw.any() and not db.any()
    wt = x_(2, 3, 3, 3)
    yt = ref.conv_transpose(x, wt, None, **CONV_T)
    assert yt.shape == (0, 3, 10, 10)
    dx, dw, db = ref.conv_transpose_vjp(x, wt, None, yt, **CONV_T)
    assert dx.shape == x.shape and dw.shape == wt.shape and db is None
    assert ref.max_pool(x, **MAX).shape == (0, 2, 2, 2)
    assert ref.avg_pool(x, **AVG).shape == (0, 2, 3, 3)
    assert ref.max_pool_vjp(x, np.zeros((0, 2, 2, 2)), **MAX).shape == x.shape
    assert ref.avg_pool_vjp(x, np.zeros((0, 2, 3, 3)), **AVG).shape == x.shape


HALF = [np.float16, ml_dtypes.bfloat16]


@pytest.mark.parametrize("dtype", [np.float64, np.float32, *HALF])
def test_every_operation_keeps_the_input_dtype(dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 2, 6, 6)).astype(dtype)
    w, wt = (rng.standard_normal(s).astype(dtype) for s in ((3, 2, 3, 3), (2, 3, 3, 3)))
    b = rng.standard_normal(3).astype(dtype)
    y = ref.conv(x, w, b, **CONV)
    yt = ref.conv_transpose(x, wt, b, **CONV_T)
    outputs = [y, yt, *ref.conv_vjp(x, w, b, y, **CONV), *ref.conv_transpose_vjp(x, wt, b, yt,
                                                                                 **CONV_T)]
    mp, ap = ref.max_pool(x, **MAX), ref.avg_pool(x, **AVG)
    outputs += [mp, ap, ref.max_pool_vjp(x, mp, **MAX), ref.avg_pool_vjp(x, ap, **AVG)]
    assert all(o.dtype == np.dtype(dtype) for o in outputs)


@pytest.mark.parametrize("dtype", HALF)
def test_half_types_accumulate_in_float32(dtype):
    """3000 products of 1: a half-precision running sum would stall (at 2048 for float16, 256
    for bfloat16); float32 accumulation gets 3000, rounded once to the output dtype."""
    x = np.ones((1, 1, 3000), dtype=dtype)
    w = np.ones((1, 1, 3000), dtype=dtype)
    y = ref.conv(x, w, None, stride=(1,), padding=((0, 0),), dilation=(1,), groups=1)
    assert y.dtype == np.dtype(dtype)
    assert y.item() == np.float32(3000).astype(dtype)
    dx, dw, _ = ref.conv_vjp(x, w, None, y.astype(dtype), stride=(1,), padding=((0, 0),),
                             dilation=(1,), groups=1)
    assert dx.dtype == dw.dtype == np.dtype(dtype)


@pytest.mark.parametrize("dtype", HALF)
def test_half_results_are_one_rounding_from_the_exact_result(dtype):
    """Error at most one rounding to the half type plus float32 accumulation of 27 products."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 7, 7)).astype(dtype)
    w = rng.standard_normal((4, 3, 3, 3)).astype(dtype)
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    exact = ref.conv(x64, w64, None, **CONV)
    magnitude = ref.conv(np.abs(x64), np.abs(w64), None, **CONV)
    got = ref.conv(x, w, None, **CONV).astype(np.float64)
    unit = float(ml_dtypes.finfo(dtype).eps) / 2
    assert np.all(np.abs(got - exact) <= unit * np.abs(exact) + 27 * 2.0 ** -24 * magnitude)


def test_reference_backend_declares_everything():
    backend = ReferenceBackend()
    caps = capabilities_of(backend)
    assert backend.name == "reference"
    assert caps.operations == frozenset(OPERATIONS)
    assert caps.dtypes == frozenset(DTYPES)
    assert set(caps.precision) == set(DTYPES)
    assert caps.skip_reason("conv_transpose", "bfloat16", 3, ["output_padding"]) is None
    x, w = x_(1, 1, 4, 4), x_(2, 1, 3, 3)
    np.testing.assert_array_equal(backend.conv(x, w, None, **CONV), ref.conv(x, w, None, **CONV))
