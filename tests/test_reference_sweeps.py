"""Randomized sweeps (fixed seed) over 1-D, 2-D and 3-D geometries with stride, asymmetric
padding, dilation and groups: the literal and fast paths agree exactly on integer-valued
float64 inputs, every other form (matrix, im2col, FFT, zero insertion, Cᵀ) agrees with them,
forward ops agree with torch, and the vjps agree with central finite differences and with
torch.autograd."""

from __future__ import annotations

import numpy as np
import pytest

from convspec import ConvGeometry, GeometryError, PoolGeometry
from convspec import reference as ref

SEED = 20240611
CASES_PER_RANK = {1: 30, 2: 30, 3: 12}


def _conv_geometry(rng: np.random.Generator, rank: int, *, transposed: bool = False
                   ) -> tuple[ConvGeometry, tuple[int, ...]]:
    """A random valid geometry and input shape (retrying draws the spec rejects)."""
    while True:
        groups = int(rng.choice([1, 1, 2, 3]))
        kernel = tuple(int(k) for k in rng.integers(1, 4 if rank < 3 else 3, rank))
        stride = tuple(int(s) for s in rng.integers(1, 4, rank))
        dilation = tuple(int(d) for d in rng.integers(1, 3, rank))
        if transposed:
            padding = tuple(int(p) for p in rng.integers(0, 3, rank))
            output_padding = tuple(int(rng.integers(0, max(s, d)))
                                   for s, d in zip(stride, dilation))
        else:
            padding = tuple((int(b), int(a)) for b, a in rng.integers(0, 3, (rank, 2)))
            output_padding = 0
        try:
            geometry = ConvGeometry.make(groups * int(rng.integers(1, 3)),
                                         groups * int(rng.integers(1, 3)), kernel,
                                         stride=stride, padding=padding, dilation=dilation,
                                         groups=groups, transposed=transposed,
                                         output_padding=output_padding)
            low = 1 if transposed else None
            spatial = tuple(
                int(rng.integers(1, 4)) if low else
                max(1, geometry.effective_kernel[i] - sum(geometry.padding[i]))
                + int(rng.integers(0, 5 if rank < 3 else 3))
                for i in range(rank))
            shape = (int(rng.integers(1, 3)), geometry.in_channels, *spatial)
            geometry.output_shape(shape)
            return geometry, shape
        except GeometryError:
            continue


def _integers(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.integers(-4, 5, shape).astype(np.float64)


def _conv_cases(transposed: bool = False):
    rng = np.random.default_rng(SEED + transposed)
    for rank, count in CASES_PER_RANK.items():
        for index in range(count):
            geometry, shape = _conv_geometry(rng, rank, transposed=transposed)
            x = _integers(rng, shape)
            w = _integers(rng, geometry.weight_shape)
            b = _integers(rng, (geometry.out_channels,)) if index % 3 else None
            yield pytest.param(geometry, x, w, b, id=f"{rank}d-{index}")


CONV_CASES = list(_conv_cases())
TRANSPOSED_CASES = list(_conv_cases(transposed=True))


@pytest.mark.spec("A1", "A2", "A3", "A6", "A7", "B1", "B7", "B8", "B14", "E9", "E20", "D4")
@pytest.mark.parametrize("geometry, x, w, b", CONV_CASES)
def test_literal_and_fast_conv_agree_exactly(geometry, x, w, b):
    fast = ref.conv(x, w, b, **geometry.conv_kwargs())
    literal = ref.conv_literal(x, w, b, **geometry.conv_kwargs())
    assert fast.shape == geometry.output_shape(x.shape)
    np.testing.assert_array_equal(fast, literal)


@pytest.mark.spec("D4", "D5", "E9", "E14")
@pytest.mark.parametrize("geometry, x, w, b", CONV_CASES)
def test_other_conv_forms_agree_exactly(geometry, x, w, b):
    expected = ref.conv_literal(x, w, b, **geometry.conv_kwargs())
    for form in (ref.im2col_conv, ref.conv_by_matrix, ref.grouped_conv,
                 ref.dilated_conv_by_zero_insertion):
        np.testing.assert_array_equal(form(x, w, b, **geometry.conv_kwargs()), expected,
                                      err_msg=form.__name__)


@pytest.mark.spec("D2", "D3")
@pytest.mark.parametrize("geometry, x, w, b", CONV_CASES)
def test_fft_conv_agrees(geometry, x, w, b):
    expected = ref.conv_literal(x, w, b, **geometry.conv_kwargs())
    np.testing.assert_allclose(ref.fft_conv(x, w, b, **geometry.conv_kwargs()), expected,
                               atol=1e-9)


@pytest.mark.spec("B10", "D8", "F8", "F9")
@pytest.mark.parametrize("geometry, x, w, b", TRANSPOSED_CASES)
def test_transposed_forms_agree_exactly(geometry, x, w, b):
    kwargs = geometry.conv_transpose_kwargs()
    fast = ref.conv_transpose(x, w, b, **kwargs)
    assert fast.shape == geometry.output_shape(x.shape)
    for form in (ref.conv_transpose_literal, ref.conv_transpose_by_zero_insertion,
                 ref.conv_transpose_by_matrix):
        np.testing.assert_array_equal(form(x, w, b, **kwargs), fast, err_msg=form.__name__)


@pytest.mark.spec("F8", "F2")
@pytest.mark.parametrize("geometry, x, w, b", CONV_CASES[::3])
def test_conv_transpose_is_the_adjoint_of_conv(geometry, x, w, b):
    """<C x, z> = <x, Cᵀ z>; Cᵀ z is conv_vjp's dx and, where the geometry has a transposed
    form (symmetric padding, output_padding < stride), conv_transpose with the same weight."""
    rng = np.random.default_rng(SEED)
    z = _integers(rng, geometry.output_shape(x.shape))
    cx = ref.conv(x, w, None, **geometry.conv_kwargs())
    ctz = ref.conv_vjp(x, w, None, z, **geometry.conv_kwargs())[0]
    assert np.sum(cx * z) == np.sum(x * ctz)
    try:
        adjoint = geometry.adjoint_for(x.shape[2:])
        kwargs = adjoint.conv_transpose_kwargs()
    except GeometryError:
        return  # asymmetric padding, or no output_padding reaches x's size
    np.testing.assert_array_equal(ref.conv_transpose(z, w, None, **kwargs), ctz)


# -- gradients --------------------------------------------------------------------------------

def _directional(f, arrays, directions, eps=1e-6):
    plus = f(*[a if d is None else a + eps * d for a, d in zip(arrays, directions)])
    minus = f(*[a if d is None else a - eps * d for a, d in zip(arrays, directions)])
    return (plus - minus) / (2 * eps)


def _random_like(rng, arrays):
    return [None if a is None else rng.standard_normal(a.shape) for a in arrays]


@pytest.mark.spec("F1", "F2", "F3", "F4", "F5", "E6")
@pytest.mark.parametrize("geometry, x, w, b", CONV_CASES[::2])
def test_conv_vjp_matches_finite_differences(geometry, x, w, b):
    rng = np.random.default_rng(SEED + 7)
    kwargs = geometry.conv_kwargs()
    x, w = rng.standard_normal(x.shape), rng.standard_normal(w.shape)
    b = None if b is None else rng.standard_normal(b.shape)
    dy = rng.standard_normal(geometry.output_shape(x.shape))
    grads = ref.conv_vjp(x, w, b, dy, **kwargs)
    directions = _random_like(rng, (x, w, b))
    slope = _directional(lambda *a: np.sum(ref.conv(*a, **kwargs) * dy), (x, w, b), directions)
    predicted = sum(np.sum(g * d) for g, d in zip(grads, directions) if d is not None)
    assert slope == pytest.approx(predicted, rel=1e-6, abs=1e-8)
    assert (grads[2] is None) == (b is None)


@pytest.mark.spec("F8", "F9")
@pytest.mark.parametrize("geometry, x, w, b", TRANSPOSED_CASES[::2])
def test_conv_transpose_vjp_matches_finite_differences(geometry, x, w, b):
    rng = np.random.default_rng(SEED + 8)
    kwargs = geometry.conv_transpose_kwargs()
    x, w = rng.standard_normal(x.shape), rng.standard_normal(w.shape)
    b = None if b is None else rng.standard_normal(b.shape)
    dy = rng.standard_normal(geometry.output_shape(x.shape))
    grads = ref.conv_transpose_vjp(x, w, b, dy, **kwargs)
    directions = _random_like(rng, (x, w, b))
    slope = _directional(lambda *a: np.sum(ref.conv_transpose(*a, **kwargs) * dy), (x, w, b),
                         directions)
    predicted = sum(np.sum(g * d) for g, d in zip(grads, directions) if d is not None)
    assert slope == pytest.approx(predicted, rel=1e-6, abs=1e-8)


@pytest.mark.spec("F1", "F2", "F4", "F5", "F7")
@pytest.mark.parametrize("geometry, x, w, b", CONV_CASES[1::2])
def test_notes_gradient_routes_agree_with_fast_vjp(geometry, x, w, b):
    """dx = rot180(W) ~⊗ dY (zero-inserted) and dW = dY ⊗ X, exactly on integers."""
    dy = _integers(np.random.default_rng(SEED + 9), geometry.output_shape(x.shape))
    dx, dw, _ = ref.conv_vjp(x, w, b, dy, **geometry.conv_kwargs())
    np.testing.assert_array_equal(
        ref.input_grad_by_wide_correlation(dy, w, geometry, x.shape[2:]), dx)
    np.testing.assert_array_equal(ref.weight_grad_by_correlation(x, dy, geometry), dw)


def _pool_cases():
    rng = np.random.default_rng(SEED + 2)
    for rank, count in CASES_PER_RANK.items():
        made = 0
        while made < count:
            kernel = tuple(int(k) for k in rng.integers(1, 4, rank))
            try:
                geometry = PoolGeometry.make(
                    kernel, stride=tuple(int(s) for s in rng.integers(1, 4, rank)),
                    padding=tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel),
                    dilation=tuple(int(d) for d in rng.integers(1, 3, rank)),
                    ceil_mode=bool(rng.integers(0, 2)),
                    count_include_pad=bool(rng.integers(0, 2)))
                shape = (int(rng.integers(1, 3)), int(rng.integers(1, 3)),
                         *(int(n) for n in rng.integers(3, 8 if rank < 3 else 6, rank)))
                geometry.output_shape(shape)
            except GeometryError:
                continue
            made += 1
            yield pytest.param(geometry, rng.standard_normal(shape), id=f"{rank}d-{made}")


POOL_CASES = list(_pool_cases())


def _avg(geometry: PoolGeometry) -> PoolGeometry:
    return PoolGeometry.make(geometry.kernel, stride=geometry.stride, padding=geometry.padding,
                             ceil_mode=geometry.ceil_mode,
                             count_include_pad=geometry.count_include_pad)


@pytest.mark.spec("F6", "G1")
@pytest.mark.parametrize("geometry, x", POOL_CASES)
def test_pool_vjps_match_finite_differences(geometry, x):
    rng = np.random.default_rng(SEED + 3)
    for forward, vjp, geo, kwargs in (
            (ref.max_pool, ref.max_pool_vjp, geometry, geometry.max_pool_kwargs()),
            (ref.avg_pool, ref.avg_pool_vjp, _avg(geometry), _avg(geometry).avg_pool_kwargs())):
        dy = rng.standard_normal(geo.output_shape(x.shape))
        dx = vjp(x, dy, **kwargs)
        direction = rng.standard_normal(x.shape)
        slope = _directional(lambda a: np.sum(forward(a, **kwargs) * dy), (x,), (direction,))
        assert slope == pytest.approx(np.sum(dx * direction), rel=1e-6, abs=1e-8)


# -- torch ------------------------------------------------------------------------------------

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _t(a: np.ndarray | None, grad: bool = False):
    return None if a is None else torch.tensor(a, requires_grad=grad)


def _torch_conv(geometry: ConvGeometry, x, w, b):
    pads = [p for pair in reversed(geometry.padding) for p in pair]
    fn = (F.conv1d, F.conv2d, F.conv3d)[geometry.ndim - 1]
    return fn(F.pad(x, pads), w, b, stride=geometry.stride, dilation=geometry.dilation,
              groups=geometry.groups)


def _torch_conv_transpose(geometry: ConvGeometry, x, w, b):
    fn = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[geometry.ndim - 1]
    return fn(x, w, b, stride=geometry.stride, padding=geometry.symmetric_padding,
              output_padding=geometry.output_padding, dilation=geometry.dilation,
              groups=geometry.groups)


@pytest.mark.spec("A6", "A7", "B1", "E20")
@pytest.mark.parametrize("geometry, x, w, b", CONV_CASES)
def test_conv_and_vjp_match_torch(geometry, x, w, b):
    xt, wt, bt = _t(x, True), _t(w, True), _t(b, b is not None)
    yt = _torch_conv(geometry, xt, wt, bt)
    y = ref.conv(x, w, b, **geometry.conv_kwargs())
    np.testing.assert_array_equal(y, yt.detach().numpy())
    dy = _integers(np.random.default_rng(SEED + 4), y.shape)
    yt.backward(torch.tensor(dy))
    dx, dw, db = ref.conv_vjp(x, w, b, dy, **geometry.conv_kwargs())
    np.testing.assert_array_equal(dx, xt.grad.numpy())
    np.testing.assert_array_equal(dw, wt.grad.numpy())
    if b is not None:
        np.testing.assert_array_equal(db, bt.grad.numpy())


@pytest.mark.spec("B10", "D8", "F8", "F9")
@pytest.mark.parametrize("geometry, x, w, b", TRANSPOSED_CASES)
def test_conv_transpose_and_vjp_match_torch(geometry, x, w, b):
    xt, wt, bt = _t(x, True), _t(w, True), _t(b, b is not None)
    yt = _torch_conv_transpose(geometry, xt, wt, bt)
    y = ref.conv_transpose(x, w, b, **geometry.conv_transpose_kwargs())
    np.testing.assert_array_equal(y, yt.detach().numpy())
    dy = _integers(np.random.default_rng(SEED + 5), y.shape)
    yt.backward(torch.tensor(dy))
    dx, dw, db = ref.conv_transpose_vjp(x, w, b, dy, **geometry.conv_transpose_kwargs())
    np.testing.assert_array_equal(dx, xt.grad.numpy())
    np.testing.assert_array_equal(dw, wt.grad.numpy())
    if b is not None:
        np.testing.assert_array_equal(db, bt.grad.numpy())


@pytest.mark.spec("G1", "G2", "B9", "F6")
@pytest.mark.parametrize("geometry, x", POOL_CASES)
def test_max_pool_and_vjp_match_torch(geometry, x):
    rank = geometry.ndim
    xt = _t(x, True)
    fn = (F.max_pool1d, F.max_pool2d, F.max_pool3d)[rank - 1]
    yt = fn(xt, geometry.kernel, geometry.stride, geometry.padding, geometry.dilation,
            ceil_mode=geometry.ceil_mode)
    y = ref.max_pool(x, **geometry.max_pool_kwargs())
    np.testing.assert_array_equal(y, yt.detach().numpy())
    dy = np.random.default_rng(SEED + 6).standard_normal(y.shape)
    yt.backward(torch.tensor(dy))
    np.testing.assert_allclose(ref.max_pool_vjp(x, dy, **geometry.max_pool_kwargs()),
                               xt.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.spec("G1", "B9", "F6")
@pytest.mark.parametrize("geometry, x", POOL_CASES)
def test_avg_pool_and_vjp_match_torch(geometry, x):
    geometry = _avg(geometry)
    xt = _t(x, True)
    fn = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)[geometry.ndim - 1]
    yt = fn(xt, geometry.kernel, geometry.stride, geometry.padding,
            ceil_mode=geometry.ceil_mode, count_include_pad=geometry.count_include_pad)
    y = ref.avg_pool(x, **geometry.avg_pool_kwargs())
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    dy = np.random.default_rng(SEED + 7).standard_normal(y.shape)
    yt.backward(torch.tensor(dy))
    np.testing.assert_allclose(ref.avg_pool_vjp(x, dy, **geometry.avg_pool_kwargs()),
                               xt.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.spec("G1", "F6")
def test_max_pool_ties_route_to_the_first_element_like_torch():
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 1] = x[0, 0, 1, 2] = 1.0
    kwargs = dict(kernel=(3, 3), stride=(1, 1), padding=(0, 0), dilation=(1, 1), ceil_mode=False)
    dy = np.ones((1, 1, 2, 2))
    xt = _t(x, True)
    F.max_pool2d(xt, 3, 1).backward(torch.tensor(dy))
    dx = ref.max_pool_vjp(x, dy, **kwargs)
    np.testing.assert_array_equal(dx, xt.grad.numpy())
    # every window holds both maxima; (1, 1) comes first in row-major window order
    assert dx[0, 0, 1, 1] == 4.0 and dx[0, 0, 1, 2] == 0.0
