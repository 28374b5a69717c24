"""The base of every layer: the shared interface, Keras's initialiser, read-only weight views.

Every layer has the same small interface (numpy-ml style):

- ``build(input_shape)`` creates the parameters for one sample's shape, e.g. (28, 28, 1);
- ``forward(x)`` takes a batch (N, ...) and returns the batch output;
- ``backward(dy)`` takes dL/d(output) and returns dL/d(input), filling ``grads``;
- ``params`` / ``grads``: dicts of arrays with the same keys ("kernel", "bias").

After a pass each layer keeps what training needs on itself: ``output`` (the feature maps),
``grad_output`` and ``grad_input``. To look inside a shared model use ``Sequential.trace``,
which runs on ``scratch()`` copies instead. Everything is float32 and batched (NHWC like
Keras); no layer loops over pixels or samples in Python.
"""

from __future__ import annotations

import copy

import numpy as np

from cnnviz.errors import InputError
from cnnviz.texts import Text
from cnnviz.validate import pair

F32 = np.float32


def glorot_uniform(rng: np.random.Generator, shape: tuple, fan_in: int, fan_out: int) -> np.ndarray:
    """Keras's default kernel initialiser: U(-l, l) with l = sqrt(6 / (fan_in + fan_out))."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(F32)


class Layer:
    """Base class: a layer without parameters that passes shapes through."""

    kind = "Layer"

    def __init__(self, name: str | None = None, input_shape: tuple | None = None):
        self.name = name
        self.input_shape = tuple(input_shape) if input_shape is not None else None
        self.output_shape = None
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.built = False
        self.output = None  # last forward output (N, ...)
        self.grad_output = None  # last dL/d output
        self.grad_input = None  # last dL/d input (None when not needed, e.g. the first layer)
        self.need_input_grad = True

    def build(self, input_shape: tuple, rng: np.random.Generator | None = None) -> None:
        self.input_shape = tuple(input_shape)
        self.output_shape = self.compute_output_shape(self.input_shape)
        self.built = True

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return input_shape

    def count_params(self) -> int:
        return int(sum(p.size for p in self.params.values()))

    def get_config(self) -> dict:
        return {"name": self.name}

    def __call__(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        return self.forward(x, training)

    def scratch(self) -> Layer:
        """A throw-away copy for one look inside the model (``Sequential.trace``).

        It shares this layer's weights as read-only views and keeps its own caches and
        ``grads``, so a forward/backward on it leaves this layer exactly as it was.
        """
        clone = self.replica()
        clone.params = {k: read_only(v) for k, v in self.params.items()}
        clone.need_input_grad = True
        return clone

    def replica(self) -> Layer:
        """A copy for one chunk of a batch on another thread (cnnviz/nn/parallel.py): the same
        parameter arrays (the optimizer's in-place updates reach both), its own caches and
        ``grads``."""
        clone = copy.copy(self)
        clone.grads = {}
        clone.output = clone.grad_output = clone.grad_input = None
        return clone

    def __repr__(self) -> str:
        cfg = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{self.kind}({cfg})"


def read_only(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view


def square(value, what: str) -> int:
    """3 or (3, 3) -> 3: the engine's strides and pool sizes are the same along both axes."""
    rows, cols = pair(value, what)
    if rows != cols:
        raise InputError(
            "{what} must be the same for rows and columns, not {value}.",
            what=Text(what),
            value=repr(value),
        )
    return rows
