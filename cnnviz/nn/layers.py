"""Layers of the engine: Conv2D, MaxPooling2D, AveragePooling2D, Flatten, Dense, ReLU.

The base class and shared interface are in base.py, Conv2D in conv.py, the pooling layers in
pooling.py; this module has the small ones (Flatten, ReLU, Dense) and every layer by name
(``LAYER_CLASSES``, used to rebuild a model from its description). Kernels use Keras's layout
and initialisers (Glorot uniform, zero bias) so results compare with the tutorial's Keras run.
"""

from __future__ import annotations

import numpy as np

from cnnviz.errors import InputError
from cnnviz.i18n import N_
from cnnviz.nn.base import F32, Layer, glorot_uniform
from cnnviz.nn.conv import Conv2D
from cnnviz.nn.pooling import AveragePooling2D, MaxPooling2D
from cnnviz.ops import softmax
from cnnviz.validate import positive_int

__all__ = [
    "F32",
    "LAYER_CLASSES",
    "AveragePooling2D",
    "Conv2D",
    "Dense",
    "Flatten",
    "Layer",
    "MaxPooling2D",
    "ReLU",
    "glorot_uniform",
    "softmax",
]


class Flatten(Layer):
    """(N, H, W, C) -> (N, H*W*C) in C order, as Keras flattens NHWC."""

    kind = "Flatten"

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (int(np.prod(input_shape)),)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.output = x.reshape(x.shape[0], -1)
        return self.output

    def backward(self, dy: np.ndarray) -> np.ndarray:
        self.grad_output = dy
        self.grad_input = dy.reshape((dy.shape[0],) + self.input_shape)
        return self.grad_input


class ReLU(Layer):
    """max(x, 0), elementwise; backward passes dy where x > 0."""

    kind = "ReLU"

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.output = np.maximum(x, 0)
        return self.output

    def backward(self, dy: np.ndarray) -> np.ndarray:
        self.grad_output = dy
        self.grad_input = dy * (self.output > 0)
        return self.grad_input


class Dense(Layer):
    """Fully-connected layer: x (N, D) -> z = x @ kernel + bias (N, units) -> activation(z).

    kernel: (D, units); bias: (units,). With activation "softmax" the layer also keeps
    ``logits`` (z), which the loss uses: for softmax + cross-entropy dL/dz = (p - y) / N.
    """

    kind = "Dense"

    def __init__(
        self,
        units: int,
        activation: str | None = None,
        use_bias: bool = True,
        input_shape: tuple | None = None,
        name: str | None = None,
    ):
        super().__init__(name, input_shape)
        self.units = positive_int(units, N_("The number of units"))
        if activation not in (None, "linear", "relu", "softmax"):
            raise InputError(
                "Dense activation must be None, 'relu' or 'softmax', not {activation}.",
                activation=repr(activation),
            )
        self.activation = None if activation == "linear" else activation
        self.use_bias = bool(use_bias)
        self.logits = None
        self.grad_logits = None

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        if len(input_shape) != 1:
            raise InputError(
                "Dense needs flat inputs (D,), not {shape}: add Flatten().",
                shape=tuple(input_shape),
            )
        return (self.units,)

    def build(self, input_shape: tuple, rng: np.random.Generator | None = None) -> None:
        super().build(input_shape)
        rng = rng or np.random.default_rng()
        d = input_shape[0]
        # Column-major ("Fortran") storage: the batch-1 gradient, an outer product computed
        # along its long side, comes out column-major too, so the optimizer's update
        # kernel -= lr * grad walks both arrays in memory order (measured 2x faster than
        # a row-major kernel at batch size 1). The values and the shape (D, units) are Keras's.
        kernel = glorot_uniform(rng, (d, self.units), d, self.units)
        self.params["kernel"] = np.asfortranarray(kernel)
        if self.use_bias:
            self.params["bias"] = np.zeros(self.units, F32)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """x (N, D) -> (N, units)."""
        self.input = x
        z = x @ self.params["kernel"]
        if self.use_bias:
            z += self.params["bias"]
        self.logits = z
        if self.activation == "relu":
            self.output = np.maximum(z, 0)
        elif self.activation == "softmax":
            self.output = softmax(z)
        else:
            self.output = z
        return self.output

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        """dy = dL/d(output) (N, units) -> dL/dx (N, D)."""
        self.grad_output = dy
        if self.activation == "relu":
            dz = dy * (self.logits > 0)
        elif self.activation == "softmax":  # Jacobian-vector product of softmax
            p = self.output
            dz = p * (dy - (dy * p).sum(axis=1, keepdims=True))
        else:
            dz = dy
        return self.backward_logits(dz)

    def backward_logits(self, dz: np.ndarray) -> np.ndarray | None:
        """dz = dL/d(logits) (N, units) -> dL/dx (N, D); fills grads."""
        self.grad_logits = dz
        x = self.input
        if len(x) == 1:  # one sample: an outer product, computed along its long side (fast)
            self.grads["kernel"] = np.multiply(dz.T, x).T
            if self.use_bias:
                self.grads["bias"] = dz[0]  # the sum over a batch of one
        else:  # (dz^T x)^T: the same numbers as x^T dz, laid out like the kernel
            self.grads["kernel"] = (dz.T @ x).T
            if self.use_bias:
                self.grads["bias"] = dz.sum(axis=0)
        self.grad_input = dz @ self.params["kernel"].T if self.need_input_grad else None
        return self.grad_input

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "units": self.units,
            "activation": self.activation,
            "use_bias": self.use_bias,
        }


LAYER_CLASSES = {
    cls.kind: cls for cls in (Conv2D, MaxPooling2D, AveragePooling2D, Flatten, Dense, ReLU)
}
