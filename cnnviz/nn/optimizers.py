"""Optimizers, updating parameters in place (Keras's update rules and defaults)."""

from __future__ import annotations

import numpy as np

from cnnviz.errors import InputError


class Optimizer:
    name = "optimizer"

    def __init__(self, learning_rate: float):
        lr = float(learning_rate)
        if not np.isfinite(lr) or lr <= 0:
            raise InputError(
                "The learning rate must be a positive number, not {value}.",
                value=repr(learning_rate),
            )
        self.learning_rate = lr
        self.iterations = 0

    def step(self, pairs: list[tuple[np.ndarray, np.ndarray]]) -> None:
        """Update each parameter array in place from its gradient."""
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"name": self.name, "learning_rate": self.learning_rate}


class SGD(Optimizer):
    """w -= lr * g; with momentum m: v = m * v - lr * g; w += v (Keras's formulation)."""

    name = "sgd"

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.0):
        super().__init__(learning_rate)
        if not 0.0 <= float(momentum) < 1.0:
            raise InputError("Momentum must be in [0, 1), not {value}.", value=repr(momentum))
        self.momentum = float(momentum)
        self._velocity: dict[int, np.ndarray] = {}

    def step(self, pairs):
        lr = self.learning_rate
        self.iterations += 1
        if self.momentum == 0.0:
            for w, g in pairs:
                w -= lr * g
            return
        for w, g in pairs:
            v = self._velocity.get(id(w))
            if v is None:
                v = self._velocity[id(w)] = np.zeros_like(w)
            v *= self.momentum
            v -= lr * g
            w += v

    def get_config(self) -> dict:
        return {**super().get_config(), "momentum": self.momentum}


class Adam(Optimizer):
    """Adam (Kingma & Ba) with Keras's defaults: beta_1 0.9, beta_2 0.999, epsilon 1e-7."""

    name = "adam"

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
    ):
        super().__init__(learning_rate)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        self._m: dict[int, np.ndarray] = {}
        self._v: dict[int, np.ndarray] = {}

    def step(self, pairs):
        self.iterations += 1
        t = self.iterations
        b1, b2 = self.beta_1, self.beta_2
        # a Python float (not np.sqrt's float64) keeps every array below in float32
        lr_t = self.learning_rate * (1 - b2**t) ** 0.5 / (1 - b1**t)
        for w, g in pairs:
            m = self._m.get(id(w))
            if m is None:
                m = self._m[id(w)] = np.zeros_like(w)
                self._v[id(w)] = np.zeros_like(w)
            v = self._v[id(w)]
            m += (1 - b1) * (g - m)
            v += (1 - b2) * (g * g - v)
            step = np.sqrt(v)  # then step = lr_t * m / (sqrt(v) + epsilon), in place
            step += self.epsilon
            np.divide(m, step, out=step)
            step *= lr_t
            w -= step

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
        }


def get(optimizer) -> Optimizer:
    """An Optimizer from an instance or a name ("sgd", "adam") with default settings."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    names = {"sgd": SGD, "adam": Adam}
    if isinstance(optimizer, str) and optimizer.lower() in names:
        return names[optimizer.lower()]()
    raise InputError(
        "The optimizer must be 'sgd', 'adam', SGD(...) or Adam(...), not {optimizer}.",
        optimizer=repr(optimizer),
    )
