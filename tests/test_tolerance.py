"""The tolerance model: tight enough to catch float32 computed in a reduced precision, loose
enough for every legitimate float32 algorithm (reordered and blocked sums, FFT, Winograd).

Each "implementation" below is a few lines of numpy computing a 2-D multi-channel correlation
(the reduction behind conv and its gradients) the way a real kernel family does; the reference
gives the exact result and the magnitudes, and :func:`convspec.verify.tolerance.compare` judges.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.signal

from convspec.verify.conformance import (expect_reference, intermediates, reduction_lengths,
                             reference_outputs, transform_scales)
from convspec.spec.dtypes import numpy_dtype
from convspec.spec.geometry import ConvGeometry
from convspec.verify.tolerance import Tolerance, compare, parse_declarations

#: (in_channels, kernel) giving reduction lengths K = C*k*k + 1 from 10 to 289.
SHAPES = [(1, 3), (3, 3), (8, 3), (4, 5), (32, 3)]
OUT_CHANNELS, SIZE, BATCH = 4, 12, 2


def _case(channels: int, kernel: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    g = ConvGeometry.make(channels, OUT_CHANNELS, kernel, ndim=2)
    x = rng.standard_normal((BATCH, channels, SIZE, SIZE)).astype(np.float32)
    w = rng.standard_normal(g.weight_shape).astype(np.float32)
    b = rng.standard_normal(g.bias_shape).astype(np.float32)
    return x, w, b


KWARGS = {"stride": (1, 1), "padding": ((0, 0), (0, 0)), "dilation": (1, 1), "groups": 1}


def _judge(actual: np.ndarray, x: np.ndarray, w: np.ndarray, b: np.ndarray,
           tolerance: Tolerance, kwargs: dict | None = None) -> bool:
    """As ``expect_reference`` judges: with the operand-norm transform scale and the
    intermediate (pre-bias) result."""
    kwargs = KWARGS if kwargs is None else kwargs
    (exact,), (magnitude,) = reference_outputs("conv", (x, w, b), kwargs)
    (k,) = reduction_lengths("conv", (x, w, b), kwargs)
    (scale,) = transform_scales("conv", (x, w, b), kwargs)
    (before,) = intermediates("conv", (x, w, b), exact)
    return compare(actual, exact, magnitude, k, tolerance, transform=scale,
                   intermediate=before).ok


def _round_to(a: np.ndarray, precision: str) -> np.ndarray:
    """Operands as a tensor core sees them: float32 rounded to TF32 or bfloat16 significands."""
    if precision == "bfloat16":
        return a.astype(numpy_dtype("bfloat16")).astype(np.float32)
    bits = a.astype(np.float32).view(np.uint32)
    drop = 13  # float32 keeps 23 fraction bits, TF32 keeps 10
    rounded = (bits + np.uint32(1 << (drop - 1))) & ~np.uint32((1 << drop) - 1)
    return rounded.view(np.float32)


def _direct(x: np.ndarray, w: np.ndarray, b: np.ndarray, *, order: str = "forward",
            dtype: type = np.float32) -> np.ndarray:
    """Valid correlation as one sum over (channel, tap) terms, accumulated in ``dtype``."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    terms = [(ci, i, j) for ci in range(c) for i in range(kh) for j in range(kw)]
    if order == "reverse":
        terms.reverse()
    elif order == "shuffled":
        np.random.default_rng(1).shuffle(terms)
    out = np.zeros((n, o, h - kh + 1, wd - kw + 1), dtype=dtype)
    for ci, i, j in terms:
        patch = x[:, ci, i:i + h - kh + 1, j:j + wd - kw + 1].astype(dtype)
        out += (patch[:, None] * w[None, :, ci, i, j, None, None].astype(dtype)).astype(dtype)
    return out + b[None, :, None, None].astype(dtype)


def _blocked_gemm(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """im2col + GEMM in float32, the K axis split into blocks of 16 summed pairwise."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    oh, ow = h - kh + 1, wd - kw + 1
    cols = np.stack([x[:, :, i:i + oh, j:j + ow] for i in range(kh) for j in range(kw)], axis=2)
    cols = cols.reshape(n, c * kh * kw, oh * ow)
    wm = w.reshape(o, c * kh * kw)
    partial = [np.einsum("ok,nkp->nop", wm[:, s:s + 16], cols[:, s:s + 16])
               for s in range(0, c * kh * kw, 16)]
    while len(partial) > 1:
        partial = [sum(partial[i:i + 2]) for i in range(0, len(partial), 2)]
    return partial[0].reshape(n, o, oh, ow) + b[None, :, None, None]


def _fft(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per (sample, out, in) FFT correlation in float32 (scipy keeps single precision)."""
    n, c = x.shape[:2]
    out = [[sum(scipy.signal.fftconvolve(x[s, ci], w[oc, ci, ::-1, ::-1], mode="valid")
                for ci in range(c)) for oc in range(w.shape[0])] for s in range(n)]
    result = np.asarray(out)
    assert result.dtype == np.float32
    return result + b[None, :, None, None]


def _winograd_rows(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Winograd F(2, 3) along the width (3-tap kernels), direct along the height, float32."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    assert kw == 3 and (wd - 2) % 2 == 0
    oh, ow = h - kh + 1, wd - 2
    out = np.zeros((n, o, oh, ow), dtype=np.float32)
    half = np.float32(0.5)
    for ci in range(c):
        for i in range(kh):
            rows = x[:, ci, i:i + oh]  # (n, oh, wd)
            g0, g1, g2 = (w[:, ci, i, t][None, :, None, None] for t in range(3))
            u1, u2, u3 = (g0 + g1 + g2) * half, (g0 - g1 + g2) * half, g2
            d = [rows[:, None, :, t:t + ow:2] for t in range(4)]
            m1 = (d[0] - d[2]) * g0
            m2 = (d[1] + d[2]) * u1
            m3 = (d[2] - d[1]) * u2
            m4 = (d[1] - d[3]) * u3
            out[..., 0::2] += m1 + m2 + m3
            out[..., 1::2] += m2 - m3 - m4
    return out + b[None, :, None, None]


LEGITIMATE = {
    "direct-forward": _direct,
    "direct-reverse": lambda x, w, b: _direct(x, w, b, order="reverse"),
    "direct-shuffled": lambda x, w, b: _direct(x, w, b, order="shuffled"),
    "blocked-gemm": _blocked_gemm,
    "fft": _fft,
}


@pytest.mark.parametrize("channels, kernel", SHAPES)
@pytest.mark.parametrize("name", sorted(LEGITIMATE))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_legitimate_float32_algorithms_pass(name: str, channels: int, kernel: int,
                                            seed: int) -> None:
    x, w, b = _case(channels, kernel, seed)
    assert _judge(LEGITIMATE[name](x, w, b).astype(np.float32), x, w, b, Tolerance("float32"))


@pytest.mark.parametrize("channels", [1, 3, 8, 32])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_winograd_passes(channels: int, seed: int) -> None:
    x, w, b = _case(channels, 3, seed)
    assert _judge(_winograd_rows(x, w, b), x, w, b, Tolerance("float32"))


@pytest.mark.parametrize("precision", ["tf32", "bfloat16"])
@pytest.mark.parametrize("channels, kernel", SHAPES)
def test_reduced_precision_products_fail_float32(precision: str, channels: int,
                                                 kernel: int) -> None:
    """TF32 or bfloat16 operands (float32 accumulation) are caught for K up to 289 ..."""
    x, w, b = _case(channels, kernel, 0)
    actual = _direct(_round_to(x, precision), _round_to(w, precision), b, dtype=np.float64)
    assert not _judge(actual.astype(np.float32), x, w, b, Tolerance("float32"))
    assert not compare(actual.astype(np.float32), *_exact(x, w, b), Tolerance("float32")).ok


def _exact(x, w, b):
    (exact,), (magnitude,) = reference_outputs("conv", (x, w, b), KWARGS)
    (k,) = reduction_lengths("conv", (x, w, b), KWARGS)
    return exact, magnitude, k


@pytest.mark.parametrize("precision", ["tf32", "bfloat16"])
@pytest.mark.parametrize("channels, kernel", SHAPES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_declared_reduced_precision_passes(precision: str, channels: int, kernel: int,
                                           seed: int) -> None:
    """... and pass once the user declares them (``verify --precision float32=tf32``)."""
    x, w, b = _case(channels, kernel, seed)
    actual = _direct(_round_to(x, precision), _round_to(w, precision), b)
    assert _judge(actual, x, w, b, Tolerance("float32", precision))


def test_float32_computed_in_float16_fails() -> None:
    x, w, b = _case(3, 3, 0)
    actual = _direct(x.astype(np.float16), w.astype(np.float16), b.astype(np.float16),
                     dtype=np.float16)
    assert not _judge(actual.astype(np.float32), x, w, b, Tolerance("float32"))


def test_half_storage_with_float32_accumulation_passes() -> None:
    x, w, b = (a.astype(np.float16) for a in _case(8, 3, 0))
    actual = _direct(x, w, b).astype(np.float16)
    assert _judge(actual, x, w, b, Tolerance("float16"))


def test_nan_where_the_result_is_finite_fails() -> None:
    x, w, b = _case(1, 3, 0)
    actual = _direct(x, w, b)
    actual[0, 0, 0, 0] = np.nan
    (exact,), (magnitude,) = reference_outputs("conv", (x, w, b), KWARGS)
    result = compare(actual, exact, magnitude, 10, Tolerance("float32"))
    assert not result.ok and result.nonfinite == 1 and result.worst_index == (0, 0, 0, 0)


def test_effective_bits_show_the_precision_computed_in() -> None:
    x, w, b = _case(8, 3, 0)
    (exact,), (magnitude,) = reference_outputs("conv", (x, w, b), KWARGS)
    (k,) = reduction_lengths("conv", (x, w, b), KWARGS)
    honest = compare(_direct(x, w, b), exact, magnitude, k, Tolerance("float32"))
    tf32 = compare(_direct(_round_to(x, "tf32"), _round_to(w, "tf32"), b), exact, magnitude, k,
                   Tolerance("float32", "tf32"))
    # Model-relative bits (see convspec.verify.tolerance): TF32 products cost about 10 of them.
    assert honest.effective_bits > 24 and honest.effective_bits - tf32.effective_bits > 8


@pytest.mark.parametrize("text, message", [
    ("float32", "DTYPE=PRECISION"), ("float32=int8", "tf32"), ("float16=tf32", "float16"),
    ("complex64=tf32", "complex64")])
def test_bad_declarations_are_explained(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_declarations([text])


def test_declarations_parse() -> None:
    assert parse_declarations(["float32=tf32", "float64=float32"]) == {
        "float32": "tf32", "float64": "float32"}


# --- the transform term: bounded by the operands' norms ------------------------------------

def _fft_conv64(x, w, b, kwargs):
    sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
    import algorithm_backends

    return algorithm_backends.fft64.conv(x, w, b, **kwargs)


ISSUE = {"stride": (1, 1), "padding": ((0, 0), (1, 1)), "dilation": (1, 3), "groups": 3}


def test_fft_float64_on_the_issues_example_passes() -> None:
    """One non-zero tap, groups 3, dilation (1, 3): the exact output is 0 everywhere (the tap
    only meets padding), S = 0, and the FFT returns rounding of order 1e-16."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 9, 1, 8))
    w = np.zeros((3, 3, 1, 4))
    w[1, 2, 0, 0] = 1.7
    (exact,), (magnitude,) = reference_outputs("conv", (x, w, None), ISSUE)
    actual = _fft_conv64(x, w, None, ISSUE)
    assert np.all(exact == 0) and np.all(magnitude == 0) and np.any(actual != 0)
    # The elementwise model alone (no transform scale) wrongly rejects it ...
    assert not compare(actual, exact, magnitude, 13, Tolerance("float64")).ok
    # ... the operand-norm term accepts it.
    assert _judge(actual, x, w, None, Tolerance("float64"), ISSUE)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_single_tap_sparse_kernels_pass_through_fft(seed: int, dtype: str) -> None:
    """A kernel with one non-zero tap on integer-valued, mostly-zero inputs: exact results
    are sparse integers, the FFT smears rounding over every position."""
    rng = np.random.default_rng(seed)
    x = np.where(rng.random((2, 4, 9, 7)) < 0.2, rng.integers(-3, 4, (2, 4, 9, 7)), 0)
    w = np.zeros((3, 4, 3, 3))
    w[rng.integers(0, 3), rng.integers(0, 4), rng.integers(0, 3), rng.integers(0, 3)] = 2.0
    x, w = x.astype(dtype), w.astype(dtype)
    kwargs = {"stride": (1, 2), "padding": ((2, 1), (0, 3)), "dilation": (2, 1), "groups": 1}
    sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
    import algorithm_backends

    backend = algorithm_backends.fft32 if dtype == "float32" else algorithm_backends.fft64
    actual = backend.conv(x, w, None, **kwargs)
    assert _judge(actual, x, w, None, Tolerance(dtype), kwargs)


def test_all_padding_windows_are_zero_within_the_transform_term() -> None:
    """Windows that hold only padding have exact value 0 and S = 0: an FFT leaves rounding
    there, which the transform term (not the elementwise ones) allows."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 2, 3, 3))
    w = rng.standard_normal((2, 2, 2, 2))
    kwargs = {"stride": (1, 1), "padding": ((4, 4), (4, 4)), "dilation": (1, 1), "groups": 1}
    (exact,), (magnitude,) = reference_outputs("conv", (x, w, None), kwargs)
    padding_only = magnitude == 0
    assert padding_only.any() and np.all(exact[padding_only] == 0)
    actual = _fft_conv64(x, w, None, kwargs)
    assert _judge(actual, x, w, None, Tolerance("float64"), kwargs)
    (scale,) = transform_scales("conv", (x, w, None), kwargs)
    assert np.all(scale > 0)


def test_transform_term_is_not_a_free_pass() -> None:
    """The transform term allows about ``16 log2 L u ‖a‖ ‖k‖``: an error of 1e-6 in float64
    on unit data is far beyond it."""
    x, w, b = (a.astype(np.float64) for a in _case(3, 3, 0))
    (exact,), _ = reference_outputs("conv", (x, w, b), KWARGS)
    wrong = exact.copy()
    wrong[0, 0, 0, 0] += 1e-6
    assert not _judge(wrong, x, w, b, Tolerance("float64"))


def test_half_type_bias_added_in_storage_passes() -> None:
    """fp16(fp16(conv) + b): one rounding per step of a correct pipeline; without the
    intermediate term the model (one rounding of conv + b) rejects it."""
    fails_without = 0
    for seed in range(4):
        x, w, b = (a.astype(np.float16) for a in _case(8, 3, seed))
        b = (b * np.float16(40)).astype(np.float16)  # a bias comparable to the sums
        conv = _direct(x, w, np.zeros_like(b)).astype(np.float16)
        actual = (conv + b[None, :, None, None]).astype(np.float16)
        assert _judge(actual, x, w, b, Tolerance("float16"))
        exact, magnitude, k = _exact(x, w, b)
        fails_without += not compare(actual, exact, magnitude, k, Tolerance("float16")).ok
    assert fails_without > 0


def test_half_bias_fixture_passes_expect_reference() -> None:
    sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
    import algorithm_backends

    x, w, b = (a.astype(np.float16) for a in _case(4, 3, 1))
    expect_reference(algorithm_backends.half_bias, "conv", (x, w, b * np.float16(20)), KWARGS,
                     Tolerance("float16"))


# --- G3: squares in float64 from the backend's values ---------------------------------------

def test_tiny_float32_squares_are_judged_on_the_values_the_backend_was_given() -> None:
    """float32 values below ~1e-19 square to 0 or to subnormals in float32: the average pool
    of those squares is judged against the exact pool of the squares as float32 holds them
    (what G3 now does), not against a float64 L2 pool of x (which every correct backend
    fails)."""
    from convspec.backends.reference_backend import ReferenceBackend
    from convspec.reference import l2_pool

    x = np.full((1, 1, 2, 2), 3e-23, dtype=np.float32)
    x[0, 0, 0, 0] = 1e-22
    squares = x * x
    kwargs = {"kernel": (2, 2), "stride": (2, 2), "padding": (0, 0),
              "ceil_mode": False, "count_include_pad": True}
    backend = ReferenceBackend()
    (mean,) = expect_reference(backend, "avg_pool", (squares,), kwargs, Tolerance("float32"))
    # The former comparison: float32 squares against a float64 L2 pool.
    got = np.sqrt(mean.astype(np.float64) * 4)
    expected = l2_pool(x.astype(np.float64), kernel=(2, 2), stride=(2, 2))
    assert not compare(got, expected, expected, 4, Tolerance("float32").scaled(2)).ok
