"""The tolerance model's reduction lengths come from the geometry, and count what they claim.

``reduction_lengths`` says how many terms the longest sum behind one output element has; for a
pooling gradient that is the most windows any one input lies in (G2), which dilation changes:
kernel 3, stride 2, dilation 2 puts input 4 in the windows starting at 0, 2 and 4.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from convspec.spec.errors import GeometryError
from convspec.spec.geometry import ConvGeometry, PoolGeometry
from convspec.verify.conformance import reduction_lengths, transform_length


def _windows_over_one_input(g: PoolGeometry, axis: int, n: int) -> int:
    """The most (window o, tap j) pairs with ``o·s - p + j·d = i`` over inputs ``i``, literally."""
    k, s, d, p = g.kernel[axis], g.stride[axis], g.dilation[axis], g.padding[axis]
    out = g.output_spatial((n,) * g.ndim)[axis]
    return max(sum(1 for o in range(out) for j in range(k) if o * s - p + j * d == i)
               for i in range(n))


def _pool_call(g: PoolGeometry, n: int, operation: str):
    x = np.ones((1, 1, *(n,) * g.ndim))
    dy = np.ones(g.output_shape(x.shape))
    kwargs = g.avg_pool_kwargs() if operation.startswith("avg") else g.max_pool_kwargs()
    return (x, dy), kwargs


@pytest.mark.spec("G2")
def test_a_dilated_pooling_gradient_sums_three_windows_into_one_input():
    g = PoolGeometry.make(3, stride=2, dilation=2, ndim=1)
    arrays, kwargs = _pool_call(g, 20, "max_pool_vjp")
    assert _windows_over_one_input(g, 0, 20) == 3
    assert reduction_lengths("max_pool_vjp", arrays, kwargs) == (3,)  # ⌈k/s⌉ would say 2


@pytest.mark.spec("G2")
@pytest.mark.parametrize("operation", ["max_pool_vjp", "avg_pool_vjp"])
def test_pooling_gradient_reduction_is_the_most_windows_over_one_input(operation):
    rng = random.Random(operation)
    checked = 0
    for _ in range(200):
        rank = rng.randint(1, 2)
        kernel = tuple(rng.randint(1, 4) for _ in range(rank))
        dilation = (tuple(rng.randint(1, 3) for _ in range(rank)) if operation == "max_pool_vjp"
                    else (1,) * rank)
        try:
            g = PoolGeometry.make(kernel, stride=tuple(rng.randint(1, 4) for _ in range(rank)),
                                  padding=tuple(rng.randint(0, k // 2) for k in kernel),
                                  dilation=dilation, ceil_mode=rng.random() < 0.5)
        except GeometryError:
            continue
        n = 30  # long enough for an interior input on every axis
        arrays, kwargs = _pool_call(g, n, operation)
        expected = 1
        for axis in range(rank):
            expected *= _windows_over_one_input(g, axis, n)
        assert reduction_lengths(operation, arrays, kwargs) == (expected,), g
        checked += 1
    assert checked > 150


def test_conv_reduction_and_transform_lengths_are_the_geometry_s():
    g = ConvGeometry.make(4, 6, (3, 2), stride=2, padding=(1, 2), dilation=(1, 2),
                          groups=2)
    x = np.ones((2, 4, 7, 5))
    w, b = np.ones(g.weight_shape), np.ones(g.bias_shape)
    dy = np.ones(g.output_shape(x.shape))
    kwargs = g.conv_kwargs()
    assert reduction_lengths("conv", (x, w, b), kwargs) == (2 * 6 + 1,)
    out = 2 * 4 * 4  # batch 2 times the (4, 4) output positions
    assert reduction_lengths("conv_vjp", (x, w, b, dy), kwargs) == (3 * 6, out, out)
    assert transform_length("conv", (x, w, b), kwargs) == (7 + 2 + 3) * (5 + 4 + 3)
    t = g.adjoint_for((7, 5))
    bt = np.ones(t.bias_shape)
    assert reduction_lengths("conv_transpose_vjp", (dy, w, bt, x), t.kwargs()) == (
        2 * 6, out, 2 * 7 * 5)
