"""Looking inside a model: each conv / pooling layer's feature maps, the first layer's
filters, and a confusion matrix of its predictions."""

from __future__ import annotations

import numpy as np

from cnnviz.nn.model import Sequential
from cnnviz.nn.trace import Trace


def feature_maps(model: Sequential, x: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Every conv / pooling layer's output for one image, from a pure trace (nothing is left
    on ``model``, so a shared model needs no lock).

    x: (28, 28), (28, 28, 1) or (1, 28, 28, 1) float32, already scaled like the training data.
    Returns [(layer name, output (H, W, C))] in layer order.
    """
    return look_inside(model, x)[0]


def look_inside(
    model: Sequential, x: np.ndarray
) -> tuple[list[tuple[str, np.ndarray]], np.ndarray]:
    """One image's feature maps (as :func:`feature_maps`) and the model's output for it
    (classes,), from one pure trace."""
    x = np.asarray(x, dtype=np.float32)
    x = x.reshape(1, x.shape[-3], x.shape[-2], 1) if x.ndim == 4 else x.reshape(1, *x.shape[:2], 1)
    trace = model.trace(x)
    return maps_of(trace), np.array(trace.output[0])


def maps_of(trace: Trace) -> list[tuple[str, np.ndarray]]:
    """[(layer name, output (H, W, C))] of the first image, for every layer with image output."""
    return [
        (record.name, np.array(record.output[0])) for record in trace if record.output.ndim == 4
    ]


def first_conv_kernel(model: Sequential) -> np.ndarray | None:
    """The first Conv2D layer's filters as (k, k, F) (input channel 0), or None."""
    for layer in model.layers:
        kernel = getattr(layer, "params", {}).get("kernel")
        if kernel is not None and np.ndim(kernel) == 4:
            return np.array(kernel[:, :, 0, :])
    return None


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """counts[i, j] = how many images of true class i were predicted as class j. int (C, C)."""
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(counts, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return counts
