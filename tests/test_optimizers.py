"""SGD (plain and with momentum) and Adam against float64 references written from the published
update rules, so the optimizers are checked even where PyTorch is not installed.

The references follow Keras's formulations (keras/src/optimizers/sgd.py and adam.py):

- SGD with momentum m:  v <- m * v - lr * g;  w <- w + v   (m = 0: w <- w - lr * g)
- Adam (Kingma & Ba, Algorithm 1, with Keras's epsilon placement):
      m <- b1 * m + (1 - b1) * g
      v <- b2 * v + (1 - b2) * g^2
      alpha_t = lr * sqrt(1 - b2^t) / (1 - b1^t)
      w <- w - alpha_t * m / (sqrt(v) + eps)
  Keras adds epsilon to sqrt(v), not to sqrt(v_hat) as the paper does: the two differ by a
  factor sqrt(1 - b2^t) on epsilon, which the large-epsilon case below can tell apart.
"""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz.errors import InputError
from cnnviz.nn import SGD, Adam
from cnnviz.nn import optimizers as optimizers_mod

STEPS = 6


def gradient_sequence(shapes, steps=STEPS, scale=1.0, seed=0):
    """A fixed list (one entry per step) of random gradients for parameters of ``shapes``."""
    rng = np.random.default_rng(seed)
    return [[scale * rng.normal(size=s) for s in shapes] for _ in range(steps)]


def reference_sgd(weights, grads, lr, momentum=0.0):
    """Keras's SGD written out in float64, one parameter at a time."""
    w = [np.array(x, np.float64) for x in weights]
    velocity = [np.zeros_like(x) for x in w]
    for step in grads:
        for i, g in enumerate(step):
            if momentum == 0.0:
                w[i] = w[i] - lr * g
            else:
                velocity[i] = momentum * velocity[i] - lr * g
                w[i] = w[i] + velocity[i]
    return w


def reference_adam(weights, grads, lr, b1=0.9, b2=0.999, eps=1e-7):
    """Keras's Adam written out in float64, one parameter at a time."""
    w = [np.array(x, np.float64) for x in weights]
    m = [np.zeros_like(x) for x in w]
    v = [np.zeros_like(x) for x in w]
    for t, step in enumerate(grads, start=1):
        alpha = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        for i, g in enumerate(step):
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            w[i] = w[i] - alpha * m[i] / (np.sqrt(v[i]) + eps)
    return w


def run(optimizer, weights, grads):
    """Apply ``optimizer`` to float32 copies of ``weights`` with the given gradient steps."""
    w = [np.array(x, np.float32) for x in weights]
    for step in grads:
        optimizer.step([(p, g.astype(np.float32)) for p, g in zip(w, step, strict=True)])
    return w


SHAPES = [(3, 3, 1, 4), (4,), (7, 10)]


def start_weights(seed=1):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s) for s in SHAPES]


def assert_close(got, expected, rtol):
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=rtol, atol=rtol * np.abs(e).max())


@pytest.mark.parametrize("lr", [0.01, 0.3])
def test_plain_sgd_matches_the_reference(lr):
    weights, grads = start_weights(), gradient_sequence(SHAPES)
    # float32 parameters: a few ulps of float32 per step
    assert_close(run(SGD(lr), weights, grads), reference_sgd(weights, grads, lr), rtol=1e-6)


@pytest.mark.parametrize("momentum", [0.5, 0.9, 0.99])
@pytest.mark.parametrize("lr", [0.01, 0.1])
def test_sgd_with_momentum_matches_the_reference(lr, momentum):
    weights, grads = start_weights(), gradient_sequence(SHAPES)
    expected = reference_sgd(weights, grads, lr, momentum)
    assert_close(run(SGD(lr, momentum=momentum), weights, grads), expected, rtol=1e-6)
    # and momentum really matters here: plain SGD lands elsewhere
    plain = reference_sgd(weights, grads, lr)
    assert max(np.abs(p - e).max() for p, e in zip(plain, expected, strict=True)) > 1e-3


def test_momentum_keeps_a_separate_velocity_per_parameter():
    """Two parameters of the same shape and values must not share one velocity."""
    weights = [np.ones((2, 2)), np.ones((2, 2))]
    grads = [[np.full((2, 2), 1.0), np.full((2, 2), -1.0)] for _ in range(3)]
    expected = reference_sgd(weights, grads, 0.1, 0.9)
    assert_close(run(SGD(0.1, momentum=0.9), weights, grads), expected, rtol=1e-6)


@pytest.mark.parametrize(
    "lr, b1, b2, eps, scale",
    [
        (0.001, 0.9, 0.999, 1e-7, 1.0),  # Keras's defaults
        (0.01, 0.8, 0.99, 1e-7, 1.0),
        (0.001, 0.9, 0.999, 1e-7, 1e-3),  # small gradients
        (0.001, 0.9, 0.999, 0.5, 1.0),  # a large epsilon: its placement decides the result
    ],
)
def test_adam_matches_the_reference(lr, b1, b2, eps, scale):
    weights, grads = start_weights(), gradient_sequence(SHAPES, scale=scale)
    got = run(Adam(lr, beta_1=b1, beta_2=b2, epsilon=eps), weights, grads)
    expected = reference_adam(weights, grads, lr, b1, b2, eps)
    # Compare the moves w - w0 (each step is about lr). The float32 weights (about 1) round
    # by half an ulp, 6e-8, at every step: six steps allow 1e-6 absolute on the move. A wrong
    # bias correction or epsilon placement changes the moves by 10% or more.
    for g, e, w0 in zip(got, expected, weights, strict=True):
        np.testing.assert_allclose(g - w0, e - w0, rtol=2e-4, atol=1e-6)


def test_adam_first_step_is_lr_times_the_gradients_sign():
    """With bias correction, Adam's first step is lr * g / (|g| + eps') = ~lr * sign(g)."""
    weights = [np.zeros(5)]
    g = np.array([3.0, -0.2, 0.05, -50.0, 0.7])  # |g| >> epsilon
    got = run(Adam(0.01), weights, [[g]])[0]
    np.testing.assert_allclose(got, -0.01 * np.sign(g), rtol=1e-4)


def test_sgd_momentum_is_validated():
    for bad in (-0.1, 1.0, 1.5):
        with pytest.raises(InputError, match="Momentum"):
            SGD(0.01, momentum=bad)


def test_the_cli_passes_momentum_to_sgd():
    from cnnviz.nn.recipes import TrainingConfig, make_optimizer

    opt = make_optimizer(TrainingConfig(optimizer="sgd", learning_rate=0.05, momentum=0.9))
    assert isinstance(opt, optimizers_mod.SGD)
    assert (opt.learning_rate, opt.momentum) == (0.05, 0.9)
