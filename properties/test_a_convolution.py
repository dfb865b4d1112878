"""Section A: convolution and correlation, checked on the backend under test."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from convspec import ConvGeometry
from convspec.verify.conformance import call, expect_close, expect_reference
from convspec.verify.helpers import assert_array_equal, assert_true, require, rot180
from convspec.verify.strategies import Strategies, dtypes, tensors

pytestmark = pytest.mark.section("A")


@pytest.mark.spec("A3", "A6", "A7", "B1", "B8", "B14", "E20")
@pytest.mark.ops("conv")
@given(data=st.data())
def test_library_conv_is_cross_correlation(backend, caps, tolerance, data):
    """The backend's conv equals the reference cross-correlation for every geometry, in 1-D,
    2-D and 3-D, with stride, padding, dilation, groups and bias (the multi-channel layer E20)."""
    require(caps, "conv")
    draw = Strategies(caps)
    ex = data.draw(draw.conv_examples(real_layers=True), label="example")
    expect_reference(backend, "conv", (ex.x, ex.w, ex.b), ex.kwargs, tolerance(ex.dtype),
                     ids=("A3", "A6"))


@pytest.mark.spec("A3", "A6")
@pytest.mark.ops("conv")
@given(data=st.data())
def test_conv_on_real_valued_data(backend, caps, tolerance, data):
    """Agreement also holds on real-valued data, where rounding happens (the tolerance model)."""
    require(caps, "conv")
    draw = Strategies(caps)
    ex = data.draw(draw.conv_examples(elements="real", real_layers=True), label="example")
    expect_reference(backend, "conv", (ex.x, ex.w, ex.b), ex.kwargs, tolerance(ex.dtype))


def _true_convolution(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Valid N-D true convolution written from A1/A2: ``y_i = Σ_u k_u x_{i-u+m-1}`` (0-based)."""
    out_shape = tuple(n - m + 1 for n, m in zip(x.shape, k.shape))
    y = np.zeros(out_shape)
    for u in np.ndindex(*k.shape):
        start = tuple(m - 1 - ui for m, ui in zip(k.shape, u))
        window = tuple(slice(s, s + o) for s, o in zip(start, out_shape))
        y += k[u] * x[window]
    return y


def _true_convolution_layer(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``Σ_c x[n, c] * w[o, c]`` with ``*`` the valid true convolution of A1/A2."""
    spatial = tuple(n - m + 1 for n, m in zip(x.shape[2:], w.shape[2:]))
    y = np.zeros((x.shape[0], w.shape[0], *spatial))
    for n, o, c in np.ndindex(x.shape[0], w.shape[0], w.shape[1]):
        y[n, o] += _true_convolution(x[n, c], w[o, c])
    return y


@pytest.mark.spec("A1", "A2", "A4")
@pytest.mark.ops("conv")
@given(data=st.data())
def test_convolution_is_correlation_with_rotated_kernel(backend, caps, tolerance, data):
    """True convolution (A1 in 1-D, A2 in 2-D) equals the backend's correlation with the
    kernel rotated 180° (A4)."""
    require(caps, "conv")
    draw = Strategies(caps)
    # _true_convolution_layer loops over samples and channel pairs in Python.
    ex = data.draw(draw.conv_examples(max_stride=1, max_dilation=1, max_groups=1,
                                      max_channels_per_group=3, max_batch=3), label="example")
    g = ex.geometry
    pads = ((0, 0), (0, 0)) + tuple(g.padding)
    x = np.pad(ex.x.astype(np.float64), pads)
    w = ex.w.astype(np.float64)
    expected = _true_convolution_layer(x, w)
    magnitude = _true_convolution_layer(np.abs(x), np.abs(w))
    got = call(backend, "conv", ex.x, rot180(ex.w, ex.w.ndim - 2), None, **ex.kwargs)
    expect_close(got, expected, magnitude, w[0].size, tolerance(ex.dtype),
                 what="conv with rot180(w) differs from the true convolution", ids=("A4",))


def _goodfellow_forms(image: np.ndarray, kernel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both forms of A2, full size, 0-based: ``Σ_m Σ_n I(m,n) K(i-m, j-n)`` and
    ``Σ_m Σ_n I(i-m, j-n) K(m,n)``."""
    shape = tuple(a + b - 1 for a, b in zip(image.shape, kernel.shape))
    first, second = np.zeros(shape), np.zeros(shape)
    for i, j in np.ndindex(*shape):
        for m, n in np.ndindex(*image.shape):
            if 0 <= i - m < kernel.shape[0] and 0 <= j - n < kernel.shape[1]:
                first[i, j] += image[m, n] * kernel[i - m, j - n]
        for m, n in np.ndindex(*kernel.shape):
            if 0 <= i - m < image.shape[0] and 0 <= j - n < image.shape[1]:
                second[i, j] += image[i - m, j - n] * kernel[m, n]
    return first, second


@pytest.mark.spec("A2", "A5")
@pytest.mark.ops("conv")
@given(data=st.data())
def test_goodfellow_forms_and_commutativity(backend, caps, tolerance, data):
    """Goodfellow's two index forms of 2-D convolution agree (A2, which is commutativity A5),
    and the backend computes them as a wide correlation with the rotated kernel, whichever
    operand plays the kernel."""
    require(caps, "conv")
    dtype = data.draw(dtypes(caps), label="dtype")
    image = data.draw(tensors(dtype, data.draw(st.tuples(st.integers(1, 5), st.integers(1, 5)))),
                      label="image")
    kernel = data.draw(tensors(dtype, data.draw(st.tuples(st.integers(1, 4), st.integers(1, 4)))),
                       label="kernel")
    first, second = _goodfellow_forms(image.astype(np.float64), kernel.astype(np.float64))
    assert_array_equal("Σ_m Σ_n I(i-m, j-n) K(m, n)", second, first,
                       call=f"image {image.shape}, kernel {kernel.shape}")

    def full(inp: np.ndarray, ker: np.ndarray) -> np.ndarray:
        pads = tuple((k - 1, k - 1) for k in ker.shape)
        g = ConvGeometry.make(1, 1, ker.shape, padding=pads, bias=False)
        return call(backend, "conv", inp[None, None], rot180(ker[None, None], ker.ndim), None,
                    **g.conv_kwargs())[0, 0]

    magnitude = np.abs(_goodfellow_forms(np.abs(image.astype(np.float64)),
                                         np.abs(kernel.astype(np.float64)))[0])
    tol = tolerance(dtype)
    expect_close(full(image, kernel), first, magnitude, kernel.size, tol,
                 what="full convolution of image by kernel differs from A2")
    expect_close(full(kernel, image), first, magnitude, image.size, tol,
                 what="full convolution of kernel by image differs (A5: convolution commutes)")


@pytest.mark.spec("A8")
@pytest.mark.ops("conv")
@given(s1=st.floats(0.6, 1.5), s2=st.floats(0.6, 1.5), shift=st.floats(-1.0, 1.0))
def test_discrete_sum_samples_the_integral(backend, caps, s1, s2, shift):
    """``s(t) = ∫ x(a) w(t-a) da`` is the limit of ``h Σ x(kh) w(t-kh)`` (A8). Gaussians have
    a closed-form convolution; the backend's discrete sum converges to it as h shrinks."""
    require(caps, "conv", dtype="float64", rank=1)  # float64 to see the O(h^2) error

    def gauss(t: np.ndarray, s: float) -> np.ndarray:
        return np.exp(-t ** 2 / (2 * s * s)) / (s * np.sqrt(2 * np.pi))

    def error(h: float) -> float:
        half = int(round(12.0 / h))
        t = np.arange(-half, half + 1) * h
        x = gauss(t - shift, s1)
        w = gauss(t, s2)
        # s(t_i) = h Σ_k x(t_k) w(t_i - t_k): a full true convolution, the kernel rotated (A4).
        g = ConvGeometry.make(1, 1, (w.size,), padding=((half, half),), bias=False)
        y = call(backend, "conv", x[None, None], w[::-1][None, None].copy(), None,
                 **g.conv_kwargs())[0, 0] * h
        exact = gauss(t - shift, np.hypot(s1, s2))
        inner = np.abs(t) <= 6.0  # away from the truncated ends of the sampled signals
        return float(np.max(np.abs(y - exact)[inner]))

    # For smooth, fast-decaying signals the sampled sum converges faster than any power of h
    # (it is the trapezoid rule on the whole line): at h = 0.25 only rounding is left.
    for h, bound in ((0.5, 1e-4), (0.25, 1e-7)):
        far = error(h)
        assert_true(far < bound, f"h Σ x w is {far:.3g} from the integral at h = {h}, but "
                    f"should be within {bound:g}", call=f"conv of Gaussians s1={s1}, s2={s2}, "
                    f"shift={shift}")
