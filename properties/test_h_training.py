"""Section H: the training formulas of the notes.

Momentum (H1, H2) is run on a convolution's least-squares loss with gradients from the
backend's vjp, each step checked against the reference and against the spec's update formula.
Dropout (H3) is pushed through the backend's convolution, whose average over many masks must
reach the inference output. ReLU, leaky ReLU (H4) and softmax (H5) involve no convolution and
are properties of :mod:`convspec.spec.training`.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from convspec.spec import training
from convspec.verify.conformance import call, expect_reference, reference_outputs, transform_scales
from convspec.verify.helpers import (assert_array_equal, assert_equal, assert_raises,
                                     assert_shape, assert_true, call_of, require)
from convspec.verify.strategies import Strategies

pytestmark = pytest.mark.section("H")

FORWARD = ("float64", "float32")
STEPS = 3


def f64(a: np.ndarray) -> np.ndarray:
    return np.asarray(a).astype(np.float64)


@pytest.mark.spec("H1", "H2", "F1", "F3")
@pytest.mark.ops("conv", "conv_vjp")
@given(data=st.data(), beta=st.sampled_from([0.0, 0.5, 0.9]), shift=st.integers(0, 3))
def test_momentum_on_the_backends_conv_gradients(backend, caps, tolerance, data, beta, shift):
    """Minimize ``½‖conv(x, W) + b - t‖²`` for a few steps: the backend's forward pass and vjp
    (``∂L/∂W = r ⊗ x``, F1; ``∂L/∂b = Σ r``, F3) agree with the reference at every iterate,
    the spec's step is ``d_t = β d_{t-1} + g``, ``θ_t = θ_{t-1} - α d_t`` (H1; β = 0 is
    gradient descent), and the other form ``Δθ_t = ρ Δθ_{t-1} - η g``, fed the same gradients,
    follows the same trajectory (H2)."""
    require(caps, "conv", "conv_vjp")
    draw = Strategies(caps)
    ex = data.draw(draw.conv_examples(max_extra=3, min_batch=1, allowed_dtypes=FORWARD),
                   label="example")
    kwargs, tol = ex.kwargs, tolerance(ex.dtype)
    g = ex.geometry
    # A step no larger than 1/λ_max (bounded by the Frobenius norm of the map W ↦ conv(x, W)).
    frobenius = g.out_channels * g.kernel_volume * float(np.sum(f64(ex.x) ** 2)) + 1
    lr = 2.0 ** -(math.ceil(math.log2(frobenius)) + shift)
    params = [f64(ex.w)] + ([] if ex.b is None else [f64(ex.b)])
    direction = [np.zeros_like(p) for p in params]
    other, delta = [p.copy() for p in params], [np.zeros_like(p) for p in params]
    for _ in range(STEPS):
        w = params[0].astype(ex.x.dtype)
        b = None if ex.b is None else params[1].astype(ex.x.dtype)
        y, = expect_reference(backend, "conv", (ex.x, w, b), kwargs, tol)
        residual = (f64(y) - f64(ex.dy)).astype(ex.x.dtype)
        _, dw, db = expect_reference(backend, "conv_vjp", (ex.x, w, b, residual), kwargs, tol)
        grads = [f64(dw)] + ([] if db is None else [f64(db)])
        for i, grad in enumerate(grads):
            theta, d = training.momentum_step(params[i], direction[i], grad, lr=lr, beta=beta)
            formula = beta * direction[i] + grad
            where = f"momentum_step(θ, d, g, lr={lr}, beta={beta})"
            assert_array_equal("d", d, formula, call=where)
            assert_array_equal("θ", theta, params[i] - lr * formula, call=where)
            if beta == 0:
                assert_array_equal("θ", theta, params[i] - lr * grad, call=where)
            other[i], delta[i] = training.momentum_step_delta(other[i], delta[i], grad, lr=lr,
                                                              rho=beta)
            scale = np.max(np.abs(theta), initial=0) + lr * np.max(np.abs(d), initial=0)
            np.testing.assert_allclose(other[i], theta, rtol=0, atol=1e-12 * (scale + 1),
                                       err_msg="the Δθ form left the d form's trajectory (H2)")
            params[i], direction[i] = theta, d


@pytest.mark.spec("H1", "H2")
@given(size=st.integers(1, 4), steps=st.integers(0, 6), beta=st.floats(0, 0.99),
       lr=st.floats(0.01, 0.5), data=st.data())
def test_momentum_forms_give_one_trajectory(size, steps, beta, lr, data):
    """On a quadratic ``½θᵀAθ - cᵀθ``, the two forms of momentum (H1 with β, α; H2 with
    ρ = β, η = α) give the same ``θ_0, θ_1, …``; with β = 0 it is gradient descent."""
    entries = data.draw(hnp.arrays(np.float64, (size, size), elements=st.floats(-1, 1)),
                        label="M")
    a = entries @ entries.T + np.eye(size)
    c = data.draw(hnp.arrays(np.float64, (size,), elements=st.floats(-1, 1)), label="c")
    theta0 = data.draw(hnp.arrays(np.float64, (size,), elements=st.floats(-1, 1)), label="θ0")

    def gradient(theta):
        return a @ theta - c

    first = training.momentum_trajectory(gradient, theta0, steps, lr=lr, beta=beta)
    second = training.momentum_trajectory(gradient, theta0, steps, lr=lr, beta=beta,
                                          form="delta")
    for form, trajectory in (("d", first), ("delta", second)):
        assert_equal(f"len(momentum_trajectory(..., {steps}, form={form!r}))", len(trajectory),
                     steps + 1)
    for t, (u, v) in enumerate(zip(first, second)):
        scale = max(1.0, float(np.max(np.abs(u))))
        np.testing.assert_allclose(u, v, rtol=0, atol=1e-9 * scale, err_msg=f"step {t}")
    descent = [np.asarray(theta0, dtype=float)]
    for _ in range(steps):
        descent.append(descent[-1] - lr * gradient(descent[-1]))
    plain = training.momentum_trajectory(gradient, theta0, steps, lr=lr, beta=0.0)
    for u, v in zip(plain, descent):
        np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-12)


@pytest.mark.spec("H3", "E4")
@pytest.mark.ops("conv")
@given(data=st.data(), keep=st.sampled_from([0.25, 0.5, 0.75, 1.0]), inverted=st.booleans(),
       seed=st.integers(0, 2 ** 32 - 1))
def test_dropout_through_a_convolution_matches_inference_on_average(backend, caps, tolerance,
                                                                      data, keep, inverted,
                                                                      seed):
    """Dropout with keep probability p (H3): the backend's convolution of many dropped-out
    copies of x averages to its convolution of the inference input (``p·x`` classic, ``x``
    inverted), within six standard deviations of the mean of Bernoulli masks (by linearity,
    E4, the variance is ``conv(x², w²)`` times ``p(1-p)`` or ``(1-p)/p``)."""
    require(caps, "conv")
    # Small layers of one sample: the batch holds every dropped-out copy (dilation plays no
    # part here).
    ranks = [r for r in (1, 2) if r in caps.ranks] or None
    draw = Strategies(caps)
    ex = data.draw(draw.conv_examples(max_extra=3, min_batch=1, max_batch=1, ranks=ranks,
                                      max_dilation=1, max_groups=3, max_channels_per_group=3,
                                      allowed_dtypes=FORWARD), label="example")
    copies = 64
    rng = np.random.default_rng(seed)
    dropped = training.dropout(np.repeat(f64(ex.x), copies, axis=0), keep, training=True,
                               rng=rng, inverted=inverted)
    kept = dropped != 0
    expected_values = f64(ex.x) / keep if inverted else f64(ex.x)
    assert_array_equal("kept units", dropped[kept],
                       np.broadcast_to(expected_values, dropped.shape)[kept],
                       call=f"dropout(x, {keep}, training=True, inverted={inverted})")
    y = call(backend, "conv", dropped.astype(ex.x.dtype), ex.w, None, **ex.kwargs)
    infer_x = training.dropout(f64(ex.x), keep, training=False, inverted=inverted)
    assert_array_equal(f"dropout(x, {keep}, training=False, inverted={inverted})", infer_x,
                       training.dropout_expectation(f64(ex.x), keep, inverted=inverted))
    inference = call(backend, "conv", infer_x.astype(ex.x.dtype), ex.w, None, **ex.kwargs)
    (squares,), _ = reference_outputs("conv", (f64(ex.x) ** 2, f64(ex.w) ** 2, None), ex.kwargs)
    variance = squares * ((1 - keep) / keep if inverted else keep * (1 - keep))
    (_,), (magnitude,) = reference_outputs("conv", (expected_values, ex.w, None), ex.kwargs)
    reduction = ex.w[0].size
    # Every dropped-out copy and the inference input are elementwise at most expected_values,
    # so its operand norms bound the transform error of both sides (FFT, Winograd).
    (transform,) = transform_scales("conv", (expected_values, f64(ex.w), None), ex.kwargs)
    allowed = (6 * np.sqrt(variance / copies)
               + 2 * tolerance(ex.dtype).bound(f64(inference), magnitude, reduction,
                                               transform=transform))
    error = np.abs(f64(y).mean(axis=0) - f64(inference)[0])
    assert_true(np.all(error <= allowed[0]), f"the mean over {copies} masks is "
                f"{float(np.max(error - allowed[0])):.3g} beyond six standard deviations of the "
                "inference output, but should be within them",
                call=call_of("conv", infer_x.astype(ex.x.dtype), ex.w, None, **ex.kwargs))


@pytest.mark.spec("H3")
@given(x=hnp.arrays(np.float64, hnp.array_shapes(max_dims=3, max_side=5),
                    elements=st.floats(-100, 100)),
       keep=st.floats(0.05, 1.0), seed=st.integers(0, 2 ** 32 - 1))
def test_dropout_forms(x, keep, seed):
    """Classic dropout keeps each unit or zeroes it at training and scales by p at inference;
    inverted dropout scales kept units by 1/p and is the identity at inference (H3); the same
    mask serves both, and a p outside (0, 1] is rejected."""
    classic = training.dropout(x, keep, training=True, rng=np.random.default_rng(seed))
    inv = training.dropout(x, keep, training=True, rng=np.random.default_rng(seed),
                           inverted=True)
    mask = training.dropout_mask(x.shape, keep, np.random.default_rng(seed))
    values = set(np.unique(mask).tolist())
    assert_true(values <= {0.0, 1.0}, f"dropout_mask holds {sorted(values)}, but should hold "
                f"only 0 and 1", call=f"dropout_mask({x.shape}, {keep})")
    assert_array_equal(f"dropout(x, {keep}, training=True)", classic, x * mask)
    np.testing.assert_allclose(inv, x * mask / keep, rtol=1e-15)
    np.testing.assert_allclose(training.dropout(x, keep, training=False), keep * x, rtol=1e-15)
    assert_array_equal(f"dropout(x, {keep}, training=False, inverted=True)",
                       training.dropout(x, keep, training=False, inverted=True), x)
    for bad in (0.0, -0.5, 1.5):
        with assert_raises(ValueError, f"dropout(x, {bad}, training=False)"):
            training.dropout(x, bad, training=False)


@pytest.mark.spec("H4")
@given(x=hnp.arrays(st.sampled_from([np.float64, np.float32]), hnp.array_shapes(max_dims=3),
                    elements=st.floats(-1e6, 1e6, width=32)),
       slope=st.floats(0, 1))
def test_relu_and_leaky_relu(x, slope):
    """ReLU is ``max(0, x)``, leaky ReLU ``max(0, x) + slope·min(0, x)`` (H4), elementwise:
    each agrees with the definition on every element, ReLU keeps the dtype, ``relu(x) -
    relu(-x) = x``, and a zero slope is ReLU."""
    relu = training.relu(x)
    assert_equal("relu(x).dtype", relu.dtype, x.dtype)
    assert_shape("relu(x)", relu.shape, x.shape)
    definition = np.array([max(0.0, float(v)) for v in x.ravel()]).reshape(x.shape)
    assert_array_equal("relu(x)", relu.astype(np.float64), definition)
    assert_array_equal("relu(x) - relu(-x)", relu - training.relu(-x), x)
    leaky = training.leaky_relu(x, slope)
    want = [max(0.0, float(v)) + slope * min(0.0, float(v)) for v in x.ravel()]
    # In the array's precision: a tiny slope times a float32 may underflow to zero.
    np.testing.assert_allclose(leaky.ravel(), want, rtol=1e-6, atol=np.finfo(x.dtype).tiny)
    assert_array_equal("leaky_relu(x, 0.0)", training.leaky_relu(x, 0.0), relu)
    assert_array_equal(f"leaky_relu(x, {slope}) > 0", leaky > 0, x > 0)
    assert_true(np.all(leaky[x <= 0] <= 0), f"leaky_relu(x, {slope}) is positive where x <= 0, "
                "but should not be")


@pytest.mark.spec("H5")
@given(scores=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=6),
                         elements=st.floats(-1e4, 1e4)),
       shift=st.floats(-1e3, 1e3))
def test_softmax_is_a_distribution(scores, shift):
    """Softmax maps scores into (0, 1] summing to 1 along its axis (H5; exactly 1 for a single
    dominant score), keeps their order, ignores a common shift, and does not overflow."""
    p = training.softmax(scores)
    assert_true(np.all(np.isfinite(p)) and np.all(p >= 0) and np.all(p <= 1),
                f"softmax(scores) ranges over [{np.min(p)}, {np.max(p)}], but should lie in "
                f"[0, 1]", call=f"scores of shape {scores.shape}")
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-12)
    spread = np.max(scores, axis=-1, keepdims=True) - scores
    assert_true(np.all(p[spread < 30] > 0), "a score within 30 of the maximum got "
                "probability 0, but should get a positive one",
                call=f"scores of shape {scores.shape}")
    order = np.argsort(scores, axis=-1, kind="stable")
    assert_true(np.all(np.diff(np.take_along_axis(p, order, axis=-1), axis=-1) >= 0),
                "softmax(scores) reorders the scores, but should keep their order",
                call=f"scores of shape {scores.shape}")
    np.testing.assert_allclose(training.softmax(scores + shift), p, rtol=1e-9, atol=1e-300)
    if scores.shape[-1] > 1:
        q = training.softmax(scores, axis=0)
        np.testing.assert_allclose(q.sum(axis=0), 1.0, rtol=1e-12)
