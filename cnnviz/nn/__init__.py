"""A small Keras-style CNN engine in NumPy.

>>> from cnnviz.nn import Sequential, Conv2D, MaxPooling2D, Flatten, Dense, SGD, to_categorical
>>> model = Sequential([Conv2D(8, 3, input_shape=(28, 28, 1), use_bias=False),
...                     MaxPooling2D(pool_size=2), Flatten(), Dense(10, activation="softmax")])
>>> model.count_params()
13602
"""

from __future__ import annotations

import numpy as np

from cnnviz.nn.callbacks import Callback, History, ProgbarLogger
from cnnviz.nn.io import load_model, save_model, to_bytes
from cnnviz.nn.layers import (
    AveragePooling2D,
    Conv2D,
    Dense,
    Flatten,
    Layer,
    MaxPooling2D,
    ReLU,
)
from cnnviz.nn.model import Sequential, as_batch
from cnnviz.nn.optimizers import SGD, Adam, Optimizer
from cnnviz.nn.parallel import set_train_threads
from cnnviz.nn.recipes import bundled_models, strong_model, tutorial_model
from cnnviz.nn.scaled import ScaledImages, ShiftedImages
from cnnviz.nn.threads import set_blas_threads
from cnnviz.ops import softmax


def to_categorical(y, num_classes: int | None = None) -> np.ndarray:
    """Int labels (N,) -> one-hot float32 (N, num_classes), like keras.utils.to_categorical."""
    y = np.asarray(y, dtype=np.int64).ravel()
    k = int(y.max()) + 1 if num_classes is None else int(num_classes)
    out = np.zeros((y.size, k), np.float32)
    out[np.arange(y.size), y] = 1.0
    return out


__all__ = [
    "Adam",
    "AveragePooling2D",
    "Callback",
    "Conv2D",
    "Dense",
    "Flatten",
    "History",
    "Layer",
    "MaxPooling2D",
    "Optimizer",
    "ProgbarLogger",
    "ReLU",
    "SGD",
    "ScaledImages",
    "Sequential",
    "ShiftedImages",
    "as_batch",
    "bundled_models",
    "load_model",
    "save_model",
    "set_blas_threads",
    "set_train_threads",
    "softmax",
    "strong_model",
    "to_bytes",
    "to_categorical",
    "tutorial_model",
]
