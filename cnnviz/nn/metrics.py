"""Accuracy: how often the most probable class is the true one."""

from __future__ import annotations

import numpy as np


def count_correct(probs: np.ndarray, y: np.ndarray) -> int:
    """How many rows of ``probs`` (N, classes) have their largest value at the true class.

    y: int labels (N,), or one-hot / target rows (N, classes) (their largest value is the class).
    """
    labels = y if y.ndim == 1 else y.argmax(axis=1)
    return int(np.count_nonzero(probs.argmax(axis=1) == labels))


def accuracy(probs: np.ndarray, y: np.ndarray) -> float:
    """The fraction of rows of ``probs`` (N, classes) that predict the label in ``y`` (N,) or
    (N, classes); 0.0 for no rows."""
    y = np.asarray(y)
    return count_correct(np.asarray(probs), y) / len(y) if len(y) else 0.0
