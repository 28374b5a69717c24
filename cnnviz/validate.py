"""Checks shared by the teaching operations (cnnviz.ops) and the engine (cnnviz.nn).

One rule for both, so a value the Convolution page refuses is refused by Conv2D too: sizes,
strides and counts are whole numbers (ints or NumPy integers, not 3.0 or True) of at least 1.
Every failure is an InputError with one sentence a user can act on.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np

from cnnviz.errors import InputError
from cnnviz.texts import Text

PADDINGS = ("valid", "same")


def is_int(value) -> bool:
    """True for Python and NumPy integers, False for bools, floats (even 3.0) and the rest."""
    return isinstance(value, Integral | np.integer) and not isinstance(value, bool | np.bool_)


def positive_int(value, what: str) -> int:
    """``value`` as an int, or InputError "{what} must be a whole number of at least 1, ...".

    what: the name a user knows, e.g. "The kernel size" (marked with ``N_``: it is translated
    with the sentence).
    """
    if not is_int(value) or value < 1:
        raise InputError(
            "{what} must be a whole number of at least 1, not {value}.",
            what=Text(what),
            value=repr(value),
        )
    return int(value)


def pair(value, what: str) -> tuple[int, int]:
    """A size for rows and columns: 3 -> (3, 3); (3, 5) or [3, 5] -> (3, 5)."""
    if np.ndim(value) == 0:  # one number (or something that is not one: positive_int says so)
        value = (value, value)
    try:
        first, second = value
    except (TypeError, ValueError):
        raise InputError(
            "{what} must be a whole number or two of them, not {value}.",
            what=Text(what),
            value=repr(value),
        ) from None
    return positive_int(first, what), positive_int(second, what)


def check_padding(padding) -> str:
    if padding not in PADDINGS:
        raise InputError("Padding must be 'valid' or 'same', not {padding}.", padding=repr(padding))
    return padding


def as_batch(x) -> np.ndarray:
    """Images (N, H, W) or (N, H, W, C), any numeric dtype -> float32 (N, H, W, C)."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise InputError(
            "Images must be shaped (N, H, W) or (N, H, W, C), not {shape}.", shape=x.shape
        )
    return x


def as_labels(y, num_classes: int | None = None) -> np.ndarray:
    """Int labels (N,) or one-hot (N, K) -> int64 labels (N,); soft targets stay (N, K) float32."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim == 1:
        if y.size and (not np.all(np.isfinite(y)) or np.any(y != np.round(y)) or y.min() < 0):
            raise InputError("Labels must be whole numbers from 0 upwards.")
        y = y.astype(np.int64)
        if num_classes is not None and y.size and y.max() >= num_classes:
            raise InputError(
                "A label is {label} but the model has only {classes} outputs.",
                label=y.max(),
                classes=num_classes,
            )
        return y
    if y.ndim == 2:
        if num_classes is not None and y.shape[1] != num_classes:
            raise InputError(
                "Targets have {columns} columns but the model has {classes} outputs.",
                columns=y.shape[1],
                classes=num_classes,
            )
        if np.all((y == 0) | (y == 1)) and np.all(y.sum(axis=1) == 1):
            return y.argmax(axis=1)  # one-hot: keep just the class, the same loss and far cheaper
        return y.astype(np.float32)
    raise InputError("Labels must be shaped (N,) or (N, classes), not {shape}.", shape=y.shape)
