"""Training formulas of section H."""

from __future__ import annotations

import numpy as np
import pytest

from convspec import (
    dropout,
    dropout_expectation,
    dropout_mask,
    leaky_relu,
    momentum_step,
    momentum_step_delta,
    momentum_trajectory,
    relu,
    softmax,
)


def quadratic_gradient(theta: np.ndarray) -> np.ndarray:
    return np.array([2.0, 10.0]) * theta  # f = θ₀² + 5θ₁²


@pytest.mark.spec("H1")
def test_momentum_step_by_hand() -> None:
    theta, d = momentum_step(np.array([1.0]), np.array([0.5]), np.array([2.0]), lr=0.1, beta=0.9)
    assert d == pytest.approx(0.9 * 0.5 + 2.0)
    assert theta == pytest.approx(1.0 - 0.1 * 2.45)


@pytest.mark.spec("H1")
def test_beta_zero_is_gradient_descent() -> None:
    path = momentum_trajectory(quadratic_gradient, [1.0, 1.0], 5, lr=0.05, beta=0.0)
    theta = np.array([1.0, 1.0])
    for step in path[1:]:
        theta = theta - 0.05 * quadratic_gradient(theta)
        np.testing.assert_allclose(step, theta)


@pytest.mark.spec("H1", "H2")
@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9])
def test_both_forms_give_the_same_trajectory(beta: float) -> None:
    a = momentum_trajectory(quadratic_gradient, [1.0, -2.0], 30, lr=0.05, beta=beta)
    b = momentum_trajectory(quadratic_gradient, [1.0, -2.0], 30, lr=0.05, beta=beta, form="delta")
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    assert np.linalg.norm(a[-1]) < np.linalg.norm(a[0])


@pytest.mark.spec("H2")
def test_delta_step_by_hand() -> None:
    theta, delta = momentum_step_delta(np.array([1.0]), np.array([-0.2]), np.array([2.0]),
                                       lr=0.1, rho=0.9)
    assert delta == pytest.approx(0.9 * -0.2 - 0.1 * 2.0)
    assert theta == pytest.approx(1.0 + delta)


@pytest.mark.spec("H3")
@pytest.mark.parametrize("inverted", [False, True])
@pytest.mark.parametrize("keep", [0.5, 0.8, 1.0])
def test_dropout_expectation_matches_inference(inverted: bool, keep: float) -> None:
    rng = np.random.default_rng(0)
    x = np.linspace(-1.0, 2.0, 7)
    samples = np.stack([dropout(x, keep, training=True, rng=rng, inverted=inverted)
                        for _ in range(20000)])
    inference = dropout(x, keep, training=False, inverted=inverted)
    np.testing.assert_allclose(inference, dropout_expectation(x, keep, inverted=inverted))
    np.testing.assert_allclose(samples.mean(axis=0), inference, atol=0.05)
    np.testing.assert_allclose(inference, x if inverted else keep * x)
    scale = samples[:, 0] / x[0]  # x[0] = -1: each sample is dropped (0) or kept and scaled
    assert set(np.unique(scale.round(9))) <= {0.0, round(1 / keep if inverted else 1.0, 9)}
    assert (scale != 0).mean() == pytest.approx(keep, abs=0.02)


@pytest.mark.spec("H3")
def test_dropout_bad_input() -> None:
    rng = np.random.default_rng(0)
    for keep in (0.0, -0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="keep_prob"):
            dropout(np.ones(3), keep, training=True, rng=rng)
    with pytest.raises(TypeError, match="keep_prob"):
        dropout(np.ones(3), "0.5", training=False)
    with pytest.raises(TypeError, match="rng"):
        dropout(np.ones(3), 0.5, training=True)
    with pytest.raises(TypeError, match="Generator"):
        dropout_mask((3,), 0.5, rng=0)  # type: ignore[arg-type]


@pytest.mark.spec("H4")
def test_relu_and_leaky_relu() -> None:
    x = np.array([-2.0, -0.5, 0.0, 0.5, 3.0])
    np.testing.assert_array_equal(relu(x), [0.0, 0.0, 0.0, 0.5, 3.0])
    np.testing.assert_allclose(leaky_relu(x), np.maximum(0, x) + 0.01 * np.minimum(0, x))
    np.testing.assert_allclose(leaky_relu(x, 0.2), [-0.4, -0.1, 0.0, 0.5, 3.0])
    np.testing.assert_array_equal(leaky_relu(x, 0.0), relu(x))
    assert relu(np.array([1, -1], dtype=np.float32)).dtype == np.float32
    with pytest.raises(TypeError):
        relu(np.array(["a"]))


@pytest.mark.spec("H5")
def test_softmax() -> None:
    p = softmax(np.array([[1.0, 2.0, 3.0], [1000.0, 1000.0, 1001.0]]))
    assert np.all((p > 0) & (p < 1))
    np.testing.assert_allclose(p.sum(axis=-1), 1.0)
    np.testing.assert_allclose(p[0], np.exp([1, 2, 3]) / np.exp([1, 2, 3]).sum())
    assert np.all(np.isfinite(p))  # no overflow at 1000
    np.testing.assert_allclose(softmax([0, 0]), [0.5, 0.5])
    np.testing.assert_allclose(softmax(np.eye(2), axis=0).sum(axis=0), 1.0)
    with pytest.raises(ValueError, match="scalar"):
        softmax(np.float64(1.0))


def test_bad_hyper_parameters() -> None:
    with pytest.raises(ValueError, match="lr"):
        momentum_step(1.0, 0.0, 1.0, lr=-1.0, beta=0.9)
    with pytest.raises(TypeError, match="beta"):
        momentum_step(1.0, 0.0, 1.0, lr=0.1, beta=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="form"):
        momentum_trajectory(quadratic_gradient, [1.0, 1.0], 3, lr=0.1, beta=0.9, form="nesterov")
    with pytest.raises(ValueError, match="steps"):
        momentum_trajectory(quadratic_gradient, [1.0, 1.0], -1, lr=0.1, beta=0.9)
